package runner_test

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bakehouse/bakehouse/pipeline"
	"github.com/bakehouse/bakehouse/runner"
)

// syncBuffer is a log both a runner's goroutines and the test use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// node is a runner on a shared store, as one Bakehouse node: locks, when
// given, are shared with the other nodes (PostgreSQL's), else its own.
func node(t *testing.T, store pipeline.Store, locks runner.Locks, tasks *runner.Tasks) (*runner.Runner, *syncBuffer) {
	t.Helper()
	if tasks == nil {
		tasks = &runner.Tasks{}
	}
	tasks.Poll = 20 * time.Millisecond
	log := &syncBuffer{}
	r := runner.New(runner.Config{Store: store, Tasks: tasks, Locks: locks, Log: slog.New(slog.NewTextHandler(log, nil))})
	t.Cleanup(r.Stop)
	return r, log
}

const longWait = `{"application":"app","name":"long",
	"stages":[{"refId":"1","type":"wait","name":"Long wait","waitTime":600},
	{"refId":"2","type":"wait","name":"After","waitTime":0,"requisiteStageRefIds":["1"]}]}`

// TestJenkinsBuildStartsOneRunAcrossNodes: node A started the run of
// build 5 and died before it stored the job's cursor; node B, polling
// next, fires build 5 again: it starts nothing and says so.
func TestJenkinsBuildStartsOneRunAcrossNodes(t *testing.T) {
	store := openStore(t, filepath.Join(t.TempDir(), "db"))
	a, _ := node(t, store, nil, &runner.Tasks{CI: &fakeCI{}})
	b, logB := node(t, store, nil, &runner.Tasks{CI: &fakeCI{}})
	save(t, a, strings.Replace(longWait, `"stages"`, `"triggers":[{"type":"jenkins","enabled":true,"master":"ci","job":"folder/job/app"}],"stages"`, 1))
	ctx := context.Background()
	if es, err := a.JenkinsBuild(ctx, "ci", "folder/job/app", 5); err != nil || len(es) != 1 {
		t.Fatalf("node a: %v, %v", es, err)
	}
	es, err := b.JenkinsBuild(ctx, "ci", "folder/job/app", 5)
	if err != nil || len(es) != 0 {
		t.Fatalf("node b fired build 5 again: %v, %v", es, err)
	}
	if !strings.Contains(logB.String(), "jenkins build already started a run of this pipeline; nothing started") {
		t.Fatalf("node b's log does not say why nothing started:\n%s", logB)
	}
	all, err := b.Executions(ctx, pipeline.ExecutionFilter{})
	if err != nil || len(all) != 1 {
		t.Fatalf("runs: %d, %v; want 1", len(all), err)
	}
	// Another build starts its run.
	if es, err := b.JenkinsBuild(ctx, "ci", "folder/job/app", 4); err != nil || len(es) != 1 {
		t.Fatalf("build 4: %v, %v", es, err)
	}
}

// TestSavesFencedAfterTakeover: node A drives a run when its lock goes
// without A noticing yet (each node here has locks of its own, as two
// PostgreSQL nodes have for the 2 s before A's lock ping fails); node B
// takes the run over. A's next save fails: A stops driving the run and
// never overwrites what B writes.
func TestSavesFencedAfterTakeover(t *testing.T) {
	store := openStore(t, filepath.Join(t.TempDir(), "db"))
	a, logA := node(t, store, nil, nil)
	save(t, a, longWait)
	ctx := context.Background()
	e, err := a.Start(ctx, "app", "long", nil)
	if err != nil {
		t.Fatal(err)
	}
	waitStage(t, a, e.ID, "1", pipeline.Running)
	b, _ := node(t, store, nil, nil)
	if n, err := b.Resume(ctx); n != 1 || err != nil {
		t.Fatalf("node b resumed %d runs, %v; want 1", n, err)
	}
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(logA.String(), "another node took over an execution this node drove"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("node a did not stop driving the run:\n%s", logA)
		}
	}
	if err := b.Cancel(ctx, e.ID, "anna", "taken over"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, b, e.ID, pipeline.Canceled)
	time.Sleep(200 * time.Millisecond) // ten of node a's polls, were it still driving
	got, err := b.Execution(ctx, e.ID)
	if err != nil || got.Status != pipeline.Canceled || got.CancelReason != "taken over" {
		t.Fatalf("after node b canceled the run: %s %q, %v", got.Status, got.CancelReason, err)
	}
}

// TestCancelKeptWhileDriverDies: node A drives a run and dies; a cancel
// sent to node B meanwhile (A holds the run's lock still, and cannot be
// reached) is answered at once, and B applies it as soon as it takes the
// run over.
func TestCancelKeptWhileDriverDies(t *testing.T) {
	store := openStore(t, filepath.Join(t.TempDir(), "db"))
	locks := &runner.LocalLocks{}
	a, _ := node(t, store, locks, nil)
	save(t, a, longWait)
	ctx := context.Background()
	e, err := a.Start(ctx, "app", "long", nil)
	if err != nil {
		t.Fatal(err)
	}
	waitStage(t, a, e.ID, "1", pipeline.Running)
	a.Stop() // node a is dying: it drives nothing, its lock is not gone yet
	b, _ := node(t, store, locks, nil)
	start := time.Now()
	if err := b.Cancel(ctx, e.ID, "anna", "while a died"); err != nil {
		t.Fatalf("cancel on node b: %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("cancel took %s", d)
	}
	if got, _ := b.Execution(ctx, e.ID); !got.Canceled || got.CanceledBy != "anna" || got.Status != pipeline.Running {
		t.Fatalf("run after the cancel request: %s canceled=%v by %q", got.Status, got.Canceled, got.CanceledBy)
	}
	locks.Unlock(ctx, "execution:"+e.ID) // node a's database session ends
	if _, err := b.Resume(ctx); err != nil {
		t.Fatal(err)
	}
	got := waitFor(t, b, e.ID, pipeline.Canceled)
	if got.CancelReason != "while a died" || got.CanceledBy != "anna" || stage(got, "2").Status != pipeline.NotStarted {
		t.Fatalf("canceled run: reason %q by %q, stages %s", got.CancelReason, got.CanceledBy, stages(got))
	}
}

// waitStage polls until stage ref of execution id is in st.
func waitStage(t *testing.T, r *runner.Runner, id, ref string, st pipeline.Status) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		e, err := r.Execution(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if s := stage(e, ref); s != nil && s.Status == st {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("stage %s of %s: %s", ref, id, stages(e))
		}
	}
}
