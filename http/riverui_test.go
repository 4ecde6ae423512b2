package http_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	bhttp "github.com/bakehouse/bakehouse/http"
)

// TestRiverUIMount: without River UI (the SQLite store) /riverui is a 404;
// mounted, every path under it reaches River UI's handler only with the API
// token, as the mutating API does.
func TestRiverUIMount(t *testing.T) {
	e := newEnv(t)
	if res := e.do("GET", "/riverui/", nil, nil); res.status != http.StatusNotFound {
		t.Fatalf("GET /riverui/ with no River UI: %d, want 404", res.status)
	}
	s := bhttp.NewServer(e.svc, nil, nil, nil)
	s.SetAuth(bhttp.Auth{Token: testToken})
	var reached []string
	s.SetRiverUI(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached = append(reached, r.Method+" "+r.URL.Path)
		w.WriteHeader(http.StatusTeapot)
	}))
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	for _, p := range []string{"GET /riverui", "GET /riverui/", "GET /riverui/api/jobs", "POST /riverui/api/jobs/cancel"} {
		for _, auth := range []string{"", "Bearer wrong", "Bearer " + testToken} {
			res, body := send(t, srv, routeRequest(t, srv.URL, p, auth))
			want := http.StatusUnauthorized
			if auth == "Bearer "+testToken {
				want = http.StatusTeapot
			}
			if res.StatusCode != want {
				t.Errorf("%s with %q: %d %s, want %d", p, auth, res.StatusCode, body, want)
			}
		}
	}
	if len(reached) != 4 {
		t.Errorf("River UI was reached by %v, want the 4 requests with the token", reached)
	}
}
