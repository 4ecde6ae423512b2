package bakehouse

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// The conformance files are copied verbatim from shared/conformance into
// testdata/conformance so the tests run on a fresh clone; keep them in
// step with the shared copies.

// loadConformance decodes testdata/conformance/<file> into v.
func loadConformance(t testing.TB, file string, v any) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "conformance", file))
	if err != nil {
		t.Fatalf("read conformance file: %v", err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("decode %s: %v", file, err)
	}
}

// conformance counts the cases of one file and reports
// "conformance <file>: passed N/M". A case of a kind no test knows fails:
// a new kind in the data must get a test, not vanish from the count.
type conformance struct {
	file          string
	total, passed int
}

func newConformance(file string) *conformance {
	return &conformance{file: file}
}

// run runs one case as a subtest and counts it.
func (c *conformance) run(t *testing.T, id string, f func(t *testing.T)) {
	t.Helper()
	c.total++
	if t.Run(id, f) {
		c.passed++
	}
}

func (c *conformance) report(t *testing.T) {
	t.Helper()
	t.Logf("conformance %s: passed %d/%d", c.file, c.passed, c.total)
}

// conformanceConfig builds a Config from the cases' config form:
// {"base": "<name in configs>", "<rosco.yml property>": value, ...}. The
// base's properties are applied first, then the others; within each, a
// shorter property path goes first so that "aws.bakeryDefaults.awsVpcId"
// refines "aws.bakeryDefaults". Unknown property names fail the test, which
// also checks that the Go field names follow rosco.yml's.
func conformanceConfig(t *testing.T, configs map[string]map[string]any, form map[string]any) Config {
	t.Helper()
	tree := map[string]any{}
	if base, ok := form["base"].(string); ok {
		props, ok := configs[base]
		if !ok {
			t.Fatalf("unknown base config %q", base)
		}
		applyProperties(tree, props)
	}
	overrides := map[string]any{}
	for k, v := range form {
		if k != "base" {
			overrides[k] = v
		}
	}
	applyProperties(tree, overrides)

	data, err := json.Marshal(tree)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var cfg Config
	if err := dec.Decode(&cfg); err != nil {
		t.Fatalf("config %s: %v", data, err)
	}
	return cfg
}

func applyProperties(tree map[string]any, props map[string]any) {
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		di, dj := strings.Count(keys[i], "."), strings.Count(keys[j], ".")
		if di != dj {
			return di < dj
		}
		return keys[i] < keys[j]
	})
	for _, k := range keys {
		path := strings.Split(k, ".")
		node := tree
		for _, p := range path[:len(path)-1] {
			next, ok := node[p].(map[string]any)
			if !ok {
				next = map[string]any{}
				node[p] = next
			}
			node = next
		}
		node[path[len(path)-1]] = deepCopy(props[k])
	}
}

// deepCopy copies decoded JSON so that overrides never modify the shared
// base configs.
func deepCopy(v any) any {
	switch v := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, e := range v {
			m[k] = deepCopy(e)
		}
		return m
	case []any:
		s := make([]any, len(v))
		for i, e := range v {
			s[i] = deepCopy(e)
		}
		return s
	}
	return v
}

// decodeRequest decodes a case's request in Rosco's wire format.
func decodeRequest(t *testing.T, raw json.RawMessage) BakeRequest {
	t.Helper()
	var req BakeRequest
	if len(raw) == 0 {
		return req
	}
	if err := json.Unmarshal(raw, &req); err != nil {
		t.Fatalf("decode request: %v", err)
	}
	return req
}

// str maps a JSON null (nil pointer) to "", Go's absent string.
func str(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// clock turns a case's clock_millis into the injected time.
func clock(millis int64) time.Time { return time.UnixMilli(millis) }

// asError is errors.As for *Error.
func asError(err error, e **Error) bool { return errors.As(err, e) }
