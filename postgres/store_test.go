package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/bakehouse/bakehouse"
	"github.com/bakehouse/bakehouse/pipeline"
	"github.com/bakehouse/bakehouse/postgres"
	"github.com/bakehouse/bakehouse/postgres/pgtest"
	"github.com/bakehouse/bakehouse/storetest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// open opens a fresh database on the package's private cluster, copied
// from one that Open has migrated (TestOpensRaceOnEmptyDatabase and
// TestReopenKeepsBakes start from empty ones).
func open(t *testing.T) *postgres.DB {
	t.Helper()
	return openAt(t, migratedURL(t))
}

func migratedURL(t *testing.T) string {
	t.Helper()
	return pgtest.TemplateURL(t, "migrated", func(url string) error {
		db, err := postgres.Open(context.Background(), url)
		if err != nil {
			return err
		}
		return db.Close()
	})
}

func openAt(t *testing.T, url string) *postgres.DB {
	t.Helper()
	db, err := postgres.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestBakeStore(t *testing.T) {
	t.Parallel()
	storetest.Exercise(t, func(t *testing.T) bakehouse.BakeStore {
		return postgres.NewBakeStore(open(t), nil)
	})
}

// TestBakeStoreWithQueue runs the suite with the queue attached, so every
// CreateBake also inserts its River job in the same transaction.
func TestBakeStoreWithQueue(t *testing.T) {
	t.Parallel()
	storetest.Exercise(t, func(t *testing.T) bakehouse.BakeStore {
		db := open(t)
		q, err := postgres.NewQueue(context.Background(), db, func(context.Context, string) error { return nil }, postgres.QueueConfig{})
		if err != nil {
			t.Fatal(err)
		}
		return postgres.NewBakeStore(db, q)
	})
}

func TestNodeStore(t *testing.T) {
	t.Parallel()
	storetest.ExerciseNodes(t, true, func(t *testing.T, now func() time.Time) storetest.NodeBakeStore {
		db := open(t)
		db.Now = now
		return postgres.NewBakeStore(db, nil)
	})
}

func TestPipelineStore(t *testing.T) {
	t.Parallel()
	storetest.ExercisePipelines(t, func(t *testing.T) pipeline.Store {
		return postgres.NewPipelineStore(open(t))
	})
}

func TestReopenKeepsBakes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := pgtest.URL(t)
	db, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	s := postgres.NewBakeStore(db, nil)
	if _, err := s.CreateBake(ctx, bakehouse.CreateBakeParams{Record: &bakehouse.BakeRecord{ID: "x", Key: "k", RoscoKey: "k"},
		Decide: func([]*bakehouse.BakeRecord) bakehouse.CreateDecision { return bakehouse.CreateDecision{} }}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db, err = postgres.Open(ctx, url)
	if err != nil {
		t.Fatalf("reopen (migrations must be idempotent): %v", err)
	}
	defer db.Close()
	if _, err := postgres.NewBakeStore(db, nil).Bake(ctx, "x"); err != nil {
		t.Fatalf("bake lost across reopen: %v", err)
	}
}
