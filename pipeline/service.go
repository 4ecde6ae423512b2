package pipeline

import "context"

// Service is what Gate's pipeline paths and the CLI ask of Bakehouse:
// stored pipeline configs and the executions that run them. The runner
// package implements it; http serves it and is the CLI's client of it.
// Errors are *bakehouse.Error: ENOTFOUND for an absent pipeline or
// execution, EINVALID (naming the field) for a config or trigger that
// cannot be saved or run.
type Service interface {
	// SavePipeline stores cfg: it updates the config with cfg's id, or
	// else the one with the same application and name, or creates one
	// with a new id. It returns the config as stored.
	SavePipeline(ctx context.Context, cfg *Config) (*Config, error)
	// Pipeline returns application app's config named name.
	Pipeline(ctx context.Context, app, name string) (*Config, error)
	// Pipelines returns app's configs, by name.
	Pipelines(ctx context.Context, app string) ([]*Config, error)
	// DeletePipeline removes app's config named name.
	DeletePipeline(ctx context.Context, app, name string) error
	// Applications lists the applications that have pipelines, by name.
	Applications(ctx context.Context) ([]string, error)

	// Start runs app's pipeline named name with trigger (Gate's body:
	// {"type":"manual","rebake":true,"buildInfo":{...},...}) and returns
	// the new execution, already stored.
	Start(ctx context.Context, app, name string, trigger map[string]any) (*Execution, error)
	// Execution returns one execution.
	Execution(ctx context.Context, id string) (*Execution, error)
	// Executions returns executions matching f, newest first.
	Executions(ctx context.Context, f ExecutionFilter) ([]*Execution, error)
	// Cancel cancels a running execution: its running stages end
	// CANCELED (their bakes are canceled) and nothing more starts.
	Cancel(ctx context.Context, id, user, reason string) error
}

// ExecutionFilter selects executions, as Gate's GET /executions and
// GET /applications/{app}/pipelines take them. Empty fields match all.
type ExecutionFilter struct {
	Application       string
	IDs               []string
	PipelineConfigIDs []string
	Statuses          []Status
	Limit             int // 0: the default (25, as Gate's)
}
