package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"
)

// bakeArgs is the queue job that runs one bake. Its kind and queue are the
// SQLite store's, so that the bakery sees one queue whichever store holds it.
type bakeArgs struct {
	BakeID string `json:"bake_id"`
}

func (bakeArgs) Kind() string { return "bake" }

// InsertOpts: a bake runs once. Retrying a half-finished Packer run could
// leave two images; the bakery records the failure and the user rebakes.
func (bakeArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 1, Queue: queueName}
}

const queueName = "bakes"

// RunFunc runs the bake with the given id. Its context is canceled when the
// bake is canceled or times out.
type RunFunc func(ctx context.Context, bakeID string) error

type bakeWorker struct {
	river.WorkerDefaults[bakeArgs]
	run     RunFunc
	timeout time.Duration
}

func (w *bakeWorker) Work(ctx context.Context, job *river.Job[bakeArgs]) error {
	return w.run(ctx, job.Args.BakeID)
}

// Timeout leaves room after the bake's own timeout for Packer to clean up.
func (w *bakeWorker) Timeout(*river.Job[bakeArgs]) time.Duration { return w.timeout + time.Minute }

// QueueConfig configures the bake queue.
type QueueConfig struct {
	Concurrency int           // bakes that run at once on this node; default 1
	BakeTimeout time.Duration // per bake; default 30 minutes
	Logger      *slog.Logger
}

// Queue runs bakes as River jobs on the same PostgreSQL database as the
// bakes, so inserting a bake and its job is one transaction. River's pgx
// driver wakes the workers with LISTEN/NOTIFY, and any node's workers may
// take a job that another node inserted.
type Queue struct {
	client *river.Client[pgx.Tx]
}

// NewQueue returns a queue that calls run for each bake (Open has applied
// River's migrations). Start it with Start.
func NewQueue(ctx context.Context, db *DB, run RunFunc, cfg QueueConfig) (*Queue, error) {
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 1
	}
	if cfg.BakeTimeout <= 0 {
		cfg.BakeTimeout = 30 * time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	workers := river.NewWorkers()
	if err := river.AddWorkerSafely(workers, &bakeWorker{run: run, timeout: cfg.BakeTimeout}); err != nil {
		return nil, err
	}
	client, err := river.NewClient(riverpgxv5.New(db.pool), &river.Config{
		Queues:  map[string]river.QueueConfig{queueName: {MaxWorkers: cfg.Concurrency}},
		Workers: workers,
		Logger:  cfg.Logger,
		// New jobs arrive by NOTIFY; the poll is the fallback when a
		// notification is missed.
		FetchPollInterval: 250 * time.Millisecond,
		FetchCooldown:     10 * time.Millisecond,
		MaxAttempts:       1,
		// Restart recovery is the bakery's job (it fails orphaned bakes at
		// start); River's own rescue would only re-run a job whose bake the
		// bakery has already ended, which the worker ignores.
		RescueStuckJobsAfter: cfg.BakeTimeout + 2*time.Minute,
	})
	if err != nil {
		return nil, fmt.Errorf("queue client: %w", err)
	}
	return &Queue{client: client}, nil
}

// Start starts working jobs.
func (q *Queue) Start(ctx context.Context) error { return q.client.Start(ctx) }

// Stop stops fetching jobs and cancels the running ones, then waits for
// them to return.
func (q *Queue) Stop(ctx context.Context) error {
	select {
	case <-q.client.Stopped():
		return nil
	default:
	}
	return q.client.StopAndCancel(ctx)
}

// Cancel cancels a queued or running job.
func (q *Queue) Cancel(ctx context.Context, jobID int64) error {
	if jobID == 0 {
		return nil
	}
	_, err := q.client.JobCancel(ctx, jobID)
	if err != nil && !errors.Is(err, river.ErrNotFound) {
		return err
	}
	return nil
}

// JobAlive reports whether a job is still waiting to run or running. With
// one attempt per job, a job that completed, was canceled or discarded (its
// worker returned an error or panicked) will never run again.
func (q *Queue) JobAlive(ctx context.Context, jobID int64) (bool, error) {
	if jobID == 0 {
		return false, nil
	}
	job, err := q.client.JobGet(ctx, jobID)
	if errors.Is(err, river.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	switch job.State {
	case rivertype.JobStateCompleted, rivertype.JobStateCancelled, rivertype.JobStateDiscarded:
		return false, nil
	}
	return true, nil
}

func (q *Queue) insertTx(ctx context.Context, tx pgx.Tx, bakeID string) (int64, error) {
	res, err := q.client.InsertTx(ctx, tx, bakeArgs{BakeID: bakeID}, nil)
	if err != nil {
		return 0, err
	}
	return res.Job.ID, nil
}
