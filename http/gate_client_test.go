package http_test

import (
	"encoding/json"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	bhttp "github.com/bakehouse/bakehouse/http"
	"github.com/bakehouse/bakehouse/pipeline"
)

// TestGateAuth: with an API token, saving, deleting, starting and
// cancelling need it and reads do not; a trusted network (where Orca and
// spin run) needs none.
func TestGateAuth(t *testing.T) {
	g := newGate(t, bhttp.Auth{Token: testToken})
	cfg, _ := json.Marshal(bakePipeline())
	auth := []string{"Authorization", "Bearer " + testToken}
	if status, b := g.call("POST", "/pipelines", string(cfg)); status != http.StatusUnauthorized {
		t.Fatalf("save without the token: %d %s", status, b)
	}
	if status, b := g.call("POST", "/pipelines", string(cfg), auth...); status != http.StatusOK {
		t.Fatalf("save with the token: %d %s", status, b)
	}
	if status, _ := g.call("GET", "/applications/armory/pipelineConfigs/Bake%20hello", ""); status != http.StatusOK {
		t.Fatalf("a read needs the token: %d", status)
	}
	if status, _ := g.call("POST", "/pipelines/armory/Bake%20hello", ""); status != http.StatusUnauthorized {
		t.Fatalf("start without the token: %d", status)
	}
	status, b := g.call("POST", "/pipelines/armory/Bake%20hello", "", auth...)
	if status != http.StatusAccepted {
		t.Fatalf("start with the token: %d %s", status, b)
	}
	var ref struct{ Ref string }
	json.Unmarshal(b, &ref)
	if status, _ := g.call("PUT", ref.Ref+"/cancel", ""); status != http.StatusUnauthorized {
		t.Fatalf("cancel without the token: %d", status)
	}
	if status, _ := g.call("DELETE", "/pipelines/armory/Bake%20hello", ""); status != http.StatusUnauthorized {
		t.Fatalf("delete without the token: %d", status)
	}
	if status, _ := g.call("GET", "/executions?executionIds="+strings.TrimPrefix(ref.Ref, "/pipelines/"), ""); status != http.StatusOK {
		t.Fatalf("execution list needs the token: %d", status)
	}

	trusted := newGate(t, bhttp.Auth{Token: testToken, TrustedNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	if status, b := trusted.call("POST", "/pipelines", string(cfg)); status != http.StatusOK {
		t.Fatalf("save from a trusted network without a token: %d %s", status, b)
	}
}

// TestGateClient drives the CLI's client over the Gate paths.
func TestGateClient(t *testing.T) {
	g := newGate(t, bhttp.Auth{})
	c := bhttp.NewClient(g.srv.URL)
	ctx := t.Context()
	if v, err := c.GateVersion(ctx); err != nil || v == "" {
		t.Fatalf("GateVersion = %q, %v", v, err)
	}
	raw, _ := json.Marshal(bakePipeline())
	cfg, err := pipeline.ParseConfig(raw)
	if err != nil {
		t.Fatal(err)
	}
	saved, err := c.SavePipeline(ctx, cfg)
	if err != nil || saved.ID() == "" {
		t.Fatalf("SavePipeline: %v, %v", saved, err)
	}
	if _, err := c.Pipeline(ctx, "armory", "nope"); !bhttp.IsNotFound(err) {
		t.Fatalf("Pipeline of an absent one: %v, want a 404", err)
	}
	got, err := c.Pipeline(ctx, "armory", "Bake hello")
	if err != nil || got.ID() != saved.ID() {
		t.Fatalf("Pipeline: %v, %v", got, err)
	}
	if l, err := c.Pipelines(ctx, "armory"); err != nil || len(l) != 1 {
		t.Fatalf("Pipelines: %v, %v", l, err)
	}
	if apps, err := c.Applications(ctx); err != nil || len(apps) != 1 || apps[0] != "armory" {
		t.Fatalf("Applications: %v, %v", apps, err)
	}
	id, err := c.StartPipeline(ctx, "armory", "Bake hello", map[string]any{"type": "manual", "rebake": true})
	if err != nil {
		t.Fatal(err)
	}
	ex, err := c.Execution(ctx, id)
	if err != nil || ex.ID != id || ex.Trigger["rebake"] != true {
		t.Fatalf("Execution: %+v, %v", ex, err)
	}
	for _, f := range []pipeline.ExecutionFilter{{IDs: []string{id}, Limit: 1}, {PipelineConfigIDs: []string{saved.ID()}}, {Application: "armory"}} {
		if exs, err := c.Executions(ctx, f); err != nil || len(exs) != 1 || exs[0].ID != id {
			t.Fatalf("Executions(%+v): %v, %v", f, exs, err)
		}
	}
	if err := c.CancelExecution(ctx, id, "test"); err != nil {
		t.Fatal(err)
	}
	if err := c.DeletePipeline(ctx, "armory", "Bake hello"); err != nil {
		t.Fatal(err)
	}
	if err := c.DeletePipeline(ctx, "armory", "Bake hello"); !bhttp.IsNotFound(err) {
		t.Fatalf("second delete: %v, want a 404", err)
	}
}
