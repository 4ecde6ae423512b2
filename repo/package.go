package repo

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"

	"pault.ag/go/debian/control"
	"pault.ag/go/debian/deb"
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

// verifyDeb reads the package's control file (pault.ag/go/debian/deb),
// which fails for anything that is not a Debian package whose control file
// names its Package, Version and Architecture.
func verifyDeb(path, filename string, p *Package) error {
	d, closeDeb, err := deb.LoadFile(path)
	if err != nil {
		return invalid("file", "%s is not a Debian package with a complete control file (%s): upload the .deb that dpkg-deb --build produced",
			filename, strings.ReplaceAll(err.Error(), path, filename))
	}
	defer closeDeb()
	c := d.Control
	p.Name, p.Version, p.Architecture = c.Package, c.Version.String(), c.Architecture.String()
	if p.Name == "" || c.Version.Version == "" {
		return invalid("file", "%s has an empty Package or Version field: rebuild it with a complete DEBIAN/control", filename)
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

// indexEntry is the part of a Packages paragraph the repository uses.
// Version stays a string here: an entry whose version does not parse (a
// file an operator copied in by hand) is skipped by highest, as apt would,
// rather than making the whole index unreadable.
type indexEntry struct {
	Package      string
	Version      string
	Architecture string
	Filename     string
	Size         string
	SHA256       string
}

// parseIndex reads a Packages file with pault.ag/go/debian/control.
func parseIndex(b []byte) ([]Package, error) {
	var entries []indexEntry
	if err := control.Unmarshal(&entries, bytes.NewReader(b)); err != nil {
		return nil, fmt.Errorf("parse index: %w", err)
	}
	ps := make([]Package, 0, len(entries))
	for _, e := range entries {
		p := Package{
			Name:         e.Package,
			Version:      e.Version,
			Architecture: e.Architecture,
			Filename:     strings.TrimPrefix(e.Filename, "./"),
			SHA256:       e.SHA256,
		}
		if p.Name == "" || p.Version == "" || p.Filename == "" {
			return nil, fmt.Errorf("index entry without Package, Version or Filename: %+v", e)
		}
		if e.Size != "" {
			n, err := strconv.ParseInt(e.Size, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("package %s: bad Size %q", p.Name, e.Size)
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
