package postgres_test

import (
	"context"
	"testing"

	"github.com/bakehouse/bakehouse/postgres"
	"github.com/bakehouse/bakehouse/storetest"
)

// TestLogs runs the log contract with each node on its own connection pool
// to one database, woken by the others' NOTIFY.
func TestLogs(t *testing.T) {
	t.Parallel()
	storetest.ExerciseLogs(t, func(t *testing.T) func() storetest.LogNode {
		url := migratedURL(t)
		return func() storetest.LogNode {
			s := postgres.NewLogStore(openAt(t, url))
			return storetest.LogNode{Backend: s, Listen: func(ctx context.Context, wake func(string)) { s.Listen(ctx, wake, nil) }}
		}
	})
}
