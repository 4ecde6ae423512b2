package bakery

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"syscall"

	"github.com/bakehouse/bakehouse"
)

// Recover ends the bakes a previous process left RUNNING: their Packer and
// build containers died with it (or are killed here), so nothing would
// ever finish them. It runs before the queue starts, so every RUNNING bake
// that this process does not run is an orphan, queued ones included (their
// masked extended attributes died with the previous process).
func (s *Service) Recover(ctx context.Context) (int, error) {
	orphans, err := s.store.List(ctx, bakehouse.BakeFilter{State: bakehouse.StateRunning})
	if err != nil {
		return 0, fmt.Errorf("recover: %w", err)
	}
	n := 0
	for _, b := range orphans {
		if s.Busy(b.ID) {
			continue
		}
		why := "the bakery restarted while this bake was queued; it was not run (bake again to retry)"
		if !b.StartedAt.IsZero() {
			why = "the bakery restarted while this bake was running; its Packer process and build containers were stopped (bake again to retry)"
		}
		ok, err := s.endOrphan(ctx, b, why)
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
	return n, nil
}

// Rescue ends the bakes stuck in RUNNING with no live worker, as River's
// rescuer does for stuck jobs: a bake is stuck when this process does not
// run it and its queue job is no longer waiting or running (its finishing
// write failed, or its worker died without the process dying). A queued
// bake whose job still waits is not stuck. Without a queue nothing can
// tell a queued bake from a stuck one, and Rescue does nothing.
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
		ok, err := s.endOrphan(ctx, b, why+" (bake again to retry)")
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
// why in its log, then its Packer process group and build containers are
// removed. It reports false when the bake had already ended (then nothing
// else is touched).
func (s *Service) endOrphan(ctx context.Context, b *bakehouse.BakeRecord, why string) (bool, error) {
	ok, err := s.store.Finish(ctx, bakehouse.FinishBakeParams{ID: b.ID, State: bakehouse.StateCanceled, Result: bakehouse.ResultFailure, Error: why, Phases: b.Phases})
	if err != nil || !ok {
		return false, err
	}
	s.logs.Append(b.ID, "Bake "+b.ID+" canceled: "+why)
	if b.PID > 0 {
		killPacker(b.PID, b.ID)
	}
	s.cleanup(ctx, b, func(f string, a ...any) { s.logs.Append(b.ID, fmt.Sprintf(f, a...)) })
	s.logs.Close(b.ID)
	if s.queue != nil {
		_ = s.queue.Cancel(ctx, b.JobID)
	}
	s.forgetSecrets(b.ID)
	return true, nil
}

// killPacker kills the process group of an orphaned Packer, but only if
// that pid still is the bake's packer process (pids are reused): its
// command line names packer and its environment the bake's id.
func killPacker(pid int, bakeID string) {
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !strings.Contains(string(cmdline), "packer") {
		return
	}
	environ, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil || !slices.Contains(strings.Split(string(environ), "\x00"), "BAKEHOUSE_BAKE_ID="+bakeID) {
		return
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	_ = syscall.Kill(pid, syscall.SIGKILL)
}
