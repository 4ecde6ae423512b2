package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/bakehouse/bakehouse"
	sqlitedriver "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

var _ bakehouse.BakeStore = (*BakeStore)(nil)

// BakeStore is the SQLite BakeStore. When a Queue is attached, CreateBake
// enqueues the bake's job in the same transaction that inserts the bake, so
// a bake row never exists without its job, nor a job without its row.
//
// Every method that writes a head column of the bakes table (headColumns:
// key, state, result, deleted, or a new row) calls s.heads.forget when
// it is done; storetest's ReadsFollowWrites checks each of them.
type BakeStore struct {
	db    *DB
	queue *Queue
	heads headCache
}

// NewBakeStore returns a store over db; queue may be nil (no jobs enqueued).
func NewBakeStore(db *DB, queue *Queue) *BakeStore {
	return &BakeStore{db: db, queue: queue}
}

const bakeColumns = `id, bake_key, rosco_key, region, provider, state, result, request, plan, reason,
	details, error, job_id, pid, phases, created_at, started_at, finished_at, deleted, queued_on, node, sealed_argv`

type scanner interface{ Scan(dest ...any) error }

func scanBake(s scanner) (*bakehouse.BakeRecord, error) {
	var (
		r                          bakehouse.BakeRecord
		result, details            sql.NullString
		request, plan, phases      string
		created, started, finished int64
	)
	err := s.Scan(&r.ID, &r.Key, &r.RoscoKey, &r.Region, &r.Provider, &r.State, &result, &request, &plan,
		&r.Reason, &details, &r.Error, &r.JobID, &r.PID, &phases, &created, &started, &finished, &r.Deleted,
		&r.QueuedOn, &r.Node, &r.SealedArgv)
	if err != nil {
		return nil, err
	}
	if result.Valid {
		res := bakehouse.BakeResult(result.String)
		r.Result = &res
	}
	if err := json.Unmarshal([]byte(request), &r.Request); err != nil {
		return nil, fmt.Errorf("decode request of bake %s: %w", r.ID, err)
	}
	if err := json.Unmarshal([]byte(plan), &r.Plan); err != nil {
		return nil, fmt.Errorf("decode plan of bake %s: %w", r.ID, err)
	}
	if err := json.Unmarshal([]byte(phases), &r.Phases); err != nil {
		return nil, fmt.Errorf("decode phases of bake %s: %w", r.ID, err)
	}
	if details.Valid {
		r.Details = new(bakehouse.Bake)
		if err := json.Unmarshal([]byte(details.String), r.Details); err != nil {
			return nil, fmt.Errorf("decode details of bake %s: %w", r.ID, err)
		}
	}
	r.CreatedAt = fromMillis(created)
	r.StartedAt = fromMillis(started)
	r.FinishedAt = fromMillis(finished)
	return &r, nil
}

func fromMillis(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

func toMillis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// headColumns are the columns of a bake that BakesByKey reads: what the
// bake rules read (see bakehouse.BakeStore). Each column costs a reused
// request allocations in the driver (its name, declared type and value),
// so the JSON documents and the rest of the record stay out.
const headColumns = `id, bake_key, state, result, created_at, deleted`

// scanHead reads a row of headColumns.
func scanHead(s scanner) (*bakehouse.BakeRecord, error) {
	var (
		r       bakehouse.BakeRecord
		result  sql.NullString
		created int64
	)
	if err := s.Scan(&r.ID, &r.Key, &r.State, &result, &created, &r.Deleted); err != nil {
		return nil, err
	}
	if result.Valid {
		res := bakehouse.BakeResult(result.String)
		r.Result = &res
	}
	r.CreatedAt = fromMillis(created)
	return &r, nil
}

const (
	bakesByKeyQuery = `SELECT ` + bakeColumns + ` FROM bakes WHERE bake_key = ? ORDER BY created_at DESC, rowid DESC`
	headsByKeyQuery = `SELECT ` + headColumns + ` FROM bakes WHERE bake_key = ? ORDER BY created_at DESC, rowid DESC`
	bakeByIDQuery   = `SELECT ` + bakeColumns + ` FROM bakes WHERE id = ?`
)

type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// bakesByKey yields the rows of bakesByKeyQuery, run on the readers'
// prepared statement or inside a write transaction.
func bakesByKey(rows *sql.Rows, err error, key string, scan func(scanner) (*bakehouse.BakeRecord, error), yield func(*bakehouse.BakeRecord) bool) error {
	if err != nil {
		return fmt.Errorf("bakes with key %s: %w", key, err)
	}
	defer rows.Close()
	for rows.Next() {
		r, err := scan(rows)
		if err != nil {
			return err
		}
		if !yield(r) {
			return nil
		}
	}
	return rows.Err()
}

// BakesByKey calls yield with every bake with key, deleted ones too,
// newest first, until yield returns false; rows after that are not read.
//
// Answers come from the head cache while no write happened since they
// were read (see headCache); a miss reads the database. The read does not
// watch ctx once it started: it is an indexed read of a few rows, shorter
// than what watching costs (database/sql and the driver each start a
// goroutine per query for a context that can be canceled).
func (s *BakeStore) BakesByKey(ctx context.Context, key string, yield func(*bakehouse.BakeRecord) bool) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("bakes with key %s: %w", key, err)
	}
	e, gen := s.heads.get(key)
	skip := 0
	if e != nil {
		for i := range e.heads {
			if !yield(copyHead(&e.heads[i])) {
				return nil
			}
		}
		if e.complete {
			return nil
		}
		// The caller wants more than the cached prefix: read on.
		skip = len(e.heads)
	}
	var read []bakehouse.BakeRecord
	complete := true
	rows, err := s.db.byKey.QueryContext(context.WithoutCancel(ctx), key)
	err = bakesByKey(rows, err, key, scanHead, func(r *bakehouse.BakeRecord) bool {
		read = append(read, *copyHead(r))
		if len(read) <= skip {
			return true
		}
		if !yield(r) {
			complete = false
			return false
		}
		return true
	})
	if err == nil && s.db.exclusive {
		s.heads.put(key, gen, &headEntry{heads: read, complete: complete})
	}
	return err
}

// copyHead returns a copy of a head record that shares nothing with it,
// so that what a caller does with its record never reaches the cache.
func copyHead(r *bakehouse.BakeRecord) *bakehouse.BakeRecord {
	c := *r
	if r.Result != nil {
		res := *r.Result
		c.Result = &res
	}
	return &c
}

// LatestByRoscoKey returns the newest bake with a Rosco key, to explain
// which of the inputs Rosco's key misses changed.
func (s *BakeStore) LatestByRoscoKey(ctx context.Context, roscoKey string) (*bakehouse.BakeRecord, error) {
	row := s.db.read.QueryRowContext(ctx, `SELECT `+bakeColumns+` FROM bakes WHERE rosco_key = ? ORDER BY created_at DESC, rowid DESC LIMIT 1`, roscoKey)
	r, err := scanBake(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return r, err
}

// Rekey sets the key of a RUNNING bake. The docker provider keys a bake
// whose base image does not exist yet by the image's name; once the bake
// has built it, the key names the image id, as later requests will.
func (s *BakeStore) Rekey(ctx context.Context, id, key string) error {
	defer s.heads.forget()
	_, err := s.db.db.ExecContext(ctx, `UPDATE bakes SET bake_key = ?, plan = json_set(plan, '$.bake_key', ?) WHERE id = ? AND state = 'RUNNING'`, key, key, id)
	return err
}

// CreateBake reads the bakes with p.Record's key, asks p.Decide, and
// applies its decision, all in one transaction. SQLite serializes write
// transactions (the pool has one connection and BEGIN IMMEDIATE takes the
// write lock), so no other CreateBake commits between the read and the
// insert.
func (s *BakeStore) CreateBake(ctx context.Context, p bakehouse.CreateBakeParams) (bakehouse.CreateBakeResult, error) {
	if err := bakehouse.CheckCreate(p); err != nil {
		return bakehouse.CreateBakeResult{}, err
	}
	defer s.heads.forget()
	tx, err := s.db.db.BeginTx(ctx, nil)
	if err != nil {
		return bakehouse.CreateBakeResult{}, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	res, err := bakehouse.CreateBakeIn(ctx, createTx{tx: tx, queue: s.queue}, p, s.db.Now())
	if err != nil {
		return bakehouse.CreateBakeResult{}, err
	}
	if err := tx.Commit(); err != nil {
		return bakehouse.CreateBakeResult{}, fmt.Errorf("commit: %w", err)
	}
	if s.queue != nil && !res.Reused {
		s.queue.Committed(ctx)
	}
	return res, nil
}

// createTx is CreateBake's transaction as bakehouse.CreateBakeIn uses it.
type createTx struct {
	tx    *sql.Tx
	queue *Queue
}

func (c createTx) BakesByKey(ctx context.Context, key string) ([]*bakehouse.BakeRecord, error) {
	var existing []*bakehouse.BakeRecord
	rows, err := c.tx.QueryContext(ctx, bakesByKeyQuery, key)
	err = bakesByKey(rows, err, key, scanBake, func(r *bakehouse.BakeRecord) bool {
		existing = append(existing, r)
		return true
	})
	return existing, err
}

func (c createTx) Finish(ctx context.Context, p bakehouse.FinishBakeParams, now time.Time) (bool, error) {
	return finish(ctx, c.tx, p, now)
}

func (c createTx) Insert(ctx context.Context, r *bakehouse.BakeRecord) error {
	return insertBake(ctx, c.tx, r)
}

func (c createTx) Enqueue(ctx context.Context, id string) (int64, error) {
	if c.queue == nil {
		return 0, nil
	}
	jobID, err := c.queue.InsertTx(ctx, c.tx, id)
	if err != nil {
		return 0, err
	}
	_, err = c.tx.ExecContext(ctx, `UPDATE bakes SET job_id = ? WHERE id = ?`, jobID, id)
	return jobID, err
}

func insertBake(ctx context.Context, tx *sql.Tx, r *bakehouse.BakeRecord) error {
	request, err := json.Marshal(r.Request)
	if err != nil {
		return err
	}
	plan, err := json.Marshal(r.Plan)
	if err != nil {
		return err
	}
	phases, err := json.Marshal(nonNilPhases(r.Phases))
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO bakes (id, bake_key, rosco_key, region, provider, state, result, request, plan,
		reason, error, phases, created_at, execution_id, queued_on, sealed_argv) VALUES (?, ?, ?, ?, ?, 'RUNNING', NULL, ?, ?, ?, '', ?, ?, ?, ?, ?)`,
		r.ID, r.Key, r.RoscoKey, r.Region, r.Provider, string(request), string(plan), r.Reason, string(phases), toMillis(r.CreatedAt),
		r.Request.SpinnakerExecutionID, r.QueuedOn, r.SealedArgv)
	var serr *sqlitedriver.Error
	if errors.As(err, &serr) && serr.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY {
		return fmt.Errorf("insert bake %s: %w", r.ID, bakehouse.ErrBakeExists)
	}
	if err != nil {
		return fmt.Errorf("insert bake %s: %w", r.ID, err)
	}
	return nil
}

func nonNilPhases(p []bakehouse.Phase) []bakehouse.Phase {
	if p == nil {
		return []bakehouse.Phase{}
	}
	return p
}

// Bake returns the bake with id, or an ENOTFOUND error.
func (s *BakeStore) Bake(ctx context.Context, id string) (*bakehouse.BakeRecord, error) {
	r, err := scanBake(s.db.byID.QueryRowContext(ctx, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, &bakehouse.Error{Code: bakehouse.ENOTFOUND, Field: "id", Message: fmt.Sprintf("No bake with id '%s'.", id)}
	}
	return r, err
}

// MarkStarted records that Packer started for a RUNNING bake.
func (s *BakeStore) MarkStarted(ctx context.Context, id string, pid int) error {
	_, err := s.db.db.ExecContext(ctx, `UPDATE bakes SET started_at = CASE WHEN started_at = 0 THEN ? ELSE started_at END, pid = ?
		WHERE id = ? AND state = 'RUNNING'`, s.db.Now().UnixMilli(), pid, id)
	return err
}

// ClaimBake records the node whose worker runs a RUNNING bake that no
// other node claimed.
func (s *BakeStore) ClaimBake(ctx context.Context, id, node string) (bool, error) {
	res, err := s.db.db.ExecContext(ctx, `UPDATE bakes SET node = ? WHERE id = ? AND state = 'RUNNING' AND node IN ('', ?)`, node, id, node)
	if err != nil {
		return false, fmt.Errorf("claim bake %s: %w", id, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// Finish moves a RUNNING bake to its final state in one statement.
func (s *BakeStore) Finish(ctx context.Context, p bakehouse.FinishBakeParams) (bool, error) {
	defer s.heads.forget()
	return finish(ctx, s.db.db, p, s.db.Now())
}

func finish(ctx context.Context, db execer, p bakehouse.FinishBakeParams, now time.Time) (bool, error) {
	if p.State == bakehouse.StateRunning || (p.Result != bakehouse.ResultSuccess && p.Result != bakehouse.ResultFailure) {
		return false, bakehouse.Errorf(bakehouse.EINTERNAL, "finish bake %s: invalid final state %s/%s", p.ID, p.State, p.Result)
	}
	var details sql.NullString
	if p.Details != nil {
		b, err := json.Marshal(p.Details)
		if err != nil {
			return false, err
		}
		details = sql.NullString{String: string(b), Valid: true}
	}
	phases, err := json.Marshal(nonNilPhases(p.Phases))
	if err != nil {
		return false, err
	}
	res, err := db.ExecContext(ctx, `UPDATE bakes SET state = ?, result = ?, details = ?, error = ?, phases = ?, finished_at = ?, pid = 0
		WHERE id = ? AND state = 'RUNNING'`, p.State, p.Result, details, p.Error, string(phases), now.UnixMilli(), p.ID)
	if err != nil {
		return false, fmt.Errorf("finish bake %s: %w", p.ID, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// DeleteByRoscoKey hides the bakes with a Rosco key from reuse, so the next
// request bakes anew, and returns the newest one's id.
func (s *BakeStore) DeleteByRoscoKey(ctx context.Context, roscoKey string) (string, error) {
	defer s.heads.forget()
	tx, err := s.db.db.BeginTx(ctx, nil)
	if err != nil {
		return "", err
	}
	defer tx.Rollback()
	var id string
	err = tx.QueryRowContext(ctx, `SELECT id FROM bakes WHERE rosco_key = ? AND deleted = 0 ORDER BY created_at DESC, rowid DESC LIMIT 1`, roscoKey).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", &bakehouse.Error{Code: bakehouse.EINVALID, Field: "bake_key", Message: fmt.Sprintf("Unable to locate bake with key '%s'.", roscoKey)}
	}
	if err != nil {
		return "", err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE bakes SET deleted = 1 WHERE rosco_key = ?`, roscoKey); err != nil {
		return "", err
	}
	return id, tx.Commit()
}

// List returns bakes, newest first.
func (s *BakeStore) List(ctx context.Context, f bakehouse.BakeFilter) ([]*bakehouse.BakeRecord, error) {
	q := `SELECT ` + bakeColumns + ` FROM bakes`
	var args []any
	if f.State != "" {
		q += ` WHERE state = ?`
		args = append(args, f.State)
	}
	q += ` ORDER BY created_at DESC, rowid DESC`
	if f.Limit > 0 {
		q += fmt.Sprintf(` LIMIT %d`, f.Limit)
	}
	rows, err := s.db.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*bakehouse.BakeRecord
	for rows.Next() {
		r, err := scanBake(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// DeleteByExecutions hides every bake of the given pipeline executions
// from reuse (Rosco's POST /api/v1/bakes/delete-requests).
func (s *BakeStore) DeleteByExecutions(ctx context.Context, executionIDs []string) (int, error) {
	defer s.heads.forget()
	n := 0
	for _, id := range executionIDs {
		if id == "" {
			continue
		}
		res, err := s.db.db.ExecContext(ctx, `UPDATE bakes SET deleted = 1 WHERE execution_id = ? AND deleted = 0`, id)
		if err != nil {
			return n, fmt.Errorf("delete bakes of execution %s: %w", id, err)
		}
		k, _ := res.RowsAffected()
		n += int(k)
	}
	return n, nil
}

// BakeByImage returns the newest successful bake that made imageID in
// region: its AMI or artifact there, or (docker) its image name.
func (s *BakeStore) BakeByImage(ctx context.Context, region, imageID string) (*bakehouse.BakeRecord, error) {
	row := s.db.read.QueryRowContext(ctx, `SELECT `+bakeColumns+` FROM bakes WHERE details IS NOT NULL AND (
			(region = ? AND json_extract(details, '$.ami') = ?)
			OR json_extract(details, '$.image_name') = ?
			OR EXISTS (SELECT 1 FROM json_each(details, '$.artifacts') a
				WHERE json_extract(a.value, '$.reference') = ? AND json_extract(a.value, '$.location') = ?))
		ORDER BY created_at DESC, rowid DESC LIMIT 1`, region, imageID, imageID, imageID, region)
	r, err := scanBake(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return r, err
}
