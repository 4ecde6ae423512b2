// Package jenkinstest is a loopback double of a Jenkins master's JSON API
// for tests.
//
// New starts an HTTP server on 127.0.0.1 that answers what Bakehouse's
// jenkins.Client asks, in the shapes of shared/fixtures/jenkins/api-json
// (Jenkins' Stapler export: "_class" on the root, jobs, builds and
// actions; nulls written as null; builds newest first, at most 100):
// GET /api/json (the job tree, folders nested), /job/.../api/json (the
// builds), /job/.../N/api/json (a build with its artifacts and git
// actions) and /job/.../N/artifact/<path> (an archived file's bytes).
// tree= is accepted and ignored: every answer has the properties of the
// tree jenkins.Client sends. Every request needs the basic-auth user and
// API token given to New, else 401 as Jenkins answers a bad token.
//
// The state is a set of jobs and builds that tests change while the
// server runs (AddJob, AddBuild, Finish). SeedArmory loads the data the
// api-json fixtures show.
package jenkinstest

import (
	"crypto/subtle"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Build is a build of a job in the double.
type Build struct {
	// Number 0 means the job's next number.
	Number int
	// Result is SUCCESS, UNSTABLE, FAILURE, NOT_BUILT or ABORTED; it is
	// null in answers while Building.
	Result   string
	Building bool
	// Timestamp is the start in epoch milliseconds (0: now); Duration in
	// milliseconds (0 for a completed build: now minus the start).
	Timestamp int64
	Duration  int64
	// Artifacts are archived files by relative path, with their bytes;
	// ArtifactFiles with a file on disk to serve (e.g. a real .deb).
	Artifacts     map[string][]byte
	ArtifactFiles map[string]string
	// SCM are the git plugin's revisions (one BuildData action each).
	SCM []SCM
}

// SCM is a git revision in a build's BuildData action.
type SCM struct {
	// Ref is the branch's full name, e.g. refs/remotes/origin/master.
	Ref       string
	SHA1      string
	RemoteURL string
	// Details writes it as git plugin 4's BuildDetails (build.revision)
	// instead of BuildData's lastBuiltRevision.
	Details bool
}

// Server is the double. Its methods are safe for concurrent use.
type Server struct {
	srv         *httptest.Server
	user, token string

	mu       sync.Mutex
	jobs     []*job // in the order added (Jenkins lists items as stored)
	requests []string
}

type job struct {
	names  []string // folder names then the job's
	builds []*Build // by number, ascending
}

// New starts a double that accepts user with API token token, and stops
// it when the test ends.
func New(t testing.TB, user, token string) *Server {
	s := &Server{user: user, token: token}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

// URL is the master's root URL, without a trailing slash.
func (s *Server) URL() string { return s.srv.URL }

// Requests returns the method and request URI of each request answered,
// in order.
func (s *Server) Requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// splitJob accepts Igor's name ("a/job/b/job/c") or Jenkins' fullName
// ("a/b/c").
func splitJob(name string) []string {
	if strings.Contains(name, "/job/") {
		return strings.Split(name, "/job/")
	}
	return strings.Split(name, "/")
}

// AddJob adds a freestyle job (and the folders its name implies) with no
// builds. Adding a job twice does nothing.
func (s *Server) AddJob(fullName string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addJob(splitJob(fullName))
}

func (s *Server) addJob(names []string) *job {
	if j := s.find(names); j != nil {
		return j
	}
	j := &job{names: names}
	s.jobs = append(s.jobs, j)
	return j
}

func (s *Server) find(names []string) *job {
	for _, j := range s.jobs {
		if slices.Equal(j.names, names) {
			return j
		}
	}
	return nil
}

// AddBuild adds a build to job (creating the job if needed) and returns
// its number. A build with the number of an existing one replaces it
// (e.g. to archive a file late).
func (s *Server) AddBuild(jobName string, b Build) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	j := s.addJob(splitJob(jobName))
	if b.Number == 0 {
		b.Number = 1
		if n := len(j.builds); n > 0 {
			b.Number = j.builds[n-1].Number + 1
		}
	}
	now := time.Now().UnixMilli()
	if b.Timestamp == 0 {
		b.Timestamp = now
	}
	if b.Building {
		b.Result, b.Duration = "", 0
	} else if b.Duration == 0 {
		b.Duration = max(now-b.Timestamp, 0)
	}
	j.builds = slices.DeleteFunc(j.builds, func(o *Build) bool { return o.Number == b.Number })
	j.builds = append(j.builds, &b)
	slices.SortFunc(j.builds, func(x, y *Build) int { return x.Number - y.Number })
	return b.Number
}

// Finish ends a running build with result (SUCCESS, FAILURE, ...).
func (s *Server) Finish(jobName string, number int, result string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	j := s.find(splitJob(jobName))
	if j == nil {
		panic(fmt.Sprintf("jenkinstest: Finish: no job %q", jobName))
	}
	for _, b := range j.builds {
		if b.Number == number {
			b.Building, b.Result = false, result
			b.Duration = max(time.Now().UnixMilli()-b.Timestamp, 1)
			return
		}
	}
	panic(fmt.Sprintf("jenkinstest: Finish: no build %d of %q", number, jobName))
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, r.Method+" "+r.RequestURI)
	user, token, ok := r.BasicAuth()
	if !ok || subtle.ConstantTimeCompare([]byte(user), []byte(s.user)) != 1 ||
		subtle.ConstantTimeCompare([]byte(token), []byte(s.token)) != 1 {
		w.Header().Set("WWW-Authenticate", `Basic realm="Jenkins"`)
		http.Error(w, "Invalid password/token for user: "+user, http.StatusUnauthorized)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	// Segments of the escaped path, each unescaped, so that a job name
	// with a '/' escaped in it stays one segment.
	segs := strings.Split(strings.Trim(r.URL.EscapedPath(), "/"), "/")
	for i, p := range segs {
		segs[i] = unescape(p)
	}
	if slices.Equal(segs, []string{"api", "json"}) {
		writeJSON(w, s.root())
		return
	}
	var names []string
	for len(segs) >= 2 && segs[0] == "job" {
		names = append(names, segs[1])
		segs = segs[2:]
	}
	j := s.find(names)
	if j == nil || len(names) == 0 {
		notFound(w)
		return
	}
	if slices.Equal(segs, []string{"api", "json"}) {
		writeJSON(w, s.jobJSON(j))
		return
	}
	if len(segs) < 2 {
		notFound(w)
		return
	}
	var b *Build
	for _, x := range j.builds {
		if fmt.Sprint(x.Number) == segs[0] {
			b = x
		}
	}
	if b == nil {
		notFound(w)
		return
	}
	switch {
	case len(segs) == 3 && segs[1] == "api" && segs[2] == "json":
		writeJSON(w, s.buildJSON(j, b))
	case segs[1] == "artifact" && len(segs) > 2:
		s.serveArtifact(w, r, b, path.Join(segs[2:]...))
	default:
		notFound(w)
	}
}

func (s *Server) serveArtifact(w http.ResponseWriter, r *http.Request, b *Build, rel string) {
	if data, ok := b.Artifacts[rel]; ok {
		w.Header().Set("Content-Type", contentType(rel))
		w.Header().Set("Content-Length", fmt.Sprint(len(data)))
		w.Write(data)
		return
	}
	if file, ok := b.ArtifactFiles[rel]; ok {
		f, err := os.Open(file)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", contentType(rel))
		http.ServeContent(w, r, "", st.ModTime(), f)
		return
	}
	notFound(w)
}

// contentType is what Jenkins serves an artifact as.
func contentType(rel string) string {
	switch path.Ext(rel) {
	case ".deb":
		return "application/vnd.debian.binary-package"
	case ".json":
		return "application/json"
	}
	return "text/plain"
}

func unescape(s string) string {
	if u, err := url.PathUnescape(s); err == nil {
		return u
	}
	return s
}

func notFound(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/html;charset=utf-8")
	w.WriteHeader(http.StatusNotFound)
	fmt.Fprint(w, "<html><body><h2>HTTP ERROR 404 Not Found</h2></body></html>")
}
