package bakery

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// FileLogs keeps each bake's log in its own file in a directory, for the
// embedded SQLite store: one node, so the data dir is where every reader
// is. A closed log has an empty "<id>.closed" file beside it.
type FileLogs struct {
	dir string
}

var _ LogBackend = (*FileLogs)(nil)

// fileChunk is the most a ReadFrom returns at once.
const fileChunk = 1 << 20

// NewFileLogs opens the log directory, creating it.
func NewFileLogs(dir string) (*FileLogs, error) {
	if dir == "" {
		return nil, fmt.Errorf("log store: no directory")
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("log store: %w", err)
	}
	return &FileLogs{dir: dir}, nil
}

// path is a file of a bake. Ids are validated before they reach here, and
// filepath.Base keeps any id inside the directory.
func (f *FileLogs) path(id, ext string) string {
	return filepath.Join(f.dir, filepath.Base(filepath.Clean("/"+id))+ext)
}

// Append writes the lines in one write, so that a reader sees whole
// batches.
func (f *FileLogs) Append(_ context.Context, id string, lines []string) error {
	fh, err := os.OpenFile(f.path(id, ".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return err
	}
	_, err = io.WriteString(fh, strings.Join(lines, "\n")+"\n")
	return errors.Join(err, fh.Close())
}

// ReadFrom reads from byte offset cursor, up to the last whole line.
func (f *FileLogs) ReadFrom(_ context.Context, id string, cursor int64) (LogChunk, error) {
	_, err := os.Stat(f.path(id, ".closed"))
	c := LogChunk{Next: cursor, Closed: err == nil}
	fh, err := os.Open(f.path(id, ".log"))
	if os.IsNotExist(err) {
		return c, nil
	}
	if err != nil {
		return c, err
	}
	defer fh.Close()
	buf := make([]byte, fileChunk)
	n, err := fh.ReadAt(buf, cursor)
	if err != nil && err != io.EOF {
		return c, err
	}
	buf = buf[:n]
	if i := bytes.LastIndexByte(buf, '\n'); i >= 0 {
		buf = buf[:i+1]
	} else if n < fileChunk {
		buf = buf[:0] // a line still being written
	}
	c.Text, c.Next, c.More = string(buf), cursor+int64(len(buf)), n == fileChunk
	return c, nil
}

// Close leaves the marker of a closed log.
func (f *FileLogs) Close(_ context.Context, id string) error {
	return os.WriteFile(f.path(id, ".closed"), nil, 0o640)
}
