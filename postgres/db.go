// Package postgres keeps Bakehouse's bakes, pipelines and job queue in one
// PostgreSQL database, so that several bakery nodes can share them. It
// passes the same store contracts (storetest) as the embedded SQLite store;
// where SQLite is safe because it serializes every write, this store takes
// PostgreSQL locks.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

//go:embed migration/*.sql
var migrationFS embed.FS

// Advisory lock classes (the first key of PostgreSQL's two-key advisory
// locks), so that Bakehouse's locks cannot collide with each other's keys.
const (
	lockMigrate  int32 = 0x62680001 // Open's migrations, once per database
	lockBakeKey  int32 = 0x62680002 // CreateBake and Rekey, per bake key
	lockPipeline int32 = 0x62680003 // SaveConfig
)

// defaultMaxConns is the pool size unless the URL sets pool_max_conns:
// River's listener holds one connection, its producer and each running
// bake use others, and requests must not wait behind them.
const defaultMaxConns = 16

// DB is an open Bakehouse database on PostgreSQL.
type DB struct {
	pool *pgxpool.Pool
	// Now returns the current time; tests replace it.
	Now func() time.Time
}

// Open connects to the database at url (postgres://...) and applies
// Bakehouse's and River's migrations. They run under a session advisory
// lock, so nodes that start together wait for one another and each
// migration runs once.
func Open(ctx context.Context, url string) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("database url: %w", err)
	}
	if !strings.Contains(url, "pool_max_conns") && cfg.MaxConns < defaultMaxConns {
		cfg.MaxConns = defaultMaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	d := &DB{pool: pool, Now: time.Now}
	if err := d.migrate(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("database %s@%s/%s: %w", cfg.ConnConfig.User, cfg.ConnConfig.Host, cfg.ConnConfig.Database, err)
	}
	return d, nil
}

// Close closes the pool.
func (d *DB) Close() error {
	d.pool.Close()
	return nil
}

// migrate applies each embedded migration once, one transaction each, then
// River's, all on one connection that holds the migration lock.
func (d *DB) migrate(ctx context.Context) (err error) {
	conn, err := d.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1, 0)`, lockMigrate); err != nil {
		return fmt.Errorf("migration lock: %w", err)
	}
	defer func() {
		// A failed unlock leaves the lock with the session: close the
		// connection so that PostgreSQL releases it.
		if _, uerr := conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1, 0)`, lockMigrate); uerr != nil {
			conn.Conn().Close(context.WithoutCancel(ctx))
			err = errors.Join(err, fmt.Errorf("migration unlock: %w", uerr))
		}
	}()
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS bakehouse_migrations (name TEXT PRIMARY KEY, applied_at BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("create migrations table: %w", err)
	}
	names, err := fs.Glob(migrationFS, "migration/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		if err := d.migrateFile(ctx, conn.Conn(), name); err != nil {
			return fmt.Errorf("migration %s: %w", name, err)
		}
	}
	return migrateRiver(ctx, conn.Conn())
}

func (d *DB) migrateFile(ctx context.Context, conn *pgx.Conn, name string) error {
	return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		var n int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM bakehouse_migrations WHERE name = $1`, name).Scan(&n); err != nil {
			return err
		}
		if n != 0 {
			return nil
		}
		buf, err := migrationFS.ReadFile(name)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, string(buf)); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO bakehouse_migrations (name, applied_at) VALUES ($1, $2)`, name, d.Now().UnixMilli())
		return err
	})
}

// migrateRiver applies River's migrations (its job tables) on conn, under
// the caller's lock, one version per transaction: a version may use what
// the one before it added (an enum value), which PostgreSQL allows only
// once that is committed.
func migrateRiver(ctx context.Context, conn *pgx.Conn) error {
	migrator, err := rivermigrate.New(riverpgxv5.New(nil), &rivermigrate.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return fmt.Errorf("queue migrator: %w", err)
	}
	for {
		var applied int
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			res, err := migrator.MigrateTx(ctx, tx, rivermigrate.DirectionUp, &rivermigrate.MigrateOpts{MaxSteps: 1})
			if err != nil {
				return err
			}
			applied = len(res.Versions)
			return nil
		})
		if err != nil {
			return fmt.Errorf("queue migrate: %w", err)
		}
		if applied == 0 {
			return nil
		}
	}
}
