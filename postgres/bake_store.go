package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/bakehouse/bakehouse"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

var _ bakehouse.BakeStore = (*BakeStore)(nil)

// BakeStore is the PostgreSQL BakeStore. When a Queue is attached,
// CreateBake enqueues the bake's job in the same transaction that inserts
// the bake, so a bake row never exists without its job, nor a job without
// its row.
type BakeStore struct {
	db    *DB
	queue *Queue
}

// NewBakeStore returns a store over db; queue may be nil (no jobs enqueued).
func NewBakeStore(db *DB, queue *Queue) *BakeStore {
	return &BakeStore{db: db, queue: queue}
}

const bakeColumns = `id, bake_key, rosco_key, region, provider, state, result, request, plan, reason,
	details, error, job_id, pid, phases, created_at, started_at, finished_at, deleted, queued_on, node, sealed_argv`

func scanBake(s pgx.Row) (*bakehouse.BakeRecord, error) {
	var (
		r                          bakehouse.BakeRecord
		state                      string
		result                     *string
		request, plan, phases      string
		details                    []byte
		created, started, finished int64
	)
	err := s.Scan(&r.ID, &r.Key, &r.RoscoKey, &r.Region, &r.Provider, &state, &result, &request, &plan,
		&r.Reason, &details, &r.Error, &r.JobID, &r.PID, &phases, &created, &started, &finished, &r.Deleted,
		&r.QueuedOn, &r.Node, &r.SealedArgv)
	if err != nil {
		return nil, err
	}
	r.State = bakehouse.BakeState(state)
	if result != nil {
		res := bakehouse.BakeResult(*result)
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
	if details != nil {
		r.Details = new(bakehouse.Bake)
		if err := json.Unmarshal(details, r.Details); err != nil {
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
// bake rules read (see bakehouse.BakeStore); the JSON documents and the
// rest of the record stay out of a reused request.
const headColumns = `id, bake_key, state, result, created_at, deleted`

func scanHead(s pgx.Row) (*bakehouse.BakeRecord, error) {
	var (
		r       bakehouse.BakeRecord
		state   string
		result  *string
		created int64
	)
	if err := s.Scan(&r.ID, &r.Key, &state, &result, &created, &r.Deleted); err != nil {
		return nil, err
	}
	r.State = bakehouse.BakeState(state)
	if result != nil {
		res := bakehouse.BakeResult(*result)
		r.Result = &res
	}
	r.CreatedAt = fromMillis(created)
	return &r, nil
}

const (
	bakesByKeyQuery = `SELECT ` + bakeColumns + ` FROM bakes WHERE bake_key = $1 ORDER BY created_at DESC, seq DESC`
	headsByKeyQuery = `SELECT ` + headColumns + ` FROM bakes WHERE bake_key = $1 ORDER BY created_at DESC, seq DESC`
	bakeByIDQuery   = `SELECT ` + bakeColumns + ` FROM bakes WHERE id = $1`
	// lockKeyQuery serializes the transactions that read or change the
	// bakes of one key (CreateBake, Rekey) until they commit. Under READ
	// COMMITTED, the read that follows it sees every bake that the
	// previous holder committed.
	lockKeyQuery = `SELECT pg_advisory_xact_lock($1, hashtext($2))`
)

// querier is a pool or a transaction.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// bakesByKey yields the rows of a query by key until yield returns false.
func bakesByKey(ctx context.Context, q querier, query, key string, scan func(pgx.Row) (*bakehouse.BakeRecord, error), yield func(*bakehouse.BakeRecord) bool) error {
	rows, err := q.Query(ctx, query, key)
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
func (s *BakeStore) BakesByKey(ctx context.Context, key string, yield func(*bakehouse.BakeRecord) bool) error {
	return bakesByKey(ctx, s.db.pool, headsByKeyQuery, key, scanHead, yield)
}

// LatestByRoscoKey returns the newest bake with a Rosco key, to explain
// which of the inputs Rosco's key misses changed.
func (s *BakeStore) LatestByRoscoKey(ctx context.Context, roscoKey string) (*bakehouse.BakeRecord, error) {
	r, err := scanBake(s.db.pool.QueryRow(ctx, `SELECT `+bakeColumns+` FROM bakes WHERE rosco_key = $1 ORDER BY created_at DESC, seq DESC LIMIT 1`, roscoKey))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	return r, err
}

// Rekey sets the key of a RUNNING bake. The docker provider keys a bake
// whose base image does not exist yet by the image's name; once the bake
// has built it, the key names the image id, as later requests will. It
// holds the new key's lock, so that a CreateBake with that key sees the
// bake either before or after, never half-way.
func (s *BakeStore) Rekey(ctx context.Context, id, key string) error {
	return pgx.BeginFunc(ctx, s.db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, lockKeyQuery, lockBakeKey, key); err != nil {
			return err
		}
		var plan string
		err := tx.QueryRow(ctx, `SELECT plan FROM bakes WHERE id = $1 AND state = 'RUNNING' FOR UPDATE`, id).Scan(&plan)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("rekey bake %s: %w", id, err)
		}
		var p bakehouse.Plan
		if err := json.Unmarshal([]byte(plan), &p); err != nil {
			return fmt.Errorf("decode plan of bake %s: %w", id, err)
		}
		p.BakeKey = key
		b, err := json.Marshal(p)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE bakes SET bake_key = $1, plan = $2 WHERE id = $3`, key, string(b), id)
		return err
	})
}

// CreateBake reads the bakes with p.Record's key, asks p.Decide, and
// applies its decision, all in one transaction that first takes the key's
// advisory lock: a CreateBake with the same key, on this node or another,
// waits until this one commits, then reads what it wrote.
func (s *BakeStore) CreateBake(ctx context.Context, p bakehouse.CreateBakeParams) (bakehouse.CreateBakeResult, error) {
	if err := bakehouse.CheckCreate(p); err != nil {
		return bakehouse.CreateBakeResult{}, err
	}
	tx, err := s.db.pool.Begin(ctx)
	if err != nil {
		return bakehouse.CreateBakeResult{}, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, lockKeyQuery, lockBakeKey, p.Record.Key); err != nil {
		return bakehouse.CreateBakeResult{}, fmt.Errorf("lock key %s: %w", p.Record.Key, err)
	}
	res, err := bakehouse.CreateBakeIn(ctx, createTx{tx: tx, queue: s.queue}, p, s.db.Now())
	if err != nil {
		return bakehouse.CreateBakeResult{}, err
	}
	if err := tx.Commit(ctx); err != nil {
		return bakehouse.CreateBakeResult{}, fmt.Errorf("commit: %w", err)
	}
	return res, nil
}

// createTx is CreateBake's transaction as bakehouse.CreateBakeIn uses it.
type createTx struct {
	tx    pgx.Tx
	queue *Queue
}

func (c createTx) BakesByKey(ctx context.Context, key string) ([]*bakehouse.BakeRecord, error) {
	var existing []*bakehouse.BakeRecord
	err := bakesByKey(ctx, c.tx, bakesByKeyQuery, key, scanBake, func(r *bakehouse.BakeRecord) bool {
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
	_, err = c.tx.Exec(ctx, `UPDATE bakes SET job_id = $1 WHERE id = $2`, jobID, id)
	return jobID, err
}

// uniqueViolation is PostgreSQL's SQLSTATE for a duplicate key.
const uniqueViolation = "23505"

func insertBake(ctx context.Context, tx pgx.Tx, r *bakehouse.BakeRecord) error {
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
	_, err = tx.Exec(ctx, `INSERT INTO bakes (id, bake_key, rosco_key, region, provider, state, result, request, plan,
		reason, error, phases, created_at, execution_id, queued_on, sealed_argv) VALUES ($1, $2, $3, $4, $5, 'RUNNING', NULL, $6, $7, $8, '', $9, $10, $11, $12, $13)`,
		r.ID, r.Key, r.RoscoKey, r.Region, r.Provider, string(request), string(plan), r.Reason, string(phases), toMillis(r.CreatedAt),
		r.Request.SpinnakerExecutionID, r.QueuedOn, r.SealedArgv)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == uniqueViolation && pgErr.ConstraintName == "bakes_pkey" {
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
	r, err := scanBake(s.db.pool.QueryRow(ctx, bakeByIDQuery, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, &bakehouse.Error{Code: bakehouse.ENOTFOUND, Field: "id", Message: fmt.Sprintf("No bake with id '%s'.", id)}
	}
	return r, err
}

// MarkStarted records that Packer started for a RUNNING bake.
func (s *BakeStore) MarkStarted(ctx context.Context, id string, pid int) error {
	_, err := s.db.pool.Exec(ctx, `UPDATE bakes SET started_at = CASE WHEN started_at = 0 THEN $1 ELSE started_at END, pid = $2
		WHERE id = $3 AND state = 'RUNNING'`, s.db.Now().UnixMilli(), pid, id)
	return err
}

// ClaimBake records the node whose worker runs a RUNNING bake that no
// other node claimed.
func (s *BakeStore) ClaimBake(ctx context.Context, id, node string) (bool, error) {
	tag, err := s.db.pool.Exec(ctx, `UPDATE bakes SET node = $1 WHERE id = $2 AND state = 'RUNNING' AND node IN ('', $1)`, node, id)
	if err != nil {
		return false, fmt.Errorf("claim bake %s: %w", id, err)
	}
	return tag.RowsAffected() == 1, nil
}

// Finish moves a RUNNING bake to its final state in one statement.
func (s *BakeStore) Finish(ctx context.Context, p bakehouse.FinishBakeParams) (bool, error) {
	return finish(ctx, s.db.pool, p, s.db.Now())
}

func finish(ctx context.Context, db querier, p bakehouse.FinishBakeParams, now time.Time) (bool, error) {
	if p.State == bakehouse.StateRunning || (p.Result != bakehouse.ResultSuccess && p.Result != bakehouse.ResultFailure) {
		return false, bakehouse.Errorf(bakehouse.EINTERNAL, "finish bake %s: invalid final state %s/%s", p.ID, p.State, p.Result)
	}
	var details *string
	if p.Details != nil {
		b, err := json.Marshal(p.Details)
		if err != nil {
			return false, err
		}
		s := string(b)
		details = &s
	}
	phases, err := json.Marshal(nonNilPhases(p.Phases))
	if err != nil {
		return false, err
	}
	tag, err := db.Exec(ctx, `UPDATE bakes SET state = $1, result = $2, details = $3::jsonb, error = $4, phases = $5, finished_at = $6, pid = 0
		WHERE id = $7 AND state = 'RUNNING'`, string(p.State), string(p.Result), details, p.Error, string(phases), now.UnixMilli(), p.ID)
	if err != nil {
		return false, fmt.Errorf("finish bake %s: %w", p.ID, err)
	}
	return tag.RowsAffected() == 1, nil
}

// DeleteByRoscoKey hides the bakes with a Rosco key from reuse, so the next
// request bakes anew, and returns the newest one's id.
func (s *BakeStore) DeleteByRoscoKey(ctx context.Context, roscoKey string) (string, error) {
	var id string
	err := pgx.BeginFunc(ctx, s.db.pool, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `SELECT id FROM bakes WHERE rosco_key = $1 AND NOT deleted ORDER BY created_at DESC, seq DESC LIMIT 1 FOR UPDATE`, roscoKey).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return &bakehouse.Error{Code: bakehouse.EINVALID, Field: "bake_key", Message: fmt.Sprintf("Unable to locate bake with key '%s'.", roscoKey)}
		}
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE bakes SET deleted = true WHERE rosco_key = $1`, roscoKey)
		return err
	})
	if err != nil {
		return "", err
	}
	return id, nil
}

// List returns bakes, newest first.
func (s *BakeStore) List(ctx context.Context, f bakehouse.BakeFilter) ([]*bakehouse.BakeRecord, error) {
	q := `SELECT ` + bakeColumns + ` FROM bakes`
	var args []any
	if f.State != "" {
		q += ` WHERE state = $1`
		args = append(args, string(f.State))
	}
	q += ` ORDER BY created_at DESC, seq DESC`
	if f.Limit > 0 {
		q += fmt.Sprintf(` LIMIT %d`, f.Limit)
	}
	rows, err := s.db.pool.Query(ctx, q, args...)
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
	ids := make([]string, 0, len(executionIDs))
	for _, id := range executionIDs {
		if id != "" {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return 0, nil
	}
	tag, err := s.db.pool.Exec(ctx, `UPDATE bakes SET deleted = true WHERE execution_id = ANY($1) AND NOT deleted`, ids)
	if err != nil {
		return 0, fmt.Errorf("delete bakes of executions %v: %w", ids, err)
	}
	return int(tag.RowsAffected()), nil
}

// BakeByImage returns the newest successful bake that made imageID in
// region: its AMI or artifact there, or (docker) its image name.
func (s *BakeStore) BakeByImage(ctx context.Context, region, imageID string) (*bakehouse.BakeRecord, error) {
	row := s.db.pool.QueryRow(ctx, `SELECT `+bakeColumns+` FROM bakes WHERE details IS NOT NULL AND (
			(region = $1 AND details->>'ami' = $2)
			OR details->>'image_name' = $2
			OR details->'artifacts' @> jsonb_build_array(jsonb_build_object('reference', $2::text, 'location', $1::text)))
		ORDER BY created_at DESC, seq DESC LIMIT 1`, region, imageID)
	r, err := scanBake(row)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	return r, err
}
