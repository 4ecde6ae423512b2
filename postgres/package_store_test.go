package postgres_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bakehouse/bakehouse"
	"github.com/bakehouse/bakehouse/postgres"
	"github.com/bakehouse/bakehouse/repo"
	"github.com/jackc/pgx/v5"
)

// pkgNode is one bakery's repository mirrored from the database, with what
// it logged.
type pkgNode struct {
	repo   *repo.Repo
	mirror *repo.Mirror
	log    *syncBuffer
}

// newPkgNode opens the database at url as a node does (its own pool),
// with a repository in a temporary directory; run starts its listener
// and its sync loop (whose poll is too slow to matter in a test, so that
// the NOTIFY path is what makes it fast).
func newPkgNode(t *testing.T, url, name string, run bool) *pkgNode {
	t.Helper()
	if _, err := exec.LookPath("dpkg-scanpackages"); err != nil {
		t.Skip("dpkg-scanpackages not installed")
	}
	db := openAt(t, url)
	r, err := repo.Open(filepath.Join(t.TempDir(), "repo"))
	if err != nil {
		t.Fatal(err)
	}
	buf := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(buf, nil))
	store := postgres.NewPackageStore(db, name)
	n := &pkgNode{repo: r, mirror: repo.NewMirror(r, store, log), log: buf}
	if run {
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); store.Listen(ctx, n.mirror.Kick, log) }()
		go func() { defer wg.Done(); n.mirror.Run(ctx, time.Hour) }()
		t.Cleanup(func() { cancel(); wg.Wait() })
	}
	return n
}

// waitResolves waits until n resolves name at version, and returns how
// long that took since start.
func (n *pkgNode) waitResolves(t *testing.T, name, version string, start time.Time, within time.Duration) time.Duration {
	t.Helper()
	for {
		if v, ok := n.repo.Resolve(name); ok && v == version {
			return time.Since(start)
		}
		if time.Since(start) > within {
			v, ok := n.repo.Resolve(name)
			t.Fatalf("%s not resolved at %s within %s (resolves %q, %v)\n%s", name, version, within, v, ok, n.log)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestPackagesShared uploads packages to one node's repository and
// checks that another node on the same database resolves each within a
// bounded time, that a file name keeps its content on every node (other
// content is a conflict naming the field, the same content is no error),
// and reports how long an upload takes to reach the other node.
func TestPackagesShared(t *testing.T) {
	t.Parallel()
	url := migratedURL(t)
	a := newPkgNode(t, url, "a", true)
	b := newPkgNode(t, url, "b", true)
	ctx := context.Background()

	const name = "armory-hello-deploy"
	// lags: from the start of the upload; after: from its answer.
	var lags, after []time.Duration
	for _, v := range []string{"1.0", "1.1", "1.2", "1.3", "1.4"} {
		deb := sampleDeb(t, v)
		start := time.Now()
		if _, err := a.mirror.Add(ctx, filepath.Base(deb), bytes.NewReader(mustRead(t, deb))); err != nil {
			t.Fatal(err)
		}
		answered := time.Since(start)
		if got, ok := a.repo.Resolve(name); !ok || got != v {
			t.Fatalf("the uploading node resolves %q, %v right after the upload, want %s", got, ok, v)
		}
		lag := b.waitResolves(t, name, v, start, 5*time.Second)
		lags, after = append(lags, lag), append(after, lag-answered)
	}
	slices.Sort(lags)
	slices.Sort(after)
	t.Logf("upload on one node to resolvable on the other: p50 %s, max %s over %d uploads (after the upload's answer: p50 %s, max %s)",
		lags[len(lags)/2], lags[len(lags)-1], len(lags), after[len(after)/2], after[len(after)-1])

	// The same file name with other content is refused on either node,
	// and neither node's copy changes.
	other := mustRead(t, sampleDeb(t, "9.9"))
	for _, n := range []*pkgNode{a, b} {
		_, err := n.mirror.Add(ctx, name+"_1.0_all.deb", bytes.NewReader(other))
		var e *bakehouse.Error
		if !errors.As(err, &e) || e.Code != bakehouse.ECONFLICT || e.Field != "filename" || !strings.Contains(e.Message, name+"_1.0_all.deb") {
			t.Fatalf("upload of other content under a taken file name: %v, want ECONFLICT for field filename naming the file", err)
		}
		if v, _ := n.repo.Resolve(name); v != "1.4" {
			t.Fatalf("after the refused upload the node resolves %s, want 1.4", v)
		}
	}
	// The same content again is no error, on another node too.
	if _, err := b.mirror.Add(ctx, name+"_1.0_all.deb", bytes.NewReader(mustRead(t, sampleDeb(t, "1.0")))); err != nil {
		t.Fatalf("repeated upload of the same content: %v", err)
	}
}

// TestPackagesDamagedRowNotIndexed damages a package's content in the
// database, and records a package whose file name would leave the
// repository directory: a node that syncs indexes neither, logs both,
// and still copies the sound packages.
func TestPackagesDamagedRowNotIndexed(t *testing.T) {
	t.Parallel()
	url := migratedURL(t)
	a := newPkgNode(t, url, "a", false)
	ctx := context.Background()
	for _, v := range []string{"1.0", "2.0"} {
		deb := sampleDeb(t, v)
		if _, err := a.mirror.Add(ctx, filepath.Base(deb), bytes.NewReader(mustRead(t, deb))); err != nil {
			t.Fatal(err)
		}
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	// One byte of 2.0's content changes; its record stays.
	if _, err := conn.Exec(ctx, `SELECT lo_put(content, size - 10, '\x00') FROM packages WHERE file_name = 'armory-hello-deploy_2.0_all.deb'`); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `INSERT INTO packages (file_name, sha256, size, content, uploaded_at)
SELECT '../escape.deb', sha256, size, content, 0 FROM packages WHERE file_name = 'armory-hello-deploy_1.0_all.deb'`); err != nil {
		t.Fatal(err)
	}

	b := newPkgNode(t, url, "b", false)
	if err := b.mirror.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if v, ok := b.repo.Resolve("armory-hello-deploy"); !ok || v != "1.0" {
		t.Fatalf("node resolves %q, %v after syncing a damaged 2.0; want 1.0", v, ok)
	}
	ps, err := b.repo.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 1 || ps[0].Filename != "armory-hello-deploy_1.0_all.deb" {
		t.Fatalf("index %+v, want only 1.0", ps)
	}
	entries, _ := os.ReadDir(b.repo.Dir())
	for _, e := range entries {
		if strings.Contains(e.Name(), "2.0") || strings.HasSuffix(e.Name(), ".tmp") {
			t.Errorf("left in the repository: %s", e.Name())
		}
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(b.repo.Dir()), "escape.deb")); err == nil {
		t.Errorf("a record named ../escape.deb was written outside the repository")
	}
	log := b.log.String()
	for _, want := range []string{"file=armory-hello-deploy_2.0_all.deb", "does not match its record", "file=../escape.deb", "path separator"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	// Each problem is logged once, however often the node syncs.
	if err := b.mirror.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(b.log.String(), "does not match its record"); n != 1 {
		t.Errorf("the damaged package was logged %d times over two syncs, want once", n)
	}
}

// sampleDeb builds the sample package at version, in a directory of its
// own, and returns its path.
func sampleDeb(t *testing.T, version string) string {
	t.Helper()
	if _, err := exec.LookPath("dpkg-deb"); err != nil {
		t.Skip("dpkg-deb not installed")
	}
	out, err := exec.Command("bash", filepath.Join("..", "scripts", "build-sample-deb.sh"), t.TempDir(), version).CombinedOutput()
	if err != nil {
		t.Fatalf("build-sample-deb.sh: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return lines[len(lines)-1]
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// syncBuffer is a bytes.Buffer that loggers on several goroutines share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
