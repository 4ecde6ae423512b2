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

// ttlCache remembers a value for a short time.
type ttlCache struct {
	mu  sync.Mutex
	ttl time.Duration
	m   map[string]ttlEntry
}

type ttlEntry struct {
	v   string
	exp time.Time
}

func newTTLCache(ttl time.Duration) *ttlCache { return &ttlCache{ttl: ttl, m: map[string]ttlEntry{}} }

func (c *ttlCache) get(k string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	if !ok || time.Now().After(e.exp) {
		return "", false
	}
	return e.v, true
}

func (c *ttlCache) put(k, v string) {
	c.mu.Lock()
	c.m[k] = ttlEntry{v: v, exp: time.Now().Add(c.ttl)}
	c.mu.Unlock()
}

func (c *ttlCache) forget(k string) {
	c.mu.Lock()
	delete(c.m, k)
	c.mu.Unlock()
}
