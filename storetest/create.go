package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/bakehouse/bakehouse"
)

func testCreateInserts(t *testing.T, s bakehouse.BakeStore) {
	ctx := context.Background()
	r := newRecord("b1", "bake:docker:bookworm:kato")
	r.Phases = []bakehouse.Phase{{Name: "queued"}}
	res := create(t, s, r)
	if res.Reused || res.Bake.ID != "b1" || res.Bake.State != bakehouse.StateRunning || res.Bake.Result != nil || len(res.Superseded) != 0 {
		t.Fatalf("create: got %+v", res)
	}
	got := mustBake(t, s, "b1")
	if got.State != bakehouse.StateRunning || got.Result != nil || got.CreatedAt.IsZero() || !got.FinishedAt.IsZero() || got.Deleted {
		t.Fatalf("new bake: state %s result %v created %v finished %v deleted %v", got.State, got.Result, got.CreatedAt, got.FinishedAt, got.Deleted)
	}
	if got.Key != r.Key || got.RoscoKey != r.RoscoKey || got.Region != "global" || got.Provider != "docker" ||
		got.Request.Package != "kato" || got.Plan.ImageName != "kato:1" || got.Reason != r.Reason {
		t.Fatalf("Bake(b1) lost fields: %+v", got)
	}
	// BakesByKey's records carry the head of the bake (what the rules read).
	if bakes := mustBakesByKey(t, s, r.Key); len(bakes) != 1 || bakes[0].ID != "b1" || bakes[0].Key != r.Key ||
		bakes[0].State != bakehouse.StateRunning || bakes[0].Result != nil ||
		bakes[0].Deleted || !bakes[0].CreatedAt.Equal(got.CreatedAt) {
		t.Fatalf("BakesByKey(%s) = %+v; want the head of b1", r.Key, bakes)
	}
	if bakes := mustBakesByKey(t, s, "no such key"); len(bakes) != 0 {
		t.Fatalf("BakesByKey(unknown) = %v; want none", ids(bakes))
	}
	if _, err := s.CreateBake(ctx, bakehouse.CreateBakeParams{Record: newRecord("b2", "k")}); err == nil {
		t.Fatalf("CreateBake without Decide must fail")
	}
}

func testDecideSees(t *testing.T, s bakehouse.BakeStore) {
	create(t, s, newRecord("s1", "k"))
	mustFinish(t, s, "s1", bakehouse.StateCompleted, bakehouse.ResultSuccess)
	create(t, s, newRecord("s2", "k"))
	mustFinish(t, s, "s2", bakehouse.StateCanceled, bakehouse.ResultFailure)
	if _, err := s.DeleteByRoscoKey(context.Background(), "k"); err != nil {
		t.Fatal(err)
	}
	create(t, s, newRecord("s3", "k"))
	create(t, s, newRecord("other", "k2"))

	var seen []*bakehouse.BakeRecord
	calls := 0
	mustCreate(t, s, newRecord("s4", "k"), func(existing []*bakehouse.BakeRecord) bakehouse.CreateDecision {
		calls++
		seen = existing
		return bakehouse.CreateDecision{}
	})
	if calls != 1 {
		t.Fatalf("Decide called %d times, want once", calls)
	}
	if got := ids(seen); !slices.Equal(got, []string{"s3", "s2", "s1"}) {
		t.Fatalf("Decide saw %v, want the bakes with the key, newest first: [s3 s2 s1]", got)
	}
	want := map[string]struct {
		state   bakehouse.BakeState
		deleted bool
	}{"s3": {bakehouse.StateRunning, false}, "s2": {bakehouse.StateCanceled, true}, "s1": {bakehouse.StateCompleted, true}}
	for _, b := range seen {
		if w := want[b.ID]; b.State != w.state || b.Deleted != w.deleted {
			t.Errorf("Decide saw %s as %s deleted=%v, want %s deleted=%v", b.ID, b.State, b.Deleted, w.state, w.deleted)
		}
	}
	if got := ids(mustBakesByKey(t, s, "k:digest")); !slices.Equal(got, []string{"s4", "s3", "s2", "s1"}) {
		t.Fatalf("BakesByKey = %v, want [s4 s3 s2 s1]", got)
	}
	var read []string
	err := s.BakesByKey(context.Background(), "k:digest", func(b *bakehouse.BakeRecord) bool {
		read = append(read, b.ID)
		return len(read) < 2
	})
	if err != nil || !slices.Equal(read, []string{"s4", "s3"}) {
		t.Fatalf("BakesByKey stopped by yield read %v, %v; want [s4 s3]", read, err)
	}
}

func testReuseWritesNothing(t *testing.T, s bakehouse.BakeStore) {
	create(t, s, newRecord("r1", "k"))
	mustFinish(t, s, "r1", bakehouse.StateCompleted, bakehouse.ResultSuccess)
	res := mustCreate(t, s, newRecord("r2", "k"), reuseNewest)
	if !res.Reused || res.Bake.ID != "r1" || res.Bake.Details == nil || res.Bake.Details.ImageName != "kato:1" {
		t.Fatalf("reuse: got reused=%v %+v", res.Reused, res.Bake)
	}
	if _, err := s.Bake(context.Background(), "r2"); bakehouse.ErrorCode(err) != bakehouse.ENOTFOUND {
		t.Fatalf("a reused request must not leave a row: Bake(r2) err = %v", err)
	}
	if got := ids(mustBakesByKey(t, s, "k:digest")); !slices.Equal(got, []string{"r1"}) {
		t.Fatalf("BakesByKey after a reuse = %v, want [r1]", got)
	}
}

func testSupersede(t *testing.T, s bakehouse.BakeStore) {
	ctx := context.Background()
	create(t, s, newRecord("a0", "k"))
	mustFinish(t, s, "a0", bakehouse.StateCompleted, bakehouse.ResultSuccess)
	create(t, s, newRecord("a1", "k"))
	if err := s.MarkStarted(ctx, "a1", 77); err != nil {
		t.Fatal(err)
	}
	endAll := func(existing []*bakehouse.BakeRecord) bakehouse.CreateDecision {
		var d bakehouse.CreateDecision
		for _, b := range existing {
			d.Supersede = append(d.Supersede, bakehouse.FinishBakeParams{ID: b.ID, State: bakehouse.StateCanceled,
				Result: bakehouse.ResultFailure, Error: "superseded by a2", Phases: []bakehouse.Phase{{Name: "queued", Seconds: 1}}})
		}
		return d
	}
	res := mustCreate(t, s, newRecord("a2", "k"), endAll)
	if res.Reused || res.Bake.ID != "a2" {
		t.Fatalf("create: got reused=%v id=%s", res.Reused, res.Bake.ID)
	}
	if len(res.Superseded) != 1 || res.Superseded[0].ID != "a1" || res.Superseded[0].PID != 77 {
		t.Fatalf("Superseded = %v, want a1 as it was (pid 77): only the bake that was still RUNNING", ids(res.Superseded))
	}
	old := mustBake(t, s, "a1")
	if old.State != bakehouse.StateCanceled || old.Result == nil || *old.Result != bakehouse.ResultFailure ||
		old.Error != "superseded by a2" || old.FinishedAt.IsZero() || len(old.Phases) != 1 {
		t.Fatalf("superseded bake: %s/%v error %q finished %v phases %v", old.State, old.Result, old.Error, old.FinishedAt, old.Phases)
	}
	if done := mustBake(t, s, "a0"); done.State != bakehouse.StateCompleted || done.Error != "" {
		t.Fatalf("a finished bake was superseded: %s %q", done.State, done.Error)
	}
	_, err := s.CreateBake(ctx, bakehouse.CreateBakeParams{Record: newRecord("a3", "k"), Decide: func([]*bakehouse.BakeRecord) bakehouse.CreateDecision {
		return bakehouse.CreateDecision{Supersede: []bakehouse.FinishBakeParams{{ID: "a2", State: bakehouse.StateCanceled, Result: bakehouse.ResultFailure},
			{ID: "elsewhere", State: bakehouse.StateCanceled, Result: bakehouse.ResultFailure}}}
	}})
	if err == nil {
		t.Fatalf("superseding a bake that does not have the key must fail")
	}
	if b := mustBake(t, s, "a2"); b.State != bakehouse.StateRunning {
		t.Fatalf("a failed CreateBake ended a2: %s", b.State)
	}
	if _, err := s.Bake(ctx, "a3"); bakehouse.ErrorCode(err) != bakehouse.ENOTFOUND {
		t.Fatalf("a failed CreateBake inserted a3: %v", err)
	}
}

func testBakeExists(t *testing.T, s bakehouse.BakeStore) {
	ctx := context.Background()
	create(t, s, newRecord("x1", "k1"))
	create(t, s, newRecord("x2", "k2"))
	// A taken id, with a decision that ends x2: nothing of it is written.
	_, err := s.CreateBake(ctx, bakehouse.CreateBakeParams{Record: newRecord("x1", "k2"), Decide: func([]*bakehouse.BakeRecord) bakehouse.CreateDecision {
		return bakehouse.CreateDecision{Supersede: []bakehouse.FinishBakeParams{{ID: "x2", State: bakehouse.StateCanceled, Result: bakehouse.ResultFailure}}}
	}})
	if !errors.Is(err, bakehouse.ErrBakeExists) || bakehouse.ErrorCode(err) != bakehouse.ECONFLICT {
		t.Fatalf("CreateBake with a taken id: err = %v (code %s), want ErrBakeExists (ECONFLICT)", err, bakehouse.ErrorCode(err))
	}
	if b := mustBake(t, s, "x2"); b.State != bakehouse.StateRunning {
		t.Fatalf("a CreateBake that failed with ErrBakeExists ended x2: %s", b.State)
	}
	if b := mustBake(t, s, "x1"); b.Key != "k1:digest" {
		t.Fatalf("a CreateBake that failed with ErrBakeExists changed x1: key %s", b.Key)
	}
	if got := ids(mustBakesByKey(t, s, "k2:digest")); !slices.Equal(got, []string{"x2"}) {
		t.Fatalf("BakesByKey(k2) = %v, want [x2]", got)
	}
	if _, err := s.CreateBake(ctx, bakehouse.CreateBakeParams{Record: newRecord("x3", "k3"), Decide: reuseNewest}); err != nil {
		t.Fatalf("a CreateBake after ErrBakeExists: %v", err)
	}
}

func testRace(t *testing.T, s bakehouse.BakeStore) {
	const n = 20
	var wg sync.WaitGroup
	created := make(chan string, n)
	errs := make(chan error, n)
	start := make(chan struct{})
	// Each Decide waits until every request is inside Decide, or until
	// none has come in for 150ms. A store whose transactions do not
	// exclude each other then has them read "no bake" together, however
	// unevenly they got their connections, and makes several bakes; a
	// store that serializes them pays 150ms per request.
	var mu sync.Mutex
	inDecide, lastIn := 0, time.Time{}
	waitingReuse := func(existing []*bakehouse.BakeRecord) bakehouse.CreateDecision {
		mu.Lock()
		inDecide++
		lastIn = time.Now()
		mu.Unlock()
		for {
			mu.Lock()
			done := inDecide == n || time.Since(lastIn) > 150*time.Millisecond
			mu.Unlock()
			if done {
				return reuseNewest(existing)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			res, err := s.CreateBake(context.Background(), bakehouse.CreateBakeParams{Record: newRecord(fmt.Sprintf("r%d", i), "bake:docker:bookworm:race"), Decide: waitingReuse})
			if err != nil {
				errs <- err
				return
			}
			if !res.Reused {
				created <- res.Bake.ID
			}
		}(i)
	}
	close(start)
	wg.Wait()
	close(created)
	close(errs)
	for err := range errs {
		t.Fatalf("CreateBake: %v", err)
	}
	var got []string
	for id := range created {
		got = append(got, id)
	}
	if len(got) != 1 {
		t.Fatalf("%d racing creates made %d bakes (%v), want exactly 1", n, len(got), got)
	}
	if bakes := mustBakesByKey(t, s, "bake:docker:bookworm:race:digest"); len(bakes) != 1 {
		t.Fatalf("%d racing creates stored %v, want one bake", n, ids(bakes))
	}
}
