package http_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bakehouse/bakehouse"
)

// TestEndDeadNodesBakes: the bakes whose node's heartbeat is older than
// NodeTimeout, or whose node is gone, end CANCELED/FAILURE naming the node
// and when it was last seen; the bakes of live nodes, queued bakes and
// this node's own are left alone. /status/all lists the live nodes with
// their bakes, and not the dead one.
func TestEndDeadNodesBakes(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	t0 := time.Now().Add(-time.Hour).Truncate(time.Second).UTC()
	e.setNow(func() time.Time { return t0 })
	if err := e.store.(bakehouse.NodeStore).Heartbeat(ctx, bakehouse.Node{ID: "node-dead", URL: "http://10.0.0.9:8087"}); err != nil {
		t.Fatal(err)
	}
	later := t0.Add(bakehouse.NodeTimeout + 5*time.Second)
	e.setNow(func() time.Time { return later })
	for _, n := range []string{"node-live", e.svc.Instance()} {
		if err := e.store.(bakehouse.NodeStore).Heartbeat(ctx, bakehouse.Node{ID: n, Concurrency: 3}); err != nil {
			t.Fatal(err)
		}
	}
	e.svc.Now = func() time.Time { return later }

	req := bakehouse.BakeRequest{Package: "kato", BaseOS: "ubuntu"}
	for _, id := range []string{"on-dead", "on-gone", "on-live", "queued", "own"} {
		e.seed(id, "", "", req, bakehouse.Plan{}, "global", bakehouse.StateRunning, "", nil)
	}
	mustClaim(t, e, "on-dead", "node-dead")
	if err := e.store.MarkStarted(ctx, "on-dead", 1); err != nil {
		t.Fatal(err)
	}
	mustClaim(t, e, "on-gone", "node-gone")
	mustClaim(t, e, "on-live", "node-live")
	mustClaim(t, e, "own", e.svc.Instance())

	n, err := e.svc.EndDeadNodesBakes(ctx)
	if err != nil || n != 2 {
		t.Fatalf("EndDeadNodesBakes = %d, %v; want 2", n, err)
	}
	for id, why := range map[string]string{
		"on-dead": "node node-dead, which ran this bake, stopped answering: last seen " + t0.Format(time.RFC3339) + ", 15s before node " + e.svc.Instance() + " ended the bake",
		"on-gone": "node node-gone, which ran this bake, is gone",
	} {
		rec, err := e.store.Bake(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if rec.State != bakehouse.StateCanceled || rec.Result == nil || *rec.Result != bakehouse.ResultFailure || !strings.Contains(rec.Error, why) {
			t.Errorf("bake %s of a dead node: %s/%v %q; want CANCELED/FAILURE saying %q", id, rec.State, rec.Result, rec.Error, why)
		}
		if logs, _ := os.ReadFile(filepath.Join(e.logDir, id+".log")); !strings.Contains(string(logs), why) {
			t.Errorf("log of %s does not say %q:\n%s", id, why, logs)
		}
	}
	for _, id := range []string{"on-live", "queued", "own"} {
		if st := e.status(id); st.State != bakehouse.StateRunning {
			t.Errorf("bake %s ended (%s): its node is alive, or it is queued", id, st.State)
		}
	}
	if n, err := e.svc.EndDeadNodesBakes(ctx); err != nil || n != 0 {
		t.Fatalf("second EndDeadNodesBakes = %d, %v; want 0", n, err)
	}

	res := e.do("GET", "/status/all", nil, nil)
	var all struct {
		Instance  string `json:"instance"`
		Instances map[string]struct {
			Status      string   `json:"status"`
			Running     []string `json:"running"`
			Queued      []string `json:"queued"`
			Concurrency int      `json:"concurrency"`
		} `json:"instances"`
	}
	if err := json.Unmarshal(res.body, &all); err != nil || res.status != 200 {
		t.Fatalf("/status/all: %d %s (%v)", res.status, res.body, err)
	}
	self := all.Instances[e.svc.Instance()]
	live := all.Instances["node-live"]
	if all.Instance != e.svc.Instance() || len(all.Instances) != 2 ||
		!slices.Equal(self.Running, []string{"own"}) || !slices.Equal(self.Queued, []string{"queued"}) ||
		live.Status != "RUNNING" || !slices.Equal(live.Running, []string{"on-live"}) || len(live.Queued) != 0 || live.Concurrency != 3 {
		t.Fatalf("/status/all = %s\nwant this node (own running, queued queued) and node-live (on-live running), not node-dead", res.body)
	}
}
