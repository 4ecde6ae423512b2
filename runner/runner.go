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
	ctx, stop := context.WithCancel(context.Background())
	return &Runner{cfg: cfg, active: map[string]*run{}, ctx: ctx, stop: stop}
}

// Resume drives again every execution that was NOT_STARTED or RUNNING
// when the last process stopped, and returns how many.
func (r *Runner) Resume(ctx context.Context) (int, error) {
	es, err := r.cfg.Store.Executions(ctx, pipeline.ExecutionFilter{
		Statuses: []pipeline.Status{pipeline.NotStarted, pipeline.Running}, Limit: 100000})
	if err != nil {
		return 0, fmt.Errorf("resume executions: %w", err)
	}
	for _, e := range es {
		resubmitBakes(e)
		r.cfg.Log.Info("resuming execution", "execution", e.ID, "application", e.Application, "pipeline", e.Name)
		r.launch(e)
	}
	return len(es), nil
}

// Stop stops driving executions (they stay RUNNING in the store, to be
// resumed by the next Start) and waits for their goroutines. It may be
// called twice.
func (r *Runner) Stop() {
	r.stop()
	r.wg.Wait()
}

func (r *Runner) now() int64 { return r.cfg.Now().UnixMilli() }

// launch drives e in the background unless it is already driven.
func (r *Runner) launch(e *pipeline.Execution) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.active[e.ID]; ok || r.ctx.Err() != nil {
		return
	}
	ru := newRun(r, e)
	r.active[e.ID] = ru
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		ru.drive()
		r.mu.Lock()
		delete(r.active, e.ID)
		r.mu.Unlock()
	}()
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
