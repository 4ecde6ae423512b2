// Package ui is Bakehouse's web UI: HTML templates and static assets
// (htmx, the style sheet, a small script for Server-Sent Events), embedded
// in the binary so that the bakery serves its own screens with no build
// step and no CDN. It knows nothing of bakes: the http package fills the
// templates with what its services answer.
package ui

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"net/http"
	"strings"
	"time"
)

//go:embed templates/*.html static/*
var files embed.FS

// Templates are the parsed pages. Each page is the layout plus its own
// file, parsed once at start so that a template error fails the start, not
// a request.
type Templates struct {
	pages map[string]*template.Template
}

// funcs are the helpers the templates share.
var funcs = template.FuncMap{
	"since": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04:05") + " UTC"
	},
	"millis": func(ms *int64) string {
		if ms == nil || *ms == 0 {
			return ""
		}
		return time.UnixMilli(*ms).UTC().Format("2006-01-02 15:04:05") + " UTC"
	},
	"duration": Duration,
	"list":     func(v ...string) []string { return v },
	"field": func(errs map[string]string, name, label, value, help string) Field {
		return Field{Name: name, ID: name, Check: name, Label: label, Value: value, Help: help, Error: errs[name]}
	},
	// dict passes several values to a template: dict "K1" v1 "K2" v2.
	"dict": func(kv ...any) (map[string]any, error) {
		if len(kv)%2 != 0 {
			return nil, fmt.Errorf("dict needs key and value pairs, got %d arguments", len(kv))
		}
		m := make(map[string]any, len(kv)/2)
		for i := 0; i < len(kv); i += 2 {
			k, ok := kv[i].(string)
			if !ok {
				return nil, fmt.Errorf("dict key %v is not a string", kv[i])
			}
			m[k] = kv[i+1]
		}
		return m, nil
	},
	"lower": func(v any) string { return strings.ToLower(fmt.Sprint(v)) },
	"join":  strings.Join,
	"contains": func(list []string, s string) bool {
		for _, v := range list {
			if v == s {
				return true
			}
		}
		return false
	},
}

// Field is one labelled text input of a form, with its help and the
// error found in its value. Name is what the form posts, ID names its
// elements (f-ID, err-ID, help-ID), and Check is the rule that checks it
// as the user types (GET /ui/pipelines/check/{Check}).
type Field struct {
	Name, ID, Check, Label, Value, Help, Error string
}

// Duration writes d as people read it: 850ms, 42s, 3m07s, 1h02m.
func Duration(d time.Duration) string {
	switch {
	case d <= 0:
		return ""
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}

// Parse parses every page with the layout.
func Parse() (*Templates, error) {
	names, err := fs.Glob(files, "templates/*.html")
	if err != nil {
		return nil, err
	}
	t := &Templates{pages: map[string]*template.Template{}}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if base == "layout" {
			continue
		}
		p, err := template.New("layout.html").Funcs(funcs).ParseFS(files, "templates/layout.html", n)
		if err != nil {
			return nil, fmt.Errorf("parse ui template %s: %w", n, err)
		}
		t.pages[base] = p
	}
	return t, nil
}

// Render writes page (its layout around it) to w. It renders into a
// buffer first, so a failing template answers an error, not half a page.
func (t *Templates) Render(w io.Writer, page string, data any) error {
	return t.exec(w, page, "layout.html", data)
}

// Fragment writes one named block of page, for the parts htmx and the
// event streams replace.
func (t *Templates) Fragment(w io.Writer, page, block string, data any) error {
	return t.exec(w, page, block, data)
}

func (t *Templates) exec(w io.Writer, page, name string, data any) error {
	p, ok := t.pages[page]
	if !ok {
		return fmt.Errorf("no ui page %q", page)
	}
	var buf bytes.Buffer
	if err := p.ExecuteTemplate(&buf, name, data); err != nil {
		return fmt.Errorf("render ui page %s: %w", page, err)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// Static serves the embedded assets under the path prefix it is mounted
// at (strip it first). They change only with the binary, so browsers may
// keep them for an hour.
func Static() http.Handler {
	sub, _ := fs.Sub(files, "static")
	fsrv := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		fsrv.ServeHTTP(w, r)
	})
}
