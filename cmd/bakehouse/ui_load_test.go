package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bakehouse/bakehouse"
	"github.com/bakehouse/bakehouse/sqlite"
)

// uiPageBudget is the most a main page may take with 1,000 bakes.
const uiPageBudget = 10 * time.Second

// seedBakes writes n finished bakes into dataDir's database through the
// store, as the bakery records them (no Packer runs): every tenth failed,
// the rest succeeded with an image.
func seedBakes(t *testing.T, dataDir string, n int) {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(dataDir, "bakehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	q, err := sqlite.NewQueue(ctx, db, func(context.Context, string) error { return nil }, sqlite.QueueConfig{})
	if err != nil {
		t.Fatal(err)
	}
	store := sqlite.NewBakeStore(db, q)
	for i := range n {
		id := fmt.Sprintf("seed-%04d", i)
		version := fmt.Sprintf("1.%d.0", i)
		rec := &bakehouse.BakeRecord{ID: id, Key: "bake:docker:bookworm:app-" + version + ":" + id, RoscoKey: "bake:docker:bookworm:app-" + version,
			Region: "global", Provider: "docker", State: bakehouse.StateRunning, Reason: "no earlier bake with these inputs",
			Request: bakehouse.BakeRequest{Package: "app_" + version + "_all", BaseOS: "bookworm", CloudProviderType: "docker"},
			Plan: bakehouse.Plan{ImageName: "bakehouse/app:" + version, Packages: []bakehouse.PlanPackage{{Name: "app", Version: version}},
				Packer: bakehouse.PlanPacker{Argv: []string{"packer", "build", "-var", "package=app"}}}}
		if _, err := store.CreateBake(ctx, bakehouse.CreateBakeParams{Record: rec,
			Decide: func([]*bakehouse.BakeRecord) bakehouse.CreateDecision { return bakehouse.CreateDecision{} }}); err != nil {
			t.Fatal(err)
		}
		fin := bakehouse.FinishBakeParams{ID: id, State: bakehouse.StateCompleted, Result: bakehouse.ResultSuccess,
			Details: &bakehouse.Bake{ID: id, AMI: "sha256:" + id, ImageName: "bakehouse/app:" + version, Regions: []string{"global"}}}
		if i%10 == 9 {
			fin.Result, fin.Details, fin.Error = bakehouse.ResultFailure, nil, "packer exited with status 1"
		}
		if _, err := store.Finish(ctx, fin); err != nil {
			t.Fatal(err)
		}
	}
}

// TestUIPagesWith1000Bakes measures the main pages' load times with 1,000
// bakes in the database (the figures in the README come from a run without
// -race) and fails past uiPageBudget, which is generous for -race on a
// loaded 2-core machine (1-2 s there) but not for a page that renders
// every bake or looks each one up again.
func TestUIPagesWith1000Bakes(t *testing.T) {
	dataDir := t.TempDir()
	srv := startServer(t, dataDir, "", nil)
	srv.stop(t) // the first start creates the database
	seedBakes(t, dataDir, 1000)
	srv = startServer(t, dataDir, "", nil)

	for _, page := range []struct{ path, want string }{
		{"/ui/bakery", "the first 200"},
		{"/ui/bakery?package=app_1.99", "app_1.999.0_all"},
		{"/ui/bakery?state=COMPLETED&image=app:1.5", "bakehouse/app:1.5"},
		{"/ui/images", "app=1.998.0"},
		{"/ui/bakes/seed-0500", "bakehouse/app:1.500.0"},
		{"/api/v1/bakes?limit=1000", "seed-0000"},
	} {
		var best time.Duration
		var body string
		for range 5 {
			start := time.Now()
			resp, err := http.Get(srv.url + page.path)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if d := time.Since(start); best == 0 || d < best {
				best = d
			}
			if resp.StatusCode != 200 {
				t.Fatalf("GET %s: %d %s", page.path, resp.StatusCode, b)
			}
			body = string(b)
		}
		if !strings.Contains(body, page.want) {
			t.Errorf("GET %s does not show %q", page.path, page.want)
		}
		t.Logf("GET %s with 1,000 bakes: %s (%d KB)", page.path, best.Round(100*time.Microsecond), len(body)/1024)
		if best > uiPageBudget {
			t.Errorf("GET %s took %s with 1,000 bakes", page.path, best)
		}
	}
}
