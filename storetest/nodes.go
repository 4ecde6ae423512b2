package storetest

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/bakehouse/bakehouse"
)

// NodeBakeStore is a store that keeps both bakes and nodes, as both of
// Bakehouse's stores do.
type NodeBakeStore interface {
	bakehouse.BakeStore
	bakehouse.NodeStore
}

// ExerciseNodes runs the nodes' contract against stores made by open (a
// fresh, empty store per call, whose clock is now).
func ExerciseNodes(t *testing.T, open func(t *testing.T, now func() time.Time) NodeBakeStore) {
	t.Run("HeartbeatAddsThenUpdates", func(t *testing.T) { testHeartbeat(t, open) })
	t.Run("RemoveNode", func(t *testing.T) { testRemoveNode(t, open) })
}

// clock is a settable clock for the store under test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

func mustNodes(t *testing.T, s bakehouse.NodeStore) []bakehouse.Node {
	t.Helper()
	nodes, err := s.Nodes(context.Background())
	if err != nil {
		t.Fatalf("Nodes: %v", err)
	}
	return nodes
}

func mustHeartbeat(t *testing.T, s bakehouse.NodeStore, n bakehouse.Node) {
	t.Helper()
	if err := s.Heartbeat(context.Background(), n); err != nil {
		t.Fatalf("Heartbeat(%s): %v", n.ID, err)
	}
}

func testHeartbeat(t *testing.T, open func(*testing.T, func() time.Time) NodeBakeStore) {
	t0 := time.UnixMilli(1_700_000_000_000).UTC()
	c := &clock{t: t0}
	s := open(t, c.now)
	if got := mustNodes(t, s); len(got) != 0 {
		t.Fatalf("a new store has nodes %+v", got)
	}
	mustHeartbeat(t, s, bakehouse.Node{ID: "web-2", URL: "http://10.0.0.2:8087", Concurrency: 2, StartedAt: t0.Add(-time.Second)})
	c.set(t0.Add(time.Second))
	mustHeartbeat(t, s, bakehouse.Node{ID: "web-1", URL: "http://10.0.0.1:8087", Concurrency: 4})
	want := []bakehouse.Node{
		{ID: "web-1", URL: "http://10.0.0.1:8087", Concurrency: 4, StartedAt: t0.Add(time.Second), SeenAt: t0.Add(time.Second)},
		{ID: "web-2", URL: "http://10.0.0.2:8087", Concurrency: 2, StartedAt: t0.Add(-time.Second), SeenAt: t0},
	}
	if got := mustNodes(t, s); !slices.Equal(got, want) {
		t.Fatalf("Nodes = %+v\nwant %+v (ordered by id; no StartedAt means now)", got, want)
	}
	// A later heartbeat moves SeenAt and keeps the node's start, even if
	// the node says otherwise.
	c.set(t0.Add(5 * time.Second))
	mustHeartbeat(t, s, bakehouse.Node{ID: "web-2", URL: "http://10.0.0.2:9000", Concurrency: 3, StartedAt: t0.Add(5 * time.Second)})
	want[1] = bakehouse.Node{ID: "web-2", URL: "http://10.0.0.2:9000", Concurrency: 3, StartedAt: t0.Add(-time.Second), SeenAt: t0.Add(5 * time.Second)}
	got := mustNodes(t, s)
	if !slices.Equal(got, want) {
		t.Fatalf("after a second heartbeat Nodes = %+v\nwant %+v", got, want)
	}
	now := t0.Add(5*time.Second + bakehouse.NodeTimeout)
	if !got[1].Alive(now) || got[0].Alive(now) {
		t.Fatalf("at %s: web-1 (seen %s) alive %v, web-2 (seen %s) alive %v; want dead, alive",
			now, got[0].SeenAt, got[0].Alive(now), got[1].SeenAt, got[1].Alive(now))
	}
}

func testRemoveNode(t *testing.T, open func(*testing.T, func() time.Time) NodeBakeStore) {
	s := open(t, time.Now)
	mustHeartbeat(t, s, bakehouse.Node{ID: "a"})
	mustHeartbeat(t, s, bakehouse.Node{ID: "b"})
	if err := s.RemoveNode(context.Background(), "a"); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveNode(context.Background(), "never-there"); err != nil {
		t.Fatalf("removing an unknown node: %v", err)
	}
	if got := mustNodes(t, s); len(got) != 1 || got[0].ID != "b" {
		t.Fatalf("after RemoveNode(a), Nodes = %+v, want only b", got)
	}
}

// testClaim: a bake records the node that accepted it and the one whose
// worker runs it, and its sealed command line; a bake that ended cannot be
// claimed.
func testClaim(t *testing.T, s bakehouse.BakeStore) {
	ctx := context.Background()
	r := newRecord("c1", "k")
	r.QueuedOn = "node-a"
	r.SealedArgv = []byte{0, 1, 2, 0xff}
	create(t, s, r)
	got := mustBake(t, s, "c1")
	if got.QueuedOn != "node-a" || got.Node != "" || !slices.Equal(got.SealedArgv, r.SealedArgv) {
		t.Fatalf("queued bake: queued_on %q, node %q, sealed %x; want node-a, \"\", %x", got.QueuedOn, got.Node, got.SealedArgv, r.SealedArgv)
	}
	create(t, s, newRecord("c2", "k2"))
	if got := mustBake(t, s, "c2"); got.SealedArgv != nil {
		t.Fatalf("a bake without secrets has sealed argv %x", got.SealedArgv)
	}
	ok, err := s.ClaimBake(ctx, "c1", "node-b")
	if err != nil || !ok {
		t.Fatalf("ClaimBake(c1) = %v, %v", ok, err)
	}
	running, err := s.List(ctx, bakehouse.BakeFilter{State: bakehouse.StateRunning})
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(running, func(b *bakehouse.BakeRecord) bool { return b.ID == "c1" })
	if i < 0 || running[i].Node != "node-b" || running[i].QueuedOn != "node-a" {
		t.Fatalf("List after ClaimBake: %+v", running)
	}
	mustFinish(t, s, "c1", bakehouse.StateCanceled, bakehouse.ResultFailure)
	if ok, err := s.ClaimBake(ctx, "c1", "node-c"); err != nil || ok {
		t.Fatalf("ClaimBake of an ended bake = %v, %v; want false", ok, err)
	}
	if got := mustBake(t, s, "c1"); got.Node != "node-b" {
		t.Fatalf("ended bake's node is %q, want node-b", got.Node)
	}
	if ok, err := s.ClaimBake(ctx, "nope", "node-c"); err != nil || ok {
		t.Fatalf("ClaimBake of a missing bake = %v, %v; want false, nil", ok, err)
	}
}
