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
// fresh, empty store per call, whose clock is now). dbClock says that the
// store judges heartbeats by its database server's clock, not by now (the
// PostgreSQL store: the nodes' clocks need not agree); otherwise now is
// the store's clock (SQLite, one node).
func ExerciseNodes(t *testing.T, dbClock bool, open func(t *testing.T, now func() time.Time) NodeBakeStore) {
	if dbClock {
		t.Run("HeartbeatByDatabaseClock", func(t *testing.T) { testHeartbeatDBClock(t, open) })
	} else {
		t.Run("HeartbeatAddsThenUpdates", func(t *testing.T) { testHeartbeat(t, open) })
	}
	t.Run("RemoveNode", func(t *testing.T) { testRemoveNode(t, open) })
	t.Run("PruneNodes", func(t *testing.T) { testPruneNodes(t, dbClock, open) })
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
		{ID: "web-2", URL: "http://10.0.0.2:8087", Concurrency: 2, StartedAt: t0.Add(-time.Second), SeenAt: t0, Age: time.Second},
	}
	if got := mustNodes(t, s); !slices.Equal(got, want) {
		t.Fatalf("Nodes = %+v\nwant %+v (ordered by id; no StartedAt means now)", got, want)
	}
	// A later heartbeat moves SeenAt and keeps the node's start, even if
	// the node says otherwise.
	c.set(t0.Add(5 * time.Second))
	mustHeartbeat(t, s, bakehouse.Node{ID: "web-2", URL: "http://10.0.0.2:9000", Concurrency: 3, StartedAt: t0.Add(5 * time.Second)})
	want[0].Age = 4 * time.Second
	want[1] = bakehouse.Node{ID: "web-2", URL: "http://10.0.0.2:9000", Concurrency: 3, StartedAt: t0.Add(-time.Second), SeenAt: t0.Add(5 * time.Second)}
	got := mustNodes(t, s)
	if !slices.Equal(got, want) {
		t.Fatalf("after a second heartbeat Nodes = %+v\nwant %+v", got, want)
	}
	// Nodes judges by the store's clock at the time it reads.
	c.set(t0.Add(5*time.Second + bakehouse.NodeTimeout))
	got = mustNodes(t, s)
	if got[0].Age != 5*time.Second+bakehouse.NodeTimeout-time.Second || got[1].Age != bakehouse.NodeTimeout || !got[1].Alive() || got[0].Alive() {
		t.Fatalf("web-1 (age %s) alive %v, web-2 (age %s) alive %v; want 14s dead, 10s alive",
			got[0].Age, got[0].Alive(), got[1].Age, got[1].Alive())
	}
}

// testHeartbeatDBClock: a store that keeps time by its database server
// writes and judges heartbeats by that clock, whatever the node's clock
// says: a node whose clock is hours off is alive while it beats, and a
// node's age grows with the server's time.
func testHeartbeatDBClock(t *testing.T, open func(*testing.T, func() time.Time) NodeBakeStore) {
	c := &clock{t: time.Now().Add(-3 * time.Hour)}
	s := open(t, c.now)
	before := time.Now()
	started := time.UnixMilli(1_700_000_000_000).UTC()
	mustHeartbeat(t, s, bakehouse.Node{ID: "skewed", Concurrency: 2, StartedAt: started})
	mustHeartbeat(t, s, bakehouse.Node{ID: "fresh"})
	c.set(time.Now().Add(3 * time.Hour))
	got := mustNodes(t, s)
	after := time.Now()
	if len(got) != 2 || got[0].ID != "fresh" || got[1].ID != "skewed" {
		t.Fatalf("Nodes = %+v, want fresh and skewed", got)
	}
	// The test runs on the database's machine: its clock is ours.
	for _, n := range got {
		if n.SeenAt.Before(before.Add(-time.Second)) || n.SeenAt.After(after.Add(time.Second)) || n.Age < 0 || n.Age > 5*time.Second || !n.Alive() {
			t.Fatalf("node %s: seen %s (age %s, alive %v); want the database's time, between %s and %s, and alive whatever the node's clock",
				n.ID, n.SeenAt, n.Age, n.Alive(), before, after)
		}
	}
	if got[1].StartedAt != started || got[1].Concurrency != 2 {
		t.Fatalf("skewed: started %s, concurrency %d; want its own start %s and 2", got[1].StartedAt, got[1].Concurrency, started)
	}
	if got[0].StartedAt.Before(before.Add(-time.Second)) || got[0].StartedAt.After(after.Add(time.Second)) {
		t.Fatalf("fresh: started %s; without a start, want the database's now", got[0].StartedAt)
	}
	time.Sleep(300 * time.Millisecond)
	if again := mustNodes(t, s); again[1].Age < got[1].Age+250*time.Millisecond {
		t.Fatalf("age %s then %s, 300ms later: it does not follow the database's clock", got[1].Age, again[1].Age)
	}
}

// testPruneNodes: nodes dead for longer than the given age go, unless a
// RUNNING bake names them (queued on them or run by them); live nodes and
// recently dead ones stay.
func testPruneNodes(t *testing.T, dbClock bool, open func(*testing.T, func() time.Time) NodeBakeStore) {
	ctx := context.Background()
	c := &clock{t: time.Now()}
	s := open(t, c.now)
	for _, id := range []string{"dead-idle", "dead-runs", "dead-queued", "dead-ended"} {
		mustHeartbeat(t, s, bakehouse.Node{ID: id})
	}
	// "runs" is run by dead-runs, "queued" waits, accepted by
	// dead-queued; "ended" ran on dead-ended and is over.
	for _, b := range []struct{ id, queuedOn, node string }{
		{"runs", "", "dead-runs"}, {"queued", "dead-queued", ""}, {"ended", "", "dead-ended"},
	} {
		r := newRecord(b.id, "k-"+b.id)
		r.QueuedOn = b.queuedOn
		create(t, s, r)
		if b.node != "" {
			if ok, err := s.ClaimBake(ctx, b.id, b.node); err != nil || !ok {
				t.Fatalf("ClaimBake(%s) = %v, %v", b.id, ok, err)
			}
		}
	}
	mustFinish(t, s, "ended", bakehouse.StateCompleted, bakehouse.ResultSuccess)
	deadFor := time.Hour
	if dbClock {
		// The database's clock cannot be moved: prune what is older than
		// 2 s instead of an hour (the live node's heartbeat, just before
		// the prune, is newer even on a loaded machine).
		time.Sleep(3 * time.Second)
		deadFor = 2 * time.Second
	} else {
		c.set(c.now().Add(time.Hour + time.Second))
	}
	mustHeartbeat(t, s, bakehouse.Node{ID: "live"})
	n, err := s.PruneNodes(ctx, deadFor)
	if err != nil || n != 2 {
		t.Fatalf("PruneNodes = %d, %v; want 2 (dead-idle, dead-ended)", n, err)
	}
	var ids []string
	for _, nd := range mustNodes(t, s) {
		ids = append(ids, nd.ID)
	}
	if want := []string{"dead-queued", "dead-runs", "live"}; !slices.Equal(ids, want) {
		t.Fatalf("after PruneNodes, nodes %v; want %v (a running bake names the dead ones kept)", ids, want)
	}
	if n, err := s.PruneNodes(ctx, 24*time.Hour); err != nil || n != 0 {
		t.Fatalf("PruneNodes(24h) = %d, %v; want 0", n, err)
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
	// A node that fetched the job but stalled, while the job went to
	// another node, does not run the bake again; the node that claimed
	// it may claim it again.
	if ok, err := s.ClaimBake(ctx, "c1", "node-c"); err != nil || ok {
		t.Fatalf("ClaimBake of a bake node-b claimed, by node-c = %v, %v; want false", ok, err)
	}
	if ok, err := s.ClaimBake(ctx, "c1", "node-b"); err != nil || !ok {
		t.Fatalf("ClaimBake again by node-b = %v, %v; want true", ok, err)
	}
	if got := mustBake(t, s, "c1"); got.Node != "node-b" {
		t.Fatalf("after node-c's claim, node is %q, want node-b", got.Node)
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
