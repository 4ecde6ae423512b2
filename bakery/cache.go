package bakery

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"sync"
	"time"
)

// fileDigests hashes template and var files, re-reading a file only when
// its size or modification time changed, so that keying a request costs a
// stat rather than a read.
type fileDigests struct {
	mu    sync.Mutex
	files map[string]fileDigest
}

type fileDigest struct {
	size    int64
	modTime time.Time
	sum     string
}

func newFileDigests() *fileDigests { return &fileDigests{files: map[string]fileDigest{}} }

func (d *fileDigests) digest(path string) (string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	d.mu.Lock()
	fd, ok := d.files[path]
	d.mu.Unlock()
	if ok && fd.size == st.Size() && fd.modTime.Equal(st.ModTime()) {
		return fd.sum, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	sum := hex.EncodeToString(h.Sum(nil))
	d.mu.Lock()
	d.files[path] = fileDigest{size: st.Size(), modTime: st.ModTime(), sum: sum}
	d.mu.Unlock()
	return sum, nil
}

// ttlCache remembers a value for a short time. A stale value is still
// returned while one caller refreshes it, so that requests never queue up
// behind a slow lookup (a docker CLI call takes tens of milliseconds).
type ttlCache struct {
	mu         sync.Mutex
	ttl        time.Duration
	m          map[string]ttlEntry
	refreshing map[string]bool
}

type ttlEntry struct {
	v   string
	exp time.Time
}

func newTTLCache(ttl time.Duration) *ttlCache {
	return &ttlCache{ttl: ttl, m: map[string]ttlEntry{}, refreshing: map[string]bool{}}
}

// get returns the value for k, whether it is still fresh, and whether
// there is one at all. A stale hit makes the caller the one refresher
// (refresh true) until put is called.
func (c *ttlCache) get(k string) (v string, fresh, refresh, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	if !ok {
		return "", false, false, false
	}
	if time.Now().Before(e.exp) {
		return e.v, true, false, true
	}
	if c.refreshing[k] {
		return e.v, false, false, true
	}
	c.refreshing[k] = true
	return e.v, false, true, true
}

func (c *ttlCache) put(k, v string) {
	c.mu.Lock()
	c.m[k] = ttlEntry{v: v, exp: time.Now().Add(c.ttl)}
	delete(c.refreshing, k)
	c.mu.Unlock()
}

func (c *ttlCache) done(k string) {
	c.mu.Lock()
	delete(c.refreshing, k)
	c.mu.Unlock()
}
