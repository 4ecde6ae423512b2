package http_test

import (
	"bufio"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bakehouse/bakehouse"
	"github.com/bakehouse/bakehouse/bakequeue"
)

// twoNodes are two bakeries on one PostgreSQL database: a runs bakes (its
// queue works), b only serves (its queue is attached, never started).
func twoNodes(t *testing.T) (a, b *env) {
	a = newEnv(t, onStore("postgres"), withQueue(bakequeue.Config{Concurrency: 2}), withInstance("node-a"))
	b = newEnv(t, onDatabase(a.dbURL), withIdleQueue(), withInstance("node-b"))
	a.packer.set(func(p *fakePacker) {
		p.block = true
		p.lines = []string{"==> docker: Creating a temporary directory", "==> docker: Provisioning with shell script"}
	})
	return a, b
}

// follow streams GET logs?follow=1 of bake id from e, one line at a time;
// the channel closes when the stream ends.
func follow(t *testing.T, e *env, id string) <-chan string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, "GET", e.srv.URL+"/api/v1/global/logs/"+id+"?follow=1", nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 200 {
		t.Fatalf("follow: %d", res.StatusCode)
	}
	lines := make(chan string, 100)
	go func() {
		defer close(lines)
		defer res.Body.Close()
		sc := bufio.NewScanner(res.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	return lines
}

// waitLine reads lines until one contains want.
func waitLine(t *testing.T, lines <-chan string, want string, within time.Duration) {
	t.Helper()
	timeout := time.After(within)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("the log stream ended before a line with %q", want)
			}
			if strings.Contains(l, want) {
				return
			}
		case <-timeout:
			t.Fatalf("no line with %q within %v", want, within)
		}
	}
}

// waitClosed waits for the stream's end and returns the lines read meanwhile.
func waitClosed(t *testing.T, lines <-chan string, within time.Duration) []string {
	t.Helper()
	var got []string
	timeout := time.After(within)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				return got
			}
			got = append(got, l)
		case <-timeout:
			t.Fatalf("the log stream did not end within %v (read %q)", within, got)
		}
	}
}

func bakeOn(t *testing.T, e *env, body string) string {
	t.Helper()
	r := e.do("POST", "/api/v1/global/bake", nil, []byte(body))
	if r.status != 200 {
		t.Fatalf("bake: %d %s", r.status, r.body)
	}
	return statusOf(t, r.body).ID
}

// waitCause waits until node a's Packer run of bake id was canceled.
func waitCause(t *testing.T, a *env, id string, within time.Duration) error {
	t.Helper()
	start := time.Now()
	for a.packer.cause(id) == nil {
		if time.Since(start) > within {
			t.Fatalf("the Packer run of bake %s on node a was not stopped within %v", id, within)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return a.packer.cause(id)
}

// TestCrossNodeFollowAndCancel: a bake that node a runs is followed on node
// b while it runs (Packer's lines arrive before it ends), a cancel sent to b
// stops the Packer run on a within seconds, the bake ends CANCELED, and
// the follower on b gets the cancel's lines and its stream ends.
func TestCrossNodeFollowAndCancel(t *testing.T) {
	a, b := twoNodes(t)
	id := bakeOn(t, b, `{"package": "kato", "base_os": "ubuntu"}`)
	a.packer.waitStarted(t, id)
	lines := follow(t, b, id)
	start := time.Now()
	waitLine(t, lines, "Provisioning with shell script", 5*time.Second)
	t.Logf("node b's follower had node a's Packer line %v after following", time.Since(start).Round(time.Millisecond))
	if st := b.status(id); st.State != bakehouse.StateRunning {
		t.Fatalf("bake is %s while its Packer runs", st.State)
	}

	sent := time.Now()
	if r := b.do("GET", "/api/v1/global/cancel/"+id, nil, nil); r.status != 200 {
		t.Fatalf("cancel on node b: %d %s", r.status, r.body)
	}
	cause := waitCause(t, a, id, 10*time.Second)
	t.Logf("a cancel sent to node b stopped the Packer run on node a after %v (cause: %v)", time.Since(sent).Round(time.Millisecond), cause)
	if st := a.status(id); st.State != bakehouse.StateCanceled || st.Result == nil || *st.Result != bakehouse.ResultFailure {
		t.Fatalf("bake after the cancel: %+v, want CANCELED/FAILURE", st)
	}
	rest := strings.Join(waitClosed(t, lines, 15*time.Second), "\n")
	t.Logf("node b's follower ended %v after the cancel was sent", time.Since(sent).Round(time.Millisecond))
	for _, want := range []string{"Bake canceled by request.", "Bake " + id + " canceled: canceled by request"} {
		if !strings.Contains(rest, want) {
			t.Errorf("node b's follower lacks %q:\n%s", want, rest)
		}
	}
	if r := a.do("GET", "/api/v1/global/logs/"+id, nil, nil); !strings.Contains(string(r.body), "canceled: canceled by request") {
		t.Errorf("node a's log of the bake: %s", r.body)
	}
}

// TestCrossNodeRebake: a rebake sent to node b supersedes the bake that
// runs on node a: its Packer run stops, and its log says by which bake.
func TestCrossNodeRebake(t *testing.T) {
	a, b := twoNodes(t)
	req := `{"package": "kato", "base_os": "ubuntu"}`
	old := bakeOn(t, a, req)
	a.packer.waitStarted(t, old)
	sent := time.Now()
	r := b.do("POST", "/api/v1/global/bake", map[string]string{"rebake": "1"}, []byte(req))
	if r.status != 200 {
		t.Fatalf("rebake on node b: %d %s", r.status, r.body)
	}
	next := statusOf(t, r.body).ID
	if next == old {
		t.Fatalf("the rebake reused bake %s", old)
	}
	cause := waitCause(t, a, old, 10*time.Second)
	t.Logf("a rebake sent to node b stopped the superseded Packer run on node a after %v (cause: %v)", time.Since(sent).Round(time.Millisecond), cause)
	if st := a.status(old); st.State != bakehouse.StateCanceled {
		t.Fatalf("superseded bake is %s", st.State)
	}
	waitClosed(t, follow(t, b, old), 15*time.Second)
	log := string(b.do("GET", "/api/v1/global/logs/"+old, nil, nil).body)
	if !strings.Contains(log, "canceled: ") || !strings.Contains(log, next) {
		t.Errorf("the superseded bake's log does not name bake %s:\n%s", next, log)
	}
}
