package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// tickerTemplate is a bake that prints a line with the time it was printed
// (nanoseconds) every 0.3 s for two minutes, so that a follower can tell
// how late each line reaches it.
const tickerTemplate = `{
  "variables": {"docker_source_image": "", "docker_target_image": "", "docker_target_image_tag": "", "docker_target_repository": "",
    "build_info_url": "", "appversion": "", "repository": "", "package_type": "", "packages": "", "configDir": "",
    "bake_id": "{{env ` + "`BAKEHOUSE_BAKE_ID`" + `}}"},
  "builders": [{"type": "docker", "image": "{{user ` + "`docker_source_image`" + `}}", "pull": false, "discard": true,
    "run_command": ["-d", "-i", "-t", "--network=none", "--label", "io.bakehouse.managed=true", "--label", "io.bakehouse.bake-id={{user ` + "`bake_id`" + `}}", "--entrypoint=/bin/sh", "--", "{{.Image}}"]}],
  "provisioners": [{"type": "shell", "inline": ["i=0; while [ $i -lt 400 ]; do echo tick-$i-$(date +%s%N); i=$((i+1)); sleep 0.3; done"]}]
}`

// runningOn waits until a Packer process of bake id runs and returns the
// index of the node whose process started it.
func (c *cluster) runningOn(t *testing.T, id string, within time.Duration) int {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		for _, pid := range bakeProcesses(id) {
			ppid := parentOf(pid)
			for i, nd := range c.nodes {
				nd.mu.Lock()
				p := nd.cmd.Process.Pid
				nd.mu.Unlock()
				if ppid == p {
					return i
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no node runs a Packer process for bake %s after %v", id, within)
	return -1
}

// parentOf is the parent pid of pid, 0 when it is gone.
func parentOf(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// pid (comm) state ppid ...: comm may hold spaces, so cut at its ')'.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	if len(f) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(f[1])
	return ppid
}

// tick is a line of tickerTemplate that reached a follower.
type tick struct {
	n    int
	late time.Duration
}

// followTicks follows bake id's log on srvURL and sends each tick line,
// with how late it arrived; the channel closes when the stream ends.
func followTicks(t *testing.T, srvURL, id string) (<-chan tick, <-chan string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, "GET", srvURL+"/api/v1/global/logs/"+id+"?follow=1", nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 200 {
		t.Fatalf("follow on %s: %d", srvURL, res.StatusCode)
	}
	ticks, all := make(chan tick, 1000), make(chan string, 10000)
	go func() {
		defer close(ticks)
		defer close(all)
		defer res.Body.Close()
		sc := bufio.NewScanner(res.Body)
		for sc.Scan() {
			line := sc.Text()
			all <- line
			_, rest, ok := strings.Cut(line, "tick-")
			if !ok {
				continue
			}
			var n int
			var ns int64
			if _, err := fmt.Sscanf(strings.ReplaceAll(rest, "-", " "), "%d %d", &n, &ns); err == nil {
				ticks <- tick{n: n, late: time.Since(time.Unix(0, ns))}
			}
		}
	}()
	return ticks, all
}

// TestClusterFollowAndCancel runs a bake on one node of three separate
// serve processes on one database, follows its log on another node (C)
// and cancels it on the third (B): (a) the Packer lines of the bake reach
// the follower on C while the bake runs, each within 2 s of being printed;
// (b) the cancel sent to B stops the Packer process on the running node
// within 20 s, the bake ends CANCELED, its log says so on every node, and
// the follower's stream ends.
func TestClusterFollowAndCancel(t *testing.T) {
	needBakeTools(t)
	c := newCluster(t, 3, clusterConfig{Config: "bakehouse:\n  concurrency: 1\n"})
	c.upload(t, sampleDeb(t, "0.5.0-h5.c4baff4"))
	c.writeTemplate(t, "ticker.json", tickerTemplate)

	var st status
	if code, body, _ := call(t, "POST", c.nodes[0].url+"/api/v1/global/bake", with(helloRequest, "template_file_name", "ticker.json"), &st); code != 200 {
		t.Fatalf("bake: %d %s", code, body)
	}
	cleanupBake(t, st.ID)
	a := c.runningOn(t, st.ID, 3*time.Minute)
	others := slices.DeleteFunc([]int{0, 1, 2}, func(i int) bool { return i == a })
	b, cn := c.nodes[others[0]], c.nodes[others[1]]
	t.Logf("bake %s runs on %s; following on %s, canceling on %s", st.ID, c.nodes[a].name, cn.name, b.name)

	// (a) Live lines on C: ticks printed after the follow started.
	ticks, all := followTicks(t, cn.url, st.ID)
	var lates []time.Duration
	first := -1
	timeout := time.After(2 * time.Minute)
	for len(lates) < 15 {
		select {
		case tk, ok := <-ticks:
			if !ok {
				t.Fatalf("the follow on %s ended while the bake ran", cn.name)
			}
			if first < 0 {
				first = tk.n // may be a line printed before the follow
				continue
			}
			lates = append(lates, tk.late)
		case <-timeout:
			t.Fatalf("%d tick lines reached the follower on %s in 2 minutes", len(lates), cn.name)
		}
	}
	var running status
	call(t, "GET", cn.url+"/api/v1/global/status/"+st.ID, nil, &running)
	if running.State != "RUNNING" {
		t.Fatalf("bake is %s after its lines were followed, want RUNNING (the lines must come while it runs)", running.State)
	}
	sort.Slice(lates, func(i, j int) bool { return lates[i] < lates[j] })
	t.Logf("Packer line on %s -> follower on %s: p50 %v, max %v (%d lines)", c.nodes[a].name, cn.name,
		lates[len(lates)/2].Round(time.Millisecond), lates[len(lates)-1].Round(time.Millisecond), len(lates))
	if worst := lates[len(lates)-1]; worst > 2*time.Second {
		t.Errorf("a line took %v from Packer on %s to the follower on %s, want <= 2s", worst, c.nodes[a].name, cn.name)
	}

	// (b) Cancel on B stops Packer on A.
	sent := time.Now()
	if code, body, _ := call(t, "GET", b.url+"/api/v1/global/cancel/"+st.ID, nil, nil); code != 200 {
		t.Fatalf("cancel on %s: %d %s", b.name, code, body)
	}
	for len(bakeProcesses(st.ID)) > 0 {
		if time.Since(sent) > 20*time.Second {
			t.Fatalf("Packer processes %v of bake %s still run on %s 20 s after the cancel on %s", bakeProcesses(st.ID), st.ID, c.nodes[a].name, b.name)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("cancel on %s -> Packer on %s gone after %v", b.name, c.nodes[a].name, time.Since(sent).Round(time.Millisecond))
	final := waitDone(t, c.nodes[a].server, st.ID, 30*time.Second)
	if final.State != "CANCELED" || final.Result == nil || *final.Result != "FAILURE" {
		t.Fatalf("bake after the cancel: %s, want CANCELED/FAILURE", final)
	}
	var rest []string
	deadline := time.After(30 * time.Second)
drain:
	for {
		select {
		case line, ok := <-all:
			if !ok {
				break drain
			}
			rest = append(rest, line)
		case <-deadline:
			t.Fatalf("the follow on %s did not end within 30 s of the cancel", cn.name)
		}
	}
	tail := strings.Join(rest, "\n")
	if want := "Bake " + st.ID + " canceled: canceled by request"; !strings.Contains(tail, want) {
		t.Errorf("the follower on %s did not get %q:\n%s", cn.name, want, tail)
	}
	for _, nd := range c.nodes {
		if log := logsOf(t, nd.server, st.ID); !strings.Contains(log, "Bake canceled by request.") || !strings.Contains(log, "tick-") {
			t.Errorf("the log on %s lacks Packer's lines or the cancel:\n%s", nd.name, log)
		}
	}
}
