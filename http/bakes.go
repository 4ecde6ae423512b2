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
		state := strings.ToUpper(q.Get("state"))
		switch bakehouse.BakeState(state) {
		case "", bakehouse.StateRunning, bakehouse.StateCompleted, bakehouse.StateCanceled:
		default:
			writeError(w, r, bakehouse.Invalid("state", "state %q is not one of RUNNING, COMPLETED, CANCELED", q.Get("state")))
			return
		}
		provider, region, pkg, image := q.Get("provider"), q.Get("region"), q.Get("package"), q.Get("image")
		f := bakehouse.BakeFilter{State: bakehouse.BakeState(state)}
		if provider == "" && region == "" && pkg == "" && image == "" {
			f.Limit = limit
		}
		bakes, err := s.bakery.List(r.Context(), f)
		if err != nil {
			writeError(w, r, err)
			return
		}
		out := []bakeSummary{}
		for _, b := range bakes {
			if len(out) == limit {
				break
			}
			sum := summarize(b)
			if provider != "" && sum.Provider != provider || region != "" && sum.Region != region ||
				pkg != "" && !strings.Contains(sum.Package, pkg) ||
				image != "" && !strings.Contains(sum.ImageName, image) && !strings.Contains(sum.ImageID, image) {
				continue
			}
			out = append(out, sum)
		}
		encode(w, http.StatusOK, out)
	})
}
