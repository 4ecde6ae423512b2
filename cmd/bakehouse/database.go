package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/bakehouse/bakehouse"
	"github.com/bakehouse/bakehouse/bakery"
	"github.com/bakehouse/bakehouse/pipeline"
	"github.com/bakehouse/bakehouse/postgres"
	"github.com/bakehouse/bakehouse/runner"
	"github.com/bakehouse/bakehouse/sqlite"
)

// jobQueue is the bake queue serve starts and stops, on either store.
type jobQueue interface {
	bakery.Queue
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
}

// storage is where serve keeps bakes, pipelines and the bake queue: the
// embedded SQLite database in the data dir, or a PostgreSQL database.
type storage struct {
	bakes     bakehouse.BakeStore
	nodes     bakehouse.NodeStore
	pipelines pipeline.Store
	queue     jobQueue
	// locks share pipeline runs and the Jenkins poller among the nodes on
	// one database; sweep is how often a node takes over the runs no node
	// drives (0 with the embedded database: one node).
	locks runner.Locks
	sweep time.Duration
	// cancels carries a pipeline run's cancel to the node that drives it
	// (nil with the embedded database).
	cancels *postgres.ExecutionCancels
	// logs keeps bake logs in the database, so every node serves them;
	// nil: one file per bake in the data dir (one node).
	logs *postgres.LogStore
	// riverQueue is the queue on PostgreSQL, for River UI; nil on SQLite.
	riverQueue *postgres.Queue
	close      func() error
	where      string // for the start log: the file, or the URL without its password
	shared     bool   // several nodes may use the database (PostgreSQL)

	// pg is the PostgreSQL database, which holds the nodes' shared
	// package repository; nil on SQLite.
	pg *postgres.DB
}

// runSweep is how often a node on PostgreSQL takes over the pipeline runs
// that no node drives (their node stopped or died), and leaderRetry how
// often a node that does not poll Jenkins tries to become the one that
// does.
const (
	runSweep    = 3 * time.Second
	leaderRetry = 3 * time.Second
)

// queueSettings are the queue's settings, the same on both stores.
type queueSettings struct {
	concurrency int
	timeout     time.Duration
	log         *slog.Logger
	node        string // the node id: River's client id
}

// openStorage opens the database at databaseURL (postgres://...), or the
// embedded one when it is empty, with a queue that runs bakes with run.
func openStorage(ctx context.Context, databaseURL, dataDir string, run func(ctx context.Context, id string) error, q queueSettings) (*storage, error) {
	if databaseURL == "" {
		path := filepath.Join(dataDir, "bakehouse.db")
		db, err := sqlite.Open(ctx, path)
		if err != nil {
			return nil, err
		}
		queue, err := sqlite.NewQueue(ctx, db, run, sqlite.QueueConfig{Concurrency: q.concurrency, BakeTimeout: q.timeout, Logger: q.log, ID: q.node})
		if err != nil {
			db.Close()
			return nil, err
		}
		bakes := sqlite.NewBakeStore(db, queue)
		return &storage{bakes: bakes, nodes: bakes, pipelines: sqlite.NewPipelineStore(db), queue: queue,
			locks: &runner.LocalLocks{}, close: db.Close, where: path}, nil
	}
	u, err := url.Parse(databaseURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return nil, &bakehouse.Error{Code: bakehouse.EINVALID, Field: "database",
			Message: "the database (--database, BAKEHOUSE_DATABASE_URL or bakehouse.database) must be a postgres://user:password@host/dbname URL, or empty for the embedded SQLite database"}
	}
	where := u.Redacted()
	db, err := postgres.Open(ctx, databaseURL)
	if err != nil {
		return nil, fmt.Errorf("database %s: %w", where, stripSecret(err, u))
	}
	queue, err := postgres.NewQueue(ctx, db, run, postgres.QueueConfig{Concurrency: q.concurrency, BakeTimeout: q.timeout, Logger: q.log, ID: q.node})
	if err != nil {
		db.Close()
		return nil, err
	}
	locks := postgres.NewLocks(db)
	bakes := postgres.NewBakeStore(db, queue)
	return &storage{bakes: bakes, nodes: bakes, pipelines: postgres.NewPipelineStore(db), queue: queue,
		locks: locks, sweep: runSweep, cancels: postgres.NewExecutionCancels(db), logs: postgres.NewLogStore(db), riverQueue: queue, pg: db,
		close: func() error { locks.Close(); return db.Close() }, where: where, shared: true}, nil
}

// stripSecret keeps the URL's password out of an error that might quote
// the URL.
func stripSecret(err error, u *url.URL) error {
	if p, ok := u.User.Password(); ok && p != "" && strings.Contains(err.Error(), p) {
		return fmt.Errorf("%s", strings.ReplaceAll(err.Error(), p, "xxxxx"))
	}
	return err
}
