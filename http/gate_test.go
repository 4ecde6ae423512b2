package http_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bhttp "github.com/bakehouse/bakehouse/http"
	"github.com/bakehouse/bakehouse/pipeline"
	"github.com/bakehouse/bakehouse/runner"
	"github.com/bakehouse/bakehouse/sqlite"
)

// gate is a server with pipelines enabled, spoken to as spin speaks to
// Gate.
type gate struct {
	t   *testing.T
	srv *httptest.Server
	p   pipeline.Service
}

func newGate(t *testing.T, a bhttp.Auth) *gate {
	t.Helper()
	e := newEnv(t)
	p := newPipelines(t)
	s := bhttp.NewServer(e.svc, nil, nil, nil)
	s.SetAuth(a)
	s.SetPipelines(p)
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return &gate{t: t, srv: srv, p: p}
}

// newPipelines is the pipeline service serve runs: the runner over the
// SQLite store.
func newPipelines(t *testing.T) *runner.Runner {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "pipelines.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	r := runner.New(runner.Config{Store: sqlite.NewPipelineStore(db), Tasks: &runner.Tasks{Poll: 20 * time.Millisecond}})
	t.Cleanup(r.Stop)
	return r
}

// call sends one request; body "" sends none. header is name, value
// pairs.
func (g *gate) call(method, path, body string, header ...string) (int, []byte) {
	g.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, g.srv.URL+path, rd)
	if err != nil {
		g.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := g.srv.Client().Do(req)
	if err != nil {
		g.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		g.t.Fatal(err)
	}
	return res.StatusCode, b
}

// must sends a request that must answer want, and decodes its body into
// out (when not nil).
func (g *gate) must(want int, method, path, body string, out any) []byte {
	g.t.Helper()
	got, b := g.call(method, path, body)
	if got != want {
		g.t.Fatalf("%s %s: status %d, want %d: %s", method, path, got, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			g.t.Fatalf("%s %s: body is not the JSON expected (%v): %s", method, path, err, b)
		}
	}
	return b
}

// save does what `spin pipeline save --file` does: GET the config by
// application and name (404: new), copy its id into the body, POST it.
// It returns the id the server answers.
func (g *gate) save(cfg map[string]any) string {
	g.t.Helper()
	app, name := cfg["application"].(string), cfg["name"].(string)
	status, b := g.call("GET", "/applications/"+app+"/pipelineConfigs/"+name, "")
	switch status {
	case http.StatusOK:
		var old map[string]any
		if err := json.Unmarshal(b, &old); err != nil {
			g.t.Fatalf("existing config: %v: %s", err, b)
		}
		cfg["id"] = old["id"]
	case http.StatusNotFound:
	default:
		g.t.Fatalf("spin's save GET: status %d (spin takes only 200 or 404): %s", status, b)
	}
	body, _ := json.Marshal(cfg)
	var saved map[string]any
	g.must(http.StatusOK, "POST", "/pipelines", string(body), &saved) // spin: exactly 200
	id, _ := saved["id"].(string)
	if id == "" {
		g.t.Fatalf("saved config has no id: %v", saved)
	}
	return id
}

// start does `spin pipeline execute` and returns the execution id from
// the 202's ref.
func (g *gate) start(app, name, trigger string) string {
	g.t.Helper()
	var ref struct{ Ref string }
	g.must(http.StatusAccepted, "POST", "/pipelines/"+app+"/"+name, trigger, &ref) // spin: exactly 202
	id, ok := strings.CutPrefix(ref.Ref, "/pipelines/")
	if !ok || id == "" {
		g.t.Fatalf("ref = %q, want /pipelines/<executionId>", ref.Ref)
	}
	return id
}

// bakePipeline is a pipeline as Deck exports it, with fields Bakehouse
// does not read, which must come back unchanged. Its wait stage keeps a
// run RUNNING until it is cancelled; the deploy stage after it is not run
// by Bakehouse.
func bakePipeline() map[string]any {
	var m map[string]any
	err := json.Unmarshal([]byte(`{
	  "application": "armory", "name": "Bake hello",
	  "keepWaitingPipelines": false, "limitConcurrent": true,
	  "notifications": [{"type": "slack", "address": "#bakes", "when": ["pipeline.failed"]}],
	  "parameterConfig": [{"name": "env", "default": "dev"}],
	  "triggers": [],
	  "stages": [
	    {"refId": "1", "requisiteStageRefIds": [], "type": "wait", "name": "Wait", "waitTime": 600},
	    {"refId": "2", "requisiteStageRefIds": ["1"], "type": "deploy", "name": "Deploy",
	     "clusters": [{"account": "prod", "availabilityZones": {"us-west-2": ["us-west-2a"]}}],
	     "customField": {"nested": [1, 2.5, "x"]}}
	  ],
	  "updateTs": "1700000000000"
	}`), &m)
	if err != nil {
		panic(err)
	}
	return m
}

// TestGateSaveTwiceUpdates speaks spin's save twice: the first creates
// (its GET is a 404), the second finds the config, copies its id and
// updates it; one config remains, with every unknown field as sent.
func TestGateSaveTwiceUpdates(t *testing.T) {
	g := newGate(t, bhttp.Auth{})
	cfg := bakePipeline()
	id := g.save(cfg)
	cfg = bakePipeline()
	cfg["description"] = "second save"
	if id2 := g.save(cfg); id2 != id {
		t.Fatalf("second save id %q, want the first's %q", id2, id)
	}
	var list []map[string]any
	g.must(http.StatusOK, "GET", "/applications/armory/pipelineConfigs", "", &list)
	if len(list) != 1 || list[0]["id"] != id || list[0]["description"] != "second save" {
		t.Fatalf("configs after two saves: %v", list)
	}
	var got map[string]any
	g.must(http.StatusOK, "GET", "/applications/armory/pipelineConfigs/Bake%20hello", "", &got)
	want := bakePipeline()
	for _, k := range []string{"notifications", "parameterConfig", "stages", "updateTs", "limitConcurrent"} {
		if !jsonEqual(got[k], want[k]) {
			t.Errorf("%s came back as %s, want %s", k, jsonText(got[k]), jsonText(want[k]))
		}
	}
	// Saving without the id, with the same application and name, updates
	// too (Gate's rule for an export re-imported).
	cfg = bakePipeline()
	cfg["description"] = "third"
	body, _ := json.Marshal(cfg)
	var saved map[string]any
	g.must(http.StatusOK, "POST", "/pipelines", string(body), &saved)
	if saved["id"] != id {
		t.Fatalf("save by application+name: id %v, want %s", saved["id"], id)
	}
}

func jsonEqual(a, b any) bool { return jsonText(a) == jsonText(b) }

// TestGateSaveInvalid: a config the server cannot store is a 400 naming
// the field, never a 5xx.
func TestGateSaveInvalid(t *testing.T) {
	g := newGate(t, bhttp.Auth{})
	for _, c := range []struct{ body, field string }{
		{`{"name": "x", "stages": []}`, "application"},
		{`{"application": "armory"}`, "name"},
		{`{"application": "armory", "name": 7}`, "name"},
		{`{"application": " ", "name": "x"}`, "application"},
		{`{"application": "armory", "name": "x", "id": 5}`, "id"},
		{`[1, 2]`, "body"},
		{`{"application": `, "body"},
		{``, "body"},
	} {
		status, b := g.call("POST", "/pipelines", c.body)
		var e struct{ Field, Message string }
		json.Unmarshal(b, &e)
		if status != http.StatusBadRequest || e.Field != c.field || e.Message == "" {
			t.Errorf("POST /pipelines %s: status %d field %q, want 400 naming %q: %s", c.body, status, e.Field, c.field, b)
		}
	}
	var list []any
	g.must(http.StatusOK, "GET", "/applications/armory/pipelineConfigs", "", &list)
	if len(list) != 0 {
		t.Fatalf("a refused config was stored: %v", list)
	}
}

// TestGateApplications: the application list and an application are
// Gate's shapes; an application without pipelines is a 404; the config
// list is always an array.
func TestGateApplications(t *testing.T) {
	g := newGate(t, bhttp.Auth{})
	var empty []map[string]any
	if b := g.must(http.StatusOK, "GET", "/applications", "", &empty); strings.TrimSpace(string(b)) != "[]" {
		t.Fatalf("no applications: %s, want []", b)
	}
	if b := g.must(http.StatusOK, "GET", "/applications/armory/pipelineConfigs", "", nil); strings.TrimSpace(string(b)) != "[]" {
		t.Fatalf("configs of an unknown application: %s, want []", b)
	}
	g.must(http.StatusNotFound, "GET", "/applications/armory", "", nil)
	g.must(http.StatusNotFound, "GET", "/applications/armory/pipelineConfigs/Bake%20hello", "", nil)

	g.save(bakePipeline())
	other := bakePipeline()
	other["application"] = "zoo"
	g.save(other)
	var apps []map[string]any
	g.must(http.StatusOK, "GET", "/applications", "", &apps)
	if len(apps) != 2 || apps[0]["name"] != "armory" || apps[1]["name"] != "zoo" {
		t.Fatalf("applications = %v, want [{name: armory}, {name: zoo}]", apps)
	}
	var app map[string]any
	g.must(http.StatusOK, "GET", "/applications/armory", "", &app)
	if app["name"] != "armory" {
		t.Fatalf("application = %v", app)
	}
	var cfg map[string]any
	g.must(http.StatusOK, "GET", "/applications/armory/pipelineConfigs/Bake%20hello", "", &cfg)
	if cfg["name"] != "Bake hello" || cfg["application"] != "armory" {
		t.Fatalf("config = %v", cfg)
	}
}

// TestGateStart: execute answers exactly 202 with Gate's ref; the body is
// the trigger as spin sends it; no body is a manual run; the pipeline's id
// stands for its name as in Gate; an unknown pipeline is a 404.
func TestGateStart(t *testing.T) {
	g := newGate(t, bhttp.Auth{})
	cfgID := g.save(bakePipeline())
	id := g.start("armory", "Bake%20hello", `{"type": "manual", "parameters": {"env": "prod"}, "artifacts": []}`)
	var ex map[string]any
	g.must(http.StatusOK, "GET", "/pipelines/"+id, "", &ex)
	trig, _ := ex["trigger"].(map[string]any)
	if ex["id"] != id || ex["application"] != "armory" || ex["name"] != "Bake hello" || ex["pipelineConfigId"] != cfgID {
		t.Fatalf("execution = %v", ex)
	}
	if params, _ := trig["parameters"].(map[string]any); trig["type"] != "manual" || params["env"] != "prod" {
		t.Fatalf("trigger = %v, want spin's with parameters.env = prod", trig)
	}
	for _, k := range []string{"type", "status", "buildTime", "startTime", "endTime", "trigger", "stages"} {
		if _, ok := ex[k]; !ok {
			t.Errorf("execution has no %q: %v", k, ex)
		}
	}

	id2 := g.start("armory", "Bake%20hello", "")
	g.must(http.StatusOK, "GET", "/pipelines/"+id2, "", &ex)
	if trig, _ := ex["trigger"].(map[string]any); trig["type"] != "manual" {
		t.Fatalf("trigger of a run without a body = %v, want type manual", ex["trigger"])
	}
	if id2 == id {
		t.Fatal("two runs got one id")
	}
	g.start("armory", cfgID, `{"type": "manual"}`)

	g.must(http.StatusNotFound, "POST", "/pipelines/armory/nope", `{"type": "manual"}`, nil)
	g.must(http.StatusNotFound, "GET", "/pipelines/no-such-execution", "", nil)
	if status, b := g.call("POST", "/pipelines/armory/Bake%20hello", `{"type": `); status != http.StatusBadRequest {
		t.Fatalf("a trigger that is not JSON: status %d, want 400: %s", status, b)
	}
}

// TestGateExecutions speaks spin's execution get and list: the ids and
// statuses are comma-separated lists, the answer always an array, newest
// first.
func TestGateExecutions(t *testing.T) {
	g := newGate(t, bhttp.Auth{})
	cfgID := g.save(bakePipeline())
	first := g.start("armory", "Bake%20hello", "")
	second := g.start("armory", "Bake%20hello", "")

	var got []map[string]any
	g.must(http.StatusOK, "GET", "/executions?executionIds="+first+"&limit=1", "", &got)
	if len(got) != 1 || got[0]["id"] != first {
		t.Fatalf("spin's execution get: %v, want [%s]", ids(got), first)
	}
	g.must(http.StatusOK, "GET", "/executions?executionIds="+first+","+second, "", &got)
	if len(got) != 2 {
		t.Fatalf("two executionIds: %v", ids(got))
	}
	g.must(http.StatusOK, "GET", "/executions?pipelineConfigIds="+cfgID, "", &got)
	if len(got) != 2 || got[0]["id"] != second || got[1]["id"] != first {
		t.Fatalf("by pipeline config: %v, want newest first [%s %s]", ids(got), second, first)
	}
	g.must(http.StatusOK, "GET", "/executions?pipelineConfigIds="+cfgID+"&limit=1", "", &got)
	if len(got) != 1 || got[0]["id"] != second {
		t.Fatalf("limit=1: %v, want [%s]", ids(got), second)
	}
	// spin's --succeeded: none has.
	if b := g.must(http.StatusOK, "GET", "/executions?pipelineConfigIds="+cfgID+"&statuses=SUCCEEDED,STOPPED,SKIPPED", "", &got); len(got) != 0 || strings.TrimSpace(string(b)) != "[]" {
		t.Fatalf("statuses SUCCEEDED,STOPPED,SKIPPED: %s, want []", b)
	}
	g.must(http.StatusOK, "GET", "/applications/armory/pipelines", "", &got)
	if len(got) != 2 || got[0]["id"] != second {
		t.Fatalf("application's executions: %v, want newest first", ids(got))
	}
	g.must(http.StatusOK, "GET", "/applications/armory/pipelines?limit=1&statuses=NOT_STARTED,RUNNING", "", &got)
	if len(got) != 1 || got[0]["id"] != second {
		t.Fatalf("application's executions, limit=1: %v", ids(got))
	}

	for _, c := range []struct{ query, field string }{
		{"", "pipelineConfigIds"},
		{"?executionIds=a&pipelineConfigIds=b", "executionIds"},
		{"?executionIds=a&limit=ten", "limit"},
		{"?executionIds=a&statuses=RUNNING,DONE", "statuses"},
	} {
		status, b := g.call("GET", "/executions"+c.query, "")
		var e struct{ Field string }
		json.Unmarshal(b, &e)
		if status != http.StatusBadRequest || e.Field != c.field {
			t.Errorf("GET /executions%s: status %d field %q, want 400 naming %s: %s", c.query, status, e.Field, c.field, b)
		}
	}
}

// waitStatus polls GET /pipelines/{id} until the execution is in status.
func (g *gate) waitStatus(id, status string) map[string]any {
	g.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var ex map[string]any
		g.must(http.StatusOK, "GET", "/pipelines/"+id, "", &ex)
		if ex["status"] == status {
			return ex
		}
		if time.Now().After(deadline) {
			g.t.Fatalf("execution %s is %v, want %s", id, ex["status"], status)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func ids(exs []map[string]any) []any {
	var out []any
	for _, e := range exs {
		out = append(out, e["id"])
	}
	return out
}

// TestGateCancelAndDelete: cancel is a 2xx and the execution ends
// CANCELED with the reason; delete removes the config, after which spin's
// save sees a 404 again.
func TestGateCancelAndDelete(t *testing.T) {
	g := newGate(t, bhttp.Auth{})
	g.save(bakePipeline())
	id := g.start("armory", "Bake%20hello", "")
	g.waitStatus(id, "RUNNING")
	g.must(http.StatusOK, "PUT", "/pipelines/"+id+"/cancel?reason=wrong+build", "", nil)
	ex := g.waitStatus(id, "CANCELED")
	if ex["status"] != "CANCELED" || ex["canceled"] != true || ex["cancellationReason"] != "wrong build" {
		t.Fatalf("after cancel: status %v canceled %v reason %v", ex["status"], ex["canceled"], ex["cancellationReason"])
	}
	g.must(http.StatusNotFound, "PUT", "/pipelines/no-such-execution/cancel", "", nil)
	g.must(http.StatusConflict, "PUT", "/pipelines/"+id+"/cancel", "", nil)

	g.must(http.StatusOK, "DELETE", "/pipelines/armory/Bake%20hello", "", nil)
	g.must(http.StatusNotFound, "GET", "/applications/armory/pipelineConfigs/Bake%20hello", "", nil)
	g.must(http.StatusNotFound, "DELETE", "/pipelines/armory/Bake%20hello", "", nil)
}

// TestGateVersion: spin gives up unless /version is a 2xx JSON object;
// it answers whether pipelines are enabled or not.
func TestGateVersion(t *testing.T) {
	srv := authServer(t, bhttp.Auth{Token: testToken})
	res, body := send(t, srv, routeRequest(t, srv.URL, "GET /version", ""))
	var v map[string]any
	if res.StatusCode != http.StatusOK || json.Unmarshal([]byte(body), &v) != nil {
		t.Fatalf("GET /version: %d %s", res.StatusCode, body)
	}
	if s, _ := v["version"].(string); s == "" {
		t.Fatalf("GET /version: no version: %s", body)
	}
}

// TestGatePathsOff: a server without a pipeline service answers every
// Gate path (but /version) with a 404 saying so, which also shows each
// pattern reaches its handler rather than the catch-all.
func TestGatePathsOff(t *testing.T) {
	srv := authServer(t, bhttp.Auth{})
	n := 0
	for _, rt := range bhttp.Routes() {
		if !isGatePath(rt.Pattern) || rt.Pattern == "GET /version" {
			continue
		}
		n++
		res, body := send(t, srv, routeRequest(t, srv.URL, rt.Pattern, ""))
		if res.StatusCode != http.StatusNotFound || !strings.Contains(body, "Pipelines are not enabled") {
			t.Errorf("%s: %d %s, want 404 saying pipelines are not enabled", rt.Pattern, res.StatusCode, body)
		}
	}
	if n != 11 {
		t.Errorf("%d Gate paths in the route table, want 11", n)
	}
}

func isGatePath(pattern string) bool {
	_, path, _ := strings.Cut(pattern, " ")
	for _, p := range []string{"/version", "/pipelines", "/applications", "/executions"} {
		if path == p || strings.HasPrefix(path, p+"/") {
			return true
		}
	}
	return false
}
