package bakery

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/bakehouse/bakehouse"
)

// BakeResponse is the answer to a bake request.
type BakeResponse struct {
	Status bakehouse.BakeStatus
	Reused bool
	Reason string
}

// Bake answers POST /api/v1/{region}/bake: the status of a reusable bake
// with the same key, or of a new one. rebake starts a new bake anyway and
// cancels a running one with the key.
func (s *Service) Bake(ctx context.Context, region string, req bakehouse.BakeRequest, rebake bool) (BakeResponse, error) {
	var ck []byte
	if !rebake {
		// Fastest path: a request keyed before whose inputs are
		// unchanged, with a reusable bake.
		var key string
		if key, ck = s.cachedKey(ctx, region, req); key != "" {
			existing, _, err := s.lookup(ctx, key)
			if err != nil {
				return BakeResponse{}, err
			}
			if existing != nil {
				return s.reused(existing), nil
			}
		}
	}
	p, err := s.prepare(ctx, region, req)
	if err != nil {
		return BakeResponse{}, err
	}
	s.rememberKey(ck, p)
	// Fast path: most repeated requests find a reusable bake without a
	// write transaction.
	var newest *bakehouse.BakeRecord
	if !rebake {
		var existing *bakehouse.BakeRecord
		existing, newest, err = s.lookup(ctx, p.plan.BakeKey)
		if err != nil {
			return BakeResponse{}, err
		}
		if existing != nil {
			return s.reused(existing), nil
		}
	}
	reason, err := s.newBakeReason(ctx, p, newest, rebake)
	if err != nil {
		return BakeResponse{}, err
	}
	id := req.RequestID
	if id == "" || !validID(id) {
		id = s.NewID()
	}
	req.ExtendedAttributes = bakehouse.MaskAttributes(req.ExtendedAttributes, p.recipe.MaskedParameters)
	rec := &bakehouse.BakeRecord{
		ID: id, Key: p.plan.BakeKey, RoscoKey: p.plan.RoscoKey, Region: region, Provider: p.resolved.Provider,
		Request: req, Plan: p.plan, Reason: reason, CreatedAt: s.Now().UTC(), QueuedOn: s.cfg.Node,
	}
	if argv := p.recipe.Argv(s.cfg.Rosco.Packer); !slices.Equal(argv, p.plan.Packer.Argv) {
		// The plan is stored masked; the secret values (config vars,
		// additionalParameters, extended attributes) are kept in memory
		// for the run, and never in the store in clear: sealed with the
		// operator's key, if any, so that another node can run the bake.
		s.mu.Lock()
		s.secretArgv[id] = argv
		s.mu.Unlock()
		if s.cfg.SecretsKey != nil {
			if rec.SealedArgv, err = sealArgv(s.cfg.SecretsKey, argv); err != nil {
				s.forgetSecrets(id)
				return BakeResponse{}, fmt.Errorf("seal secret values: %w", err)
			}
		}
	}
	create := bakehouse.CreateBakeParams{Record: rec, Decide: decide(rec, rebake)}
	res, err := s.store.CreateBake(ctx, create)
	if errors.Is(err, bakehouse.ErrBakeExists) && rec.ID == req.RequestID {
		// A request_id that names an earlier bake: make a fresh id.
		rec.ID = s.NewID()
		res, err = s.store.CreateBake(ctx, create)
	}
	if rec.ID != id || err != nil || res.Reused {
		s.mu.Lock()
		if full, ok := s.secretArgv[id]; ok {
			delete(s.secretArgv, id)
			if err == nil && !res.Reused {
				s.secretArgv[rec.ID] = full
			}
		}
		s.mu.Unlock()
	}
	if err != nil {
		return BakeResponse{}, err
	}
	if res.Reused {
		return s.reused(res.Bake), nil
	}
	for _, old := range res.Superseded {
		s.metrics.finished(bakehouse.ResultFailure)
		s.logs.Append(old.ID, "Bake canceled: "+supersededBy(res.Bake.ID))
		s.stop(ctx, old, errors.New(supersededBy(res.Bake.ID)))
	}
	if rebake {
		s.metrics.requested("rebake")
	} else {
		s.metrics.requested("plain")
	}
	s.metrics.active.Inc()
	s.logs.Append(res.Bake.ID, fmt.Sprintf("Bake %s queued: %s", res.Bake.ID, reason))
	s.logs.Append(res.Bake.ID, "Bake key: "+p.plan.BakeKey)
	for _, w := range p.plan.Warnings {
		s.logs.Append(res.Bake.ID, "Warning: "+w)
	}
	return BakeResponse{Status: res.Bake.Status(), Reason: reason}, nil
}

// reused answers a request with an existing bake, counted and noted in
// the bake's log.
func (s *Service) reused(b *bakehouse.BakeRecord) BakeResponse {
	s.metrics.requested("duplicate")
	s.noteReuse(b)
	return BakeResponse{Status: b.Status(), Reused: true, Reason: reuseReason(b)}
}

// newBakeReason says why a request gets a new bake: a rebake, how the
// newest bake with its key ended, no earlier bake, or which input differs
// from the newest bake with the same Rosco key (the inputs Rosco's key
// misses are the usual surprise).
func (s *Service) newBakeReason(ctx context.Context, p *planned, newest *bakehouse.BakeRecord, rebake bool) (string, error) {
	if rebake {
		return "rebake requested (rebake=1)", nil
	}
	if r := previousReason(newest); r != "" {
		return r, nil
	}
	prev, err := s.store.LatestByRoscoKey(ctx, p.plan.RoscoKey)
	if err != nil {
		return "", err
	}
	if prev != nil {
		if d := planDiff(prev.Plan, p.plan); len(d) > 0 {
			return fmt.Sprintf("inputs changed since bake %s: %s", prev.ID, strings.Join(d, "; ")), nil
		}
		return fmt.Sprintf("inputs changed since bake %s (extended attributes, tag, upgrade, template or var file)", prev.ID), nil
	}
	return "no earlier bake with these inputs", nil
}

// Differences between two plans, for the reason a bake was started.
func planDiff(old, cur bakehouse.Plan) []string {
	var d []string
	if old.BaseImage != cur.BaseImage {
		d = append(d, fmt.Sprintf("base image %s -> %s", old.BaseImage, cur.BaseImage))
	}
	ov, cv := pkgList(old.Packages), pkgList(cur.Packages)
	if ov != cv {
		d = append(d, fmt.Sprintf("packages %s -> %s", ov, cv))
	}
	return d
}

func pkgList(ps []bakehouse.PlanPackage) string {
	var out []string
	for _, p := range ps {
		v := p.Version
		if p.Release != "" {
			v += "-" + p.Release
		}
		out = append(out, p.Name+"="+v)
	}
	return strings.Join(out, " ")
}

func deref(r *bakehouse.BakeResult) string {
	if r == nil {
		return "null"
	}
	return string(*r)
}

// validID accepts request ids that are safe as file names and URL parts.
func validID(id string) bool {
	if len(id) == 0 || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// Status answers GET /api/v1/{region}/status/{id}.
func (s *Service) Status(ctx context.Context, id string) (bakehouse.BakeStatus, error) {
	b, err := s.store.Bake(ctx, id)
	if err != nil {
		return bakehouse.BakeStatus{}, notFoundAs(err, fmt.Sprintf("Unable to retrieve status for '%s'.", id))
	}
	return b.Status(), nil
}

// Record returns the whole record of a bake.
func (s *Service) Record(ctx context.Context, id string) (*bakehouse.BakeRecord, error) {
	return s.store.Bake(ctx, id)
}

// Details answers GET /api/v1/{region}/bake/{id}.
func (s *Service) Details(ctx context.Context, id string) (*bakehouse.BakeRecord, error) {
	b, err := s.store.Bake(ctx, id)
	if err != nil {
		return nil, notFoundAs(err, fmt.Sprintf("Unable to retrieve bake details for '%s'.", id))
	}
	if b.Details == nil {
		return nil, bakehouse.Invalid("id", "Unable to retrieve bake details for '%s'.", id)
	}
	return b, nil
}

// notFoundAs turns a store ENOTFOUND into Rosco's answer: a 400 with msg
// (Rosco raises IllegalArgumentException for unknown ids).
func notFoundAs(err error, msg string) error {
	if bakehouse.ErrorCode(err) == bakehouse.ENOTFOUND {
		return bakehouse.Invalid("id", "%s", msg)
	}
	return err
}

// Cancel answers GET /api/v1/{region}/cancel/{id}.
func (s *Service) Cancel(ctx context.Context, id string) error {
	b, err := s.store.Bake(ctx, id)
	if err != nil || b.State != bakehouse.StateRunning {
		if err != nil && bakehouse.ErrorCode(err) != bakehouse.ENOTFOUND {
			return err
		}
		return bakehouse.Invalid("id", "Unable to locate incomplete bake with id '%s'.", id)
	}
	ok, err := s.store.Finish(ctx, bakehouse.FinishBakeParams{ID: id, State: bakehouse.StateCanceled, Result: bakehouse.ResultFailure, Error: "canceled by request", Phases: b.Phases})
	if err != nil {
		return err
	}
	if !ok {
		return bakehouse.Invalid("id", "Unable to locate incomplete bake with id '%s'.", id)
	}
	s.metrics.finished(bakehouse.ResultFailure)
	s.logs.Append(id, "Bake canceled by request.")
	s.stop(ctx, b, errCanceledByUser)
	return nil
}

var errCanceledByUser = errors.New("canceled by request")

// stop stops the Packer run of a bake that the store has already ended,
// or its queued job.
func (s *Service) stop(ctx context.Context, b *bakehouse.BakeRecord, cause error) {
	s.mu.Lock()
	cancel := s.running[b.ID]
	s.mu.Unlock()
	if cancel != nil {
		cancel(cause)
		return
	}
	// Not running here: it is still queued. Its job will find the bake
	// ended and do nothing; cancel it so it does not even start.
	s.forgetSecrets(b.ID)
	if s.queue != nil {
		_ = s.queue.Cancel(ctx, b.JobID)
	}
}

// Delete answers DELETE /api/v1/{region}/bake: the next request with the
// key bakes anew.
func (s *Service) Delete(ctx context.Context, region string, req bakehouse.BakeRequest) (string, string, error) {
	cfg := s.cfg.Rosco
	if req.CloudProviderType == "" {
		req.CloudProviderType = cfg.ProviderType(req)
	}
	if !cfg.ProviderEnabled(req.CloudProviderType) {
		return "", "", bakehouse.Invalid("cloud_provider_type", "Unknown provider type '%s'.", req.CloudProviderType)
	}
	key := bakehouse.RoscoBakeKey(region, req, cfg)
	id, err := s.store.DeleteByRoscoKey(ctx, key)
	return key, id, err
}

// List returns the bakes f selects, newest first (the Bakery view).
func (s *Service) List(ctx context.Context, f bakehouse.BakeFilter) ([]*bakehouse.BakeRecord, error) {
	return s.store.List(ctx, f)
}

// Running lists the bakes that are RUNNING (queued or baking).
func (s *Service) Running(ctx context.Context) ([]*bakehouse.BakeRecord, error) {
	return s.store.List(ctx, bakehouse.BakeFilter{State: bakehouse.StateRunning})
}

// Busy reports whether this process is still running the bake (its Packer
// or its final bookkeeping): a log follower waits for that, not just for
// the state, so it also gets the lines written after a cancel.
func (s *Service) Busy(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.running[id]
	return ok
}

// FollowLog copies a bake's log to w as it is written, whichever node runs
// the bake, until its run ends (then everything it wrote is copied) or ctx
// ends; flush is called after each chunk. The HTTP follow and the UI's
// live log both use it.
func (s *Service) FollowLog(ctx context.Context, id string, w io.Writer, flush func()) error {
	return s.logs.Follow(ctx, id, w, flush, func() bool { return !s.runsSomewhere(ctx, id) })
}

// runsSomewhere reports whether a node still runs (or will run) bake id:
// while it is RUNNING, and after it ended while its queue job is alive,
// because the job's worker writes the bake's last lines (a cancel's, and
// what its cleanup removed) before it returns. Errors count as not running,
// so that a follower does not wait forever on a store it cannot read.
func (s *Service) runsSomewhere(ctx context.Context, id string) bool {
	if s.Busy(id) {
		return true
	}
	b, err := s.store.Bake(ctx, id)
	if err != nil {
		return false
	}
	if b.State == bakehouse.StateRunning {
		return true
	}
	if s.queue == nil || b.JobID == 0 {
		return false
	}
	alive, err := s.queue.JobAlive(ctx, b.JobID)
	return err == nil && alive
}

// reuseNoteEvery limits how often a reuse is written to the reused bake's
// log, so that a busy pipeline polling with the same request does not grow
// the log without bound; the line counts the reuses it stands for.
const reuseNoteEvery = 10 * time.Second

// noteReuse records in a bake's log that a request was answered with it.
func (s *Service) noteReuse(b *bakehouse.BakeRecord) {
	now := s.Now()
	s.mu.Lock()
	n := s.reuses[b.ID] + 1
	last := s.reuseNoted[b.ID]
	write := now.Sub(last) >= reuseNoteEvery
	if write {
		s.reuses[b.ID] = 0
		s.reuseNoted[b.ID] = now
	} else {
		s.reuses[b.ID] = n
	}
	s.mu.Unlock()
	if write {
		s.logs.Note(b.ID, fmt.Sprintf("%s: %s (%d request(s) since the last note)", now.UTC().Format(time.RFC3339), reuseReason(b), n))
	}
}

// LogsByImage answers GET /api/v1/{region}/logs/image/{imageId}: the log
// of the bake that made the image.
func (s *Service) LogsByImage(ctx context.Context, region, imageID string) (string, error) {
	b, err := s.store.BakeByImage(ctx, region, imageID)
	if err != nil {
		return "", err
	}
	if b == nil {
		return "", &bakehouse.Error{Code: bakehouse.ENOTFOUND, Field: "imageId", Message: fmt.Sprintf("Unable to retrieve logs for image id '%s'.", imageID)}
	}
	content, err := s.logs.Read(ctx, b.ID)
	if err != nil {
		return "", &bakehouse.Error{Code: bakehouse.ENOTFOUND, Field: "imageId", Message: fmt.Sprintf("Unable to retrieve logs for image id '%s'.", imageID)}
	}
	return content, nil
}

// DeleteExecutions answers POST /api/v1/bakes/delete-requests: the bakes
// the given pipeline executions asked for are no longer reused.
func (s *Service) DeleteExecutions(ctx context.Context, ids []string) error {
	_, err := s.store.DeleteByExecutions(ctx, ids)
	return err
}
