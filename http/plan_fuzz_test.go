package http_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzPlanRequest sends bodies to POST /api/v1/{region}/bake/plan through
// the server's handler, so the body goes through the decoder and the
// checks production runs. Seeds are the request bodies of the conformance
// cases (api.json here, bake-keys.json and packer-commands.json at the
// root). Whatever the body, the answer is a plan (200) or a 400 whose
// kork body names the field at fault: never a 5xx or a panic.
func FuzzPlanRequest(f *testing.F) {
	for _, s := range seedBodies(f) {
		f.Add(s)
	}
	e := newEnv(f)
	h := e.srv.Config.Handler
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest("POST", "/api/v1/us-east-1/bake/plan", strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		var got struct {
			BakeKey string `json:"bake_key"`
			Field   string `json:"field"`
			Message string `json:"message"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
			t.Fatalf("body %q: %d with a body that is not JSON: %q", body, rec.Code, rec.Body)
		}
		switch {
		case rec.Code == http.StatusOK && strings.HasPrefix(got.BakeKey, "bake:"):
		case rec.Code == http.StatusBadRequest && got.Field != "" && got.Message != "":
		default:
			t.Fatalf("body %q: %d %s; want a plan or a 400 naming the field", body, rec.Code, rec.Body)
		}
	})
}

// seedBodies returns the bake request bodies of the conformance files,
// with Rosco's gce provider mapped to docker as TestConformanceAPI does.
func seedBodies(tb testing.TB) [][]byte {
	tb.Helper()
	var out [][]byte
	read := func(path string, v any) {
		data, err := os.ReadFile(path)
		if err != nil {
			tb.Fatal(err)
		}
		if err := json.Unmarshal(data, v); err != nil {
			tb.Fatalf("decode %s: %v", path, err)
		}
	}
	var api struct {
		Cases []struct {
			Request struct {
				Path string `json:"path"`
				Body any    `json:"body"`
			} `json:"request"`
		} `json:"cases"`
	}
	read(filepath.Join("testdata", "conformance", "api.json"), &api)
	for _, c := range api.Cases {
		if strings.HasSuffix(c.Request.Path, "/bake") && c.Request.Body != nil {
			b, _ := json.Marshal(mapGCE(c.Request.Body))
			out = append(out, b)
		}
	}
	for _, file := range []string{"bake-keys.json", "packer-commands.json"} {
		var f struct {
			Cases []struct {
				Request         json.RawMessage   `json:"request"`
				SameKeyRequests []json.RawMessage `json:"same_key_requests"`
			} `json:"cases"`
		}
		read(filepath.Join("..", "testdata", "conformance", file), &f)
		for _, c := range f.Cases {
			for _, r := range append([]json.RawMessage{c.Request}, c.SameKeyRequests...) {
				if len(r) > 0 {
					out = append(out, r)
				}
			}
		}
	}
	if len(out) == 0 {
		tb.Fatal("no seed bodies")
	}
	return out
}
