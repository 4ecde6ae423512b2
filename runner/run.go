package runner

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"

	"github.com/bakehouse/bakehouse/pipeline"
)

// run drives one execution. The driver goroutine starts stages; one worker
// goroutine per started stage runs its tasks. Both change the execution
// only under mu, and every change is saved before mu is released, so the
// store always holds the execution as it is.
type run struct {
	r    *Runner
	mu   sync.Mutex
	e    *pipeline.Execution
	kick chan struct{}
	ctx  context.Context
	stop context.CancelFunc
	// workers holds a cancel per stage whose tasks run now.
	workers map[string]context.CancelFunc
	// ended is set when the execution reached its final status: workers
	// that return after that write nothing.
	ended bool
	// canceled holds a cancel request not yet applied by the driver.
	canceled *cancelRequest
	// running counts the worker goroutines, so that the execution's lock
	// is released only once none of them can write.
	running sync.WaitGroup
	// driver is this node's token in the store for this turn of the run:
	// saves carry it, and fail once another node took the run over.
	driver string
	// superseded is set when a save found that another node drives the
	// run now: this node writes nothing more and stops.
	superseded bool
}

type cancelRequest struct{ user, reason string }

func newRun(r *Runner, e *pipeline.Execution, driver string) *run {
	ctx, stop := context.WithCancel(r.ctx)
	ru := &run{r: r, e: e, kick: make(chan struct{}, 1), ctx: ctx, stop: stop, workers: map[string]context.CancelFunc{}, driver: driver}
	if e.Canceled && !e.Status.Complete() {
		// Canceled while another node drove it (that node died first):
		// the cancel is applied at the first step.
		ru.canceled = &cancelRequest{e.CanceledBy, e.CancelReason}
	}
	return ru
}

func (ru *run) wake() {
	select {
	case ru.kick <- struct{}{}:
	default:
	}
}

// cancel asks the driver to cancel the execution.
func (ru *run) cancel(user, reason string) {
	ru.mu.Lock()
	if ru.canceled == nil {
		ru.canceled = &cancelRequest{user, reason}
	}
	ru.mu.Unlock()
	ru.wake()
}

// save writes the execution; mu is held. A failed write is logged and
// retried with the next change: the run goes on from memory meanwhile. A
// write refused because another node took the run over (this node's lock
// session ended without it noticing yet) stops the run here: that node's
// writes stand. A cancel stored on the run (asked on a node that could not
// reach this one) is applied.
func (ru *run) save() {
	if ru.superseded {
		return
	}
	c, err := ru.r.cfg.Store.SaveExecution(context.WithoutCancel(ru.ctx), ru.e, ru.driver)
	switch {
	case errors.Is(err, pipeline.ErrNotDriver):
		ru.superseded = true
		ru.r.cfg.Log.Warn("another node took over an execution this node drove (this node's lock went with its database session); this node stops driving it", "execution", ru.e.ID)
		ru.stop()
		return
	case err != nil:
		ru.r.cfg.Log.Error("saving execution failed", "execution", ru.e.ID, "err", err)
	case c != nil && ru.canceled == nil && !ru.ended:
		ru.canceled = &cancelRequest{c.User, c.Reason}
		ru.wake()
	}
	ru.r.saved(ru.e.ID)
}

// waitWorkers waits until every worker returned; the run's context is
// done by now.
func (ru *run) waitWorkers() { ru.running.Wait() }

func (ru *run) drive() {
	defer ru.stop()
	ru.mu.Lock()
	if ru.e.Status == pipeline.NotStarted {
		now := ru.r.now()
		ru.e.Status, ru.e.StartTime = pipeline.Running, &now
		ru.save()
	}
	ru.mu.Unlock()
	for {
		ru.mu.Lock()
		done := ru.step()
		ru.mu.Unlock()
		if done {
			return
		}
		select {
		case <-ru.kick:
		case <-ru.ctx.Done():
			return // the runner stops: the execution stays RUNNING, to be resumed
		}
	}
}

// step starts what can start and ends the execution when nothing more
// can happen. mu is held. It reports whether the execution ended.
func (ru *run) step() bool {
	e, now := ru.e, ru.r.now()
	if c := ru.canceled; c != nil {
		e.Canceled, e.CanceledBy, e.CancelReason = true, c.user, c.reason
		ru.endRunning(pipeline.Canceled)
		ru.finish(pipeline.Canceled)
		return true
	}
	for changed := true; changed; {
		changed = false
		for _, s := range e.Ready() {
			ru.startStage(s, now)
			changed = true
		}
	}
	for _, s := range e.Stages {
		if s.Status != pipeline.Running || ru.workers[s.ID] != nil {
			continue
		}
		pending, failed := false, (*pipeline.Stage)(nil)
		for _, c := range e.Children(s) {
			if !c.Status.Complete() {
				pending = true
			} else if c.Status.Halts() && failed == nil {
				failed = c
			}
		}
		switch {
		case failed != nil:
			ru.failStage(s, &childFailed{failed}, now)
		case !pending:
			ru.startWorker(s)
		}
	}
	for _, s := range e.Stages {
		if s.ParentStageID == nil && s.Status == pipeline.Terminal {
			ru.endRunning(pipeline.Canceled)
			ru.finish(pipeline.Terminal)
			return true
		}
	}
	for _, s := range e.Stages {
		if s.Status == pipeline.Running || s.Status == pipeline.NotStarted && len(e.Ready()) > 0 {
			ru.save()
			return false
		}
	}
	ru.finish(pipeline.Succeeded)
	return true
}

// childFailed is the error of a stage whose synthetic child failed.
type childFailed struct{ child *pipeline.Stage }

func (c *childFailed) Error() string {
	return "stage " + c.child.Name + " ended " + string(c.child.Status)
}

func (ru *run) finish(st pipeline.Status) {
	now := ru.r.now()
	ru.e.Status, ru.e.EndTime = st, &now
	ru.ended = true
	ru.save()
	if !ru.superseded {
		ru.r.cfg.Log.Info("execution ended", "execution", ru.e.ID, "status", st)
	}
}

// endRunning ends every running stage and task with st and stops their
// workers.
func (ru *run) endRunning(st pipeline.Status) {
	now := ru.r.now()
	for _, s := range ru.e.Stages {
		if s.Status != pipeline.Running {
			continue
		}
		s.Status, s.EndTime = st, &now
		for _, t := range s.Tasks {
			if t.Status == pipeline.Running {
				t.Status, t.EndTime = st, &now
			}
		}
		if stop := ru.workers[s.ID]; stop != nil {
			stop()
		}
		if st == pipeline.Canceled {
			ru.r.cfg.Tasks.canceled(clone(ru.e), s.ID)
		}
	}
}

// startStage starts s: its tasks are planned (a Bake stage adds its
// region children here), or it is skipped when Bakehouse does not run its
// type.
func (ru *run) startStage(s *pipeline.Stage, now int64) {
	s.Status, s.StartTime = pipeline.Running, &now
	tasks, err := ru.r.cfg.Tasks.plan(ru.e, s, ru.r.cfg.Now(), ru.r.cfg.NewID)
	var skip *skipped
	switch {
	case errors.As(err, &skip):
		s.Status, s.EndTime = pipeline.Skipped, &now
		s.Context["skipReason"] = skip.reason
	case err != nil:
		ru.failStage(s, err, now)
	default:
		s.Tasks = tasks
	}
}

// failStage ends s failed: TERMINAL, or as its failPipeline and
// continuePipeline say (FAILED_CONTINUE or STOPPED), with Orca's
// exception in its context.
func (ru *run) failStage(s *pipeline.Stage, err error, now int64) {
	st := pipeline.Terminal
	if fp, ok := s.Context["failPipeline"].(bool); ok && !fp {
		st = pipeline.Stopped
		if cp, _ := s.Context["continuePipeline"].(bool); cp {
			st = pipeline.FailedContinue
		}
	}
	s.Status, s.EndTime = st, &now
	for _, t := range s.Tasks {
		if t.Status == pipeline.Running || t.Status == pipeline.NotStarted && t.StartTime != nil {
			t.Status, t.EndTime = st, &now
		}
	}
	s.Context["exception"] = pipeline.ExceptionContext(err, time.UnixMilli(now))
	ru.r.cfg.Log.Info("stage failed", "execution", ru.e.ID, "stage", s.Name, "status", st, "err", err)
}

func (ru *run) startWorker(s *pipeline.Stage) {
	ctx, stop := context.WithCancel(ru.ctx)
	ru.workers[s.ID] = stop
	ru.running.Add(1)
	go func() {
		defer ru.running.Done()
		defer stop()
		ru.work(ctx, s.ID)
		ru.mu.Lock()
		delete(ru.workers, s.ID)
		ru.mu.Unlock()
		ru.wake()
	}()
}

// work runs stage id's tasks that have not succeeded yet, in order. A
// task that answers RUNNING is asked again after the poll interval, as
// Orca's retryable tasks are.
func (ru *run) work(ctx context.Context, id string) {
	ru.mu.Lock()
	s := ru.e.Stage(id)
	n := len(s.Tasks)
	ru.mu.Unlock()
	for i := 0; i < n; i++ {
		ru.mu.Lock()
		t := s.Tasks[i]
		if t.Status == pipeline.Succeeded || t.Status == pipeline.Skipped {
			ru.mu.Unlock()
			continue
		}
		if t.Status != pipeline.Running {
			now := ru.r.now()
			t.Status, t.StartTime = pipeline.Running, &now
			ru.save()
		}
		name := t.Name
		ru.mu.Unlock()
		for {
			ru.mu.Lock()
			snap := clone(ru.e)
			ru.mu.Unlock()
			st, ctxUpdate, outputs, err := ru.r.cfg.Tasks.run(pipeline.WithStage(ctx, snap.ID, id), name, snap, snap.Stage(id))
			ru.mu.Lock()
			if ctx.Err() != nil || ru.ended || s.Status != pipeline.Running {
				ru.mu.Unlock()
				return
			}
			maps.Copy(s.Context, ctxUpdate)
			if s.Outputs == nil {
				s.Outputs = map[string]any{}
			}
			maps.Copy(s.Outputs, outputs)
			now := ru.r.now()
			if err != nil {
				ru.failStage(s, err, now)
				ru.save()
				ru.mu.Unlock()
				return
			}
			if st != pipeline.Running {
				t.Status, t.EndTime = pipeline.Succeeded, &now
				ru.save()
				ru.mu.Unlock()
				break
			}
			// Orca's timeouts: createBake 5 min, monitorBake 1 h or the
			// stage's stageTimeoutMs, findImage 10 min.
			if _, limit, ok := pipeline.TaskTiming(name, s); ok && t.StartTime != nil && now-*t.StartTime > limit.Milliseconds() {
				ru.failStage(s, fmt.Errorf("%s timed out after %s; set stageTimeoutMs on the stage to allow longer", name, limit), now)
				ru.save()
				ru.mu.Unlock()
				return
			}
			ru.save()
			ru.mu.Unlock()
			select {
			case <-ctx.Done():
				return
			case <-ru.r.cfg.Tasks.after():
			}
		}
	}
	ru.mu.Lock()
	now := ru.r.now()
	s.Status, s.EndTime = pipeline.Succeeded, &now
	ru.save()
	ru.mu.Unlock()
}
