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
	// Poll-only (SQLite has no LISTEN/NOTIFY): poll often so that a new
	// bake starts within tens of milliseconds.
	return bakequeue.New(driver, run, cfg, bakequeue.Fetch{PollInterval: 50 * time.Millisecond, PollOnly: true})
}
