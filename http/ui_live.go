package http

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/bakehouse/bakehouse"
)

// csrfCookie holds the browser's CSRF token. Every UI form carries the
// same token in a hidden field; a cross-site page can neither read the
// cookie nor, with SameSite=Strict, have it sent.
const csrfCookie = "bakehouse_csrf"

// csrfToken returns the browser's token, setting a new one when it has
// none.
func (s *Server) csrfToken(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(csrfCookie); err == nil && len(c.Value) == 64 {
		return c.Value
	}
	b := make([]byte, 32)
	rand.Read(b)
	tok := hex.EncodeToString(b)
	http.SetCookie(w, &http.Cookie{Name: csrfCookie, Value: tok, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
	r.AddCookie(&http.Cookie{Name: csrfCookie, Value: tok})
	return tok
}

// sameOrigin reports whether a browser says the request comes from this
// server's own pages: Sec-Fetch-Site when the browser sends it, else the
// Origin header against the Host.
func sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" {
		return site == "same-origin" || site == "none"
	}
	if o := r.Header.Get("Origin"); o != "" && o != "null" {
		u, err := url.Parse(o)
		return err == nil && u.Host == r.Host
	}
	return r.Header.Get("Origin") == ""
}

// uiPost wraps a UI form's handler: the post must come from the UI's own
// origin and carry the browser's CSRF token, so that no other site can
// make a browser bake, cancel or save. A request with an Authorization
// header is a script's, which the route's guard has checked: no browser
// adds that header to a cross-site form post, so it needs no CSRF token.
// Errors render as a page.
func (s *Server) uiPost(h func(w http.ResponseWriter, r *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxConfigBody)
		c, err := r.Cookie(csrfCookie)
		if r.Header.Get("Authorization") == "" && (!sameOrigin(r) || err != nil || subtle.ConstantTimeCompare([]byte(c.Value), []byte(r.PostFormValue("csrf"))) != 1) {
			s.log.Warn("refused a cross-site or tokenless UI post", "path", r.URL.Path, "remote", r.RemoteAddr)
			s.uiError(w, r, bakehouse.Errorf(bakehouse.EFORBIDDEN,
				"This form was not sent from this Bakehouse's own pages (its CSRF token or origin does not match): reload the page and try again."))
			return
		}
		if err := h(w, r); err != nil {
			s.uiError(w, r, err)
		}
	})
}

// events writes Server-Sent Events.
type events struct {
	w  http.ResponseWriter
	rc *http.ResponseController
}

func startEvents(w http.ResponseWriter) *events {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	ev := &events{w: w, rc: http.NewResponseController(w)}
	ev.flush()
	return ev
}

func (e *events) flush() { e.rc.Flush() }

// send writes one event; each line of data is its own data: field, as
// the format requires.
func (e *events) send(name, data string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "event: %s\n", name)
	for _, line := range strings.Split(data, "\n") {
		b.WriteString("data: ")
		b.WriteString(strings.TrimSuffix(line, "\r"))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	_, err := e.w.Write([]byte(b.String()))
	return err
}

// sseLines turns a log's bytes into one "line" event per line.
type sseLines struct {
	ev      *events
	partial []byte
}

func (l *sseLines) Write(p []byte) (int, error) {
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			return len(p), nil
		}
		if err := l.ev.send("line", string(l.partial[:i])); err != nil {
			return 0, err
		}
		l.partial = l.partial[i+1:]
	}
}

func (l *sseLines) close() {
	if len(l.partial) > 0 {
		l.ev.send("line", string(l.partial))
		l.partial = nil
	}
}

// defaultExecutionPoll is Server.ExecutionPoll's default.
const defaultExecutionPoll = 5 * time.Second

// executionChanges wakes the event streams that show an execution when
// the runner in this process has written it. Each stream has a channel
// with room for one signal, so a notification never blocks the runner
// and several writes in a row make one wake-up.
type executionChanges struct {
	mu   sync.Mutex
	subs map[string]map[chan struct{}]bool
}

// watch returns a channel signalled when execution id is written, and
// the function that stops watching.
func (c *executionChanges) watch(id string) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	c.mu.Lock()
	if c.subs == nil {
		c.subs = map[string]map[chan struct{}]bool{}
	}
	if c.subs[id] == nil {
		c.subs[id] = map[chan struct{}]bool{}
	}
	c.subs[id][ch] = true
	c.mu.Unlock()
	return ch, func() {
		c.mu.Lock()
		delete(c.subs[id], ch)
		if len(c.subs[id]) == 0 {
			delete(c.subs, id)
		}
		c.mu.Unlock()
	}
}

func (c *executionChanges) notify(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for ch := range c.subs[id] {
		select {
		case ch <- struct{}{}:
		default: // a wake-up is already pending
		}
	}
}

// ExecutionSaved tells the server that execution id was just written, so
// that the pages that show it update now (runner.Config.Saved). It never
// blocks.
func (s *Server) ExecutionSaved(id string) { s.changes.notify(id) }

// handleUIExecutionEvents streams an execution's stages as HTML, an
// "html" event each time they change, and "end" once it is complete. It
// reads the execution when the runner says it wrote it, and every
// ExecutionPoll in case another node did.
func (s *Server) handleUIExecutionEvents() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := s.pipelinesOr(w, r)
		if !ok {
			return
		}
		id := r.PathValue("id")
		if _, err := p.Execution(r.Context(), id); err != nil {
			writeError(w, r, err)
			return
		}
		t, err := uiTemplates()
		if err != nil {
			writeError(w, r, err)
			return
		}
		csrf := s.csrfToken(w, r)
		changed, stop := s.changes.watch(id)
		defer stop()
		ev := startEvents(w)
		poll := s.ExecutionPoll
		if poll <= 0 {
			poll = defaultExecutionPoll
		}
		tick := time.NewTicker(poll)
		defer tick.Stop()
		var last string
		for {
			e, err := p.Execution(r.Context(), id)
			if err != nil {
				return
			}
			var buf bytes.Buffer
			if err := t.Fragment(&buf, "execution", "stages", viewExecution(e, csrf)); err != nil {
				return
			}
			if html := buf.String(); html != last {
				if ev.send("html", html) != nil {
					return
				}
				last = html
			}
			if e.Status.Complete() {
				ev.send("end", "")
				ev.flush()
				return
			}
			ev.flush()
			select {
			case <-r.Context().Done():
				return
			case <-changed:
			case <-tick.C:
			}
		}
	})
}
