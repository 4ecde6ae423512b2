package repo_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bakehouse/bakehouse"
	"github.com/bakehouse/bakehouse/repo"
)

// TestAddRefusesIncompleteControl checks that a well-formed ar archive whose
// control file lacks a field, or has a version apt cannot order, is refused
// with an error that names the file, and leaves nothing behind.
func TestAddRefusesIncompleteControl(t *testing.T) {
	r := MustOpen(t)
	for name, ctl := range map[string]string{
		"noversion_1.0_all.deb":  "Package: noversion\nArchitecture: all\n",
		"badversion_1.0_all.deb": "Package: badversion\nVersion: 1.0:x:y-\nArchitecture: all\n",
		"noarch_1.0_all.deb":     "Package: noarch\nVersion: 1.0\n",
	} {
		_, err := r.Add(name, bytes.NewReader(MustDeb(t, ctl)))
		var e *bakehouse.Error
		if !errors.As(err, &e) || e.Code != bakehouse.EINVALID || e.Field != "file" || !strings.Contains(e.Message, name) {
			t.Errorf("Add(%q) = %v, want EINVALID on file naming it", name, err)
		}
	}
	MustNoPackages(t, r)
	if entries, _ := os.ReadDir(r.Dir()); len(entries) != 2 {
		t.Errorf("repo holds %d files after refused uploads, want only the 2 index files", len(entries))
	}
}

// TestAddReadsControlOfHandBuiltDeb checks the fields come from the control
// file inside the archive, not from the file name.
func TestAddReadsControlOfHandBuiltDeb(t *testing.T) {
	r := MustOpen(t)
	ctl := "Package: tool\nVersion: 2:1.4-3\nArchitecture: amd64\nDescription: a tool\n with a long description\n .\n over lines\n"
	p, err := r.Add("renamed.deb", bytes.NewReader(MustDeb(t, ctl)))
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "tool" || p.Version != "2:1.4-3" || p.Architecture != "amd64" {
		t.Errorf("Add = %+v, want tool 2:1.4-3 amd64", p)
	}
	if v, arch, ok := r.ResolveArch("tool"); !ok || v != "2:1.4-3" || arch != "amd64" {
		t.Errorf("ResolveArch(tool) = %q, %q, %v", v, arch, ok)
	}
}

// TestIndexWrittenByHand checks the index reader on what operators and
// other tools write: multi-line fields, CRLF line ends, extra blank lines,
// and an entry whose version apt could not order (skipped by Resolve, not
// fatal to the whole index).
func TestIndexWrittenByHand(t *testing.T) {
	r := MustOpen(t)
	index := strings.Join([]string{
		"Package: a\nVersion: 1.0\nArchitecture: all\nFilename: ./a_1.0_all.deb\nSize: 10\nSHA256: aa\nDescription: first\n second line\n .\n third\n",
		"\n\nPackage: a\r\nVersion: 1.10\r\nArchitecture: amd64\r\nFilename: a_1.10_amd64.deb\r\nSize: 12\r\n",
		"Package: a\nVersion: not a version!\nArchitecture: all\nFilename: a_bad.deb\n",
	}, "\n")
	MustWriteIndex(t, r, index)
	ps, err := r.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 3 || ps[0] != (repo.Package{Name: "a", Version: "1.0", Architecture: "all", Filename: "a_1.0_all.deb", Size: 10, SHA256: "aa"}) ||
		ps[1].Version != "1.10" || ps[1].Size != 12 || ps[1].Filename != "a_1.10_amd64.deb" {
		t.Errorf("List = %+v", ps)
	}
	if v, arch, ok := r.ResolveArch("a"); !ok || v != "1.10" || arch != "amd64" {
		t.Errorf("ResolveArch(a) = %q, %q, %v; want 1.10 amd64", v, arch, ok)
	}

	for _, bad := range []string{
		"Package: b\nVersion: 1\n",                             // no Filename
		"Package: b\nVersion: 1\nFilename: b.deb\nSize: ten\n", // bad Size
		"Package: b\nno colon here\n",                          // not a paragraph
	} {
		MustWriteIndex(t, r, bad)
		if ps, err := r.List(); err == nil {
			t.Errorf("List on index %q = %+v, want an error", bad, ps)
		}
	}
}

// MustWriteIndex replaces the repository's Packages file, with a new
// modification time so the cached index is re-read.
func MustWriteIndex(tb testing.TB, r *repo.Repo, index string) {
	tb.Helper()
	path := filepath.Join(r.Dir(), repo.IndexFile)
	if err := os.WriteFile(path, []byte(index), 0o644); err != nil {
		tb.Fatal(err)
	}
	mod := time.Now().Add(time.Duration(len(index)) * time.Second)
	if err := os.Chtimes(path, mod, mod); err != nil {
		tb.Fatal(err)
	}
}

// MustDeb builds a .deb (an ar archive of debian-binary, control.tar.gz and
// data.tar.gz) whose control file is ctl, without dpkg-deb, so tests can
// make packages dpkg-deb --build would refuse.
func MustDeb(tb testing.TB, ctl string) []byte {
	tb.Helper()
	var out bytes.Buffer
	out.WriteString("!<arch>\n")
	member := func(name string, b []byte) {
		fmt.Fprintf(&out, "%-16s%-12d%-6d%-6d%-8s%-10d`\n", name, 0, 0, 0, "100644", len(b))
		out.Write(b)
		if len(b)%2 == 1 {
			out.WriteByte('\n')
		}
	}
	tgz := func(files map[string]string) []byte {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		tw := tar.NewWriter(zw)
		for name, body := range files {
			if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body))}); err != nil {
				tb.Fatal(err)
			}
			if _, err := tw.Write([]byte(body)); err != nil {
				tb.Fatal(err)
			}
		}
		if err := tw.Close(); err != nil {
			tb.Fatal(err)
		}
		if err := zw.Close(); err != nil {
			tb.Fatal(err)
		}
		return b.Bytes()
	}
	member("debian-binary", []byte("2.0\n"))
	member("control.tar.gz", tgz(map[string]string{"./control": ctl}))
	member("data.tar.gz", tgz(map[string]string{"./usr/share/doc/x": "x\n"}))
	return out.Bytes()
}
