package main

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bakehouse/bakehouse/jenkins/jenkinstest"
	"github.com/bakehouse/bakehouse/pipeline"
	"github.com/bakehouse/bakehouse/postgres/pgtest"
)

const pollerLeads = "this node polls Jenkins"

// TestPipelineNodesOneRunPerBuild: two nodes on one PostgreSQL database
// watch one Jenkins job. One of them polls (it holds the leader's lock); a
// new build, polled by it and notified to both nodes at the same moment,
// starts one run. When the leader stops, the other node polls, and the
// next build starts one run too.
func TestPipelineNodesOneRunPerBuild(t *testing.T) {
	jk := jenkinstest.New(t, "ci-user", "ci-token-secret")
	jk.AddBuild(jenkinstest.ArmoryJob, jenkinstest.Build{Number: 5, Result: "SUCCESS"})
	cfg := jenkinsServeConfig(jk) + "  database: " + pgtest.URL(t) + "\n"
	a := startServer(t, t.TempDir(), cfg, nil)
	b := startServer(t, t.TempDir(), cfg, nil)
	const p = `{"application": "armory", "name": "nodes",
	  "triggers": [{"type": "jenkins", "enabled": true, "master": "ci", "job": "armory/job/armory-hello-deploy/job/master"}],
	  "stages": [{"refId": "1", "type": "wait", "name": "Wait", "waitTime": 0}]}`
	if code, body, _ := call(t, "POST", a.url+"/pipelines", p, nil); code != 200 {
		t.Fatalf("save: %d %s", code, body)
	}
	runs := func() []*pipeline.Execution {
		var es []*pipeline.Execution
		call(t, "GET", b.url+"/applications/armory/pipelines", nil, &es)
		return es
	}
	waitLog := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(15 * time.Second); !ok(); time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s\nnode a:\n%s\nnode b:\n%s", what, a.stderr.String(), b.stderr.String())
			}
		}
	}
	waitLog("no node polls Jenkins", func() bool {
		return strings.Contains(a.stderr.String(), pollerLeads) || strings.Contains(b.stderr.String(), pollerLeads)
	})
	waitLog("the first poll did not record the job's cursor", func() bool {
		return strings.Contains(a.stderr.String()+b.stderr.String(), "jenkins job watched")
	})
	time.Sleep(time.Second) // several poll intervals: the other node stays idle
	if strings.Contains(a.stderr.String(), pollerLeads) == strings.Contains(b.stderr.String(), pollerLeads) {
		t.Fatalf("both nodes, or neither, poll Jenkins\nnode a:\n%s\nnode b:\n%s", a.stderr.String(), b.stderr.String())
	}
	leader, other := a, b
	if strings.Contains(b.stderr.String(), pollerLeads) {
		leader, other = b, a
	}

	payload, err := os.ReadFile("../../jenkins/testdata/notification/master-5-finalized.json")
	if err != nil {
		t.Fatal(err)
	}
	build := func(n int) {
		t.Helper()
		jk.AddBuild(jenkinstest.ArmoryJob, jenkinstest.Build{Number: n, Result: "SUCCESS"})
		body := strings.ReplaceAll(string(payload), "/master/5/", fmt.Sprintf("/master/%d/", n))
		body = strings.Replace(body, `"number": 5`, fmt.Sprintf(`"number": %d`, n), 1)
		// The Notification plugin may reach any node: both at once.
		var wg sync.WaitGroup
		for _, s := range []*server{a, b} {
			if s.cancel == nil {
				continue // stopped
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				if code, raw, _ := call(t, "POST", s.url+"/webhooks/jenkins/ci", body, nil); code != 202 {
					t.Errorf("webhook: %d %s", code, raw)
				}
			}()
		}
		wg.Wait()
	}
	ofBuild := func(n int) (count int) {
		for _, e := range runs() {
			if fmt.Sprint(e.Trigger["buildNumber"]) == fmt.Sprint(n) {
				count++
			}
		}
		return count
	}
	build(6)
	time.Sleep(2 * time.Second) // ten poll intervals of the leader
	if n := ofBuild(6); n != 1 {
		t.Fatalf("build 6 started %d runs, want 1", n)
	}

	leader.stop(t)
	waitLog("the other node did not take over polling", func() bool { return strings.Contains(other.stderr.String(), pollerLeads) })
	build(7)
	time.Sleep(2 * time.Second)
	if n := ofBuild(7); n != 1 {
		t.Fatalf("build 7 started %d runs after the leader stopped, want 1", n)
	}
}

// TestPipelineRunMovesToLiveNode: a run started on node A is driven by A
// alone (node B, started meanwhile, does not resume it); when A stops,
// B takes it over within its sweep and finishes it.
func TestPipelineRunMovesToLiveNode(t *testing.T) {
	cfg := "bakehouse:\n  database: " + pgtest.URL(t) + "\n"
	a := startServer(t, t.TempDir(), cfg, nil)
	// Long enough that node a, slow to let go under load, does not finish
	// the wait before it stops.
	const p = `{"application": "app", "name": "long", "stages": [
	  {"refId": "1", "type": "wait", "name": "Long wait", "waitTime": 20},
	  {"refId": "2", "type": "wait", "name": "After", "waitTime": 0, "requisiteStageRefIds": ["1"]}]}`
	if code, body, _ := call(t, "POST", a.url+"/pipelines", p, nil); code != 200 {
		t.Fatalf("save: %d %s", code, body)
	}
	var ref struct{ Ref string }
	if code, body, _ := call(t, "POST", a.url+"/pipelines/app/long", `{"type":"manual","user":"anna"}`, &ref); code != 202 {
		t.Fatalf("start: %d %s", code, body)
	}
	id := strings.TrimPrefix(ref.Ref, "/pipelines/")
	b := startServer(t, t.TempDir(), cfg, nil)
	time.Sleep(time.Second)
	if strings.Contains(b.stderr.String(), "resuming execution") {
		t.Fatalf("node b resumed the run node a drives:\n%s", b.stderr.String())
	}
	a.stop(t)
	e := waitRun(t, b, id, time.Minute)
	if e.Status != pipeline.Succeeded || !strings.Contains(b.stderr.String(), "resuming execution") {
		t.Fatalf("run %s after node a stopped; node b:\n%s", e.Status, b.stderr.String())
	}
	if s := stageNamed(e, "After"); s == nil || s.Status != pipeline.Succeeded {
		t.Fatalf("stage After: %+v", s)
	}
}

// TestPipelineCancelOnOtherNode: a cancel sent to node B for a run that
// node A drives is stored on the run and reaches A (NOTIFY, or A's next
// save), which cancels it: the run ends CANCELED, and the next stage never
// starts.
func TestPipelineCancelOnOtherNode(t *testing.T) {
	cfg := "bakehouse:\n  database: " + pgtest.URL(t) + "\n"
	a := startServer(t, t.TempDir(), cfg, nil)
	b := startServer(t, t.TempDir(), cfg, nil)
	const p = `{"application": "app", "name": "long", "stages": [
	  {"refId": "1", "type": "wait", "name": "Long wait", "waitTime": 600},
	  {"refId": "2", "type": "wait", "name": "After", "waitTime": 0, "requisiteStageRefIds": ["1"]}]}`
	if code, body, _ := call(t, "POST", a.url+"/pipelines", p, nil); code != 200 {
		t.Fatalf("save: %d %s", code, body)
	}
	var ref struct{ Ref string }
	if code, body, _ := call(t, "POST", a.url+"/pipelines/app/long", `{"type":"manual","user":"anna"}`, &ref); code != 202 {
		t.Fatalf("start: %d %s", code, body)
	}
	id := strings.TrimPrefix(ref.Ref, "/pipelines/")
	if code, body, _ := call(t, "PUT", b.url+"/pipelines/"+id+"/cancel?reason=moved", nil, nil); code != 200 {
		t.Fatalf("cancel on node b: %d %s", code, body)
	}
	// The cancel is stored on the run when node b answers; node a applies
	// it at once.
	var e pipeline.Execution
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		call(t, "GET", b.url+"/pipelines/"+id, nil, &e)
		if !e.Canceled {
			t.Fatalf("node b answered before it stored the cancel: %+v", e)
		}
		if e.Status.Complete() || time.Now().After(deadline) {
			break
		}
	}
	// Node a, which drives the run, ends it (told by NOTIFY, or by its
	// next save, whichever comes first); node b does not take it.
	if e.Status != pipeline.Canceled || e.CancelReason != "moved" || !strings.Contains(a.stderr.String(), "status=CANCELED") ||
		strings.Contains(b.stderr.String(), "execution ended") {
		t.Fatalf("after the cancel on node b: %s (reason %q); node a:\n%s\nnode b:\n%s", e.Status, e.CancelReason, a.stderr.String(), b.stderr.String())
	}
	if s := stageNamed(&e, "After"); s == nil || s.Status != pipeline.NotStarted {
		t.Fatalf("stage After: %+v", s)
	}
}
