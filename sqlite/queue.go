package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"time"

	"github.com/bakehouse/bakehouse/bakequeue"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
)

// Queue runs bakes as River jobs on the same SQLite database as the bakes,
// so inserting a bake and its job is one transaction.
type Queue = bakequeue.Queue[*sql.Tx]

// QueueConfig configures the bake queue.
type QueueConfig = bakequeue.Config

// RunFunc runs the bake with the given id.
type RunFunc = bakequeue.RunFunc

// pollDriver is River's SQLite driver without its listener. That listener
// is an outbox table polled every 50 ms; Bakehouse runs River poll-only
// and is its database's only process, so it says the driver has none:
// River then wakes this process's workers when a job is inserted outside a
// transaction, which is how Queue.Committed wakes them.
type pollDriver struct{ *riversqlite.Driver }

func (pollDriver) SupportsListener() bool     { return false }
func (pollDriver) SupportsListenNotify() bool { return false }

// pollInterval is how often the queue looks for bakes nobody woke it for.
var pollInterval = 2 * time.Second

// NewQueue migrates River's tables and returns a queue that calls run for
// each bake. Start it with Start.
func NewQueue(ctx context.Context, db *DB, run RunFunc, cfg QueueConfig) (*Queue, error) {
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	driver := riversqlite.New(db.db)
	migrator, err := rivermigrate.New(driver, &rivermigrate.Config{Logger: logger})
	if err != nil {
		return nil, fmt.Errorf("queue migrator: %w", err)
	}
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return nil, fmt.Errorf("queue migrate: %w", err)
	}
	// Poll-only (SQLite has no LISTEN/NOTIFY): the bake store wakes the
	// workers after each bake it commits (Queue.Committed), so the poll is
	// only the fallback for a wake that failed.
	return bakequeue.New(pollDriver{driver}, run, cfg, bakequeue.Fetch{PollInterval: pollInterval, PollOnly: true, WakeOnCommit: true})
}
