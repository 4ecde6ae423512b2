package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bakehouse/bakehouse/aws/ec2test"
)

// TestBakeKeyCache: a repeated bake request is keyed from the bakery's key
// cache (bakehouse_bake_key_cache_total{result="hit"}) and reuses the
// bake, and a cached key is not used once an input it was computed from
// changed: a new version of an unversioned package, the template's
// contents, the docker base image rebuilt under the same name. Each change
// gives a new bake, as it does without the cache.
func TestBakeKeyCache(t *testing.T) {
	needBakeTools(t)
	dir, dataDir := t.TempDir(), t.TempDir()
	// Every bake's "packer" waits for the gate (opened at the end), so
	// the bakes stay RUNNING, which is reusable.
	gate := filepath.Join(dir, "gate")
	real, err := exec.LookPath("packer")
	if err != nil {
		t.Fatal(err)
	}
	wrapper := holdingPacker(t, dir, gate, real)

	// A base image of this test's own, rebuilt below with a new id.
	base := fmt.Sprintf("bakehouse-test/keycache:%d", time.Now().UnixNano())
	rebuild := func(label string) {
		t.Helper()
		out, err := exec.Command("docker", "create", "bakehouse/debian:bookworm", "true").Output()
		if err != nil {
			t.Fatalf("docker create: %v", err)
		}
		cid := strings.TrimSpace(string(out))
		defer exec.Command("docker", "rm", "-f", cid).Run()
		if out, err := exec.Command("docker", "commit", "--change", "LABEL keycache="+label, cid, base).CombinedOutput(); err != nil {
			t.Fatalf("docker commit: %v: %s", err, out)
		}
	}
	rebuild("1")
	t.Cleanup(func() { exec.Command("docker", "rmi", "-f", base).Run() })

	config := "bakehouse:\n  concurrency: 1\n  packerPath: " + wrapper + "\n" +
		"docker:\n  enabled: true\n  bakeryDefaults:\n    baseImages:\n" +
		"      - baseImage: {id: keycache, packageType: DEB}\n        virtualizationSettings: {sourceImage: " + base + "}\n"
	srv := startServer(t, dataDir, config, nil)
	upload(t, srv, sampleDeb(t, "1.0-h1.aaa"))
	req := map[string]any{"package": "armory-hello-deploy", "base_os": "keycache", "cloud_provider_type": "docker"}

	var ids []string
	t.Cleanup(func() {
		for _, id := range ids {
			call(t, "GET", srv.url+"/api/v1/global/cancel/"+id, nil, nil)
		}
	})
	bake := func() (status, bool) {
		t.Helper()
		var st status
		code, body, hdr := call(t, "POST", srv.url+"/api/v1/global/bake", req, &st)
		if code != 200 || st.State != "RUNNING" {
			t.Fatalf("bake: %d %s", code, body)
		}
		reused := hdr.Get("X-Bakehouse-Reused") == "true"
		if !reused {
			ids = append(ids, st.ID)
		}
		return st, reused
	}
	newBake := func(why string) string {
		t.Helper()
		st, reused := bake()
		if reused || (len(ids) > 1 && st.ID == ids[len(ids)-2]) {
			t.Fatalf("%s: the request reused bake %s, want a new bake", why, st.ID)
		}
		return st.ID
	}
	reuses := func(id, why string) {
		t.Helper()
		hits := keyCacheCount(t, srv, "hit")
		if st, reused := bake(); !reused || st.ID != id {
			t.Fatalf("%s: got bake %s (reused %v), want a reuse of %s", why, st.ID, reused, id)
		}
		if got := keyCacheCount(t, srv, "hit"); got != hits+1 {
			t.Fatalf("%s: key cache hits %d -> %d; want the reuse keyed from the cache", why, hits, got)
		}
	}

	b1 := newBake("first request")
	reuses(b1, "same request")

	// (1) A new version of the unversioned package.
	stale := keyCacheCount(t, srv, "stale")
	upload(t, srv, sampleDeb(t, "2.0-h2.bbb"))
	b2 := newBake("after uploading 2.0")
	if got := keyCacheCount(t, srv, "stale"); got != stale+1 {
		t.Errorf("key cache stale %d -> %d after the upload; want the cached key seen and refused", stale, got)
	}
	if p := recordOf(t, srv, b2).Plan.Packages; len(p) != 1 || p[0].Version != "2.0" {
		t.Errorf("bake after the upload plans %+v, want 2.0", p)
	}
	reuses(b2, "same request after the upload")

	// (2) The template's contents change.
	tmpl := filepath.Join(dataDir, "templates", "docker.json")
	f, err := os.OpenFile(tmpl, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("\n")
	f.Close()
	b3 := newBake("after the template changed")
	reuses(b3, "same request after the template changed")

	// (3) The base image is rebuilt: once its id is read again (after
	// the bakery's BaseImageTTL, 5s) the request gets a new bake, and
	// until then the bake keyed by the old id.
	rebuild("2")
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(250 * time.Millisecond) {
		st, reused := bake()
		if !reused {
			if st.ID == b3 {
				t.Fatalf("bake %s came back as new", b3)
			}
			break
		}
		if st.ID != b3 {
			t.Fatalf("after the rebuild the request reused %s, want %s or a new bake", st.ID, b3)
		}
		if time.Now().After(deadline) {
			t.Fatalf("30s after the base image was rebuilt the request still reuses %s", b3)
		}
	}
	b4 := ids[len(ids)-1]
	reuses(b4, "same request after the rebuild")
}

// keyCacheCount reads bakehouse_bake_key_cache_total{result} from /metrics.
func keyCacheCount(t *testing.T, srv *server, result string) int {
	t.Helper()
	_, body, _ := call(t, "GET", srv.url+"/metrics", nil, nil)
	m := regexp.MustCompile(`(?m)^bakehouse_bake_key_cache_total\{result="` + result + `"\} (\d+)$`).FindSubmatch(body)
	if m == nil {
		t.Fatalf("/metrics has no bakehouse_bake_key_cache_total{result=%q}", result)
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

// TestBakeKeyCacheAWSSearch: a request whose source AMI is found by name
// is keyed afresh every time (the search is not cached beyond what the
// AWS adapter does): a newer image makes the next identical request a new
// bake from it.
func TestBakeKeyCacheAWSSearch(t *testing.T) {
	needPacker(t)
	d := ec2test.New(t, ec2test.Quiet())
	older := d.AddImage(ec2test.Image{Name: "ubuntu/images/hvm-ssd/ubuntu-trusty-14.04-amd64-server-20990101", Region: "us-west-2",
		Owner: ec2test.CanonicalOwner, CreationDate: "2099-01-01T00:00:00.000Z", Public: true})
	dir := t.TempDir()
	gate := filepath.Join(dir, "gate")
	real, err := exec.LookPath("packer")
	if err != nil {
		t.Fatal(err)
	}
	wrapper := holdingPacker(t, dir, gate, real)
	srv := startServer(t, t.TempDir(), "bakehouse:\n  packerPath: "+wrapper+"\n"+awsConfig(awsOperatorDir(t)), doubleEnv(t, d))
	req := with(awsRequest, "base_os", "trusty-by-name")
	bake := func() (status, bool) {
		t.Helper()
		var st status
		code, body, hdr := call(t, "POST", srv.url+"/api/v1/us-west-2/bake", req, &st)
		if code != 200 || st.State != "RUNNING" {
			t.Fatalf("bake: %d %s", code, body)
		}
		t.Cleanup(func() { call(t, "GET", srv.url+"/api/v1/us-west-2/cancel/"+st.ID, nil, nil) })
		return st, hdr.Get("X-Bakehouse-Reused") == "true"
	}
	first, _ := bake()
	if again, reused := bake(); !reused || again.ID != first.ID {
		t.Fatalf("same request: bake %s (reused %v), want a reuse of %s", again.ID, reused, first.ID)
	}
	if hits := keyCacheCount(t, srv, "hit"); hits != 0 {
		t.Errorf("key cache hits = %d for requests that search AWS, want 0", hits)
	}
	newer := d.AddImage(ec2test.Image{Name: "ubuntu/images/hvm-ssd/ubuntu-trusty-14.04-amd64-server-20991231", Region: "us-west-2",
		Owner: ec2test.CanonicalOwner, CreationDate: "2099-12-31T00:00:00.000Z", Public: true})
	st, reused := bake()
	if reused || st.ID == first.ID {
		t.Fatalf("after a newer base image was published the request reused %s", st.ID)
	}
	argv := strings.Join(recordOf(t, srv, st.ID).Plan.Packer.Argv, " ")
	if !strings.Contains(argv, "aws_source_ami="+newer.ID) || strings.Contains(argv, older.ID) {
		t.Errorf("the new bake does not start from the newer image %s: %s", newer.ID, argv)
	}
}

// holdingPacker writes a "packer" that runs the real one for `packer
// version` and otherwise waits for gate (at most 5 minutes) and fails:
// its bakes stay RUNNING, which is reusable, until the gate opens.
func holdingPacker(t *testing.T, dir, gate, real string) string {
	t.Helper()
	wrapper := filepath.Join(dir, "packer")
	script := fmt.Sprintf(`#!/bin/sh
[ "$1" = version ] && exec %[2]s "$@"
i=0; while [ ! -e %[1]s ] && [ $i -lt 1500 ]; do sleep 0.2; i=$((i+1)); done
exit 3
`, gate, real)
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.WriteFile(gate, nil, 0o644) })
	return wrapper
}
