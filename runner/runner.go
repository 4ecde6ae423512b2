// Package runner advances pipeline executions: it builds a run from a
// stored config, starts each stage as soon as its upstream stages passed,
// runs the stage's tasks (a bake through the bakery, a find-image lookup,
// a wait), persists the execution after every change so that a restart
// (kill -9 included) carries on where it stopped, and answers the
// pipeline.Service that Gate's paths and the CLI use.
package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/bakehouse/bakehouse/pipeline"
	"github.com/google/uuid"
)

// Config is what a Runner needs.
type Config struct {
	Store pipeline.Store
	// Tasks runs the stages' tasks; see Tasks.
	Tasks *Tasks
	Log   *slog.Logger
	// Now is the clock (tests may replace it); default time.Now.
	Now func() time.Time
	// NewID makes execution and stage ids; default random UUIDs.
	NewID func() string
	// Locks says which node drives which execution; default LocalLocks
	// (one node).
	Locks Locks
	// Sweep is how often the executions no node drives (their node
	// stopped or died) are taken over, after Resume; 0 for never (one
	// node resumes its executions when it starts again).
	Sweep time.Duration
	// Relay carries a cancel to the node that drives the execution; nil
	// with one node.
	Relay CancelRelay
	// Saved, when set, is told the id of each execution the runner has
	// just written, so that watchers in this process (the web UI's event
	// streams) look now rather than at their next poll. It may be called
	// with a run's lock held: it must return at once.
	Saved func(id string)
}

// Runner is the pipeline.Service: it stores configs and runs executions.
type Runner struct {
	cfg    Config
	mu     sync.Mutex
	active map[string]*run
	ctx    context.Context
	stop   context.CancelFunc
	wg     sync.WaitGroup
	fired  firedBuilds

	sweepMu    sync.Mutex // one Resume at a time
	sweepStart sync.Once
}

var _ pipeline.Service = (*Runner)(nil)

// New returns a Runner; Resume resumes the executions a previous process
// left running.
func New(cfg Config) *Runner {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.NewID == nil {
		cfg.NewID = uuid.NewString
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Tasks == nil {
		cfg.Tasks = &Tasks{}
	}
	if cfg.Locks == nil {
		cfg.Locks = &LocalLocks{}
	}
	ctx, stop := context.WithCancel(context.Background())
	return &Runner{cfg: cfg, active: map[string]*run{}, ctx: ctx, stop: stop}
}

// Resume drives again every execution that is NOT_STARTED or RUNNING and
// that no node drives (the last process, or another node, stopped or died
// while it ran), and returns how many. With Config.Sweep set, it runs
// again every Sweep until Stop.
func (r *Runner) Resume(ctx context.Context) (int, error) {
	if r.cfg.Sweep > 0 {
		r.sweepStart.Do(func() {
			r.wg.Add(1)
			go r.sweep()
		})
	}
	r.sweepMu.Lock()
	defer r.sweepMu.Unlock()
	es, err := r.cfg.Store.Executions(ctx, pipeline.ExecutionFilter{
		Statuses: []pipeline.Status{pipeline.NotStarted, pipeline.Running}, Limit: 100000})
	if err != nil {
		return 0, fmt.Errorf("resume executions: %w", err)
	}
	n := 0
	for _, listed := range es {
		r.mu.Lock()
		_, driven := r.active[listed.ID]
		r.mu.Unlock()
		if driven {
			continue
		}
		e, lost, driver, err := r.take(ctx, listed.ID)
		if err != nil {
			r.cfg.Log.Error("resuming execution failed", "execution", listed.ID, "err", err)
			continue
		}
		if e == nil {
			continue // another node drives it, or it ended meanwhile
		}
		resubmitBakes(e)
		r.cfg.Log.Info("resuming execution", "execution", e.ID, "application", e.Application, "pipeline", e.Name)
		if r.launch(e, lost, driver) {
			n++
		}
	}
	return n, nil
}

// sweep calls Resume every Config.Sweep until Stop, so that the runs of
// a node that stopped or died go on here.
func (r *Runner) sweep() {
	defer r.wg.Done()
	t := time.NewTicker(r.cfg.Sweep)
	defer t.Stop()
	for {
		select {
		case <-r.ctx.Done():
			return
		case <-t.C:
		}
		if _, err := r.Resume(r.ctx); err != nil && r.ctx.Err() == nil {
			r.cfg.Log.Error("sweep of executions no node drives failed", "err", err)
		}
	}
}

// take locks execution id for this node and takes it in the store under
// a new driver token (the node that drove it before writes nothing from
// now on), reading it again under the lock: the node that held it saved
// its last state before it let go, or its saves stop here. It returns nil
// when another node holds the lock or the execution ended.
func (r *Runner) take(ctx context.Context, id string) (*pipeline.Execution, <-chan struct{}, string, error) {
	lost, ok, err := r.cfg.Locks.TryLock(ctx, executionLock(id))
	if err != nil || !ok {
		return nil, nil, "", err
	}
	driver := r.cfg.NewID()
	e, err := r.cfg.Store.TakeExecution(ctx, id, driver)
	if err != nil || e.Status.Complete() {
		r.unlock(id)
		return nil, nil, "", err
	}
	return e, lost, driver, nil
}

func (r *Runner) unlock(id string) {
	if err := r.cfg.Locks.Unlock(context.Background(), executionLock(id)); err != nil {
		r.cfg.Log.Error("releasing an execution's lock failed", "execution", id, "err", err)
	}
}

// Stop stops driving executions (they stay RUNNING in the store, to be
// resumed by the next Start, or by another node's sweep) and waits for
// their goroutines. It may be called twice.
func (r *Runner) Stop() {
	r.stop()
	r.wg.Wait()
}

func (r *Runner) now() int64 { return r.cfg.Now().UnixMilli() }

// launch drives e, whose lock this node holds, in the background, as
// driver (the store's token of this node's turn, see
// pipeline.Store.SaveExecution), and releases the lock when the run ends.
// It reports false (and releases the lock) when e is driven already or the
// runner stops. The run stops if lost closes (the lock went, and another
// node may drive e) or a save finds that another node drives it.
func (r *Runner) launch(e *pipeline.Execution, lost <-chan struct{}, driver string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.active[e.ID]; ok || r.ctx.Err() != nil {
		if !ok {
			r.unlock(e.ID)
		}
		return false
	}
	ru := newRun(r, e, driver)
	r.active[e.ID] = ru
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		go func() {
			select {
			case <-lost:
				r.cfg.Log.Warn("this node lost the lock of an execution it drove (its database session ended); it stops driving it", "execution", e.ID)
				ru.stop()
			case <-ru.ctx.Done():
			}
		}()
		ru.drive()
		r.mu.Lock()
		delete(r.active, e.ID)
		r.mu.Unlock()
		ru.waitWorkers()
		if r.ctx.Err() == nil {
			r.unlock(e.ID)
		}
		// A runner that stops keeps the locks of the runs it leaves
		// RUNNING until its node closes its locks, after the node's queue
		// ended their bakes: another node that resumes them then submits
		// their bakes again instead of joining bakes about to be canceled.
	}()
	return true
}

// clone deep-copies an execution, so that tasks read a snapshot while the
// driver changes the original.
func clone(e *pipeline.Execution) *pipeline.Execution {
	b, err := json.Marshal(e)
	if err != nil {
		panic(fmt.Sprintf("execution does not marshal: %v", err))
	}
	var out pipeline.Execution
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&out); err != nil {
		panic(fmt.Sprintf("execution does not unmarshal: %v", err))
	}
	return &out
}

// resubmitBakes makes the region children of e that had not seen their
// bake complete submit it again when the run resumes: the bakery ended
// the bakes its previous process ran (their Packer died with it), and a
// bake that did complete comes back at once from the same request.
func resubmitBakes(e *pipeline.Execution) {
	for _, s := range e.Stages {
		if s.Type != "bake" || s.ParentStageID == nil || s.Status != pipeline.Running {
			continue
		}
		var create, monitor *pipeline.Task
		for _, t := range s.Tasks {
			switch t.Name {
			case pipeline.TaskCreateBake:
				create = t
			case pipeline.TaskMonitorBake:
				monitor = t
			}
		}
		if create == nil || monitor == nil || monitor.Status == pipeline.Succeeded {
			continue
		}
		for _, t := range []*pipeline.Task{create, monitor} {
			t.Status, t.StartTime, t.EndTime = pipeline.NotStarted, nil, nil
		}
		if s.Context == nil {
			s.Context = map[string]any{}
		}
		s.Context["messages"] = append(anyList(s.Context["messages"]), "Bakehouse restarted while this bake ran; the bake was submitted again.")
	}
}
