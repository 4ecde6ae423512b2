package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bakehouse/bakehouse/docker/dockertest"
	"github.com/bakehouse/bakehouse/packer"
)

// TestServeOldPacker refuses to start with a Packer older than the
// minimum, naming the version found, the one needed and the fix.
func TestServeOldPacker(t *testing.T) {
	old := filepath.Join(t.TempDir(), "packer")
	if err := os.WriteFile(old, []byte("#!/bin/sh\necho 'Packer v1.4.5'\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	config := writeConfig(t, "bakehouse:\n  packerPath: "+old+"\n")
	// A server that starts anyway is stopped, and the test fails, rather
	// than hangs.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--config", config},
		testEnv(nil), strings.NewReader(""), io.Discard, io.Discard)
	var ve *packer.VersionError
	if !errors.As(err, &ve) || ve.Version != "1.4.5" {
		t.Fatalf("serve with packer 1.4.5: err = %v, want a *packer.VersionError", err)
	}
	for _, want := range []string{old + " is version 1.4.5", "needs " + packer.MinVersion + " or newer", "apt-get install packer", "bakehouse.packerPath"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

// health reads /health.
func health(t *testing.T, srv *server) map[string]any {
	t.Helper()
	var h map[string]any
	if code, body, _ := call(t, "GET", srv.url+"/health", nil, &h); code != 200 {
		t.Fatalf("/health: %d %s", code, body)
	}
	return h
}

// TestHealthVersions shows the Packer and Docker engine versions in use
// in /health and `bakehouse options`, as the tools themselves report them.
func TestHealthVersions(t *testing.T) {
	out, err := exec.Command("packer", "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	wantPacker, err := packer.ParseVersion(string(out))
	if err != nil {
		t.Fatal(err)
	}

	// No engine: the version says so.
	srv := startServer(t, t.TempDir(), "", map[string]string{"DOCKER_HOST": "unix://" + t.TempDir() + "/nothing.sock"})
	h := health(t, srv)
	v, _ := h["versions"].(map[string]any)
	if h["status"] != "UP" || v["packer"] != wantPacker || v["docker"] != "unreachable" {
		t.Errorf("/health without an engine = %v, want status UP, packer %s, docker unreachable", h, wantPacker)
	}
	srv.stop(t)

	c := dockertest.MustEngine(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	wantDocker, err := c.Version(ctx)
	if err != nil || wantDocker == "" {
		t.Fatalf("engine version %q: %v", wantDocker, err)
	}
	srv = startServer(t, t.TempDir(), "", nil)
	if v, _ := health(t, srv)["versions"].(map[string]any); v["packer"] != wantPacker || v["docker"] != wantDocker {
		t.Errorf("/health versions = %v, want packer %s, docker %s", v, wantPacker, wantDocker)
	}
	text, err := cliWithEnv(t, srv, nil, "options")
	if err != nil || !strings.Contains(text, "Packer         "+wantPacker+"\n") || !strings.Contains(text, "Docker engine  "+wantDocker+"\n") ||
		!strings.Contains(text, "docker    ") || !strings.Contains(text, "bookworm") {
		t.Errorf("options: %v\n%s", err, text)
	}
	js, err := cliWithEnv(t, srv, nil, "options", "-o", "json")
	var o struct {
		Versions    struct{ Packer, Docker string }
		BakeOptions []struct{ CloudProvider string }
	}
	if err != nil || json.Unmarshal([]byte(js), &o) != nil || o.Versions.Packer != wantPacker || o.Versions.Docker != wantDocker ||
		len(o.BakeOptions) != 1 || o.BakeOptions[0].CloudProvider != "docker" {
		t.Errorf("options -o json: %v\n%s", err, js)
	}
	// /bakeOptions keeps Rosco's shape: a list, no versions.
	var ro []map[string]any
	if code, body, _ := call(t, "GET", srv.url+"/bakeOptions", nil, &ro); code != 200 || len(ro) != 1 || strings.Contains(string(body), "versions") {
		t.Errorf("/bakeOptions = %d %s", code, body)
	}
}
