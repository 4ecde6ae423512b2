package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/bakehouse/bakehouse"
	"github.com/bakehouse/bakehouse/bakequeue"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
)

// Queue runs bakes as River jobs on the same PostgreSQL database as the
// bakes, so inserting a bake and its job is one transaction. River's pgx
// driver wakes the workers with LISTEN/NOTIFY, and any node's workers may
// take a job that another node inserted.
type Queue struct {
	*bakequeue.Queue[pgx.Tx]
	db *DB
}

// QueueConfig configures the bake queue. Its ID is the node id: River
// records it in river_job.attempted_by, so that a job a dead node took can
// be told from one a live node works (RequeueAbandoned).
type QueueConfig = bakequeue.Config

// RunFunc runs the bake with the given id.
type RunFunc = bakequeue.RunFunc

// NewQueue returns a queue that calls run for each bake (Open has applied
// River's migrations). Start it with Start.
func NewQueue(_ context.Context, db *DB, run RunFunc, cfg QueueConfig) (*Queue, error) {
	// New jobs arrive by NOTIFY; the poll is the fallback when a
	// notification is missed (and how a job given back by
	// RequeueAbandoned is found).
	q, err := bakequeue.New(riverpgxv5.New(db.pool), run, cfg, bakequeue.Fetch{PollInterval: 250 * time.Millisecond})
	if err != nil {
		return nil, err
	}
	return &Queue{Queue: q, db: db}, nil
}

// RequeueAbandoned makes available again the bake jobs that a dead node
// took but whose bakes it never claimed: the job is running, last
// attempted by a node whose heartbeat is older than bakehouse.NodeTimeout
// (or that has none) at least that long ago, and its bake is RUNNING with
// no node. The database's clock judges, in one statement, so a node that
// takes a job meanwhile is not mistaken for dead. River would otherwise
// leave the job running until its own rescue of stuck jobs, after the bake
// timeout. max_attempts grows by one so that the next attempt is a first
// try's equal (a bake job is tried once). It returns bake id -> the dead
// node.
func (q *Queue) RequeueAbandoned(ctx context.Context) (map[string]string, error) {
	timeout := bakehouse.NodeTimeout.Milliseconds()
	rows, err := q.db.pool.Query(ctx, `UPDATE river_job j SET state = 'available', scheduled_at = clock_timestamp(),
			max_attempts = GREATEST(j.max_attempts, j.attempt + 1)
		FROM bakes b
		WHERE j.state = 'running' AND j.kind = 'bake' AND b.id = j.args->>'bake_id' AND b.job_id = j.id
			AND b.state = 'RUNNING' AND b.node = ''
			AND j.attempted_at < clock_timestamp() - make_interval(secs => $1::bigint / 1000.0)
			AND NOT EXISTS (SELECT 1 FROM nodes n WHERE n.id = j.attempted_by[cardinality(j.attempted_by)] AND n.seen_at >= `+dbNowMillis+` - $1)
		RETURNING b.id, COALESCE(j.attempted_by[cardinality(j.attempted_by)], '')`, timeout)
	if err != nil {
		return nil, fmt.Errorf("requeue jobs of dead nodes: %w", err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var id, node string
		if err := rows.Scan(&id, &node); err != nil {
			return nil, fmt.Errorf("requeue jobs of dead nodes: %w", err)
		}
		out[id] = node
	}
	return out, rows.Err()
}
