package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/bakehouse/bakehouse"
)

// Store keeps pipeline configs, executions and the Jenkins trigger's
// build cursors. Executions are stored whole, as the JSON Gate answers, and
// rewritten as they progress; the node that drives a run is its only
// writer, and the store enforces that (see SaveExecution).
type Store interface {
	// SaveConfig inserts or updates cfg in one transaction: the config
	// with cfg's id, else the one with its application and name, else a
	// new one with id newID. It returns the config as stored (with its id).
	SaveConfig(ctx context.Context, cfg *Config, newID string) (*Config, error)
	// ConfigByName returns app's config named name (ENOTFOUND if none).
	ConfigByName(ctx context.Context, app, name string) (*Config, error)
	// ConfigByID returns the config with id (ENOTFOUND if none).
	ConfigByID(ctx context.Context, id string) (*Config, error)
	// Configs returns app's configs by name, or every config for "".
	Configs(ctx context.Context, app string) ([]*Config, error)
	// DeleteConfig removes app's config named name (ENOTFOUND if none).
	DeleteConfig(ctx context.Context, app, name string) error

	// CreateExecution inserts a new execution that driver drives (see
	// SaveExecution). A run fired by a Jenkins build (fired not nil) is
	// stored with the build's identity under a unique constraint, in the
	// same statement: a second run of the same pipeline for the same build
	// (a node that died after starting the run and before storing the
	// job's cursor, then the poll that followed) is refused with
	// ErrBuildFired and nothing is stored.
	CreateExecution(ctx context.Context, e *Execution, driver string, fired *FiredBuild) error
	// TakeExecution makes driver the only writer of execution id (the
	// previous driver's saves fail from now on) and returns the execution
	// as stored, cancel request included (ENOTFOUND if none). The runner
	// calls it once it holds the execution's lock.
	TakeExecution(ctx context.Context, id, driver string) (*Execution, error)
	// SaveExecution rewrites a stored execution if driver still drives it;
	// if another node took it over meanwhile (this node's lock went with
	// its database session), nothing is written and the error is
	// ErrNotDriver. It returns the cancel request stored on the execution
	// (RequestCancel), nil if none, so that the driver applies it.
	SaveExecution(ctx context.Context, e *Execution, driver string) (*CancelRequest, error)
	// RequestCancel stores a cancel request on execution id, which has not
	// ended (ECONFLICT if it has, ENOTFOUND if there is none), as Orca sets
	// canceled and canceledBy: whichever node drives the run, now or after
	// its node died, applies it. The first request is kept.
	RequestCancel(ctx context.Context, id string, c CancelRequest) error
	// Execution returns one execution (ENOTFOUND if none), with the cancel
	// request stored on it applied (see CancelRequest.Apply).
	Execution(ctx context.Context, id string) (*Execution, error)
	// Executions returns the executions f selects, newest first, as
	// Execution does.
	Executions(ctx context.Context, f ExecutionFilter) ([]*Execution, error)

	// Cursor returns the newest build number the trigger has seen for a
	// Jenkins job, and false before the first poll of that job.
	Cursor(ctx context.Context, master, job string) (int, bool, error)
	// SetCursor records the newest build number seen for a job.
	SetCursor(ctx context.Context, master, job string, n int) error
}

// ErrBuildFired is CreateExecution's answer to a second run of a pipeline
// for a Jenkins build that already started one.
var ErrBuildFired = errors.New("this Jenkins build already started a run of this pipeline")

// ErrNotDriver is SaveExecution's answer to a node that no longer drives
// the execution: another node took it over, and this one must stop.
var ErrNotDriver = errors.New("another node drives this execution now")

// FiredBuild is the Jenkins build whose trigger starts a run.
type FiredBuild struct {
	Master, Job string
	Number      int
}

// Key is the identity a run of pipeline configID fired by b is stored
// under, one run per pipeline and build: a JSON array, so that no name
// can run into the next.
func (b FiredBuild) Key(configID string) string {
	k, _ := json.Marshal([]any{configID, b.Master, b.Job, b.Number})
	return string(k)
}

// CancelRequest is a cancel asked of a run that has not ended yet.
type CancelRequest struct {
	User, Reason string
}

// Apply shows c on e as Orca does while a cancel is under way (canceled
// true, canceledBy, cancellationReason) unless e records a cancel already
// or ended (a cancel that came too late changes nothing); nil c changes
// nothing.
func (c *CancelRequest) Apply(e *Execution) {
	if c == nil || e.Canceled || e.Status.Complete() {
		return
	}
	e.Canceled, e.CanceledBy, e.CancelReason = true, c.User, c.Reason
}

// CompleteStatuses are the final statuses (Status.Complete), for the
// stores' queries.
func CompleteStatuses() []string {
	return []string{string(Succeeded), string(FailedContinue), string(Terminal), string(Canceled), string(Stopped), string(Skipped)}
}

// CancelEnded is the answer to a cancel of execution id, which ended st.
func CancelEnded(id string, st Status) error {
	return &bakehouse.Error{Code: bakehouse.ECONFLICT, Message: fmt.Sprintf("execution %s already ended %s: there is nothing to cancel", id, st)}
}
