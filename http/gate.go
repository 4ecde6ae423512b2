package http

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"

	"github.com/bakehouse/bakehouse"
	"github.com/bakehouse/bakehouse/pipeline"
)

// Gate's pipeline paths: the part of Spinnaker's API gateway that
// Spinnaker's CLI (spin) and scripts written for Gate use to save, run and
// watch pipelines. The answers keep Gate's status codes exactly (spin
// treats 200 on save and 202 on execute as the only successes) and its
// bodies: Front50's configs as they were saved, Orca's executions.

// maxConfigBody is the largest pipeline config or trigger accepted. An
// exported pipeline with many stages is tens of KiB; 4 MiB leaves room
// for inlined templates and artifacts without letting a client fill memory.
const maxConfigBody = 4 << 20

// gateExecutionLimit is how many executions GET /applications/{app}/pipelines
// answers without a limit: Gate's gate.execution.fetch.limit default.
const gateExecutionLimit = 10

// SetPipelines gives the server its pipeline service, which Gate's paths
// serve. Without one they answer 404, so a bakery that runs no pipelines
// says so instead of pretending to be Gate. Call it before Serve.
func (s *Server) SetPipelines(p pipeline.Service) { s.pipelines = p }

// errNoPipelines is the answer of Gate's paths when no service is set.
var errNoPipelines = bakehouse.Errorf(bakehouse.ENOTFOUND,
	"Pipelines are not enabled on this Bakehouse server: it serves the bakery API only.")

// gate wraps a handler of Gate's paths: it answers 404 when the server
// has no pipeline service, and otherwise passes the service in.
func (s *Server) gate(h func(p pipeline.Service, w http.ResponseWriter, r *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := s.pipelines
		if p == nil {
			writeError(w, r, errNoPipelines)
			return
		}
		if err := h(p, w, r); err != nil {
			if bakehouse.ErrorCode(err) == bakehouse.EINTERNAL {
				s.log.Error("pipeline request failed", "method", r.Method, "path", r.URL.Path, "err", err)
			}
			writeError(w, r, err)
		}
	})
}

// version is Bakehouse's version as the Go toolchain recorded it in the
// binary: a module version, or the VCS revision of a source build.
var version = sync.OnceValue(func() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	if v == "" || v == "(devel)" {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				return "devel-" + s.Value[:12]
			}
		}
		return "devel"
	}
	return v
})

// handleVersion is Gate's GET /version. spin calls it before every
// command and gives up unless it gets a JSON object with a 2xx, so it is
// served whether pipelines are enabled or not.
func (s *Server) handleVersion() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		encode(w, http.StatusOK, map[string]string{"version": version()})
	})
}

// readJSON reads a body of at most maxConfigBody bytes; empty is nil.
func readJSON(r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxConfigBody+1))
	if err != nil {
		return nil, bakehouse.Invalid("body", "Could not read the request body: %v.", err)
	}
	if len(body) > maxConfigBody {
		return nil, bakehouse.Invalid("body", "Request body is larger than 4 MiB: send a smaller pipeline config or trigger.")
	}
	return bytes.TrimSpace(body), nil
}

// handleSavePipeline is Gate's POST /pipelines: the body is the config;
// its id, or else the same application and name, updates a stored one.
// Gate answers exactly 200 (spin checks for it); the body is the config
// as stored, so that a client learns the id of a new pipeline.
func (s *Server) handleSavePipeline() http.Handler {
	return s.gate(func(p pipeline.Service, w http.ResponseWriter, r *http.Request) error {
		body, err := readJSON(r)
		if err != nil {
			return err
		}
		if len(body) == 0 {
			return bakehouse.Invalid("body", "Request body is empty: send the pipeline config as JSON, e.g. {\"application\": \"myapp\", \"name\": \"Bake\", \"stages\": [...]}.")
		}
		cfg, err := pipeline.ParseConfig(body)
		if err != nil {
			return bakehouse.Invalid("body", "Request body is not a pipeline config (%v): send one JSON object as Deck exports it.", err)
		}
		for _, f := range []string{"application", "name"} {
			if v, ok := cfg.Fields[f].(string); !ok || strings.TrimSpace(v) == "" {
				return bakehouse.Invalid(f, "Field '%s' is missing or not a string: a pipeline config names its application and its name, e.g. {\"application\": \"myapp\", \"name\": \"Bake\"}.", f)
			}
		}
		if v, ok := cfg.Fields["id"]; ok && v != nil {
			if _, isStr := v.(string); !isStr {
				return bakehouse.Invalid("id", "Field 'id' is not a string: leave it out to create a pipeline, or send the id Bakehouse gave it.")
			}
		}
		saved, err := p.SavePipeline(r.Context(), cfg)
		if err != nil {
			return err
		}
		encode(w, http.StatusOK, saved)
		return nil
	})
}

// application is a Gate application: Bakehouse has no Front50
// application records, so an application is a name that has pipelines.
type application struct {
	Name       string            `json:"name"`
	Attributes map[string]string `json:"attributes,omitempty"`
}

// handleApplications is Gate's GET /applications: every application
// with pipelines, as [{"name": ...}].
func (s *Server) handleApplications() http.Handler {
	return s.gate(func(p pipeline.Service, w http.ResponseWriter, r *http.Request) error {
		names, err := p.Applications(r.Context())
		if err != nil {
			return err
		}
		out := make([]application, 0, len(names))
		for _, n := range names {
			out = append(out, application{Name: n})
		}
		encode(w, http.StatusOK, out)
		return nil
	})
}

// handleApplication is Gate's GET /applications/{app}: 404 with Gate's
// message when the application has no pipelines.
func (s *Server) handleApplication() http.Handler {
	return s.gate(func(p pipeline.Service, w http.ResponseWriter, r *http.Request) error {
		app := r.PathValue("app")
		cfgs, err := p.Pipelines(r.Context(), app)
		if err != nil {
			return err
		}
		if len(cfgs) == 0 {
			return bakehouse.Errorf(bakehouse.ENOTFOUND, "Application not found (id: %s): it has no pipelines; save one with POST /pipelines.", app)
		}
		encode(w, http.StatusOK, map[string]any{
			"name":       app,
			"attributes": map[string]string{"name": app},
			"clusters":   map[string]any{},
		})
		return nil
	})
}

// handlePipelineConfigs is Gate's GET /applications/{app}/pipelineConfigs:
// always an array, empty for an unknown application.
func (s *Server) handlePipelineConfigs() http.Handler {
	return s.gate(func(p pipeline.Service, w http.ResponseWriter, r *http.Request) error {
		cfgs, err := p.Pipelines(r.Context(), r.PathValue("app"))
		if err != nil {
			return err
		}
		if cfgs == nil {
			cfgs = []*pipeline.Config{}
		}
		encode(w, http.StatusOK, cfgs)
		return nil
	})
}

// handlePipelineConfig is Gate's GET /applications/{app}/pipelineConfigs/{name}.
// spin's save asks it first and copies the id it answers into the body it
// posts; a 404 is how it learns the pipeline is new.
func (s *Server) handlePipelineConfig() http.Handler {
	return s.gate(func(p pipeline.Service, w http.ResponseWriter, r *http.Request) error {
		cfg, err := p.Pipeline(r.Context(), r.PathValue("app"), r.PathValue("name"))
		if err != nil {
			return err
		}
		encode(w, http.StatusOK, cfg)
		return nil
	})
}

// handleDeletePipeline is Gate's DELETE /pipelines/{app}/{name}: 200 with
// no body, as Gate's.
func (s *Server) handleDeletePipeline() http.Handler {
	return s.gate(func(p pipeline.Service, w http.ResponseWriter, r *http.Request) error {
		if err := p.DeletePipeline(r.Context(), r.PathValue("app"), r.PathValue("name")); err != nil {
			return err
		}
		w.WriteHeader(http.StatusOK)
		return nil
	})
}

// handleStartPipeline is Gate's POST /pipelines/{app}/{nameOrId}: the body
// is the trigger (none means a manual run), and the answer exactly 202
// {"ref": "/pipelines/<executionId>"}. As Gate, it takes the pipeline's
// id in place of its name and fills the trigger's user (the runner makes
// a trigger without a type a manual one).
func (s *Server) handleStartPipeline() http.Handler {
	return s.gate(func(p pipeline.Service, w http.ResponseWriter, r *http.Request) error {
		body, err := readJSON(r)
		if err != nil {
			return err
		}
		trigger := map[string]any{}
		if len(body) > 0 && !bytes.Equal(body, []byte("null")) {
			d := json.NewDecoder(bytes.NewReader(body))
			d.UseNumber()
			if err := d.Decode(&trigger); err != nil || trigger == nil {
				return bakehouse.Invalid("body", "Request body is not a trigger: send a JSON object such as {\"type\": \"manual\", \"rebake\": true}, or nothing for a manual run.")
			}
		}
		if u, _ := trigger["user"].(string); u == "" {
			trigger["user"] = "anonymous"
		}
		app, name := r.PathValue("app"), r.PathValue("name")
		ex, err := p.Start(r.Context(), app, name, trigger)
		if bakehouse.ErrorCode(err) == bakehouse.ENOTFOUND {
			if byID := configByID(r, p, app, name); byID != "" {
				ex, err = p.Start(r.Context(), app, byID, trigger)
			}
		}
		if err != nil {
			return err
		}
		w.Header().Set("Location", "/pipelines/"+ex.ID)
		encode(w, http.StatusAccepted, map[string]string{"ref": "/pipelines/" + ex.ID})
		return nil
	})
}

// configByID returns the name of app's pipeline whose id is id, or "".
func configByID(r *http.Request, p pipeline.Service, app, id string) string {
	cfgs, err := p.Pipelines(r.Context(), app)
	if err != nil {
		return ""
	}
	for _, c := range cfgs {
		if c.ID() == id {
			return c.Name()
		}
	}
	return ""
}

// handleExecution is Gate's GET /pipelines/{id}: one execution in Orca's
// JSON.
func (s *Server) handleExecution() http.Handler {
	return s.gate(func(p pipeline.Service, w http.ResponseWriter, r *http.Request) error {
		ex, err := p.Execution(r.Context(), r.PathValue("id"))
		if err != nil {
			return err
		}
		encode(w, http.StatusOK, ex)
		return nil
	})
}

// handleApplicationExecutions is Gate's GET /applications/{app}/pipelines:
// the application's recent executions, newest first, with Gate's limit
// (default 10) and statuses.
func (s *Server) handleApplicationExecutions() http.Handler {
	return s.gate(func(p pipeline.Service, w http.ResponseWriter, r *http.Request) error {
		f, err := executionFilter(r)
		if err != nil {
			return err
		}
		f.Application = r.PathValue("app")
		if f.Limit == 0 {
			f.Limit = gateExecutionLimit
		}
		return writeExecutions(p, w, r, f)
	})
}

// handleExecutions is Gate's GET /executions: executionIds or
// pipelineConfigIds (one of them, as Orca), comma-separated as spin sends
// them, with limit and statuses.
func (s *Server) handleExecutions() http.Handler {
	return s.gate(func(p pipeline.Service, w http.ResponseWriter, r *http.Request) error {
		f, err := executionFilter(r)
		if err != nil {
			return err
		}
		q := r.URL.Query()
		f.IDs, f.PipelineConfigIDs = commaList(q["executionIds"]), commaList(q["pipelineConfigIds"])
		switch {
		case len(f.IDs) == 0 && len(f.PipelineConfigIDs) == 0:
			return bakehouse.Invalid("pipelineConfigIds", "Say which executions: add pipelineConfigIds=<pipeline id,...> or executionIds=<execution id,...> to the query.")
		case len(f.IDs) > 0 && len(f.PipelineConfigIDs) > 0:
			return bakehouse.Invalid("executionIds", "Send executionIds or pipelineConfigIds, not both (as Orca).")
		}
		return writeExecutions(p, w, r, f)
	})
}

func writeExecutions(p pipeline.Service, w http.ResponseWriter, r *http.Request, f pipeline.ExecutionFilter) error {
	exs, err := p.Executions(r.Context(), f)
	if err != nil {
		return err
	}
	if exs == nil {
		exs = []*pipeline.Execution{}
	}
	encode(w, http.StatusOK, exs)
	return nil
}

// executionFilter reads the limit and statuses query parameters.
func executionFilter(r *http.Request) (pipeline.ExecutionFilter, error) {
	var f pipeline.ExecutionFilter
	q := r.URL.Query()
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 0 {
			return f, bakehouse.Invalid("limit", "Query parameter 'limit' is '%s': send a whole number of executions, e.g. limit=10.", l)
		}
		f.Limit = n
	}
	for _, st := range commaList(q["statuses"]) {
		s := pipeline.Status(strings.ToUpper(st))
		if !s.Valid() {
			return f, bakehouse.Invalid("statuses", "Status '%s' is not one of Orca's: use NOT_STARTED, RUNNING, PAUSED, SUSPENDED, SUCCEEDED, FAILED_CONTINUE, TERMINAL, CANCELED, REDIRECT, STOPPED, BUFFERED or SKIPPED.", st)
		}
		f.Statuses = append(f.Statuses, s)
	}
	return f, nil
}

// commaList splits repeated, comma-separated query values, dropping
// blanks.
func commaList(vs []string) []string {
	var out []string
	for _, v := range vs {
		for _, e := range strings.Split(v, ",") {
			if e = strings.TrimSpace(e); e != "" {
				out = append(out, e)
			}
		}
	}
	return out
}

// handleCancelExecution is Gate's PUT /pipelines/{id}/cancel?reason=...:
// 200 with no body, as Gate's.
func (s *Server) handleCancelExecution() http.Handler {
	return s.gate(func(p pipeline.Service, w http.ResponseWriter, r *http.Request) error {
		err := p.Cancel(r.Context(), r.PathValue("id"), "anonymous", r.URL.Query().Get("reason"))
		if err != nil {
			return err
		}
		w.WriteHeader(http.StatusOK)
		return nil
	})
}
