package main

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bakehouse/bakehouse/pipeline"
	"github.com/bakehouse/bakehouse/templates"
)

// signal sends sig to the node's process.
func (nd *node) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	nd.mu.Lock()
	cmd := nd.cmd
	nd.mu.Unlock()
	if err := cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
}

// TestClusterCancelWhileDriverDies: node n0 drives a run and hangs (its
// database sessions, and the run's lock, stay open; it answers no
// NOTIFY), then dies. A cancel sent to n1 meanwhile is answered at once
// and kept on the run; n1 takes the run over once n0's lock is gone and
// cancels it with the user's reason, and the next stage never starts.
func TestClusterCancelWhileDriverDies(t *testing.T) {
	if testing.Short() {
		t.Skip("starts bakehouse serve processes")
	}
	c := newCluster(t, 2, clusterConfig{})
	n0, n1 := c.nodes[0], c.nodes[1]
	const p = `{"application": "app", "name": "long", "stages": [
	  {"refId": "1", "type": "wait", "name": "Long wait", "waitTime": 600},
	  {"refId": "2", "type": "wait", "name": "After", "waitTime": 0, "requisiteStageRefIds": ["1"]}]}`
	if code, body, _ := call(t, "POST", n0.url+"/pipelines", p, nil); code != 200 {
		t.Fatalf("save: %d %s", code, body)
	}
	var ref struct{ Ref string }
	if code, body, _ := call(t, "POST", n0.url+"/pipelines/app/long", `{"type":"manual","user":"anna"}`, &ref); code != 202 {
		t.Fatalf("start: %d %s", code, body)
	}
	id := strings.TrimPrefix(ref.Ref, "/pipelines/")
	var e pipeline.Execution
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		call(t, "GET", n1.url+"/pipelines/"+id, nil, &e)
		if s := stageNamed(&e, "Long wait"); s != nil && s.Status == pipeline.Running {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the run did not start: %s\n%s", e.Status, n0.log())
		}
	}
	n0.signal(t, syscall.SIGSTOP)
	start := time.Now()
	if code, body, _ := call(t, "PUT", n1.url+"/pipelines/"+id+"/cancel?reason=n0+hangs", nil, nil); code != 200 {
		t.Fatalf("cancel on n1 while n0 hangs: %d %s after %s", code, body, time.Since(start))
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("the cancel took %s", d)
	}
	call(t, "GET", n1.url+"/pipelines/"+id, nil, &e)
	if e.Status != pipeline.Running || !e.Canceled || e.CancelReason != "n0 hangs" {
		t.Fatalf("run after the cancel: %s canceled=%v reason %q", e.Status, e.Canceled, e.CancelReason)
	}
	n0.signal(t, syscall.SIGKILL)
	got := waitRun(t, n1.server, id, 30*time.Second)
	if got.Status != pipeline.Canceled || got.CancelReason != "n0 hangs" || !strings.Contains(n1.log(), "resuming execution") {
		t.Fatalf("run %s (reason %q) after n0 died; n1:\n%s", got.Status, got.CancelReason, n1.log())
	}
	if s := stageNamed(got, "After"); s == nil || s.Status != pipeline.NotStarted {
		t.Fatalf("stage After: %+v", s)
	}
}

// TestClusterPipelineBakeNodeDies: a pipeline's bake runs on a node that
// is killed with kill -9. If that node drove the run too, the other node
// takes the run over and submits the bake again, which joins the dead
// node's bake (still RUNNING until the live nodes notice the death); else
// the driving node was waiting for that bake. Either way the bake ends
// CANCELED because its node died, and the Bake stage submits it again,
// once, instead of failing: the run succeeds. The template is slow until
// a deadline (bakes started before it stay in Packer), then fast, and the
// same on both nodes, so that the resubmitted request has the dead bake's
// key.
func TestClusterPipelineBakeNodeDies(t *testing.T) {
	needBakeTools(t)
	c := newCluster(t, 2, clusterConfig{})
	deadline := time.Now().Add(2 * time.Minute)
	tpl, err := templates.Read(templates.DockerTemplate)
	if err != nil {
		t.Fatal(err)
	}
	c.writeTemplate(t, "pipe.json", strings.Replace(string(tpl), `"provisioners": [`, fmt.Sprintf(`"provisioners": [
	  {"type": "shell", "inline": ["echo slow-start", "while [ $(date +%%s) -lt %d ]; do sleep 1; done"]},`, deadline.Unix()), 1))
	c.upload(t, sampleDeb(t, "0.5.0-h5.c4baff4"))
	n0 := c.nodes[0]
	p := strings.Replace(helloPipeline, `"region": "global",`, `"region": "global", "templateFileName": "pipe.json",`, 1)
	if code, body, _ := call(t, "POST", n0.url+"/pipelines", p, nil); code != 200 {
		t.Fatalf("save: %d %s", code, body)
	}
	var ref struct{ Ref string }
	if code, body, _ := call(t, "POST", n0.url+"/pipelines/armory/hello", `{"type":"manual","buildInfo":{"artifacts":[{"fileName":"armory-hello-deploy_0.5.0-h5.c4baff4_all.deb"}]}}`, &ref); code != 202 {
		t.Fatalf("start: %d %s", code, body)
	}
	id := strings.TrimPrefix(ref.Ref, "/pipelines/")
	var bakeID string
	for until := time.Now().Add(2 * time.Minute); bakeID == ""; time.Sleep(100 * time.Millisecond) {
		var e pipeline.Execution
		call(t, "GET", n0.url+"/pipelines/"+id, nil, &e)
		if s := stageNamed(&e, "Bake in global"); s != nil {
			if st, ok := s.Context["status"].(map[string]any); ok {
				bakeID = fmt.Sprint(st["id"])
			}
		}
		if time.Now().After(until) {
			t.Fatalf("the run never submitted its bake: %+v", e)
		}
	}
	cleanupBake(t, bakeID)
	dead := c.runner(t, bakeID, time.Minute)
	waitLog(t, dead.server, bakeID, "slow-start", 2*time.Minute)
	if time.Now().After(deadline.Add(-40 * time.Second)) {
		t.Fatalf("the bake took until %s to start: too close to the template's deadline", time.Now().UTC())
	}
	other := c.nodes[1]
	if dead == other {
		other = n0
	}
	t.Logf("the bake runs on %s (the run's driver is n0): kill -9 of %s", dead.name, dead.name)
	dead.kill9(t)
	e := waitRun(t, other.server, id, 8*time.Minute)
	s := stageNamed(e, "Bake in global")
	if e.Status != pipeline.Succeeded || s == nil || s.Context[pipeline.ContextResubmitted] != bakeID ||
		!strings.Contains(fmt.Sprint(s.Context["messages"]), "ended because the node that ran it died") {
		t.Fatalf("run %s after the bake's node (%s, driver n0) died; bake stage: %+v\n%s:\n%s", e.Status, dead.name, s, other.name, other.log())
	}
	if dead == n0 && !strings.Contains(other.log(), "resuming execution") {
		t.Fatalf("%s did not take the run over:\n%s", other.name, other.log())
	}
	mustSucceed(t, e)
}
