package http

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/bakehouse/bakehouse"
)

// Signing in to the web UI. A browser cannot send the API's bearer
// header with a form, so a user outside bakehouse.trustedNetworks signs in
// once with the API token; the server answers a session cookie that holds
// an expiry and an HMAC of it under a key derived from the token (never
// the token), which authorizer.allows checks, in constant time, for the
// UI's own forms. Reads never need it.

// sessionCookie is the signed-in browser's cookie.
const sessionCookie = "bakehouse_session"

// sessionLifetime is how long a sign-in lasts.
const sessionLifetime = 12 * time.Hour

// isUIPath reports whether path is one of the web UI's routes, whose
// refusals are pages and whose forms may be authorized by the session.
func isUIPath(path string) bool { return strings.HasPrefix(path, "/ui/") }

// sessionValue is the cookie value for a session ending at exp:
// "<unix seconds>.<hex HMAC-SHA256 of them>".
func (z *authorizer) sessionValue(exp int64) string {
	e := strconv.FormatInt(exp, 10)
	m := hmac.New(sha256.New, z.sessionKey)
	m.Write([]byte("bakehouse ui session until " + e))
	return e + "." + hex.EncodeToString(m.Sum(nil))
}

// sessionMatches reports whether r carries an unexpired session cookie
// signed with this token's key; the signature is compared in constant
// time.
func (z *authorizer) sessionMatches(r *http.Request) bool {
	if z == nil || !z.hasTok {
		return false
	}
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return false
	}
	e, _, ok := strings.Cut(c.Value, ".")
	exp, err := strconv.ParseInt(e, 10, 64)
	if !ok || err != nil || time.Now().Unix() >= exp {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(c.Value), []byte(z.sessionValue(exp))) == 1
}

// uiAuthState is what the page's header offers: "signin" when the UI's
// forms need a sign-in this browser lacks, "signout" when it has one, ""
// when no sign-in applies (no token, or a trusted network).
func (s *Server) uiAuthState(r *http.Request) string {
	z := s.auth
	switch {
	case z == nil || !z.on || !z.hasTok || z.trusts(r.RemoteAddr):
		return ""
	case z.sessionMatches(r):
		return "signout"
	}
	return "signin"
}

// signInView is the sign-in page's data.
type signInView struct {
	Next, Message, Error string
	Possible             bool // a token is configured, so signing in can work
}

// localPath returns next when it is a path on this server, else "/": a
// sign-in never sends the browser elsewhere.
func localPath(next string) string {
	u, err := url.Parse(next)
	// Browsers read "/\host" as "//host": no backslash either.
	if err != nil || next == "" || u.Scheme != "" || u.Host != "" || !strings.HasPrefix(next, "/") ||
		strings.HasPrefix(next, "//") || strings.Contains(next, "\\") {
		return "/"
	}
	return u.RequestURI()
}

// uiRefused answers a UI form the guard refused: a page saying why and,
// when a token is configured, offering to sign in and come back to the
// page the form was on.
func (s *Server) uiRefused(w http.ResponseWriter, r *http.Request, z *authorizer) {
	v := signInView{Possible: z.hasTok, Next: "/"}
	if ref, err := url.Parse(r.Referer()); err == nil && ref.Host == r.Host {
		v.Next = localPath(ref.RequestURI())
	}
	status := http.StatusUnauthorized
	if z.hasTok {
		v.Message = "This change was not made: changing the bakery from outside bakehouse.trustedNetworks needs a sign-in with the bakery's API token. Sign in, then make the change again."
	} else {
		status = http.StatusForbidden
		v.Message = "This change was not made: this bakery accepts changes only from bakehouse.trustedNetworks (this client is " + r.RemoteAddr + "), and it has no API token to sign in with. Use a trusted network, or set bakehouse.apiToken on the server."
	}
	s.page(w, r, status, "signin", "Sign in", "", v)
}

// handleUISignInForm is GET /ui/signin.
func (s *Server) handleUISignInForm() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := signInView{Next: localPath(r.URL.Query().Get("next")), Possible: s.auth != nil && s.auth.hasTok}
		if !v.Possible {
			v.Message = "This bakery has no API token, so there is nothing to sign in with: its forms work from bakehouse.trustedNetworks (or from anywhere when none are set)."
		}
		s.page(w, r, http.StatusOK, "signin", "Sign in", "", v)
	})
}

// handleUISignIn is POST /ui/signin: the API token, checked as the API
// checks its bearer header, buys a session cookie; a wrong one says so.
func (s *Server) handleUISignIn() http.Handler {
	return s.uiPost(func(w http.ResponseWriter, r *http.Request) error {
		z := s.auth
		next := localPath(r.PostFormValue("next"))
		if z == nil || !z.hasTok {
			return bakehouse.Errorf(bakehouse.EINVALID, "This bakery has no API token to sign in with: set bakehouse.apiToken on the server.")
		}
		token := strings.TrimSpace(r.PostFormValue("token"))
		if token == "" || !z.tokenMatches("Bearer "+token) {
			s.log.Warn("refused a UI sign-in", "remote", r.RemoteAddr)
			s.page(w, r, http.StatusUnauthorized, "signin", "Sign in", "", signInView{Next: next, Possible: true,
				Error: "That is not this bakery's API token: give the value of bakehouse.apiToken (or BAKEHOUSE_API_TOKEN) on the server."})
			return nil
		}
		exp := time.Now().Add(sessionLifetime)
		http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: z.sessionValue(exp.Unix()), Path: "/", Expires: exp,
			MaxAge: int(sessionLifetime / time.Second), HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
		http.Redirect(w, r, next, http.StatusSeeOther)
		return nil
	})
}

// handleUISignOut is POST /ui/signout: the session cookie is dropped.
func (s *Server) handleUISignOut() http.Handler {
	return s.uiPost(func(w http.ResponseWriter, r *http.Request) error {
		http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
			Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
		http.Redirect(w, r, "/ui/signin?signedout=1", http.StatusSeeOther)
		return nil
	})
}
