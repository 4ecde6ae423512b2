package packer

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bakehouse/bakehouse"
)

// realPacker returns the packer in PATH, skipping the test when there is
// none (or it is not HashiCorp's, e.g. cracklib's "packer"), unless
// BAKEHOUSE_INTEGRATION=1 demands it.
func realPacker(t *testing.T) *Packer {
	t.Helper()
	skip := t.Skip
	if os.Getenv("BAKEHOUSE_INTEGRATION") == "1" {
		skip = t.Fatal
	}
	path, err := exec.LookPath("packer")
	if err != nil {
		skip("no packer in PATH:", err)
	}
	p, err := New(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Version(context.Background()); err != nil {
		skip("packer in PATH is not usable:", err)
	}
	return p
}

// template returns the absolute path of a testdata template.
func template(t *testing.T, name string) string {
	t.Helper()
	path, err := filepath.Abs(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return path
}

func TestRealPackerVersion(t *testing.T) {
	p := realPacker(t)
	v, err := p.Version(context.Background())
	if err != nil || v == "" {
		t.Fatalf("Version = %q, %v", v, err)
	}
	t.Logf("packer %s at %s", v, p.ExecPath())
}

func TestRealPackerBuildStreamsAndMasks(t *testing.T) {
	p := realPacker(t)
	dir := t.TempDir()
	gate := filepath.Join(dir, "gate")
	const secret = "hunter2-s3cr3t"
	argv := []string{"packer", "build", "-color=false",
		"-var", "secret=" + secret, "-var", "gate=" + gate,
		template(t, "null-stream.json")}
	rec := &lineRecorder{t: t, on: func(line string) {
		if strings.HasSuffix(line, "line-3") {
			if err := os.WriteFile(gate, nil, 0o600); err != nil {
				t.Error(err)
			}
		}
	}}
	res, err := p.Run(context.Background(), argv, RunOptions{
		Dir:    dir,
		Stdout: rec.add,
		Mask:   bakehouse.SecretValues(argv, []string{"secret"}),
	})
	rec.returned.Store(true)
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, res.Output)
	}
	if res.ExitCode != 0 {
		t.Errorf("ExitCode = %d", res.ExitCode)
	}
	lines := rec.got()
	if strings.Join(lines, "\n")+"\n" != res.Output {
		t.Errorf("streamed lines differ from Output:\n%q\n%q", lines, res.Output)
	}
	t.Logf("output:\n%s", res.Output)
	// In order, and "streamed" proves the callback saw line-3 while the
	// provisioner was still running.
	order := []string{"null: line-1", "null: the secret is ******", "null: line-3", "null: streamed", "null: line-6", "Build 'null' finished"}
	next := 0
	for _, line := range lines {
		if next < len(order) && strings.Contains(line, order[next]) {
			next++
		}
		if strings.Contains(line, secret) {
			t.Errorf("secret streamed: %q", line)
		}
	}
	if next != len(order) {
		t.Errorf("missing or out of order: %q\noutput:\n%s", order[next], res.Output)
	}
	if strings.Contains(res.Output, secret) {
		t.Error("secret in Output")
	}
	// TMPDIR isolation: shell-local writes its script under Dir.
	if !strings.Contains(res.Output, filepath.Join(dir, ".packer_tmp")) {
		t.Errorf("shell-local script not under %s/.packer_tmp:\n%s", dir, res.Output)
	}
}

func TestRealPackerBuildFailure(t *testing.T) {
	p := realPacker(t)
	dir := t.TempDir()
	argv := []string{"packer", "build", "-color=false", "-var", "fail=yes", "-var", "gate=" + dir, template(t, "null-stream.json")}
	res, err := p.Run(context.Background(), argv, RunOptions{Dir: dir})
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != 1 || res.ExitCode != 1 {
		t.Fatalf("err = %v, ExitCode = %d, want packer's exit status 1\n%s", err, res.ExitCode, res.Output)
	}
	if !strings.Contains(res.Output, "null: failing") || strings.Contains(res.Output, "line-6") {
		t.Errorf("Output:\n%s", res.Output)
	}
}

func TestRealPackerCancel(t *testing.T) {
	p := realPacker(t)
	dir := t.TempDir()
	marker := filepath.Join(dir, "marker")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rec := &lineRecorder{t: t, on: func(line string) {
		if strings.HasSuffix(line, "null: sleeping") {
			cancel()
		}
	}}
	argv := []string{"packer", "build", "-color=false", "-var", "marker=" + marker, template(t, "null-cancel.json")}
	start := time.Now()
	// A 30 s grace period: ending well before it shows that SIGINT, not
	// SIGKILL, stopped the build.
	res, err := p.Run(ctx, argv, RunOptions{Dir: dir, Stdout: rec.add, GracePeriod: 30 * time.Second})
	elapsed := time.Since(start)
	t.Logf("canceled after %v: %v; output:\n%s", elapsed, err, res.Output)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if elapsed > 20*time.Second {
		t.Errorf("cancel took %v", elapsed)
	}
	if !strings.Contains(res.Output, "Cancelling build after receiving interrupt") {
		t.Errorf("packer did not see SIGINT:\n%s", res.Output)
	}
	gotINT := eventually(10*time.Second, func() bool {
		b, _ := os.ReadFile(marker)
		return strings.Contains(string(b), "got INT")
	})
	if !gotINT {
		t.Errorf("the provisioner did not get SIGINT:\n%s", res.Output)
	}
	if strings.Contains(res.Output, "null: done") {
		t.Error("the provisioner ran to the end")
	}
}
