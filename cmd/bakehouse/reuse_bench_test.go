package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"
)

// BenchmarkReuse measures a bake request answered by reuse through the
// whole program (HTTP, bakery, SQLite) after one real bake, beside
// BenchmarkHealth, the HTTP floor: the reuse path should cost little more
// than a lookup. Profile it with
//
//	go test -run '^$' -bench 'Reuse|Health' -cpuprofile cpu.prof ./cmd/bakehouse
func BenchmarkReuse(b *testing.B) {
	needBakeTools(b)
	srv := startServer(b, b.TempDir(), "", nil)
	upload(b, srv, sampleDeb(b, "0.5.0-h5.c4baff4"))
	req := map[string]any{"package": "armory-hello-deploy", "base_os": "bookworm", "cloud_provider_type": "docker"}
	var st status
	if code, body, _ := call(b, "POST", srv.url+"/api/v1/global/bake", req, &st); code != 200 {
		b.Fatalf("bake: %d %s", code, body)
	}
	if got := waitDone(b, srv, st.ID, 5*time.Minute); got.Result == nil || *got.Result != "SUCCESS" {
		b.Fatalf("bake: %s\n%s", got, logsOf(b, srv, st.ID))
	}
	body, _ := json.Marshal(req)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Post(srv.url+"/api/v1/global/bake", "application/json", bytes.NewReader(body))
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.Header.Get("X-Bakehouse-Reused") != "true" {
				b.Errorf("not reused: %d", resp.StatusCode)
				return
			}
		}
	})
}

// BenchmarkHealth is the floor BenchmarkReuse is compared with.
func BenchmarkHealth(b *testing.B) {
	srv := startServer(b, b.TempDir(), "", nil)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Get(srv.url + "/health")
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
}
