package http_test

import (
	"context"
	"testing"
	"time"

	"github.com/bakehouse/bakehouse"
	bhttp "github.com/bakehouse/bakehouse/http"
	"github.com/bakehouse/bakehouse/pipeline"
)

// TestOrcaBakeryEndReasonNodeDied: a pipeline's bakery client reads why a
// bake ended, and a bake the live nodes ended because its node died (the
// bakery's own words) is one the Bake stage submits again
// (pipeline.NodeDied); a bake canceled by a user is not.
func TestOrcaBakeryEndReasonNodeDied(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	t0 := time.Now().Add(-time.Hour).Truncate(time.Second).UTC()
	e.setNow(func() time.Time { return t0 })
	if err := e.store.(bakehouse.NodeStore).Heartbeat(ctx, bakehouse.Node{ID: "node-dead"}); err != nil {
		t.Fatal(err)
	}
	later := t0.Add(bakehouse.NodeTimeout + 5*time.Second)
	e.setNow(func() time.Time { return later })
	e.svc.Now = func() time.Time { return later }
	req := bakehouse.BakeRequest{Package: "kato", BaseOS: "ubuntu"}
	for _, id := range []string{"on-dead", "on-gone", "user-canceled"} {
		e.seed(id, "", "", req, bakehouse.Plan{}, "global", bakehouse.StateRunning, "", nil)
	}
	mustClaim(t, e, "on-dead", "node-dead")
	mustClaim(t, e, "on-gone", "node-gone")
	if n, err := e.svc.EndDeadNodesBakes(ctx); err != nil || n != 2 {
		t.Fatalf("EndDeadNodesBakes = %d, %v; want 2", n, err)
	}
	if err := e.svc.Cancel(ctx, "user-canceled"); err != nil {
		t.Fatal(err)
	}
	b := bhttp.NewOrcaBakery(e.srv.URL, "")
	for id, want := range map[string]bool{"on-dead": true, "on-gone": true, "user-canceled": false} {
		why, err := b.EndReason(ctx, "global", id)
		if err != nil || pipeline.NodeDied(why) != want {
			t.Errorf("bake %s ended %q (%v): node died %v, want %v", id, why, err, pipeline.NodeDied(why), want)
		}
	}
}
