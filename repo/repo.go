// Package repo keeps the bakery's flat apt repository: a directory of
// uploaded packages plus the Packages index that apt inside a bake container
// reads through "deb [trusted=yes] file:/bakehouse/repo ./".
package repo

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/bakehouse/bakehouse"
)

// Index file names inside the repository directory.
const (
	IndexFile   = "Packages"
	IndexGzFile = "Packages.gz"
)

// indexTimeout bounds one dpkg-scanpackages run, so a wedged tool cannot
// hold the repository's lock for ever.
const indexTimeout = 5 * time.Minute

// Repo is a flat apt repository in one directory. Writes are serialised by
// a mutex; readers need no lock because every file, the index included, is
// replaced by rename and so is always whole.
type Repo struct {
	dir string
	mu  sync.Mutex // serialises Add and Reindex

	// The parsed index, kept while the file's size and modification time
	// stay the same: every bake request resolves package versions, and
	// reuse must stay fast.
	cacheMu   sync.Mutex
	cacheSize int64
	cacheMod  time.Time
	cached    []Package
}

// Open returns the repository in dir, creating dir and an index if missing,
// so a fresh bakery can serve "apt-get update" before the first upload.
// It fails early when dpkg-scanpackages (Debian's dpkg-dev) is missing.
func Open(dir string) (*Repo, error) {
	if dir == "" {
		return nil, fmt.Errorf("open repo: empty directory")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("open repo: %w", err)
	}
	if _, err := exec.LookPath("dpkg-scanpackages"); err != nil {
		return nil, fmt.Errorf("open repo: dpkg-scanpackages not found (install it: apt-get install -y dpkg-dev): %w", err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("open repo: %w", err)
	}
	r := &Repo{dir: abs}
	if _, err := os.Stat(filepath.Join(abs, IndexFile)); errors.Is(err, os.ErrNotExist) {
		if err := r.Reindex(); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// Dir returns the repository's absolute directory, the path to mount into
// bake containers.
func (r *Repo) Dir() string { return r.dir }

// Add stores the package read from rd as filename and re-indexes the
// repository. The file is written under a temporary name and renamed into
// place, so a crash or a bad upload never leaves a partial package; a file
// that is not what its extension claims is refused. Adding an existing
// filename replaces it. Errors for bad input are *bakehouse.Error with code
// EINVALID.
func (r *Repo) Add(filename string, rd io.Reader) (Package, error) {
	st, err := r.stage(filename, rd)
	if err != nil {
		return Package{}, err
	}
	defer st.discard()
	if err := r.commit(st); err != nil {
		return Package{}, err
	}
	return st.pkg, nil
}

// staged is an upload written and verified under a temporary name in the
// repository's directory, not yet in the index.
type staged struct {
	pkg  Package
	path string
}

// discard removes the temporary file (a no-op once committed).
func (s *staged) discard() { os.Remove(s.path) }

// stageFile writes what fill writes into a new temporary file of dir
// (named by pattern), readable and synced, and returns it with the sha256
// and size of what was written; on error nothing is left behind. Uploads
// and copies from a shared store both arrive this way.
func stageFile(dir, pattern string, fill func(io.Writer) error) (st *staged, sum string, size int64, err error) {
	tmp, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return nil, "", 0, err
	}
	st = &staged{path: tmp.Name()}
	h := sha256.New()
	cw := &countWriter{w: io.MultiWriter(tmp, h)}
	err = fill(cw)
	if err == nil {
		err = tmp.Chmod(0o644)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		st.discard()
		return nil, "", 0, err
	}
	return st, hex.EncodeToString(h.Sum(nil)), cw.n, nil
}

// countWriter counts the bytes written through it.
type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// stage writes rd to a temporary file in the repository's directory while
// hashing it, and verifies it is the package its name claims. It takes no
// lock: uploads are written side by side, and only commit is serialised.
func (r *Repo) stage(filename string, rd io.Reader) (*staged, error) {
	if err := ValidFilename(filename); err != nil {
		return nil, err
	}
	st, sum, size, err := stageFile(r.dir, ".upload-*.tmp", func(w io.Writer) error {
		_, err := io.Copy(w, rd)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("add %s: %w", filename, err)
	}
	st.pkg = Package{Filename: filename, Size: size, SHA256: sum}
	if err := verify(st.path, filename, &st.pkg); err != nil {
		st.discard()
		return nil, err
	}
	return st, nil
}

// commit renames a staged file into place and re-indexes the repository.
func (r *Repo) commit(st *staged) error { return r.commitAll([]*staged{st}) }

// Reindex rebuilds Packages and Packages.gz from the .deb files in the
// directory; Add calls it, and operators who copy files in by hand can too.
func (r *Repo) Reindex() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reindex()
}

// reindex runs dpkg-scanpackages --multiversion (so every version stays
// installable, as apt sees them) and replaces both index files atomically.
// Callers hold r.mu.
func (r *Repo) reindex() error {
	ctx, cancel := context.WithTimeout(context.Background(), indexTimeout)
	defer cancel()
	var out, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "dpkg-scanpackages", "--multiversion", ".", "/dev/null")
	cmd.Dir = r.dir
	cmd.Stdout = &out
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("index repo %s: dpkg-scanpackages: %w: %s", r.dir, err, strings.TrimSpace(stderr.String()))
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz) // no name or mtime in the header: same index, same bytes
	if _, err := zw.Write(out.Bytes()); err != nil {
		return fmt.Errorf("index repo %s: %w", r.dir, err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("index repo %s: %w", r.dir, err)
	}
	// Packages.gz first: apt prefers it, and a reader seeing the new .gz
	// with the old plain file still gets a whole, valid index.
	if err := writeFile(filepath.Join(r.dir, IndexGzFile), gz.Bytes()); err != nil {
		return fmt.Errorf("index repo %s: %w", r.dir, err)
	}
	if err := writeFile(filepath.Join(r.dir, IndexFile), out.Bytes()); err != nil {
		return fmt.Errorf("index repo %s: %w", r.dir, err)
	}
	return nil
}

// List returns the packages in the index, in index order.
func (r *Repo) List() ([]Package, error) {
	ps, err := r.index()
	if err != nil {
		return nil, err
	}
	return append([]Package(nil), ps...), nil
}

// index returns the parsed index, re-reading it only when it changed.
func (r *Repo) index() ([]Package, error) {
	path := filepath.Join(r.dir, IndexFile)
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("list repo %s: %w", r.dir, err)
	}
	r.cacheMu.Lock()
	defer r.cacheMu.Unlock()
	if r.cached != nil && st.Size() == r.cacheSize && st.ModTime().Equal(r.cacheMod) {
		return r.cached, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("list repo %s: %w", r.dir, err)
	}
	ps, err := parseIndex(b)
	if err != nil {
		return nil, fmt.Errorf("list repo %s: %w", r.dir, err)
	}
	if ps == nil {
		ps = []Package{}
	}
	r.cached, r.cacheSize, r.cacheMod = ps, st.Size(), st.ModTime()
	return ps, nil
}

// ResolveArch is Resolve plus the architecture of that version.
func (r *Repo) ResolveArch(name string) (version, arch string, ok bool) {
	ps, err := r.index()
	if err != nil {
		return "", "", false
	}
	v, ok := highest(ps, name)
	if !ok {
		return "", "", false
	}
	for _, p := range ps {
		if p.Name == name && p.Version == v {
			return v, p.Architecture, true
		}
	}
	return v, "all", true
}

// Resolve returns the version of name that apt would install from this
// repository: the highest by Debian version comparison. ok is false when the
// index has no such package or cannot be read.
func (r *Repo) Resolve(name string) (version string, ok bool) {
	ps, err := r.index()
	if err != nil {
		return "", false
	}
	return highest(ps, name)
}

// Digest returns a hex SHA-256 of the Packages index. It changes whenever a
// package is added or replaced, so it can key cached bakes to the
// repository's content.
func (r *Repo) Digest() (string, error) {
	b, err := os.ReadFile(filepath.Join(r.dir, IndexFile))
	if err != nil {
		return "", fmt.Errorf("digest repo %s: %w", r.dir, err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// writeFile replaces file with b through a temporary file and a rename.
func writeFile(file string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(file), "."+filepath.Base(file)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(b)
	if err == nil {
		err = tmp.Chmod(0o644)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(tmp.Name(), file)
}

// invalid returns the EINVALID error Add reports for a bad upload; field is
// "filename" for the name and "file" for the content.
func invalid(field, format string, args ...any) error {
	return bakehouse.Invalid(field, format, args...)
}
