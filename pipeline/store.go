package pipeline

import "context"

// Store keeps pipeline configs, executions and the Jenkins trigger's
// build cursors. Executions are stored whole, as the JSON Gate answers, and
// rewritten as they progress; the runner is their only writer.
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

	// CreateExecution inserts a new execution.
	CreateExecution(ctx context.Context, e *Execution) error
	// SaveExecution rewrites a stored execution.
	SaveExecution(ctx context.Context, e *Execution) error
	// Execution returns one execution (ENOTFOUND if none).
	Execution(ctx context.Context, id string) (*Execution, error)
	// Executions returns the executions f selects, newest first.
	Executions(ctx context.Context, f ExecutionFilter) ([]*Execution, error)

	// Cursor returns the newest build number the trigger has seen for a
	// Jenkins job, and false before the first poll of that job.
	Cursor(ctx context.Context, master, job string) (int, bool, error)
	// SetCursor records the newest build number seen for a job.
	SetCursor(ctx context.Context, master, job string, n int) error
}
