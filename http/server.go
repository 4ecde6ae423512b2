// Package http serves Bakehouse's Rosco-compatible API and is the CLI's
// client of it.
package http

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/bakehouse/bakehouse"
	"github.com/bakehouse/bakehouse/bakery"
	"github.com/bakehouse/bakehouse/pipeline"
)

// Bakery is the service the server exposes.
type Bakery interface {
	Bake(ctx context.Context, region string, req bakehouse.BakeRequest, rebake bool) (bakery.BakeResponse, error)
	Plan(ctx context.Context, region string, req bakehouse.BakeRequest, rebake bool) (bakehouse.Plan, error)
	Status(ctx context.Context, id string) (bakehouse.BakeStatus, error)
	Details(ctx context.Context, id string) (*bakehouse.BakeRecord, error)
	Record(ctx context.Context, id string) (*bakehouse.BakeRecord, error)
	Cancel(ctx context.Context, id string) error
	Delete(ctx context.Context, region string, req bakehouse.BakeRequest) (key, id string, err error)
	Running(ctx context.Context) ([]*bakehouse.BakeRecord, error)
	// Cluster lists the live nodes, this one first, with their bakes.
	Cluster(ctx context.Context) ([]bakery.NodeBakes, error)
	List(ctx context.Context, f bakehouse.BakeFilter) ([]*bakehouse.BakeRecord, error)
	Config() bakehouse.Config
	Instance() string
	Logs() *bakery.LogStore
	// FollowLog streams a bake's log while any node runs the bake.
	FollowLog(ctx context.Context, id string, w io.Writer, flush func()) error
	LogsByImage(ctx context.Context, region, imageID string) (string, error)
	DeleteExecutions(ctx context.Context, ids []string) error
}

// Repo is the bakery's package repository.
type Repo interface {
	// AddPackage stores an upload; ctx ends with the request (on several
	// nodes the upload is written to the database).
	AddPackage(ctx context.Context, filename string, r io.Reader) (PackageInfo, error)
	Packages() ([]PackageInfo, error)
}

// PackageInfo is one package in the bakery's repository.
type PackageInfo struct {
	Name     string `json:"name"`
	Version  string `json:"version"`
	Arch     string `json:"arch"`
	Filename string `json:"filename"`
	Size     int64  `json:"size"`
	SHA256   string `json:"sha256"`
}

// Server is Bakehouse's HTTP server.
type Server struct {
	bakery  Bakery
	repo    Repo
	metrics http.Handler
	log     *slog.Logger
	auth    *authorizer
	now     func() time.Time
	// pipelines serves Gate's pipeline paths; nil turns them off (404).
	pipelines pipeline.Service
	// jenkins serves the Jenkins webhook; nil turns it off (404).
	jenkins JenkinsTrigger
	// jenkinsUI lists the masters' jobs and builds for the UI; nil: none.
	jenkinsUI JenkinsBrowser
	// riverUI serves River UI at /riverui/ (PostgreSQL only); nil: 404.
	riverUI http.Handler
	// Concurrency is shown in /status/instance.
	Concurrency int
	// ExecutionPoll is how often an execution page's event stream reads
	// the stored execution when nothing in this process said it changed:
	// the runner here wakes the stream at once (ExecutionSaved), the poll
	// catches executions another node advances. Default 5 s.
	ExecutionPoll time.Duration
	// changes wakes the execution pages' event streams (ui_live.go).
	changes executionChanges

	// health is /health's body, encoded when the versions change so that
	// the HTTP floor stays a copy of bytes.
	health atomic.Pointer[[]byte]

	srv *http.Server
	ln  net.Listener
}

// Versions are the versions of the tools the bakery runs, shown in
// /health and by `bakehouse options`.
type Versions struct {
	// Packer is the version of the packer binary serve checked at start.
	Packer string `json:"packer"`
	// Docker is the Docker engine's version, or "unreachable" while it
	// does not answer.
	Docker string `json:"docker,omitempty"`
}

// Health is /health's body: Spring's {"status": "UP"}, which is all
// Spinnaker reads, plus the versions in use.
type Health struct {
	Status   string   `json:"status"`
	Versions Versions `json:"versions"`
}

// SetVersions sets the versions /health shows; safe while serving.
func (s *Server) SetVersions(v Versions) {
	b, _ := json.Marshal(Health{Status: "UP", Versions: v})
	b = append(b, '\n')
	s.health.Store(&b)
}

// NewServer returns a server; metrics may be nil.
func NewServer(b Bakery, repo Repo, metrics http.Handler, log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{bakery: b, repo: repo, metrics: metrics, log: log, now: time.Now}
	s.SetVersions(Versions{})
	s.srv = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	return s
}

// SetRiverUI mounts River UI, River's own job dashboard, at /riverui/,
// behind the mutating API's guard: it shows every job's arguments and can
// cancel, retry and delete jobs. h must serve paths under /riverui. Call
// it before Serve.
func (s *Server) SetRiverUI(h http.Handler) { s.riverUI = h }

// handleRiverUI serves River UI when it is mounted.
func (s *Server) handleRiverUI() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.riverUI == nil {
			s.handleNotFound().ServeHTTP(w, r)
			return
		}
		s.riverUI.ServeHTTP(w, r)
	})
}

// Handler returns the server's routes.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	s.routes(mux)
	return recoverer(s.log, mux)
}

// Listen binds addr; URL is valid afterwards.
func (s *Server) Listen(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	s.ln = ln
	return nil
}

// URL is the server's base URL.
func (s *Server) URL() string { return "http://" + s.ln.Addr().String() }

// Serve serves until Shutdown.
func (s *Server) Serve() error {
	err := s.srv.Serve(s.ln)
	if err == http.ErrServerClosed {
		return nil
	}
	return err
}

// Shutdown stops the server, letting requests in flight finish.
func (s *Server) Shutdown(ctx context.Context) error { return s.srv.Shutdown(ctx) }

// recoverer turns a handler panic into a 500 instead of a dropped
// connection, and logs it.
func recoverer(log *slog.Logger, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil && v != http.ErrAbortHandler {
				log.Error("panic in handler", "path", r.URL.Path, "panic", v)
				writeError(w, r, bakehouse.Errorf(bakehouse.EINTERNAL, "internal error"))
			}
		}()
		h.ServeHTTP(w, r)
	})
}
