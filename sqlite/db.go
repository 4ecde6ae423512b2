// Package sqlite keeps Bakehouse's bakes and its job queue in one embedded
// SQLite database (pure Go driver, no cgo), so the default install needs no
// database server.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

//go:embed migration/*.sql
var migrationFS embed.FS

// DB is an open Bakehouse database.
type DB struct {
	db   *sql.DB // the writer: one connection, every transaction serialized
	read *sql.DB // readers: WAL lets them run beside the writer
	// Hot reads prepared once on the readers (database/sql prepares each
	// on a connection the first time it runs there), so that a reused
	// bake request does not parse SQL.
	byKey, byID *sql.Stmt
	path        string
	// lock is held while the database is open (see lockDatabase);
	// exclusive says it is, so that BakeStore may cache reads.
	lock      *os.File
	exclusive bool
	// Now returns the current time; tests replace it.
	Now func() time.Time
}

// Open opens (creating if needed) the database at path and applies the
// migrations. SQLite allows one writer, so the pool holds one connection:
// every transaction is serialized, which is what makes CreateBake atomic.
func Open(ctx context.Context, path string) (*DB, error) {
	lock, err := lockDatabase(path)
	if err != nil {
		return nil, err
	}
	dsn := "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_txlock=immediate"
	sdb, err := sql.Open("sqlite", dsn)
	if err != nil {
		unlock(lock)
		return nil, fmt.Errorf("open db: %w", err)
	}
	sdb.SetMaxOpenConns(1)
	sdb.SetConnMaxIdleTime(0)
	sdb.SetConnMaxLifetime(0)
	if err := sdb.PingContext(ctx); err != nil {
		sdb.Close()
		unlock(lock)
		return nil, fmt.Errorf("open db %s: %w", path, err)
	}
	d := &DB{db: sdb, path: path, lock: lock, exclusive: lock != nil, Now: time.Now}
	if err := d.migrate(ctx); err != nil {
		d.Close()
		return nil, err
	}
	if err := d.openReaders(ctx); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

// readers is the size of the read pool. A reused bake request is one read;
// with a pool it never waits behind the queue's poller or a bake's write,
// which hold the writer's only connection.
const readers = 4

// openReaders opens the read pool (query_only, so a write through it is an
// error) and prepares the hot reads.
func (d *DB) openReaders(ctx context.Context) error {
	dsn := "file:" + d.path + "?_pragma=busy_timeout(10000)&_pragma=query_only(1)"
	rdb, err := sql.Open("sqlite", dsn)
	if err != nil {
		return fmt.Errorf("open db readers: %w", err)
	}
	d.read = rdb
	rdb.SetMaxOpenConns(readers)
	rdb.SetMaxIdleConns(readers)
	rdb.SetConnMaxIdleTime(0)
	rdb.SetConnMaxLifetime(0)
	if d.byKey, err = rdb.PrepareContext(ctx, headsByKeyQuery); err != nil {
		return fmt.Errorf("prepare bakes by key: %w", err)
	}
	if d.byID, err = rdb.PrepareContext(ctx, bakeByIDQuery); err != nil {
		return fmt.Errorf("prepare bake by id: %w", err)
	}
	return nil
}

// Close closes the database.
func (d *DB) Close() error {
	for _, st := range []*sql.Stmt{d.byKey, d.byID} {
		if st != nil {
			st.Close()
		}
	}
	if d.read != nil {
		d.read.Close()
	}
	err := d.db.Close()
	unlock(d.lock)
	return err
}

// unlock releases the database lock (closing the file drops the flock).
func unlock(f *os.File) {
	if f != nil {
		f.Close()
	}
}

// migrate applies each embedded migration once, one transaction each.
func (d *DB) migrate(ctx context.Context) error {
	if _, err := d.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS bakehouse_migrations (name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("create migrations table: %w", err)
	}
	names, err := fs.Glob(migrationFS, "migration/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		if err := d.migrateFile(ctx, name); err != nil {
			return fmt.Errorf("migration %s: %w", name, err)
		}
	}
	return nil
}

func (d *DB) migrateFile(ctx context.Context, name string) error {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM bakehouse_migrations WHERE name = ?`, name).Scan(&n); err != nil {
		return err
	}
	if n != 0 {
		return nil
	}
	buf, err := migrationFS.ReadFile(name)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, string(buf)); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO bakehouse_migrations (name, applied_at) VALUES (?, ?)`, name, d.Now().UnixMilli()); err != nil {
		return err
	}
	return tx.Commit()
}
