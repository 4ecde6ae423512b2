package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bakehouse/bakehouse/jenkins/jenkinstest"
	"github.com/bakehouse/bakehouse/pipeline"
	"github.com/bakehouse/bakehouse/templates"
)

// helloPipeline is the user's guide's pipeline on the docker provider: a
// Jenkins trigger on the armory job, a Bake stage naming only the
// package's base name, and a deploy stage Bakehouse does not run.
const helloPipeline = `{
  "application": "armory", "name": "hello",
  "triggers": [{"type": "jenkins", "enabled": true, "master": "ci", "job": "armory/job/armory-hello-deploy/job/master", "propertyFile": "build.properties"}],
  "stages": [
    {"refId": "1", "requisiteStageRefIds": [], "type": "bake", "name": "Bake", "package": "armory-hello-deploy",
     "baseOs": "bookworm", "cloudProviderType": "docker", "region": "global", "user": "test@example.com", "extendedAttributes": {}},
    {"refId": "2", "requisiteStageRefIds": ["1"], "type": "deploy", "name": "Deploy", "clusters": []}
  ],
  "notifications": [], "keepWaitingPipelines": false, "limitConcurrent": true, "updateTs": "1490721160000"
}`

func jenkinsServeConfig(jk *jenkinstest.Server) string {
	return fmt.Sprintf("jenkins:\n  enabled: true\n  masters:\n  - name: ci\n    address: %s\n    username: ci-user\n    password: ci-token-secret\nbakehouse:\n  jenkinsPollInterval: 200ms\n", jk.URL())
}

// waitRun polls GET /pipelines/{id} until the execution is complete.
func waitRun(t *testing.T, srv *server, id string, timeout time.Duration) *pipeline.Execution {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var e pipeline.Execution
		code, body, _ := call(t, "GET", srv.url+"/pipelines/"+id, nil, &e)
		if code != 200 {
			t.Fatalf("GET /pipelines/%s: %d %s", id, code, body)
		}
		if e.Status.Complete() {
			return &e
		}
		if time.Now().After(deadline) {
			t.Fatalf("execution %s still %s after %s: %s", id, e.Status, timeout, body)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func stageNamed(e *pipeline.Execution, name string) *pipeline.Stage {
	for _, s := range e.Stages {
		if s.Name == name {
			return s
		}
	}
	return nil
}

func runPipeline(t *testing.T, srv *server, trigger string) *pipeline.Execution {
	t.Helper()
	var ref struct{ Ref string }
	code, body, _ := call(t, "POST", srv.url+"/pipelines/armory/hello", trigger, &ref)
	if code != 202 || !strings.HasPrefix(ref.Ref, "/pipelines/") {
		t.Fatalf("start: %d %s", code, body)
	}
	return waitRun(t, srv, strings.TrimPrefix(ref.Ref, "/pipelines/"), 5*time.Minute)
}

func mustSucceed(t *testing.T, e *pipeline.Execution) {
	t.Helper()
	if e.Status != pipeline.Succeeded {
		b, _ := json.MarshalIndent(e, "", "  ")
		t.Fatalf("execution ended %s:\n%s", e.Status, b)
	}
}

// TestPipelineFromJenkinsBuild is the user's guide end to end on docker: a
// new build in the Jenkins double starts the pipeline, its Bake stage
// resolves the package from the build, downloads the archived .deb into
// the bakery's repository and bakes it with the real Packer; a second run
// reuses the bake; a forced rebake bakes again.
func TestPipelineFromJenkinsBuild(t *testing.T) {
	needBakeTools(t)
	deb := sampleDeb(t, "0.5.0-h5.c4baff4")
	jk := jenkinstest.New(t, "ci-user", "ci-token-secret")
	jk.AddBuild(jenkinstest.ArmoryJob, jenkinstest.Build{Number: 4, Result: "SUCCESS"})
	srv := startServer(t, t.TempDir(), jenkinsServeConfig(jk), nil)

	if code, body, _ := call(t, "POST", srv.url+"/pipelines", helloPipeline, nil); code != 200 {
		t.Fatalf("save pipeline: %d %s", code, body)
	}
	// The poller's first look at the job records build 4 without firing.
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	polled := func() bool {
		for _, r := range jk.Requests() {
			if strings.Contains(r, "/job/master/api/json") {
				return true
			}
		}
		return false
	}
	waitFor("the first poll", polled)
	time.Sleep(500 * time.Millisecond)
	var runs []*pipeline.Execution
	call(t, "GET", srv.url+"/applications/armory/pipelines", nil, &runs)
	if len(runs) != 0 {
		t.Fatalf("builds that existed before the trigger started %d runs", len(runs))
	}

	jk.AddBuild(jenkinstest.ArmoryJob, jenkinstest.Build{Number: 5, Result: "SUCCESS",
		ArtifactFiles: map[string]string{"build/" + filepath.Base(deb): deb},
		Artifacts:     map[string][]byte{"build/build.properties": []byte("version=0.5.0-h5.c4baff4\n")},
		SCM:           []jenkinstest.SCM{{Ref: "refs/remotes/origin/master", SHA1: "c4baff4cafe0000000000000000000000000000", RemoteURL: "https://example.com/armory.git"}}})
	waitFor("a run of build 5", func() bool {
		call(t, "GET", srv.url+"/applications/armory/pipelines", nil, &runs)
		return len(runs) == 1
	})
	first := waitRun(t, srv, runs[0].ID, 5*time.Minute)
	mustSucceed(t, first)
	if first.Trigger["type"] != "jenkins" || fmt.Sprint(first.Trigger["buildNumber"]) != "5" {
		t.Fatalf("trigger = %v", first.Trigger)
	}
	if props, _ := first.Trigger["properties"].(map[string]any); props["version"] != "0.5.0-h5.c4baff4" {
		t.Errorf("trigger properties = %v", first.Trigger["properties"])
	}
	child := stageNamed(first, "Bake in global")
	if child == nil || child.Context["bakePackageName"] != "armory-hello-deploy_0.5.0-h5.c4baff4_all" || child.Context["previouslyBaked"] != false {
		t.Fatalf("bake child = %+v", child)
	}
	if msgs := fmt.Sprint(child.Context["messages"]); !strings.Contains(msgs, "Downloaded "+filepath.Base(deb)+" from Jenkins master ci") {
		t.Errorf("the stage does not say it downloaded the package: %v", msgs)
	}
	if d := stageNamed(first, "Deploy"); d.Status != pipeline.Skipped || d.Context["skipReason"] != "stage type deploy is not run by Bakehouse" {
		t.Errorf("deploy stage = %s %v", d.Status, d.Context["skipReason"])
	}
	details, _ := stageNamed(first, "Bake").Outputs["deploymentDetails"].([]any)
	if len(details) != 1 {
		t.Fatalf("deploymentDetails = %v", stageNamed(first, "Bake").Outputs)
	}
	image := fmt.Sprint(child.Context["imageName"])
	out, err := exec.Command("docker", "run", "--rm", "--network=none", image, "hello-deploy").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "hello deploy 0.5.0-h5.c4baff4") {
		t.Fatalf("docker run %s: %v: %s", image, err, out)
	}
	firstBake := fmt.Sprint(child.Context["status"].(map[string]any)["id"])
	// The bakery knows which run asked for the bake (Orca's header).
	var rec map[string]any
	call(t, "GET", srv.url+"/api/v1/bakes/"+firstBake, nil, &rec)
	if req, _ := rec["request"].(map[string]any); req["spinnaker_execution_id"] != first.ID {
		t.Errorf("bake %s was asked for by execution %v, want %s", firstBake, req["spinnaker_execution_id"], first.ID)
	}

	// A manual run of the same build: nothing changed, the bake is reused.
	second := runPipeline(t, srv, `{"type":"manual","user":"anna"}`)
	mustSucceed(t, second)
	c2 := stageNamed(second, "Bake in global")
	if c2.Context["previouslyBaked"] != true || fmt.Sprint(c2.Context["status"].(map[string]any)["id"]) != firstBake || fmt.Sprint(second.Trigger["buildNumber"]) != "5" {
		t.Fatalf("second run's bake: previouslyBaked %v status %v trigger %v", c2.Context["previouslyBaked"], c2.Context["status"], second.Trigger)
	}

	// The Jenkins API token is nowhere: not in the log, the executions
	// or the database.
	db, _ := os.ReadFile(filepath.Join(srv.dataDir, "bakehouse.db"))
	wal, _ := os.ReadFile(filepath.Join(srv.dataDir, "bakehouse.db-wal"))
	_, runsJSON, _ := call(t, "GET", srv.url+"/applications/armory/pipelines", nil, nil)
	for where, text := range map[string]string{"log": srv.stderr.String(), "database": string(db) + string(wal), "executions": string(runsJSON)} {
		if strings.Contains(text, "ci-token-secret") {
			t.Errorf("the Jenkins API token appears in the %s", where)
		}
	}

	// Force Rebake: a new bake.
	third := runPipeline(t, srv, `{"type":"manual","rebake":true}`)
	mustSucceed(t, third)
	c3 := stageNamed(third, "Bake in global")
	if c3.Context["previouslyBaked"] != false || fmt.Sprint(c3.Context["status"].(map[string]any)["id"]) == firstBake {
		t.Fatalf("forced rebake reused: %v", c3.Context)
	}
}

// TestPipelineKill9Resume kills the server (kill -9) while a run's bake
// runs and starts it again: the run carries on, submits its bake again
// and succeeds. The first process bakes with a template that never ends;
// before the restart the operator's template file is made a working one.
func TestPipelineKill9Resume(t *testing.T) {
	needBakeTools(t)
	dataDir := t.TempDir()
	cmd, srv := startProcess(t, dataDir)
	writeTemplate(t, srv, "pipe.json", slowTemplate)
	upload(t, srv, sampleDeb(t, "0.5.0-h5.c4baff4"))
	p := strings.Replace(helloPipeline, `"region": "global",`, `"region": "global", "templateFileName": "pipe.json",`, 1)
	if code, body, _ := call(t, "POST", srv.url+"/pipelines", p, nil); code != 200 {
		t.Fatalf("save: %d %s", code, body)
	}
	var ref struct{ Ref string }
	if code, body, _ := call(t, "POST", srv.url+"/pipelines/armory/hello", `{"type":"manual","buildInfo":{"artifacts":[{"fileName":"armory-hello-deploy_0.5.0-h5.c4baff4_all.deb"}]}}`, &ref); code != 202 {
		t.Fatalf("start: %d %s", code, body)
	}
	id := strings.TrimPrefix(ref.Ref, "/pipelines/")
	var bakeID string
	for deadline := time.Now().Add(2 * time.Minute); bakeID == ""; time.Sleep(100 * time.Millisecond) {
		var e pipeline.Execution
		call(t, "GET", srv.url+"/pipelines/"+id, nil, &e)
		if c := stageNamed(&e, "Bake in global"); c != nil {
			if st, ok := c.Context["status"].(map[string]any); ok {
				bakeID = fmt.Sprint(st["id"])
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the run never submitted its bake: %+v", e)
		}
	}
	cleanupBake(t, bakeID)
	waitLog(t, srv, bakeID, "slow-start", 2*time.Minute)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	tpl, err := templates.Read(templates.DockerTemplate)
	if err != nil {
		t.Fatal(err)
	}
	writeTemplate(t, srv, "pipe.json", string(tpl))

	_, srv2 := startProcess(t, dataDir)
	e := waitRun(t, srv2, id, 5*time.Minute)
	mustSucceed(t, e)
	c := stageNamed(e, "Bake in global")
	if !strings.Contains(fmt.Sprint(c.Context["messages"]), "submitted again") || fmt.Sprint(c.Context["status"].(map[string]any)["id"]) == bakeID {
		t.Fatalf("resumed bake stage: %v", c.Context)
	}
	mustLeaveNothing(t, bakeID, 20*time.Second)
}
