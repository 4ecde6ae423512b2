package http

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
)

// TestGuardAllocations keeps the token check cheap: it sits in front of
// every bake request, whose reuse answer is benchmarked at 1,000 req/s.
func TestGuardAllocations(t *testing.T) {
	s := &Server{}
	s.SetAuth(Auth{Token: "a-long-enough-token-to-defeat-small-string-optimisations-0123456789", TrustedNetworks: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	reached := 0
	h := s.guard(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached++ }))
	w := httptest.NewRecorder()
	withToken := httptest.NewRequest("POST", "/api/v1/r/bake", nil)
	withToken.Header.Set("Authorization", "Bearer a-long-enough-token-to-defeat-small-string-optimisations-0123456789")
	trusted := httptest.NewRequest("POST", "/api/v1/r/bake", nil)
	trusted.RemoteAddr = "10.1.2.3:4567"
	for name, r := range map[string]*http.Request{"token": withToken, "trusted network": trusted} {
		reached = 0
		if n := testing.AllocsPerRun(100, func() { h.ServeHTTP(w, r) }); n > 1 {
			t.Errorf("%s: %v allocations per request, want at most 1", name, n)
		}
		if reached == 0 {
			t.Errorf("%s: request not let through", name)
		}
	}
}

func BenchmarkGuard(b *testing.B) {
	s := &Server{}
	s.SetAuth(Auth{Token: "a-long-enough-token-to-defeat-small-string-optimisations-0123456789"})
	h := s.guard(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	w := httptest.NewRecorder()
	r := httptest.NewRequest("POST", "/api/v1/r/bake", nil)
	r.Header.Set("Authorization", "Bearer a-long-enough-token-to-defeat-small-string-optimisations-0123456789")
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, r)
	}
}
