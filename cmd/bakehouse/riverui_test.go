package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// checkRiverUI: River UI at /riverui on a node on PostgreSQL lists the bake
// job of bakeID (so River UI reads this River's tables), and with an API
// token it needs the token, as the mutating API does.
func checkRiverUI(t *testing.T, srv *server, token, bakeID string) {
	t.Helper()
	get := func(path, auth string) (int, string) {
		t.Helper()
		req, err := http.NewRequest("GET", srv.url+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if auth != "" {
			req.Header.Set("Authorization", "Bearer "+auth)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if token != "" {
		for _, p := range []string{"/riverui/", "/riverui/api/jobs?state=completed"} {
			if code, body := get(p, ""); code != http.StatusUnauthorized {
				t.Errorf("GET %s without the token: %d %.200s, want 401", p, code, body)
			}
			if code, _ := get(p, "wrong"); code != http.StatusUnauthorized {
				t.Errorf("GET %s with a wrong token: %d, want 401", p, code)
			}
		}
	}
	if code, body := get("/riverui/", token); code != http.StatusOK || !strings.Contains(body, "<html") {
		t.Errorf("GET /riverui/: %d %.300s, want River UI's page", code, body)
	}
	code, body := get("/riverui/api/jobs?state=completed", token)
	var jobs struct {
		Data []struct {
			Kind string          `json:"kind"`
			Args json.RawMessage `json:"args"`
		} `json:"data"`
	}
	if code != http.StatusOK || json.Unmarshal([]byte(body), &jobs) != nil {
		t.Fatalf("GET /riverui/api/jobs: %d %.300s", code, body)
	}
	for _, j := range jobs.Data {
		if j.Kind == "bake" && strings.Contains(string(j.Args), bakeID) {
			return
		}
	}
	t.Errorf("River UI's completed jobs lack the job of bake %s: %.500s", bakeID, body)
}
