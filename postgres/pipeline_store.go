package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/bakehouse/bakehouse"
	"github.com/bakehouse/bakehouse/pipeline"
	"github.com/jackc/pgx/v5"
)

var _ pipeline.Store = (*PipelineStore)(nil)

// PipelineStore keeps pipeline configs, executions and Jenkins cursors in
// the bakery's database.
type PipelineStore struct {
	db *DB
}

// NewPipelineStore returns the pipeline store of db.
func NewPipelineStore(db *DB) *PipelineStore { return &PipelineStore{db: db} }

// SaveConfig implements pipeline.Store. Saves take one advisory lock, so
// that two nodes saving the same new pipeline at once make one config
// (SQLite gets that from its single writer); saves are rare.
func (s *PipelineStore) SaveConfig(ctx context.Context, cfg *pipeline.Config, newID string) (*pipeline.Config, error) {
	app, name := cfg.Application(), cfg.Name()
	var out *pipeline.Config
	err := pgx.BeginFunc(ctx, s.db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, 0)`, lockPipeline); err != nil {
			return err
		}
		id := cfg.ID()
		var found string
		var err error
		if id != "" {
			err = tx.QueryRow(ctx, `SELECT id FROM pipeline_configs WHERE id = $1`, id).Scan(&found)
		}
		if found == "" && (id == "" || errors.Is(err, pgx.ErrNoRows)) {
			err = tx.QueryRow(ctx, `SELECT id FROM pipeline_configs WHERE application = $1 AND name = $2`, app, name).Scan(&found)
		}
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		switch {
		case found != "":
			id = found
		case id == "":
			id = newID
		}
		out = &pipeline.Config{Fields: make(map[string]any, len(cfg.Fields)+1)}
		for k, v := range cfg.Fields {
			out.Fields[k] = v
		}
		out.Fields["id"] = id
		body, err := json.Marshal(out.Fields)
		if err != nil {
			return err
		}
		// The row with id, if any, takes the new name; another row with
		// the new name (a rename onto it) is a conflict the caller is
		// told of.
		var clash string
		err = tx.QueryRow(ctx, `SELECT id FROM pipeline_configs WHERE application = $1 AND name = $2 AND id != $3`, app, name, id).Scan(&clash)
		if err == nil {
			return &bakehouse.Error{Code: bakehouse.ECONFLICT, Field: "name",
				Message: fmt.Sprintf("application %s already has a pipeline named %q (id %s): choose another name or save with that id", app, name, clash)}
		} else if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO pipeline_configs (id, application, name, body, updated_at) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (id) DO UPDATE SET application = excluded.application, name = excluded.name, body = excluded.body, updated_at = excluded.updated_at`,
			id, app, name, string(body), s.db.Now().UnixMilli())
		return err
	})
	var be *bakehouse.Error
	if errors.As(err, &be) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("save pipeline: %w", err)
	}
	return out, nil
}

func (s *PipelineStore) config(ctx context.Context, what, q string, args ...any) (*pipeline.Config, error) {
	var body string
	err := s.db.pool.QueryRow(ctx, q, args...).Scan(&body)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, bakehouse.Errorf(bakehouse.ENOTFOUND, "pipeline %s not found", what)
	}
	if err != nil {
		return nil, fmt.Errorf("read pipeline %s: %w", what, err)
	}
	return pipeline.ParseConfig([]byte(body))
}

// ConfigByName implements pipeline.Store.
func (s *PipelineStore) ConfigByName(ctx context.Context, app, name string) (*pipeline.Config, error) {
	return s.config(ctx, fmt.Sprintf("%q of application %s", name, app),
		`SELECT body FROM pipeline_configs WHERE application = $1 AND name = $2`, app, name)
}

// ConfigByID implements pipeline.Store.
func (s *PipelineStore) ConfigByID(ctx context.Context, id string) (*pipeline.Config, error) {
	return s.config(ctx, id, `SELECT body FROM pipeline_configs WHERE id = $1`, id)
}

// Configs implements pipeline.Store.
func (s *PipelineStore) Configs(ctx context.Context, app string) ([]*pipeline.Config, error) {
	q, args := `SELECT body FROM pipeline_configs ORDER BY application, name`, []any(nil)
	if app != "" {
		q, args = `SELECT body FROM pipeline_configs WHERE application = $1 ORDER BY name`, []any{app}
	}
	bodies, err := s.bodies(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list pipelines: %w", err)
	}
	out := []*pipeline.Config{}
	for _, body := range bodies {
		c, err := pipeline.ParseConfig([]byte(body))
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

func (s *PipelineStore) bodies(ctx context.Context, q string, args ...any) ([]string, error) {
	rows, err := s.db.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// DeleteConfig implements pipeline.Store.
func (s *PipelineStore) DeleteConfig(ctx context.Context, app, name string) error {
	tag, err := s.db.pool.Exec(ctx, `DELETE FROM pipeline_configs WHERE application = $1 AND name = $2`, app, name)
	if err != nil {
		return fmt.Errorf("delete pipeline: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return bakehouse.Errorf(bakehouse.ENOTFOUND, "pipeline %q of application %s not found", name, app)
	}
	return nil
}

// CreateExecution implements pipeline.Store.
func (s *PipelineStore) CreateExecution(ctx context.Context, e *pipeline.Execution, driver string, fired *pipeline.FiredBuild) error {
	body, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("create execution: %w", err)
	}
	var firedBy *string
	if fired != nil {
		k := fired.Key(e.PipelineConfigID)
		firedBy = &k
	}
	tag, err := s.db.pool.Exec(ctx, `INSERT INTO executions (id, application, pipeline_config_id, status, build_time, body, driver, fired_by)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (fired_by) WHERE fired_by IS NOT NULL DO NOTHING`,
		e.ID, e.Application, e.PipelineConfigID, string(e.Status), e.BuildTime, string(body), driver, firedBy)
	if err != nil {
		return fmt.Errorf("create execution: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("build #%d of %s on %s: %w", fired.Number, fired.Job, fired.Master, pipeline.ErrBuildFired)
	}
	return nil
}

// executionColumns are what an execution is read from: its body and the
// cancel request stored beside it.
const executionColumns = `body, cancel_requested, cancel_user, cancel_reason`

// scanExecution reads executionColumns.
func scanExecution(row pgx.Row) (*pipeline.Execution, error) {
	var body string
	var c pipeline.CancelRequest
	var requested bool
	if err := row.Scan(&body, &requested, &c.User, &c.Reason); err != nil {
		return nil, err
	}
	e, err := decodeExecution(body)
	if err != nil {
		return nil, err
	}
	if requested {
		c.Apply(e)
	}
	return e, nil
}

// TakeExecution implements pipeline.Store.
func (s *PipelineStore) TakeExecution(ctx context.Context, id, driver string) (*pipeline.Execution, error) {
	e, err := scanExecution(s.db.pool.QueryRow(ctx, `UPDATE executions SET driver = $2 WHERE id = $1 RETURNING `+executionColumns, id, driver))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, bakehouse.Errorf(bakehouse.ENOTFOUND, "execution %s not found", id)
	}
	if err != nil {
		return nil, fmt.Errorf("take execution %s: %w", id, err)
	}
	return e, nil
}

// SaveExecution implements pipeline.Store: the UPDATE names the driver,
// so a node that lost the run writes nothing.
func (s *PipelineStore) SaveExecution(ctx context.Context, e *pipeline.Execution, driver string) (*pipeline.CancelRequest, error) {
	body, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("save execution: %w", err)
	}
	var c pipeline.CancelRequest
	var requested bool
	err = s.db.pool.QueryRow(ctx, `UPDATE executions SET status = $1, body = $2 WHERE id = $3 AND driver = $4
		RETURNING cancel_requested, cancel_user, cancel_reason`, string(e.Status), string(body), e.ID, driver).Scan(&requested, &c.User, &c.Reason)
	if errors.Is(err, pgx.ErrNoRows) {
		var n int
		if err := s.db.pool.QueryRow(ctx, `SELECT count(*) FROM executions WHERE id = $1`, e.ID).Scan(&n); err != nil {
			return nil, fmt.Errorf("save execution %s: %w", e.ID, err)
		}
		if n == 0 {
			return nil, bakehouse.Errorf(bakehouse.ENOTFOUND, "execution %s not found", e.ID)
		}
		return nil, fmt.Errorf("save execution %s: %w", e.ID, pipeline.ErrNotDriver)
	}
	if err != nil {
		return nil, fmt.Errorf("save execution %s: %w", e.ID, err)
	}
	if !requested {
		return nil, nil
	}
	return &c, nil
}

// RequestCancel implements pipeline.Store.
func (s *PipelineStore) RequestCancel(ctx context.Context, id string, c pipeline.CancelRequest) error {
	tag, err := s.db.pool.Exec(ctx, `UPDATE executions SET cancel_requested = true, cancel_user = $2, cancel_reason = $3
		WHERE id = $1 AND NOT cancel_requested AND NOT (status = ANY($4))`, id, c.User, c.Reason, pipeline.CompleteStatuses())
	if err != nil {
		return fmt.Errorf("cancel execution %s: %w", id, err)
	}
	if tag.RowsAffected() > 0 {
		return nil
	}
	var status string
	err = s.db.pool.QueryRow(ctx, `SELECT status FROM executions WHERE id = $1`, id).Scan(&status)
	if errors.Is(err, pgx.ErrNoRows) {
		return bakehouse.Errorf(bakehouse.ENOTFOUND, "execution %s not found", id)
	}
	if err != nil {
		return fmt.Errorf("cancel execution %s: %w", id, err)
	}
	if st := pipeline.Status(status); st.Complete() {
		return pipeline.CancelEnded(id, st)
	}
	return nil // asked already: the first request stands
}

// Execution implements pipeline.Store.
func (s *PipelineStore) Execution(ctx context.Context, id string) (*pipeline.Execution, error) {
	e, err := scanExecution(s.db.pool.QueryRow(ctx, `SELECT `+executionColumns+` FROM executions WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, bakehouse.Errorf(bakehouse.ENOTFOUND, "execution %s not found", id)
	}
	if err != nil {
		return nil, fmt.Errorf("read execution %s: %w", id, err)
	}
	return e, nil
}

func decodeExecution(body string) (*pipeline.Execution, error) {
	d := json.NewDecoder(strings.NewReader(body))
	d.UseNumber()
	var e pipeline.Execution
	if err := d.Decode(&e); err != nil {
		return nil, fmt.Errorf("decode execution: %w", err)
	}
	return &e, nil
}

// Executions implements pipeline.Store.
func (s *PipelineStore) Executions(ctx context.Context, f pipeline.ExecutionFilter) ([]*pipeline.Execution, error) {
	var where []string
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if f.Application != "" {
		add("application = $%d", f.Application)
	}
	if len(f.IDs) > 0 {
		add("id = ANY($%d)", f.IDs)
	}
	if len(f.PipelineConfigIDs) > 0 {
		add("pipeline_config_id = ANY($%d)", f.PipelineConfigIDs)
	}
	if len(f.Statuses) > 0 {
		st := make([]string, len(f.Statuses))
		for i, v := range f.Statuses {
			st[i] = string(v)
		}
		add("status = ANY($%d)", st)
	}
	q := `SELECT ` + executionColumns + ` FROM executions`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 25
	}
	args = append(args, limit)
	q += fmt.Sprintf(" ORDER BY build_time DESC, seq DESC LIMIT $%d", len(args))
	rows, err := s.db.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list executions: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*pipeline.Execution, error) { return scanExecution(row) })
	if err != nil {
		return nil, fmt.Errorf("list executions: %w", err)
	}
	if out == nil {
		out = []*pipeline.Execution{}
	}
	return out, nil
}

// Cursor implements pipeline.Store.
func (s *PipelineStore) Cursor(ctx context.Context, master, job string) (int, bool, error) {
	var n int
	err := s.db.pool.QueryRow(ctx, `SELECT last_build FROM jenkins_cursors WHERE master = $1 AND job = $2`, master, job).Scan(&n)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("read jenkins cursor: %w", err)
	}
	return n, true, nil
}

// SetCursor implements pipeline.Store.
func (s *PipelineStore) SetCursor(ctx context.Context, master, job string, n int) error {
	if _, err := s.db.pool.Exec(ctx, `INSERT INTO jenkins_cursors (master, job, last_build) VALUES ($1, $2, $3)
		ON CONFLICT (master, job) DO UPDATE SET last_build = excluded.last_build`, master, job, n); err != nil {
		return fmt.Errorf("write jenkins cursor: %w", err)
	}
	return nil
}
