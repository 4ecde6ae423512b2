package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestClusterPackageRepository uploads .debs to node A only, through the
// HTTP API: node B lists each within seconds (the time it takes is
// logged), a bake request sent to B for the package without a version
// pins the last upload, and, with A stopped (so the package must come
// from the database, and B runs the bake), B bakes it with real Packer
// and Docker into an image that holds that version. A file name taken
// with other content is a 409 on any node.
func TestClusterPackageRepository(t *testing.T) {
	needBakeTools(t)
	c := newCluster(t, 2, clusterConfig{Config: "bakehouse:\n  concurrency: 1\n"})
	a, b := c.nodes[0], c.nodes[1]

	var lags []time.Duration
	var last string
	for _, v := range []string{"0.7.0-h1.0dd5a1e", "0.7.1-h2.0dd5a1e", "0.7.2-h3.0dd5a1e"} {
		deb := sampleDeb(t, v)
		start := time.Now()
		upload(t, a.server, deb)
		lags = append(lags, waitListed(t, b, filepath.Base(deb), start, 10*time.Second))
		last = v
	}
	slices.Sort(lags)
	t.Logf("upload to node A until node B lists it: p50 %s, max %s over %d uploads", lags[len(lags)/2], lags[len(lags)-1], len(lags))

	other, err := os.ReadFile(sampleDeb(t, "9.9.9"))
	if err != nil {
		t.Fatal(err)
	}
	taken := "armory-hello-deploy_" + last + "_all.deb"
	if code, body, _ := call(t, "PUT", b.url+"/api/v1/packages/"+taken, other, nil); code != 409 || !strings.Contains(string(body), taken) {
		t.Fatalf("upload of other content as %s to node B: %d %s, want 409 naming the file", taken, code, body)
	}

	req := with(helloRequest, "commit_hash", "0dd5a1e")
	var plan map[string]any
	if code, body, _ := call(t, "POST", b.url+"/api/v1/global/bake/plan", req, &plan); code != 200 {
		t.Fatalf("plan on node B: %d %s", code, body)
	}
	if argv := plan["packer"].(map[string]any)["argv"]; !strings.Contains(fmt.Sprint(argv), "packages=armory-hello-deploy="+last) {
		t.Fatalf("node B's plan does not pin the version uploaded to node A (%s): %v", last, argv)
	}

	a.stop(t, 30*time.Second)
	var st status
	if code, body, _ := call(t, "POST", b.url+"/api/v1/global/bake", req, &st); code != 200 {
		t.Fatalf("bake on node B: %d %s", code, body)
	}
	cleanupBake(t, st.ID)
	final := waitDone(t, b.server, st.ID, 5*time.Minute)
	if final.State != "COMPLETED" || final.Result == nil || *final.Result != "SUCCESS" {
		t.Fatalf("bake ended %s\n%s", final, logsOf(t, b.server, st.ID))
	}
	image := "bakehouse/armory-hello-deploy:0dd5a1e"
	t.Cleanup(func() { exec.Command("docker", "rmi", "-f", image).Run() })
	out, err := exec.Command("docker", "run", "--rm", "--network=none", image, "hello-deploy").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "hello deploy "+last) {
		t.Fatalf("docker run of the baked image: %v: %s", err, out)
	}
}

// waitListed waits until nd's GET /api/v1/packages lists file, and
// returns the time since start.
func waitListed(t *testing.T, nd *node, file string, start time.Time, within time.Duration) time.Duration {
	t.Helper()
	for {
		var ps []struct {
			Filename string `json:"filename"`
		}
		if code, body, _ := call(t, "GET", nd.url+"/api/v1/packages", nil, &ps); code != 200 {
			t.Fatalf("packages of %s: %d %s", nd.name, code, body)
		}
		for _, p := range ps {
			if p.Filename == file {
				return time.Since(start)
			}
		}
		if time.Since(start) > within {
			t.Fatalf("node %s does not list %s %s after its upload to another node\n%s", nd.name, file, within, nd.log())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
