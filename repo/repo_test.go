package repo_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/bakehouse/bakehouse"
	"github.com/bakehouse/bakehouse/repo"
)

const (
	sampleName    = "armory-hello-deploy"
	sampleVersion = "0.5.0-h5.c4baff4"
	sampleFile    = "armory-hello-deploy_0.5.0-h5.c4baff4_all.deb"
)

func TestAddListResolve(t *testing.T) {
	r := MustOpen(t)
	if ps, err := r.List(); err != nil || len(ps) != 0 {
		t.Fatalf("List on a new repo = %v, %v; want empty", ps, err)
	}
	emptyDigest := MustDigest(t, r)

	b := MustSampleDeb(t, sampleVersion)
	p, err := r.Add(sampleFile, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	want := repo.Package{Name: sampleName, Version: sampleVersion, Architecture: "all",
		Filename: sampleFile, Size: int64(len(b)), SHA256: hex.EncodeToString(sum[:])}
	if p != want {
		t.Errorf("Add = %+v, want %+v", p, want)
	}
	ps, err := r.List()
	if err != nil || len(ps) != 1 || ps[0] != want {
		t.Errorf("List = %+v, %v; want [%+v]", ps, err, want)
	}
	d1 := MustDigest(t, r)
	if d1 == emptyDigest {
		t.Error("Digest did not change after Add")
	}

	// A second, higher version: both stay listed (--multiversion) and
	// Resolve picks what apt would, by Debian ordering rather than string
	// ordering ("0.10" > "0.9").
	for _, v := range []string{"0.10.0-h1.aaaaaaa", "0.9.0-h9.bbbbbbb"} {
		if _, err := r.Add(sampleName+"_"+v+"_all.deb", bytes.NewReader(MustSampleDeb(t, v))); err != nil {
			t.Fatal(err)
		}
	}
	if ps, _ := r.List(); len(ps) != 3 {
		t.Errorf("List has %d packages, want 3: %+v", len(ps), ps)
	}
	if v, ok := r.Resolve(sampleName); !ok || v != "0.10.0-h1.aaaaaaa" {
		t.Errorf("Resolve = %q, %v; want 0.10.0-h1.aaaaaaa", v, ok)
	}
	if v, ok := r.Resolve("no-such-package"); ok {
		t.Errorf("Resolve(no-such-package) = %q, true", v)
	}
	if d2 := MustDigest(t, r); d2 == d1 {
		t.Error("Digest did not change after adding versions")
	}

	// Packages.gz is written beside Packages, and no temporary files stay.
	entries, _ := os.ReadDir(r.Dir())
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if got, want := strings.Join(names, " "), "Packages Packages.gz armory-hello-deploy_0.10.0-h1.aaaaaaa_all.deb armory-hello-deploy_0.5.0-h5.c4baff4_all.deb armory-hello-deploy_0.9.0-h9.bbbbbbb_all.deb"; got != want {
		t.Errorf("repo files = %s\nwant %s", got, want)
	}
	cmp := exec.Command("sh", "-c", "gzip -dc Packages.gz | cmp - Packages")
	cmp.Dir = r.Dir()
	out, err := cmp.CombinedOutput()
	if err != nil {
		t.Errorf("Packages.gz differs from Packages: %v %s", err, out)
	}
}

func TestDigestStableAcrossReindex(t *testing.T) {
	r := MustOpen(t)
	if _, err := r.Add(sampleFile, bytes.NewReader(MustSampleDeb(t, sampleVersion))); err != nil {
		t.Fatal(err)
	}
	d1 := MustDigest(t, r)
	if err := r.Reindex(); err != nil {
		t.Fatal(err)
	}
	if d2 := MustDigest(t, r); d2 != d1 {
		t.Errorf("Digest changed on reindex without changes: %s then %s", d1, d2)
	}
	// Reopening keeps the index.
	r2, err := repo.Open(r.Dir())
	if err != nil {
		t.Fatal(err)
	}
	if d3 := MustDigest(t, r2); d3 != d1 {
		t.Errorf("Digest after reopen = %s, want %s", d3, d1)
	}
}

func TestAddRefusesBadFilenames(t *testing.T) {
	r := MustOpen(t)
	b := MustSampleDeb(t, sampleVersion)
	for _, name := range []string{
		"", "../evil.deb", "sub/x.deb", `sub\x.deb`, "..deb", ".hidden.deb",
		"x.tar.gz", "x.deb.txt", ".deb", "a\nb.deb", "Packages",
	} {
		_, err := r.Add(name, bytes.NewReader(b))
		var e *bakehouse.Error
		if !errors.As(err, &e) || e.Code != bakehouse.EINVALID || e.Field != "filename" {
			t.Errorf("Add(%q) = %v, want EINVALID on filename", name, err)
			continue
		}
		if name != "" && !strings.Contains(e.Message, strings.ReplaceAll(strings.ReplaceAll(name, `\`, `\\`), "\n", `\n`)) {
			t.Errorf("Add(%q) message %q does not name the file", name, e.Message)
		}
	}
	MustNoPackages(t, r)
}

func TestAddRefusesContentNotMatchingExtension(t *testing.T) {
	r := MustOpen(t)
	for name, body := range map[string]string{
		"fake_1.0_all.deb": "!<arch>\nnot really a deb",
		"fake-1.0.rpm":     "PK\x03\x04 a zip, not an rpm",
		"fake.1.0.nupkg":   "\xed\xab\xee\xdb an rpm, not a zip",
	} {
		_, err := r.Add(name, strings.NewReader(body))
		var e *bakehouse.Error
		if !errors.As(err, &e) || e.Code != bakehouse.EINVALID || !strings.Contains(e.Message, name) {
			t.Errorf("Add(%q) = %v, want EINVALID naming the file", name, err)
		}
	}
	MustNoPackages(t, r)
	// Nothing half-written remains.
	if entries, _ := os.ReadDir(r.Dir()); len(entries) != 2 {
		t.Errorf("repo holds %d files after refused uploads, want only the 2 index files", len(entries))
	}
}

func TestAddKeepsOtherPackageTypes(t *testing.T) {
	r := MustOpen(t)
	p, err := r.Add("tool-1.0-1.noarch.rpm", strings.NewReader("\xed\xab\xee\xdb rest of an rpm"))
	if err != nil {
		t.Fatal(err)
	}
	if p.Filename != "tool-1.0-1.noarch.rpm" || p.Size != 19 || p.Name != "" {
		t.Errorf("Add(rpm) = %+v", p)
	}
	MustNoPackages(t, r) // apt's index lists .deb files only
}

func TestAddFailingReaderLeavesNothing(t *testing.T) {
	r := MustOpen(t)
	_, err := r.Add(sampleFile, &failingReader{})
	if err == nil {
		t.Fatal("Add with a failing reader succeeded")
	}
	if entries, _ := os.ReadDir(r.Dir()); len(entries) != 2 {
		t.Errorf("repo holds %d files after a failed upload, want 2", len(entries))
	}
}

func TestConcurrentAdds(t *testing.T) {
	r := MustOpen(t)
	versions := []string{"1.0-1", "1.1-1", "1.2-1", "2.0-1"}
	debs := make([][]byte, len(versions))
	for i, v := range versions {
		debs[i] = MustSampleDeb(t, v)
	}
	var wg sync.WaitGroup
	for i, v := range versions {
		wg.Go(func() {
			if _, err := r.Add(sampleName+"_"+v+"_all.deb", bytes.NewReader(debs[i])); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if ps, _ := r.List(); len(ps) != len(versions) {
		t.Errorf("List has %d packages, want %d", len(ps), len(versions))
	}
	if v, _ := r.Resolve(sampleName); v != "2.0-1" {
		t.Errorf("Resolve = %q, want 2.0-1", v)
	}
}

func TestOpenRefusesEmptyDir(t *testing.T) {
	if _, err := repo.Open(""); err == nil {
		t.Error("Open(\"\") succeeded")
	}
}

type failingReader struct{ n int }

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n > 0 {
		return 0, errors.New("connection reset")
	}
	f.n++
	return copy(p, "!<arch>\n"), nil
}

// MustOpen opens a repository in a new temporary directory, skipping when
// dpkg-dev is not installed (unless BAKEHOUSE_INTEGRATION=1).
func MustOpen(tb testing.TB) *repo.Repo {
	tb.Helper()
	if _, err := exec.LookPath("dpkg-scanpackages"); err != nil {
		if os.Getenv("BAKEHOUSE_INTEGRATION") == "1" {
			tb.Fatal(err)
		}
		tb.Skip("dpkg-dev not installed: ", err)
	}
	r, err := repo.Open(filepath.Join(tb.TempDir(), "repo"))
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

// MustSampleDeb builds the sample package at version with
// scripts/build-sample-deb.sh and returns its bytes.
func MustSampleDeb(tb testing.TB, version string) []byte {
	tb.Helper()
	dir := tb.TempDir()
	out, err := exec.Command(filepath.Join("..", "scripts", "build-sample-deb.sh"), dir, version).CombinedOutput()
	if err != nil {
		tb.Fatalf("build-sample-deb.sh: %v\n%s", err, out)
	}
	b, err := os.ReadFile(strings.TrimSpace(string(out)))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func MustDigest(tb testing.TB, r *repo.Repo) string {
	tb.Helper()
	d, err := r.Digest()
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

func MustNoPackages(tb testing.TB, r *repo.Repo) {
	tb.Helper()
	if ps, err := r.List(); err != nil || len(ps) != 0 {
		tb.Errorf("List = %+v, %v; want empty", ps, err)
	}
}
