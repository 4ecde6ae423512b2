package main

import (
	"bufio"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bakehouse/bakehouse"
	"github.com/bakehouse/bakehouse/storetest"
)

var helloRequest = map[string]any{
	"package": "armory-hello-deploy", "base_os": "bookworm", "cloud_provider_type": "docker",
	"build_number": "5", "commit_hash": "c4baff4", "user": "test@example.com",
}

func with(req map[string]any, kv ...any) map[string]any {
	out := map[string]any{}
	for k, v := range req {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

// TestBakeReuseRebake bakes the sample package for real (Packer, Docker,
// SQLite), runs the image, then shows reuse and rebake.
func TestBakeReuseRebake(t *testing.T) {
	needBakeTools(t)
	cfg, starts := countingPacker(t)
	srv := startServer(t, t.TempDir(), cfg, nil)
	upload(t, srv, sampleDeb(t, "0.5.0-h5.c4baff4"))

	var plan map[string]any
	code, body, _ := call(t, "POST", srv.url+"/api/v1/global/bake/plan", helloRequest, &plan)
	if code != 200 {
		t.Fatalf("plan: %d %s", code, body)
	}
	if plan["image_name"] != "bakehouse/armory-hello-deploy:c4baff4" || plan["reuse"] != nil {
		t.Fatalf("plan before any bake: image %v reuse %v", plan["image_name"], plan["reuse"])
	}
	argv := fmt.Sprint(plan["packer"].(map[string]any)["argv"])
	if !strings.Contains(argv, "packages=armory-hello-deploy=0.5.0-h5.c4baff4") {
		t.Fatalf("plan argv does not pin the resolved version: %s", argv)
	}

	var st status
	code, body, _ = call(t, "POST", srv.url+"/api/v1/global/bake", helloRequest, &st)
	if code != 200 || st.State != "RUNNING" || st.ID == "" || st.ResourceID != st.ID {
		t.Fatalf("bake: %d %s", code, body)
	}
	final := waitDone(t, srv, st.ID, 5*time.Minute)
	if final.State != "COMPLETED" || final.Result == nil || *final.Result != "SUCCESS" {
		t.Fatalf("bake ended %s\n%s", final, logsOf(t, srv, st.ID))
	}
	var details map[string]any
	code, body, _ = call(t, "GET", srv.url+"/api/v1/global/bake/"+st.ID, nil, &details)
	if code != 200 || details["image_name"] != "bakehouse/armory-hello-deploy:c4baff4" || details["id"] != st.ID {
		t.Fatalf("details: %d %s", code, body)
	}
	if phases, _ := details["phases"].([]any); len(phases) < 3 {
		t.Errorf("details phases = %v, want queued/base_image/provision/...", details["phases"])
	}
	out, err := exec.Command("docker", "run", "--rm", "--network=none", "bakehouse/armory-hello-deploy:c4baff4", "hello-deploy").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "hello deploy 0.5.0-h5.c4baff4") {
		t.Fatalf("docker run of the baked image: %v: %s", err, out)
	}
	if n := packerStarts(t, starts); n != 1 {
		t.Fatalf("packer started %d times for one bake", n)
	}

	// Same request again: the same bake, at once, no Packer.
	var again status
	code, _, hdr := call(t, "POST", srv.url+"/api/v1/global/bake", helloRequest, &again)
	if code != 200 || again.ID != st.ID || again.State != "COMPLETED" {
		t.Fatalf("second request: %d %+v, want reuse of %s", code, again, st.ID)
	}
	if !strings.HasPrefix(hdr.Get("X-Bakehouse-Reason"), "No changes detected; reused existing bake") {
		t.Errorf("reuse reason = %q", hdr.Get("X-Bakehouse-Reason"))
	}
	if logs := logsOf(t, srv, st.ID); !strings.Contains(logs, "No changes detected; reused existing bake "+st.ID+" (1 request(s)") {
		t.Errorf("the reuse is not recorded in the reused bake's log:\n%s", logs)
	}
	// rebake=true is not rebake=1: Rosco rebakes only for the exact "1".
	call(t, "POST", srv.url+"/api/v1/global/bake?rebake=true", helloRequest, &again)
	if again.ID != st.ID {
		t.Fatalf("rebake=true started a new bake %s", again.ID)
	}
	// An input Rosco's key misses (extended attributes) makes a new bake.
	var ext status
	call(t, "POST", srv.url+"/api/v1/global/bake/plan", with(helloRequest, "extended_attributes", map[string]string{"upgrade_note": "x"}), &plan)
	if plan["reuse"] != nil {
		t.Fatalf("extended attributes changed but the plan reuses %v", plan["reuse"])
	}
	_ = ext
	if n := packerStarts(t, starts); n != 1 {
		t.Fatalf("reuse started packer (%d starts)", n)
	}

	// rebake=1: a new bake with a new id.
	var rb status
	code, body, _ = call(t, "POST", srv.url+"/api/v1/global/bake?rebake=1", helloRequest, &rb)
	if code != 200 || rb.ID == st.ID || rb.State != "RUNNING" {
		t.Fatalf("rebake: %d %s", code, body)
	}
	if final := waitDone(t, srv, rb.ID, 5*time.Minute); final.State != "COMPLETED" {
		t.Fatalf("rebake ended %s", final)
	}
	logs := logsOf(t, srv, rb.ID)
	if !strings.Contains(logs, "rebake requested") || !strings.Contains(logs, "Committing the container") {
		t.Errorf("rebake log lacks its reason or Packer's output:\n%s", logs)
	}
	if n := packerStarts(t, starts); n != 2 {
		t.Fatalf("packer starts = %d after a rebake, want 2", n)
	}
	// Only this test's bakes: other packages' tests run at the same time.
	// The engine may still be removing the last container on a loaded
	// machine, so wait a little for it.
	for _, id := range []string{st.ID, rb.ID} {
		mustLeaveNothing(t, id, 20*time.Second)
	}
}

// TestIdenticalRequestsRaceToOneBake sends 20 identical requests at once:
// exactly one Packer process runs and every request gets its bake. A
// barrier holds every create until all requests have found nothing to
// reuse outside the transaction, so that only the check inside it keeps
// them to one bake, in every run.
func TestIdenticalRequestsRaceToOneBake(t *testing.T) {
	needBakeTools(t)
	const n = 20
	cfg, starts := countingPacker(t)
	srv := startServerWith(t, t.TempDir(), cfg, nil, func(s bakehouse.BakeStore) bakehouse.BakeStore {
		return storetest.NewCreateBarrier(s, n, time.Minute)
	})
	upload(t, srv, sampleDeb(t, "0.5.0-h5.c4baff4"))
	req := with(helloRequest, "ami_name", "race-test")
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			var st status
			if code, body, _ := call(t, "POST", srv.url+"/api/v1/global/bake", req, &st); code != 200 {
				t.Errorf("request %d: %d %s", i, code, body)
			}
			ids[i] = st.ID
		}(i)
	}
	wg.Wait()
	for i := range ids {
		if ids[i] != ids[0] {
			t.Fatalf("racing requests got different bakes: %v", ids)
		}
	}
	if final := waitDone(t, srv, ids[0], 5*time.Minute); final.State != "COMPLETED" {
		t.Fatalf("bake ended %s", final)
	}
	if got := packerStarts(t, starts); got != 1 {
		t.Fatalf("%d identical requests started packer %d times, want 1", n, got)
	}
}

// slowTemplate is an operator template whose provisioner sleeps, so a bake
// can be canceled or killed while Packer runs.
const slowTemplate = `{
  "variables": {"docker_source_image": "", "docker_target_image": "", "docker_target_image_tag": "", "docker_target_repository": "",
    "build_info_url": "", "appversion": "", "repository": "", "package_type": "", "packages": "", "configDir": "",
    "bake_id": "{{env ` + "`BAKEHOUSE_BAKE_ID`" + `}}"},
  "builders": [{"type": "docker", "image": "{{user ` + "`docker_source_image`" + `}}", "pull": false, "discard": true,
    "run_command": ["-d", "-i", "-t", "--network=none", "--label", "io.bakehouse.managed=true", "--label", "io.bakehouse.bake-id={{user ` + "`bake_id`" + `}}", "--entrypoint=/bin/sh", "--", "{{.Image}}"]}],
  "provisioners": [{"type": "shell", "inline": ["echo slow-start", "sleep 300"]}]
}`

func writeTemplate(t *testing.T, srv *server, name, body string) {
	t.Helper()
	if err := writeFile(srv.dataDir+"/templates/"+name, body); err != nil {
		t.Fatal(err)
	}
}

// waitLog waits until a bake's log contains s.
func waitLog(t *testing.T, srv *server, id, s string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		var l struct {
			LogsContent string `json:"logsContent"`
		}
		call(t, "GET", srv.url+"/api/v1/global/logs/"+id, nil, &l)
		if strings.Contains(l.LogsContent, s) {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("bake %s log never showed %q:\n%s", id, s, logsOf(t, srv, id))
}

func labelledContainers(t *testing.T, id string) string {
	out, _ := exec.Command("docker", "ps", "-aq", "--filter", "label=io.bakehouse.bake-id="+id).Output()
	return strings.TrimSpace(string(out))
}

// TestCancelStopsPacker cancels a running bake: Packer gets SIGINT and
// cleans up, the bake ends CANCELED/FAILURE, nothing is left behind.
func TestCancelStopsPacker(t *testing.T) {
	needBakeTools(t)
	srv := startServer(t, t.TempDir(), "bakehouse:\n  cancelGrace: 20s\n", nil)
	writeTemplate(t, srv, "slow.json", slowTemplate)
	upload(t, srv, sampleDeb(t, "0.5.0-h5.c4baff4"))
	var st status
	code, body, _ := call(t, "POST", srv.url+"/api/v1/global/bake", with(helloRequest, "template_file_name", "slow.json"), &st)
	if code != 200 {
		t.Fatalf("bake: %d %s", code, body)
	}
	waitLog(t, srv, st.ID, "slow-start", 2*time.Minute)
	start := time.Now()
	code, body, _ = call(t, "GET", srv.url+"/api/v1/global/cancel/"+st.ID, nil, nil)
	if code != 200 || string(body) != "Canceled bake '"+st.ID+"'." {
		t.Fatalf("cancel: %d %q", code, body)
	}
	final := waitDone(t, srv, st.ID, time.Minute)
	if final.State != "CANCELED" || *final.Result != "FAILURE" {
		t.Fatalf("canceled bake is %s", final)
	}
	// The bake's record ends at once; Packer's own cleanup follows.
	deadline := time.Now().Add(40 * time.Second)
	for labelledContainers(t, st.ID) != "" && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	if c := labelledContainers(t, st.ID); c != "" {
		t.Fatalf("build container %s still there %s after cancel", c, time.Since(start))
	}
	waitLog(t, srv, st.ID, "canceled", 10*time.Second)
	code, _, _ = call(t, "GET", srv.url+"/api/v1/global/cancel/"+st.ID, nil, nil)
	if code != 400 {
		t.Fatalf("second cancel: %d, want 400", code)
	}
}

// TestFailingPackerEndsCanceledFailure runs a template whose provisioner
// fails: the bake ends CANCELED/FAILURE with Packer's output in its log.
func TestFailingPackerEndsCanceledFailure(t *testing.T) {
	needBakeTools(t)
	srv := startServer(t, t.TempDir(), "", nil)
	writeTemplate(t, srv, "fail.json", strings.Replace(slowTemplate, `"echo slow-start", "sleep 300"`, `"echo about-to-fail", "exit 7"`, 1))
	var st status
	call(t, "POST", srv.url+"/api/v1/global/bake", with(helloRequest, "template_file_name", "fail.json", "package", "armory-hello-deploy_0.5.0-h5.c4baff4_all"), &st)
	final := waitDone(t, srv, st.ID, 2*time.Minute)
	if final.State != "CANCELED" || *final.Result != "FAILURE" {
		t.Fatalf("failing bake ended %s", final)
	}
	logs := logsOf(t, srv, st.ID)
	for _, want := range []string{"about-to-fail", "exited with code 1", "packer exited"} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
	// A failed bake is not reused.
	var again status
	call(t, "POST", srv.url+"/api/v1/global/bake", with(helloRequest, "template_file_name", "fail.json", "package", "armory-hello-deploy_0.5.0-h5.c4baff4_all"), &again)
	if again.ID == st.ID {
		t.Fatalf("a failed bake was reused")
	}
	waitDone(t, srv, again.ID, 2*time.Minute)
}

// TestDockerEngineDown fails the bake with a message saying so.
func TestDockerEngineDown(t *testing.T) {
	if _, err := exec.LookPath("packer"); err != nil {
		t.Skip("packer not installed")
	}
	if _, err := exec.LookPath("docker"); err != nil {
		t.Skip("docker CLI not installed")
	}
	srv := startServer(t, t.TempDir(), "", map[string]string{"DOCKER_HOST": "unix://" + t.TempDir() + "/nothing.sock"})
	var st status
	code, body, _ := call(t, "POST", srv.url+"/api/v1/global/bake", with(helloRequest, "package", "armory-hello-deploy_0.5.0-h5.c4baff4_all"), &st)
	if code != 200 {
		// Keying needs the base image id: a down engine may already fail here.
		if !strings.Contains(string(body), "Docker engine") {
			t.Fatalf("bake with the engine down: %d %s", code, body)
		}
		return
	}
	final := waitDone(t, srv, st.ID, time.Minute)
	if final.State != "CANCELED" || *final.Result != "FAILURE" {
		t.Fatalf("bake with the engine down ended %s", final)
	}
	if logs := logsOf(t, srv, st.ID); !strings.Contains(logs, "not reachable") {
		t.Fatalf("log does not say the engine is down:\n%s", logs)
	}
}

// TestBakeTimeout ends a bake that runs past bakehouse.bakeTimeout.
func TestBakeTimeout(t *testing.T) {
	needBakeTools(t)
	srv := startServer(t, t.TempDir(), "bakehouse:\n  bakeTimeout: 4s\n  cancelGrace: 20s\n", nil)
	writeTemplate(t, srv, "slow.json", slowTemplate)
	upload(t, srv, sampleDeb(t, "0.5.0-h5.c4baff4"))
	var st status
	call(t, "POST", srv.url+"/api/v1/global/bake", with(helloRequest, "template_file_name", "slow.json", "ami_name", "timeout-test"), &st)
	final := waitDone(t, srv, st.ID, 2*time.Minute)
	if final.State != "CANCELED" || *final.Result != "FAILURE" {
		t.Fatalf("timed-out bake ended %s", final)
	}
	if logs := logsOf(t, srv, st.ID); !strings.Contains(logs, "timed out after 4s") {
		t.Fatalf("log does not say the bake timed out:\n%s", logs)
	}
}

// TestFollowLogs streams a running bake's log and ends when the bake ends.
func TestFollowLogs(t *testing.T) {
	needBakeTools(t)
	srv := startServer(t, t.TempDir(), "", nil)
	writeTemplate(t, srv, "slow.json", slowTemplate)
	upload(t, srv, sampleDeb(t, "0.5.0-h5.c4baff4"))
	var st status
	call(t, "POST", srv.url+"/api/v1/global/bake", with(helloRequest, "template_file_name", "slow.json", "ami_name", "follow-test"), &st)
	resp, err := http.Get(srv.url + "/api/v1/global/logs/" + st.ID + "?follow=1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	lines := make(chan string, 1000)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	// Lines arrive while the bake runs...
	deadline := time.After(2 * time.Minute)
	for seen := false; !seen; {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("log stream ended before the bake did")
			}
			seen = strings.Contains(l, "slow-start")
		case <-deadline:
			t.Fatalf("no live log line")
		}
	}
	if s := waitDoneNoWait(t, srv, st.ID); s.State != "RUNNING" {
		t.Fatalf("bake not running while streamed: %s", s)
	}
	// ...and the stream ends once it is canceled.
	call(t, "GET", srv.url+"/api/v1/global/cancel/"+st.ID, nil, nil)
	var last string
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				if !strings.Contains(last, "canceled") {
					t.Fatalf("stream ended without the final line, last %q", last)
				}
				return
			}
			if strings.TrimSpace(l) != "" {
				last = l
			}
		case <-time.After(time.Minute):
			t.Fatalf("log stream did not end after cancel")
		}
	}
}

func waitDoneNoWait(t *testing.T, srv *server, id string) status {
	var st status
	call(t, "GET", srv.url+"/api/v1/global/status/"+id, nil, &st)
	return st
}
