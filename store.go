package bakehouse

import (
	"context"
	"time"
)

// BakeRecord is everything the bakery keeps about one bake: the request it
// came from, the plan it ran, why it was started, and what it produced.
type BakeRecord struct {
	ID         string
	Key        string // Bakehouse's full bake key (Rosco's key + ":" + digest)
	RoscoKey   string // the Rosco part alone, used by DELETE /api/v1/{region}/bake
	Region     string
	Provider   string
	State      BakeState
	Result     *BakeResult
	Request    BakeRequest
	Plan       Plan
	Reason     string // why this bake was started (what differed, or rebake)
	Details    *Bake  // set when the bake completed successfully
	Error      string // set when it failed: a one-line cause
	Deleted    bool   // hidden from reuse by DELETE /api/v1/{region}/bake or a delete-request
	JobID      int64  // queue job id
	PID        int    // Packer's process id while it runs (its process group)
	CreatedAt  time.Time
	StartedAt  time.Time // zero while queued
	FinishedAt time.Time // zero while RUNNING
	Phases     []Phase

	// QueuedOn is the node that accepted the request; Node the one whose
	// worker runs the bake ("" while it is queued). Both are Node.IDs.
	QueuedOn string
	Node     string
	// SealedArgv is the Packer command line in clear, sealed (AES-GCM)
	// with the operator's secrets key, when the plan has masked values
	// and a key is configured: any node can then run the bake. Nil
	// otherwise; never the clear command line.
	SealedArgv []byte
}

// Status returns the record's Rosco BakeStatus.
func (r *BakeRecord) Status() BakeStatus {
	return BakeStatus{ID: r.ID, State: r.State, Result: r.Result, ResourceID: r.ID}
}

// Phase is the wall time of one step of a bake, for the details view and
// metrics.
type Phase struct {
	Name      string    `json:"name"`
	Seconds   float64   `json:"seconds"`
	StartedAt time.Time `json:"started_at"`
}

// Plan is what a bake will run, computed without running it: the answer of
// POST /api/v1/{region}/bake/plan, and, stored with the bake when it is
// created, exactly what the worker runs (so a package released or a clock
// that ticked while the bake waited changes nothing).
type Plan struct {
	BakeKey    string        `json:"bake_key"`
	RoscoKey   string        `json:"rosco_key"`
	ImageName  string        `json:"image_name"`
	Packages   []PlanPackage `json:"packages"`
	AppVersion string        `json:"appversion"`
	Packer     PlanPacker    `json:"packer"`
	// BaseImage is the base as keyed: the source AMI id, or for docker
	// the source image with the engine's id (image@sha256:...).
	BaseImage string `json:"base_image,omitempty"`
	// SourceImage is the source AMI id or docker image the bake starts
	// from.
	SourceImage string     `json:"source_image,omitempty"`
	Warnings    []string   `json:"warnings,omitempty"`
	Reuse       *PlanReuse `json:"reuse"`
	// KeyInputs are the inputs of the key beyond Rosco's, so that a bake
	// that builds its missing base image can be keyed by the image it
	// really used without resolving the request again.
	KeyInputs *KeyExtras `json:"key_inputs,omitempty"`
}

// PlanPackage is one package of a plan with its resolved version.
type PlanPackage struct {
	Name     string `json:"name"`
	Version  string `json:"version"`
	Release  string `json:"release"`
	Arch     string `json:"arch"`
	Resolved bool   `json:"resolved"` // version came from the bakery's repository
}

// PlanPacker is the Packer invocation of a plan. Argv is exact but masked
// (bakehouse.MaskArgv): the secret values are put back only in the process
// that runs Packer.
type PlanPacker struct {
	Template string   `json:"template"`
	Argv     []string `json:"argv"`
}

// PlanReuse says which existing bake a request would get back, and why.
type PlanReuse struct {
	ID     string    `json:"id"`
	State  BakeState `json:"state"`
	Reason string    `json:"reason"`
}

// CreateBakeParams asks the store to insert Record, a new RUNNING bake
// (and its queue job), unless Decide says otherwise. The rules (which bake
// is reused, which ones a rebake supersedes) are the bakery's: the store
// only offers the transaction, so that every store applies the same rules.
type CreateBakeParams struct {
	Record *BakeRecord
	// Decide is called inside the transaction that inserts Record, with
	// every bake that has Record's key (deleted ones too), newest first.
	// Between that read and the insert, no other CreateBake with the key
	// can commit: identical requests that race make exactly one bake.
	Decide func(existing []*BakeRecord) CreateDecision
}

// CreateDecision is the bakery's answer to the bakes that already have a
// key: reuse one of them, or insert the new bake after ending some.
type CreateDecision struct {
	Reuse *BakeRecord // one of existing: nothing is written
	// Supersede ends bakes of existing before the new one is inserted,
	// each only if it is still RUNNING (as Finish does).
	Supersede []FinishBakeParams
}

// CreateBakeResult is the store's answer: either the reused bake, or the new
// one plus the bakes it superseded (as they were before they were ended).
type CreateBakeResult struct {
	Bake       *BakeRecord
	Reused     bool
	Superseded []*BakeRecord
}

// ErrBakeExists is the error (ECONFLICT) of a CreateBake whose Record's id
// is already taken; nothing was written. Check it with errors.Is.
var ErrBakeExists = &Error{Code: ECONFLICT, Field: "request_id", Message: "A bake with this id already exists."}

// FinishBakeParams records the end of a bake. It only applies to a bake that
// is still RUNNING, so a late finish cannot overwrite a cancel.
type FinishBakeParams struct {
	ID      string
	State   BakeState
	Result  BakeResult
	Details *Bake
	Error   string
	Phases  []Phase
}

// BakeFilter selects bakes for listing.
type BakeFilter struct {
	State BakeState // "" for any
	Limit int       // 0 for no limit
}

// BakeStore keeps bakes. It holds no bake rules (those are in package
// bakery); it offers reads and atomic writes, and storetest.Exercise is
// the contract every implementation passes. CreateBake is atomic:
// identical requests that race produce exactly one new bake.
type BakeStore interface {
	CreateBake(ctx context.Context, p CreateBakeParams) (CreateBakeResult, error) // ErrBakeExists when Record's id is taken
	// BakesByKey calls yield with every bake with key, deleted ones too,
	// newest first, until yield returns false: a reuse reads only as far
	// as the first reusable bake, however many the key has. The records
	// carry what the rules read: ID, Key, State, Result, Deleted and
	// CreatedAt (read the rest with Bake); a reused request, which is one
	// BakesByKey, should cost little more than a lookup.
	BakesByKey(ctx context.Context, key string, yield func(*BakeRecord) bool) error
	LatestByRoscoKey(ctx context.Context, roscoKey string) (*BakeRecord, error) // newest with the Rosco key; nil when none
	Rekey(ctx context.Context, id, key string) error                            // a RUNNING bake's key once its base image is known
	Bake(ctx context.Context, id string) (*BakeRecord, error)                   // ENOTFOUND when missing
	MarkStarted(ctx context.Context, id string, pid int) error
	// ClaimBake records that node runs the RUNNING bake id (its worker
	// took the bake's job); false when the bake is no longer RUNNING, or
	// another node claimed it: a node that stalled after it fetched the
	// job, whose job was given to a live node meanwhile, must not run the
	// bake a second time.
	ClaimBake(ctx context.Context, id, node string) (bool, error)
	Finish(ctx context.Context, p FinishBakeParams) (bool, error) // false when it was no longer RUNNING
	DeleteByRoscoKey(ctx context.Context, roscoKey string) (string, error)
	DeleteByExecutions(ctx context.Context, executionIDs []string) (int, error)   // hides the bakes of these pipeline executions from reuse
	BakeByImage(ctx context.Context, region, imageID string) (*BakeRecord, error) // the newest bake that made imageID in region; nil when none
	List(ctx context.Context, f BakeFilter) ([]*BakeRecord, error)
}
