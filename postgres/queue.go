package postgres

import (
	"context"
	"time"

	"github.com/bakehouse/bakehouse/bakequeue"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
)

// Queue runs bakes as River jobs on the same PostgreSQL database as the
// bakes, so inserting a bake and its job is one transaction. River's pgx
// driver wakes the workers with LISTEN/NOTIFY, and any node's workers may
// take a job that another node inserted.
type Queue = bakequeue.Queue[pgx.Tx]

// QueueConfig configures the bake queue.
type QueueConfig = bakequeue.Config

// RunFunc runs the bake with the given id.
type RunFunc = bakequeue.RunFunc

// NewQueue returns a queue that calls run for each bake (Open has applied
// River's migrations). Start it with Start.
func NewQueue(_ context.Context, db *DB, run RunFunc, cfg QueueConfig) (*Queue, error) {
	// New jobs arrive by NOTIFY; the poll is the fallback when a
	// notification is missed.
	return bakequeue.New(riverpgxv5.New(db.pool), run, cfg, bakequeue.Fetch{PollInterval: 250 * time.Millisecond})
}
