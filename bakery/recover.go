package bakery

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/bakehouse/bakehouse"
)

// Recover ends what this node's previous process left: the RUNNING bakes
// it ran (their Packer and build containers died with it, or are killed
// here), and the Packer processes and build containers of the bakes that
// another node ended while this one was dead (a bake's scratch directory
// in the work dir says this node ran it). It runs before the queue starts.
// Bakes that were queued but not started are left queued: this node or
// another runs them. Other nodes' bakes are left alone: a dead node's are
// EndDeadNodesBakes' to end.
func (s *Service) Recover(ctx context.Context) (int, error) {
	orphans, err := s.store.List(ctx, bakehouse.BakeFilter{State: bakehouse.StateRunning})
	if err != nil {
		return 0, fmt.Errorf("recover: %w", err)
	}
	leftover := s.leftoverWork()
	n := 0
	for _, b := range orphans {
		if s.Busy(b.ID) {
			continue
		}
		_, here := leftover[b.ID]
		// A bake with no node but a start predates node ids (one node).
		mine := b.Node == s.cfg.Node || here || (b.Node == "" && !b.StartedAt.IsZero())
		if !mine {
			continue
		}
		delete(leftover, b.ID)
		why := fmt.Sprintf("the bakery restarted while this bake was running (node %s); its Packer process and build containers were stopped (bake again to retry)", s.cfg.Node)
		ok, err := s.endOrphan(ctx, b, why, true)
		if err != nil {
			return n, fmt.Errorf("recover: %w", err)
		}
		if ok {
			// Counted as completed, not as active: the previous process
			// counted it active.
			s.metrics.Completed.WithLabelValues(string(bakehouse.ResultFailure)).Inc()
			n++
		}
	}
	for id := range leftover {
		if s.Busy(id) {
			continue
		}
		b, err := s.store.Bake(ctx, id)
		if err != nil {
			// Not a bake of this database: only its directory goes.
			b = &bakehouse.BakeRecord{ID: id}
		}
		if b.State == bakehouse.StateRunning {
			continue // another node runs it: not this node's leftover
		}
		killBakeProcesses(id)
		s.cleanup(ctx, b, func(f string, a ...any) {
			s.logs.Append(id, fmt.Sprintf("Node %s, back after it died, removed what this bake left: ", s.cfg.Node)+fmt.Sprintf(f, a...))
		})
		s.log.Info("removed the leftovers of a bake ended while this node was down", "id", id)
	}
	return n, nil
}

// leftoverWork returns the bakes whose scratch directories are in this
// node's work dir: a bake's directory exists from just before its Packer
// starts until the bake ends, so those not running now were left by a
// process that died.
func (s *Service) leftoverWork() map[string]struct{} {
	out := map[string]struct{}{}
	if s.cfg.WorkDir == "" {
		return out
	}
	entries, _ := os.ReadDir(s.cfg.WorkDir)
	for _, e := range entries {
		if e.IsDir() {
			out[e.Name()] = struct{}{}
		}
	}
	return out
}

// Rescue ends the bakes stuck in RUNNING with no live worker, as River's
// rescuer does for stuck jobs: a bake is stuck when this process does not
// run it and its queue job is no longer waiting or running (its finishing
// write failed, or its worker died without the process dying). A queued
// bake whose job still waits is not stuck. Each node rescues the bakes it
// claimed and the unclaimed ones; another node's are that node's. Without
// a queue nothing can tell a queued bake from a stuck one, and Rescue does
// nothing.
func (s *Service) Rescue(ctx context.Context) (int, error) {
	if s.queue == nil {
		return 0, nil
	}
	running, err := s.store.List(ctx, bakehouse.BakeFilter{State: bakehouse.StateRunning})
	if err != nil {
		return 0, fmt.Errorf("rescue: %w", err)
	}
	n := 0
	for _, b := range running {
		// A job stays running until its worker returns, so its state is
		// what tells; Busy only saves that query for this process's bakes.
		if s.Busy(b.ID) {
			continue
		}
		// A bake another node claimed is that node's to rescue, or, once
		// that node is dead, EndDeadNodesBakes': its job may have been
		// completed by a node that stalled before its claim and resumed
		// after the job went to the node that runs the bake now.
		if b.Node != "" && b.Node != s.cfg.Node {
			continue
		}
		alive, err := s.queue.JobAlive(ctx, b.JobID)
		if err != nil {
			return n, fmt.Errorf("rescue: job of bake %s: %w", b.ID, err)
		}
		if alive {
			continue
		}
		why := "no worker is running this bake (its job ended without finishing it)"
		if !b.StartedAt.IsZero() {
			why += "; its Packer process and build containers were stopped"
		}
		ok, err := s.endOrphan(ctx, b, why+" (bake again to retry)", true)
		if err != nil {
			return n, fmt.Errorf("rescue: %w", err)
		}
		if ok {
			s.metrics.finished(bakehouse.ResultFailure)
			s.log.Warn("ended a bake stuck in RUNNING", "id", b.ID, "job", b.JobID)
			n++
		}
	}
	return n, nil
}

// endOrphan ends a RUNNING bake that no worker runs: CANCELED/FAILURE with
// why in its log, then, when the bake ran on this node (local), its Packer
// process group and build containers are removed; a process id or a
// scratch directory of another node means nothing here. It reports false
// when the bake had already ended (then nothing else is touched).
func (s *Service) endOrphan(ctx context.Context, b *bakehouse.BakeRecord, why string, local bool) (bool, error) {
	ok, err := s.store.Finish(ctx, bakehouse.FinishBakeParams{ID: b.ID, State: bakehouse.StateCanceled, Result: bakehouse.ResultFailure, Error: why, Phases: b.Phases})
	if err != nil || !ok {
		return false, err
	}
	s.logs.Append(b.ID, "Bake "+b.ID+" canceled: "+why)
	if local {
		killBakeProcesses(b.ID)
		s.cleanup(ctx, b, func(f string, a ...any) { s.logs.Append(b.ID, fmt.Sprintf(f, a...)) })
	} else if b.Provider == "docker" && s.docker != nil {
		// Nodes may share a Docker engine: its build container goes now.
		_, _ = s.docker.RemoveContainers(ctx, "io.bakehouse.bake-id="+b.ID)
	}
	s.logs.Close(b.ID)
	if s.queue != nil {
		_ = s.queue.Cancel(ctx, b.JobID)
	}
	s.forgetSecrets(b.ID)
	return true, nil
}

// killBakeProcesses kills the process groups of the processes whose
// environment names bake id (Packer sets BAKEHOUSE_BAKE_ID for it and
// its children): a Packer orphaned by a dead bakery, whatever its pid
// became, and never an unrelated process that reuses a recorded pid.
func killBakeProcesses(bakeID string) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return
	}
	want := "BAKEHOUSE_BAKE_ID=" + bakeID
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		environ, err := os.ReadFile("/proc/" + e.Name() + "/environ")
		if err != nil || !slices.Contains(strings.Split(string(environ), "\x00"), want) {
			continue
		}
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}
