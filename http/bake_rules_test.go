package http_test

import (
	"testing"

	"github.com/bakehouse/bakehouse"
)

// TestRequestIDOfEarlierBake: a request_id that names an earlier bake with
// other inputs gets a bake of its own under a fresh id (the store's
// ErrBakeExists), and the earlier bake is left as it was.
func TestRequestIDOfEarlierBake(t *testing.T) {
	e := newEnv(t)
	first := e.do("POST", "/api/v1/global/bake", nil, []byte(`{"package": "kato", "base_os": "ubuntu", "request_id": "dup"}`))
	if first.status != 200 || statusOf(t, first.body).ID != "dup" {
		t.Fatalf("first bake: %d %s, want id dup", first.status, first.body)
	}
	if r := e.do("GET", "/api/v1/global/cancel/dup", nil, nil); r.status != 200 {
		t.Fatalf("cancel: %d %s", r.status, r.body)
	}
	again := e.do("POST", "/api/v1/global/bake", nil, []byte(`{"package": "other", "base_os": "ubuntu", "request_id": "dup"}`))
	if again.status != 200 {
		t.Fatalf("second bake with the same request_id: %d %s", again.status, again.body)
	}
	st := statusOf(t, again.body)
	if st.ID == "dup" || st.ID == "" || st.State != "RUNNING" || again.header.Get("X-Bakehouse-Reused") != "" {
		t.Fatalf("second bake = %+v (reused %q), want a new RUNNING bake with a fresh id", st, again.header.Get("X-Bakehouse-Reused"))
	}
	if s := e.status("dup"); s.State != bakehouse.StateCanceled {
		t.Fatalf("the earlier bake is %s, want it left CANCELED", s.State)
	}
	if n := len(e.bakes()); n != 2 {
		t.Fatalf("stored bakes = %d, want 2", n)
	}
}
