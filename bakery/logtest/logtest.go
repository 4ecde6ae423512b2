// Package logtest is the contract every bake log backend must pass, through
// the bakery's LogStore, so that logs are read and followed the same way on
// the SQLite store's files and on PostgreSQL's rows, from any node.
package logtest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bakehouse/bakehouse"
	"github.com/bakehouse/bakehouse/bakery"
)

// Node is one bakery node's access to the bake logs of a store.
type Node struct {
	Backend bakery.LogBackend
	// Listen calls wake with the id of each log another node announces,
	// and with "" once it listens, until ctx ends; nil when the backend
	// cannot announce (followers then find other nodes' lines at their
	// next poll).
	Listen func(ctx context.Context, wake func(id string))
}

// Exercise runs the log contract against the backends made by open: a
// fresh, empty storage per call, which returns a new node of that storage
// (another process on the same data dir, another node on the same
// database) each time it is called.
func Exercise(t *testing.T, open func(*testing.T) func() Node) {
	t.Run("ReadInOrderOnEveryNode", func(t *testing.T) { testLogRead(t, open(t)) })
	t.Run("FollowOnAnotherNodeIsLive", func(t *testing.T) { testLogFollowLive(t, open(t)) })
	t.Run("FollowEndsWhenClosedOrEnded", func(t *testing.T) { testLogFollowEnds(t, open(t)) })
	t.Run("PackerOutputIsBatched", func(t *testing.T) { testLogBatched(t, open(t)) })
	t.Run("NodesAppendingAtOnce", func(t *testing.T) { testLogConcurrent(t, open(t)) })
}

// start returns node's log store, listening for other nodes until the test
// ends.
func start(t *testing.T, n Node) *bakery.LogStore {
	l := bakery.NewLogStore(n.Backend, nil)
	if n.Listen != nil {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		listening := make(chan struct{})
		var once sync.Once
		go func() {
			defer close(done)
			n.Listen(ctx, func(id string) {
				if id == "" {
					once.Do(func() { close(listening) })
				}
				l.Wake(id)
			})
		}()
		t.Cleanup(func() { cancel(); <-done })
		select {
		case <-listening:
		case <-time.After(30 * time.Second):
			t.Fatal("the node did not listen within 30 s")
		}
	}
	return l
}

func mustRead(t *testing.T, l *bakery.LogStore, id string) string {
	t.Helper()
	s, err := l.Read(context.Background(), id)
	if err != nil {
		t.Fatalf("Read(%s): %v", id, err)
	}
	return s
}

func testLogRead(t *testing.T, node func() Node) {
	a, b := start(t, node()), start(t, node())
	ctx := context.Background()
	if _, err := b.Read(ctx, "none"); bakehouse.ErrorCode(err) != bakehouse.ENOTFOUND {
		t.Fatalf("Read of a bake with no log: %v, want ENOTFOUND", err)
	}
	a.Append("b1", "Bake b1 queued")
	a.Line("b1", "==> docker: Creating a temporary directory")
	a.Line("b1", "    docker: a line with a NUL \x00 and invalid UTF-8 \xff in it")
	a.Append("b1", "Bake b1 completed")
	a.Close("b1")
	b.Note("b1", "reused")
	a.Append("b2", "other bake")
	for _, l := range []*bakery.LogStore{a, b} {
		got := mustRead(t, l, "b1")
		lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
		if len(lines) != 5 || lines[0] != "Bake b1 queued" || lines[3] != "Bake b1 completed" || lines[4] != "reused" ||
			!strings.Contains(lines[2], "a line with a NUL") || !strings.HasSuffix(lines[2], " in it") {
			t.Fatalf("log of b1:\n%q", got)
		}
	}
	if got := mustRead(t, b, "b2"); got != "other bake\n" {
		t.Fatalf("log of b2: %q", got)
	}
}

// lineWriter records when each line reaches a follower.
type lineWriter struct {
	mu    sync.Mutex
	buf   strings.Builder
	lines chan string
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	for {
		s := w.buf.String()
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			return len(p), nil
		}
		w.lines <- s[:i]
		w.buf.Reset()
		w.buf.WriteString(s[i+1:])
	}
}

// testLogFollowLive: lines written on node A reach a follower on node B
// while the bake runs, each within a bound: 700 ms (batching included)
// when B is woken by A's announcements, 2.5 s when it has to poll.
func testLogFollowLive(t *testing.T, node func() Node) {
	na, nb := node(), node()
	a, b := start(t, na), start(t, nb)
	bound := 2500 * time.Millisecond
	if nb.Listen != nil {
		bound = 700 * time.Millisecond
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	w := &lineWriter{lines: make(chan string, 100)}
	done := make(chan error, 1)
	a.Append("live", "Bake live queued")
	go func() { done <- b.Follow(ctx, "live", w, nil, func() bool { return false }) }()
	var worst time.Duration
	for i := range 5 {
		if i > 0 {
			a.Line("live", fmt.Sprintf("packer line %d", i))
		}
		sent := time.Now()
		want := "Bake live queued"
		if i > 0 {
			want = fmt.Sprintf("packer line %d", i)
		}
		select {
		case got := <-w.lines:
			if got != want {
				t.Fatalf("follower got %q, want %q", got, want)
			}
		case err := <-done:
			t.Fatalf("Follow returned %v before the log was closed", err)
		case <-time.After(5 * time.Second):
			t.Fatalf("line %q did not reach the follower on the other node within 5 s", want)
		}
		if d := time.Since(sent); i > 0 && d > worst {
			worst = d
		}
	}
	t.Logf("worst delay of a line from node A to a follower on node B: %v", worst.Round(time.Millisecond))
	if worst > bound {
		t.Errorf("a line took %v to reach the follower on the other node, want <= %v", worst, bound)
	}
	a.Append("live", "Bake live canceled")
	a.Close("live")
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Follow on node B did not end within 5 s of node A closing the log")
	}
	if got := <-w.lines; got != "Bake live canceled" {
		t.Fatalf("last line %q", got)
	}
}

// testLogFollowEnds: a follower ends at the close, or once ended says no
// node runs the bake, with every line written before.
func testLogFollowEnds(t *testing.T, node func() Node) {
	a, b := start(t, node()), start(t, node())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a.Append("closed", "one")
	a.Close("closed")
	var out strings.Builder
	if err := b.Follow(ctx, "closed", &out, nil, func() bool { return false }); err != nil || out.String() != "one\n" {
		t.Fatalf("Follow of a closed log: %q, %v", out.String(), err)
	}

	// Never closed (its node died, or it ended queued): ended decides.
	a.Append("open", "one")
	var ended atomic.Bool
	res := make(chan error, 1)
	out.Reset()
	go func() { res <- b.Follow(ctx, "open", &out, nil, ended.Load) }()
	select {
	case err := <-res:
		t.Fatalf("Follow ended (%v) while the bake still ran", err)
	case <-time.After(1500 * time.Millisecond):
	}
	a.Append("open", "two")
	ended.Store(true)
	if err := <-res; err != nil || out.String() != "one\ntwo\n" {
		t.Fatalf("Follow once the bake ended: %q, %v", out.String(), err)
	}
}

// countingBackend counts the writes that reach a backend.
type countingBackend struct {
	bakery.LogBackend
	appends atomic.Int64
}

func (c *countingBackend) Append(ctx context.Context, id string, lines []string) error {
	c.appends.Add(1)
	return c.LogBackend.Append(ctx, id, lines)
}

// testLogBatched: thousands of Packer lines take a few writes, not one each,
// and all arrive in order.
func testLogBatched(t *testing.T, node func() Node) {
	n := node()
	cb := &countingBackend{LogBackend: n.Backend}
	a := bakery.NewLogStore(cb, nil)
	const total = 12000
	began := time.Now()
	for i := range total {
		a.Line("big", fmt.Sprintf("line %05d %s", i, strings.Repeat("x", 60)))
	}
	a.Close("big")
	t.Logf("%d lines written in %d appends, %v", total, cb.appends.Load(), time.Since(began).Round(time.Millisecond))
	if got := cb.appends.Load(); got > total/100 {
		t.Errorf("%d lines took %d appends, want <= %d", total, got, total/100)
	}
	got := mustRead(t, start(t, node()), "big")
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	if len(lines) != total {
		t.Fatalf("read %d lines, want %d", len(lines), total)
	}
	for i, l := range lines {
		if !strings.HasPrefix(l, fmt.Sprintf("line %05d ", i)) {
			t.Fatalf("line %d is %q", i, l)
		}
	}
	var out strings.Builder
	if err := start(t, node()).Follow(context.Background(), "big", &out, nil, nil); err != nil || out.String() != got {
		t.Fatalf("Follow of the closed log: %d bytes (want %d), %v", out.Len(), len(got), err)
	}
}

// testLogConcurrent: two nodes append to one log at once (the running node
// its lines, another a cancel): every batch arrives whole, none is lost.
func testLogConcurrent(t *testing.T, node func() Node) {
	a, b := start(t, node()), start(t, node())
	var wg sync.WaitGroup
	for _, l := range []*bakery.LogStore{a, b} {
		wg.Go(func() {
			for i := range 50 {
				l.Append("both", fmt.Sprintf("%p %d", l, i))
			}
		})
	}
	wg.Wait()
	got := mustRead(t, a, "both")
	seen := map[string]bool{}
	last := map[string]int{}
	for _, line := range strings.Split(strings.TrimSuffix(got, "\n"), "\n") {
		var who string
		var i int
		if _, err := fmt.Sscanf(line, "%s %d", &who, &i); err != nil {
			t.Fatalf("line %q", line)
		}
		if prev, ok := last[who]; ok && i != prev+1 {
			t.Fatalf("node %s: line %d after %d", who, i, prev)
		}
		last[who], seen[line] = i, true
	}
	if len(seen) != 100 {
		t.Fatalf("%d distinct lines, want 100:\n%s", len(seen), got)
	}
}
