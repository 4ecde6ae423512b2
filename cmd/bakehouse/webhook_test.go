package main

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/bakehouse/bakehouse/jenkins/jenkinstest"
	"github.com/bakehouse/bakehouse/pipeline"
)

// TestJenkinsWebhook: with polling far apart, the Notification plugin's
// POST starts the run of a new build at once; the first notification of a
// job only records where it stands, as the first poll does; a job no
// pipeline watches is acknowledged and ignored.
func TestJenkinsWebhook(t *testing.T) {
	jk := jenkinstest.New(t, "ci-user", "ci-token-secret")
	jk.AddBuild(jenkinstest.ArmoryJob, jenkinstest.Build{Number: 5, Result: "SUCCESS"})
	cfg := strings.Replace(jenkinsServeConfig(jk), "jenkinsPollInterval: 200ms", "jenkinsPollInterval: 1h", 1)
	srv := startServer(t, t.TempDir(), cfg, nil)
	const p = `{"application": "armory", "name": "hooked",
	  "triggers": [{"type": "jenkins", "enabled": true, "master": "ci", "job": "armory/job/armory-hello-deploy/job/master"}],
	  "stages": [{"refId": "1", "type": "wait", "name": "Wait", "waitTime": 0}]}`
	if code, body, _ := call(t, "POST", srv.url+"/pipelines", p, nil); code != 200 {
		t.Fatalf("save: %d %s", code, body)
	}
	payload, err := os.ReadFile("../../jenkins/testdata/notification/master-5-finalized.json")
	if err != nil {
		t.Fatal(err)
	}
	notify := func(n int) map[string]any {
		t.Helper()
		body := strings.ReplaceAll(string(payload), "/master/5/", fmt.Sprintf("/master/%d/", n))
		body = strings.Replace(body, `"number": 5`, fmt.Sprintf(`"number": %d`, n), 1)
		var out map[string]any
		if code, raw, _ := call(t, "POST", srv.url+"/webhooks/jenkins/ci", body, &out); code != 202 {
			t.Fatalf("webhook: %d %s", code, raw)
		}
		return out
	}
	runs := func() []*pipeline.Execution {
		var es []*pipeline.Execution
		call(t, "GET", srv.url+"/applications/armory/pipelines", nil, &es)
		return es
	}
	if out := notify(5); out["polled"] != true || len(runs()) != 0 {
		t.Fatalf("first notification: %v, %d runs; want the job polled and no run (build 5 predates the trigger)", out, len(runs()))
	}
	jk.AddBuild(jenkinstest.ArmoryJob, jenkinstest.Build{Number: 6, Result: "SUCCESS"})
	start := time.Now()
	notify(6)
	notify(6) // COMPLETED and FINALIZED both arrive: one run
	var es []*pipeline.Execution
	for deadline := time.Now().Add(5 * time.Second); len(es) == 0; time.Sleep(20 * time.Millisecond) {
		if es = runs(); time.Now().After(deadline) {
			t.Fatal("no run started by the notification of build 6")
		}
	}
	t.Logf("run started %s after the notification", time.Since(start).Round(time.Millisecond))
	e := waitRun(t, srv, es[0].ID, time.Minute)
	if e.Status != pipeline.Succeeded || fmt.Sprint(e.Trigger["buildNumber"]) != "6" || len(runs()) != 1 {
		t.Fatalf("run %s of build %v; %d runs", e.Status, e.Trigger["buildNumber"], len(runs()))
	}
	// A job no pipeline watches.
	var out map[string]any
	other := strings.ReplaceAll(string(payload), "job/armory/job/armory-hello-deploy/job/master/", "job/other/")
	if code, raw, _ := call(t, "POST", srv.url+"/webhooks/jenkins/ci", other, &out); code != 202 || out["polled"] != false {
		t.Fatalf("unwatched job: %d %s", code, raw)
	}
	if code, raw, _ := call(t, "POST", srv.url+"/webhooks/jenkins/ci", `{"name": 5}`, nil); code != 400 {
		t.Fatalf("bad payload: %d %s", code, raw)
	}
}
