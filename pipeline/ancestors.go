package pipeline

import (
	"encoding/json"
	"sort"
)

// The stage graph as Orca walks it: requisiteStageRefIds point upstream,
// synthetic stages hang off their parent by parentStageId, and a pipeline
// started by another pipeline continues upward into the parent execution
// held in trigger.parentExecution.

// stageByRefID returns the stage of e with refId, or nil.
func (e *Execution) stageByRefID(ref string) *Stage {
	for _, s := range e.Stages {
		if s.RefID == ref {
			return s
		}
	}
	return nil
}

// isPipeline reports whether e is a pipeline run rather than an ad-hoc
// orchestration. Bakehouse runs only pipelines, so an unset type counts
// as PIPELINE.
func (e *Execution) isPipeline() bool { return e.Type == "" || e.Type == "PIPELINE" }

// parentExecution decodes trigger.parentExecution of a pipeline trigger
// (a run started by another pipeline's pipeline stage), or nil.
func parentExecution(trigger map[string]any) *Execution {
	pe := asMap(trigger["parentExecution"])
	if pe == nil {
		return nil
	}
	b, err := json.Marshal(pe)
	if err != nil {
		return nil
	}
	var e Execution
	if json.Unmarshal(b, &e) != nil {
		return nil
	}
	if e.Trigger == nil {
		e.Trigger = map[string]any{}
	}
	return &e
}

// findAncestor is Orca's StageExecution.findAncestor: the first stage
// matching pred among the direct requisites (in execution order) and the
// synthetic children of those, then each requisite's own ancestors in
// turn; for a synthetic stage its parent and the parent's ancestors; at
// the top of a pipeline started by a pipeline stage, that stage in the
// parent execution and its ancestors.
func findAncestor(s *Stage, e *Execution, pred func(*Stage) bool) *Stage {
	return (&ancestorWalk{pred: pred, seen: map[*Stage]bool{}}).find(s, e, 0)
}

type ancestorWalk struct {
	pred func(*Stage) bool
	// seen stops the walk on a cycle of refIds (a config error Orca would
	// recurse on forever); a stage already searched found nothing.
	seen map[*Stage]bool
}

// maxParentDepth bounds the walk through nested parent executions.
const maxParentDepth = 32

func (w *ancestorWalk) find(s *Stage, e *Execution, depth int) *Stage {
	if s != nil {
		if w.seen[s] {
			return nil
		}
		w.seen[s] = true
	}
	switch {
	case s != nil && len(s.RequisiteStageRefIDs) > 0:
		var previous []*Stage
		ids := map[string]bool{}
		for _, p := range e.Stages {
			if contains(s.RequisiteStageRefIDs, p.RefID) {
				previous = append(previous, p)
				ids[p.ID] = true
			}
		}
		prior := append([]*Stage(nil), previous...)
		for _, p := range e.Stages {
			if p.ParentStageID != nil && ids[*p.ParentStageID] {
				prior = append(prior, p)
			}
		}
		for _, p := range prior {
			if w.pred(p) {
				return p
			}
		}
		for _, p := range previous {
			if m := w.find(p, e, depth); m != nil {
				return m
			}
		}
		return nil
	case s != nil && s.ParentStageID != nil && *s.ParentStageID != "":
		parent := e.Stage(*s.ParentStageID)
		if parent == nil {
			return nil
		}
		if w.pred(parent) {
			return parent
		}
		return w.find(parent, e, depth)
	case e.isPipeline() && str(e.Trigger["type"]) == "pipeline" && depth < maxParentDepth:
		pe := parentExecution(e.Trigger)
		if pe == nil {
			return nil
		}
		stageID := str(e.Trigger["parentPipelineStageId"])
		for _, p := range pe.Stages {
			if p.Type == "pipeline" && p.ID == stageID {
				return w.find(p, pe, depth+1)
			}
		}
		if len(pe.Stages) == 0 {
			return w.find(nil, pe, depth+1)
		}
		// No such stage: the parent's stages, unfinished first, then the
		// most recently finished.
		stages := append([]*Stage(nil), pe.Stages...)
		sort.SliceStable(stages, func(i, j int) bool {
			a, b := stages[i].EndTime, stages[j].EndTime
			switch {
			case a == nil && b == nil:
				return false
			case a == nil:
				return true
			case b == nil:
				return false
			}
			return *a > *b
		})
		for _, p := range stages {
			if w.pred(p) {
				return p
			}
		}
		return w.find(stages[0], pe, depth+1)
	}
	return nil
}

func contains(l []string, s string) bool {
	for _, e := range l {
		if e == s {
			return true
		}
	}
	return false
}

// downstreamStages returns every stage that depends on s, directly or
// through others, following requisiteStageRefIds (Orca's
// allDownstreamStages), in execution order.
func downstreamStages(e *Execution, s *Stage) []*Stage {
	reached := map[string]bool{s.RefID: true}
	var out []*Stage
	for changed := true; changed; {
		changed = false
		for _, d := range e.Stages {
			if d == s || d.RefID == "" || reached[d.RefID] {
				continue
			}
			for _, r := range d.RequisiteStageRefIDs {
				if reached[r] {
					reached[d.RefID] = true
					changed = true
					break
				}
			}
		}
	}
	for _, d := range e.Stages {
		if d != s && d.RefID != s.RefID && reached[d.RefID] {
			out = append(out, d)
		}
	}
	return out
}

// topologicalOrder returns the stages of e so that each comes after the
// stages it requires (Orca's topologicalSort), keeping execution order
// among stages that are ready together. Stages in a cycle come last.
func topologicalOrder(e *Execution) []*Stage {
	done := map[string]bool{}
	placed := map[*Stage]bool{}
	var out []*Stage
	for len(out) < len(e.Stages) {
		var batch []*Stage
		for _, s := range e.Stages {
			if placed[s] {
				continue
			}
			ready := true
			for _, r := range s.RequisiteStageRefIDs {
				if !done[r] {
					ready = false
					break
				}
			}
			if ready {
				batch = append(batch, s)
			}
		}
		if len(batch) == 0 {
			for _, s := range e.Stages {
				if !placed[s] {
					batch = append(batch, s)
				}
			}
		}
		for _, s := range batch {
			placed[s] = true
			out = append(out, s)
		}
		for _, s := range batch {
			done[s.RefID] = true
		}
	}
	return out
}

// ArtifactPool is Orca's ArtifactUtils.getAllArtifacts, the artifacts a
// bake matches package names against: the stages' outputs.artifacts in
// reverse topological order (later stages first), then the trigger's
// artifacts.
func ArtifactPool(e *Execution) []map[string]any {
	var emitted []map[string]any
	for _, s := range topologicalOrder(e) {
		for _, a := range asList(s.Outputs["artifacts"]) {
			if m := asMap(a); m != nil {
				emitted = append(emitted, m)
			}
		}
	}
	for i, j := 0, len(emitted)-1; i < j; i, j = i+1, j-1 {
		emitted[i], emitted[j] = emitted[j], emitted[i]
	}
	for _, a := range asList(e.Trigger["artifacts"]) {
		if m := asMap(a); m != nil {
			emitted = append(emitted, m)
		}
	}
	return emitted
}
