package postgres_test

import (
	"context"
	"testing"

	"github.com/bakehouse/bakehouse/bakery/logtest"
	"github.com/bakehouse/bakehouse/postgres"
)

// TestLogs runs the log contract with each node on its own connection pool
// to one database, woken by the others' NOTIFY.
func TestLogs(t *testing.T) {
	t.Parallel()
	logtest.Exercise(t, func(t *testing.T) func() logtest.Node {
		url := migratedURL(t)
		return func() logtest.Node {
			s := postgres.NewLogStore(openAt(t, url))
			return logtest.Node{Backend: s, Listen: func(ctx context.Context, wake func(string)) { s.Listen(ctx, wake, nil) }}
		}
	})
}
