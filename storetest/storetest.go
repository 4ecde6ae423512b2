// Package storetest is the one suite every BakeStore implementation must
// pass, so the SQLite and PostgreSQL stores cannot drift apart. It tests
// the store's primitives, not the bake rules: those are package bakery's,
// and reach the store only as the Decide function of CreateBake.
package storetest

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/bakehouse/bakehouse"
)

// Exercise runs the suite against stores made by open (a fresh, empty store
// per call).
func Exercise(t *testing.T, open func(*testing.T) bakehouse.BakeStore) {
	t.Run("CreateInsertsRunningBake", func(t *testing.T) { testCreateInserts(t, open(t)) })
	t.Run("DecideSeesBakesWithKeyNewestFirst", func(t *testing.T) { testDecideSees(t, open(t)) })
	t.Run("ReuseWritesNothing", func(t *testing.T) { testReuseWritesNothing(t, open(t)) })
	t.Run("SupersedeEndsOnlyRunningBakes", func(t *testing.T) { testSupersede(t, open(t)) })
	t.Run("TakenIDIsErrBakeExists", func(t *testing.T) { testBakeExists(t, open(t)) })
	t.Run("RacingCreatesMakeOneBake", func(t *testing.T) { testRace(t, open(t)) })
	t.Run("FinishOnlyOnce", func(t *testing.T) { testFinishOnce(t, open(t)) })
	t.Run("MarkStarted", func(t *testing.T) { testMarkStarted(t, open(t)) })
	t.Run("ClaimBakeAndNodes", func(t *testing.T) { testClaim(t, open(t)) })
	t.Run("NotFound", func(t *testing.T) { testNotFound(t, open(t)) })
	t.Run("DeleteByRoscoKey", func(t *testing.T) { testDelete(t, open(t)) })
	t.Run("RekeyAndLatestByRoscoKey", func(t *testing.T) { testRekey(t, open(t)) })
	t.Run("ExecutionsAndImages", func(t *testing.T) { testExecutionsAndImages(t, open(t)) })
	t.Run("List", func(t *testing.T) { testList(t, open(t)) })
	t.Run("ReadsFollowWrites", func(t *testing.T) { testReadsFollowWrites(t, open(t)) })
}

func newRecord(id, key string) *bakehouse.BakeRecord {
	return &bakehouse.BakeRecord{
		ID: id, Key: key + ":digest", RoscoKey: key, Region: "global", Provider: "docker",
		Request: bakehouse.BakeRequest{Package: "kato", BaseOS: "bookworm"},
		Plan:    bakehouse.Plan{BakeKey: key + ":digest", ImageName: "kato:1"},
		Reason:  "no earlier bake with this key",
	}
}

// create inserts r whatever bakes have its key.
func create(t *testing.T, s bakehouse.BakeStore, r *bakehouse.BakeRecord) bakehouse.CreateBakeResult {
	t.Helper()
	return mustCreate(t, s, r, func([]*bakehouse.BakeRecord) bakehouse.CreateDecision { return bakehouse.CreateDecision{} })
}

func mustCreate(t *testing.T, s bakehouse.BakeStore, r *bakehouse.BakeRecord, decide func([]*bakehouse.BakeRecord) bakehouse.CreateDecision) bakehouse.CreateBakeResult {
	t.Helper()
	res, err := s.CreateBake(context.Background(), bakehouse.CreateBakeParams{Record: r, Decide: decide})
	if err != nil {
		t.Fatalf("CreateBake(%s): %v", r.ID, err)
	}
	return res
}

// reuseNewest is a Decide that reuses the newest bake with the key, if any.
func reuseNewest(existing []*bakehouse.BakeRecord) bakehouse.CreateDecision {
	if len(existing) > 0 {
		return bakehouse.CreateDecision{Reuse: existing[0]}
	}
	return bakehouse.CreateDecision{}
}

func mustFinish(t *testing.T, s bakehouse.BakeStore, id string, state bakehouse.BakeState, result bakehouse.BakeResult) {
	t.Helper()
	ok, err := s.Finish(context.Background(), bakehouse.FinishBakeParams{ID: id, State: state, Result: result,
		Details: &bakehouse.Bake{ID: id, ImageName: "kato:1"}})
	if err != nil || !ok {
		t.Fatalf("Finish(%s) = %v, %v", id, ok, err)
	}
}

func mustBake(t *testing.T, s bakehouse.BakeStore, id string) *bakehouse.BakeRecord {
	t.Helper()
	b, err := s.Bake(context.Background(), id)
	if err != nil {
		t.Fatalf("Bake(%s): %v", id, err)
	}
	return b
}

// ids returns the ids of bakes, in order.
func ids(bakes []*bakehouse.BakeRecord) []string {
	out := []string{}
	for _, b := range bakes {
		out = append(out, b.ID)
	}
	return out
}

func mustBakesByKey(t *testing.T, s bakehouse.BakeStore, key string) []*bakehouse.BakeRecord {
	t.Helper()
	var bakes []*bakehouse.BakeRecord
	err := s.BakesByKey(context.Background(), key, func(b *bakehouse.BakeRecord) bool {
		bakes = append(bakes, b)
		return true
	})
	if err != nil {
		t.Fatalf("BakesByKey(%s): %v", key, err)
	}
	return bakes
}

func testFinishOnce(t *testing.T, s bakehouse.BakeStore) {
	ctx := context.Background()
	create(t, s, newRecord("o1", "k"))
	mustFinish(t, s, "o1", bakehouse.StateCanceled, bakehouse.ResultFailure)
	ok, err := s.Finish(ctx, bakehouse.FinishBakeParams{ID: "o1", State: bakehouse.StateCompleted, Result: bakehouse.ResultSuccess})
	if err != nil || ok {
		t.Fatalf("second Finish = %v, %v; want false, nil", ok, err)
	}
	got := mustBake(t, s, "o1")
	if got.State != bakehouse.StateCanceled || got.Result == nil || *got.Result != bakehouse.ResultFailure || got.FinishedAt.IsZero() {
		t.Fatalf("a late finish overwrote a cancel: %s/%v finished %v", got.State, got.Result, got.FinishedAt)
	}
	if got.Details == nil || got.Details.ImageName != "kato:1" {
		t.Fatalf("Finish lost the details: %+v", got.Details)
	}
	if ok, err := s.Finish(ctx, bakehouse.FinishBakeParams{ID: "nope", State: bakehouse.StateCanceled, Result: bakehouse.ResultFailure}); err != nil || ok {
		t.Fatalf("Finish of an unknown bake = %v, %v; want false, nil", ok, err)
	}
	create(t, s, newRecord("o2", "k"))
	for _, p := range []bakehouse.FinishBakeParams{
		{ID: "o2", State: bakehouse.StateRunning, Result: bakehouse.ResultSuccess},
		{ID: "o2", State: bakehouse.StateCompleted},
	} {
		if _, err := s.Finish(ctx, p); err == nil {
			t.Fatalf("Finish to %s/%q must fail", p.State, p.Result)
		}
	}
	if got := mustBake(t, s, "o2"); got.State != bakehouse.StateRunning {
		t.Fatalf("an invalid Finish changed the bake: %s", got.State)
	}
}

func testMarkStarted(t *testing.T, s bakehouse.BakeStore) {
	ctx := context.Background()
	create(t, s, newRecord("m1", "k"))
	if got := mustBake(t, s, "m1"); !got.StartedAt.IsZero() || got.PID != 0 {
		t.Fatalf("a queued bake has started_at %v, pid %d", got.StartedAt, got.PID)
	}
	if err := s.MarkStarted(ctx, "m1", 4242); err != nil {
		t.Fatal(err)
	}
	first := mustBake(t, s, "m1")
	if first.StartedAt.IsZero() || first.PID != 4242 {
		t.Fatalf("MarkStarted: started_at %v, pid %d", first.StartedAt, first.PID)
	}
	if err := s.MarkStarted(ctx, "m1", 4343); err != nil {
		t.Fatal(err)
	}
	if got := mustBake(t, s, "m1"); got.PID != 4343 || !got.StartedAt.Equal(first.StartedAt) {
		t.Fatalf("second MarkStarted: pid %d started_at %v, want 4343 and the first start %v", got.PID, got.StartedAt, first.StartedAt)
	}
	mustFinish(t, s, "m1", bakehouse.StateCompleted, bakehouse.ResultSuccess)
	if got := mustBake(t, s, "m1"); got.PID != 0 {
		t.Fatalf("a finished bake keeps pid %d", got.PID)
	}
	if err := s.MarkStarted(ctx, "m1", 4444); err != nil {
		t.Fatal(err)
	}
	if got := mustBake(t, s, "m1"); got.PID != 0 {
		t.Fatalf("MarkStarted changed a finished bake: pid %d", got.PID)
	}
}

func testNotFound(t *testing.T, s bakehouse.BakeStore) {
	_, err := s.Bake(context.Background(), "nope")
	var e *bakehouse.Error
	if !errors.As(err, &e) || e.Code != bakehouse.ENOTFOUND {
		t.Fatalf("Bake(nope) err = %v, want ENOTFOUND", err)
	}
}

func testDelete(t *testing.T, s bakehouse.BakeStore) {
	ctx := context.Background()
	create(t, s, newRecord("d1", "dk"))
	mustFinish(t, s, "d1", bakehouse.StateCompleted, bakehouse.ResultSuccess)
	create(t, s, newRecord("d2", "dk"))
	create(t, s, newRecord("x1", "other"))
	id, err := s.DeleteByRoscoKey(ctx, "dk")
	if err != nil || id != "d2" {
		t.Fatalf("DeleteByRoscoKey = %q, %v; want the newest, d2", id, err)
	}
	for _, b := range mustBakesByKey(t, s, "dk:digest") {
		if !b.Deleted {
			t.Errorf("bake %s not marked deleted", b.ID)
		}
		if b.ID == "d1" && (b.State != bakehouse.StateCompleted || b.Result == nil || *b.Result != bakehouse.ResultSuccess) {
			t.Errorf("BakesByKey has bake d1 %s/%v, want COMPLETED/SUCCESS", b.State, b.Result)
		}
	}
	if b := mustBake(t, s, "x1"); b.Deleted {
		t.Errorf("a bake with another key was deleted")
	}
	if _, err := s.DeleteByRoscoKey(ctx, "missing"); bakehouse.ErrorCode(err) != bakehouse.EINVALID {
		t.Fatalf("delete of unknown key: err = %v, want EINVALID", err)
	}
	if _, err := s.DeleteByRoscoKey(ctx, "dk"); bakehouse.ErrorCode(err) != bakehouse.EINVALID {
		t.Fatalf("second delete of a key: err = %v, want EINVALID", err)
	}
}

func testList(t *testing.T, s bakehouse.BakeStore) {
	create(t, s, newRecord("l1", "k1"))
	create(t, s, newRecord("l2", "k2"))
	create(t, s, newRecord("l3", "k3"))
	mustFinish(t, s, "l1", bakehouse.StateCompleted, bakehouse.ResultSuccess)
	running, err := s.List(context.Background(), bakehouse.BakeFilter{State: bakehouse.StateRunning})
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(running); !slices.Equal(got, []string{"l3", "l2"}) {
		t.Fatalf("List(RUNNING) = %v, want [l3 l2]", got)
	}
	all, err := s.List(context.Background(), bakehouse.BakeFilter{Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(all); !slices.Equal(got, []string{"l3", "l2"}) {
		t.Fatalf("List(limit 2) = %v, want the newest two [l3 l2]", got)
	}
}

func testRekey(t *testing.T, s bakehouse.BakeStore) {
	ctx := context.Background()
	create(t, s, newRecord("k1", "rk"))
	if err := s.Rekey(ctx, "k1", "rk:new"); err != nil {
		t.Fatal(err)
	}
	if got := mustBakesByKey(t, s, "rk:new"); len(got) != 1 || got[0].ID != "k1" || got[0].Key != "rk:new" {
		t.Fatalf("BakesByKey after Rekey = %v", ids(got))
	}
	if got := mustBake(t, s, "k1"); got.Key != "rk:new" || got.Plan.BakeKey != "rk:new" {
		t.Fatalf("Bake after Rekey: key %q, plan key %q; want rk:new for both", got.Key, got.Plan.BakeKey)
	}
	if got := mustBakesByKey(t, s, "rk:digest"); len(got) != 0 {
		t.Fatalf("old key still finds %v", ids(got))
	}
	mustFinish(t, s, "k1", bakehouse.StateCompleted, bakehouse.ResultSuccess)
	if err := s.Rekey(ctx, "k1", "rk:late"); err != nil {
		t.Fatal(err)
	}
	if got := mustBake(t, s, "k1"); got.Key != "rk:new" {
		t.Fatalf("Rekey changed a finished bake's key to %s", got.Key)
	}
	if r, err := s.LatestByRoscoKey(ctx, "rk"); err != nil || r == nil || r.ID != "k1" {
		t.Fatalf("LatestByRoscoKey = %v, %v", r, err)
	}
	if r, err := s.LatestByRoscoKey(ctx, "none"); err != nil || r != nil {
		t.Fatalf("LatestByRoscoKey(none) = %v, %v", r, err)
	}
}

func testExecutionsAndImages(t *testing.T, s bakehouse.BakeStore) {
	ctx := context.Background()
	r := newRecord("e1", "ek")
	r.Request.SpinnakerExecutionID = "01J0000000000000000000000A"
	r.Region = "us-west-2"
	create(t, s, r)
	ok, err := s.Finish(ctx, bakehouse.FinishBakeParams{ID: "e1", State: bakehouse.StateCompleted, Result: bakehouse.ResultSuccess,
		Details: &bakehouse.Bake{ID: "e1", AMI: "ami-0west", ImageName: "kato-all-1-trusty", Artifacts: []bakehouse.Artifact{
			{Type: "aws/image", Location: "us-west-2", Reference: "ami-0west"}, {Type: "aws/image", Location: "us-east-1", Reference: "ami-0east"}}}})
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	create(t, s, newRecord("e2", "ek"))
	for _, c := range []struct{ region, image, want string }{
		{"us-west-2", "ami-0west", "e1"}, {"us-east-1", "ami-0east", "e1"}, {"eu-west-1", "kato-all-1-trusty", "e1"},
		{"us-east-1", "ami-0west", ""}, {"us-west-2", "ami-0none", ""},
	} {
		b, err := s.BakeByImage(ctx, c.region, c.image)
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		if b != nil {
			got = b.ID
		}
		if got != c.want {
			t.Errorf("BakeByImage(%s, %s) = %q, want %q", c.region, c.image, got, c.want)
		}
	}
	n, err := s.DeleteByExecutions(ctx, []string{"01J0000000000000000000000A", "other", ""})
	if err != nil || n != 1 {
		t.Fatalf("DeleteByExecutions = %d, %v; want 1", n, err)
	}
	if b := mustBake(t, s, "e1"); !b.Deleted {
		t.Fatalf("a bake of a deleted execution is not marked deleted")
	}
	if b := mustBake(t, s, "e2"); b.Deleted {
		t.Fatalf("a bake of no execution was deleted")
	}
}
