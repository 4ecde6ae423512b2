package packer

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// writeScript writes an executable shell script and returns its path.
func writeScript(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "packer")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestNewNotFound(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain")
	if err := os.WriteFile(plain, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"", filepath.Join(dir, "missing"), dir, "no-such-packer-binary-in-path"} {
		if _, err := New(path); !errors.Is(err, ErrNotFound) {
			t.Errorf("New(%q) error = %v, want ErrNotFound", path, err)
		}
	}
	// access(2) wants an x bit even for root, so this holds in CI too.
	if _, err := New(plain); !errors.Is(err, ErrNotFound) {
		t.Errorf("New(non-executable) error = %v, want ErrNotFound", err)
	}
}

func TestNewRelativePathIsMadeAbsolute(t *testing.T) {
	path := writeScript(t, "exit 0")
	t.Chdir(filepath.Dir(path))
	p, err := New("./packer")
	if err != nil {
		t.Fatal(err)
	}
	if p.ExecPath() != path {
		t.Errorf("ExecPath = %q, want %q", p.ExecPath(), path)
	}
}

func TestParseVersion(t *testing.T) {
	tests := []struct {
		out, want string
		err       bool // *VersionError
		tooOld    bool
	}{
		{out: "Packer v1.6.6\n", want: "1.6.6"},
		{out: "Packer v1.6.5", want: "1.6.5", err: true, tooOld: true},
		{out: "Packer v1.5.0", want: "1.5.0", err: true, tooOld: true},
		{out: "Packer v1.7.0", want: "1.7.0"},
		{out: "Packer v1.11.2\n\nYour version of Packer is out of date! The latest version\nis 1.12.0.\n", want: "1.11.2"},
		{out: "Packer v1.7.0-dev (abc1234)\n", want: "1.7.0-dev"},
		{out: "Packer v2.0.0", want: "2.0.0"},
		{out: "Packer v1.4.5\n", want: "1.4.5", err: true, tooOld: true},
		{out: "Packer v0.12.3", want: "0.12.3", err: true, tooOld: true},
		{out: "", err: true},
		{out: "1.6.6", err: true},
		{out: "Terraform v1.6.6", err: true},
		{out: "Packer v99999999999999999999.0.0", err: true},
	}
	for _, tt := range tests {
		got, err := ParseVersion(tt.out)
		var ve *VersionError
		if tt.err != errors.As(err, &ve) {
			t.Errorf("ParseVersion(%q) error = %v, want *VersionError: %v", tt.out, err, tt.err)
			continue
		}
		if got != tt.want {
			t.Errorf("ParseVersion(%q) = %q, want %q", tt.out, got, tt.want)
		}
		if ve != nil && (ve.Version != "") != tt.tooOld {
			t.Errorf("ParseVersion(%q): VersionError.Version = %q", tt.out, ve.Version)
		}
	}
}

func TestVersionRunsBinary(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		script, want string
		wantErr      bool
	}{
		{`[ "$1" = version ] && [ "$CHECKPOINT_DISABLE" = 1 ] && echo "Packer v1.6.6"`, "1.6.6", false},
		{`echo "Packer v1.3.1"`, "1.3.1", true},
		{`echo "usage: something"`, "", true},
		{`echo "Packer v1.6.6"; exit 1`, "", true},
	} {
		p, err := New(writeScript(t, tt.script))
		if err != nil {
			t.Fatal(err)
		}
		got, err := p.Version(ctx)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("script %q: Version = %q, %v", tt.script, got, err)
		}
	}
}
