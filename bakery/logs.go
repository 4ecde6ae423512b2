package bakery

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/bakehouse/bakehouse"
)

// LogStore keeps each bake's log in its own file, appended line by line as
// Packer writes, so logs survive a restart and can be followed live.
type LogStore struct {
	dir string

	mu      sync.Mutex
	files   map[string]*os.File
	waiters map[string][]chan struct{}
}

// NewLogStore opens the log directory, creating it.
func NewLogStore(dir string) (*LogStore, error) {
	if dir == "" {
		return nil, fmt.Errorf("log store: no directory")
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("log store: %w", err)
	}
	return &LogStore{dir: dir, files: map[string]*os.File{}, waiters: map[string][]chan struct{}{}}, nil
}

// path is the log file of a bake. Ids are validated before they reach
// here, and filepath.Base keeps any id inside the directory.
func (l *LogStore) path(id string) string {
	return filepath.Join(l.dir, filepath.Base(filepath.Clean("/"+id))+".log")
}

// Append adds a line to a bake's log and wakes its followers.
func (l *LogStore) Append(id, line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.files[id]
	if f == nil {
		var err error
		f, err = os.OpenFile(l.path(id), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
		if err != nil {
			return
		}
		l.files[id] = f
	}
	fmt.Fprintln(f, line)
	for _, ch := range l.waiters[id] {
		close(ch)
	}
	delete(l.waiters, id)
}

// Note appends a line to a bake's log without keeping the file open: for
// bakes that have ended (a reuse is recorded in the reused bake's log).
func (l *LogStore) Note(id, line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if f := l.files[id]; f != nil {
		fmt.Fprintln(f, line)
	} else if f, err := os.OpenFile(l.path(id), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640); err == nil {
		fmt.Fprintln(f, line)
		f.Close()
	}
	for _, ch := range l.waiters[id] {
		close(ch)
	}
	delete(l.waiters, id)
}

// Close closes a bake's log file once the bake has ended, waking
// followers so they see the end.
func (l *LogStore) Close(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if f := l.files[id]; f != nil {
		f.Close()
		delete(l.files, id)
	}
	for _, ch := range l.waiters[id] {
		close(ch)
	}
	delete(l.waiters, id)
}

// Read returns a bake's whole log; ENOTFOUND when there is none.
func (l *LogStore) Read(id string) (string, error) {
	b, err := os.ReadFile(l.path(id))
	if err != nil || len(b) == 0 {
		return "", &bakehouse.Error{Code: bakehouse.ENOTFOUND, Field: "id", Message: fmt.Sprintf("Unable to retrieve logs for '%s'.", id)}
	}
	return string(b), nil
}

// wait returns a channel closed at the next Append or Close of id.
func (l *LogStore) wait(id string) <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	ch := make(chan struct{})
	l.waiters[id] = append(l.waiters[id], ch)
	return ch
}

// Follow copies a bake's log to w as it is written, until done reports the
// bake ended (and everything written is copied) or ctx ends. flush is
// called after each chunk.
func (l *LogStore) Follow(ctx context.Context, id string, w io.Writer, flush func(), done func() bool) error {
	var off int64
	for {
		wake := l.wait(id)
		ended := done()
		n, err := l.copyFrom(id, off, w)
		off += n
		if err != nil {
			return err
		}
		if n > 0 && flush != nil {
			flush()
		}
		if ended {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-wake:
		case <-time.After(time.Second):
			// A bake run by another process writes the file without
			// waking us: poll as well.
		}
	}
}

func (l *LogStore) copyFrom(id string, off int64, w io.Writer) (int64, error) {
	f, err := os.Open(l.path(id))
	if os.IsNotExist(err) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer f.Close()
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return 0, err
	}
	return io.Copy(w, f)
}
