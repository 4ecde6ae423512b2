package runner_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/bakehouse/bakehouse"
	"github.com/bakehouse/bakehouse/pipeline"
	"github.com/bakehouse/bakehouse/runner"
	"github.com/bakehouse/bakehouse/sqlite"
)

func openStore(t *testing.T, path string) pipeline.Store {
	t.Helper()
	db, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return sqlite.NewPipelineStore(db)
}

func newRunner(t *testing.T, store pipeline.Store, tasks *runner.Tasks) *runner.Runner {
	t.Helper()
	if tasks == nil {
		tasks = &runner.Tasks{}
	}
	tasks.Poll = 20 * time.Millisecond
	r := runner.New(runner.Config{Store: store, Tasks: tasks})
	t.Cleanup(r.Stop)
	if _, err := r.Resume(context.Background()); err != nil {
		t.Fatal(err)
	}
	return r
}

func save(t *testing.T, r *runner.Runner, js string) *pipeline.Config {
	t.Helper()
	c, err := pipeline.ParseConfig([]byte(js))
	if err != nil {
		t.Fatal(err)
	}
	c, err = r.SavePipeline(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// waitFor polls the stored execution until it is complete.
func waitFor(t *testing.T, r *runner.Runner, id string, want pipeline.Status) *pipeline.Execution {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		e, err := r.Execution(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if e.Status == want {
			return e
		}
		if e.Status.Complete() || time.Now().After(deadline) {
			t.Fatalf("execution %s is %s, want %s; stages: %s", id, e.Status, want, stages(e))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func stages(e *pipeline.Execution) string {
	out := ""
	for _, s := range e.Stages {
		out += s.RefID + "=" + string(s.Status) + " "
	}
	return out
}

func stage(e *pipeline.Execution, ref string) *pipeline.Stage {
	for _, s := range e.Stages {
		if s.RefID == ref {
			return s
		}
	}
	return nil
}

func TestRunDAGAndSkip(t *testing.T) {
	r := newRunner(t, openStore(t, filepath.Join(t.TempDir(), "db")), nil)
	save(t, r, `{"application":"app","name":"p","stages":[
		{"refId":"1","type":"wait","name":"Wait A","waitTime":0},
		{"refId":"2","type":"wait","name":"Wait B","waitTime":0},
		{"refId":"3","type":"deploy","name":"Deploy","requisiteStageRefIds":["1","2"],"clusters":[]},
		{"refId":"4","type":"wait","name":"After","waitTime":0,"requisiteStageRefIds":["3"]}]}`)
	e, err := r.Start(context.Background(), "app", "p", nil)
	if err != nil {
		t.Fatal(err)
	}
	e = waitFor(t, r, e.ID, pipeline.Succeeded)
	d := stage(e, "3")
	if d.Status != pipeline.Skipped || d.Context["skipReason"] != "stage type deploy is not run by Bakehouse" {
		t.Fatalf("deploy stage = %s %v", d.Status, d.Context)
	}
	a, after := stage(e, "1"), stage(e, "4")
	if a.Status != pipeline.Succeeded || after.Status != pipeline.Succeeded || *after.StartTime < *a.EndTime {
		t.Fatalf("stages = %s", stages(e))
	}
	if a.Tasks[0].Name != "wait" || a.Tasks[0].Status != pipeline.Succeeded || e.StartTime == nil || e.EndTime == nil {
		t.Fatalf("task/times not recorded: %+v %+v", a.Tasks[0], e)
	}
	if e.Trigger["type"] != "manual" {
		t.Fatalf("trigger = %v", e.Trigger)
	}
}

func TestFailureStopsDownstream(t *testing.T) {
	r := newRunner(t, openStore(t, filepath.Join(t.TempDir(), "db")), nil)
	save(t, r, `{"application":"app","name":"p","stages":[
		{"refId":"1","type":"wait","name":"Bad","waitTime":"soon"},
		{"refId":"2","type":"wait","name":"Next","waitTime":0,"requisiteStageRefIds":["1"]}]}`)
	e, _ := r.Start(context.Background(), "app", "p", nil)
	e = waitFor(t, r, e.ID, pipeline.Terminal)
	bad := stage(e, "1")
	ex, _ := bad.Context["exception"].(map[string]any)
	if bad.Status != pipeline.Terminal || ex == nil {
		t.Fatalf("failed stage = %s %v", bad.Status, bad.Context)
	}
	if st := stage(e, "2").Status; st != pipeline.NotStarted {
		t.Fatalf("downstream of a failed stage is %s, want NOT_STARTED", st)
	}
}

func TestCancel(t *testing.T) {
	r := newRunner(t, openStore(t, filepath.Join(t.TempDir(), "db")), nil)
	save(t, r, `{"application":"app","name":"p","stages":[{"refId":"1","type":"wait","waitTime":600}]}`)
	e, _ := r.Start(context.Background(), "app", "p", nil)
	waitFor(t, r, e.ID, pipeline.Running)
	if err := r.Cancel(context.Background(), e.ID, "anna", "changed my mind"); err != nil {
		t.Fatal(err)
	}
	e = waitFor(t, r, e.ID, pipeline.Canceled)
	if !e.Canceled || e.CanceledBy != "anna" || e.CancelReason != "changed my mind" || e.Stages[0].Status != pipeline.Canceled {
		t.Fatalf("canceled execution = %+v, stages %s", e, stages(e))
	}
	if err := r.Cancel(context.Background(), e.ID, "anna", ""); bakehouse.ErrorCode(err) != bakehouse.ECONFLICT {
		t.Fatalf("second cancel: %v, want ECONFLICT", err)
	}
}

// A runner that stops mid-run (as a killed server does) leaves the
// execution RUNNING in the store; the next one resumes it.
func TestResume(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	db, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	store := sqlite.NewPipelineStore(db)
	r1 := runner.New(runner.Config{Store: store, Tasks: &runner.Tasks{Poll: 20 * time.Millisecond}})
	save(t, r1, `{"application":"app","name":"p","stages":[
		{"refId":"1","type":"wait","waitTime":1},
		{"refId":"2","type":"wait","waitTime":0,"requisiteStageRefIds":["1"]}]}`)
	e, err := r1.Start(context.Background(), "app", "p", nil)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, r1, e.ID, pipeline.Running)
	r1.Stop()
	got, _ := store.Execution(context.Background(), e.ID)
	if got.Status != pipeline.Running || stage(got, "2").Status != pipeline.NotStarted {
		t.Fatalf("after stop: %s %s", got.Status, stages(got))
	}
	db.Close() // the server is gone: the next one opens the database
	r2 := newRunner(t, openStore(t, path), nil)
	got = waitFor(t, r2, e.ID, pipeline.Succeeded)
	if st := stage(got, "2"); st.Status != pipeline.Succeeded || st.StartTime == nil {
		t.Fatalf("resumed run: %s", stages(got))
	}
}
