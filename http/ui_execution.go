package http

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/bakehouse/bakehouse/pipeline"
	"github.com/bakehouse/bakehouse/ui"
)

// executionView is the Execution page's data: the stages in the order a
// user reads them (each Bake stage followed by its regions).
type executionView struct {
	ID, Application, Name, Status, Duration, Trigger, CSRF string
	Running                                                bool
	Stages                                                 []stageView
}

type stageView struct {
	Name, Status, Duration, Message string
	Child                           bool
	Result                          *regionResult
}

// regionResult is the result box of one region of a bake. Kind is "ok"
// (Image: name (id)), "reused" (No changes detected; reused existing
// bake), "fail" (Bake failed. and the reason) or "running".
type regionResult struct {
	Kind, Image, Reason, BakeID string
}

func stringOf(v any) string {
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

func spanOf(start, end *int64) string {
	if start == nil || *start == 0 {
		return ""
	}
	e := time.Now().UnixMilli()
	if end != nil && *end != 0 {
		e = *end
	}
	return ui.Duration(time.Duration(e-*start) * time.Millisecond)
}

// stageErrors is Orca's context.exception.details.errors, joined.
func stageErrors(ctx map[string]any) string {
	exc, _ := ctx["exception"].(map[string]any)
	details, _ := exc["details"].(map[string]any)
	var msgs []string
	switch errs := details["errors"].(type) {
	case []any:
		for _, e := range errs {
			msgs = append(msgs, stringOf(e))
		}
	case []string:
		msgs = errs
	}
	if len(msgs) == 0 {
		if m := stringOf(details["error"]); m != "" {
			msgs = append(msgs, m)
		}
	}
	return strings.Join(msgs, " ")
}

// resultOf is the result box of a "Bake in <region>" stage.
func resultOf(st *pipeline.Stage) *regionResult {
	ctx := st.Context
	res := &regionResult{Kind: "running"}
	if status, ok := ctx["status"].(map[string]any); ok {
		res.BakeID = stringOf(status["id"])
	}
	name, id := stringOf(ctx["imageName"]), stringOf(ctx["ami"])
	if id == "" {
		id = stringOf(ctx["imageId"])
	}
	if name != "" || id != "" {
		res.Image = strings.TrimSpace(name + " (" + id + ")")
	}
	switch {
	case st.Status == pipeline.Succeeded && ctx["previouslyBaked"] == true:
		res.Kind = "reused"
	case st.Status == pipeline.Succeeded:
		res.Kind = "ok"
	case st.Status == pipeline.Canceled:
		res.Kind, res.Reason = "fail", "The bake was canceled."
	case st.Status.Complete() && st.Status != pipeline.Skipped:
		res.Kind, res.Reason = "fail", stageErrors(ctx)
	}
	return res
}

func describeTrigger(tr map[string]any) string {
	if tr == nil {
		return ""
	}
	s := stringOf(tr["type"])
	if s == "" {
		s = "manual"
	}
	if n := stringOf(tr["buildNumber"]); n != "" {
		s += ", build " + n
	}
	if u := stringOf(tr["user"]); u != "" {
		s += " by " + u
	}
	if tr["rebake"] == true {
		s += ", Force Rebake"
	}
	return "triggered: " + s
}

func viewExecution(e *pipeline.Execution, csrf string) executionView {
	v := executionView{ID: e.ID, Application: e.Application, Name: e.Name, Status: string(e.Status), CSRF: csrf,
		Running: !e.Status.Complete(), Duration: spanOf(e.StartTime, e.EndTime), Trigger: describeTrigger(e.Trigger)}
	children := map[string][]*pipeline.Stage{}
	for _, st := range e.Stages {
		if st.ParentStageID != nil {
			children[*st.ParentStageID] = append(children[*st.ParentStageID], st)
		}
	}
	var add func(st *pipeline.Stage, child bool)
	add = func(st *pipeline.Stage, child bool) {
		sv := stageView{Name: st.Name, Status: string(st.Status), Duration: spanOf(st.StartTime, st.EndTime), Child: child}
		if m := stringOf(st.Context["skipReason"]); m != "" {
			sv.Message = m
		} else if st.Status == pipeline.Terminal && !(child && st.Type == "bake") {
			sv.Message = stageErrors(st.Context)
		}
		if child && st.Type == "bake" || strings.HasPrefix(st.Name, "Bake in ") {
			sv.Result = resultOf(st)
		}
		v.Stages = append(v.Stages, sv)
		for _, c := range children[st.ID] {
			add(c, true)
		}
	}
	for _, st := range e.Stages {
		if st.ParentStageID == nil {
			add(st, false)
		}
	}
	return v
}

// handleUIExecution is the Execution page; its stages then follow the
// event stream of handleUIExecutionEvents.
func (s *Server) handleUIExecution() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := s.pipelinesOr(w, r)
		if !ok {
			return
		}
		e, err := p.Execution(r.Context(), r.PathValue("id"))
		if err != nil {
			s.uiError(w, r, err)
			return
		}
		s.page(w, r, http.StatusOK, "execution", e.Application+" / "+e.Name, "pipelines", viewExecution(e, s.csrfToken(w, r)))
	})
}

// handleUICancelExecution cancels a running execution from its page.
func (s *Server) handleUICancelExecution() http.Handler {
	return s.uiPost(func(w http.ResponseWriter, r *http.Request) error {
		p, ok := s.pipelinesOr(w, r)
		if !ok {
			return nil
		}
		id := r.PathValue("id")
		if err := p.Cancel(r.Context(), id, "ui", "canceled from the web UI"); err != nil {
			return err
		}
		http.Redirect(w, r, "/ui/executions/"+url.PathEscape(id), http.StatusSeeOther)
		return nil
	})
}
