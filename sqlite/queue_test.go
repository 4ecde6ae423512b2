package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/bakehouse/bakehouse"
	"github.com/bakehouse/bakehouse/sqlite"
)

// TestCreateBakeWakesTheQueue: a bake the store commits starts without
// waiting for the queue's poll. The poll here is an hour apart, so only the
// wake after the commit can start it within the test's time.
func TestCreateBakeWakesTheQueue(t *testing.T) {
	defer sqlite.SetPollInterval(sqlite.SetPollInterval(time.Hour))
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "bakehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ran := make(chan string, 4)
	q, err := sqlite.NewQueue(ctx, db, func(_ context.Context, id string) error { ran <- id; return nil }, sqlite.QueueConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer q.Stop(ctx)
	// Let the producer make its first fetch (of an empty queue) at start.
	time.Sleep(200 * time.Millisecond)

	s := sqlite.NewBakeStore(db, q)
	for _, id := range []string{"b1", "b2"} {
		if _, err := s.CreateBake(ctx, bakehouse.CreateBakeParams{Record: &bakehouse.BakeRecord{ID: id, Key: "k" + id, RoscoKey: "k" + id},
			Decide: func([]*bakehouse.BakeRecord) bakehouse.CreateDecision { return bakehouse.CreateDecision{} }}); err != nil {
			t.Fatal(err)
		}
		select {
		case got := <-ran:
			if got != id {
				t.Fatalf("ran bake %s, want %s", got, id)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("bake %s did not start: the queue waited for its hourly poll", id)
		}
	}
}
