// Package dockertest gives tests a Docker engine and Bakehouse's Debian base
// image. Without an engine tests skip, unless BAKEHOUSE_INTEGRATION=1 (as
// in CI), where a missing engine must fail rather than pass silently.
package dockertest

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/bakehouse/bakehouse/docker"
)

// Base image the integration tests bake on, made by EnsureBaseImage.
const (
	BaseImage = "bakehouse/debian:bookworm"
	BaseSuite = "bookworm"
)

// Integration reports whether integration tests must run (and so fail
// rather than skip when what they need is missing).
func Integration() bool { return os.Getenv("BAKEHOUSE_INTEGRATION") == "1" }

// SkipOrFail skips the test, or fails it when Integration() is true.
func SkipOrFail(tb testing.TB, format string, args ...any) {
	tb.Helper()
	if Integration() {
		tb.Fatalf(format, args...)
	}
	tb.Skipf(format+" (BAKEHOUSE_INTEGRATION=1 makes this fail)", args...)
}

// MustEngine returns a Client for the engine at $DOCKER_HOST.
func MustEngine(tb testing.TB) *docker.Client {
	tb.Helper()
	c, err := docker.New("", nil)
	if err != nil {
		SkipOrFail(tb, "%v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := c.Version(ctx); err != nil {
		SkipOrFail(tb, "%v", err)
	}
	return c
}

// CacheDir is where base image tarballs are kept between test runs:
// $BAKEHOUSE_CACHE_DIR, else bakehouse-cache in the temporary directory.
// Test binaries running in parallel share it, and its lock, so they do not
// bootstrap Debian twice.
func CacheDir() string {
	if d := os.Getenv("BAKEHOUSE_CACHE_DIR"); d != "" {
		return d
	}
	return filepath.Join(os.TempDir(), "bakehouse-cache")
}

// MustBaseImage makes sure BaseImage exists and returns its ID. The first
// run bootstraps Debian with mmdebstrap (about a minute).
func MustBaseImage(tb testing.TB, c *docker.Client) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	start := time.Now()
	id, err := c.EnsureBaseImage(ctx, BaseImage, BaseSuite, CacheDir(), func(line string) { tb.Log(line) })
	if err != nil {
		tb.Fatalf("base image: %v", err)
	}
	tb.Logf("base image %s = %s (%s)", BaseImage, id, time.Since(start).Round(time.Millisecond))
	return id
}

// MustDocker runs docker args against c's engine and returns stdout.
func MustDocker(tb testing.TB, c *docker.Client, args ...string) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := c.Command(ctx, args...)
	out, err := cmd.Output()
	if err != nil {
		var msg string
		if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
			msg = string(ee.Stderr)
		}
		tb.Fatalf("docker %q: %v %s", args, err, msg)
	}
	return string(out)
}
