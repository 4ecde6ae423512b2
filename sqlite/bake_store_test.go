package sqlite_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bakehouse/bakehouse"
	"github.com/bakehouse/bakehouse/bakery"
	"github.com/bakehouse/bakehouse/bakery/logtest"
	"github.com/bakehouse/bakehouse/pipeline"
	"github.com/bakehouse/bakehouse/sqlite"
	"github.com/bakehouse/bakehouse/storetest"
)

func TestBakeStore(t *testing.T) {
	storetest.Exercise(t, func(t *testing.T) bakehouse.BakeStore {
		db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "bakehouse.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return sqlite.NewBakeStore(db, nil)
	})
}

func TestBakeStoreWithQueue(t *testing.T) {
	storetest.Exercise(t, func(t *testing.T) bakehouse.BakeStore {
		ctx := context.Background()
		db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "bakehouse.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		q, err := sqlite.NewQueue(ctx, db, func(context.Context, string) error { return nil }, sqlite.QueueConfig{})
		if err != nil {
			t.Fatal(err)
		}
		return sqlite.NewBakeStore(db, q)
	})
}

func TestReopenKeepsBakes(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "bakehouse.db")
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	s := sqlite.NewBakeStore(db, nil)
	if _, err := s.CreateBake(ctx, bakehouse.CreateBakeParams{Record: &bakehouse.BakeRecord{ID: "x", Key: "k", RoscoKey: "k"},
		Decide: func([]*bakehouse.BakeRecord) bakehouse.CreateDecision { return bakehouse.CreateDecision{} }}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db, err = sqlite.Open(ctx, path)
	if err != nil {
		t.Fatalf("reopen (migrations must be idempotent): %v", err)
	}
	defer db.Close()
	if _, err := sqlite.NewBakeStore(db, nil).Bake(ctx, "x"); err != nil {
		t.Fatalf("bake lost across reopen: %v", err)
	}
}

func TestPipelineStore(t *testing.T) {
	storetest.ExercisePipelines(t, func(t *testing.T) pipeline.Store {
		db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "bakehouse.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return sqlite.NewPipelineStore(db)
	})
}

// TestLogs runs the log contract on the SQLite store's log files: a node is
// another process on the same data dir.
func TestLogs(t *testing.T) {
	logtest.Exercise(t, func(t *testing.T) func() logtest.Node {
		dir := t.TempDir()
		return func() logtest.Node {
			f, err := bakery.NewFileLogs(dir)
			if err != nil {
				t.Fatal(err)
			}
			return logtest.Node{Backend: f}
		}
	})
}

func TestNodeStore(t *testing.T) {
	storetest.ExerciseNodes(t, false, func(t *testing.T, now func() time.Time) storetest.NodeBakeStore {
		db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "bakehouse.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		db.Now = now
		return sqlite.NewBakeStore(db, nil)
	})
}

// TestOneProcessPerDatabase: a second open of a database in use is refused
// with an error naming the data dir and the ways out, and the database
// opens again once the first is closed.
func TestOneProcessPerDatabase(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "bakehouse.db")
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = sqlite.Open(ctx, path)
	if bakehouse.ErrorCode(err) != bakehouse.ECONFLICT || !strings.Contains(err.Error(), "in use by another process (pid") ||
		!strings.Contains(err.Error(), "DATA_DIR") || !strings.Contains(err.Error(), "PostgreSQL") {
		t.Fatalf("second open: %v; want a conflict naming the owner, DATA_DIR and PostgreSQL", err)
	}
	db.Close()
	db, err = sqlite.Open(ctx, path)
	if err != nil {
		t.Fatalf("open after close: %v", err)
	}
	db.Close()
}
