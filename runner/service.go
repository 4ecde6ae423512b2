package runner

import (
	"context"
	"fmt"
	"strconv"

	"github.com/bakehouse/bakehouse"
	"github.com/bakehouse/bakehouse/pipeline"
)

// SavePipeline implements pipeline.Service. The whole config is checked
// (it must build an execution) before it is stored, so a pipeline that
// cannot run is refused when it is saved, not when it is triggered.
func (r *Runner) SavePipeline(ctx context.Context, cfg *pipeline.Config) (*pipeline.Config, error) {
	if cfg.Application() == "" {
		return nil, bakehouse.Invalid("application", "the pipeline has no application: set \"application\" to the application it belongs to")
	}
	if cfg.Name() == "" {
		return nil, bakehouse.Invalid("name", "the pipeline has no name: set \"name\"")
	}
	if _, err := pipeline.NewExecution(cfg, "check", nil, 0, func() string { return "check" }); err != nil {
		return nil, err
	}
	return r.cfg.Store.SaveConfig(ctx, cfg, r.cfg.NewID())
}

// Pipeline implements pipeline.Service.
func (r *Runner) Pipeline(ctx context.Context, app, name string) (*pipeline.Config, error) {
	return r.cfg.Store.ConfigByName(ctx, app, name)
}

// Pipelines implements pipeline.Service.
func (r *Runner) Pipelines(ctx context.Context, app string) ([]*pipeline.Config, error) {
	return r.cfg.Store.Configs(ctx, app)
}

// DeletePipeline implements pipeline.Service.
func (r *Runner) DeletePipeline(ctx context.Context, app, name string) error {
	return r.cfg.Store.DeleteConfig(ctx, app, name)
}

// Applications implements pipeline.Service.
func (r *Runner) Applications(ctx context.Context) ([]string, error) {
	cs, err := r.cfg.Store.Configs(ctx, "")
	if err != nil {
		return nil, err
	}
	out := []string{}
	for _, c := range cs {
		if n := len(out); n == 0 || out[n-1] != c.Application() {
			out = append(out, c.Application())
		}
	}
	return out, nil
}

// Start implements pipeline.Service: the run is stored NOT_STARTED and
// driven in the background.
func (r *Runner) Start(ctx context.Context, app, name string, trigger map[string]any) (*pipeline.Execution, error) {
	cfg, err := r.cfg.Store.ConfigByName(ctx, app, name)
	if err != nil {
		return nil, err
	}
	return r.StartConfig(ctx, cfg, trigger)
}

// StartConfig runs cfg with trigger (the Jenkins trigger starts runs this
// way, from the configs it watches).
func (r *Runner) StartConfig(ctx context.Context, cfg *pipeline.Config, trigger map[string]any) (*pipeline.Execution, error) {
	return r.start(ctx, cfg, trigger, nil)
}

// start runs cfg with trigger; fired is the Jenkins build whose trigger
// starts it (nil for other runs): the store starts one run per pipeline
// and build, and answers pipeline.ErrBuildFired to a second.
func (r *Runner) start(ctx context.Context, cfg *pipeline.Config, trigger map[string]any, fired *pipeline.FiredBuild) (*pipeline.Execution, error) {
	if trigger == nil {
		trigger = map[string]any{}
	}
	if t, _ := trigger["type"].(string); t == "" {
		trigger["type"] = "manual"
	}
	if err := r.cfg.Tasks.prepareTrigger(ctx, cfg, trigger); err != nil {
		return nil, err
	}
	e, err := pipeline.NewExecution(cfg, r.cfg.NewID(), trigger, r.now(), r.cfg.NewID)
	if err != nil {
		return nil, err
	}
	// The new run is this node's before it is stored, so that no other
	// node's sweep takes it.
	lost, ok, err := r.cfg.Locks.TryLock(ctx, executionLock(e.ID))
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("execution id %s is locked already", e.ID)
	}
	driver := r.cfg.NewID()
	if err := r.cfg.Store.CreateExecution(ctx, e, driver, fired); err != nil {
		r.unlock(e.ID)
		return nil, err
	}
	r.saved(e.ID)
	r.cfg.Log.Info("execution started", "execution", e.ID, "application", e.Application, "pipeline", e.Name, "trigger", trigger["type"])
	r.launch(clone(e), lost, driver)
	return e, nil
}

// Execution implements pipeline.Service.
func (r *Runner) Execution(ctx context.Context, id string) (*pipeline.Execution, error) {
	return r.cfg.Store.Execution(ctx, id)
}

// Executions implements pipeline.Service.
func (r *Runner) Executions(ctx context.Context, f pipeline.ExecutionFilter) ([]*pipeline.Execution, error) {
	return r.cfg.Store.Executions(ctx, f)
}

// Cancel implements pipeline.Service. The request is stored on the
// execution first (pipeline.Store.RequestCancel), then handed to the node
// that drives the run: this one, another one (Config.Relay), or, when no
// node drives it, this one, which takes the run and applies it. It answers
// once the request is stored: a node that dies meanwhile leaves it to the
// node that takes its runs over, which applies it at once.
func (r *Runner) Cancel(ctx context.Context, id, user, reason string) error {
	if err := r.cfg.Store.RequestCancel(ctx, id, pipeline.CancelRequest{User: user, Reason: reason}); err != nil {
		return err
	}
	r.mu.Lock()
	ru := r.active[id]
	r.mu.Unlock()
	if ru != nil {
		ru.cancel(user, reason)
		return nil
	}
	e, lost, driver, err := r.take(ctx, id)
	switch {
	case err != nil:
		r.cfg.Log.Error("taking a canceled execution failed; the sweep applies its cancel", "execution", id, "err", err)
	case e != nil:
		// Driven by no node (its node died, or a resume failed): this one
		// applies the cancel, canceling its bakes too.
		r.launch(e, lost, driver)
	case r.cfg.Relay != nil:
		if err := r.cfg.Relay.Send(ctx, id, user, reason); err != nil {
			r.cfg.Log.Error("sending a cancel to the node that drives the execution failed; that node applies it at its next save", "execution", id, "err", err)
		}
	}
	return nil
}

// saved tells Config.Saved that execution id was written.
func (r *Runner) saved(id string) {
	if r.cfg.Saved != nil {
		r.cfg.Saved(id)
	}
}

// Relayed cancels execution id if this node drives it: another node
// received the cancel (see Config.Relay).
func (r *Runner) Relayed(id, user, reason string) {
	r.mu.Lock()
	ru := r.active[id]
	r.mu.Unlock()
	if ru != nil {
		r.cfg.Log.Info("cancel received by another node", "execution", id)
		ru.cancel(user, reason)
	}
}

func atoi(v any) (int, bool) {
	switch v := v.(type) {
	case float64:
		return int(v), v == float64(int(v))
	case int:
		return v, true
	case string:
		n, err := strconv.Atoi(v)
		return n, err == nil
	case interface{ Int64() (int64, error) }:
		n, err := v.Int64()
		return int(n), err == nil
	}
	return 0, false
}
