// Package storetest is the one suite every BakeStore implementation must
// pass, so the SQLite and PostgreSQL stores cannot drift apart.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/bakehouse/bakehouse"
)

// Exercise runs the suite against stores made by open (a fresh, empty store
// per call).
func Exercise(t *testing.T, open func(*testing.T) bakehouse.BakeStore) {
	t.Run("CreateThenReuse", func(t *testing.T) { testCreateThenReuse(t, open(t)) })
	t.Run("RacingCreatesMakeOneBake", func(t *testing.T) { testRace(t, open(t)) })
	t.Run("RebakeSupersedesRunning", func(t *testing.T) { testRebake(t, open(t)) })
	t.Run("FailedBakeIsNotReused", func(t *testing.T) { testFailedNotReused(t, open(t)) })
	t.Run("FinishOnlyOnce", func(t *testing.T) { testFinishOnce(t, open(t)) })
	t.Run("NotFound", func(t *testing.T) { testNotFound(t, open(t)) })
	t.Run("DeleteByRoscoKey", func(t *testing.T) { testDelete(t, open(t)) })
	t.Run("RekeyAndLatestByRoscoKey", func(t *testing.T) { testRekey(t, open(t)) })
	t.Run("ExecutionsAndImages", func(t *testing.T) { testExecutionsAndImages(t, open(t)) })
	t.Run("ListByState", func(t *testing.T) { testList(t, open(t)) })
}

func newRecord(id, key string) *bakehouse.BakeRecord {
	return &bakehouse.BakeRecord{
		ID: id, Key: key + ":digest", RoscoKey: key, Region: "global", Provider: "docker",
		Request: bakehouse.BakeRequest{Package: "kato", BaseOS: "bookworm"},
		Plan:    bakehouse.Plan{BakeKey: key + ":digest", ImageName: "kato:1"},
		Reason:  "no earlier bake with this key",
	}
}

func mustCreate(t *testing.T, s bakehouse.BakeStore, r *bakehouse.BakeRecord, rebake bool) bakehouse.CreateBakeResult {
	t.Helper()
	res, err := s.CreateBake(context.Background(), bakehouse.CreateBakeParams{Record: r, Rebake: rebake})
	if err != nil {
		t.Fatalf("CreateBake(%s): %v", r.ID, err)
	}
	return res
}

func mustFinish(t *testing.T, s bakehouse.BakeStore, id string, state bakehouse.BakeState, result bakehouse.BakeResult) {
	t.Helper()
	ok, err := s.Finish(context.Background(), bakehouse.FinishBakeParams{ID: id, State: state, Result: result,
		Details: &bakehouse.Bake{ID: id, ImageName: "kato:1"}})
	if err != nil || !ok {
		t.Fatalf("Finish(%s) = %v, %v", id, ok, err)
	}
}

func testCreateThenReuse(t *testing.T, s bakehouse.BakeStore) {
	ctx := context.Background()
	res := mustCreate(t, s, newRecord("b1", "bake:docker:bookworm:kato"), false)
	if res.Reused || res.Bake.ID != "b1" || res.Bake.State != bakehouse.StateRunning {
		t.Fatalf("first create: got %+v", res)
	}
	res = mustCreate(t, s, newRecord("b2", "bake:docker:bookworm:kato"), false)
	if !res.Reused || res.Bake.ID != "b1" {
		t.Fatalf("second create while RUNNING: got reused=%v id=%s, want reuse of b1", res.Reused, res.Bake.ID)
	}
	mustFinish(t, s, "b1", bakehouse.StateCompleted, bakehouse.ResultSuccess)
	res = mustCreate(t, s, newRecord("b3", "bake:docker:bookworm:kato"), false)
	if !res.Reused || res.Bake.ID != "b1" || res.Bake.Details == nil || res.Bake.Details.ImageName != "kato:1" {
		t.Fatalf("create after success: got %+v", res.Bake)
	}
	got, err := s.Bake(ctx, "b1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Request.Package != "kato" || got.Plan.ImageName != "kato:1" || got.FinishedAt.IsZero() {
		t.Fatalf("Bake(b1) lost fields: %+v", got)
	}
	if _, err := s.Bake(ctx, "b2"); bakehouse.ErrorCode(err) != bakehouse.ENOTFOUND {
		t.Fatalf("reused request must not leave a row: Bake(b2) err = %v", err)
	}
}

func testRace(t *testing.T, s bakehouse.BakeStore) {
	const n = 20
	var wg sync.WaitGroup
	created := make(chan string, n)
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			res, err := s.CreateBake(context.Background(), bakehouse.CreateBakeParams{Record: newRecord(fmt.Sprintf("r%d", i), "bake:docker:bookworm:race")})
			if err != nil {
				errs <- err
				return
			}
			if !res.Reused {
				created <- res.Bake.ID
			}
		}(i)
	}
	wg.Wait()
	close(created)
	close(errs)
	for err := range errs {
		t.Fatalf("CreateBake: %v", err)
	}
	var ids []string
	for id := range created {
		ids = append(ids, id)
	}
	if len(ids) != 1 {
		t.Fatalf("%d racing creates made %d bakes (%v), want exactly 1", n, len(ids), ids)
	}
}

func testRebake(t *testing.T, s bakehouse.BakeStore) {
	ctx := context.Background()
	mustCreate(t, s, newRecord("a1", "k"), false)
	res := mustCreate(t, s, newRecord("a2", "k"), true)
	if res.Reused || res.Bake.ID != "a2" {
		t.Fatalf("rebake: got reused=%v id=%s", res.Reused, res.Bake.ID)
	}
	if len(res.Superseded) != 1 || res.Superseded[0].ID != "a1" {
		t.Fatalf("rebake superseded = %v, want [a1]", res.Superseded)
	}
	old, err := s.Bake(ctx, "a1")
	if err != nil {
		t.Fatal(err)
	}
	if old.State != bakehouse.StateCanceled || old.Result == nil || *old.Result != bakehouse.ResultFailure {
		t.Fatalf("superseded bake: state %s result %v", old.State, old.Result)
	}
	mustFinish(t, s, "a2", bakehouse.StateCompleted, bakehouse.ResultSuccess)
	res = mustCreate(t, s, newRecord("a3", "k"), true)
	if res.Reused || len(res.Superseded) != 0 {
		t.Fatalf("rebake of a completed bake: reused=%v superseded=%v", res.Reused, res.Superseded)
	}
}

func testFailedNotReused(t *testing.T, s bakehouse.BakeStore) {
	mustCreate(t, s, newRecord("f1", "k"), false)
	mustFinish(t, s, "f1", bakehouse.StateCompleted, bakehouse.ResultFailure)
	res := mustCreate(t, s, newRecord("f2", "k"), false)
	if res.Reused {
		t.Fatalf("a failed bake was reused")
	}
	mustFinish(t, s, "f2", bakehouse.StateCanceled, bakehouse.ResultFailure)
	if r, err := s.FindReusable(context.Background(), "k:digest"); err != nil || r != nil {
		t.Fatalf("FindReusable after cancel = %v, %v; want nil", r, err)
	}
	if r, err := s.FindLatest(context.Background(), "k:digest"); err != nil || r == nil || r.ID != "f2" {
		t.Fatalf("FindLatest = %v, %v; want f2", r, err)
	}
}

func testFinishOnce(t *testing.T, s bakehouse.BakeStore) {
	ctx := context.Background()
	mustCreate(t, s, newRecord("o1", "k"), false)
	mustFinish(t, s, "o1", bakehouse.StateCanceled, bakehouse.ResultFailure)
	ok, err := s.Finish(ctx, bakehouse.FinishBakeParams{ID: "o1", State: bakehouse.StateCompleted, Result: bakehouse.ResultSuccess})
	if err != nil || ok {
		t.Fatalf("second Finish = %v, %v; want false, nil", ok, err)
	}
	got, _ := s.Bake(ctx, "o1")
	if got.State != bakehouse.StateCanceled {
		t.Fatalf("a late finish overwrote a cancel: %s", got.State)
	}
	if _, err := s.Finish(ctx, bakehouse.FinishBakeParams{ID: "o1", State: bakehouse.StateRunning}); err == nil {
		t.Fatalf("Finish to RUNNING must fail")
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
	mustCreate(t, s, newRecord("d1", "dk"), false)
	mustFinish(t, s, "d1", bakehouse.StateCompleted, bakehouse.ResultSuccess)
	id, err := s.DeleteByRoscoKey(ctx, "dk")
	if err != nil || id != "d1" {
		t.Fatalf("DeleteByRoscoKey = %q, %v", id, err)
	}
	if res := mustCreate(t, s, newRecord("d2", "dk"), false); res.Reused {
		t.Fatalf("a deleted bake was reused")
	}
	if _, err := s.DeleteByRoscoKey(ctx, "missing"); bakehouse.ErrorCode(err) != bakehouse.EINVALID {
		t.Fatalf("delete of unknown key: err = %v", err)
	}
}

func testList(t *testing.T, s bakehouse.BakeStore) {
	mustCreate(t, s, newRecord("l1", "k1"), false)
	mustCreate(t, s, newRecord("l2", "k2"), false)
	mustFinish(t, s, "l1", bakehouse.StateCompleted, bakehouse.ResultSuccess)
	running, err := s.List(context.Background(), bakehouse.BakeFilter{State: bakehouse.StateRunning})
	if err != nil {
		t.Fatal(err)
	}
	if len(running) != 1 || running[0].ID != "l2" {
		t.Fatalf("List(RUNNING) = %v", running)
	}
}

func testRekey(t *testing.T, s bakehouse.BakeStore) {
	ctx := context.Background()
	mustCreate(t, s, newRecord("k1", "rk"), false)
	if err := s.Rekey(ctx, "k1", "rk:new"); err != nil {
		t.Fatal(err)
	}
	if r, err := s.FindReusable(ctx, "rk:new"); err != nil || r == nil || r.ID != "k1" || r.Plan.BakeKey != "rk:new" {
		t.Fatalf("FindReusable after Rekey = %+v, %v", r, err)
	}
	if r, _ := s.FindReusable(ctx, "rk:digest"); r != nil {
		t.Fatalf("old key still finds the bake")
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
	mustCreate(t, s, r, false)
	ok, err := s.Finish(ctx, bakehouse.FinishBakeParams{ID: "e1", State: bakehouse.StateCompleted, Result: bakehouse.ResultSuccess,
		Details: &bakehouse.Bake{ID: "e1", AMI: "ami-0west", ImageName: "kato-all-1-trusty", Artifacts: []bakehouse.Artifact{
			{Type: "aws/image", Location: "us-west-2", Reference: "ami-0west"}, {Type: "aws/image", Location: "us-east-1", Reference: "ami-0east"}}}})
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
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
	n, err := s.DeleteByExecutions(ctx, []string{"01J0000000000000000000000A", "other"})
	if err != nil || n != 1 {
		t.Fatalf("DeleteByExecutions = %d, %v", n, err)
	}
	if b, _ := s.FindReusable(ctx, "ek:digest"); b != nil {
		t.Fatalf("a bake of a deleted execution is still reused")
	}
}
