package bakery

import (
	"slices"
	"strings"
	"testing"

	"github.com/bakehouse/bakehouse"
)

func rec(id string, state bakehouse.BakeState, result bakehouse.BakeResult, deleted bool) *bakehouse.BakeRecord {
	r := &bakehouse.BakeRecord{ID: id, State: state, Deleted: deleted}
	if result != "" {
		r.Result = &result
	}
	return r
}

func TestReusable(t *testing.T) {
	for _, c := range []struct {
		b    *bakehouse.BakeRecord
		want bool
	}{
		{rec("running", bakehouse.StateRunning, "", false), true},
		{rec("succeeded", bakehouse.StateCompleted, bakehouse.ResultSuccess, false), true},
		{rec("failed", bakehouse.StateCompleted, bakehouse.ResultFailure, false), false},
		{rec("canceled", bakehouse.StateCanceled, bakehouse.ResultFailure, false), false},
		{rec("deleted running", bakehouse.StateRunning, "", true), false},
		{rec("deleted success", bakehouse.StateCompleted, bakehouse.ResultSuccess, true), false},
	} {
		if got := reusable(c.b); got != c.want {
			t.Errorf("reusable(%s) = %v, want %v", c.b.ID, got, c.want)
		}
	}
}

func TestDecideReusesNewestReusable(t *testing.T) {
	existing := []*bakehouse.BakeRecord{
		rec("failed", bakehouse.StateCompleted, bakehouse.ResultFailure, false),
		rec("deleted", bakehouse.StateCompleted, bakehouse.ResultSuccess, true),
		rec("ok", bakehouse.StateCompleted, bakehouse.ResultSuccess, false),
		rec("older", bakehouse.StateCompleted, bakehouse.ResultSuccess, false),
	}
	d := decide(&bakehouse.BakeRecord{ID: "new"}, false)(existing)
	if d.Reuse == nil || d.Reuse.ID != "ok" || len(d.Supersede) != 0 {
		t.Fatalf("decide = %+v, want reuse of ok", d)
	}
	d = decide(&bakehouse.BakeRecord{ID: "new"}, false)(existing[:2])
	if d.Reuse != nil || len(d.Supersede) != 0 {
		t.Fatalf("decide with nothing reusable = %+v, want a new bake", d)
	}
}

func TestDecideRebakeSupersedesRunning(t *testing.T) {
	phases := []bakehouse.Phase{{Name: "queued", Seconds: 2}}
	running := rec("running", bakehouse.StateRunning, "", false)
	running.Phases = phases
	existing := []*bakehouse.BakeRecord{
		running,
		rec("deleted-running", bakehouse.StateRunning, "", true),
		rec("ok", bakehouse.StateCompleted, bakehouse.ResultSuccess, false),
	}
	d := decide(&bakehouse.BakeRecord{ID: "new"}, true)(existing)
	if d.Reuse != nil {
		t.Fatalf("a rebake reused %s", d.Reuse.ID)
	}
	var got []string
	for _, f := range d.Supersede {
		got = append(got, f.ID)
		if f.State != bakehouse.StateCanceled || f.Result != bakehouse.ResultFailure || !strings.Contains(f.Error, "superseded by rebake new") {
			t.Errorf("supersede %s as %s/%s %q", f.ID, f.State, f.Result, f.Error)
		}
	}
	if !slices.Equal(got, []string{"running", "deleted-running"}) {
		t.Fatalf("rebake supersedes %v, want every RUNNING bake with the key", got)
	}
	if len(d.Supersede[0].Phases) != 1 {
		t.Errorf("superseding drops the bake's phases")
	}
}

func TestPreviousReason(t *testing.T) {
	if r := previousReason(nil); r != "" {
		t.Errorf("previousReason(none) = %q", r)
	}
	if r := previousReason(rec("f", bakehouse.StateCompleted, bakehouse.ResultFailure, false)); r != "previous bake f with the same inputs ended COMPLETED/FAILURE" {
		t.Errorf("previousReason(failed) = %q", r)
	}
	if r := previousReason(rec("d", bakehouse.StateCompleted, bakehouse.ResultSuccess, true)); r != "previous bake d with the same inputs was deleted" {
		t.Errorf("previousReason(deleted) = %q", r)
	}
}
