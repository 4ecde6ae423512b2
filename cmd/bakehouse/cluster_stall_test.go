package main

import (
	"strings"
	"syscall"
	"testing"
	"time"
)

// stallTemplate is a docker bake whose Packer succeeds 25 s after it
// logs slow-start: a node stalled for 12 s and resumed could still finish
// it, were it not stopped.
var stallTemplate = strings.Replace(slowTemplate, `"sleep 300"`, `"sleep 25", "echo slow-end"`, 1)

// TestClusterStalledNode: the serve process running a bake is stopped
// (SIGSTOP) while its Packer goes on, so it writes no heartbeat; another
// node ends the bake, taking it for dead. When the stalled node resumes
// (SIGCONT) it stops that bake's Packer within seconds, never turns the
// ended bake into a success (not even once its Packer would have
// finished), and a new identical request bakes again: nothing is reused
// from the bake that did not finish.
func TestClusterStalledNode(t *testing.T) {
	needBakeTools(t)
	c := newCluster(t, 3, clusterConfig{})
	c.writeTemplate(t, "stall.json", stallTemplate)
	c.upload(t, sampleDeb(t, "0.5.0-h5.c4baff4"))
	req := with(helloRequest, "template_file_name", "stall.json")
	var st status
	if code, body, _ := call(t, "POST", c.nodes[0].url+"/api/v1/global/bake", req, &st); code != 200 {
		t.Fatalf("bake: %d %s", code, body)
	}
	cleanupBake(t, st.ID)
	stalled := c.runner(t, st.ID, time.Minute)
	stalledID := stalled.id(t)
	var other *node
	for _, nd := range c.nodes {
		if nd != stalled {
			other = nd
		}
	}
	waitLog(t, stalled.server, st.ID, "slow-start", 2*time.Minute)
	slowStart := time.Now()
	if len(bakeProcesses(st.ID)) == 0 {
		t.Fatalf("no Packer process of bake %s runs", st.ID)
	}

	stalled.signal(t, syscall.SIGSTOP)
	stopped := time.Now()
	resumed := false
	resume := func() {
		if !resumed {
			resumed = true
			stalled.signal(t, syscall.SIGCONT)
		}
	}
	t.Cleanup(resume)
	for c.queryString(t, `SELECT state FROM bakes WHERE id = $1`, st.ID) == "RUNNING" {
		if time.Since(stopped) > 30*time.Second {
			t.Fatalf("no node ended the bake of stalled node %s within 30s", stalledID)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("another node ended the bake %s after the SIGSTOP", time.Since(stopped).Round(100*time.Millisecond))
	why := c.queryString(t, `SELECT error FROM bakes WHERE id = $1`, st.ID)
	if !strings.Contains(why, "node "+stalledID+", which ran this bake, stopped answering") {
		t.Fatalf("the bake's error does not name the stalled node %s: %q", stalledID, why)
	}
	if len(bakeProcesses(st.ID)) == 0 {
		t.Fatalf("bake %s's Packer is gone while its node is stopped: nothing to check", st.ID)
	}
	time.Sleep(time.Until(stopped.Add(12 * time.Second)))
	resume()
	cont := time.Now()
	for len(bakeProcesses(st.ID)) > 0 {
		if time.Since(cont) > 5*time.Second {
			t.Fatalf("the Packer processes of bake %s still run 5s after node %s resumed: %v\n%s", st.ID, stalledID, bakeProcesses(st.ID), stalled.log())
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("node %s, resumed, stopped the bake's Packer %s after the SIGCONT", stalledID, time.Since(cont).Round(10*time.Millisecond))
	mustLeaveNothing(t, st.ID, 20*time.Second)

	// Past the moment the Packer run would have succeeded, the bake is
	// still the one the other node ended.
	time.Sleep(time.Until(slowStart.Add(35 * time.Second)))
	final := waitDone(t, other.server, st.ID, time.Second)
	if final.State != "CANCELED" || final.Result == nil || *final.Result != "FAILURE" {
		t.Fatalf("bake of the stalled node is %s, want CANCELED/FAILURE", final)
	}
	if now := c.queryString(t, `SELECT error FROM bakes WHERE id = $1`, st.ID); now != why {
		t.Fatalf("the bake's error changed from %q to %q", why, now)
	}
	if logs := logsOf(t, stalled.server, st.ID); strings.Contains(logs, "slow-end") || strings.Contains(logs, "Bake "+st.ID+" completed") {
		t.Fatalf("the stalled node's Packer ran to the end:\n%s", logs)
	}

	var again status
	if code, body, _ := call(t, "POST", stalled.url+"/api/v1/global/bake", req, &again); code != 200 || again.ID == st.ID || again.State != "RUNNING" {
		t.Fatalf("a new identical request after the stall: %d %s, want a new RUNNING bake", code, body)
	}
	cleanupBake(t, again.ID)
	call(t, "GET", other.url+"/api/v1/global/cancel/"+again.ID, nil, nil)
}
