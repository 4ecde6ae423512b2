package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/bakehouse/bakehouse"
	"github.com/bakehouse/bakehouse/pipeline"
)

var _ pipeline.Store = (*PipelineStore)(nil)

// PipelineStore keeps pipeline configs, executions and Jenkins cursors in
// the bakery's database.
type PipelineStore struct {
	db *DB
}

// NewPipelineStore returns the pipeline store of db.
func NewPipelineStore(db *DB) *PipelineStore { return &PipelineStore{db: db} }

// SaveConfig implements pipeline.Store.
func (s *PipelineStore) SaveConfig(ctx context.Context, cfg *pipeline.Config, newID string) (*pipeline.Config, error) {
	app, name := cfg.Application(), cfg.Name()
	tx, err := s.db.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("save pipeline: %w", err)
	}
	defer tx.Rollback()
	id := cfg.ID()
	var found string
	if id != "" {
		err = tx.QueryRowContext(ctx, `SELECT id FROM pipeline_configs WHERE id = ?`, id).Scan(&found)
	}
	if found == "" && (id == "" || errors.Is(err, sql.ErrNoRows)) {
		err = tx.QueryRowContext(ctx, `SELECT id FROM pipeline_configs WHERE application = ? AND name = ?`, app, name).Scan(&found)
	}
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("save pipeline: %w", err)
	}
	switch {
	case found != "":
		id = found
	case id == "":
		id = newID
	}
	out := &pipeline.Config{Fields: make(map[string]any, len(cfg.Fields)+1)}
	for k, v := range cfg.Fields {
		out.Fields[k] = v
	}
	out.Fields["id"] = id
	body, err := json.Marshal(out.Fields)
	if err != nil {
		return nil, fmt.Errorf("save pipeline: %w", err)
	}
	// The row with id, if any, takes the new name; another row with the
	// new name (a rename onto it) is a conflict the caller is told of.
	var clash string
	err = tx.QueryRowContext(ctx, `SELECT id FROM pipeline_configs WHERE application = ? AND name = ? AND id != ?`, app, name, id).Scan(&clash)
	if err == nil {
		return nil, &bakehouse.Error{Code: bakehouse.ECONFLICT, Field: "name",
			Message: fmt.Sprintf("application %s already has a pipeline named %q (id %s): choose another name or save with that id", app, name, clash)}
	} else if !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("save pipeline: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO pipeline_configs (id, application, name, body, updated_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET application = excluded.application, name = excluded.name, body = excluded.body, updated_at = excluded.updated_at`,
		id, app, name, string(body), s.db.Now().UnixMilli()); err != nil {
		return nil, fmt.Errorf("save pipeline: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("save pipeline: %w", err)
	}
	return out, nil
}

func (s *PipelineStore) config(ctx context.Context, what, q string, args ...any) (*pipeline.Config, error) {
	var body string
	err := s.db.read.QueryRowContext(ctx, q, args...).Scan(&body)
	if errors.Is(err, sql.ErrNoRows) {
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
		`SELECT body FROM pipeline_configs WHERE application = ? AND name = ?`, app, name)
}

// ConfigByID implements pipeline.Store.
func (s *PipelineStore) ConfigByID(ctx context.Context, id string) (*pipeline.Config, error) {
	return s.config(ctx, id, `SELECT body FROM pipeline_configs WHERE id = ?`, id)
}

// Configs implements pipeline.Store.
func (s *PipelineStore) Configs(ctx context.Context, app string) ([]*pipeline.Config, error) {
	q, args := `SELECT body FROM pipeline_configs ORDER BY application, name`, []any(nil)
	if app != "" {
		q, args = `SELECT body FROM pipeline_configs WHERE application = ? ORDER BY name`, []any{app}
	}
	rows, err := s.db.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list pipelines: %w", err)
	}
	defer rows.Close()
	out := []*pipeline.Config{}
	for rows.Next() {
		var body string
		if err := rows.Scan(&body); err != nil {
			return nil, fmt.Errorf("list pipelines: %w", err)
		}
		c, err := pipeline.ParseConfig([]byte(body))
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// DeleteConfig implements pipeline.Store.
func (s *PipelineStore) DeleteConfig(ctx context.Context, app, name string) error {
	res, err := s.db.db.ExecContext(ctx, `DELETE FROM pipeline_configs WHERE application = ? AND name = ?`, app, name)
	if err != nil {
		return fmt.Errorf("delete pipeline: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
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
	res, err := s.db.db.ExecContext(ctx, `INSERT INTO executions (id, application, pipeline_config_id, status, build_time, body, driver, fired_by)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (fired_by) WHERE fired_by IS NOT NULL DO NOTHING`,
		e.ID, e.Application, e.PipelineConfigID, string(e.Status), e.BuildTime, string(body), driver, firedBy)
	if err != nil {
		return fmt.Errorf("create execution: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("build #%d of %s on %s: %w", fired.Number, fired.Job, fired.Master, pipeline.ErrBuildFired)
	}
	return nil
}

// executionColumns are what an execution is read from: its body and the
// cancel request stored beside it.
const executionColumns = `body, cancel_requested, cancel_user, cancel_reason`

// scanExecution reads executionColumns.
func scanExecution(scan func(...any) error) (*pipeline.Execution, error) {
	var body string
	var c pipeline.CancelRequest
	var requested bool
	if err := scan(&body, &requested, &c.User, &c.Reason); err != nil {
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
	e, err := scanExecution(s.db.db.QueryRowContext(ctx, `UPDATE executions SET driver = ? WHERE id = ? RETURNING `+executionColumns, driver, id).Scan)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, bakehouse.Errorf(bakehouse.ENOTFOUND, "execution %s not found", id)
	}
	if err != nil {
		return nil, fmt.Errorf("take execution %s: %w", id, err)
	}
	return e, nil
}

// SaveExecution implements pipeline.Store: the UPDATE names the driver,
// so a runner that lost the run writes nothing.
func (s *PipelineStore) SaveExecution(ctx context.Context, e *pipeline.Execution, driver string) (*pipeline.CancelRequest, error) {
	body, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("save execution: %w", err)
	}
	var c pipeline.CancelRequest
	var requested bool
	err = s.db.db.QueryRowContext(ctx, `UPDATE executions SET status = ?, body = ? WHERE id = ? AND driver = ?
		RETURNING cancel_requested, cancel_user, cancel_reason`, string(e.Status), string(body), e.ID, driver).Scan(&requested, &c.User, &c.Reason)
	if errors.Is(err, sql.ErrNoRows) {
		var n int
		if err := s.db.db.QueryRowContext(ctx, `SELECT count(*) FROM executions WHERE id = ?`, e.ID).Scan(&n); err != nil {
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
	done := pipeline.CompleteStatuses()
	args := []any{c.User, c.Reason, id}
	for _, st := range done {
		args = append(args, st)
	}
	res, err := s.db.db.ExecContext(ctx, `UPDATE executions SET cancel_requested = 1, cancel_user = ?, cancel_reason = ?
		WHERE id = ? AND NOT cancel_requested AND status NOT IN (`+strings.TrimSuffix(strings.Repeat("?,", len(done)), ",")+`)`, args...)
	if err != nil {
		return fmt.Errorf("cancel execution %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n > 0 {
		return nil
	}
	var status string
	err = s.db.db.QueryRowContext(ctx, `SELECT status FROM executions WHERE id = ?`, id).Scan(&status)
	if errors.Is(err, sql.ErrNoRows) {
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
	e, err := scanExecution(s.db.read.QueryRowContext(ctx, `SELECT `+executionColumns+` FROM executions WHERE id = ?`, id).Scan)
	if errors.Is(err, sql.ErrNoRows) {
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
	in := func(col string, vals []string) {
		if len(vals) == 0 {
			return
		}
		where = append(where, col+" IN ("+strings.TrimSuffix(strings.Repeat("?,", len(vals)), ",")+")")
		for _, v := range vals {
			args = append(args, v)
		}
	}
	if f.Application != "" {
		where = append(where, "application = ?")
		args = append(args, f.Application)
	}
	in("id", f.IDs)
	in("pipeline_config_id", f.PipelineConfigIDs)
	st := make([]string, len(f.Statuses))
	for i, v := range f.Statuses {
		st[i] = string(v)
	}
	in("status", st)
	q := `SELECT ` + executionColumns + ` FROM executions`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 25
	}
	q += " ORDER BY build_time DESC, rowid DESC LIMIT ?"
	args = append(args, limit)
	rows, err := s.db.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list executions: %w", err)
	}
	defer rows.Close()
	out := []*pipeline.Execution{}
	for rows.Next() {
		e, err := scanExecution(rows.Scan)
		if err != nil {
			return nil, fmt.Errorf("list executions: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// Cursor implements pipeline.Store.
func (s *PipelineStore) Cursor(ctx context.Context, master, job string) (int, bool, error) {
	var n int
	err := s.db.read.QueryRowContext(ctx, `SELECT last_build FROM jenkins_cursors WHERE master = ? AND job = ?`, master, job).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("read jenkins cursor: %w", err)
	}
	return n, true, nil
}

// SetCursor implements pipeline.Store.
func (s *PipelineStore) SetCursor(ctx context.Context, master, job string, n int) error {
	if _, err := s.db.db.ExecContext(ctx, `INSERT INTO jenkins_cursors (master, job, last_build) VALUES (?, ?, ?)
		ON CONFLICT (master, job) DO UPDATE SET last_build = excluded.last_build`, master, job, n); err != nil {
		return fmt.Errorf("write jenkins cursor: %w", err)
	}
	return nil
}
