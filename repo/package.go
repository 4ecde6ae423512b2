package repo

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"pault.ag/go/debian/version"
)

// Package is one file in the repository as its index describes it. Name,
// Version and Architecture are empty for files apt does not index (.rpm,
// .nupkg).
type Package struct {
	Name         string
	Version      string
	Architecture string
	Filename     string // relative to the repository directory, no "./"
	Size         int64
	SHA256       string
}

// extensions are the package kinds the repository stores.
var extensions = []string{".deb", ".rpm", ".nupkg"}

// ValidFilename reports whether name may be stored: a plain file name (no
// directories, no "..", not hidden, so it cannot escape the repository or
// hide from its index) ending in .deb, .rpm or .nupkg. The error names the
// file and says how to fix it.
func ValidFilename(name string) error {
	const fix = "send a plain file name such as armory-hello-deploy_0.5.0-h5.c4baff4_all.deb"
	switch {
	case name == "":
		return invalid("filename", "empty package file name: %s", fix)
	case strings.ContainsAny(name, `/\`):
		return invalid("filename", "package file name %q contains a path separator: %s", name, fix)
	case strings.Contains(name, ".."):
		return invalid("filename", "package file name %q contains \"..\": %s", name, fix)
	case strings.HasPrefix(name, "."):
		return invalid("filename", "package file name %q starts with \".\": %s", name, fix)
	case strings.ContainsFunc(name, func(r rune) bool { return r < ' ' || r == 0x7f }):
		return invalid("filename", "package file name %q contains control characters: %s", name, fix)
	}
	for _, ext := range extensions {
		if strings.HasSuffix(name, ext) && len(name) > len(ext) {
			return nil
		}
	}
	return invalid("filename", "package file name %q does not end in .deb, .rpm or .nupkg: name the file for its package type", name)
}

// verify checks that the file at path (uploaded as filename) is the kind of
// package its extension claims, and fills p's name, version and
// architecture for a .deb.
func verify(path, filename string, p *Package) error {
	switch {
	case strings.HasSuffix(filename, ".deb"):
		return verifyDeb(path, filename, p)
	case strings.HasSuffix(filename, ".rpm"):
		return verifyMagic(path, filename, "\xed\xab\xee\xdb", "an RPM package")
	default:
		return verifyMagic(path, filename, "PK\x03\x04", "a NuGet package (zip)")
	}
}

// verifyDeb asks dpkg-deb for the control fields, which fails for anything
// that is not a well-formed Debian package.
func verifyDeb(path, filename string, p *Package) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "dpkg-deb", "--field", path, "Package", "Version", "Architecture")
	cmd.Stdout = &out
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			return fmt.Errorf("add %s: dpkg-deb: %w", filename, err)
		}
		return invalid("file", "%s is not a Debian package (dpkg-deb: %s): upload the .deb that dpkg-deb --build produced",
			filename, strings.TrimSpace(strings.ReplaceAll(stderr.String(), path, filename)))
	}
	f := fields(out.String())
	p.Name, p.Version, p.Architecture = f["Package"], f["Version"], f["Architecture"]
	if p.Name == "" || p.Version == "" {
		return invalid("file", "%s has no Package or Version field: rebuild it with a complete DEBIAN/control", filename)
	}
	if _, err := version.Parse(p.Version); err != nil {
		return invalid("file", "%s has an invalid Version %q: %v", filename, p.Version, err)
	}
	return nil
}

// verifyMagic checks the file starts with magic.
func verifyMagic(path, filename, magic, kind string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("add %s: %w", filename, err)
	}
	defer f.Close()
	b := make([]byte, len(magic))
	if n, _ := f.Read(b); n != len(magic) || string(b) != magic {
		return invalid("file", "%s is not %s: upload the file its extension names", filename, kind)
	}
	return nil
}

// fields parses one control paragraph's single-line fields.
func fields(paragraph string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(paragraph, "\n") {
		if line == "" || line[0] == ' ' || line[0] == '\t' {
			continue // continuation lines belong to multi-line fields we do not use
		}
		if k, v, ok := strings.Cut(line, ":"); ok {
			m[k] = strings.TrimSpace(v)
		}
	}
	return m
}

// parseIndex reads a Packages file: paragraphs separated by blank lines.
func parseIndex(b []byte) ([]Package, error) {
	var ps []Package
	for _, para := range strings.Split(strings.ReplaceAll(string(b), "\r\n", "\n"), "\n\n") {
		if strings.TrimSpace(para) == "" {
			continue
		}
		f := fields(para)
		p := Package{
			Name:         f["Package"],
			Version:      f["Version"],
			Architecture: f["Architecture"],
			Filename:     strings.TrimPrefix(f["Filename"], "./"),
			SHA256:       f["SHA256"],
		}
		if p.Name == "" || p.Version == "" || p.Filename == "" {
			return nil, fmt.Errorf("index entry without Package, Version or Filename: %.80q", para)
		}
		if s := f["Size"]; s != "" {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("package %s: bad Size %q", p.Name, s)
			}
			p.Size = n
		}
		ps = append(ps, p)
	}
	return ps, nil
}

// highest returns the highest version of name among ps, as apt orders them.
func highest(ps []Package, name string) (string, bool) {
	var best version.Version
	found := false
	for _, p := range ps {
		if p.Name != name {
			continue
		}
		v, err := version.Parse(p.Version)
		if err != nil {
			continue // apt would not offer it either
		}
		if !found || version.Compare(v, best) > 0 {
			best, found = v, true
		}
	}
	if !found {
		return "", false
	}
	return best.String(), true
}
