package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/bakehouse/bakehouse"
	"github.com/bakehouse/bakehouse/repo"
	"github.com/jackc/pgx/v5"
)

// packageChannel is the NOTIFY channel on which a node announces an
// upload (the payload is the file name), so that every node copies it
// into its repository at once instead of at its next poll.
const packageChannel = "bakehouse_packages"

// copyChunk is how much of a package goes to or comes from the server in
// one message: a package is never held whole in memory.
const copyChunk = 1 << 20

// PackageStore keeps the cluster's packages (repo.Store): each node's
// repo.Mirror copies them into its own repository directory.
type PackageStore struct {
	db   *DB
	node string
}

var _ repo.Store = (*PackageStore)(nil)

// NewPackageStore returns the package store of db; node is recorded with
// each upload this node makes.
func NewPackageStore(db *DB, node string) *PackageStore { return &PackageStore{db: db, node: node} }

// errExists rolls back an insert that found the file name taken.
var errExists = errors.New("package exists")

// Put inserts p and streams content into a large object, in one
// transaction that also announces the upload (NOTIFY is delivered at
// commit). A file name already taken is compared by SHA-256: the same
// content is no error, other content is ECONFLICT. Two uploads of one
// name at once are settled by the primary key: the second waits for the
// first and compares with it.
func (s *PackageStore) Put(ctx context.Context, p repo.Package, content io.Reader) error {
	if old, ok, err := s.get(ctx, p.Filename); err != nil || ok {
		if err != nil {
			return err
		}
		return same(old, p)
	}
	err := pgx.BeginFunc(ctx, s.db.pool, func(tx pgx.Tx) error {
		los := tx.LargeObjects()
		oid, err := los.Create(ctx, 0)
		if err != nil {
			return err
		}
		lo, err := los.Open(ctx, oid, pgx.LargeObjectModeWrite)
		if err != nil {
			return err
		}
		// The wrappers hide ReaderFrom/WriterTo, so that the copy goes
		// through buf in chunks of copyChunk.
		if _, err := io.CopyBuffer(struct{ io.Writer }{lo}, struct{ io.Reader }{content}, make([]byte, copyChunk)); err != nil {
			return err
		}
		if err := lo.Close(); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `
INSERT INTO packages (file_name, name, version, arch, sha256, size, content, node, uploaded_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (file_name) DO NOTHING`,
			p.Filename, p.Name, p.Version, p.Architecture, p.SHA256, p.Size, oid, s.node, s.db.Now().UnixMilli())
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return errExists
		}
		_, err = tx.Exec(ctx, `SELECT pg_notify($1, $2)`, packageChannel, p.Filename)
		return err
	})
	if errors.Is(err, errExists) {
		old, ok, err := s.get(ctx, p.Filename)
		if err != nil || !ok {
			return fmt.Errorf("store package %s: %w", p.Filename, errors.Join(err, errExists))
		}
		return same(old, p)
	}
	if err != nil {
		return fmt.Errorf("store package %s: %w", p.Filename, err)
	}
	return nil
}

// stored is a row of packages, for the conflict message.
type stored struct {
	repo.Package
	node       string
	uploadedAt int64
}

// same is nil when old has p's content, else the conflict.
func same(old stored, p repo.Package) error {
	if old.SHA256 == p.SHA256 && old.Size == p.Size {
		return nil
	}
	return &bakehouse.Error{Code: bakehouse.ECONFLICT, Field: "filename", Message: fmt.Sprintf(
		"Package file %s is already in the repository with other content (sha256 %s, uploaded by node %s at %s); a file name keeps its content on every node: upload the new build under a new version and file name.",
		p.Filename, old.SHA256, old.node, time.UnixMilli(old.uploadedAt).UTC().Format(time.RFC3339))}
}

func (s *PackageStore) get(ctx context.Context, filename string) (stored, bool, error) {
	var r stored
	err := s.db.pool.QueryRow(ctx, `SELECT file_name, name, version, arch, sha256, size, node, uploaded_at FROM packages WHERE file_name = $1`, filename).
		Scan(&r.Filename, &r.Name, &r.Version, &r.Architecture, &r.SHA256, &r.Size, &r.node, &r.uploadedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, false, nil
	}
	if err != nil {
		return r, false, fmt.Errorf("read package %s: %w", filename, err)
	}
	return r, true, nil
}

// List returns every package's record, by file name.
func (s *PackageStore) List(ctx context.Context) ([]repo.Package, error) {
	rows, err := s.db.pool.Query(ctx, `SELECT file_name, name, version, arch, sha256, size FROM packages ORDER BY file_name`)
	if err != nil {
		return nil, fmt.Errorf("list packages: %w", err)
	}
	ps, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (repo.Package, error) {
		var p repo.Package
		err := row.Scan(&p.Filename, &p.Name, &p.Version, &p.Architecture, &p.SHA256, &p.Size)
		return p, err
	})
	if err != nil {
		return nil, fmt.Errorf("list packages: %w", err)
	}
	return ps, nil
}

// Copy writes filename's content to w in chunks, from one read-only
// transaction (large objects are read inside one).
func (s *PackageStore) Copy(ctx context.Context, filename string, w io.Writer) error {
	err := pgx.BeginTxFunc(ctx, s.db.pool, pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var oid uint32
		if err := tx.QueryRow(ctx, `SELECT content FROM packages WHERE file_name = $1`, filename).Scan(&oid); err != nil {
			return err
		}
		los := tx.LargeObjects()
		lo, err := los.Open(ctx, oid, pgx.LargeObjectModeRead)
		if err != nil {
			return err
		}
		defer lo.Close()
		_, err = io.CopyBuffer(struct{ io.Writer }{w}, struct{ io.Reader }{lo}, make([]byte, copyChunk))
		return err
	})
	if err != nil {
		return fmt.Errorf("read package %s: %w", filename, err)
	}
	return nil
}

// Listen calls wake after each upload that any node announces, and once
// it listens, after each (re)connection, until ctx ends; a mirror's poll
// covers what is lost meanwhile.
func (s *PackageStore) Listen(ctx context.Context, wake func(), log *slog.Logger) {
	s.db.listen(ctx, packageChannel, func(string) { wake() }, log)
}
