package http

import (
	"context"
	"html"
	"net/http"
	"strconv"
	"time"
)

// JenkinsBrowser is what the UI's forms read from the configured Jenkins
// masters: their names, a master's jobs (the trigger form's Job list) and
// a job's builds (the manual run's build choice). The secrets stay in the
// adapter; nothing here carries them.
type JenkinsBrowser interface {
	Masters() []string
	Jobs(ctx context.Context, master string) ([]string, error)
	Builds(ctx context.Context, master, job string) ([]JenkinsBuild, error)
}

// JenkinsBuild is one build of a job as the manual run dialog lists it.
type JenkinsBuild struct {
	Number    int
	Result    string // SUCCESS, FAILURE, ...; "" while it runs
	Building  bool
	Timestamp int64 // start, epoch milliseconds
}

// SetJenkinsBrowser lets the UI list the masters' jobs and builds; without
// it the forms take typed names and build numbers. Call it before Serve.
func (s *Server) SetJenkinsBrowser(b JenkinsBrowser) { s.jenkinsUI = b }

// buildChoice is one option of the manual run's build list.
type buildChoice struct {
	Number int
	Label  string
}

// successfulBuilds lists master's job's successful builds, newest first,
// as the manual run dialog offers them (Deck's "Build" list).
func (s *Server) successfulBuilds(ctx context.Context, master, job string) ([]buildChoice, error) {
	if s.jenkinsUI == nil || job == "" {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	builds, err := s.jenkinsUI.Builds(ctx, master, job)
	if err != nil {
		return nil, err
	}
	var out []buildChoice
	for _, b := range builds {
		if b.Building || b.Result != "SUCCESS" {
			continue
		}
		label := "#" + strconv.Itoa(b.Number)
		if b.Timestamp > 0 {
			label += " (" + time.UnixMilli(b.Timestamp).UTC().Format("2006-01-02 15:04") + " UTC)"
		}
		out = append(out, buildChoice{Number: b.Number, Label: label})
	}
	return out, nil
}

// handleUIJenkinsJobs answers the <option>s of a master's jobs, for the
// trigger form's Job list when the Controller changes.
func (s *Server) handleUIJenkinsJobs() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		for _, j := range s.jenkinsJobs(r.Context(), r.URL.Query().Get("master")) {
			w.Write([]byte(`<option value="` + html.EscapeString(j) + `"></option>`))
		}
	})
}

// jenkinsJobs lists master's jobs, or none when it does not answer (the
// field still takes a typed name).
func (s *Server) jenkinsJobs(ctx context.Context, master string) []string {
	if s.jenkinsUI == nil || master == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	jobs, err := s.jenkinsUI.Jobs(ctx, master)
	if err != nil {
		s.log.Warn("ui: cannot list Jenkins jobs", "master", master, "err", err)
		return nil
	}
	return jobs
}
