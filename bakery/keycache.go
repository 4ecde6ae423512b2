package bakery

import (
	"context"
	"encoding/json"
	"sync"

	"github.com/bakehouse/bakehouse"
)

// keyCacheSize bounds each of the key cache's two generations.
const keyCacheSize = 512

// keyCache remembers the bake key of recent requests, so that a request
// repeated while its bake runs or after it succeeded is answered by a
// reuse without resolving the request, building its recipe and hashing
// its key again (most of a reuse's cost besides the store read).
//
// A key is a function of the request, the config (fixed for the process)
// and the inputs read from outside while keying it: the package versions
// the repository resolved, the template and var file contents, the docker
// base image's id, AWS image searches. An entry keeps the values it was
// computed from and is used only while re-reading them gives the same
// values (a repository index lookup, a stat per file, the base image id
// from its TTL cache: what prepare reads itself, so a hit sees an upload,
// an edited template or a rebuilt base image exactly when a fresh key
// would). Requests whose resolution searched AWS for an image are never
// cached: that search is as fresh as each request makes it.
//
// It is bounded by two generations of keyCacheSize entries: when the
// current one is full it becomes the old one and the older is dropped; a
// hit in the old generation moves the entry back to the current one.
type keyCache struct {
	mu       sync.Mutex
	cur, old map[string]*keyEntry
}

// keyEntry is a request's bake key with the outside inputs it depends on.
type keyEntry struct {
	key    string
	inputs keyInputs
}

// keyInputs are what prepare read from outside the request and config.
type keyInputs struct {
	// packages are the repository's answers to the package lookups
	// Resolve made, in order.
	packages []packageLookup
	// template and varFile are the files hashed into the key, with the
	// digests they had ("" varFile: none).
	template, templateDigest string
	varFile, varFileDigest   string
	// sourceImage is the docker base image reference whose engine id
	// (baseImageID) is in the key; "" for other providers.
	sourceImage, baseImageID string
	// searchedAWS is set when Resolve searched AWS for a source image:
	// such a key is not cached.
	searchedAWS bool
}

type packageLookup struct {
	name, version, arch string
	ok                  bool
}

func newKeyCache() *keyCache {
	return &keyCache{cur: map[string]*keyEntry{}, old: map[string]*keyEntry{}}
}

func (c *keyCache) get(k []byte) *keyEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.cur[string(k)]; e != nil {
		return e
	}
	e := c.old[string(k)]
	if e != nil {
		delete(c.old, string(k))
		c.add(string(k), e)
	}
	return e
}

func (c *keyCache) put(k []byte, e *keyEntry) {
	c.mu.Lock()
	c.add(string(k), e)
	c.mu.Unlock()
}

func (c *keyCache) add(k string, e *keyEntry) {
	if _, ok := c.cur[k]; !ok && len(c.cur) >= keyCacheSize {
		c.old, c.cur = c.cur, make(map[string]*keyEntry, keyCacheSize)
	}
	c.cur[k] = e
}

// requestCacheKey is the key cache's key for a request: its region and
// its canonical JSON (struct fields in order, map keys sorted). The
// request id, the user and the pipeline execution are left out: they name
// the new bake and who asked, and no key reads them (TestCacheKeyIgnores
// checks that).
func requestCacheKey(region string, req bakehouse.BakeRequest) ([]byte, error) {
	req.RequestID, req.User, req.SpinnakerExecutionID = "", "", ""
	b, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	return append(append(b, 0), region...), nil
}

// current reports whether the outside inputs of e still read the same.
func (s *Service) current(ctx context.Context, in *keyInputs) bool {
	for _, p := range in.packages {
		if s.repo == nil {
			return false
		}
		v, arch, ok := s.repo.Resolve(p.name)
		if v != p.version || arch != p.arch || ok != p.ok {
			return false
		}
	}
	if d, err := s.digests.digest(in.template); err != nil || d != in.templateDigest {
		return false
	}
	if in.varFile != "" {
		if d, err := s.digests.digest(in.varFile); err != nil || d != in.varFileDigest {
			return false
		}
	}
	if in.sourceImage != "" {
		if id, err := s.dockerBaseImageID(ctx, in.sourceImage); err != nil || id != in.baseImageID {
			return false
		}
	}
	return true
}

// cachedKey returns the bake key of a request keyed before, if every
// input it was computed from still reads the same; ck is the cache key
// to store the request's key under once it is computed (nil: the request
// cannot be cached).
func (s *Service) cachedKey(ctx context.Context, region string, req bakehouse.BakeRequest) (key string, ck []byte) {
	ck, err := requestCacheKey(region, req)
	if err != nil {
		return "", nil
	}
	e := s.keys.get(ck)
	switch {
	case e == nil:
		s.metrics.keyCacheMiss.Inc()
		return "", ck
	case !s.current(ctx, &e.inputs):
		s.metrics.keyCacheStale.Inc()
		return "", ck
	}
	s.metrics.keyCacheHit.Inc()
	return e.key, ck
}

// rememberKey stores the key prepare computed for the request under ck.
func (s *Service) rememberKey(ck []byte, p *planned) {
	if ck == nil || p.inputs.searchedAWS {
		return
	}
	s.keys.put(ck, &keyEntry{key: p.plan.BakeKey, inputs: p.inputs})
}
