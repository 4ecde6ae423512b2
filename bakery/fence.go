package bakery

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/bakehouse/bakehouse"
)

// A node that is alive but could not write its heartbeat for
// bakehouse.NodeTimeout (it was stalled, swapped out, cut off from the
// database) has had its bakes ended by the other nodes, which took it for
// dead. It must not go on baking them: their Packer would still make an
// image that no bake record offers, and cost AWS time. So a node fences
// itself, twice over:
//
//   - by its lease: when its last successful heartbeat is older than
//     NodeTimeout by its own monotonic clock, it stops every bake it runs
//     without asking the database (which it may not reach);
//   - by the store: after each heartbeat it stops the runs of bakes that the
//     store no longer has as its own RUNNING bakes (another node ended them,
//     or, having claimed them, runs them).
//
// River's cancel of the job, which the ending node sends, usually arrives
// too; either way the run's Finish cannot overwrite the ended bake (Finish
// applies only to a RUNNING bake), so nothing of it is ever reused.

// stopAllRuns cancels every bake this node runs with cause, and returns
// how many it canceled.
func (s *Service) stopAllRuns(cause error) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, cancel := range s.running {
		cancel(cause)
	}
	return len(s.running)
}

// StopLostBakes stops this node's runs of the bakes that are no longer its
// own in the store: ended (by another node that took this one for dead, or
// by a cancel whose notification was lost) or claimed by another node. It
// returns how many runs it stopped.
func (s *Service) StopLostBakes(ctx context.Context) (int, error) {
	s.mu.Lock()
	ids := make([]string, 0, len(s.running))
	for id := range s.running {
		ids = append(ids, id)
	}
	s.mu.Unlock()
	n := 0
	for _, id := range ids {
		b, err := s.store.Bake(ctx, id)
		if err != nil {
			return n, fmt.Errorf("stop lost bakes: %w", err)
		}
		if b.State == bakehouse.StateRunning && (b.Node == "" || b.Node == s.cfg.Node) {
			continue
		}
		cause := errors.New(b.Error)
		if b.State == bakehouse.StateRunning {
			cause = fmt.Errorf("node %s runs this bake now, not node %s", b.Node, s.cfg.Node)
		} else if b.Error == "" {
			cause = fmt.Errorf("the bake ended (%s) while node %s ran it", b.State, s.cfg.Node)
		}
		s.mu.Lock()
		cancel, ok := s.running[id]
		s.mu.Unlock()
		if ok {
			cancel(cause)
			s.log.Warn("stopped a bake that is no longer this node's", "id", id, "state", b.State, "node", b.Node)
			n++
		}
	}
	return n, nil
}

// leaseLost is the cause of the runs a node stops itself when its last
// heartbeat is older than bakehouse.NodeTimeout.
func (s *Service) leaseLost(since time.Duration) error {
	return fmt.Errorf("node %s could not write its heartbeat for %s (more than %s): the other nodes take it for dead and end its bakes, so it stopped this one itself (bake again to retry)",
		s.cfg.Node, since.Round(time.Second), bakehouse.NodeTimeout)
}
