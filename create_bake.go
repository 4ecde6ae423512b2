package bakehouse

import (
	"context"
	"fmt"
	"time"
)

// CreateTx is a store's write transaction as CreateBakeIn uses it. Each
// store implements CreateBake as: begin, take what makes the transaction
// exclusive for the key (SQLite's one writer, a PostgreSQL advisory
// lock), CreateBakeIn, commit. The steps between are the same on every
// store, so they live here once.
type CreateTx interface {
	// BakesByKey returns every bake with key, deleted ones too, newest
	// first, as whole records.
	BakesByKey(ctx context.Context, key string) ([]*BakeRecord, error)
	// Finish is BakeStore.Finish inside the transaction.
	Finish(ctx context.Context, p FinishBakeParams, now time.Time) (bool, error)
	// Insert inserts r, a RUNNING bake; ErrBakeExists when its id is taken.
	Insert(ctx context.Context, r *BakeRecord) error
	// Enqueue inserts the bake's queue job and records its id on the
	// bake's row; it returns 0 when the store has no queue.
	Enqueue(ctx context.Context, id string) (jobID int64, err error)
}

// CheckCreate reports a CreateBakeParams that no store can apply.
func CheckCreate(p CreateBakeParams) error {
	if p.Record == nil || p.Record.ID == "" || p.Record.Key == "" || p.Decide == nil {
		return Errorf(EINTERNAL, "create bake: needs a record with an id and a key, and a Decide function")
	}
	return nil
}

// CreateBakeIn reads the bakes with p.Record's key, asks p.Decide and
// applies its decision in tx: a reuse writes nothing; otherwise the bakes
// it supersedes are ended (those still RUNNING), then the new bake and its
// job are inserted. The caller commits when it returns no error.
func CreateBakeIn(ctx context.Context, tx CreateTx, p CreateBakeParams, now time.Time) (CreateBakeResult, error) {
	if err := CheckCreate(p); err != nil {
		return CreateBakeResult{}, err
	}
	rec := p.Record
	existing, err := tx.BakesByKey(ctx, rec.Key)
	if err != nil {
		return CreateBakeResult{}, err
	}
	d := p.Decide(existing)
	if d.Reuse != nil {
		return CreateBakeResult{Bake: d.Reuse, Reused: true}, nil
	}
	byID := make(map[string]*BakeRecord, len(existing))
	for _, r := range existing {
		byID[r.ID] = r
	}
	var superseded []*BakeRecord
	for _, f := range d.Supersede {
		old := byID[f.ID]
		if old == nil {
			return CreateBakeResult{}, Errorf(EINTERNAL, "create bake %s: cannot supersede %s, which does not have its key", rec.ID, f.ID)
		}
		ok, err := tx.Finish(ctx, f, now)
		if err != nil {
			return CreateBakeResult{}, err
		}
		if ok {
			superseded = append(superseded, old)
		}
	}
	if rec.CreatedAt.IsZero() {
		rec.CreatedAt = now
	}
	rec.State = StateRunning
	rec.Result = nil
	if err := tx.Insert(ctx, rec); err != nil {
		return CreateBakeResult{}, err
	}
	jobID, err := tx.Enqueue(ctx, rec.ID)
	if err != nil {
		return CreateBakeResult{}, fmt.Errorf("enqueue bake %s: %w", rec.ID, err)
	}
	rec.JobID = jobID
	return CreateBakeResult{Bake: rec, Superseded: superseded}, nil
}
