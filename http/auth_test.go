package http_test

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"regexp"
	"strings"
	"testing"

	bhttp "github.com/bakehouse/bakehouse/http"
)

const testToken = "s3cret-token-0123456789"

// authServer is the real bakery behind a server with auth set.
func authServer(t *testing.T, a bhttp.Auth) *httptest.Server {
	t.Helper()
	e := newEnv(t)
	s := bhttp.NewServer(e.svc, nil, nil, nil)
	s.SetAuth(a)
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return srv
}

// placeholder fills a route pattern's {name} segments.
var placeholder = regexp.MustCompile(`\{[^}]+\}`)

// routeRequest is a request that the route's pattern matches.
func routeRequest(t *testing.T, base, pattern, authorization string) *http.Request {
	t.Helper()
	method, path, ok := strings.Cut(pattern, " ")
	if !ok {
		method, path = http.MethodGet, pattern
	}
	path = placeholder.ReplaceAllStringFunc(path, func(p string) string {
		if p == "{region}" {
			return "us-west-2"
		}
		return "x1"
	})
	req, err := http.NewRequest(method, base+path, strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	return req
}

func send(t *testing.T, srv *httptest.Server, req *http.Request) (*http.Response, string) {
	t.Helper()
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, string(b)
}

// TestAuthEveryRoute walks the route table: each mutating route refuses a
// missing or wrong token with a 401 that names the header, and takes the
// right one; each read stays open. A route added to the table is covered
// without touching this test.
func TestAuthEveryRoute(t *testing.T) {
	srv := authServer(t, bhttp.Auth{Token: testToken})
	mutating := 0
	for _, rt := range bhttp.Routes() {
		t.Run(rt.Pattern, func(t *testing.T) {
			if !rt.Mutates {
				res, body := send(t, srv, routeRequest(t, srv.URL, rt.Pattern, ""))
				if res.StatusCode == http.StatusUnauthorized {
					t.Fatalf("a read needs a token: %s", body)
				}
				return
			}
			mutating++
			for _, bad := range []string{"", "Bearer wrong", "Bearer " + testToken + "x", "Basic " + testToken, testToken} {
				res, body := send(t, srv, routeRequest(t, srv.URL, rt.Pattern, bad))
				if res.StatusCode != http.StatusUnauthorized {
					t.Fatalf("Authorization %q: status %d, want 401: %s", bad, res.StatusCode, body)
				}
				if got := res.Header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
					t.Errorf("WWW-Authenticate = %q, want Bearer", got)
				}
				var kork struct {
					Status  int
					Message string
				}
				if err := json.Unmarshal([]byte(body), &kork); err != nil || kork.Status != 401 || !strings.Contains(kork.Message, "Authorization: Bearer <token>") {
					t.Errorf("401 body does not name the header: %s", body)
				}
				if !strings.Contains(body, "Bearer <token>") {
					t.Errorf("401 body escapes the header's '<' and '>' (Jackson does not): %s", body)
				}
				if strings.Contains(body, testToken) {
					t.Errorf("401 body shows the token: %s", body)
				}
			}
			for _, good := range []string{"Bearer " + testToken, "bearer " + testToken} {
				res, body := send(t, srv, routeRequest(t, srv.URL, rt.Pattern, good))
				if res.StatusCode == http.StatusUnauthorized || res.StatusCode == http.StatusForbidden {
					t.Fatalf("Authorization %q: status %d: %s", good, res.StatusCode, body)
				}
			}
		})
	}
	// Rosco's mutating surface: bake, delete, cancel, delete-requests,
	// plus the package upload.
	if mutating < 5 {
		t.Errorf("%d mutating routes in the table, want at least 5", mutating)
	}
}

// TestAuthMutatingRoutes pins which routes need the token, so that a
// route is never opened by mistake (Rosco's cancel is a GET that cancels).
func TestAuthMutatingRoutes(t *testing.T) {
	want := map[string]bool{
		"POST /api/v1/{region}/bake":         true,
		"DELETE /api/v1/{region}/bake":       true,
		"GET /api/v1/{region}/cancel/{id}":   true,
		"POST /api/v1/bakes/delete-requests": true,
		"PUT /api/v1/packages/{filename}":    true,
		"POST /api/v1/{region}/bake/plan":    false,
		"GET /api/v1/{region}/status/{id}":   false,
		"GET /health":                        false,
		// Gate's: spin's save, delete, execute and cancel change the
		// bakery; its reads do not.
		"POST /pipelines":                                true,
		"DELETE /pipelines/{app}/{name}":                 true,
		"POST /pipelines/{app}/{name}":                   true,
		"PUT /pipelines/{id}/cancel":                     true,
		"GET /version":                                   false,
		"GET /applications/{app}/pipelineConfigs/{name}": false,
		"GET /pipelines/{id}":                            false,
		"GET /executions":                                false,
		// The web UI's forms change the bakery; its pages do not.
		"POST /ui/pipelines":                  true,
		"POST /ui/pipelines/json":             true,
		"POST /ui/pipelines/{app}/{name}/run": true,
		"POST /ui/bakes/{id}/cancel":          true,
		"POST /ui/bakes/{id}/rebake":          true,
		"POST /ui/executions/{id}/cancel":     true,
		"GET /ui/bakery":                      false,
		"GET /ui/executions/{id}/events":      false,
		// River UI shows jobs' arguments and acts on jobs.
		"/riverui/":        true,
		"/riverui":         true,
		"POST /ui/signin":  false,
		"POST /ui/signout": false,
	}
	for _, rt := range bhttp.Routes() {
		if w, ok := want[rt.Pattern]; ok && w != rt.Mutates {
			t.Errorf("%s: mutates = %v, want %v", rt.Pattern, rt.Mutates, w)
		}
		if !rt.Mutates && strings.HasPrefix(rt.Pattern, "POST ") && rt.Pattern != "POST /api/v1/{region}/bake/plan" &&
			rt.Pattern != "POST /ui/signin" && rt.Pattern != "POST /ui/signout" {
			t.Errorf("%s is a POST marked as a read", rt.Pattern)
		}
	}
}

// TestAuthTrustedNetworks lets a client in a trusted network change the
// bakery without a token (Orca cannot send one), and no other.
func TestAuthTrustedNetworks(t *testing.T) {
	bake := "POST /api/v1/{region}/bake"
	srv := authServer(t, bhttp.Auth{Token: testToken, TrustedNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	if res, body := send(t, srv, routeRequest(t, srv.URL, bake, "")); res.StatusCode != http.StatusBadRequest {
		t.Fatalf("trusted client without a token: status %d, want the bake's own 400: %s", res.StatusCode, body)
	}
	srv = authServer(t, bhttp.Auth{Token: testToken, TrustedNetworks: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}})
	if res, body := send(t, srv, routeRequest(t, srv.URL, bake, "")); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("untrusted client without a token: status %d, want 401: %s", res.StatusCode, body)
	}
	// Networks without a token: others get 403, there being no token to send.
	srv = authServer(t, bhttp.Auth{TrustedNetworks: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	res, body := send(t, srv, routeRequest(t, srv.URL, bake, "Bearer anything"))
	if res.StatusCode != http.StatusForbidden || !strings.Contains(body, "bakehouse.trustedNetworks") {
		t.Fatalf("untrusted client, no token configured: status %d, want 403 naming trustedNetworks: %s", res.StatusCode, body)
	}
	if res, _ := send(t, srv, routeRequest(t, srv.URL, "GET /api/v1/{region}/status/{id}", "")); res.StatusCode == http.StatusForbidden {
		t.Fatal("a read was refused")
	}
}

// TestAuthOff is the default: no token and no networks let every request
// through, as before.
func TestAuthOff(t *testing.T) {
	srv := authServer(t, bhttp.Auth{})
	if res, body := send(t, srv, routeRequest(t, srv.URL, "POST /api/v1/{region}/bake", "")); res.StatusCode != http.StatusBadRequest {
		t.Fatalf("status %d, want the bake's own 400: %s", res.StatusCode, body)
	}
}

// TestAuthConstantTime checks that the token is compared with
// crypto/subtle and never with == or strings functions, which return at
// the first differing byte and so leak the token through timing.
func TestAuthConstantTime(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "auth.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var fn *ast.FuncDecl
	for _, d := range f.Decls {
		if d, ok := d.(*ast.FuncDecl); ok && d.Name.Name == "tokenMatches" {
			fn = d
		}
	}
	if fn == nil {
		t.Fatal("auth.go has no tokenMatches")
	}
	subtle := false
	ast.Inspect(fn, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.CallExpr:
			if sel, ok := n.Fun.(*ast.SelectorExpr); ok {
				if x, ok := sel.X.(*ast.Ident); ok && x.Name == "subtle" && sel.Sel.Name == "ConstantTimeCompare" {
					subtle = len(n.Args) == 2 && (refersToToken(n.Args[0]) || refersToToken(n.Args[1]))
				}
				if x, ok := sel.X.(*ast.Ident); ok && (x.Name == "bytes" || x.Name == "strings") {
					for _, a := range n.Args {
						if refersToToken(a) {
							t.Errorf("tokenMatches compares the token with %s.%s", x.Name, sel.Sel.Name)
						}
					}
				}
			}
			return false
		case *ast.BinaryExpr:
			if (n.Op == token.EQL || n.Op == token.NEQ) && (refersToToken(n.X) || refersToToken(n.Y)) {
				t.Errorf("tokenMatches compares the token with %s", n.Op)
			}
		}
		return true
	})
	if !subtle {
		t.Error("tokenMatches does not compare the configured token with subtle.ConstantTimeCompare")
	}
}

// refersToToken reports whether e is the configured token's hash or the
// one sent (not a call on them).
func refersToToken(e ast.Expr) bool {
	switch e := e.(type) {
	case *ast.Ident:
		return e.Name == "got"
	case *ast.SelectorExpr:
		return e.Sel.Name == "tokSum"
	case *ast.SliceExpr:
		return refersToToken(e.X)
	case *ast.IndexExpr:
		return refersToToken(e.X)
	case *ast.ParenExpr:
		return refersToToken(e.X)
	}
	return false
}
