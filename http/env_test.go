package http_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bakehouse/bakehouse"
	"github.com/bakehouse/bakehouse/bakequeue"
	"github.com/bakehouse/bakehouse/bakery"
	bhttp "github.com/bakehouse/bakehouse/http"
	"github.com/bakehouse/bakehouse/sqlite"
	"github.com/prometheus/client_golang/prometheus"
)

// testConfig is the bakery configuration the HTTP tests run with: the
// embedded default of cmd/bakehouse (docker provider, Debian bookworm
// base image, the bakery's own repository) plus a docker base image
// "ubuntu", which stands for the base_os of Rosco's controller tests.
// Bakehouse bakes only for aws and docker, so Rosco's "gce" requests are
// sent as "docker" with the same shape (see mapGCE).
func testConfig(configDir string) bakehouse.Config {
	return bakehouse.Config{
		Rosco:                    bakehouse.RoscoConfig{ConfigDir: configDir},
		DefaultCloudProviderType: "docker",
		DebianRepository:         "[trusted=yes] file:/bakehouse/repo ./",
		Docker: bakehouse.DockerConfig{
			Enabled: true,
			BakeryDefaults: bakehouse.DockerBakeryDefaults{
				TargetRepository: "bakehouse",
				TemplateFile:     "docker.json",
				BaseImages: []bakehouse.DockerBaseImage{
					{
						BaseImage:              bakehouse.BaseImage{ID: "bookworm", ShortDescription: "Debian 12 (bookworm)", PackageType: "DEB"},
						VirtualizationSettings: bakehouse.DockerVirtualizationSettings{SourceImage: "bakehouse/debian:bookworm"},
					},
					{
						BaseImage:              bakehouse.BaseImage{ID: "ubuntu", ShortDescription: "Ubuntu", PackageType: "DEB"},
						VirtualizationSettings: bakehouse.DockerVirtualizationSettings{SourceImage: "ubuntu:jammy"},
					},
				},
			},
		},
	}
}

// env is one bakery behind the real HTTP handler: the real bakery
// service over a real store, SQLite unless onStore says "postgres" (no
// queue: tests run bakes with RunBake, as the queue's worker would), with
// fake Packer and Docker.
type env struct {
	t      testing.TB
	svc    *bakery.Service
	store  bakehouse.BakeStore    // the store itself, not wrapped
	queue  envQueue               // nil unless withQueue
	setNow func(func() time.Time) // sets the store's clock
	reg    *prometheus.Registry
	packer *fakePacker
	logDir string // "" on postgres: the logs are rows
	dbURL  string // the PostgreSQL database, on postgres
	srv    *httptest.Server
}

// envQueue is the bake queue of either store.
type envQueue interface {
	bakery.Queue
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
}

// envSetup is what envOptions change before the bakery is built.
type envSetup struct {
	cfg   bakery.Config
	wrap  func(bakehouse.BakeStore) bakehouse.BakeStore
	queue *bakequeue.Config // nil: no queue, tests run bakes with runBake
	idle  bool              // the queue is attached but not started
	store string            // "sqlite" (the default) or "postgres"
	dbURL string            // postgres: a database another env uses (another node)
}

type envOption func(*envSetup)

func withInstance(name string) envOption { return func(s *envSetup) { s.cfg.Instance = name } }

func withRosco(f func(*bakehouse.Config)) envOption {
	return func(s *envSetup) { f(&s.cfg.Rosco) }
}

// withStore gives the bakery wrap(store) instead of the store.
func withStore(wrap func(bakehouse.BakeStore) bakehouse.BakeStore) envOption {
	return func(s *envSetup) { s.wrap = wrap }
}

// withQueue runs bakes through the real queue, started, as serve does.
func withQueue(cfg bakequeue.Config) envOption { return func(s *envSetup) { s.queue = &cfg } }

// withIdleQueue attaches a queue that is never started: a node that runs
// no bake itself but cancels through the queue.
func withIdleQueue() envOption {
	return func(s *envSetup) { s.queue, s.idle = &bakequeue.Config{}, true }
}

// onStore runs the bakery on store: "sqlite" or "postgres" (a fresh
// database on the package's private cluster; the test skips when
// PostgreSQL is not installed, unless BAKEHOUSE_INTEGRATION=1).
func onStore(store string) envOption { return func(s *envSetup) { s.store = store } }

// onDatabase runs the bakery on the PostgreSQL database of another env: a
// second node.
func onDatabase(url string) envOption {
	return func(s *envSetup) { s.store, s.dbURL = "postgres", url }
}

func newEnv(t testing.TB, opts ...envOption) *env {
	t.Helper()
	dir := t.TempDir()
	configDir := filepath.Join(dir, "templates")
	if err := os.MkdirAll(configDir, 0o755); err != nil {
		t.Fatal(err)
	}
	// The template is only hashed into the key: Packer is faked.
	if err := os.WriteFile(filepath.Join(configDir, "docker.json"), []byte(`{"builders": [{"type": "docker"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	pk := newFakePacker()
	setup := envSetup{cfg: bakery.Config{
		Rosco: testConfig(configDir), WorkDir: filepath.Join(dir, "work"), LogDir: filepath.Join(dir, "logs"),
		BakeTimeout: time.Minute, CancelGrace: time.Second,
	}, store: "sqlite"}
	for _, o := range opts {
		o(&setup)
	}
	cfg := setup.cfg
	var svc *bakery.Service
	run := func(ctx context.Context, id string) error { return svc.RunBake(ctx, id) }
	var st *envStore
	if setup.store == "postgres" {
		st = openPostgres(t, setup.dbURL, setup.queue, run)
		cfg.LogDir = ""
	} else {
		st = openSQLite(t, filepath.Join(dir, "bakehouse.db"), setup.queue, run)
	}
	bakeStore := st.store
	if setup.wrap != nil {
		bakeStore = setup.wrap(st.store)
	}
	deps := bakery.Deps{Store: bakeStore, Packer: pk, Docker: fakeDocker{}, Metrics: bakery.NewMetrics(reg)}
	if st.logs != nil {
		deps.Logs = st.logs
	}
	deps.Nodes, _ = st.store.(bakehouse.NodeStore)
	svc, err := bakery.New(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	if st.listen != nil {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); st.listen(ctx, svc.Logs().Wake) }()
		t.Cleanup(func() { cancel(); <-done })
	}
	if st.queue != nil {
		svc.SetQueue(st.queue)
	}
	if st.queue != nil && !setup.idle {
		if err := st.queue.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			pk.set(func(p *fakePacker) { p.block = false })
			st.queue.Stop(context.Background())
		})
	}
	srv := httptest.NewServer(bhttp.NewServer(svc, nil, nil, nil).Handler())
	t.Cleanup(srv.Close)
	return &env{t: t, svc: svc, store: st.store, queue: st.queue, reg: reg, packer: pk, logDir: cfg.LogDir, dbURL: st.url, srv: srv, setNow: st.setNow}
}

// envStore is an opened store: its bakes, queue and logs.
type envStore struct {
	store  bakehouse.BakeStore
	queue  envQueue          // nil without withQueue
	logs   bakery.LogBackend // nil: files in the log dir
	listen func(ctx context.Context, wake func(id string))
	url    string
	setNow func(func() time.Time)
}

// openSQLite opens the embedded store at path.
func openSQLite(t testing.TB, path string, qcfg *bakequeue.Config, run bakequeue.RunFunc) *envStore {
	t.Helper()
	db, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	var queue *sqlite.Queue
	st := &envStore{setNow: func(now func() time.Time) { db.Now = now }}
	if qcfg != nil {
		queue, err = sqlite.NewQueue(context.Background(), db, run, *qcfg)
		if err != nil {
			t.Fatal(err)
		}
		st.queue = queue
	}
	st.store = sqlite.NewBakeStore(db, queue)
	return st
}

// response is an HTTP answer, read whole.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r *response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body is not a JSON object: %v\n%s", err, r.body)
	}
	return m
}

// do sends one request to the server.
func (e *env) do(method, path string, query map[string]string, body []byte) *response {
	e.t.Helper()
	res, err := e.try(method, path, query, body)
	if err != nil {
		e.t.Fatal(err)
	}
	return res
}

// try is do for other goroutines than the test's: it returns the error.
func (e *env) try(method, path string, query map[string]string, body []byte) (*response, error) {
	u := e.srv.URL + path
	if len(query) > 0 {
		q := url.Values{}
		for k, v := range query {
			q.Set(k, v)
		}
		u += "?" + q.Encode()
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: read body: %w", method, path, err)
	}
	return &response{status: res.StatusCode, header: res.Header, body: b}, nil
}

// seed stores a bake through the real store: RUNNING, or finished with
// state/result (and details, if any). key "" gives the bake a key of its
// own, so it is found by id only.
func (e *env) seed(id, key, roscoKey string, req bakehouse.BakeRequest, plan bakehouse.Plan, region string, state bakehouse.BakeState, result bakehouse.BakeResult, details *bakehouse.Bake) {
	e.t.Helper()
	ctx := context.Background()
	if key == "" {
		key, roscoKey = "seed:"+id, "seed:"+id
	}
	if region == "" {
		region = "some-region"
	}
	rec := &bakehouse.BakeRecord{ID: id, Key: key, RoscoKey: roscoKey, Region: region, Provider: "docker",
		Request: req, Plan: plan, Reason: "seeded by the test", CreatedAt: time.Now().UTC()}
	// A seeded bake never joins another one with its key.
	res, err := e.store.CreateBake(ctx, bakehouse.CreateBakeParams{Record: rec,
		Decide: func([]*bakehouse.BakeRecord) bakehouse.CreateDecision { return bakehouse.CreateDecision{} }})
	if err != nil || res.Reused || len(res.Superseded) > 0 {
		e.t.Fatalf("seed bake %s: %v (reused %v, superseded %d)", id, err, res.Reused, len(res.Superseded))
	}
	if state == bakehouse.StateRunning {
		return
	}
	ok, err := e.store.Finish(ctx, bakehouse.FinishBakeParams{ID: id, State: state, Result: result, Details: details})
	if err != nil || !ok {
		e.t.Fatalf("seed bake %s as %s/%s: ok=%v err=%v", id, state, result, ok, err)
	}
}

// seedForRequest stores a bake under the key the bakery computes for
// req, and returns that plan.
func (e *env) seedForRequest(id, region string, req bakehouse.BakeRequest, state bakehouse.BakeState, result bakehouse.BakeResult) bakehouse.Plan {
	e.t.Helper()
	plan := e.plan(region, req)
	var details *bakehouse.Bake
	if state == bakehouse.StateCompleted && result == bakehouse.ResultSuccess {
		details = &bakehouse.Bake{ID: id, ImageName: "bakehouse/kato:" + id}
	}
	e.seed(id, plan.BakeKey, plan.RoscoKey, req, plan, region, state, result, details)
	return plan
}

// plan is the bakery's plan for req (its key among others).
func (e *env) plan(region string, req bakehouse.BakeRequest) bakehouse.Plan {
	e.t.Helper()
	plan, err := e.svc.Plan(context.Background(), region, req, false)
	if err != nil {
		e.t.Fatalf("plan: %v", err)
	}
	return plan
}

// bakes lists every stored bake, newest first.
func (e *env) bakes() []*bakehouse.BakeRecord {
	e.t.Helper()
	all, err := e.store.List(context.Background(), bakehouse.BakeFilter{})
	if err != nil {
		e.t.Fatal(err)
	}
	return all
}

func (e *env) status(id string) bakehouse.BakeStatus {
	e.t.Helper()
	st, err := e.svc.Status(context.Background(), id)
	if err != nil {
		e.t.Fatalf("status %s: %v", id, err)
	}
	return st
}

// reusable is the bake a request with key would get back, or nil.
func (e *env) reusable(key string) *bakehouse.BakeRecord {
	e.t.Helper()
	b, err := e.svc.FindReusable(context.Background(), key)
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

// requested is the bakes-requested counter of flavor.
func (e *env) requested(flavor string) float64 {
	e.t.Helper()
	mfs, err := e.reg.Gather()
	if err != nil {
		e.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "bakehouse_bakes_requested_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "flavor" && l.GetValue() == flavor {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// runBake runs a bake as the queue's worker would, in the background;
// the returned channel gets RunBake's error.
func (e *env) runBake(id string) <-chan error {
	done := make(chan error, 1)
	go func() { done <- e.svc.RunBake(context.Background(), id) }()
	return done
}

func wait(t *testing.T, ch <-chan error, what string) {
	t.Helper()
	select {
	case err := <-ch:
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("%s: timed out", what)
	}
}

// fakePacker is bakery.PackerRunner without Packer (which cannot bake
// anything here). It records each run; a run either prints its script
// and exits with its code, or, when block is set, waits for its context
// to be canceled and records the cause.
type fakePacker struct {
	mu      sync.Mutex
	runs    []bakery.PackerRun
	causes  map[string]error // bake id -> why its run was canceled
	block   bool
	lines   []string // printed before a run blocks
	output  string
	code    int
	started chan string // bake ids, as runs start
}

func newFakePacker() *fakePacker {
	return &fakePacker{causes: map[string]error{}, output: "==> docker: Committing the container\n==> Builds finished.", started: make(chan string, 16)}
}

func bakeIDOf(run bakery.PackerRun) string {
	for _, kv := range run.Env {
		if id, ok := strings.CutPrefix(kv, "BAKEHOUSE_BAKE_ID="); ok {
			return id
		}
	}
	return ""
}

func (p *fakePacker) set(f func(p *fakePacker)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f(p)
}

func (p *fakePacker) Run(ctx context.Context, run bakery.PackerRun) (int, string, error) {
	p.mu.Lock()
	p.runs = append(p.runs, run)
	block, lines, output, code := p.block, p.lines, p.output, p.code
	p.mu.Unlock()
	id := bakeIDOf(run)
	p.started <- id
	if block {
		for _, l := range lines {
			run.OnLine(l)
		}
		<-ctx.Done()
		p.mu.Lock()
		p.causes[id] = context.Cause(ctx)
		p.mu.Unlock()
		return -1, "", ctx.Err()
	}
	for _, line := range strings.Split(output, "\n") {
		run.OnLine(line)
	}
	return code, output, nil
}

func (p *fakePacker) Scrape(provider, region, bakeID, output, _ string) bakehouse.Bake {
	return bakehouse.Bake{ID: bakeID, ImageName: "bakehouse/kato:" + bakeID}
}

func (p *fakePacker) calls() []bakery.PackerRun {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]bakery.PackerRun(nil), p.runs...)
}

func (p *fakePacker) cause(id string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.causes[id]
}

// waitStarted waits until Packer runs for bake id.
func (p *fakePacker) waitStarted(t *testing.T, id string) {
	t.Helper()
	for {
		select {
		case got := <-p.started:
			if got == id {
				return
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("packer never started for bake %s", id)
		}
	}
}

// fakeDocker is a Docker engine that has every base image.
type fakeDocker struct{}

func (fakeDocker) ImageID(context.Context, string) (string, error) {
	return "sha256:0123456789abcdef", nil
}
func (fakeDocker) EnsureBaseImage(context.Context, string, string, func(string)) (string, error) {
	return "sha256:0123456789abcdef", nil
}
func (fakeDocker) RemoveContainers(context.Context, string) (int, error) { return 0, nil }
func (fakeDocker) Host() string                                          { return "" }
