package http_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/bakehouse/bakehouse"
	"github.com/bakehouse/bakehouse/bakequeue"
	"github.com/jackc/pgx/v5/pgxpool"
)

// TestRequeueJobOfDeadNode: a node that took a bake's job from the queue
// and died before it claimed the bake leaves, in the real tables, the job
// running and attempted by it, and the bake queued with no node. A live
// node's dead-node check gives the job back, and a live node's worker runs
// the bake to the end, instead of leaving it queued until River's own
// rescue after the bake timeout. Left alone: a job a live node took, a job
// the dead node took less than NodeTimeout ago, and the node's stale
// claim once another node claimed the bake.
func TestRequeueJobOfDeadNode(t *testing.T) {
	ctx := context.Background()
	b := newEnv(t, onStore("postgres"), withIdleQueue(), withInstance("node-b"))
	pool, err := pgxpool.New(ctx, b.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := pool.Exec(ctx, sql, args...); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	// node-dead's last heartbeat is 15 s old by the database's clock;
	// node-live beats now. Node b's own clock is an hour off: the
	// database's clock judges.
	exec(`INSERT INTO nodes (id, started_at, seen_at) VALUES
		('node-dead', (extract(epoch FROM now()) * 1000)::bigint - 60000, (extract(epoch FROM now()) * 1000)::bigint - 15000),
		('node-live', (extract(epoch FROM now()) * 1000)::bigint, (extract(epoch FROM now()) * 1000)::bigint)`)
	b.svc.Now = func() time.Time { return time.Now().Add(-time.Hour) }

	ids := map[string]string{}
	for _, pkg := range []string{"abandoned", "on-live", "recent"} {
		ids[pkg] = bakeOn(t, b, `{"package": "`+pkg+`", "base_os": "ubuntu"}`)
	}
	// What a worker's fetch leaves (River's JobGetAvailable), before
	// ClaimBake: the job running, attempted by the node.
	take := func(pkg, node, ago string) {
		t.Helper()
		rec, err := b.svc.Record(ctx, ids[pkg])
		if err != nil {
			t.Fatal(err)
		}
		exec(`UPDATE river_job SET state = 'running', attempt = attempt + 1, attempted_at = now() - $2::interval,
			attempted_by = array_append(attempted_by, $3::text) WHERE id = $1`, rec.JobID, ago, node)
	}
	take("abandoned", "node-dead", "20 seconds")
	take("on-live", "node-live", "20 seconds")
	take("recent", "node-dead", "1 second")

	if n, err := b.svc.EndDeadNodesBakes(ctx); err != nil || n != 0 {
		t.Fatalf("EndDeadNodesBakes = %d, %v; want 0 ended (the abandoned bake never started: it is queued again)", n, err)
	}
	jobState := func(pkg string) string {
		t.Helper()
		var state string
		if err := pool.QueryRow(ctx, `SELECT j.state FROM river_job j JOIN bakes b ON b.job_id = j.id WHERE b.id = $1`, ids[pkg]).Scan(&state); err != nil {
			t.Fatal(err)
		}
		return state
	}
	for pkg, want := range map[string]string{"abandoned": "available", "on-live": "running", "recent": "running"} {
		if got := jobState(pkg); got != want {
			t.Errorf("job of bake %s (%s) is %s, want %s", pkg, ids[pkg], got, want)
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	// A live node's worker runs it.
	a := newEnv(t, onDatabase(b.dbURL), withQueue(bakequeue.Config{Concurrency: 1}), withInstance("node-a"))
	id := ids["abandoned"]
	deadline := time.Now().Add(20 * time.Second)
	for a.status(id).State == bakehouse.StateRunning {
		if time.Now().After(deadline) {
			t.Fatalf("bake %s did not end within 20s of its job's requeue (job %s)", id, jobState("abandoned"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	rec, err := a.svc.Record(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if rec.State != bakehouse.StateCompleted || rec.Result == nil || *rec.Result != bakehouse.ResultSuccess || rec.Node != "node-a" {
		t.Fatalf("requeued bake: %s/%v on node %q (%s); want COMPLETED/SUCCESS on node-a", rec.State, rec.Result, rec.Node, rec.Error)
	}
	log, err := a.svc.Logs().Read(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if want := "Node node-dead took this bake from the queue and stopped answering before it started it; node node-b put it back in the queue"; !strings.Contains(log, want) {
		t.Fatalf("log of the requeued bake does not say %q:\n%s", want, log)
	}
	// node-dead, had it only stalled, cannot claim the bake now.
	if ok, err := b.store.ClaimBake(ctx, id, "node-dead"); err != nil || ok {
		t.Fatalf("stale ClaimBake by node-dead = %v, %v; want false", ok, err)
	}
	for _, pkg := range []string{"on-live", "recent"} {
		if st := a.status(ids[pkg]); st.State != bakehouse.StateRunning {
			t.Errorf("bake %s is %s; its job is a live node's, or was taken a moment ago", pkg, st.State)
		}
	}
}
