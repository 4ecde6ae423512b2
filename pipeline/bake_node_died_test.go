package pipeline_test

import (
	"context"
	"strings"
	"testing"

	"github.com/bakehouse/bakehouse/pipeline"
)

// reasonBakery is a fakeBakery that says why each bake ended.
type reasonBakery struct {
	*fakeBakery
	reasons map[string]string
}

func (r *reasonBakery) EndReason(_ context.Context, _, id string) (string, error) {
	return r.reasons[id], nil
}

// TestMonitorBakeResubmitsAfterNodeDied: a region child that joined a
// bake whose node died (a run taken over after a kill -9 submits its bake
// again before the live nodes end the dead node's bake) submits it again,
// once, instead of failing; a bake that ended for any other reason, or a
// second bake whose node died, fails the stage as before.
func TestMonitorBakeResubmitsAfterNodeDied(t *testing.T) {
	const died = "node n1, which ran this bake, stopped answering: last seen 2026-11-30T18:00:00Z, 16s before node n2 ended the bake; its Packer process and build containers are removed when that node comes back (bake again to retry)"
	canceled := map[string]any{"status": float64(200), "body": map[string]any{"id": "b1", "state": "CANCELED", "result": "FAILURE"}}
	newBakery := func(reason string) *reasonBakery {
		fb := okBakery()
		fb.responses["GET /api/v1/us-east-1/status/b1"] = canceled
		fb.responses["POST /api/v1/us-east-1/bake"] = map[string]any{"status": float64(200), "body": map[string]any{"id": "b2", "state": "RUNNING"}}
		return &reasonBakery{fb, map[string]string{"b1": reason}}
	}
	ctx := context.Background()

	b := newBakery(died)
	e, s := regionChild(bakeContext(map[string]any{"status": map[string]any{"id": "b1", "state": "RUNNING"}}), nil)
	st, update, err := pipeline.MonitorBake(ctx, b, e, s, noWait())
	if err != nil || st != pipeline.Running || len(b.creates) != 1 {
		t.Fatalf("bake of a dead node: %s %v, %d creates; want RUNNING and the bake submitted again", st, err, len(b.creates))
	}
	if got, _ := update["status"].(map[string]any); got["id"] != "b2" || update[pipeline.ContextResubmitted] != "b1" {
		t.Fatalf("update: %v", update)
	}
	if msgs, _ := update["messages"].([]any); len(msgs) != 1 || !strings.Contains(msgs[0].(string), "node n1, which ran this bake") {
		t.Fatalf("messages: %v", update["messages"])
	}
	// Once only: the second bake's node died too.
	for k, v := range update {
		s.Context[k] = v
	}
	b.responses["GET /api/v1/us-east-1/status/b2"] = map[string]any{"status": float64(200), "body": map[string]any{"id": "b2", "state": "CANCELED", "result": "FAILURE"}}
	b.reasons["b2"] = died
	if st, _, err := pipeline.MonitorBake(ctx, b, e, s, noWait()); st != pipeline.Terminal || err != nil || len(b.creates) != 1 {
		t.Fatalf("second bake of a dead node: %s %v, %d creates; want TERMINAL, no new bake", st, err, len(b.creates))
	}

	// A bake canceled by a user, or one that failed, fails the stage.
	for _, reason := range []string{"canceled by anna", ""} {
		b := newBakery(reason)
		e, s := regionChild(bakeContext(map[string]any{"status": map[string]any{"id": "b1", "state": "RUNNING"}}), nil)
		if st, _, err := pipeline.MonitorBake(ctx, b, e, s, noWait()); st != pipeline.Terminal || err != nil || len(b.creates) != 0 {
			t.Fatalf("bake that ended %q: %s %v, %d creates; want TERMINAL", reason, st, err, len(b.creates))
		}
	}
}
