package sqlite

import (
	"sync"

	"github.com/bakehouse/bakehouse"
)

// headCacheKeys bounds the keys the head cache holds; when full it starts
// over (a reuse storm repeats few keys).
const headCacheKeys = 4096

// headCache remembers BakesByKey's answers, so that a reused bake request
// (the hot path: the same request repeated by every pipeline run and
// retry) is answered from memory instead of a read of the database.
//
// It is sound because this process is the database's only writer: Open
// holds an exclusive lock on the database for the process's life, and
// every write to the bakes table goes through BakeStore, whose writing
// methods call forget once they are done. A read that began before a
// write finished is not kept: entries are stored only if no forget ran
// since the read began (gen). The PostgreSQL store has no such cache:
// other nodes write to its database.
type headCache struct {
	mu    sync.Mutex
	gen   uint64
	byKey map[string]*headEntry
}

// headEntry is the newest-first prefix of the bakes with a key that a
// caller read, and whether it reached the last of them.
type headEntry struct {
	heads    []bakehouse.BakeRecord
	complete bool
}

// get returns the entry for key (nil: none) and the generation a read
// that misses must present to put.
func (c *headCache) get(key string) (*headEntry, uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.byKey[key], c.gen
}

// put stores e for key if nothing was written since generation gen.
func (c *headCache) put(key string, gen uint64, e *headEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if c.byKey == nil || len(c.byKey) >= headCacheKeys {
		c.byKey = make(map[string]*headEntry)
	}
	c.byKey[key] = e
}

// forget drops every entry: a write to the bakes table happened.
func (c *headCache) forget() {
	c.mu.Lock()
	c.gen++
	clear(c.byKey)
	c.mu.Unlock()
}
