package packer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
)

// MinVersion is the oldest Packer Bakehouse runs: 1.6.6, Debian 12's
// packer package, is the release its templates, output scraping, cancel
// handling and conformance cases are tested against; older ones are not
// tested, so serve refuses them at start instead of failing a bake later.
const MinVersion = "1.6.6"

// minVersion is MinVersion as numbers, for comparison.
var minVersion = [3]int{1, 6, 6}

// ErrNotFound is wrapped by New's error when the path does not name an
// executable file, so callers can tell a missing install from other faults.
var ErrNotFound = errors.New("packer: executable not found")

// VersionError reports `packer version` output that cannot be parsed, or a
// Packer older than MinVersion; Bakehouse refuses to start with either
// rather than fail later on output it cannot read.
type VersionError struct {
	// Path is the binary asked, when known.
	Path string
	// Version is the parsed version, "" when the output was unparseable.
	Version string
	// Output is what `packer version` printed.
	Output string
}

func (e *VersionError) Error() string {
	at := ""
	if e.Path != "" {
		at = " at " + e.Path
	}
	if e.Version == "" {
		line, _, _ := strings.Cut(strings.TrimSpace(e.Output), "\n")
		return fmt.Sprintf("packer%s: cannot read a version from `packer version`, which printed %q: is it Packer?", at, line)
	}
	return fmt.Sprintf("packer%s is version %s; Bakehouse needs %s or newer: install Packer %s or newer (Debian 12: apt-get install packer)", at, e.Version, MinVersion, MinVersion)
}

// Packer runs one packer binary. It holds only the absolute path, so one
// value may be shared by concurrent bakes.
type Packer struct {
	path string
}

// New returns a Packer for execPath, a path or a name looked up in PATH.
// It checks the file exists and is executable now, so that a bad
// configuration fails at startup and not at the first bake. The path is
// made absolute because commands run with their own working directory.
func New(execPath string) (*Packer, error) {
	if execPath == "" {
		return nil, fmt.Errorf("%w: empty path", ErrNotFound)
	}
	path := execPath
	if !strings.ContainsRune(execPath, os.PathSeparator) {
		lp, err := exec.LookPath(execPath)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrNotFound, err)
		}
		path = lp
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrNotFound, path, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	if fi.IsDir() {
		return nil, fmt.Errorf("%w: %s is a directory", ErrNotFound, abs)
	}
	if err := syscall.Access(abs, 1 /* X_OK */); err != nil {
		return nil, fmt.Errorf("%w: %s is not executable: %w", ErrNotFound, abs, err)
	}
	return &Packer{path: abs}, nil
}

// ExecPath returns the absolute path of the packer binary.
func (p *Packer) ExecPath() string { return p.path }

// Version runs `packer version` and returns the version it reports, e.g.
// "1.6.6". A *VersionError reports unparseable output or a Packer older
// than MinVersion.
func (p *Packer) Version(ctx context.Context) (string, error) {
	res, err := p.Run(ctx, []string{"packer", "version"}, RunOptions{})
	if err != nil {
		return "", fmt.Errorf("%s version: %w", p.path, err)
	}
	v, err := ParseVersion(res.Output)
	var ve *VersionError
	if errors.As(err, &ve) {
		ve.Path = p.path
	}
	return v, err
}

// versionLine matches the first line of `packer version`, e.g.
// "Packer v1.6.6" or "Packer v1.7.0-dev (abc123)".
var versionLine = regexp.MustCompile(`(?m)^\s*Packer v(\d+)\.(\d+)\.(\d+)(-[0-9A-Za-z.-]+)?`)

// ParseVersion extracts the version from `packer version` output and
// checks it against MinVersion. A too-old version is returned together
// with its *VersionError. It is separate from Version so the rules can be
// tested without a binary.
func ParseVersion(output string) (string, error) {
	m := versionLine.FindStringSubmatch(output)
	if m == nil {
		return "", &VersionError{Output: output}
	}
	version := m[1] + "." + m[2] + "." + m[3] + m[4]
	var got [3]int
	for i := range got {
		n, err := strconv.Atoi(m[i+1])
		if err != nil { // too many digits for an int
			return "", &VersionError{Output: output}
		}
		got[i] = n
	}
	if compareVersion(got, minVersion) < 0 {
		return version, &VersionError{Version: version, Output: output}
	}
	return version, nil
}

// compareVersion orders two major.minor.patch triples.
func compareVersion(a, b [3]int) int {
	for i := range a {
		if a[i] != b[i] {
			if a[i] < b[i] {
				return -1
			}
			return 1
		}
	}
	return 0
}
