package http_test

import (
	"context"
	"testing"
	"time"

	"github.com/bakehouse/bakehouse/bakequeue"
	"github.com/bakehouse/bakehouse/postgres"
	"github.com/bakehouse/bakehouse/postgres/pgtest"
)

// TestMain gives the package's PostgreSQL tests one private cluster.
func TestMain(m *testing.M) { pgtest.Main(m) }

// stores are the stores the conformance cases run on.
var stores = []string{"sqlite", "postgres"}

// openPostgres opens the database at url, or a fresh migrated one when url
// is "", with its queue and its log rows, as serve --database does.
func openPostgres(t testing.TB, url string, qcfg *bakequeue.Config, run bakequeue.RunFunc) *envStore {
	t.Helper()
	if url == "" {
		url = pgtest.TemplateURL(t, "migrated", func(url string) error {
			db, err := postgres.Open(context.Background(), url)
			if err != nil {
				return err
			}
			return db.Close()
		})
	}
	db, err := postgres.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	st := &envStore{url: url, setNow: func(now func() time.Time) { db.Now = now }}
	var queue *postgres.Queue
	if qcfg != nil {
		queue, err = postgres.NewQueue(context.Background(), db, run, *qcfg)
		if err != nil {
			t.Fatal(err)
		}
		st.queue = queue
	}
	st.store = postgres.NewBakeStore(db, queue)
	logs := postgres.NewLogStore(db)
	st.logs = logs
	st.listen = func(ctx context.Context, wake func(string)) { logs.Listen(ctx, wake, nil) }
	return st
}
