package bakery

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/bakehouse/bakehouse"
)

// HeartbeatInterval is how often a node writes its heartbeat, and
// DeadNodeCheckInterval how often it looks for nodes whose heartbeat is
// older than bakehouse.NodeTimeout: a node killed with kill -9 has its
// bakes ended within NodeTimeout plus about one check.
const (
	HeartbeatInterval     = time.Second
	DeadNodeCheckInterval = 2 * time.Second
	// NodePruneInterval is how often a node forgets the nodes dead for
	// longer than bakehouse.NodePruneAfter (PruneNodes).
	NodePruneInterval = time.Hour
)

// Heartbeat records that this node is alive. serve calls it once before
// Recover and the queue start (so a bake this node claims never names an
// unknown node), then Membership keeps calling it.
func (s *Service) Heartbeat(ctx context.Context, self bakehouse.Node) error {
	if s.nodes == nil {
		return nil
	}
	self.ID = s.cfg.Node
	return s.nodes.Heartbeat(ctx, self)
}

// EndDeadNodesBakes ends the RUNNING bakes whose worker's node is dead (its
// heartbeat is older than bakehouse.NodeTimeout by the store's clock) or
// gone (no longer registered): CANCELED/FAILURE, with the node and when it
// was last seen in the bake's error and log, and its queue job canceled so
// that nothing runs it again. The bake's Packer process and build
// containers are on the dead node's machine: that node removes them when
// it comes back (Recover). It returns how many bakes it ended; of several
// live nodes doing this at once, each bake is ended by one.
//
// A bake that a dead node's worker took but never claimed (the node died
// between fetching the job and ClaimBake) never started Packer: its job is
// given back to the queue, so a live node runs it (requeueAbandoned).
func (s *Service) EndDeadNodesBakes(ctx context.Context) (int, error) {
	if s.nodes == nil {
		return 0, nil
	}
	if err := s.requeueAbandoned(ctx); err != nil {
		return 0, fmt.Errorf("dead nodes: %w", err)
	}
	running, err := s.store.List(ctx, bakehouse.BakeFilter{State: bakehouse.StateRunning})
	if err != nil {
		return 0, fmt.Errorf("dead nodes: %w", err)
	}
	var nodes map[string]bakehouse.Node
	n := 0
	for _, b := range running {
		if b.Node == "" || b.Node == s.cfg.Node || s.Busy(b.ID) {
			continue
		}
		if nodes == nil {
			list, err := s.nodes.Nodes(ctx)
			if err != nil {
				return 0, fmt.Errorf("dead nodes: %w", err)
			}
			nodes = make(map[string]bakehouse.Node, len(list))
			for _, nd := range list {
				nodes[nd.ID] = nd
			}
		}
		nd, known := nodes[b.Node]
		if known && nd.Alive() {
			continue
		}
		why := fmt.Sprintf("node %s, which ran this bake, is gone (it no longer sends heartbeats)", b.Node)
		if known {
			why = fmt.Sprintf("node %s, which ran this bake, stopped answering: last seen %s, %s before node %s ended the bake",
				b.Node, nd.SeenAt.UTC().Format(time.RFC3339), nd.Age.Round(time.Second), s.cfg.Node)
		}
		ok, err := s.endOrphan(ctx, b, why+"; its Packer process and build containers are removed when that node comes back (bake again to retry)", false)
		if err != nil {
			return n, fmt.Errorf("dead nodes: %w", err)
		}
		if ok {
			s.metrics.Completed.WithLabelValues(string(bakehouse.ResultFailure)).Inc()
			s.log.Warn("ended a bake of a dead node", "id", b.ID, "node", b.Node, "last_seen", nd.SeenAt)
			n++
		}
	}
	return n, nil
}

// requeueAbandoned gives back to the queue the jobs that dead nodes took
// but whose bakes they never claimed, when the queue can (PostgreSQL's;
// SQLite is one node). Re-running such a bake is safe: Packer starts only
// after the claim, and a node that was only stalled cannot claim the bake
// once another node has (ClaimBake).
func (s *Service) requeueAbandoned(ctx context.Context) error {
	q, ok := s.queue.(AbandonedJobs)
	if !ok {
		return nil
	}
	requeued, err := q.RequeueAbandoned(ctx)
	if err != nil {
		return err
	}
	for id, node := range requeued {
		s.logs.Append(id, fmt.Sprintf("Node %s took this bake from the queue and stopped answering before it started it; node %s put it back in the queue for a live node", node, s.cfg.Node))
		s.log.Warn("requeued a bake that a dead node took but never started", "id", id, "node", node)
	}
	return nil
}

// PruneNodes forgets the nodes dead for longer than
// bakehouse.NodePruneAfter that no incomplete bake names, so that the
// nodes table does not grow with every node id ever used; a node that ran
// or accepted a bake still RUNNING stays, so that the bake's error can
// say when it was last seen.
func (s *Service) PruneNodes(ctx context.Context) (int, error) {
	if s.nodes == nil {
		return 0, nil
	}
	n, err := s.nodes.PruneNodes(ctx, bakehouse.NodePruneAfter)
	if n > 0 {
		s.log.Info("forgot nodes dead for more than a day", "count", n)
	}
	return n, err
}

// NodeBakes is a live node with the bakes its workers run and the bakes
// it accepted that no worker has taken yet.
type NodeBakes struct {
	Node    bakehouse.Node
	Running []*bakehouse.BakeRecord
	Queued  []*bakehouse.BakeRecord
}

// Cluster lists the live nodes, this one first, with their RUNNING bakes
// (for /status/all). A queued bake belongs to the node that accepted it;
// one whose node is gone is listed under this node, so that no bake is
// left out.
func (s *Service) Cluster(ctx context.Context) ([]NodeBakes, error) {
	running, err := s.store.List(ctx, bakehouse.BakeFilter{State: bakehouse.StateRunning})
	if err != nil {
		return nil, err
	}
	out := []NodeBakes{{Node: bakehouse.Node{ID: s.cfg.Node, Concurrency: s.cfg.Concurrency}}}
	if s.nodes != nil {
		nodes, err := s.nodes.Nodes(ctx)
		if err != nil {
			return nil, err
		}
		for _, nd := range nodes {
			switch {
			case nd.ID == s.cfg.Node:
				out[0].Node = nd
			case nd.Alive():
				out = append(out, NodeBakes{Node: nd})
			}
		}
	}
	index := make(map[string]int, len(out))
	for i, nb := range out {
		index[nb.Node.ID] = i
	}
	for _, b := range running {
		if i, ok := index[b.Node]; ok && b.Node != "" {
			out[i].Running = append(out[i].Running, b)
			continue
		}
		if b.Node != "" {
			continue // its node is dead: EndDeadNodesBakes ends it
		}
		i, ok := index[b.QueuedOn]
		if !ok {
			i = 0
		}
		out[i].Queued = append(out[i].Queued, b)
	}
	return out, nil
}

// Membership keeps this node's heartbeat and ends the bakes of dead nodes,
// as a Start/Stop service. Stop removes the node from the database: a
// node that stopped cleanly has ended its bakes (stopping the queue
// cancels them) and left the queued ones to the other nodes.
type Membership struct {
	svc  *Service
	self bakehouse.Node

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

// NewMembership returns the membership service of this node, described
// by self (its ID is the service's node id).
func NewMembership(svc *Service, self bakehouse.Node) *Membership {
	self.ID = svc.cfg.Node
	return &Membership{svc: svc, self: self}
}

// Start starts the heartbeats and dead-node checks in the background.
func (m *Membership) Start(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.done != nil {
		return errors.New("membership: already started")
	}
	ctx, m.cancel = context.WithCancel(ctx)
	m.done = make(chan struct{})
	go m.loop(ctx, m.done)
	return nil
}

func (m *Membership) loop(ctx context.Context, done chan struct{}) {
	defer close(done)
	beat := time.NewTicker(HeartbeatInterval)
	defer beat.Stop()
	check := time.NewTicker(DeadNodeCheckInterval)
	defer check.Stop()
	var pruned time.Time
	// serve wrote a heartbeat just before it started the membership.
	lastBeat := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-beat.C:
			lastBeat = m.beat(ctx, lastBeat)
		case <-check.C:
			if _, err := m.svc.EndDeadNodesBakes(ctx); err != nil && ctx.Err() == nil {
				m.svc.log.Error("end bakes of dead nodes", "err", err)
			}
			if time.Since(pruned) >= NodePruneInterval {
				pruned = time.Now()
				if _, err := m.svc.PruneNodes(ctx); err != nil && ctx.Err() == nil {
					m.svc.log.Error("prune dead nodes", "err", err)
				}
			}
		}
	}
}

// beat writes a heartbeat and fences this node (fence.go): past its lease
// (lastBeat, when its last successful heartbeat started, is older than
// NodeTimeout) it stops all its bakes; after a heartbeat it stops those
// that are no longer its own. A database that does not answer within half
// the timeout is a missed heartbeat, so that the lease is checked again
// in time. It returns the new lastBeat.
func (m *Membership) beat(ctx context.Context, lastBeat time.Time) time.Time {
	if since := time.Since(lastBeat); since > bakehouse.NodeTimeout {
		if n := m.svc.stopAllRuns(m.svc.leaseLost(since)); n > 0 {
			m.svc.log.Warn("stopped this node's bakes: its last heartbeat is older than the node timeout", "bakes", n, "since", since)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, bakehouse.NodeTimeout/2)
	defer cancel()
	started := time.Now()
	if err := m.svc.Heartbeat(ctx, m.self); err != nil {
		if ctx.Err() == nil || errors.Is(ctx.Err(), context.DeadlineExceeded) {
			m.svc.log.Error("heartbeat", "node", m.self.ID, "err", err)
		}
		return lastBeat
	}
	if _, err := m.svc.StopLostBakes(ctx); err != nil && ctx.Err() == nil {
		m.svc.log.Error("stop bakes that are no longer this node's", "err", err)
	}
	return started
}

// Stop stops the heartbeats and removes this node from the database.
// Stopping twice, or a membership never started, does nothing.
func (m *Membership) Stop() {
	m.mu.Lock()
	cancel, done := m.cancel, m.done
	m.cancel = nil
	m.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	<-done
	if m.svc.nodes != nil {
		ctx, c := context.WithTimeout(context.Background(), 5*time.Second)
		defer c()
		if err := m.svc.nodes.RemoveNode(ctx, m.self.ID); err != nil {
			m.svc.log.Error("remove node", "node", m.self.ID, "err", err)
		}
	}
}
