package http_test

import (
	"encoding/json"
	"fmt"
	"mime"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/bakehouse/bakehouse"
)

// TestConformanceAPI runs every case of testdata/conformance/api.json (a
// copy of shared/conformance/api.json, Rosco's HTTP behaviour as data;
// keep it in step) against the real handler and bakery service, on each
// store: SQLite, and PostgreSQL (skipped when it is not installed, unless
// BAKEHOUSE_INTEGRATION=1). Preconditions are set up through the store and the bakery's log
// store; only Packer and the Docker engine are faked.
//
// Rosco's controller tests use cloud_provider_type "gce". Bakehouse bakes
// only for aws and docker, so those requests are sent as "docker" with
// the same shape: "gce" becomes "docker" in the request, the
// preconditions and the expected bodies ("bake:gce:ubuntu:kato" becomes
// the real key "bake:docker:ubuntu:kato"), except in the cases that are
// about gce being unknown (keepGCE).
func TestConformanceAPI(t *testing.T) {
	for _, store := range stores {
		t.Run(store, func(t *testing.T) { testConformanceAPI(t, store) })
	}
}

func testConformanceAPI(t *testing.T, store string) {
	cases := loadAPICases(t)
	tests := apiTests()
	var passed, failed []string
	var skipped []string
	notRun := 0
	seen := map[string]bool{}
	for _, c := range cases {
		if seen[c.ID] {
			t.Errorf("duplicate case id %s", c.ID)
		}
		seen[c.ID] = true
		a := &apiTest{c: c, store: store}
		ran := false
		ok := t.Run(c.ID, func(t *testing.T) {
			a.T, ran = t, true
			f := tests[c.ID]
			if f == nil {
				t.Fatalf("no test for case %s: add one to apiTests", c.ID)
			}
			f(a)
		})
		switch {
		case !ran:
			notRun++
		case !ok:
			failed = append(failed, c.ID)
		case a.skipReason != "":
			skipped = append(skipped, c.ID+" ("+a.skipReason+")")
		default:
			passed = append(passed, c.ID)
		}
	}
	for id := range tests {
		if !seen[id] {
			t.Errorf("apiTests has %s, which is not a case of api.json", id)
		}
	}
	msg := fmt.Sprintf("conformance api.json on %s: passed %d/%d (skipped %d: %s)", store, len(passed), len(cases), len(skipped), orNone(skipped))
	if len(failed) > 0 {
		msg += fmt.Sprintf("; failed %d: %s", len(failed), strings.Join(failed, ", "))
	}
	if notRun > 0 {
		msg += fmt.Sprintf("; %d not run (-run filter)", notRun)
	}
	t.Log(msg)
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, "; ")
}

// apiCase is one case of api.json; the schema is in
// shared/conformance/README.md, section api.json.
type apiCase struct {
	ID            string                     `json:"id"`
	Request       apiRequest                 `json:"request"`
	Preconditions map[string]json.RawMessage `json:"preconditions"`
	Expected      apiExpected                `json:"expected"`
	Effects       map[string]json.RawMessage `json:"effects"`
}

type apiRequest struct {
	Method string            `json:"method"`
	Path   string            `json:"path"`
	Query  map[string]string `json:"query"`
	Body   json.RawMessage   `json:"body"`
}

type apiExpected struct {
	Status      int             `json:"status"`
	Body        json.RawMessage `json:"body"`
	BodySubset  json.RawMessage `json:"body_subset"`
	BodyText    *string         `json:"body_text"`
	BodyLacks   []string        `json:"body_lacks"`
	BodyAlsoHas []string        `json:"body_also_has"`
	ContentType string          `json:"content_type"`
}

// keepGCE are the cases whose point is a provider Bakehouse does not
// have, so "gce" stays (create-unknown-provider), or whose preconditions
// would register the very provider the request asks for if gce were
// mapped to docker (bake-options-provider-not-registered).
var keepGCE = map[string]bool{"create-unknown-provider": true, "bake-options-provider-not-registered": true}

func loadAPICases(t *testing.T) []apiCase {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "conformance", "api.json"))
	if err != nil {
		t.Fatalf("read api.json: %v", err)
	}
	var file struct {
		Cases []map[string]any `json:"cases"`
	}
	if err := json.Unmarshal(data, &file); err != nil {
		t.Fatalf("decode api.json: %v", err)
	}
	var out []apiCase
	for _, raw := range file.Cases {
		id, _ := raw["id"].(string)
		if !keepGCE[id] {
			for _, k := range []string{"request", "preconditions", "expected", "effects"} {
				if x, ok := raw[k]; ok {
					raw[k] = mapGCE(x)
				}
			}
		}
		b, err := json.Marshal(raw)
		if err != nil {
			t.Fatal(err)
		}
		var c apiCase
		if err := json.Unmarshal(b, &c); err != nil {
			t.Fatalf("decode case %s: %v", id, err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		t.Fatal("api.json has no cases")
	}
	return out
}

// mapGCE rewrites Rosco's gce provider as docker (see TestConformanceAPI).
func mapGCE(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			if k == "gce" {
				k = "docker"
			}
			out[k] = mapGCE(e)
		}
		return out
	case []any:
		for i := range x {
			x[i] = mapGCE(x[i])
		}
		return x
	case string:
		if x == "gce" {
			return "docker"
		}
		return strings.NewReplacer("bake:gce:", "bake:docker:", "/bakeOptions/gce/", "/bakeOptions/docker/",
			" in gce base images", " in docker base images").Replace(x)
	}
	return v
}

// apiTest is one running case.
type apiTest struct {
	*testing.T
	c          apiCase
	store      string // "sqlite" or "postgres"
	skipReason string
}

// env is newEnv on the case's store.
func (a *apiTest) env(t testing.TB, opts ...envOption) *env {
	t.Helper()
	return newEnv(t, append([]envOption{onStore(a.store)}, opts...)...)
}

// skip skips the case with a reason for the summary line.
func (a *apiTest) skip(reason string) {
	a.Helper()
	a.skipReason = reason
	a.Skip(reason)
}

// pre decodes precondition name into v; false when absent.
func (a *apiTest) pre(name string, v any) bool {
	a.Helper()
	raw, ok := a.c.Preconditions[name]
	if !ok {
		return false
	}
	if err := json.Unmarshal(raw, v); err != nil {
		a.Fatalf("precondition %s: %v", name, err)
	}
	return true
}

// effect decodes effect name into v; false when absent.
func (a *apiTest) effect(name string, v any) bool {
	a.Helper()
	raw, ok := a.c.Effects[name]
	if !ok {
		return false
	}
	if err := json.Unmarshal(raw, v); err != nil {
		a.Fatalf("effect %s: %v", name, err)
	}
	return true
}

// region is the {region} segment of the case's path.
func (a *apiTest) region() string {
	parts := strings.Split(a.c.Request.Path, "/")
	if len(parts) < 4 || parts[1] != "api" {
		a.Fatalf("path %s has no region", a.c.Request.Path)
	}
	return parts[3]
}

// bakeRequest is the case's request body as a BakeRequest.
func (a *apiTest) bakeRequest() bakehouse.BakeRequest {
	a.Helper()
	var req bakehouse.BakeRequest
	if err := json.Unmarshal(a.c.Request.Body, &req); err != nil {
		a.Fatalf("request body: %v", err)
	}
	return req
}

// send sends the case's request.
func (a *apiTest) send(e *env) *response {
	a.Helper()
	r := a.c.Request
	var body []byte
	if len(r.Body) > 0 {
		body = r.Body
	}
	return e.do(r.Method, r.Path, r.Query, body)
}

// Bakehouse's documented additions to Rosco's bodies, allowed beside the
// fields of an exact `body` comparison (Orca ignores unknown fields):
var (
	// GET /api/v1/{region}/bake/{id}: http.bakeDetails.
	detailsExtras = []string{"bake_key", "reason", "phases", "appversion"}
	// GET /status/instance: the queue's view (http.Server.instanceStatus).
	instanceExtras = []string{"queued", "running", "concurrency"}
)

// Error bodies are kork's {timestamp, status, error, exception, message}
// plus Bakehouse's "field"; api.json checks them with body_subset and
// body_also_has, so the extra needs no allowance.

// check compares res with the case's expectation.
func (a *apiTest) check(res *response, extras ...string) {
	a.Helper()
	checkExpected(a.T, a.c.Expected, res, extras...)
}

func checkExpected(t *testing.T, exp apiExpected, res *response, extras ...string) {
	t.Helper()
	if res.status != exp.Status {
		t.Errorf("status = %d, want %d; body: %s", res.status, exp.Status, res.body)
	}
	if exp.ContentType != "" {
		if got := mediaType(res); got != exp.ContentType {
			t.Errorf("content type = %q, want %q", got, exp.ContentType)
		}
	}
	if exp.BodyText != nil {
		if got := mediaType(res); got != "text/plain" {
			t.Errorf("content type of a text body = %q, want text/plain", got)
		}
		if string(res.body) != *exp.BodyText {
			t.Errorf("body = %q, want %q", res.body, *exp.BodyText)
		}
		return
	}
	if len(exp.Body) == 0 && len(exp.BodySubset) == 0 && exp.BodyLacks == nil && exp.BodyAlsoHas == nil {
		return
	}
	if got := mediaType(res); got != "application/json" {
		t.Errorf("content type = %q, want application/json", got)
	}
	var got any
	if err := json.Unmarshal(res.body, &got); err != nil {
		t.Fatalf("body is not JSON: %v\n%s", err, res.body)
	}
	if len(exp.Body) > 0 {
		want := decodeJSON(t, exp.Body)
		if d := diffExact(got, want, extras); d != "" {
			t.Errorf("body differs: %s\n got: %s\nwant: %s", d, res.body, exp.Body)
		}
	}
	if len(exp.BodySubset) > 0 {
		for _, d := range diffSubset("body", got, decodeJSON(t, exp.BodySubset)) {
			t.Errorf("%s\n got: %s", d, res.body)
		}
	}
	m, _ := got.(map[string]any)
	for _, k := range exp.BodyLacks {
		if _, ok := m[k]; ok {
			t.Errorf("body has %q, want it absent: %s", k, res.body)
		}
	}
	for _, k := range exp.BodyAlsoHas {
		if _, ok := m[k]; !ok {
			t.Errorf("body lacks %q: %s", k, res.body)
		}
	}
}

func mediaType(res *response) string {
	mt, _, err := mime.ParseMediaType(res.header.Get("Content-Type"))
	if err != nil {
		return res.header.Get("Content-Type")
	}
	return mt
}

func decodeJSON(t *testing.T, raw []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
	return v
}

// diffExact compares two JSON values exactly, except that top-level keys
// in extras may be present in got and not in want.
func diffExact(got, want any, extras []string) string {
	if gm, ok := got.(map[string]any); ok && len(extras) > 0 {
		wm, _ := want.(map[string]any)
		trimmed := make(map[string]any, len(gm))
		for k, v := range gm {
			if _, inWant := wm[k]; !inWant && slices.Contains(extras, k) {
				continue
			}
			trimmed[k] = v
		}
		got = trimmed
	}
	if reflect.DeepEqual(got, want) {
		return ""
	}
	d := append(diffSubset("body", got, want), extraFields("body", got, want)...)
	if len(d) == 0 {
		return "values differ"
	}
	return strings.Join(d, "; ")
}

// extraFields lists the fields of got that want lacks, at any depth.
func extraFields(path string, got, want any) []string {
	var out []string
	switch w := want.(type) {
	case map[string]any:
		g, _ := got.(map[string]any)
		keys := make([]string, 0, len(g))
		for k := range g {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			wv, ok := w[k]
			if !ok {
				out = append(out, fmt.Sprintf("%s.%s = %s is not expected", path, k, jsonText(g[k])))
				continue
			}
			out = append(out, extraFields(path+"."+k, g[k], wv)...)
		}
	case []any:
		g, _ := got.([]any)
		for i := range min(len(g), len(w)) {
			out = append(out, extraFields(fmt.Sprintf("%s[%d]", path, i), g[i], w[i])...)
		}
	}
	return out
}

// diffSubset checks that got has every field of want with the same value;
// nested objects likewise, lists element by element with equal length.
func diffSubset(path string, got, want any) []string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s = %s, want an object", path, jsonText(got))}
		}
		var out []string
		keys := make([]string, 0, len(w))
		for k := range w {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			gv, ok := g[k]
			if !ok {
				out = append(out, fmt.Sprintf("%s.%s is missing, want %s", path, k, jsonText(w[k])))
				continue
			}
			out = append(out, diffSubset(path+"."+k, gv, w[k])...)
		}
		return out
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return []string{fmt.Sprintf("%s = %s, want %s", path, jsonText(got), jsonText(want))}
		}
		var out []string
		for i := range w {
			out = append(out, diffSubset(fmt.Sprintf("%s[%d]", path, i), g[i], w[i])...)
		}
		return out
	}
	if !reflect.DeepEqual(got, want) {
		return []string{fmt.Sprintf("%s = %s, want %s", path, jsonText(got), jsonText(want))}
	}
	return nil
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// counterName matches an effects.counter key: bakesRequested{flavor=plain}.
var counterName = regexp.MustCompile(`^bakesRequested\{flavor=(\w+)\}$`)

// checkCounters checks effects.counter against Bakehouse's
// bakehouse_bakes_requested_total{flavor}.
func (a *apiTest) checkCounters(e *env) {
	a.Helper()
	var counters map[string]float64
	if !a.effect("counter", &counters) {
		return
	}
	for name, want := range counters {
		m := counterName.FindStringSubmatch(name)
		if m == nil {
			a.Fatalf("unknown counter %s", name)
		}
		if got := e.requested(m[1]); got != want {
			a.Errorf("bakes requested (flavor %s) = %v, want %v", m[1], got, want)
		}
	}
}
