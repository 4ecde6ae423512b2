package postgres_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/bakehouse/bakehouse/postgres"
	"github.com/bakehouse/bakehouse/postgres/pgtest"
	"github.com/jackc/pgx/v5"
)

// TestOpensRaceOnEmptyDatabase starts several nodes' Open at once on an
// empty database: each must succeed (none trips over another's half-made
// tables) and each migration, Bakehouse's and River's, is applied once.
func TestOpensRaceOnEmptyDatabase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := pgtest.URL(t)
	const nodes = 5
	var wg sync.WaitGroup
	errs := make(chan error, nodes)
	start := make(chan struct{})
	for i := 0; i < nodes; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			db, err := postgres.Open(ctx, url)
			if err != nil {
				errs <- err
				return
			}
			db.Close()
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Open racing %d nodes: %v", nodes, err)
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, q := range []string{
		`SELECT name, COUNT(*) FROM bakehouse_migrations GROUP BY name ORDER BY name`,
		`SELECT version::text, COUNT(*) FROM river_migration GROUP BY version ORDER BY version`,
	} {
		rows, err := conn.Query(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for rows.Next() {
			var name string
			var count int
			if err := rows.Scan(&name, &count); err != nil {
				t.Fatal(err)
			}
			if count != 1 {
				t.Errorf("migration %s applied %d times", name, count)
			}
			n++
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		if n < 2 {
			t.Errorf("%s: %d migrations recorded, want every one", q, n)
		}
	}
}

func TestOpenBadURL(t *testing.T) {
	t.Parallel()
	if _, err := postgres.Open(context.Background(), "postgres://user:s3cret@/nodb?host=/nonexistent&connect_timeout=2"); err == nil {
		t.Fatal("Open of an unreachable database succeeded")
	} else if s := err.Error(); strings.Contains(s, "s3cret") {
		t.Fatalf("Open's error shows the password: %s", s)
	}
}
