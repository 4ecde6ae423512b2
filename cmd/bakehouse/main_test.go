package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bakehouse/bakehouse"
	"github.com/bakehouse/bakehouse/docker/dockertest"
)

// server is a bakehouse serve started in-process by run().
type server struct {
	url     string
	dataDir string
	cancel  context.CancelFunc
	done    chan error
	stderr  *lockedWriter // what the server logged
}

// testEnv returns the environment the program sees: the test process's,
// with overrides.
func testEnv(over map[string]string) func(string) string {
	return func(k string) string {
		if v, ok := over[k]; ok {
			return v
		}
		return os.Getenv(k)
	}
}

// startServer runs `bakehouse serve` on 127.0.0.1:0 with dataDir and an
// optional config file, and returns once it printed its URL.
func startServer(t testing.TB, dataDir, config string, over map[string]string) *server {
	t.Helper()
	return startServerWith(t, dataDir, config, over, nil)
}

// startServerWith is startServer with the bake store wrapped by wrap.
func startServerWith(t testing.TB, dataDir, config string, over map[string]string, wrap func(bakehouse.BakeStore) bakehouse.BakeStore) *server {
	t.Helper()
	args := []string{"serve", "--addr", "127.0.0.1:0", "--data-dir", dataDir}
	if config != "" {
		path := filepath.Join(t.TempDir(), "bakehouse.yml")
		if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--config", path)
	}
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	var stderr bytes.Buffer
	s := &server{dataDir: dataDir, cancel: cancel, done: make(chan error, 1), stderr: &lockedWriter{w: &stderr}}
	go func() {
		e := &env{getenv: testEnv(over), stdin: strings.NewReader(""), stdout: pw, stderr: s.stderr, wrapStore: wrap}
		err := e.run(ctx, args)
		pw.CloseWithError(fmt.Errorf("server exited: %v", err))
		s.done <- err
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("server did not start: %v\n%s", err, s.stderr.String())
	}
	go io.Copy(io.Discard, pr)
	s.url = strings.TrimSpace(line)
	t.Cleanup(func() { s.stop(t) })
	return s
}

func (s *server) stop(t testing.TB) {
	if s.cancel == nil {
		return
	}
	s.cancel()
	select {
	case err := <-s.done:
		if err != nil {
			t.Errorf("server: %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Errorf("server did not stop within 60s")
	}
	s.cancel = nil
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// String returns what was written so far (the writer must be a
// *bytes.Buffer).
func (l *lockedWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.(*bytes.Buffer).String()
}

// call makes an HTTP request and decodes a JSON answer into out (if not
// nil); it returns the status and the raw body.
func call(t testing.TB, method, url string, body any, out any) (int, []byte, http.Header) {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: decode %q: %v", method, url, data, err)
		}
	}
	return resp.StatusCode, data, resp.Header
}

type status struct {
	ID         string  `json:"id"`
	State      string  `json:"state"`
	Result     *string `json:"result"`
	ResourceID string  `json:"resource_id"`
}

func (s status) String() string {
	r := "null"
	if s.Result != nil {
		r = *s.Result
	}
	return s.ID + " " + s.State + "/" + r
}

// waitDone polls a bake until it leaves RUNNING.
func waitDone(t testing.TB, srv *server, id string, timeout time.Duration) status {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var st status
		code, body, _ := call(t, "GET", srv.url+"/api/v1/global/status/"+id, nil, &st)
		if code != 200 {
			t.Fatalf("status %s: %d %s", id, code, body)
		}
		if st.State != "RUNNING" {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("bake %s still RUNNING after %s", id, timeout)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func logsOf(t testing.TB, srv *server, id string) string {
	t.Helper()
	var l struct {
		LogsContent string `json:"logsContent"`
	}
	code, body, _ := call(t, "GET", srv.url+"/api/v1/global/logs/"+id, nil, &l)
	if code != 200 {
		t.Fatalf("logs %s: %d %s", id, code, body)
	}
	return l.LogsContent
}

// needBakeTools skips (or, in CI, fails) tests that need Packer, a Docker
// engine and dpkg-deb, and returns the engine's DOCKER_HOST.
func needBakeTools(t testing.TB) {
	t.Helper()
	for _, tool := range []string{"packer", "docker", "dpkg-deb", "dpkg-scanpackages"} {
		if _, err := exec.LookPath(tool); err != nil {
			dockertest.SkipOrFail(t, "%s not installed", tool)
		}
	}
	c := dockertest.MustEngine(t)
	dockertest.MustBaseImage(t, c)
}

// sampleDeb builds the sample package at version and returns its path.
func sampleDeb(t testing.TB, version string) string {
	t.Helper()
	dir := t.TempDir()
	out, err := exec.Command("bash", "../../scripts/build-sample-deb.sh", dir, version).CombinedOutput()
	if err != nil {
		t.Fatalf("build sample deb: %v\n%s", err, out)
	}
	return strings.TrimSpace(string(out[bytes.LastIndexByte(bytes.TrimSpace(out), '\n')+1:]))
}

func upload(t testing.TB, srv *server, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	code, body, _ := call(t, "PUT", srv.url+"/api/v1/packages/"+filepath.Base(path), b, nil)
	if code != 201 {
		t.Fatalf("upload %s: %d %s", path, code, body)
	}
}

// countingPacker writes a packer wrapper that records each start, and a
// config that makes the server use it.
func countingPacker(t *testing.T) (config, countFile string) {
	t.Helper()
	dir := t.TempDir()
	countFile = filepath.Join(dir, "starts")
	real, err := exec.LookPath("packer")
	if err != nil {
		t.Fatal(err)
	}
	wrapper := filepath.Join(dir, "packer")
	// `packer version` (serve's check at start) is not a bake: not counted.
	script := fmt.Sprintf("#!/bin/sh\n[ \"$1\" = version ] || echo $$ >> %s\nexec %s \"$@\"\n", countFile, real)
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return "bakehouse:\n  packerPath: " + wrapper + "\n", countFile
}

func packerStarts(t *testing.T, countFile string) int {
	b, err := os.ReadFile(countFile)
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return len(strings.Fields(string(b)))
}

func writeFile(path, body string) error { return os.WriteFile(path, []byte(body), 0o644) }
