package docker_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bakehouse/bakehouse/docker"
	"github.com/bakehouse/bakehouse/docker/dockertest"
)

// TestHotReadsUseTheEngineAPI checks that ImageID and Version answer as the
// CLI does without starting the CLI: the client is given /bin/false as its
// docker binary, so any CLI call would fail.
func TestHotReadsUseTheEngineAPI(t *testing.T) {
	cli := dockertest.MustEngine(t)
	id := dockertest.MustBaseImage(t, cli)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := docker.New("/bin/false", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := c.ImageID(ctx, dockertest.BaseImage); err != nil || got != id {
		t.Errorf("ImageID(%s) = %q, %v; want %q (the CLI's)", dockertest.BaseImage, got, err, id)
	}
	if _, err := c.ImageID(ctx, "bakehouse-test/does-not-exist:never"); !errors.Is(err, docker.ErrNotFound) {
		t.Errorf("ImageID(missing) = %v, want ErrNotFound", err)
	}
	out, err := exec.CommandContext(ctx, "docker", "version", "--format", "{{.Server.Version}}").Output()
	if err != nil {
		t.Fatal(err)
	}
	if got, err := c.Version(ctx); err != nil || got != strings.TrimSpace(string(out)) {
		t.Errorf("Version = %q, %v; want %q (the CLI's)", got, err, strings.TrimSpace(string(out)))
	}
}

// TestEngineAPIUnreachable: an engine that does not answer is ErrUnreachable
// from the API path too, saying where it looked.
func TestEngineAPIUnreachable(t *testing.T) {
	host := "unix://" + filepath.Join(t.TempDir(), "none.sock")
	c, err := docker.New("/bin/false", append(os.Environ(), "DOCKER_HOST="+host))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.ImageID(ctx, "bakehouse/debian:bookworm"); !errors.Is(err, docker.ErrUnreachable) || !strings.Contains(err.Error(), host) {
		t.Errorf("ImageID = %v, want ErrUnreachable naming %s", err, host)
	}
	if _, err := c.Version(ctx); !errors.Is(err, docker.ErrUnreachable) {
		t.Errorf("Version = %v, want ErrUnreachable", err)
	}
}

// TestTLSHostsUseTheCLI: with TLS settings the API client stands aside and
// the CLI (here /bin/false, which fails) answers.
func TestTLSHostsUseTheCLI(t *testing.T) {
	c, err := docker.New("/bin/false", []string{"DOCKER_HOST=tcp://127.0.0.1:1", "DOCKER_TLS_VERIFY=1"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.ImageID(context.Background(), "x:y")
	if err == nil || !strings.Contains(err.Error(), "docker image") {
		t.Errorf("ImageID with TLS = %v, want the CLI's failure", err)
	}
}
