package pipeline

import (
	"fmt"
	"strconv"

	"github.com/bakehouse/bakehouse"
)

// NewExecution builds a run of cfg started by trigger: every configured
// stage NOT_STARTED, in the config's order, its context the stage's
// fields as Deck wrote them (less type, name, refId and
// requisiteStageRefIds, which are the stage's own fields, as current Orca
// keeps them). A config that predates refIds (stages run in list order)
// gets refIds 1, 2, ... each requiring the one before. The graph is
// checked before anything runs: a stage without a type, a refId used
// twice, a requisite that names no stage, or a cycle is an EINVALID error
// naming the stage.
func NewExecution(cfg *Config, id string, trigger map[string]any, now int64, newID func() string) (*Execution, error) {
	if trigger == nil {
		trigger = map[string]any{"type": "manual"}
	}
	e := &Execution{
		Type: "PIPELINE", ID: id, Application: cfg.Application(), Name: cfg.Name(),
		PipelineConfigID: cfg.ID(), Status: NotStarted, BuildTime: now, Origin: "api",
		Trigger: trigger, Stages: []*Stage{},
	}
	if b, ok := cfg.Fields["limitConcurrent"].(bool); ok {
		e.Limit = b
	}
	if b, ok := cfg.Fields["keepWaitingPipelines"].(bool); ok {
		e.KeepWaiting = b
	}
	stages := cfg.Stages()
	legacy := true
	for _, s := range stages {
		if _, ok := s["refId"]; ok {
			legacy = false
		}
	}
	seen := map[string]bool{}
	for i, s := range stages {
		field := fmt.Sprintf("stages[%d]", i)
		typ, _ := s["type"].(string)
		if typ == "" {
			return nil, bakehouse.Invalid(field+".type", "stage %d has no type: every stage needs one (e.g. \"bake\")", i+1)
		}
		st := &Stage{ID: newID(), Type: typ, Status: NotStarted, Context: map[string]any{},
			Outputs: map[string]any{}, Tasks: []*Task{}, RequisiteStageRefIDs: []string{}}
		st.Name, _ = s["name"].(string)
		if st.Name == "" {
			st.Name = typ
		}
		if legacy {
			st.RefID = strconv.Itoa(i + 1)
			if i > 0 {
				st.RequisiteStageRefIDs = []string{strconv.Itoa(i)}
			}
		} else {
			st.RefID = refString(s["refId"])
			if st.RefID == "" {
				return nil, bakehouse.Invalid(field+".refId", "stage %q has no refId: give every stage a unique refId", st.Name)
			}
			reqs, _ := s["requisiteStageRefIds"].([]any)
			for _, r := range reqs {
				st.RequisiteStageRefIDs = append(st.RequisiteStageRefIDs, refString(r))
			}
		}
		if seen[st.RefID] {
			return nil, bakehouse.Invalid(field+".refId", "refId %q is used by two stages: refIds must be unique", st.RefID)
		}
		seen[st.RefID] = true
		for k, v := range s {
			switch k {
			case "type", "name", "refId", "requisiteStageRefIds":
			default:
				st.Context[k] = v
			}
		}
		e.Stages = append(e.Stages, st)
	}
	for i, st := range e.Stages {
		for _, r := range st.RequisiteStageRefIDs {
			if !seen[r] {
				return nil, bakehouse.Invalid(fmt.Sprintf("stages[%d].requisiteStageRefIds", i),
					"stage %q requires stage refId %q, which the pipeline does not have", st.Name, r)
			}
		}
	}
	if st := cycle(e.Stages); st != nil {
		return nil, bakehouse.Invalid("stages", "stage %q (refId %s) depends on itself through its requisiteStageRefIds: remove the cycle", st.Name, st.RefID)
	}
	return e, nil
}

// refString reads a refId that Deck writes as a string and older configs
// as a number.
func refString(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case nil:
		return ""
	default:
		return fmt.Sprint(v)
	}
}

// cycle returns a stage on a requisite cycle, or nil.
func cycle(stages []*Stage) *Stage {
	byRef := map[string]*Stage{}
	for _, s := range stages {
		byRef[s.RefID] = s
	}
	const (
		unseen = iota
		open
		done
	)
	mark := map[string]int{}
	var visit func(s *Stage) *Stage
	visit = func(s *Stage) *Stage {
		switch mark[s.RefID] {
		case open:
			return s
		case done:
			return nil
		}
		mark[s.RefID] = open
		for _, r := range s.RequisiteStageRefIDs {
			if p := byRef[r]; p != nil {
				if c := visit(p); c != nil {
					return c
				}
			}
		}
		mark[s.RefID] = done
		return nil
	}
	for _, s := range stages {
		if c := visit(s); c != nil {
			return c
		}
	}
	return nil
}

// Stage returns the stage with id, or nil.
func (e *Execution) Stage(id string) *Stage {
	for _, s := range e.Stages {
		if s.ID == id {
			return s
		}
	}
	return nil
}

// Ready returns the stages that can start now, in stage order: top-level
// stages NOT_STARTED whose requisites all passed, and synthetic children
// NOT_STARTED whose parent is RUNNING and whose own requisites (among
// their siblings) passed. A stage whose requisite halted never starts.
func (e *Execution) Ready() []*Stage {
	byRef := map[string]*Stage{}
	for _, s := range e.Stages {
		byRef[s.RefID] = s
	}
	var out []*Stage
	for _, s := range e.Stages {
		if s.Status != NotStarted {
			continue
		}
		if s.ParentStageID != nil {
			if p := e.Stage(*s.ParentStageID); p == nil || p.Status != Running {
				continue
			}
		}
		ok := true
		for _, r := range s.RequisiteStageRefIDs {
			if p := byRef[r]; p == nil || !p.Status.Passes() {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, s)
		}
	}
	return out
}

// Children returns the synthetic stages of parent, in stage order.
func (e *Execution) Children(parent *Stage) []*Stage {
	var out []*Stage
	for _, s := range e.Stages {
		if s.ParentStageID != nil && *s.ParentStageID == parent.ID {
			out = append(out, s)
		}
	}
	return out
}
