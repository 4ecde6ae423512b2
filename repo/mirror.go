package repo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Store is where a cluster of bakeries keeps its packages, so that an
// upload to any node reaches every node's repository (on PostgreSQL, the
// packages table). Its rows are never changed once written: a node's
// files are copies of them.
type Store interface {
	// Put records p (as stage verified it) with its content, unless the
	// store holds p.Filename already: with the same SHA-256 that is no
	// error (an upload repeated), with another it is an ECONFLICT
	// *bakehouse.Error naming the field "filename".
	Put(ctx context.Context, p Package, content io.Reader) error
	// List returns every package the store holds, without content.
	List(ctx context.Context) ([]Package, error)
	// Copy writes the content of filename to w.
	Copy(ctx context.Context, filename string, w io.Writer) error
}

// Mirror keeps a node's repository in step with the cluster's Store: Add
// uploads through the store, and Sync copies into the directory what
// other nodes uploaded. Each copied file is checked against the SHA-256
// and size the store recorded, and must be the package it claims to be,
// before it is renamed into place and indexed.
type Mirror struct {
	repo  *Repo
	store Store
	log   *slog.Logger
	kick  chan struct{}

	syncMu sync.Mutex // one Sync at a time

	mu     sync.Mutex
	known  map[string]string // file name → SHA-256 of the local copy
	warned map[string]string // file name → the problem last logged for it
}

// NewMirror returns a mirror of store in r; nothing is copied until Sync
// or Run.
func NewMirror(r *Repo, store Store, log *slog.Logger) *Mirror {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Mirror{repo: r, store: store, log: log, kick: make(chan struct{}, 1),
		known: map[string]string{}, warned: map[string]string{}}
}

// Add verifies the package read from rd as Repo.Add does, records it in
// the store (one transaction: every node may copy it from then on) and
// then puts it into this node's repository, so that this node resolves it
// as soon as Add returns. Unlike Repo.Add, it does not replace a file
// name: nodes that copied the old content would keep it, and bakes keyed
// with one content would be reused for the other.
func (m *Mirror) Add(ctx context.Context, filename string, rd io.Reader) (Package, error) {
	st, err := m.repo.stage(filename, rd)
	if err != nil {
		return Package{}, err
	}
	defer st.discard()
	f, err := os.Open(st.path)
	if err != nil {
		return Package{}, fmt.Errorf("add %s: %w", filename, err)
	}
	err = m.store.Put(ctx, st.pkg, f)
	f.Close()
	if err != nil {
		return Package{}, err
	}
	if err := m.repo.commit(st); err != nil {
		return Package{}, err
	}
	m.setKnown(st.pkg.Filename, st.pkg.SHA256)
	return st.pkg, nil
}

// Kick asks Run to sync now (after another node's upload); it does not
// wait.
func (m *Mirror) Kick() {
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

// Run syncs at once, then on each Kick and every poll as a fallback for a
// lost notification, until ctx ends.
func (m *Mirror) Run(ctx context.Context, poll time.Duration) {
	for {
		if err := m.Sync(ctx); err != nil && ctx.Err() == nil {
			m.log.Warn("package repository: sync failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-m.kick:
		case <-time.After(poll):
		}
	}
}

// Sync copies into the repository every package of the store that it
// lacks, or holds with other content, and re-indexes once. A package
// that cannot be copied or does not match its record is left out of the
// index and logged (once for each problem), and the others go on. The
// error is for the store not answering.
func (m *Mirror) Sync(ctx context.Context) error {
	m.syncMu.Lock()
	defer m.syncMu.Unlock()
	ps, err := m.store.List(ctx)
	if err != nil {
		return fmt.Errorf("sync repo %s: %w", m.repo.dir, err)
	}
	var fetched []*staged
	defer func() {
		for _, st := range fetched {
			st.discard()
		}
	}()
	for _, p := range ps {
		if m.isKnown(p.Filename, p.SHA256) {
			continue
		}
		if err := ValidFilename(p.Filename); err != nil {
			m.warn(p, err)
			continue
		}
		// A copy from before this process started is hashed once.
		if sum, err := fileSHA256(filepath.Join(m.repo.dir, p.Filename), p.Size); err == nil && sum == p.SHA256 {
			m.setKnown(p.Filename, p.SHA256)
			continue
		}
		st, err := m.fetch(ctx, p)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			m.warn(p, err)
			continue
		}
		fetched = append(fetched, st)
	}
	if len(fetched) == 0 {
		return nil
	}
	if err := m.repo.commitAll(fetched); err != nil {
		return fmt.Errorf("sync repo %s: %w", m.repo.dir, err)
	}
	for _, st := range fetched {
		m.setKnown(st.pkg.Filename, st.pkg.SHA256)
		m.mu.Lock()
		delete(m.warned, st.pkg.Filename)
		m.mu.Unlock()
		m.log.Info("package repository: copied from the database", "file", st.pkg.Filename, "sha256", st.pkg.SHA256, "size", st.pkg.Size)
	}
	return nil
}

// fetch copies p's content from the store into a temporary file of the
// repository and checks it against p's record.
func (m *Mirror) fetch(ctx context.Context, p Package) (*staged, error) {
	st, sum, size, err := stageFile(m.repo.dir, ".sync-*.tmp", func(w io.Writer) error {
		return m.store.Copy(ctx, p.Filename, w)
	})
	if err != nil {
		return nil, fmt.Errorf("copy from the database: %w", err)
	}
	if sum != p.SHA256 || size != p.Size {
		st.discard()
		return nil, fmt.Errorf("its content in the database (sha256 %s, %d bytes) does not match its record (sha256 %s, %d bytes): not indexed on this node; upload the package again under a new file name",
			sum, size, p.SHA256, p.Size)
	}
	st.pkg = Package{Filename: p.Filename, Size: size, SHA256: p.SHA256}
	if err := verify(st.path, p.Filename, &st.pkg); err != nil {
		st.discard()
		return nil, err
	}
	return st, nil
}

func (m *Mirror) isKnown(filename, sum string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.known[filename] == sum
}

func (m *Mirror) setKnown(filename, sum string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.known[filename] = sum
}

// warn logs a package that cannot be copied, once for each problem: Run
// retries it on every sync.
func (m *Mirror) warn(p Package, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	msg := p.SHA256 + ": " + err.Error()
	if m.warned[p.Filename] == msg {
		return
	}
	m.warned[p.Filename] = msg
	m.log.Warn("package repository: cannot copy a package from the database", "file", p.Filename, "sha256", p.SHA256, "err", err)
}

// commitAll renames staged files into place and re-indexes once.
func (r *Repo) commitAll(sts []*staged) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, st := range sts {
		if err := os.Rename(st.path, filepath.Join(r.dir, st.pkg.Filename)); err != nil {
			return fmt.Errorf("add %s: %w", st.pkg.Filename, err)
		}
	}
	return r.reindex()
}

// fileSHA256 hashes the file at path if it has size bytes.
func fileSHA256(path string, size int64) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() || st.Size() != size {
		return "", fmt.Errorf("%s: not a file of %d bytes", path, size)
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
