package http

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"net/netip"
	"strings"

	"github.com/bakehouse/bakehouse"
)

// Auth says who may change the bakery (bake, cancel, delete, upload).
// Reads are always open. The zero value lets every request through, which
// is what a loopback-only bakery needs.
type Auth struct {
	// Token is the bearer token a mutating request must carry in
	// "Authorization: Bearer <token>". "" means none is asked for.
	Token string
	// TrustedNetworks are client networks whose mutating requests need no
	// token, because Orca cannot send one to its bakery. With networks but
	// no Token, mutating requests from elsewhere are refused (403): there
	// is no token they could send. The address is the TCP peer's; a
	// forwarding header is not believed.
	TrustedNetworks []netip.Prefix
}

// authHeader is what a 401 tells the client to send.
const authHeader = "Authorization: Bearer <token>"

// authorizer is an Auth prepared once, so that each request costs a
// header read, one hash and a prefix walk, with no parsing.
type authorizer struct {
	on     bool
	hasTok bool
	tokSum [sha256.Size]byte
	// sessionKey signs the UI's session cookies; it is derived from the
	// token, so a new token signs every browser out.
	sessionKey []byte
	trusted    []netip.Prefix
}

func newAuthorizer(a Auth) *authorizer {
	z := &authorizer{on: a.Token != "" || len(a.TrustedNetworks) > 0, hasTok: a.Token != ""}
	if z.hasTok {
		z.tokSum = sha256.Sum256([]byte(a.Token))
		k := sha256.Sum256([]byte("bakehouse ui session key\x00" + a.Token))
		z.sessionKey = k[:]
	}
	for _, p := range a.TrustedNetworks {
		z.trusted = append(z.trusted, p.Masked())
	}
	return z
}

// SetAuth sets who may change the bakery. Call it before Serve.
func (s *Server) SetAuth(a Auth) { s.auth = newAuthorizer(a) }

// guard lets a mutating request reach h only when the bearer token matches
// or the client is in a trusted network, and otherwise answers 401 (or
// 403 when no token is configured) saying which header is expected.
func (s *Server) guard(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		z := s.auth
		if z.allows(r) {
			h.ServeHTTP(w, r)
			return
		}
		s.log.Warn("refused a mutating request", "method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr,
			"authorization_sent", r.Header.Get("Authorization") != "")
		if isUIPath(r.URL.Path) && strings.Contains(r.Header.Get("Accept"), "text/html") {
			// A browser's form: a page that offers to sign in. Scripts
			// get the API's error below.
			s.uiRefused(w, r, z)
			return
		}
		if !z.hasTok {
			writeError(w, r, bakehouse.Errorf(bakehouse.EFORBIDDEN,
				"This request changes the bakery, which accepts such requests only from bakehouse.trustedNetworks (this client is %s): send it from one of those networks, or set bakehouse.apiToken on the server and send %s.", r.RemoteAddr, authHeader))
			return
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="bakehouse"`)
		writeError(w, r, &bakehouse.Error{Code: bakehouse.EUNAUTHORIZED, Field: "Authorization",
			Message: "This request changes the bakery and needs the header '" + authHeader + "' with the server's API token (bakehouse.apiToken or BAKEHOUSE_API_TOKEN); the bakehouse CLI sends $BAKEHOUSE_TOKEN."})
	})
}

// allows reports whether a mutating request may proceed: no auth is
// configured, the peer is in a trusted network, the bearer token matches,
// or, for the web UI's own forms, the browser holds a session cookie made
// from the token by signing in (ui_auth.go). The UI's forms also carry a
// CSRF token and come from the same origin (uiPost), and the cookie is
// SameSite=Strict, so the cookie alone lets no other site post.
func (z *authorizer) allows(r *http.Request) bool {
	if z == nil || !z.on || z.trusts(r.RemoteAddr) {
		return true
	}
	if !z.hasTok {
		return false
	}
	if z.tokenMatches(r.Header.Get("Authorization")) {
		return true
	}
	return isUIPath(r.URL.Path) && z.sessionMatches(r)
}

// tokenMatches compares the bearer token in an Authorization header with
// the configured one in constant time: both are hashed to the same length
// first, so neither the length nor a matching prefix shows in the timing.
func (z *authorizer) tokenMatches(header string) bool {
	const scheme = "Bearer "
	if len(header) < len(scheme) || !strings.EqualFold(header[:len(scheme)], scheme) {
		return false
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(header[len(scheme):])))
	return subtle.ConstantTimeCompare(got[:], z.tokSum[:]) == 1
}

// trusts reports whether the peer address ("ip:port") is in a trusted
// network.
func (z *authorizer) trusts(remote string) bool {
	if len(z.trusted) == 0 {
		return false
	}
	ap, err := netip.ParseAddrPort(remote)
	if err != nil {
		return false
	}
	ip := ap.Addr().Unmap()
	for _, p := range z.trusted {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// LoopbackOnly reports whether the bound address is reachable only from
// this machine, for serve's warning about a bakery open to the network.
func (s *Server) LoopbackOnly() bool {
	ap, err := netip.ParseAddrPort(s.ln.Addr().String())
	return err == nil && ap.Addr().Unmap().IsLoopback()
}
