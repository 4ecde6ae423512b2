package http

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/bakehouse/bakehouse"
)

// bakeSummary is one row of the Bakery view: GET /api/v1/bakes and the
// CLI's `bakehouse list`.
type bakeSummary struct {
	ID         string     `json:"id"`
	State      string     `json:"state"`
	Result     string     `json:"result,omitempty"`
	Provider   string     `json:"provider"`
	Region     string     `json:"region"`
	Package    string     `json:"package"`
	ImageName  string     `json:"image_name,omitempty"`
	ImageID    string     `json:"image_id,omitempty"`
	Key        string     `json:"bake_key"`
	Reason     string     `json:"reason,omitempty"`
	Error      string     `json:"error,omitempty"`
	Execution  string     `json:"spinnaker_execution_id,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	StartedAt  *time.Time `json:"started_at,omitempty"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
	Seconds    float64    `json:"duration_seconds,omitempty"`
}

func summarize(b *bakehouse.BakeRecord) bakeSummary {
	s := bakeSummary{ID: b.ID, State: string(b.State), Provider: b.Provider, Region: b.Region, Package: b.Request.Package,
		Key: b.Key, Reason: b.Reason, Error: b.Error, Execution: b.Request.SpinnakerExecutionID, CreatedAt: b.CreatedAt}
	if b.Result != nil {
		s.Result = string(*b.Result)
	}
	if d := b.Details; d != nil {
		s.ImageName, s.ImageID = d.ImageName, d.AMI
	}
	if !b.StartedAt.IsZero() {
		t := b.StartedAt
		s.StartedAt = &t
		end := b.FinishedAt
		if end.IsZero() {
			end = time.Now()
		}
		s.Seconds = end.Sub(t).Round(time.Millisecond).Seconds()
	}
	if !b.FinishedAt.IsZero() {
		t := b.FinishedAt
		s.FinishedAt = &t
	}
	return s
}

// bakeQuery selects bakes for the Bakery view: State exactly, Provider
// and Region exactly, Package and Image as substrings; at most Limit
// (0: all).
type bakeQuery struct {
	State, Provider, Region, Package, Image string
	Limit                                   int
}

// listBakes answers q, newest first, with the same service call for the
// API and the UI.
func (s *Server) listBakes(r *http.Request, q bakeQuery) ([]bakeSummary, error) {
	switch bakehouse.BakeState(q.State) {
	case "", bakehouse.StateRunning, bakehouse.StateCompleted, bakehouse.StateCanceled:
	default:
		return nil, bakehouse.Invalid("state", "state %q is not one of RUNNING, COMPLETED, CANCELED", q.State)
	}
	f := bakehouse.BakeFilter{State: bakehouse.BakeState(q.State)}
	if q.Provider == "" && q.Region == "" && q.Package == "" && q.Image == "" {
		f.Limit = q.Limit
	}
	bakes, err := s.bakery.List(r.Context(), f)
	if err != nil {
		return nil, err
	}
	out := []bakeSummary{}
	for _, b := range bakes {
		if q.Limit > 0 && len(out) == q.Limit {
			break
		}
		sum := summarize(b)
		if q.Provider != "" && sum.Provider != q.Provider || q.Region != "" && sum.Region != q.Region ||
			q.Package != "" && !strings.Contains(sum.Package, q.Package) ||
			q.Image != "" && !strings.Contains(sum.ImageName, q.Image) && !strings.Contains(sum.ImageID, q.Image) {
			continue
		}
		out = append(out, sum)
	}
	return out, nil
}

// handleListBakes answers GET /api/v1/bakes: the newest bakes first,
// filtered by state, provider, region, package and image (substrings for
// package and image), at most limit (default 50, at most 1000).
func (s *Server) handleListBakes() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		limit := 50
		if v := q.Get("limit"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 || n > 1000 {
				writeError(w, r, bakehouse.Invalid("limit", "limit %q is not a number from 1 to 1000", v))
				return
			}
			limit = n
		}
		state := q.Get("state")
		out, err := s.listBakes(r, bakeQuery{State: strings.ToUpper(state), Provider: q.Get("provider"), Region: q.Get("region"),
			Package: q.Get("package"), Image: q.Get("image"), Limit: limit})
		if err != nil {
			if bakehouse.ErrorCode(err) == bakehouse.EINVALID {
				err = bakehouse.Invalid("state", "state %q is not one of RUNNING, COMPLETED, CANCELED", state)
			}
			writeError(w, r, err)
			return
		}
		encode(w, http.StatusOK, out)
	})
}
