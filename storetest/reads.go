package storetest

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/bakehouse/bakehouse"
)

// heads describes what BakesByKey yields for a key: "id STATE/RESULT
// [deleted]" per bake, newest first.
func heads(t *testing.T, s bakehouse.BakeStore, key string) string {
	t.Helper()
	var out []string
	for _, b := range mustBakesByKey(t, s, key) {
		h := fmt.Sprintf("%s %s/%s", b.ID, b.State, resultOf(b))
		if b.Deleted {
			h += " deleted"
		}
		out = append(out, h)
	}
	return strings.Join(out, ", ")
}

func resultOf(b *bakehouse.BakeRecord) string {
	if b.Result == nil {
		return "-"
	}
	return string(*b.Result)
}

// testReadsFollowWrites reads a key's bakes before and after each kind of
// write that changes what BakesByKey yields, so that a store which keeps
// reads in memory (the SQLite store's head cache) shows every write at
// once: a reuse decided from a stale read would hand out a failed,
// deleted or superseded bake.
func testReadsFollowWrites(t *testing.T, s bakehouse.BakeStore) {
	ctx := context.Background()
	const key = "fk:digest"
	step := func(what, want string) {
		t.Helper()
		if got := heads(t, s, key); got != want {
			t.Fatalf("after %s, BakesByKey yields %q, want %q", what, got, want)
		}
	}
	step("nothing", "")
	create(t, s, newRecord("f1", "fk"))
	step("CreateBake", "f1 RUNNING/-")
	mustFinish(t, s, "f1", bakehouse.StateCompleted, bakehouse.ResultSuccess)
	step("Finish", "f1 COMPLETED/SUCCESS")

	// A reader that stops early, then one that reads on, sees all.
	create(t, s, newRecord("f2", "fk"))
	n := 0
	if err := s.BakesByKey(ctx, key, func(*bakehouse.BakeRecord) bool { n++; return false }); err != nil || n != 1 {
		t.Fatalf("BakesByKey stopping at the first: %d yielded, %v", n, err)
	}
	step("a read that stopped early", "f2 RUNNING/-, f1 COMPLETED/SUCCESS")

	// A rebake's supersession ends the running bake in the same write.
	r := newRecord("f3", "fk")
	mustCreate(t, s, r, func(existing []*bakehouse.BakeRecord) bakehouse.CreateDecision {
		return bakehouse.CreateDecision{Supersede: []bakehouse.FinishBakeParams{
			{ID: "f2", State: bakehouse.StateCanceled, Result: bakehouse.ResultFailure, Error: "superseded by rebake f3"}}}
	})
	step("a superseding CreateBake", "f3 RUNNING/-, f2 CANCELED/FAILURE, f1 COMPLETED/SUCCESS")

	if err := s.Rekey(ctx, "f3", "fk:other"); err != nil {
		t.Fatal(err)
	}
	step("Rekey", "f2 CANCELED/FAILURE, f1 COMPLETED/SUCCESS")
	if got := heads(t, s, "fk:other"); got != "f3 RUNNING/-" {
		t.Fatalf("after Rekey, the new key yields %q", got)
	}

	if _, err := s.DeleteByRoscoKey(ctx, "fk"); err != nil {
		t.Fatal(err)
	}
	step("DeleteByRoscoKey", "f2 CANCELED/FAILURE deleted, f1 COMPLETED/SUCCESS deleted")

	e := newRecord("f4", "fk")
	e.Request.SpinnakerExecutionID = "01J00000000000000000000EXE"
	create(t, s, e)
	step("CreateBake after a delete", "f4 RUNNING/-, f2 CANCELED/FAILURE deleted, f1 COMPLETED/SUCCESS deleted")
	if _, err := s.DeleteByExecutions(ctx, []string{e.Request.SpinnakerExecutionID}); err != nil {
		t.Fatal(err)
	}
	step("DeleteByExecutions", "f4 RUNNING/- deleted, f2 CANCELED/FAILURE deleted, f1 COMPLETED/SUCCESS deleted")

	// What a caller does with its record does not change the next read.
	mustBakesByKey(t, s, key)[0].State = bakehouse.StateCompleted
	*mustBakesByKey(t, s, "fk:other")[0] = bakehouse.BakeRecord{ID: "changed"}
	step("a caller changed its record", "f4 RUNNING/- deleted, f2 CANCELED/FAILURE deleted, f1 COMPLETED/SUCCESS deleted")
	if got := heads(t, s, "fk:other"); got != "f3 RUNNING/- deleted" {
		t.Fatalf("after a caller changed its record, fk:other yields %q (DeleteByRoscoKey hid it too)", got)
	}
}
