package pipeline_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bakehouse/bakehouse"
	"github.com/bakehouse/bakehouse/pipeline"
)

func ids() func() string {
	n := 0
	return func() string { n++; return fmt.Sprintf("s%d", n) }
}

func mustParse(t *testing.T, js string) *pipeline.Config {
	t.Helper()
	c, err := pipeline.ParseConfig([]byte(js))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Every config exported from a real Spinnaker in the shared fixtures
// builds an execution: stage types Bakehouse does not run included.
func TestNewExecutionFromSpinnakerConfigs(t *testing.T) {
	dir := filepath.Join("testdata", "spinnaker")
	b, err := os.ReadFile(filepath.Join(dir, "orca-convertedPipelineTemplateSource.pipeline.json"))
	if err != nil {
		t.Fatal(err)
	}
	configs := []json.RawMessage{b}
	b, err = os.ReadFile(filepath.Join(dir, "echo-pipelines.json"))
	if err != nil {
		t.Fatal(err)
	}
	var echo []json.RawMessage
	if err := json.Unmarshal(b, &echo); err != nil {
		t.Fatal(err)
	}
	configs = append(configs, echo...)
	for i, raw := range configs {
		cfg := mustParse(t, string(raw))
		e, err := pipeline.NewExecution(cfg, "e", nil, 1, ids())
		if err != nil {
			t.Fatalf("config %d (%s): %v", i, cfg.Name(), err)
		}
		if len(e.Stages) != len(cfg.Stages()) {
			t.Fatalf("config %d: %d stages, want %d", i, len(e.Stages), len(cfg.Stages()))
		}
		if len(e.Stages) > 0 && len(e.Ready()) == 0 {
			t.Fatalf("config %d (%s): no stage can start", i, cfg.Name())
		}
	}
	// The converted template: bake (refId 1) first, deploy waits for it.
	e, _ := pipeline.NewExecution(mustParse(t, string(configs[0])), "e", nil, 1, ids())
	ready := e.Ready()
	if len(ready) != 1 || ready[0].Type != "bake" || ready[0].Context["package"] != "orca" {
		t.Fatalf("ready = %+v, want the bake stage with its package in the context", ready)
	}
	if _, ok := ready[0].Context["refId"]; ok {
		t.Fatal("refId kept in the context; current Orca keeps it on the stage only")
	}
	// A legacy config (no refIds) runs in list order.
	e, _ = pipeline.NewExecution(mustParse(t, string(configs[1])), "e", nil, 1, ids())
	if len(e.Stages) > 1 && (e.Stages[1].RequisiteStageRefIDs[0] != "1" || len(e.Ready()) != 1) {
		t.Fatalf("legacy stages = %+v", e.Stages[1])
	}
}

func TestNewExecutionRejectsBadGraphs(t *testing.T) {
	for _, tc := range []struct{ cfg, field, msg string }{
		{`{"stages":[{"refId":"1"}]}`, "stages[0].type", "no type"},
		{`{"stages":[{"refId":"1","type":"wait"},{"refId":"1","type":"wait"}]}`, "stages[1].refId", "used by two stages"},
		{`{"stages":[{"refId":"1","type":"wait","requisiteStageRefIds":["9"]}]}`, "stages[0].requisiteStageRefIds", `refId "9"`},
		{`{"stages":[{"refId":"1","type":"wait","requisiteStageRefIds":["2"]},{"refId":"2","type":"wait","requisiteStageRefIds":["1"]}]}`, "stages", "cycle"},
		{`{"stages":[{"refId":"1","type":"wait"},{"type":"wait"}]}`, "stages[1].refId", "no refId"},
	} {
		_, err := pipeline.NewExecution(mustParse(t, tc.cfg), "e", nil, 1, ids())
		var be *bakehouse.Error
		if !errorsAs(err, &be) || be.Field != tc.field || !strings.Contains(be.Message, tc.msg) {
			t.Errorf("%s: err %v, want field %s and %q", tc.cfg, err, tc.field, tc.msg)
		}
	}
}

func errorsAs(err error, be **bakehouse.Error) bool { return errors.As(err, be) }

// A stage starts as soon as its parents passed; a halted parent stops its
// branch only; a synthetic child starts when its parent runs.
func TestReady(t *testing.T) {
	e, err := pipeline.NewExecution(mustParse(t, `{"stages":[
		{"refId":"1","type":"wait"},
		{"refId":"2","type":"wait"},
		{"refId":"3","type":"wait","requisiteStageRefIds":["1"]},
		{"refId":"4","type":"wait","requisiteStageRefIds":["1","2"]}]}`), "e", nil, 1, ids())
	if err != nil {
		t.Fatal(err)
	}
	refs := func() string {
		var r []string
		for _, s := range e.Ready() {
			r = append(r, s.RefID)
		}
		return strings.Join(r, ",")
	}
	if got := refs(); got != "1,2" {
		t.Fatalf("ready = %s, want 1,2", got)
	}
	e.Stages[0].Status = pipeline.Succeeded
	e.Stages[1].Status = pipeline.Running
	if got := refs(); got != "3" {
		t.Fatalf("ready = %s, want 3 (4 waits for 2)", got)
	}
	e.Stages[1].Status = pipeline.Terminal
	e.Stages[2].Status = pipeline.Succeeded
	if got := refs(); got != "" {
		t.Fatalf("ready = %s, want nothing (4's parent halted)", got)
	}
	parent := e.Stages[1]
	child := &pipeline.Stage{ID: "c", RefID: "2<1", Status: pipeline.NotStarted, ParentStageID: &parent.ID}
	e.Stages = append(e.Stages, child)
	if got := refs(); got != "" {
		t.Fatalf("ready = %s, want nothing (parent not running)", got)
	}
	parent.Status = pipeline.Running
	if got := refs(); got != "2<1" {
		t.Fatalf("ready = %s, want 2<1", got)
	}
	if c := e.Children(parent); len(c) != 1 || c[0] != child {
		t.Fatalf("children = %v", c)
	}
}
