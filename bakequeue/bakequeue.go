// Package bakequeue runs bakes as River jobs, whichever database holds
// them: the SQLite and PostgreSQL stores each give it their River driver
// and insert a bake's job in the transaction that inserts the bake.
package bakequeue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/rivertype"
)

// bakeArgs is the queue job that runs one bake. Its kind and queue are
// the same on every store.
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

// wakeArgs is a job that does nothing: its insert is its purpose. River
// wakes its local producer when a job is inserted outside a transaction
// (Client.Insert), but not on InsertTx, and a driver without LISTEN/NOTIFY
// (SQLite) has no other way to learn of a committed bake before its next
// poll. Its priority is River's lowest, so a bake waiting for a slot
// always goes before it.
type wakeArgs struct{}

func (wakeArgs) Kind() string { return "wake" }

func (wakeArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 1, Queue: queueName, Priority: 4}
}

type wakeWorker struct {
	river.WorkerDefaults[wakeArgs]
}

func (wakeWorker) Work(context.Context, *river.Job[wakeArgs]) error { return nil }

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

// Config configures the bake queue.
type Config struct {
	// ID is the River client's id: the node id, so that River records in
	// each job's attempted_by the node whose worker took it. Empty: River
	// makes one up (one node).
	ID          string
	Concurrency int           // bakes that run at once on this node; default 1
	BakeTimeout time.Duration // per bake; default 30 minutes
	Logger      *slog.Logger
}

// Fetch is how a store's driver learns of new jobs: PostgreSQL is woken
// by NOTIFY and polls as a fallback; SQLite polls only, and is woken by
// Committed after each bake it inserts (polling often instead would cost
// a parse of River's fetch query many times a second, on the cores that
// answer reused bakes).
type Fetch struct {
	PollInterval time.Duration
	PollOnly     bool
	// WakeOnCommit makes Committed wake this process's workers.
	WakeOnCommit bool
}

// Queue runs bakes as River jobs on the database of the bakes.
type Queue[TTx any] struct {
	client *river.Client[TTx]
	wake   bool
	log    *slog.Logger
}

// New returns a queue over driver (its River tables migrated) that calls
// run for each bake. Start it with Start.
func New[TTx any](driver riverdriver.Driver[TTx], run RunFunc, cfg Config, fetch Fetch) (*Queue[TTx], error) {
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
	if err := river.AddWorkerSafely(workers, wakeWorker{}); err != nil {
		return nil, err
	}
	client, err := river.NewClient(driver, &river.Config{
		ID:                cfg.ID,
		Queues:            map[string]river.QueueConfig{queueName: {MaxWorkers: cfg.Concurrency}},
		Workers:           workers,
		Logger:            cfg.Logger,
		FetchPollInterval: fetch.PollInterval,
		FetchCooldown:     10 * time.Millisecond,
		MaxAttempts:       1,
		PollOnly:          fetch.PollOnly,
		// Restart recovery is the bakery's job (it fails orphaned bakes at
		// start); River's own rescue would only re-run a job whose bake the
		// bakery has already ended, which the worker ignores.
		RescueStuckJobsAfter: cfg.BakeTimeout + 2*time.Minute,
	})
	if err != nil {
		return nil, fmt.Errorf("queue client: %w", err)
	}
	return &Queue[TTx]{client: client, wake: fetch.WakeOnCommit, log: cfg.Logger}, nil
}

// Client is the River client, for River UI (riverui), which lists and
// acts on the jobs through it.
func (q *Queue[TTx]) Client() *river.Client[TTx] { return q.client }

// Start starts working jobs.
func (q *Queue[TTx]) Start(ctx context.Context) error { return q.client.Start(ctx) }

// Stop stops fetching jobs and cancels the running ones, then waits for
// them to return.
func (q *Queue[TTx]) Stop(ctx context.Context) error {
	select {
	case <-q.client.Stopped():
		return nil
	default:
	}
	return q.client.StopAndCancel(ctx)
}

// Cancel cancels a queued or running job.
func (q *Queue[TTx]) Cancel(ctx context.Context, jobID int64) error {
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
func (q *Queue[TTx]) JobAlive(ctx context.Context, jobID int64) (bool, error) {
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

// InsertTx inserts bake bakeID's job in tx, the transaction that inserts
// the bake, and returns the job's id.
func (q *Queue[TTx]) InsertTx(ctx context.Context, tx TTx, bakeID string) (int64, error) {
	res, err := q.client.InsertTx(ctx, tx, bakeArgs{BakeID: bakeID}, nil)
	if err != nil {
		return 0, err
	}
	return res.Job.ID, nil
}

// Committed tells the queue that a transaction in which InsertTx inserted
// a job has committed, so that this process's workers fetch it now rather
// than at their next poll (for a Fetch with WakeOnCommit; otherwise it does
// nothing). A failure only delays the bake until that poll, so it is
// logged, not returned.
func (q *Queue[TTx]) Committed(ctx context.Context) {
	if !q.wake {
		return
	}
	if _, err := q.client.Insert(ctx, wakeArgs{}, nil); err != nil {
		q.log.Warn("wake the bake queue; the bake starts at the next poll", "err", err)
	}
}
