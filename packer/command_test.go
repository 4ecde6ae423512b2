package packer

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// testPacker returns a Packer whose "binary" is /bin/sh, so argv
// ["packer", "-c", script] runs a script in place of Packer.
func testPacker(t *testing.T) *Packer {
	t.Helper()
	p, err := New("/bin/sh")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func envMap(env []string) map[string]string {
	m := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		if _, dup := m[k]; dup {
			panic("duplicate env key " + k)
		}
		m[k] = v
	}
	return m
}

// TestCommandArgv checks the argv of the command Run starts. sudo is a
// stand-in script on PATH, so the sudo form is checked without sudo
// installed and without running anything.
func TestCommandArgv(t *testing.T) {
	p := testPacker(t)
	bin := t.TempDir()
	fakeSudo := filepath.Join(bin, "sudo")
	if err := os.WriteFile(fakeSudo, []byte("#!/bin/sh\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin)
	tests := []struct {
		name     string
		argv     []string
		wantPath string
		want     []string // with "P" for p's path
	}{
		{"packer first",
			[]string{"packer", "build", "-color=false", "-var", "packages=a b", "/t/aws.json"}, p.ExecPath(),
			[]string{"P", "build", "-color=false", "-var", "packages=a b", "/t/aws.json"}},
		{"only the command token is replaced",
			[]string{"packer", "build", "-var", "x=packer", "packer"}, p.ExecPath(),
			[]string{"P", "build", "-var", "x=packer", "packer"}},
		{"sudo", []string{"sudo", "packer", "build", "-var", "a=packer", "t.json"}, fakeSudo,
			[]string{"sudo", "P", "build", "-var", "a=packer", "t.json"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			argv := slices.Clone(tt.argv)
			cmd, _, err := p.command(context.Background(), argv, RunOptions{})
			if err != nil {
				t.Fatal(err)
			}
			want := slices.Clone(tt.want)
			want[slices.Index(want, "P")] = p.ExecPath()
			if !slices.Equal(cmd.Args, want) {
				t.Errorf("args = %q, want %q", cmd.Args, want)
			}
			if cmd.Path != tt.wantPath {
				t.Errorf("path = %q, want %q", cmd.Path, tt.wantPath)
			}
			if !slices.Equal(argv, tt.argv) {
				t.Errorf("command modified its argv: %q", argv)
			}
			if cmd.SysProcAttr == nil || !cmd.SysProcAttr.Setpgid {
				t.Error("command does not run in its own process group")
			}
			if cmd.Cancel == nil {
				t.Error("no Cancel: a canceled context would only kill the leader")
			}
			if cmd.WaitDelay != DefaultGracePeriod+killMargin {
				t.Errorf("WaitDelay = %v", cmd.WaitDelay)
			}
		})
	}
}

// TestCommandSudoMissing reports a missing sudo when the command is built,
// not as a failed bake later.
func TestCommandSudoMissing(t *testing.T) {
	p := testPacker(t)
	t.Setenv("PATH", t.TempDir())
	_, _, err := p.command(context.Background(), []string{"sudo", "packer", "build", "t.json"}, RunOptions{})
	if err == nil || !strings.Contains(err.Error(), "sudo") {
		t.Errorf("command without sudo on PATH: err = %v, want one naming sudo", err)
	}
}

func TestCommandRejectsOtherArgv(t *testing.T) {
	p := testPacker(t)
	for _, argv := range [][]string{
		nil,
		{},
		{"sh", "-c", "rm -rf /"},
		{"sudo"},
		{"sudo", "sh"},
		{"/usr/bin/packer", "build"},
		{"packer build -color=false t.json"}, // a shell string, not an argv
	} {
		_, _, err := p.command(context.Background(), argv, RunOptions{})
		if !errors.Is(err, ErrArgv) {
			t.Errorf("command(%q) error = %v, want ErrArgv", argv, err)
		}
	}
}

func TestCommandEnv(t *testing.T) {
	p := testPacker(t)
	t.Setenv("BAKEHOUSE_SERVER_SECRET", "leak")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "leak")
	t.Setenv("PACKER_LOG", "1")
	t.Setenv("HOME", "/home/bakery")
	t.Setenv("LANG", "C.UTF-8")

	dir := t.TempDir()
	cmd, _, err := p.command(context.Background(), []string{"packer", "build", "t.json"}, RunOptions{
		Dir: dir,
		Env: []string{"AWS_ACCESS_KEY_ID=AKIA", "LANG=en_US.UTF-8", "EMPTY="},
	})
	if err != nil {
		t.Fatal(err)
	}
	env := envMap(cmd.Env)
	want := map[string]string{
		"HOME":               "/home/bakery",
		"LANG":               "en_US.UTF-8", // Env replaces an inherited value
		"AWS_ACCESS_KEY_ID":  "AKIA",
		"EMPTY":              "",
		"CHECKPOINT_DISABLE": "1",
		"PACKER_NO_COLOR":    "1",
		"PACKER_CACHE_DIR":   filepath.Join(dir, ".packer_cache"),
		"PACKER_TMP_DIR":     filepath.Join(dir, ".packer_tmp"),
		"TMPDIR":             filepath.Join(dir, ".packer_tmp"),
	}
	for k, v := range want {
		if got, ok := env[k]; !ok || got != v {
			t.Errorf("env %s = %q (set %v), want %q", k, got, ok, v)
		}
	}
	for _, k := range []string{"BAKEHOUSE_SERVER_SECRET", "AWS_SECRET_ACCESS_KEY", "PACKER_LOG"} {
		if _, ok := env[k]; ok {
			t.Errorf("env inherits %s", k)
		}
	}
	if cmd.Dir != dir {
		t.Errorf("Dir = %q, want %q", cmd.Dir, dir)
	}
	for _, d := range []string{".packer_cache", ".packer_tmp"} {
		if fi, err := os.Stat(filepath.Join(dir, d)); err != nil || !fi.IsDir() {
			t.Errorf("%s not created: %v", d, err)
		}
	}
}

func TestCommandEnvWithoutDir(t *testing.T) {
	p := testPacker(t)
	t.Setenv("TMPDIR", "/var/tmp")
	cmd, _, err := p.command(context.Background(), []string{"packer", "version"},
		RunOptions{Env: []string{"PACKER_CACHE_DIR=/shared/cache"}})
	if err != nil {
		t.Fatal(err)
	}
	env := envMap(cmd.Env)
	if env["TMPDIR"] != "/var/tmp" || env["PACKER_CACHE_DIR"] != "/shared/cache" {
		t.Errorf("without Dir, TMPDIR and PACKER_CACHE_DIR are the caller's: %q", cmd.Env)
	}
	if _, ok := env["PACKER_TMP_DIR"]; ok {
		t.Error("PACKER_TMP_DIR set without Dir")
	}
	if cmd.Dir != "" {
		t.Errorf("Dir = %q", cmd.Dir)
	}
}

func TestCommandManagedEnv(t *testing.T) {
	p := testPacker(t)
	dir := t.TempDir()
	for _, kv := range []string{"CHECKPOINT_DISABLE=0", "PACKER_NO_COLOR=", "PACKER_CACHE_DIR=/x", "PACKER_TMP_DIR=/x", "TMPDIR=/x"} {
		_, _, err := p.command(context.Background(), []string{"packer", "build"}, RunOptions{Dir: dir, Env: []string{kv}})
		var me *ManagedEnvError
		if !errors.As(err, &me) || !strings.HasPrefix(kv, me.Name+"=") {
			t.Errorf("Env %q: error %v, want *ManagedEnvError", kv, err)
		}
	}
	for _, kv := range []string{"NOEQUALS", "=value"} {
		if _, _, err := p.command(context.Background(), []string{"packer", "build"}, RunOptions{Env: []string{kv}}); err == nil {
			t.Errorf("Env %q accepted", kv)
		}
	}
}

func TestCommandGracePeriod(t *testing.T) {
	p := testPacker(t)
	cmd, _, err := p.command(context.Background(), []string{"packer"}, RunOptions{GracePeriod: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if cmd.WaitDelay != time.Second+killMargin {
		t.Errorf("WaitDelay = %v", cmd.WaitDelay)
	}
}
