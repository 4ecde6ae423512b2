package runner

import (
	"context"
	"fmt"
	"strconv"
	"time"

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
	if err := r.cfg.Store.CreateExecution(ctx, e); err != nil {
		r.unlock(e.ID)
		return nil, err
	}
	r.saved(e.ID)
	r.cfg.Log.Info("execution started", "execution", e.ID, "application", e.Application, "pipeline", e.Name, "trigger", trigger["type"])
	r.launch(clone(e), lost)
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

// Cancel implements pipeline.Service.
func (r *Runner) Cancel(ctx context.Context, id, user, reason string) error {
	r.mu.Lock()
	ru := r.active[id]
	r.mu.Unlock()
	if ru != nil {
		// A run that has just ended is answered from the store below.
		ru.mu.Lock()
		ended := ru.ended
		ru.mu.Unlock()
		if !ended {
			ru.cancel(user, reason)
			return nil
		}
	}
	e, err := r.cfg.Store.Execution(ctx, id)
	if err != nil {
		return err
	}
	if e.Status.Complete() {
		return &bakehouse.Error{Code: bakehouse.ECONFLICT, Message: fmt.Sprintf("execution %s already ended %s: there is nothing to cancel", id, e.Status)}
	}
	_, ok, err := r.cfg.Locks.TryLock(ctx, executionLock(id))
	if err != nil {
		return err
	}
	if !ok {
		return r.relayCancel(ctx, id, user, reason)
	}
	defer r.unlock(id)
	// Read again under the lock: the node that ran it may have ended it.
	if e, err = r.cfg.Store.Execution(ctx, id); err != nil {
		return err
	}
	if e.Status.Complete() {
		return &bakehouse.Error{Code: bakehouse.ECONFLICT, Message: fmt.Sprintf("execution %s already ended %s: there is nothing to cancel", id, e.Status)}
	}
	// Stored as running but driven by no node (a resume failed): end it.
	now := r.now()
	e.Canceled, e.CanceledBy, e.CancelReason = true, user, reason
	e.Status, e.EndTime = pipeline.Canceled, &now
	if err := r.cfg.Store.SaveExecution(ctx, e); err != nil {
		return err
	}
	r.saved(id)
	return nil
}

// saved tells Config.Saved that execution id was written.
func (r *Runner) saved(id string) {
	if r.cfg.Saved != nil {
		r.cfg.Saved(id)
	}
}

// relayCancelWait is how long a cancel sent to the node that drives the
// execution may take to show in the store.
const relayCancelWait = 10 * time.Second

// relayCancel sends the cancel of execution id, which another node
// drives, to that node, and waits until the execution ended.
func (r *Runner) relayCancel(ctx context.Context, id, user, reason string) error {
	if r.cfg.Relay == nil {
		return &bakehouse.Error{Code: bakehouse.ECONFLICT, Message: fmt.Sprintf("execution %s is run by another Bakehouse node, and this one cannot reach it", id)}
	}
	if err := r.cfg.Relay.Send(ctx, id, user, reason); err != nil {
		return err
	}
	for deadline := time.Now().Add(relayCancelWait); ; {
		e, err := r.cfg.Store.Execution(ctx, id)
		if err != nil {
			return err
		}
		if e.Status.Complete() {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("execution %s: the node that runs it did not cancel it within %s; try again", id, relayCancelWait)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
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
