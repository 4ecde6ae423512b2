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
}

// NodeTimeout is how old a node's last heartbeat may be before the other
// nodes take it for dead: several missed heartbeats (they come every
// second), so that a slow database moment kills no bake, yet a node killed
// with kill -9 has its bakes ended within seconds, not Rosco's 30 minutes.
const NodeTimeout = 10 * time.Second

// Alive reports whether n's heartbeat is recent at now.
func (n Node) Alive(now time.Time) bool { return now.Sub(n.SeenAt) <= NodeTimeout }

// NodeStore keeps the nodes' heartbeats. storetest.ExerciseNodes is its
// contract; the SQLite store (always one node) keeps them too, so that one
// bakery serves both.
type NodeStore interface {
	// Heartbeat records that n is alive now (SeenAt is the store's now),
	// adding n when it is new and keeping its StartedAt otherwise.
	Heartbeat(ctx context.Context, n Node) error
	// Nodes returns every node that has not been removed, live or dead,
	// ordered by ID.
	Nodes(ctx context.Context) ([]Node, error)
	// RemoveNode forgets a node that stopped cleanly.
	RemoveNode(ctx context.Context, id string) error
}
