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

// TestRescueLeavesOtherNodesBakes: a bake that another node claimed is
// that node's to rescue (or, once it is dead, EndDeadNodesBakes'). A node
// that stalled after it took a job, whose job was given to a live node
// meanwhile, marks the job completed when it resumes and finds the bake
// claimed: the live node's bake must not then be ended as stuck by a
// third node. A bake that no node claimed, whose job ended, still is.
func TestRescueLeavesOtherNodesBakes(t *testing.T) {
	ctx := context.Background()
	b := newEnv(t, onStore("postgres"), withIdleQueue(), withInstance("node-b"))
	pool, err := pgxpool.New(ctx, b.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if err := b.store.(bakehouse.NodeStore).Heartbeat(ctx, bakehouse.Node{ID: "node-live"}); err != nil {
		t.Fatal(err)
	}
	claimed := bakeOn(t, b, `{"package": "claimed", "base_os": "ubuntu"}`)
	unclaimed := bakeOn(t, b, `{"package": "unclaimed", "base_os": "ubuntu"}`)
	mustClaim(t, b, claimed, "node-live")
	for _, id := range []string{claimed, unclaimed} {
		rec, err := b.svc.Record(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pool.Exec(ctx, `UPDATE river_job SET state = 'completed', attempt = 1, attempted_at = now(), finalized_at = now(),
			attempted_by = '{node-stalled}' WHERE id = $1`, rec.JobID); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := b.svc.Rescue(ctx); err != nil || n != 1 {
		t.Fatalf("Rescue = %d, %v; want 1 (the unclaimed bake)", n, err)
	}
	if st := b.status(claimed); st.State != bakehouse.StateRunning {
		t.Fatalf("node b ended bake %s (%s), which live node-live runs", claimed, st.State)
	}
	if st := b.status(unclaimed); st.State != bakehouse.StateCanceled {
		t.Fatalf("unclaimed bake whose job ended is %s, want CANCELED", st.State)
	}
}

// TestStopLostBakes: a node stops its runs of the bakes that the store no
// longer has as its own RUNNING bakes (another node ended them, taking
// this node for dead), with the stored reason as the cause, and leaves
// its other runs alone; the run's end does not overwrite the bake.
func TestStopLostBakes(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, withQueue(bakequeue.Config{Concurrency: 2}), withInstance("node-a"))
	e.packer.set(func(p *fakePacker) { p.block = true })
	lost := bakeOn(t, e, `{"package": "lost", "base_os": "ubuntu"}`)
	kept := bakeOn(t, e, `{"package": "kept", "base_os": "ubuntu"}`)
	// Both run at once, in either order.
	for pending := map[string]bool{lost: true, kept: true}; len(pending) > 0; {
		select {
		case id := <-e.packer.started:
			delete(pending, id)
		case <-time.After(20 * time.Second):
			t.Fatalf("Packer never started for %v", pending)
		}
	}
	if n, err := e.svc.StopLostBakes(ctx); err != nil || n != 0 {
		t.Fatalf("StopLostBakes = %d, %v; want 0 while both bakes are this node's", n, err)
	}
	why := "node node-a, which ran this bake, stopped answering: last seen 2026-11-30T18:00:00Z, 11s before node node-b ended the bake"
	if ok, err := e.store.Finish(ctx, bakehouse.FinishBakeParams{ID: lost, State: bakehouse.StateCanceled, Result: bakehouse.ResultFailure, Error: why}); err != nil || !ok {
		t.Fatalf("Finish = %v, %v", ok, err)
	}
	if n, err := e.svc.StopLostBakes(ctx); err != nil || n != 1 {
		t.Fatalf("StopLostBakes = %d, %v; want 1", n, err)
	}
	if cause := waitCause(t, e, lost, 5*time.Second); cause == nil || cause.Error() != why {
		t.Fatalf("the lost bake's run was stopped with %v, want %q", cause, why)
	}
	deadline := time.Now().Add(10 * time.Second)
	for e.svc.Busy(lost) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	rec, err := e.svc.Record(ctx, lost)
	if err != nil {
		t.Fatal(err)
	}
	if rec.State != bakehouse.StateCanceled || rec.Error != why {
		t.Fatalf("lost bake after its run ended: %s %q, want CANCELED %q", rec.State, rec.Error, why)
	}
	if e.packer.cause(kept) != nil || e.status(kept).State != bakehouse.StateRunning {
		t.Fatalf("the kept bake's run was stopped (%v)", e.packer.cause(kept))
	}
}
