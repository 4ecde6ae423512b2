package bakery

import (
	"context"
	"fmt"
	"os"
	"strings"
	"syscall"

	"github.com/bakehouse/bakehouse"
)

// Recover ends the bakes a previous process left RUNNING: their Packer and
// build containers died with it (or are killed here), so nothing would
// ever finish them. It runs before the queue starts.
func (s *Service) Recover(ctx context.Context) (int, error) {
	orphans, err := s.store.List(ctx, bakehouse.BakeFilter{State: bakehouse.StateRunning})
	if err != nil {
		return 0, fmt.Errorf("recover: %w", err)
	}
	n := 0
	for _, b := range orphans {
		s.mu.Lock()
		_, mine := s.running[b.ID]
		s.mu.Unlock()
		if mine {
			continue
		}
		if b.PID > 0 {
			killPacker(b.PID)
		}
		why := "the bakery restarted while this bake was queued; it was not run (bake again to retry)"
		if !b.StartedAt.IsZero() {
			why = "the bakery restarted while this bake was running; its Packer process and build containers were stopped (bake again to retry)"
		}
		ok, err := s.store.Finish(ctx, bakehouse.FinishBakeParams{ID: b.ID, State: bakehouse.StateCanceled, Result: bakehouse.ResultFailure, Error: why, Phases: b.Phases})
		if err != nil {
			return n, err
		}
		if !ok {
			continue
		}
		s.logs.Append(b.ID, "Bake "+b.ID+" canceled: "+why)
		s.cleanup(ctx, b, func(f string, a ...any) { s.logs.Append(b.ID, fmt.Sprintf(f, a...)) })
		s.logs.Close(b.ID)
		if s.queue != nil {
			_ = s.queue.Cancel(ctx, b.JobID)
		}
		s.metrics.Completed.WithLabelValues(string(bakehouse.ResultFailure)).Inc()
		n++
	}
	return n, nil
}

// killPacker kills the process group of a Packer left by a previous
// process, but only if that pid still is a packer process (pids are
// reused).
func killPacker(pid int) {
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !strings.Contains(string(cmdline), "packer") {
		return
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	_ = syscall.Kill(pid, syscall.SIGKILL)
}
