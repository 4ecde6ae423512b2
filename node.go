package bakehouse

import (
	"context"
	"time"
)

// Node is one bakery process (bakehouse serve) of the nodes that share a
// database. Each writes a heartbeat every few seconds; a node whose
// heartbeat is older than NodeTimeout is dead, and the live nodes end the
// bakes it ran.
type Node struct {
	ID          string
	URL         string // where the node serves (for operators and /status/all)
	Concurrency int    // bakes it runs at once
	StartedAt   time.Time
	SeenAt      time.Time // its last heartbeat, by the store's clock
	// Age is how long before the store's now, when Nodes read it, SeenAt
	// was. The store's clock decides both (on PostgreSQL, the database
	// server's), so the nodes' own clocks need not agree.
	Age time.Duration
}

// NodeTimeout is how old a node's last heartbeat may be before the other
// nodes take it for dead: several missed heartbeats (they come every
// second), so that a slow database moment kills no bake, yet a node killed
// with kill -9 has its bakes ended within seconds, not Rosco's 30 minutes.
const NodeTimeout = 10 * time.Second

// NodePruneAfter is how long a dead node's row is kept: long enough for
// an operator to see which node a failed bake named, short enough that a
// cluster whose nodes get new ids (containers) does not grow its table
// for ever.
const NodePruneAfter = 24 * time.Hour

// Alive reports whether n's heartbeat was recent when Nodes read it.
func (n Node) Alive() bool { return n.Age <= NodeTimeout }

// NodeStore keeps the nodes' heartbeats. storetest.ExerciseNodes is its
// contract; the SQLite store (always one node) keeps them too, so that one
// bakery serves both.
type NodeStore interface {
	// Heartbeat records that n is alive now (SeenAt is the store's now:
	// on PostgreSQL the database server's clock, whatever the node's),
	// adding n when it is new and keeping its StartedAt otherwise.
	Heartbeat(ctx context.Context, n Node) error
	// Nodes returns every node that has not been removed, live or dead,
	// ordered by ID, each with its Age.
	Nodes(ctx context.Context) ([]Node, error)
	// RemoveNode forgets a node that stopped cleanly.
	RemoveNode(ctx context.Context, id string) error
	// PruneNodes forgets the nodes whose last heartbeat is older than
	// deadFor (by the store's clock) and that no RUNNING bake names (as
	// the node that accepted it or the node that runs it), and returns
	// how many it removed.
	PruneNodes(ctx context.Context, deadFor time.Duration) (int, error)
}
