package http

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"sort"
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

// baseOSOption is one Base OS choice of the Bake stage form.
type baseOSOption struct{ ID, Description string }

// keyValue is one Extended Attribute row.
type keyValue struct{ Key, Value string }

// pipelineForm is the pipeline form: the pipeline's name, its Jenkins
// trigger and its (first) Bake stage, in Deck's order and words.
type pipelineForm struct {
	New                                             bool
	ID, App, Name, Master, Job, PropertyFile        string
	Provider, Package, BaseOS, VMType, BaseLabel    string
	TemplateFileName, VarFileName, BaseAMI, AMIName string
	AMISuffix, JSON                                 string
	Regions, AllRegions, Providers                  []string
	SkipRegionDetection, Rebake, Advanced           bool
	BaseOSes                                        []baseOSOption
	Extended                                        []keyValue
	Masters, Jobs                                   []string
	Errors                                          map[string]string
	cfg                                             *pipeline.Config
}

// awsRegions are the regions the form offers for aws bakes, besides any
// the stage already names.
var awsRegions = []string{"us-east-1", "us-east-2", "us-west-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-1", "ap-northeast-1"}

func (s *Server) fillOptions(ctx context.Context, f *pipelineForm) {
	cfg := s.bakery.Config()
	if s.jenkinsUI != nil {
		f.Masters = s.jenkinsUI.Masters()
		master := f.Master
		if master == "" && len(f.Masters) > 0 {
			master = f.Masters[0]
		}
		f.Jobs = s.jenkinsJobs(ctx, master)
	}
	for _, p := range []string{"docker", "aws"} {
		if o, ok := optionsFor(cfg, p); ok {
			f.Providers = append(f.Providers, p)
			if p == f.Provider {
				for _, b := range o.BaseImages {
					f.BaseOSes = append(f.BaseOSes, baseOSOption{ID: b.ID, Description: b.ShortDescription})
				}
			}
		}
	}
	if f.Provider == "" && len(f.Providers) > 0 {
		f.Provider = f.Providers[0]
		o, _ := optionsFor(cfg, f.Provider)
		for _, b := range o.BaseImages {
			f.BaseOSes = append(f.BaseOSes, baseOSOption{ID: b.ID, Description: b.ShortDescription})
		}
	}
	all := []string{"global"}
	if f.Provider == "aws" {
		all = append([]string{}, awsRegions...)
	}
	for _, r := range f.Regions {
		if !contains(all, r) {
			all = append(all, r)
		}
	}
	f.AllRegions = all
	f.Advanced = f.Advanced || f.TemplateFileName != "" || f.VarFileName != "" || f.BaseAMI != "" || f.AMIName != "" || f.AMISuffix != "" || len(f.Extended) > 0
	if f.cfg != nil {
		b, _ := json.MarshalIndent(f.cfg, "", "  ")
		f.JSON = string(b)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// bakeStageOf returns cfg's first Bake stage, or nil.
func bakeStageOf(cfg *pipeline.Config) map[string]any {
	for _, st := range cfg.Stages() {
		if st["type"] == "bake" {
			return st
		}
	}
	return nil
}

// formOf fills the form from a stored config.
func formOf(cfg *pipeline.Config) *pipelineForm {
	f := &pipelineForm{ID: cfg.ID(), App: cfg.Application(), Name: cfg.Name(), cfg: cfg, Errors: map[string]string{}}
	for _, t := range cfg.Triggers() {
		if t["type"] == "jenkins" {
			f.Master, f.Job, f.PropertyFile = stringOf(t["master"]), stringOf(t["job"]), stringOf(t["propertyFile"])
			break
		}
	}
	st := bakeStageOf(cfg)
	if st == nil {
		return f
	}
	f.Provider, f.Package, f.BaseOS = stringOf(st["cloudProviderType"]), stringOf(st["package"]), stringOf(st["baseOs"])
	f.VMType, f.BaseLabel = stringOf(st["vmType"]), stringOf(st["baseLabel"])
	f.TemplateFileName, f.VarFileName, f.BaseAMI = stringOf(st["templateFileName"]), stringOf(st["varFileName"]), stringOf(st["baseAmi"])
	f.AMIName, f.AMISuffix = stringOf(st["amiName"]), stringOf(st["amiSuffix"])
	f.SkipRegionDetection, f.Rebake = st["skipRegionDetection"] == true, st["rebake"] == true
	if r := stringOf(st["region"]); r != "" {
		f.Regions = append(f.Regions, r)
	}
	if rs, ok := st["regions"].([]any); ok {
		for _, r := range rs {
			if !contains(f.Regions, stringOf(r)) {
				f.Regions = append(f.Regions, stringOf(r))
			}
		}
	}
	if ea, ok := st["extendedAttributes"].(map[string]any); ok {
		for k, v := range ea {
			f.Extended = append(f.Extended, keyValue{k, stringOf(v)})
		}
		sort.Slice(f.Extended, func(i, j int) bool { return f.Extended[i].Key < f.Extended[j].Key })
	}
	return f
}

// formFrom reads the posted form.
func formFrom(r *http.Request) *pipelineForm {
	v := r.PostForm
	f := &pipelineForm{ID: v.Get("id"), App: strings.TrimSpace(v.Get("application")), Name: strings.TrimSpace(v.Get("name")),
		Master: strings.TrimSpace(v.Get("master")), Job: strings.TrimSpace(v.Get("job")), PropertyFile: strings.TrimSpace(v.Get("propertyFile")),
		Provider: v.Get("cloudProviderType"), Package: strings.TrimSpace(v.Get("package")), BaseOS: strings.TrimSpace(v.Get("baseOs")),
		VMType: v.Get("vmType"), BaseLabel: v.Get("baseLabel"), TemplateFileName: strings.TrimSpace(v.Get("templateFileName")),
		VarFileName: strings.TrimSpace(v.Get("varFileName")), BaseAMI: strings.TrimSpace(v.Get("baseAmi")),
		AMIName: strings.TrimSpace(v.Get("amiName")), AMISuffix: strings.TrimSpace(v.Get("amiSuffix")),
		Regions: v["regions"], SkipRegionDetection: v.Get("skipRegionDetection") == "true", Rebake: v.Get("rebake") == "true",
		Errors: map[string]string{}}
	keys, vals := v["eaKey"], v["eaValue"]
	for i, k := range keys {
		if k = strings.TrimSpace(k); k != "" && i < len(vals) {
			f.Extended = append(f.Extended, keyValue{k, vals[i]})
		}
	}
	return f
}

var (
	namePattern   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9 ._-]*$`)
	suffixPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)
	imagePattern  = regexp.MustCompile(`^[A-Za-z0-9()\[\]./'@_-]{3,128}$`)
	pkgPattern    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9.+~:_-]*$`)
)

// isExpression reports whether v is a Spinnaker expression, which the
// run evaluates, so the form does not judge it.
func isExpression(v string) bool { return strings.Contains(v, "${") }

// checkField is the form's rule for one field: "" when value is fine,
// else what is wrong and how to fix it. The same rules run as the user
// types (POST /ui/pipelines/check/{field}) and when the form is saved.
func checkField(name, value string) string {
	switch name {
	case "application":
		if value == "" {
			return "The application is required, e.g. armory."
		}
		if !namePattern.MatchString(value) || strings.ContainsAny(value, " ") {
			return "The application may only contain letters, digits, '.', '_' and '-'."
		}
	case "name":
		if value == "" {
			return "The pipeline name is required."
		}
		if !namePattern.MatchString(value) || strings.ContainsAny(value, "/") {
			return "The pipeline name may only contain letters, digits, spaces, '.', '_' and '-'."
		}
	case "package":
		if value == "" {
			return "The package is required: the package's base name, e.g. myapp."
		}
		for _, tok := range strings.Fields(value) {
			if !isExpression(tok) && !pkgPattern.MatchString(tok) {
				return "The package " + strconv.Quote(tok) + " is not a package name: give base names such as myapp, separated by spaces."
			}
		}
	case "amiSuffix":
		if value != "" && !isExpression(value) && !suffixPattern.MatchString(value) {
			return "The AMI suffix " + strconv.Quote(value) + " may only contain letters, digits, '.', '_' and '-' (at most 64), such as 20240131120000; leave it empty for the run's timestamp."
		}
	case "amiName":
		if value != "" && !isExpression(value) && !imagePattern.MatchString(value) {
			return "The AMI name must be 3 to 128 letters, digits or ( ) [ ] . / - ' @ _."
		}
	case "templateFileName", "varFileName":
		if value != "" && (strings.ContainsAny(value, `/\`) || strings.Contains(value, "..")) {
			return "Give a plain file name from the bakery's template directory, without '/' or '..'."
		}
	case "job":
		if strings.HasPrefix(value, "/") || strings.HasPrefix(value, "job/") {
			return "Give the job's path without a leading '/' or 'job/', e.g. team/job/app/job/master."
		}
	}
	return ""
}

// validate fills f.Errors; it reports whether the form may be saved.
func (f *pipelineForm) validate() bool {
	for name, v := range map[string]string{"application": f.App, "name": f.Name, "package": f.Package, "amiSuffix": f.AMISuffix,
		"amiName": f.AMIName, "templateFileName": f.TemplateFileName, "varFileName": f.VarFileName, "job": f.Job} {
		if msg := checkField(name, v); msg != "" {
			f.Errors[name] = msg
		}
	}
	if len(f.Regions) == 0 {
		f.Errors["regions"] = "Select at least one region (docker bakes use global)."
	}
	if f.BaseOS == "" {
		f.Errors["baseOs"] = "Choose a base OS."
	}
	if (f.Master == "") != (f.Job == "") {
		f.Errors["master"] = "A Jenkins trigger needs both a controller and a job; leave both empty for manual runs only."
	}
	return len(f.Errors) == 0
}

// apply writes the form onto cfg (a stored config or a new one), keeping
// every field the form does not show.
func (f *pipelineForm) apply(cfg *pipeline.Config) {
	m := cfg.Fields
	m["application"], m["name"] = f.App, f.Name
	var triggers []any
	found := false
	for _, t := range cfg.Triggers() {
		if t["type"] == "jenkins" && !found {
			found = true
			if f.Job == "" {
				continue
			}
			t["master"], t["job"] = f.Master, f.Job
			setOrDelete(t, "propertyFile", f.PropertyFile)
		}
		triggers = append(triggers, t)
	}
	if !found && f.Job != "" {
		t := map[string]any{"type": "jenkins", "enabled": true, "master": f.Master, "job": f.Job}
		setOrDelete(t, "propertyFile", f.PropertyFile)
		triggers = append(triggers, t)
	}
	if triggers == nil {
		triggers = []any{}
	}
	m["triggers"] = triggers
	st := bakeStageOf(cfg)
	if st == nil {
		st = map[string]any{"refId": "1", "requisiteStageRefIds": []any{}, "type": "bake", "name": "Bake"}
		stages, _ := m["stages"].([]any)
		m["stages"] = append([]any{st}, stages...)
	}
	st["cloudProviderType"], st["package"], st["baseOs"] = f.Provider, f.Package, f.BaseOS
	delete(st, "region")
	regions := []any{}
	for _, r := range f.Regions {
		regions = append(regions, r)
	}
	st["regions"] = regions
	if contains(f.Regions, "global") && len(f.Regions) == 1 {
		st["region"] = "global"
	}
	for k, v := range map[string]string{"vmType": f.VMType, "baseLabel": f.BaseLabel, "templateFileName": f.TemplateFileName,
		"varFileName": f.VarFileName, "baseAmi": f.BaseAMI, "amiName": f.AMIName, "amiSuffix": f.AMISuffix} {
		setOrDelete(st, k, v)
	}
	for k, v := range map[string]bool{"skipRegionDetection": f.SkipRegionDetection, "rebake": f.Rebake} {
		if v {
			st[k] = true
		} else {
			delete(st, k)
		}
	}
	ea := map[string]any{}
	for _, kv := range f.Extended {
		ea[kv.Key] = kv.Value
	}
	st["extendedAttributes"] = ea
}

func setOrDelete(m map[string]any, k, v string) {
	if v == "" {
		delete(m, k)
	} else {
		m[k] = v
	}
}

// handleUIPipelineForm shows the form for a new pipeline or a stored one.
func (s *Server) handleUIPipelineForm() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := s.pipelinesOr(w, r)
		if !ok {
			return
		}
		app, name := r.PathValue("app"), r.PathValue("name")
		f := &pipelineForm{New: true, Errors: map[string]string{}, VMType: "hvm", BaseLabel: "release"}
		if app != "" {
			cfg, err := p.Pipeline(r.Context(), app, name)
			if err != nil {
				s.uiError(w, r, err)
				return
			}
			f = formOf(cfg)
		}
		s.fillOptions(r.Context(), f)
		if f.New && len(f.Regions) == 0 && f.Provider == "docker" {
			f.Regions = []string{"global"}
		}
		if f.New && f.BaseOS == "" && len(f.BaseOSes) > 0 {
			f.BaseOS = f.BaseOSes[0].ID
		}
		s.page(w, r, http.StatusOK, "pipeline_edit", "Configure pipeline", "pipelines", f)
	})
}

// handleUICheckField (GET /ui/pipelines/check/{field}?{field}=value)
// answers the error of one field as the user types,
// before saving: the text of the field's error element.
func (s *Server) handleUICheckField() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("field")
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte(checkField(name, strings.TrimSpace(r.URL.Query().Get(name)))))
	})
}

// handleUISavePipeline saves the form: field errors re-render the form
// next to their fields; a saved pipeline shows the list.
func (s *Server) handleUISavePipeline() http.Handler {
	return s.uiPost(func(w http.ResponseWriter, r *http.Request) error {
		p, ok := s.pipelinesOr(w, r)
		if !ok {
			return nil
		}
		f := formFrom(r)
		cfg := &pipeline.Config{Fields: map[string]any{"stages": []any{}, "triggers": []any{}, "keepWaitingPipelines": false, "limitConcurrent": true}}
		if f.ID != "" {
			if es, err := p.Pipelines(r.Context(), f.App); err == nil {
				for _, c := range es {
					if c.ID() == f.ID {
						cfg = c
					}
				}
			}
		}
		f.New = f.ID == ""
		if !f.validate() {
			s.fillOptions(r.Context(), f)
			s.page(w, r, http.StatusBadRequest, "pipeline_edit", "Configure pipeline", "pipelines", f)
			return nil
		}
		f.apply(cfg)
		if _, err := p.SavePipeline(r.Context(), cfg); err != nil {
			if bakehouse.ErrorCode(err) != bakehouse.EINVALID {
				return err
			}
			f.Errors["form"] = bakehouse.ErrorMessage(err)
			f.cfg = cfg
			s.fillOptions(r.Context(), f)
			s.page(w, r, http.StatusBadRequest, "pipeline_edit", "Configure pipeline", "pipelines", f)
			return nil
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
