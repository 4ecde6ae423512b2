// Package pgtest gives tests a private PostgreSQL cluster: initdb in a
// temporary directory, a server that listens on a unix socket in it only
// (no TCP port, so it cannot clash with another cluster or reach the
// network), and a fresh database per test. It uses Debian's binaries
// (/usr/lib/postgresql/*/bin) or those on PATH; without them, tests skip,
// unless BAKEHOUSE_INTEGRATION=1, which makes them fail.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Integration reports whether BAKEHOUSE_INTEGRATION=1 is set: missing
// binaries are then a failure, not a skip.
func Integration() bool { return os.Getenv("BAKEHOUSE_INTEGRATION") == "1" }

// SkipOrFail skips the test, or fails it when Integration() is true.
func SkipOrFail(tb testing.TB, format string, args ...any) {
	tb.Helper()
	if Integration() {
		tb.Fatalf(format, args...)
	}
	tb.Skipf(format+" (BAKEHOUSE_INTEGRATION=1 makes this fail)", args...)
}

// Cluster is a running private PostgreSQL server.
type Cluster struct {
	dir  string // holds data/, the socket and the server's log
	cmd  *exec.Cmd
	done chan struct{} // closed when the server exits
	n    atomic.Int64  // databases made so far

	mu        sync.Mutex
	templates map[string]error // made by TemplateURL: their setup's error
}

var (
	sharedMu      sync.Mutex
	shared        *Cluster
	sharedErr     error
	sharedMissing string
	inMain        bool
)

// Main runs a package's tests (call it from TestMain) with one cluster,
// started by the first test that asks for a database, and stopped when the
// tests end: initdb takes seconds, a database only a fraction of one.
func Main(m *testing.M) {
	sharedMu.Lock()
	inMain = true
	sharedMu.Unlock()
	code := m.Run()
	sharedMu.Lock()
	if shared != nil {
		if err := shared.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "pgtest:", err)
		}
	}
	sharedMu.Unlock()
	os.Exit(code)
}

// URL returns the URL of a new, empty database on the package's cluster
// (or, outside Main, on a cluster of its own that stops with the test).
// The database is dropped when the test ends.
func URL(tb testing.TB) string {
	tb.Helper()
	return cluster(tb).newDatabase(tb, "template0")
}

// newDatabase creates a database from template, dropped when tb ends.
func (c *Cluster) newDatabase(tb testing.TB, template string) string {
	tb.Helper()
	name := fmt.Sprintf("test_%d", c.n.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := c.exec(ctx, `CREATE DATABASE `+name+` TEMPLATE `+template); err != nil {
		tb.Fatalf("pgtest: create database: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := c.exec(ctx, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`); err != nil {
			tb.Errorf("pgtest: drop database: %v", err)
		}
	})
	return c.URL(name)
}

// TemplateURL is URL, but the new database is a copy of template name,
// which setup prepares (once per cluster) on the URL it is given: a schema
// that every test of a package starts from is applied once, not per test.
func TemplateURL(tb testing.TB, name string, setup func(url string) error) string {
	tb.Helper()
	c := cluster(tb)
	c.mu.Lock()
	if c.templates == nil {
		c.templates = map[string]error{}
	}
	err, made := c.templates[name]
	if !made {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		err = c.exec(ctx, `CREATE DATABASE `+pgx.Identifier{name}.Sanitize()+` TEMPLATE template0`)
		cancel()
		if err == nil {
			err = setup(c.URL(name))
		}
		c.templates[name] = err
	}
	c.mu.Unlock()
	if err != nil {
		tb.Fatalf("pgtest: template %s: %v", name, err)
	}
	return c.newDatabase(tb, pgx.Identifier{name}.Sanitize())
}

func cluster(tb testing.TB) *Cluster {
	tb.Helper()
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if !inMain {
		bin, err := BinDir()
		if err != nil {
			SkipOrFail(tb, "pgtest: %v", err)
		}
		c, err := Start(bin)
		if err != nil {
			tb.Fatalf("pgtest: %v", err)
		}
		tb.Cleanup(func() {
			if err := c.Stop(); err != nil {
				tb.Errorf("pgtest: %v", err)
			}
		})
		return c
	}
	if shared == nil && sharedErr == nil && sharedMissing == "" {
		bin, err := BinDir()
		if err != nil {
			sharedMissing = err.Error()
		} else {
			shared, sharedErr = Start(bin)
		}
	}
	if sharedMissing != "" {
		SkipOrFail(tb, "pgtest: %s", sharedMissing)
	}
	if sharedErr != nil {
		tb.Fatalf("pgtest: %v", sharedErr)
	}
	return shared
}

// BinDir returns the directory of PostgreSQL's server binaries: the one of
// initdb on PATH, else the newest /usr/lib/postgresql/*/bin (Debian keeps
// them off PATH).
func BinDir() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	sort.Slice(found, func(i, j int) bool { return version(found[i]) > version(found[j]) })
	if len(found) == 0 {
		return "", errors.New("PostgreSQL's initdb is neither on PATH nor in /usr/lib/postgresql/*/bin: install Debian's postgresql (scripts/install-deps.sh does)")
	}
	return filepath.Dir(found[0]), nil
}

func version(initdb string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(initdb))))
	return n
}

// Start runs initdb and starts a server with the binaries in bin. As root,
// both run as the postgres user (initdb refuses root), which owns the
// cluster's directory.
func Start(bin string) (*Cluster, error) {
	dir, err := os.MkdirTemp("", "bakehouse-pg-")
	if err != nil {
		return nil, err
	}
	c := &Cluster{dir: dir, done: make(chan struct{})}
	attr := &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("running as root, initdb must run as another user, and there is no postgres user: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		attr.Credential = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	data := filepath.Join(dir, "data")
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync")
	initdb.SysProcAttr = attr
	initdb.Dir = dir
	if out, err := initdb.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	logf, err := os.Create(filepath.Join(dir, "server.log"))
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	defer logf.Close()
	// Durability is not wanted of a test cluster: fsync off makes each
	// CREATE DATABASE and commit cheap.
	c.cmd = exec.Command(filepath.Join(bin, "postgres"), "-D", data, "-k", dir, "-c", "listen_addresses=",
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off", "-c", "max_connections=300")
	c.cmd.SysProcAttr = attr
	c.cmd.Dir = dir
	c.cmd.Stdout, c.cmd.Stderr = logf, logf
	if err := c.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	go func() { c.cmd.Wait(); close(c.done) }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = c.exec(ctx, `SELECT 1`)
		cancel()
		if err == nil {
			return c, nil
		}
		select {
		case <-c.done:
			log, _ := os.ReadFile(filepath.Join(dir, "server.log"))
			os.RemoveAll(dir)
			return nil, fmt.Errorf("postgres exited: %s\n%s", c.cmd.ProcessState, log)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			c.Stop()
			return nil, fmt.Errorf("postgres did not answer within 60s: %v", err)
		}
	}
}

// URL returns the URL of database db on the cluster's socket.
func (c *Cluster) URL(db string) string {
	return "postgres://postgres@/" + db + "?host=" + url.QueryEscape(c.dir) + "&sslmode=disable"
}

// exec runs one statement on the cluster's postgres database.
func (c *Cluster) exec(ctx context.Context, sql string) error {
	conn, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql)
	return err
}

// Stop shuts the server down (fast shutdown: clients are disconnected) and
// removes its directory.
func (c *Cluster) Stop() error {
	defer os.RemoveAll(c.dir)
	c.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-c.done:
		return nil
	case <-time.After(30 * time.Second):
		c.cmd.Process.Kill()
		<-c.done
		return errors.New("postgres did not stop within 30s of SIGINT; killed")
	}
}

// Dir is the cluster's directory (its socket is there), for tests that
// start processes against it.
func (c *Cluster) Dir() string { return c.dir }
