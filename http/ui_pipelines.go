package http

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/bakehouse/bakehouse"
	"github.com/bakehouse/bakehouse/pipeline"
)

// pipelineRow is one pipeline on the Pipelines page.
type pipelineRow struct {
	App, Name, Trigger string
	Last               *pipeline.Execution
}

func (s *Server) handleUIPipelines() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := s.pipelinesOr(w, r)
		if !ok {
			return
		}
		apps, err := p.Applications(r.Context())
		if err != nil {
			s.uiError(w, r, err)
			return
		}
		var rows []pipelineRow
		for _, app := range apps {
			cfgs, err := p.Pipelines(r.Context(), app)
			if err != nil {
				s.uiError(w, r, err)
				return
			}
			for _, c := range cfgs {
				row := pipelineRow{App: app, Name: c.Name(), Trigger: "manual"}
				for _, t := range c.Triggers() {
					if t["type"] == "jenkins" {
						row.Trigger = "Jenkins " + stringOf(t["master"]) + " / " + stringOf(t["job"])
					}
				}
				if es, err := p.Executions(r.Context(), pipeline.ExecutionFilter{PipelineConfigIDs: []string{c.ID()}, Limit: 1}); err == nil && len(es) > 0 {
					row.Last = es[0]
				}
				rows = append(rows, row)
			}
		}
		s.page(w, r, http.StatusOK, "pipelines", "Pipelines", "pipelines", rows)
	})
}

// handleUIPipelineForm shows the form for a new pipeline (one Bake
// stage) or a stored one.
func (s *Server) handleUIPipelineForm() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := s.pipelinesOr(w, r)
		if !ok {
			return
		}
		app, name := r.PathValue("app"), r.PathValue("name")
		f := &pipelineForm{New: true, Errors: map[string]string{}}
		if app != "" {
			cfg, err := p.Pipeline(r.Context(), app, name)
			if err != nil {
				s.uiError(w, r, err)
				return
			}
			f = formOf(cfg)
		} else {
			f.Stages = []*stageForm{f.newStage(stageBake)}
		}
		s.fillOptions(r.Context(), f)
		for _, st := range f.Stages {
			s.defaultStage(f, st)
		}
		s.page(w, r, http.StatusOK, "pipeline_edit", "Configure pipeline", "pipelines", f)
	})
}

// defaultStage fills a new stage's choices: docker's one region, the
// first base OS.
func (s *Server) defaultStage(f *pipelineForm, st *stageForm) {
	if !f.New && f.cfg != nil {
		return
	}
	if len(st.Regions) == 0 && st.Provider == "docker" {
		st.Regions = []string{"global"}
	}
	if st.Type == stageBake && st.BaseOS == "" && len(st.BaseOSes) > 0 {
		st.BaseOS = st.BaseOSes[0].ID
	}
}

// handleUICheckField (GET /ui/pipelines/check/{field}?<name>=value)
// answers the error of one field as the user types, before saving: the
// text of the field's error element. A stage's field is posted as
// s<i>.<field>; the rule is the field's.
func (s *Server) handleUICheckField() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("field")
		var value string
		for k, vs := range r.URL.Query() {
			if (k == name || strings.HasSuffix(k, "."+name)) && len(vs) > 0 {
				value = vs[0]
			}
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte(checkField(name, strings.TrimSpace(value))))
	})
}

// handleUISavePipeline saves the form, or, for the form's own buttons
// (op add:<type>, remove:<index>, refresh), renders it again unsaved with
// the stage added or removed or the provider's choices. Field errors
// re-render the form next to their fields; a saved pipeline shows the
// list.
func (s *Server) handleUISavePipeline() http.Handler {
	return s.uiPost(func(w http.ResponseWriter, r *http.Request) error {
		p, ok := s.pipelinesOr(w, r)
		if !ok {
			return nil
		}
		f := formFrom(r)
		cfg := &pipeline.Config{Fields: map[string]any{"stages": []any{}, "triggers": []any{}, "keepWaitingPipelines": false, "limitConcurrent": true}}
		stored := false
		if f.ID != "" {
			if es, err := p.Pipelines(r.Context(), f.App); err == nil {
				for _, c := range es {
					if c.ID() == f.ID {
						cfg, stored = c, true
					}
				}
			}
		}
		f.New = f.ID == ""
		if stored {
			f.cfg = cfg
		}
		render := func(status int) error {
			for i, st := range f.Stages {
				st.Index = i
			}
			s.fillOptions(r.Context(), f)
			s.page(w, r, status, "pipeline_edit", "Configure pipeline", "pipelines", f)
			return nil
		}
		op := r.PostFormValue("op")
		switch {
		case strings.HasPrefix(op, "add:"):
			typ := strings.TrimPrefix(op, "add:")
			if stageLabels[typ] == "" || len(f.Stages) >= maxFormStages {
				return bakehouse.Invalid("op", "the form cannot add a stage of type %q: it adds bake and findImageFromTags stages, at most %d", typ, maxFormStages)
			}
			st := f.newStage(typ)
			f.Stages = append(f.Stages, st)
			st.Index = len(f.Stages) - 1
			s.fillOptions(r.Context(), f)
			if len(st.Regions) == 0 && st.Provider == "docker" {
				st.Regions = []string{"global"}
			}
			if st.Type == stageBake && len(st.BaseOSes) > 0 {
				st.BaseOS = st.BaseOSes[0].ID
			}
			return render(http.StatusOK)
		case strings.HasPrefix(op, "remove:"):
			i, err := strconv.Atoi(strings.TrimPrefix(op, "remove:"))
			if err != nil || i < 0 || i >= len(f.Stages) {
				return bakehouse.Invalid("op", "the form has no stage %q to remove", strings.TrimPrefix(op, "remove:"))
			}
			gone := f.Stages[i].RefID
			f.Stages = append(f.Stages[:i], f.Stages[i+1:]...)
			for _, st := range f.Stages {
				var keep []string
				for _, d := range st.DependsOn {
					if d != gone {
						keep = append(keep, d)
					}
				}
				st.DependsOn = keep
			}
			return render(http.StatusOK)
		case op == "refresh":
			return render(http.StatusOK)
		}
		if !f.validate() {
			return render(http.StatusBadRequest)
		}
		f.apply(cfg)
		if _, err := p.SavePipeline(r.Context(), cfg); err != nil {
			if bakehouse.ErrorCode(err) != bakehouse.EINVALID {
				return err
			}
			if !f.stageFieldError(err) {
				f.Errors["form"] = bakehouse.ErrorMessage(err)
			}
			if stored {
				f.cfg = cfg
			}
			return render(http.StatusBadRequest)
		}
		http.Redirect(w, r, "/ui/pipelines", http.StatusSeeOther)
		return nil
	})
}

// handleUISavePipelineJSON saves a pasted pipeline ("View as JSON").
func (s *Server) handleUISavePipelineJSON() http.Handler {
	return s.uiPost(func(w http.ResponseWriter, r *http.Request) error {
		p, ok := s.pipelinesOr(w, r)
		if !ok {
			return nil
		}
		cfg, err := pipeline.ParseConfig([]byte(r.PostFormValue("json")))
		if err == nil {
			_, err = p.SavePipeline(r.Context(), cfg)
		}
		if err != nil {
			if bakehouse.ErrorCode(err) == bakehouse.EINTERNAL && cfg != nil {
				return err
			}
			f := &pipelineForm{Errors: map[string]string{"json": "The pipeline was not saved: " + bakehouse.ErrorMessage(err)}, JSON: r.PostFormValue("json")}
			if cfg != nil {
				f = formOf(cfg)
				f.Errors["json"] = "The pipeline was not saved: " + bakehouse.ErrorMessage(err)
				f.cfg = nil
				f.JSON = r.PostFormValue("json")
			}
			s.fillOptions(r.Context(), f)
			s.page(w, r, http.StatusBadRequest, "pipeline_edit", "Configure pipeline", "pipelines", f)
			return nil
		}
		http.Redirect(w, r, "/ui/pipelines/"+url.PathEscape(cfg.Application())+"/"+url.PathEscape(cfg.Name()), http.StatusSeeOther)
		return nil
	})
}

// runForm is the manual run dialog.
type runForm struct {
	App, Name, Master, Job, Error, BuildsError string
	Builds                                     []buildChoice
}

func (s *Server) handleUIRunForm() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := s.pipelinesOr(w, r)
		if !ok {
			return
		}
		cfg, err := p.Pipeline(r.Context(), r.PathValue("app"), r.PathValue("name"))
		if err != nil {
			s.uiError(w, r, err)
			return
		}
		f := formOf(cfg)
		d := runForm{App: f.App, Name: f.Name, Master: f.Master, Job: f.Job}
		if d.Builds, err = s.successfulBuilds(r.Context(), f.Master, f.Job); err != nil {
			d.BuildsError = bakehouse.ErrorMessage(err)
		}
		s.page(w, r, http.StatusOK, "run", "Start Manual Execution", "pipelines", d)
	})
}

// handleUIRun starts a manual run, as Gate's POST /pipelines/{app}/{name}
// with {"type": "manual", "rebake": ..., "buildNumber": ...}, and opens
// the execution.
func (s *Server) handleUIRun() http.Handler {
	return s.uiPost(func(w http.ResponseWriter, r *http.Request) error {
		p, ok := s.pipelinesOr(w, r)
		if !ok {
			return nil
		}
		app, name := r.PathValue("app"), r.PathValue("name")
		trigger := map[string]any{"type": "manual", "user": "ui"}
		if r.PostFormValue("rebake") == "true" {
			trigger["rebake"] = true
		}
		if b := strings.TrimSpace(r.PostFormValue("buildNumber")); b != "" {
			n, err := strconv.Atoi(b)
			if err != nil || n <= 0 {
				s.page(w, r, http.StatusBadRequest, "run", "Start Manual Execution", "pipelines",
					runForm{App: app, Name: name, Job: "the trigger's job", Error: "The build " + strconv.Quote(b) + " is not a build number: give one such as 42, or leave it empty for the newest successful build."})
				return nil
			}
			trigger["buildNumber"] = n
		}
		e, err := p.Start(r.Context(), app, name, trigger)
		if err != nil {
			return err
		}
		http.Redirect(w, r, "/ui/executions/"+url.PathEscape(e.ID), http.StatusSeeOther)
		return nil
	})
}
