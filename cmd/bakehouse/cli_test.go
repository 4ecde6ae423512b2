package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
)

// cli runs a client command of the whole program against srv.
func cli(t *testing.T, srv *server, args ...string) (string, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	full := append([]string{}, args...)
	full = append(full, "--server", srv.url)
	err := run(context.Background(), full, testEnv(nil), strings.NewReader(""), &stdout, &stderr)
	return stdout.String(), stderr.String(), err
}

// TestCLI drives the CLI the way the README shows: a local .deb is added to
// the repository and baked, followed live; plan, status, logs, repo and
// options answer; a second bake reuses.
func TestCLI(t *testing.T) {
	needBakeTools(t)
	srv := startServer(t, t.TempDir(), "", nil)
	deb := sampleDeb(t, "0.5.0-h5.c4baff4")

	out, errOut, err := cli(t, srv, "bake", "--package", deb, "--base-os", "bookworm", "--build-number", "5", "--commit-hash", "c4baff4", "--ami-name", "cli-test")
	if err != nil {
		t.Fatalf("bake: %v\n%s", err, errOut)
	}
	if strings.TrimSpace(out) != "bakehouse/cli-test:c4baff4" {
		t.Fatalf("bake printed %q, want the image reference", out)
	}
	for _, want := range []string{"Added armory-hello-deploy 0.5.0-h5.c4baff4", "Provisioning with", "completed"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("bake progress lacks %q:\n%s", want, errOut)
		}
	}

	out, _, err = cli(t, srv, "plan", "--package", "armory-hello-deploy_0.5.0-h5.c4baff4_all", "--base-os", "bookworm", "--build-number", "5", "--commit-hash", "c4baff4", "--ami-name", "cli-test", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var plan struct {
		Reuse *struct{ ID, State, Reason string } `json:"reuse"`
	}
	if err := json.Unmarshal([]byte(out), &plan); err != nil || plan.Reuse == nil || plan.Reuse.State != "COMPLETED" {
		t.Fatalf("plan -o json = %s (%v)", out, err)
	}
	id := plan.Reuse.ID

	_, errOut, err = cli(t, srv, "bake", "--package", "armory-hello-deploy_0.5.0-h5.c4baff4_all", "--base-os", "bookworm", "--build-number", "5", "--commit-hash", "c4baff4", "--ami-name", "cli-test")
	if err != nil || !strings.Contains(errOut, "No changes detected; reused existing bake "+id) {
		t.Fatalf("second bake: %v\n%s", err, errOut)
	}

	if out, _, err = cli(t, srv, "status", id); err != nil || !strings.Contains(out, "COMPLETED/SUCCESS") || !strings.Contains(out, "Phase:") {
		t.Fatalf("status: %v\n%s", err, out)
	}
	// The Bakery view: a table, filterable; the queue as a table.
	if out, _, err = cli(t, srv, "list"); err != nil || !strings.Contains(out, id) || !strings.Contains(out, "COMPLETED/SUCCESS") ||
		!strings.Contains(out, "STATE") || !strings.Contains(out, "bakehouse/cli-test:c4baff4") || !strings.Contains(out, "no earlier bake with these inputs") {
		t.Fatalf("list: %v\n%s", err, out)
	}
	if out, _, err = cli(t, srv, "list", "--state", "RUNNING"); err != nil || strings.TrimSpace(out) != "No bakes match." {
		t.Fatalf("list --state RUNNING: %v\n%s", err, out)
	}
	if out, _, err = cli(t, srv, "list", "--package", "armory-hello", "-o", "json"); err != nil || !strings.Contains(out, `"id": "`+id+`"`) {
		t.Fatalf("list -o json: %v\n%s", err, out)
	}
	if _, _, err = cli(t, srv, "list", "--state", "DONE"); err == nil || !strings.Contains(err.Error(), "RUNNING, COMPLETED, CANCELED") {
		t.Fatalf("list --state DONE: %v", err)
	}
	if out, _, err = cli(t, srv, "status"); err != nil || !strings.Contains(out, "0 baking, 0 queued") || !strings.Contains(out, "The queue is empty.") {
		t.Fatalf("status: %v\n%s", err, out)
	}
	if out, _, err = cli(t, srv, "logs", id); err != nil || !strings.Contains(out, "Committing the container") {
		t.Fatalf("logs: %v\n%s", err, out)
	}
	if out, _, err = cli(t, srv, "repo", "list"); err != nil || !strings.Contains(out, "armory-hello-deploy\t0.5.0-h5.c4baff4\tall") {
		t.Fatalf("repo list: %v\n%s", err, out)
	}
	if out, _, err = cli(t, srv, "options"); err != nil || !strings.Contains(out, "bookworm") || !strings.Contains(out, "Packer         1.") {
		t.Fatalf("options: %v\n%s", err, out)
	}
	if _, _, err = cli(t, srv, "bake", "--package", "x;rm -rf /", "--base-os", "bookworm"); err == nil || !strings.Contains(err.Error(), "package") {
		t.Fatalf("bad package: err = %v, want one naming the package field", err)
	}
	if _, _, err = cli(t, srv, "cancel", id); err == nil || !strings.Contains(err.Error(), "Unable to locate incomplete bake") {
		t.Fatalf("cancel of a finished bake: %v", err)
	}
}
