package bakery

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/bakehouse/bakehouse"
)

// LogBackend keeps bake logs where every node that serves them can read
// them: files in the data dir for the embedded SQLite store (one node),
// rows in the database for PostgreSQL (any node). Lines reach it already
// masked. One LogStore (batching, waking, following) sits on either, so
// there is one follow code path.
type LogBackend interface {
	// Append adds lines, in order, to the end of bake id's log.
	Append(ctx context.Context, id string, lines []string) error
	// ReadFrom returns bake id's log after cursor (0 is the start).
	ReadFrom(ctx context.Context, id string, cursor int64) (LogChunk, error)
	// Close records that the run of bake id has ended: its log is
	// complete (later lines are only notes, such as reuses).
	Close(ctx context.Context, id string) error
}

// LogChunk is a part of a bake's log.
type LogChunk struct {
	Text   string // whole lines, each ending in "\n"
	Next   int64  // the cursor after Text
	More   bool   // Text stopped at a size limit: read again from Next
	Closed bool   // the log was closed before Text was read
}

// flushEvery is how long a Packer output line may wait to be written with
// the next ones: Packer writes thousands of lines, and one write (one
// database round trip) per line would cost more than the bake's followers
// gain from seeing each line 100 ms earlier.
const flushEvery = 100 * time.Millisecond

// maxBatch lines are written at once without waiting for flushEvery.
const maxBatch = 256

// pollEvery is how often a follower reads a log when nothing woke it: the
// backend may have been written by another node (or process) that could
// not wake it.
const pollEvery = time.Second

// LogStore is the bakery's view of bake logs: it batches Packer's output,
// wakes this node's followers after each write (and when another node's
// write is announced through Wake) and follows a log until its bake ends.
type LogStore struct {
	backend LogBackend
	log     *slog.Logger

	mu      sync.Mutex
	pending map[string]*pendingLog
	waiters map[string][]chan struct{}
}

// pendingLog is a bake's lines not yet written.
type pendingLog struct {
	wmu   sync.Mutex // held while writing, so batches reach the backend in order
	lines []string
	timer *time.Timer
	refs  int // writers holding this entry (under LogStore.mu)
}

// NewLogStore returns a log store over backend; log gets write errors.
func NewLogStore(backend LogBackend, log *slog.Logger) *LogStore {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &LogStore{backend: backend, log: log, pending: map[string]*pendingLog{}, waiters: map[string][]chan struct{}{}}
}

// Line adds a line of Packer's output to a bake's log. It is written with
// the lines that follow it within flushEvery.
func (l *LogStore) Line(id, line string) {
	l.mu.Lock()
	p := l.pendingFor(id)
	p.lines = append(p.lines, line)
	full := len(p.lines) >= maxBatch
	if !full && p.timer == nil {
		p.timer = time.AfterFunc(flushEvery, func() { l.flush(id) })
	}
	l.mu.Unlock()
	if full {
		l.flush(id)
	}
}

// Append adds a line to a bake's log now, after the lines still waiting,
// and wakes its followers.
func (l *LogStore) Append(id, line string) { l.flush(id, line) }

// Note appends a line to the log of a bake that may have ended (a reuse is
// recorded in the reused bake's log).
func (l *LogStore) Note(id, line string) { l.flush(id, line) }

// Close writes what waits and marks the log complete once the bake's run
// has ended, waking followers so they see the end.
func (l *LogStore) Close(id string) {
	l.flush(id)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := l.backend.Close(ctx, id); err != nil {
		l.log.Error("close bake log", "id", id, "err", err)
	}
	l.Wake(id)
}

// pendingFor returns id's pending entry, creating it; l.mu is held.
func (l *LogStore) pendingFor(id string) *pendingLog {
	p := l.pending[id]
	if p == nil {
		p = &pendingLog{}
		l.pending[id] = p
	}
	return p
}

// flush writes a bake's waiting lines and extra, in that order. Writes use
// their own context: a canceled bake's last lines must still be written.
func (l *LogStore) flush(id string, extra ...string) {
	l.mu.Lock()
	p := l.pendingFor(id)
	p.refs++
	l.mu.Unlock()

	p.wmu.Lock()
	l.mu.Lock()
	lines := append(p.lines, extra...)
	p.lines = nil
	if p.timer != nil {
		p.timer.Stop()
		p.timer = nil
	}
	l.mu.Unlock()
	if len(lines) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := l.backend.Append(ctx, id, lines); err != nil {
			l.log.Error("write bake log", "id", id, "lines", len(lines), "err", err)
		}
		cancel()
	}
	p.wmu.Unlock()

	l.mu.Lock()
	p.refs--
	if p.refs == 0 && len(p.lines) == 0 && p.timer == nil {
		delete(l.pending, id)
	}
	l.mu.Unlock()
	l.Wake(id)
}

// Wake wakes the followers of a bake's log on this node: after a write
// here, or when another node announces one. Wake("") wakes every follower
// (announcements may have been missed).
func (l *LogStore) Wake(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for wid, chs := range l.waiters {
		if id != "" && wid != id {
			continue
		}
		for _, ch := range chs {
			close(ch)
		}
		delete(l.waiters, wid)
	}
}

// wait returns a channel closed at the next Wake of id.
func (l *LogStore) wait(id string) <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	ch := make(chan struct{})
	l.waiters[id] = append(l.waiters[id], ch)
	return ch
}

// Read returns a bake's whole log; ENOTFOUND when there is none.
func (l *LogStore) Read(ctx context.Context, id string) (string, error) {
	var b strings.Builder
	var cur int64
	for {
		c, err := l.backend.ReadFrom(ctx, id, cur)
		if err != nil {
			return "", fmt.Errorf("read bake log: %w", err)
		}
		b.WriteString(c.Text)
		cur = c.Next
		if !c.More {
			break
		}
	}
	if b.Len() == 0 {
		return "", &bakehouse.Error{Code: bakehouse.ENOTFOUND, Field: "id", Message: fmt.Sprintf("Unable to retrieve logs for '%s'.", id)}
	}
	return b.String(), nil
}

// Follow copies a bake's log to w as it is written, wherever the bake
// runs, until the log is closed or ended reports that no node runs the
// bake any more (then what was written is copied first), or ctx ends.
// flush is called after each chunk.
func (l *LogStore) Follow(ctx context.Context, id string, w io.Writer, flush func(), ended func() bool) error {
	var cur int64
	last := false
	for {
		wake := l.wait(id)
		c, err := l.backend.ReadFrom(ctx, id, cur)
		if err != nil {
			return err
		}
		cur = c.Next
		if c.Text != "" {
			if _, err := io.WriteString(w, c.Text); err != nil {
				return err
			}
			if flush != nil {
				flush()
			}
		}
		switch {
		case c.More:
			continue
		case c.Closed || last:
			return nil
		case c.Text != "":
			// More lines may be on their way: ask whether the bake
			// ended only once a read finds nothing new.
		case ended != nil && ended():
			// Everything its run wrote is in the backend: read once more.
			last = true
			continue
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-wake:
		case <-time.After(pollEvery):
		}
	}
}
