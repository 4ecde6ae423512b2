package sqlite

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/bakehouse/bakehouse"
)

// TestReadsDoNotWaitForTheWriter holds the writer's only connection in an
// open write transaction (as the queue's poller or a bake's write does) and
// checks that the reads a reused request makes still answer, and see what
// was committed before.
func TestReadsDoNotWaitForTheWriter(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "bakehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	store := NewBakeStore(db, nil)
	rec := &bakehouse.BakeRecord{ID: "b1", Key: "k1", RoscoKey: "r1", Region: "global", Provider: "docker",
		State: bakehouse.StateRunning, CreatedAt: time.Now()}
	if _, err := store.CreateBake(ctx, bakehouse.CreateBakeParams{Record: rec,
		Decide: func([]*bakehouse.BakeRecord) bakehouse.CreateDecision { return bakehouse.CreateDecision{} }}); err != nil {
		t.Fatal(err)
	}

	tx, err := db.db.BeginTx(ctx, nil) // BEGIN IMMEDIATE: holds the write lock and the connection
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `UPDATE bakes SET reason = 'held' WHERE id = 'b1'`); err != nil {
		t.Fatal(err)
	}

	done := make(chan error, 1)
	go func() {
		var ids []string
		err := store.BakesByKey(ctx, "k1", func(r *bakehouse.BakeRecord) bool { ids = append(ids, r.ID); return true })
		if err == nil && len(ids) != 1 {
			t.Errorf("BakesByKey: got %v, want [b1]", ids)
		}
		if err == nil {
			var b *bakehouse.BakeRecord
			b, err = store.Bake(ctx, "b1")
			if err == nil && b.Reason == "held" {
				t.Errorf("a read saw the writer's uncommitted change")
			}
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("reads waited for the writer's open transaction")
	}

	// The readers are query_only: a write through them fails.
	if _, err := db.read.ExecContext(ctx, `UPDATE bakes SET reason = 'x'`); err == nil {
		t.Fatal("a write through the readers succeeded")
	}
}
