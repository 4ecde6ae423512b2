package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/bakehouse/bakehouse"
	"github.com/bakehouse/bakehouse/postgres"
	"github.com/jackc/pgx/v5"
)

// TestQueueRunsAndCancelsBakes: CreateBake's job runs the bake on the
// queue's worker; Cancel cancels the running bake's context; JobAlive
// follows the job; a CreateBake that writes no bake leaves no job.
func TestQueueRunsAndCancelsBakes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := migratedURL(t)
	db := openAt(t, url)
	started := make(chan string, 4)
	ended := make(chan error, 4)
	q, err := postgres.NewQueue(ctx, db, func(ctx context.Context, id string) error {
		started <- id
		<-ctx.Done()
		ended <- ctx.Err()
		return ctx.Err()
	}, postgres.QueueConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Stop(context.Background()) })
	s := postgres.NewBakeStore(db, q)

	res, err := s.CreateBake(ctx, bakehouse.CreateBakeParams{Record: &bakehouse.BakeRecord{ID: "q1", Key: "k", RoscoKey: "k"},
		Decide: func([]*bakehouse.BakeRecord) bakehouse.CreateDecision { return bakehouse.CreateDecision{} }})
	if err != nil {
		t.Fatal(err)
	}
	jobID := res.Bake.JobID
	if stored, err := s.Bake(ctx, "q1"); err != nil || stored.JobID != jobID || jobID == 0 {
		t.Fatalf("bake's job id: stored %v (%v), returned %d", stored, err, jobID)
	}
	select {
	case id := <-started:
		if id != "q1" {
			t.Fatalf("the job ran bake %q, want q1", id)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the bake's job did not start within 30s")
	}
	if alive, err := q.JobAlive(ctx, jobID); err != nil || !alive {
		t.Fatalf("JobAlive of the running job = %v, %v", alive, err)
	}
	if err := q.Cancel(ctx, jobID); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-ended:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("the bake's context ended with %v, want canceled", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Cancel did not reach the running bake within 30s")
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		alive, err := q.JobAlive(ctx, jobID)
		if err != nil {
			t.Fatal(err)
		}
		if !alive {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a canceled job is still alive after 30s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, id := range []int64{0, jobID + 1000} {
		if alive, err := q.JobAlive(ctx, id); err != nil || alive {
			t.Fatalf("JobAlive(%d) = %v, %v; want false", id, alive, err)
		}
		if err := q.Cancel(ctx, id); err != nil {
			t.Fatalf("Cancel(%d): %v", id, err)
		}
	}

	// A reuse and a taken id write no bake, and so no job.
	jobs := func() int {
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		var n int
		if err := conn.QueryRow(ctx, `SELECT COUNT(*) FROM river_job`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := jobs()
	if r, err := s.CreateBake(ctx, bakehouse.CreateBakeParams{Record: &bakehouse.BakeRecord{ID: "q2", Key: "k", RoscoKey: "k"},
		Decide: func(e []*bakehouse.BakeRecord) bakehouse.CreateDecision { return bakehouse.CreateDecision{Reuse: e[0]} }}); err != nil || !r.Reused {
		t.Fatalf("reuse: %+v, %v", r, err)
	}
	if _, err := s.CreateBake(ctx, bakehouse.CreateBakeParams{Record: &bakehouse.BakeRecord{ID: "q1", Key: "k2", RoscoKey: "k2"},
		Decide: func([]*bakehouse.BakeRecord) bakehouse.CreateDecision { return bakehouse.CreateDecision{} }}); !errors.Is(err, bakehouse.ErrBakeExists) {
		t.Fatalf("taken id: err %v, want ErrBakeExists", err)
	}
	if after := jobs(); after != before {
		t.Fatalf("river_job has %d jobs after a reuse and a taken id, want %d", after, before)
	}
}
