package http

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/bakehouse/bakehouse"
	"github.com/bakehouse/bakehouse/bakery"
)

func nowMillis() int64 { return time.Now().UnixMilli() }

// regionOf returns the {region} path value, checked.
func regionOf(r *http.Request) (string, error) {
	region := r.PathValue("region")
	for _, c := range region {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return "", bakehouse.Invalid("region", "Region '%s' has characters other than letters, digits, '-' and '_': use a region name such as us-west-2 or global.", region)
		}
	}
	return region, nil
}

// regionAndRequest reads the {region} and the bake request body, writing
// the error answer when either is bad.
func regionAndRequest(w http.ResponseWriter, r *http.Request) (string, bakehouse.BakeRequest, bool) {
	region, err := regionOf(r)
	if err != nil {
		writeError(w, r, err)
		return "", bakehouse.BakeRequest{}, false
	}
	req, err := decodeRequest(r)
	if err != nil {
		writeError(w, r, err)
		return "", bakehouse.BakeRequest{}, false
	}
	return region, req, true
}

func (s *Server) handleBake() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		region, req, ok := regionAndRequest(w, r)
		if !ok {
			return
		}
		// Orca names the pipeline execution in a header ("id:..."); the
		// part before the first ':' identifies it for delete-requests.
		if h := r.Header.Get("X-SPINNAKER-EXECUTION-ID"); h != "" {
			req.SpinnakerExecutionID, _, _ = strings.Cut(h, ":")
		}
		// Rosco rebakes only for the exact value "1".
		rebake := r.URL.Query().Get("rebake") == "1"
		res, err := s.bakery.Bake(r.Context(), region, req, rebake)
		if err != nil {
			writeError(w, r, err)
			return
		}
		if res.Reason != "" {
			w.Header().Set("X-Bakehouse-Reason", res.Reason)
		}
		if res.Reused {
			w.Header().Set("X-Bakehouse-Reused", "true")
		}
		encode(w, http.StatusOK, res.Status)
	})
}

func (s *Server) handlePlan() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		region, req, ok := regionAndRequest(w, r)
		if !ok {
			return
		}
		plan, err := s.bakery.Plan(r.Context(), region, req, r.URL.Query().Get("rebake") == "1")
		if err != nil {
			writeError(w, r, err)
			return
		}
		encode(w, http.StatusOK, plan)
	})
}

func (s *Server) handleDelete() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		region, req, ok := regionAndRequest(w, r)
		if !ok {
			return
		}
		key, id, err := s.bakery.Delete(r.Context(), region, req)
		if err != nil {
			writeError(w, r, err)
			return
		}
		textResponse(w, http.StatusOK, "Deleted bake '%s' with id '%s'.", key, id)
	})
}

func (s *Server) handleStatus() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st, err := s.bakery.Status(r.Context(), r.PathValue("id"))
		if err != nil {
			writeError(w, r, err)
			return
		}
		encode(w, http.StatusOK, st)
	})
}

// bakeDetails is Rosco's Bake body plus Bakehouse's extras (Orca ignores
// fields it does not know).
type bakeDetails struct {
	ID        string               `json:"id"`
	AMI       *string              `json:"ami"`
	ImageName *string              `json:"image_name"`
	Regions   []string             `json:"regions"`
	Artifact  *bakehouse.Artifact  `json:"artifact"`
	Artifacts []bakehouse.Artifact `json:"artifacts,omitempty"`
	BaseAMI   string               `json:"base_ami,omitempty"`

	BakeKey    string            `json:"bake_key"`
	Reason     string            `json:"reason"`
	AppVersion string            `json:"appversion,omitempty"`
	Phases     []bakehouse.Phase `json:"phases"`
}

func strOrNull(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func (s *Server) handleDetails() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec, err := s.bakery.Details(r.Context(), r.PathValue("id"))
		if err != nil {
			writeError(w, r, err)
			return
		}
		d := *rec.Details
		if len(d.Artifacts) > 0 {
			// Rosco's multi-region shape: the artifact and AMI of the path's
			// region, every region listed, the artifact list left out.
			region := r.PathValue("region")
			var found *bakehouse.Artifact
			var regions []string
			for i, a := range d.Artifacts {
				regions = append(regions, a.Location)
				if a.Location == region {
					found = &d.Artifacts[i]
				}
			}
			if found == nil {
				writeError(w, r, bakehouse.Invalid("region", "Bake '%s' made no image in region '%s' (it baked in %s): ask for one of those regions.", d.ID, region, strings.Join(regions, ", ")))
				return
			}
			a := *found
			d.Artifact, d.AMI, d.Artifacts = &a, a.Reference, nil
			if len(d.Regions) == 0 {
				d.Regions = regions
			}
		}
		encode(w, http.StatusOK, bakeDetails{
			ID: d.ID, AMI: strOrNull(d.AMI), ImageName: strOrNull(d.ImageName), Regions: d.Regions,
			Artifact: d.Artifact, Artifacts: d.Artifacts, BaseAMI: d.BaseAMI,
			BakeKey: rec.Key, Reason: rec.Reason, AppVersion: rec.Plan.AppVersion, Phases: rec.Phases,
		})
	})
}

func (s *Server) handleRecord() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec, err := s.bakery.Record(r.Context(), r.PathValue("id"))
		if err != nil {
			writeError(w, r, err)
			return
		}
		encode(w, http.StatusOK, recordJSON(rec))
	})
}

// recordJSON is the full view of a bake, for the CLI and UI.
func recordJSON(rec *bakehouse.BakeRecord) map[string]any {
	m := map[string]any{
		"id": rec.ID, "state": rec.State, "result": rec.Result, "region": rec.Region, "provider": rec.Provider,
		"bake_key": rec.Key, "reason": rec.Reason, "error": rec.Error, "plan": rec.Plan, "phases": rec.Phases,
		"request": rec.Request, "details": rec.Details, "created_at": rec.CreatedAt,
	}
	if !rec.StartedAt.IsZero() {
		m["started_at"] = rec.StartedAt
	}
	if !rec.FinishedAt.IsZero() {
		m["finished_at"] = rec.FinishedAt
	}
	return m
}

func (s *Server) handleLogs() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		if r.URL.Query().Get("follow") == "1" {
			if _, err := s.bakery.Status(r.Context(), id); err != nil {
				writeError(w, r, err)
				return
			}
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Header().Set("X-Content-Type-Options", "nosniff")
			w.WriteHeader(http.StatusOK)
			rc := http.NewResponseController(w)
			rc.Flush()
			s.bakery.FollowLog(r.Context(), id, w, func() { rc.Flush() })
			return
		}
		content, err := s.bakery.Logs().Read(r.Context(), id)
		if err != nil {
			writeError(w, r, err)
			return
		}
		encode(w, http.StatusOK, map[string]string{"logsContent": content})
	})
}

func (s *Server) handleCancel() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		if err := s.bakery.Cancel(r.Context(), id); err != nil {
			writeError(w, r, err)
			return
		}
		textResponse(w, http.StatusOK, "Canceled bake '%s'.", id)
	})
}

func (s *Server) handleInstanceStatus() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := s.instanceStatus(r)
		if err != nil {
			writeError(w, r, err)
			return
		}
		encode(w, http.StatusOK, body)
	})
}

// instanceStatus is /status/instance: this node's bakes, in Rosco's
// shape, with Bakehouse's extras (queued and running ids, concurrency).
func (s *Server) instanceStatus(r *http.Request) (map[string]any, error) {
	nodes, err := s.bakery.Cluster(r.Context())
	if err != nil {
		return nil, err
	}
	return nodeStatus(nodes[0], s.Concurrency), nil
}

// nodeStatus is one node's part of /status/instance and /status/all.
func nodeStatus(nb bakery.NodeBakes, concurrency int) map[string]any {
	bakes := []bakehouse.BakeStatus{}
	queued := []string{}
	active := []string{}
	for _, b := range nb.Running {
		bakes = append(bakes, b.Status())
		active = append(active, b.ID)
	}
	for _, b := range nb.Queued {
		bakes = append(bakes, b.Status())
		queued = append(queued, b.ID)
	}
	st := "IDLE"
	if len(bakes) > 0 {
		st = "RUNNING"
	}
	return map[string]any{"status": st, "bakes": bakes, "queued": queued, "running": active, "concurrency": concurrency}
}

// handleAllStatus is /status/all: every live node that has incomplete
// bakes (Rosco lists only those), keyed by node id, with its running and
// queued bakes.
func (s *Server) handleAllStatus() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		nodes, err := s.bakery.Cluster(r.Context())
		if err != nil {
			writeError(w, r, err)
			return
		}
		instances := map[string]any{}
		for i, nb := range nodes {
			concurrency := nb.Node.Concurrency
			if i == 0 {
				concurrency = s.Concurrency
			}
			if body := nodeStatus(nb, concurrency); body["status"] == "RUNNING" {
				instances[nb.Node.ID] = body
			}
		}
		encode(w, http.StatusOK, map[string]any{"instance": nodes[0].Node.ID, "instances": instances})
	})
}

func (s *Server) handleHealth() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(*s.health.Load())
	})
}

func (s *Server) handlePutPackage() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.repo == nil {
			writeError(w, r, bakehouse.Errorf(bakehouse.ENOTFOUND, "This bakery has no package repository."))
			return
		}
		name := r.PathValue("filename")
		r.Body = http.MaxBytesReader(w, r.Body, maxPackage)
		p, err := s.repo.AddPackage(r.Context(), name, r.Body)
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			err = bakehouse.Invalid("file", "Package file %s is larger than %d GiB, the most this bakery accepts: slim the package down.", name, maxPackage>>30)
		}
		if err != nil {
			writeError(w, r, err)
			return
		}
		encode(w, http.StatusCreated, p)
	})
}

func (s *Server) handleListPackages() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.repo == nil {
			encode(w, http.StatusOK, []PackageInfo{})
			return
		}
		ps, err := s.repo.Packages()
		if err != nil {
			writeError(w, r, err)
			return
		}
		if ps == nil {
			ps = []PackageInfo{}
		}
		encode(w, http.StatusOK, ps)
	})
}

// handleMetrics serves Prometheus metrics, or 404 when the server has
// none.
func (s *Server) handleMetrics() http.Handler {
	if s.metrics == nil {
		return s.handleNotFound()
	}
	return s.metrics
}

func (s *Server) handleNotFound() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, bakehouse.Errorf(bakehouse.ENOTFOUND, "No route for %s %s.", r.Method, strings.TrimSpace(r.URL.Path)))
	})
}

func (s *Server) handleLogsByImage() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		content, err := s.bakery.LogsByImage(r.Context(), r.PathValue("region"), r.PathValue("imageId"))
		if err != nil {
			writeError(w, r, err)
			return
		}
		encode(w, http.StatusOK, map[string]string{"logsContent": content})
	})
}

// handleDeleteRequests is Rosco's POST /api/v1/bakes/delete-requests: the
// bakes of the listed pipeline executions are forgotten (not reused).
func (s *Server) handleDeleteRequests() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			PipelineExecutionIDs []string `json:"pipelineExecutionIds"`
		}
		data, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
		if err != nil || len(data) > maxBody {
			writeError(w, r, bakehouse.Invalid("body", "Request body is unreadable or larger than 1 MiB."))
			return
		}
		if err := json.Unmarshal(data, &body); err != nil {
			writeError(w, r, bakehouse.Invalid("pipelineExecutionIds", "Body must be {\"pipelineExecutionIds\": [\"...\"]}: %v.", err))
			return
		}
		if err := s.bakery.DeleteExecutions(r.Context(), body.PipelineExecutionIDs); err != nil {
			writeError(w, r, err)
			return
		}
		textResponse(w, http.StatusOK, "")
	})
}
