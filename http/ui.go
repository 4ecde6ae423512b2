package http

import (
	"bytes"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/bakehouse/bakehouse"
	"github.com/bakehouse/bakehouse/pipeline"
	"github.com/bakehouse/bakehouse/ui"
)

// The web UI: server-rendered pages (package ui holds the templates and
// assets), filled from the same services the API answers from, so that a
// page shows exactly what the API would. Pages read; their forms post to
// /ui/... routes that mutate and carry CSRF protection (ui_csrf.go).

// uiTemplates are parsed once; a broken template fails every page with a
// 500 that names it (and TestUITemplatesParse), not the server's start.
var uiTemplates = sync.OnceValues(ui.Parse)

// uiView is what every page template gets: its title, the nav entry to
// mark, the CSRF token for its forms, and the page's own data.
type uiView struct {
	Title, Nav, CSRF string
	// Auth is what the header offers: "signin", "signout" or "".
	Auth, Here string
	D          any
}

// page renders a whole page with status.
func (s *Server) page(w http.ResponseWriter, r *http.Request, status int, name, title, nav string, d any) {
	t, err := uiTemplates()
	if err == nil {
		var buf bytes.Buffer
		if err = t.Render(&buf, name, uiView{Title: title, Nav: nav, CSRF: s.csrfToken(w, r), Auth: s.uiAuthState(r), Here: r.URL.RequestURI(), D: d}); err == nil {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Header().Set("Cache-Control", "no-store")
			w.WriteHeader(status)
			w.Write(buf.Bytes())
		}
	}
	if err != nil {
		s.log.Error("ui page failed", "page", name, "err", err)
		http.Error(w, "The page could not be rendered: "+err.Error(), http.StatusInternalServerError)
	}
}

// uiError renders err as a page with the status the API would answer.
func (s *Server) uiError(w http.ResponseWriter, r *http.Request, err error) {
	if bakehouse.ErrorCode(err) == bakehouse.EINTERNAL {
		s.log.Error("ui request failed", "path", r.URL.Path, "err", err)
	}
	status := statusOf(bakehouse.ErrorCode(err))
	s.page(w, r, status, "error", http.StatusText(status), "", bakehouse.ErrorMessage(err))
}

func (s *Server) handleUIStatic() http.Handler {
	return http.StripPrefix("/ui/static/", ui.Static())
}

// handleUIHome is GET /: the first-start page while nothing is configured
// or baked, else the pipelines (or, without them, the bakery).
func (s *Server) handleUIHome() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		bakes, err := s.bakery.List(r.Context(), bakehouse.BakeFilter{Limit: 1})
		if err != nil {
			s.uiError(w, r, err)
			return
		}
		var apps []string
		if s.pipelines != nil {
			if apps, err = s.pipelines.Applications(r.Context()); err != nil {
				s.uiError(w, r, err)
				return
			}
		}
		switch {
		case len(apps) > 0:
			http.Redirect(w, r, "/ui/pipelines", http.StatusSeeOther)
		case len(bakes) > 0:
			http.Redirect(w, r, "/ui/bakery", http.StatusSeeOther)
		default:
			cfg := s.bakery.Config()
			d := struct {
				Options   []bakeOptions
				BaseOS    string
				Pipelines bool
			}{Pipelines: s.pipelines != nil}
			for _, p := range []string{"docker", "aws"} {
				if o, ok := optionsFor(cfg, p); ok {
					d.Options = append(d.Options, o)
					if d.BaseOS == "" && p == "docker" && len(o.BaseImages) > 0 {
						d.BaseOS = o.BaseImages[0].ID
					}
				}
			}
			s.page(w, r, http.StatusOK, "welcome", "Welcome", "", d)
		}
	})
}

// bakeRow is one row of the Bakery page.
type bakeRow struct {
	bakeSummary
	Status, ShortKey, Duration string
	Started                    time.Time
	Running                    bool
}

func rowOf(sum bakeSummary) bakeRow {
	row := bakeRow{bakeSummary: sum, Status: sum.State, Running: sum.State == string(bakehouse.StateRunning)}
	if sum.Result != "" && !row.Running {
		row.Status = sum.Result
	}
	row.ShortKey = sum.Key
	if i := strings.LastIndexByte(sum.Key, ':'); i > 0 && len(sum.Key)-i > 13 {
		row.ShortKey = sum.Key[:i+13] + "…"
	}
	if sum.StartedAt != nil {
		row.Started = *sum.StartedAt
	}
	row.Duration = ui.Duration(time.Duration(sum.Seconds * float64(time.Second)))
	return row
}

// handleUIBakery is the Bakery page: every bake, newest first, filtered
// as GET /api/v1/bakes filters, uiPageSize a page. The first page reads
// only as many bakes as it shows when no filter is set; a later page
// reads the list up to its cursor.
func (s *Server) handleUIBakery() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		f := bakeQuery{State: strings.ToUpper(q.Get("state")), Provider: q.Get("provider"), Region: q.Get("region"),
			Package: q.Get("package"), Image: q.Get("image"), Limit: uiPageSize + 1}
		before, after := q.Get("before"), q.Get("after")
		if before != "" || after != "" {
			f.Limit = 0
		}
		sums, err := s.listBakes(r, f)
		if err != nil {
			s.uiError(w, r, err)
			return
		}
		page, older, newer, err := pageOf(sums, func(b bakeSummary) string { return b.ID }, before, after, uiPageSize)
		if err != nil {
			s.uiError(w, r, err)
			return
		}
		d := struct {
			Filter bakeQuery
			States []string
			Bakes  []bakeRow
			Pager  pager
			First  bool
		}{Filter: f, States: []string{"RUNNING", "COMPLETED", "CANCELED"}, First: !newer}
		ids := make([]string, len(page))
		for i, sum := range page {
			d.Bakes = append(d.Bakes, rowOf(sum))
			ids[i] = sum.ID
		}
		d.Pager = pagerFor("/ui/bakery", q, ids, older, newer)
		s.page(w, r, http.StatusOK, "bakery", "Bakery", "bakery", d)
	})
}

// bakeView is one bake's page data.
type bakeView struct {
	bakeRow
	Image, ExecutionID, Log string
	Plan                    *bakehouse.Plan
}

// viewBake reads bake id for its page; withLog reads its log too once
// it has ended (a running bake's log streams).
func (s *Server) viewBake(r *http.Request, id string, withLog bool) (*bakeView, error) {
	rec, err := s.bakery.Record(r.Context(), id)
	if err != nil {
		return nil, err
	}
	sum := rowOf(summarize(rec))
	d := &bakeView{bakeRow: sum, Plan: &rec.Plan}
	if sum.ImageName != "" || sum.ImageID != "" {
		d.Image = sum.ImageName + " (" + sum.ImageID + ")"
	}
	d.ExecutionID, _, _ = strings.Cut(rec.Request.SpinnakerExecutionID, ":")
	if withLog && !sum.Running {
		d.Log, _ = s.bakery.Logs().Read(r.Context(), rec.ID)
	}
	return d, nil
}

// handleUIBake is one bake: its result, plan and Packer log (streamed
// by handleUIBakeLog while it runs).
func (s *Server) handleUIBake() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d, err := s.viewBake(r, r.PathValue("id"), true)
		if err != nil {
			s.uiError(w, r, err)
			return
		}
		s.page(w, r, http.StatusOK, "bake", "Bake "+d.ID, "bakery", d)
	})
}

// handleUIBakeLog streams a bake's Packer log as Server-Sent Events: one
// "line" event per line from the start, then, once the bake is over,
// "head" with the page's head as it now is (its state, result and
// actions), so that RUNNING turns into the result without a reload, and
// "end".
func (s *Server) handleUIBakeLog() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		if _, err := s.bakery.Status(r.Context(), id); err != nil {
			writeError(w, r, err)
			return
		}
		csrf := s.csrfToken(w, r)
		ev := startEvents(w)
		lw := &sseLines{ev: ev}
		s.bakery.FollowLog(r.Context(), id, lw, ev.flush)
		lw.close()
		if t, err := uiTemplates(); err == nil {
			if d, err := s.viewBake(r, id, false); err == nil {
				var buf bytes.Buffer
				if t.Fragment(&buf, "bake", "head", uiView{CSRF: csrf, D: d}) == nil {
					ev.send("head", buf.String())
				}
			}
		}
		ev.send("end", "")
	})
}

// handleUIBakeCancel cancels a running bake from the Bakery page.
func (s *Server) handleUIBakeCancel() http.Handler {
	return s.uiPost(func(w http.ResponseWriter, r *http.Request) error {
		id := r.PathValue("id")
		if err := s.bakery.Cancel(r.Context(), id); err != nil {
			return err
		}
		http.Redirect(w, r, "/ui/bakes/"+url.PathEscape(id), http.StatusSeeOther)
		return nil
	})
}

// handleUIRebake bakes a bake's request again, whatever exists: the
// bakery's own rebake, as `rebake=1` on the API.
func (s *Server) handleUIRebake() http.Handler {
	return s.uiPost(func(w http.ResponseWriter, r *http.Request) error {
		rec, err := s.bakery.Record(r.Context(), r.PathValue("id"))
		if err != nil {
			return err
		}
		resp, err := s.bakery.Bake(r.Context(), rec.Region, rec.Request, true)
		if err != nil {
			return err
		}
		http.Redirect(w, r, "/ui/bakes/"+url.PathEscape(resp.Status.ID), http.StatusSeeOther)
		return nil
	})
}

// imageRow is one image on the Images page: its lineage.
type imageRow struct {
	Name, ID, Base, BakeID, ExecutionID, Build string
	Packages, Regions                          []string
	Finished                                   time.Time
}

// handleUIImages lists the images baked here, newest first, with what
// they were baked from and the run (and Jenkins build) that asked,
// uiPageSize a page.
func (s *Server) handleUIImages() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		recs, err := s.bakery.List(r.Context(), bakehouse.BakeFilter{State: bakehouse.StateCompleted})
		if err != nil {
			s.uiError(w, r, err)
			return
		}
		var baked []*bakehouse.BakeRecord
		for _, rec := range recs {
			if rec.Details != nil && rec.Result != nil && *rec.Result == bakehouse.ResultSuccess {
				baked = append(baked, rec)
			}
		}
		q := r.URL.Query()
		page, older, newer, err := pageOf(baked, func(b *bakehouse.BakeRecord) string { return b.ID }, q.Get("before"), q.Get("after"), uiPageSize)
		if err != nil {
			s.uiError(w, r, err)
			return
		}
		builds := map[string]string{}
		var rows []imageRow
		ids := make([]string, len(page))
		for i, rec := range page {
			ids[i] = rec.ID
			row := imageRow{Name: rec.Details.ImageName, ID: rec.Details.AMI, Base: rec.Plan.SourceImage, BakeID: rec.ID,
				Regions: rec.Details.Regions, Finished: rec.FinishedAt}
			if len(row.Regions) == 0 {
				row.Regions = []string{rec.Region}
			}
			for _, p := range rec.Plan.Packages {
				v := p.Name
				if p.Version != "" {
					v += "=" + p.Version
					if p.Release != "" {
						v += "-" + p.Release
					}
				}
				row.Packages = append(row.Packages, v)
			}
			row.ExecutionID, _, _ = strings.Cut(rec.Request.SpinnakerExecutionID, ":")
			if row.ExecutionID != "" && s.pipelines != nil {
				b, ok := builds[row.ExecutionID]
				if !ok {
					if e, err := s.pipelines.Execution(r.Context(), row.ExecutionID); err == nil && e.Trigger["buildNumber"] != nil {
						b = stringOf(e.Trigger["buildNumber"])
						if job := stringOf(e.Trigger["job"]); job != "" {
							b = job + " #" + b
						}
					}
					builds[row.ExecutionID] = b
				}
				row.Build = b
			}
			rows = append(rows, row)
		}
		s.page(w, r, http.StatusOK, "images", "Images", "images", struct {
			Images []imageRow
			Pager  pager
		}{rows, pagerFor("/ui/images", q, ids, older, newer)})
	})
}

// pipelinesOr answers the error page when pipelines are off.
func (s *Server) pipelinesOr(w http.ResponseWriter, r *http.Request) (pipeline.Service, bool) {
	if s.pipelines == nil {
		s.uiError(w, r, errNoPipelines)
		return nil, false
	}
	return s.pipelines, true
}
