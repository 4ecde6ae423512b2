package storetest

import (
	"context"
	"errors"
	"testing"

	"github.com/bakehouse/bakehouse"
	"github.com/bakehouse/bakehouse/pipeline"
)

// ExercisePipelines runs the pipeline store contract against the stores
// open returns (a fresh, empty store per call).
func ExercisePipelines(t *testing.T, open func(*testing.T) pipeline.Store) {
	t.Run("SaveConfigKeepsUnknownFieldsAndUpdates", func(t *testing.T) { testSaveConfig(t, open(t)) })
	t.Run("Executions", func(t *testing.T) { testExecutions(t, open(t)) })
	t.Run("Cursor", func(t *testing.T) { testCursor(t, open(t)) })
	t.Run("OneRunPerFiredBuild", func(t *testing.T) { testFiredBuild(t, open(t)) })
	t.Run("SavesFencedByDriver", func(t *testing.T) { testDriver(t, open(t)) })
	t.Run("CancelRequestKept", func(t *testing.T) { testRequestCancel(t, open(t)) })
}

func mustConfig(t *testing.T, js string) *pipeline.Config {
	t.Helper()
	c, err := pipeline.ParseConfig([]byte(js))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func testSaveConfig(t *testing.T, s pipeline.Store) {
	ctx := context.Background()
	got, err := s.SaveConfig(ctx, mustConfig(t, `{"application":"app","name":"p","stages":[],"notifications":[{"type":"email"}],"updateTs":"123"}`), "id-1")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID() != "id-1" {
		t.Fatalf("new config id = %q, want id-1", got.ID())
	}
	// Same application and name without an id: an update of id-1.
	if got, err = s.SaveConfig(ctx, mustConfig(t, `{"application":"app","name":"p","stages":[{"type":"wait"}],"keep":{"a":[1,2.5]}}`), "id-2"); err != nil {
		t.Fatal(err)
	}
	if got.ID() != "id-1" {
		t.Fatalf("update by name got id %q, want id-1", got.ID())
	}
	// By id, renamed.
	if _, err = s.SaveConfig(ctx, mustConfig(t, `{"id":"id-1","application":"app","name":"renamed","stages":[],"keep":{"a":[1,2.5]}}`), "id-3"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ConfigByName(ctx, "app", "p"); bakehouse.ErrorCode(err) != bakehouse.ENOTFOUND {
		t.Fatalf("old name after rename: err %v, want ENOTFOUND", err)
	}
	c, err := s.ConfigByName(ctx, "app", "renamed")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := c.MarshalJSON()
	if want := `{"application":"app","id":"id-1","keep":{"a":[1,2.5]},"name":"renamed","stages":[]}`; string(b) != want {
		t.Fatalf("stored config = %s, want %s", b, want)
	}
	if _, err := s.SaveConfig(ctx, mustConfig(t, `{"application":"app","name":"other"}`), "id-4"); err != nil {
		t.Fatal(err)
	}
	// Renaming id-4 onto id-1's name is a conflict, not a silent merge.
	if _, err := s.SaveConfig(ctx, mustConfig(t, `{"id":"id-4","application":"app","name":"renamed"}`), "x"); bakehouse.ErrorCode(err) != bakehouse.ECONFLICT {
		t.Fatalf("rename onto an existing name: err %v, want ECONFLICT", err)
	}
	if _, err := s.SaveConfig(ctx, mustConfig(t, `{"application":"other-app","name":"renamed"}`), "id-5"); err != nil {
		t.Fatal(err)
	}
	all, err := s.Configs(ctx, "app")
	if err != nil || len(all) != 2 || all[0].Name() != "other" || all[1].Name() != "renamed" {
		t.Fatalf("Configs(app) = %v, %v; want other, renamed", all, err)
	}
	if all, _ = s.Configs(ctx, ""); len(all) != 3 {
		t.Fatalf("Configs(\"\") has %d configs, want 3", len(all))
	}
	if c, err := s.ConfigByID(ctx, "id-5"); err != nil || c.Application() != "other-app" {
		t.Fatalf("ConfigByID = %v, %v", c, err)
	}
	if err := s.DeleteConfig(ctx, "app", "renamed"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteConfig(ctx, "app", "renamed"); bakehouse.ErrorCode(err) != bakehouse.ENOTFOUND {
		t.Fatalf("second delete: err %v, want ENOTFOUND", err)
	}
}

func testExecutions(t *testing.T, s pipeline.Store) {
	ctx := context.Background()
	mk := func(id, app, cfg string, st pipeline.Status, at int64) *pipeline.Execution {
		return &pipeline.Execution{Type: "PIPELINE", ID: id, Application: app, PipelineConfigID: cfg, Status: st, BuildTime: at,
			Trigger: map[string]any{"type": "manual"}, Stages: []*pipeline.Stage{{ID: id + "-s", RefID: "1", Type: "bake", Status: pipeline.NotStarted, Context: map[string]any{"package": "p"}}}}
	}
	for _, e := range []*pipeline.Execution{
		mk("e1", "app", "c1", pipeline.Succeeded, 100),
		mk("e2", "app", "c1", pipeline.Running, 200),
		mk("e3", "app", "c2", pipeline.Terminal, 300),
		mk("e4", "other", "c3", pipeline.Running, 400),
	} {
		if err := s.CreateExecution(ctx, e, "d-"+e.ID, nil); err != nil {
			t.Fatal(err)
		}
	}
	ids := func(f pipeline.ExecutionFilter) string {
		t.Helper()
		es, err := s.Executions(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		out := ""
		for _, e := range es {
			out += e.ID + " "
		}
		return out
	}
	for _, tc := range []struct {
		f    pipeline.ExecutionFilter
		want string
	}{
		{pipeline.ExecutionFilter{}, "e4 e3 e2 e1 "},
		{pipeline.ExecutionFilter{Application: "app"}, "e3 e2 e1 "},
		{pipeline.ExecutionFilter{PipelineConfigIDs: []string{"c1"}}, "e2 e1 "},
		{pipeline.ExecutionFilter{Statuses: []pipeline.Status{pipeline.Running}}, "e4 e2 "},
		{pipeline.ExecutionFilter{IDs: []string{"e1", "e3"}, Limit: 1}, "e3 "},
	} {
		if got := ids(tc.f); got != tc.want {
			t.Errorf("Executions(%+v) = %q, want %q", tc.f, got, tc.want)
		}
	}
	e, err := s.Execution(ctx, "e2")
	if err != nil {
		t.Fatal(err)
	}
	e.Status = pipeline.Succeeded
	e.Stages[0].Outputs = map[string]any{"deploymentDetails": []any{map[string]any{"ami": "x"}}}
	if _, err := s.SaveExecution(ctx, e, "d-e2"); err != nil {
		t.Fatal(err)
	}
	if got := ids(pipeline.ExecutionFilter{Statuses: []pipeline.Status{pipeline.Running}}); got != "e4 " {
		t.Fatalf("running after save = %q, want e4", got)
	}
	back, err := s.Execution(ctx, "e2")
	if err != nil || back.Stages[0].Outputs["deploymentDetails"] == nil || back.Status != pipeline.Succeeded {
		t.Fatalf("saved execution read back as %+v, %v", back, err)
	}
	if _, err := s.Execution(ctx, "nope"); bakehouse.ErrorCode(err) != bakehouse.ENOTFOUND {
		t.Fatalf("absent execution: err %v, want ENOTFOUND", err)
	}
	if _, err := s.SaveExecution(ctx, mk("nope", "a", "c", pipeline.Running, 1), "d-nope"); bakehouse.ErrorCode(err) != bakehouse.ENOTFOUND {
		t.Fatalf("save of an absent execution: err %v, want ENOTFOUND", err)
	}
}

func testCursor(t *testing.T, s pipeline.Store) {
	ctx := context.Background()
	if _, ok, err := s.Cursor(ctx, "m", "folder/job/j"); ok || err != nil {
		t.Fatalf("first cursor: ok %v err %v, want none", ok, err)
	}
	for _, n := range []int{5, 7} {
		if err := s.SetCursor(ctx, "m", "folder/job/j", n); err != nil {
			t.Fatal(err)
		}
	}
	if n, ok, err := s.Cursor(ctx, "m", "folder/job/j"); n != 7 || !ok || err != nil {
		t.Fatalf("cursor = %d %v %v, want 7", n, ok, err)
	}
	if _, ok, _ := s.Cursor(ctx, "other", "folder/job/j"); ok {
		t.Fatal("cursor leaked across masters")
	}
}

func newExecution(id, cfg string) *pipeline.Execution {
	return &pipeline.Execution{Type: "PIPELINE", ID: id, Application: "app", PipelineConfigID: cfg, Status: pipeline.Running, BuildTime: 1,
		Trigger: map[string]any{"type": "jenkins"}, Stages: []*pipeline.Stage{{ID: id + "-s", RefID: "1", Type: "wait", Status: pipeline.Running, Context: map[string]any{}}}}
}

// testFiredBuild: a build starts one run of a pipeline, however many
// times it is fired (a node that died before it stored the job's cursor);
// another pipeline, or another build, starts its own.
func testFiredBuild(t *testing.T, s pipeline.Store) {
	ctx := context.Background()
	b7 := &pipeline.FiredBuild{Master: "m", Job: "folder/job/j", Number: 7}
	if err := s.CreateExecution(ctx, newExecution("r1", "c1"), "d1", b7); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateExecution(ctx, newExecution("r2", "c1"), "d2", b7); !errors.Is(err, pipeline.ErrBuildFired) {
		t.Fatalf("second run of build 7: err %v, want ErrBuildFired", err)
	}
	if _, err := s.Execution(ctx, "r2"); bakehouse.ErrorCode(err) != bakehouse.ENOTFOUND {
		t.Fatalf("the refused run was stored: %v", err)
	}
	for _, tc := range []struct {
		id, cfg string
		b       *pipeline.FiredBuild
	}{
		{"r3", "c2", b7},
		{"r4", "c1", &pipeline.FiredBuild{Master: "m", Job: "folder/job/j", Number: 8}},
		{"r5", "c1", nil},
		{"r6", "c1", nil},
	} {
		if err := s.CreateExecution(ctx, newExecution(tc.id, tc.cfg), "d", tc.b); err != nil {
			t.Fatalf("run %s: %v", tc.id, err)
		}
	}
}

// testDriver: once another driver took the run, the previous one's
// saves write nothing and say so.
func testDriver(t *testing.T, s pipeline.Store) {
	ctx := context.Background()
	e := newExecution("r1", "c1")
	if err := s.CreateExecution(ctx, e, "node-a", nil); err != nil {
		t.Fatal(err)
	}
	e.Stages[0].Context["by"] = "a"
	if _, err := s.SaveExecution(ctx, e, "node-a"); err != nil {
		t.Fatal(err)
	}
	taken, err := s.TakeExecution(ctx, "r1", "node-b")
	if err != nil || taken.Stages[0].Context["by"] != "a" {
		t.Fatalf("take: %+v, %v", taken, err)
	}
	e.Stages[0].Context["by"] = "a again"
	if _, err := s.SaveExecution(ctx, e, "node-a"); !errors.Is(err, pipeline.ErrNotDriver) {
		t.Fatalf("save by the node that lost the run: err %v, want ErrNotDriver", err)
	}
	taken.Stages[0].Context["by"] = "b"
	if _, err := s.SaveExecution(ctx, taken, "node-b"); err != nil {
		t.Fatal(err)
	}
	if back, _ := s.Execution(ctx, "r1"); back.Stages[0].Context["by"] != "b" {
		t.Fatalf("stored: %v, want node b's save", back.Stages[0].Context["by"])
	}
	if _, err := s.TakeExecution(ctx, "nope", "node-b"); bakehouse.ErrorCode(err) != bakehouse.ENOTFOUND {
		t.Fatalf("take of an absent execution: %v", err)
	}
}

// testRequestCancel: a cancel request is kept on the run (the first
// one), shown on it, told to its driver's saves and to the next driver;
// a run that ended is not canceled.
func testRequestCancel(t *testing.T, s pipeline.Store) {
	ctx := context.Background()
	e := newExecution("r1", "c1")
	if err := s.CreateExecution(ctx, e, "node-a", nil); err != nil {
		t.Fatal(err)
	}
	if c, err := s.SaveExecution(ctx, e, "node-a"); c != nil || err != nil {
		t.Fatalf("save before any cancel: %+v %v", c, err)
	}
	for _, r := range []string{"first", "second"} {
		if err := s.RequestCancel(ctx, "r1", pipeline.CancelRequest{User: "anna", Reason: r}); err != nil {
			t.Fatal(err)
		}
	}
	if c, err := s.SaveExecution(ctx, e, "node-a"); err != nil || c == nil || c.User != "anna" || c.Reason != "first" {
		t.Fatalf("save after the cancel: %+v %v", c, err)
	}
	for _, read := range []func() (*pipeline.Execution, error){
		func() (*pipeline.Execution, error) { return s.Execution(ctx, "r1") },
		func() (*pipeline.Execution, error) { return s.TakeExecution(ctx, "r1", "node-b") },
		func() (*pipeline.Execution, error) {
			es, err := s.Executions(ctx, pipeline.ExecutionFilter{IDs: []string{"r1"}})
			if err != nil || len(es) != 1 {
				return nil, err
			}
			return es[0], nil
		},
	} {
		got, err := read()
		if err != nil || got == nil || !got.Canceled || got.CanceledBy != "anna" || got.CancelReason != "first" || got.Status != pipeline.Running {
			t.Fatalf("read after the cancel: %+v, %v", got, err)
		}
	}
	e.Status = pipeline.Succeeded
	if _, err := s.SaveExecution(ctx, e, "node-b"); err != nil {
		t.Fatal(err)
	}
	if err := s.RequestCancel(ctx, "r1", pipeline.CancelRequest{User: "bob"}); bakehouse.ErrorCode(err) != bakehouse.ECONFLICT {
		t.Fatalf("cancel of an ended run: %v, want ECONFLICT", err)
	}
	if got, _ := s.Execution(ctx, "r1"); got.Canceled {
		t.Fatal("a run that ended SUCCEEDED after a cancel request reads canceled")
	}
	if err := s.RequestCancel(ctx, "nope", pipeline.CancelRequest{}); bakehouse.ErrorCode(err) != bakehouse.ENOTFOUND {
		t.Fatalf("cancel of an absent run: %v, want ENOTFOUND", err)
	}
}
