package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// record is the part of GET /api/v1/bakes/{id} these tests read.
type record struct {
	BakeKey string `json:"bake_key"`
	Plan    struct {
		ImageName string `json:"image_name"`
		Packages  []struct {
			Name    string `json:"name"`
			Version string `json:"version"`
			Release string `json:"release"`
		} `json:"packages"`
		Packer struct {
			Argv []string `json:"argv"`
		} `json:"packer"`
	} `json:"plan"`
}

func recordOf(t *testing.T, srv *server, id string) record {
	t.Helper()
	var r record
	if code, body, _ := call(t, "GET", srv.url+"/api/v1/bakes/"+id, nil, &r); code != 200 {
		t.Fatalf("record %s: %d %s", id, code, body)
	}
	return r
}

// TestQueuedBakeRunsItsStoredPlan holds the only worker with a slow bake,
// queues an unversioned request while the repository holds 1.0, uploads
// 2.0, and lets the queued bake run: it installs 1.0 under the image name
// (with its timestamp) planned when it was created, not what the request
// would resolve to when the worker gets to it. A new request then bakes
// 2.0 under a new key.
func TestQueuedBakeRunsItsStoredPlan(t *testing.T) {
	needBakeTools(t)
	dir := t.TempDir()
	gate, held := filepath.Join(dir, "gate"), filepath.Join(dir, "held")
	real, err := exec.LookPath("packer")
	if err != nil {
		t.Fatal(err)
	}
	// The holder's "packer" waits for the gate, then fails at once.
	wrapper := filepath.Join(dir, "packer")
	script := fmt.Sprintf(`#!/bin/sh
case "$*" in *hold-the-worker*)
	touch %[1]s
	i=0; while [ ! -e %[2]s ] && [ $i -lt 1500 ]; do sleep 0.2; i=$((i+1)); done
	echo "holder released"; exit 3;;
esac
exec %[3]s "$@"
`, held, gate, real)
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.WriteFile(gate, nil, 0o644) })
	srv := startServer(t, t.TempDir(), "bakehouse:\n  concurrency: 1\n  packerPath: "+wrapper+"\n", nil)
	upload(t, srv, sampleDeb(t, "1.0-h1.aaa"))

	// No commit_hash: the image tag is the bake time, taken when planned.
	req := map[string]any{"package": "armory-hello-deploy", "base_os": "bookworm", "cloud_provider_type": "docker", "user": "test@example.com"}
	var holder, queued status
	if code, body, _ := call(t, "POST", srv.url+"/api/v1/global/bake", with(req, "ami_name", "hold-the-worker"), &holder); code != 200 {
		t.Fatalf("holder: %d %s", code, body)
	}
	for deadline := time.Now().Add(3 * time.Minute); ; time.Sleep(100 * time.Millisecond) {
		if _, err := os.Stat(held); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the holder bake did not start:\n%s", logsOf(t, srv, holder.ID))
		}
	}
	if code, body, _ := call(t, "POST", srv.url+"/api/v1/global/bake", req, &queued); code != 200 || queued.ID == holder.ID {
		t.Fatalf("queued bake: %d %s", code, body)
	}
	planned := recordOf(t, srv, queued.ID)
	if p := planned.Plan.Packages; len(p) != 1 || p[0].Version != "1.0" || p[0].Release != "h1.aaa" {
		t.Fatalf("queued bake's plan packages = %+v, want 1.0-h1.aaa", p)
	}
	if !strings.HasPrefix(planned.Plan.ImageName, "bakehouse/armory-hello-deploy:") {
		t.Fatalf("planned image name = %q", planned.Plan.ImageName)
	}
	t.Cleanup(func() { exec.Command("docker", "rmi", "-f", planned.Plan.ImageName).Run() })

	// A new release arrives while the bake waits, and time passes.
	time.Sleep(20 * time.Millisecond)
	upload(t, srv, sampleDeb(t, "2.0-h2.bbb"))
	var now map[string]any
	call(t, "POST", srv.url+"/api/v1/global/bake/plan", req, &now)
	if argv := fmt.Sprint(now["packer"].(map[string]any)["argv"]); !strings.Contains(argv, "armory-hello-deploy=2.0-h2.bbb") || now["reuse"] != nil {
		t.Fatalf("after the upload the request plans %s (reuse %v), want 2.0 and a new bake", argv, now["reuse"])
	}

	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitDone(t, srv, holder.ID, 2*time.Minute)
	if final := waitDone(t, srv, queued.ID, 5*time.Minute); final.State != "COMPLETED" {
		t.Fatalf("queued bake ended %s\n%s", final, logsOf(t, srv, queued.ID))
	}
	var details map[string]any
	call(t, "GET", srv.url+"/api/v1/global/bake/"+queued.ID, nil, &details)
	if details["image_name"] != planned.Plan.ImageName {
		t.Errorf("baked image %v, want the planned %s (its timestamp included)", details["image_name"], planned.Plan.ImageName)
	}
	if got := runHello(t, planned.Plan.ImageName); !strings.Contains(got, "hello deploy 1.0-h1.aaa") {
		t.Errorf("the queued bake's image says %q, want 1.0-h1.aaa", got)
	}
	logs := logsOf(t, srv, queued.ID)
	if !strings.Contains(logs, "Running: "+strings.Join(planned.Plan.Packer.Argv, " ")) {
		t.Errorf("the bake did not run its stored argv %q:\n%s", planned.Plan.Packer.Argv, logs)
	}

	// The same request now resolves 2.0: a new key and a new bake.
	var next status
	if code, body, _ := call(t, "POST", srv.url+"/api/v1/global/bake", req, &next); code != 200 || next.ID == queued.ID {
		t.Fatalf("request after the upload: %d %s (want a new bake, not %s)", code, body, queued.ID)
	}
	rec := recordOf(t, srv, next.ID)
	t.Cleanup(func() { exec.Command("docker", "rmi", "-f", rec.Plan.ImageName).Run() })
	if rec.BakeKey == planned.BakeKey {
		t.Errorf("2.0 was keyed like 1.0: %s", rec.BakeKey)
	}
	if final := waitDone(t, srv, next.ID, 5*time.Minute); final.State != "COMPLETED" {
		t.Fatalf("2.0 bake ended %s\n%s", final, logsOf(t, srv, next.ID))
	}
	if got := runHello(t, rec.Plan.ImageName); !strings.Contains(got, "hello deploy 2.0-h2.bbb") {
		t.Errorf("the new bake's image says %q, want 2.0-h2.bbb", got)
	}
}

// runHello runs the sample package's program in image.
func runHello(t *testing.T, image string) string {
	t.Helper()
	out, err := exec.Command("docker", "run", "--rm", "--network=none", image, "hello-deploy").CombinedOutput()
	if err != nil {
		t.Fatalf("docker run %s: %v: %s", image, err, out)
	}
	return string(out)
}
