package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bakehouse/bakehouse/postgres/pgtest"
	"github.com/jackc/pgx/v5"
)

// cluster is a Bakehouse cluster for tests: N separate `bakehouse serve`
// processes (nodes) on one PostgreSQL database of pgtest, each with its
// own data dir and port on 127.0.0.1, as operators run them. The nodes are
// real processes so that a test can kill -9 one, or stop it with SIGTERM
// as a rolling restart does.
//
// Use:
//
//	c := newCluster(t, 3, clusterConfig{Config: "bakehouse:\n  concurrency: 1\n"})
//	c.upload(t, sampleDeb(t, "0.5.0-h5.c4baff4")) // every node's package repository
//	c.writeTemplate(t, "slow.json", slowTemplate) // every node's templates
//	call(t, "POST", c.nodes[1].url+"/api/v1/global/bake", helloRequest, &st)
//	c.nodes[0].kill9(t); c.nodes[0].start(t)      // same data dir, new port
//
// Every node is killed when the test ends.
type cluster struct {
	dbURL  string
	config clusterConfig
	nodes  []*node
}

// clusterConfig is what every node of a cluster starts with.
type clusterConfig struct {
	// Config is the YAML config file (may be empty). The database is not
	// in it: nodes get BAKEHOUSE_DATABASE_URL.
	Config string
	// Env are extra KEY=VALUE pairs of every node's environment.
	Env []string
}

// node is one bakehouse serve process of a cluster. Its embedded server
// (url, dataDir) works with the helpers of the single-server tests (call,
// waitDone, logsOf, writeTemplate, upload).
type node struct {
	*server
	name    string // n0, n1, ... (the test's name, not the node's id)
	logPath string // the process's stderr, appended to across restarts
	c       *cluster

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
}

// newCluster starts n nodes on a new empty database, all at once (as a
// fleet starts), and returns once each printed its URL.
func newCluster(t *testing.T, n int, cfg clusterConfig) *cluster {
	t.Helper()
	c := &cluster{dbURL: pgtest.URL(t), config: cfg}
	logDir := t.TempDir()
	for i := range n {
		name := fmt.Sprintf("n%d", i)
		c.nodes = append(c.nodes, &node{
			server:  &server{dataDir: t.TempDir()},
			name:    name,
			logPath: filepath.Join(logDir, name+".log"),
			c:       c,
		})
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, nd := range c.nodes {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = nd.launch(t) }()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// start starts the node again on its data dir (after kill9 or stop); it
// gets a new port.
func (nd *node) start(t *testing.T) {
	t.Helper()
	if err := nd.launch(t); err != nil {
		t.Fatal(err)
	}
}

// launch runs the node's process and waits for its URL.
func (nd *node) launch(t *testing.T) error {
	args := []string{"serve", "--addr", "127.0.0.1:0", "--data-dir", nd.dataDir}
	if nd.c.config.Config != "" {
		path := filepath.Join(nd.dataDir, "..", filepath.Base(nd.dataDir)+".yml")
		if err := os.WriteFile(path, []byte(nd.c.config.Config), 0o600); err != nil {
			return err
		}
		args = append(args, "--config", path)
	}
	cmd := exec.Command(binary(t), args...)
	cmd.Env = append(os.Environ(), "BAKEHOUSE_DATABASE_URL="+nd.c.dbURL)
	cmd.Env = append(cmd.Env, nd.c.config.Env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	logf, err := os.OpenFile(nd.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	fmt.Fprintf(logf, "--- %s starts %s\n", nd.name, time.Now().UTC().Format(time.RFC3339Nano))
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() { cmd.Process.Kill(); <-exited })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		b, _ := os.ReadFile(nd.logPath)
		return fmt.Errorf("node %s did not start: %v\n%s", nd.name, err, b)
	}
	nd.mu.Lock()
	nd.cmd, nd.exited = cmd, exited
	nd.url = strings.TrimSpace(line)
	nd.mu.Unlock()
	return nil
}

// kill9 kills the node's process with SIGKILL (its Packer processes, in
// their own process groups, live on) and waits for it to be gone.
func (nd *node) kill9(t *testing.T) {
	t.Helper()
	nd.mu.Lock()
	cmd, exited := nd.cmd, nd.exited
	nd.mu.Unlock()
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-exited
}

// stop stops the node as an operator does (SIGTERM) and waits up to
// within for it to exit.
func (nd *node) stop(t *testing.T, within time.Duration) {
	t.Helper()
	nd.mu.Lock()
	cmd, exited := nd.cmd, nd.exited
	nd.mu.Unlock()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
	case <-time.After(within):
		t.Fatalf("node %s did not stop within %s after SIGTERM\n%s", nd.name, within, nd.log())
	}
}

// log is what the node's process logged so far (every run of it).
func (nd *node) log() string {
	b, _ := os.ReadFile(nd.logPath)
	return string(b)
}

// upload puts a package into every node's repository.
func (c *cluster) upload(t *testing.T, path string) {
	t.Helper()
	for _, nd := range c.nodes {
		upload(t, nd.server, path)
	}
}

// writeTemplate writes a Packer template into every node's templates.
func (c *cluster) writeTemplate(t *testing.T, name, body string) {
	t.Helper()
	for _, nd := range c.nodes {
		writeTemplate(t, nd.server, name, body)
	}
}

// query runs a query with one int result on the cluster's database.
func (c *cluster) queryInt(t *testing.T, sql string, args ...any) int {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, c.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// queryString runs a query with one text result on the cluster's database.
func (c *cluster) queryString(t *testing.T, sql string, args ...any) string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, c.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var s string
	if err := conn.QueryRow(ctx, sql, args...).Scan(&s); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return s
}

// id asks the node its node id (/status/all's instance).
func (nd *node) id(t *testing.T) string {
	t.Helper()
	var all struct {
		Instance string `json:"instance"`
	}
	if code, body, _ := call(t, "GET", nd.url+"/status/all", nil, &all); code != 200 || all.Instance == "" {
		t.Fatalf("/status/all of %s: %d %s", nd.name, code, body)
	}
	return all.Instance
}

// runner waits until a node's worker has taken bake id, and returns
// that node.
func (c *cluster) runner(t *testing.T, id string, within time.Duration) *node {
	t.Helper()
	ids := map[string]*node{}
	for _, nd := range c.nodes {
		ids[nd.id(t)] = nd
	}
	deadline := time.Now().Add(within)
	for {
		if nd := ids[c.queryString(t, `SELECT node FROM bakes WHERE id = $1`, id)]; nd != nil {
			return nd
		}
		if time.Now().After(deadline) {
			t.Fatalf("no node took bake %s within %s", id, within)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestClusterIdenticalRequests sends 20 identical requests at once, spread
// over 3 nodes: they get one bake, which one Packer process bakes. Then,
// so that the requests surely overlap in the database at least once, more
// rounds of 20 identical requests (each round its own key) must each get
// one bake; those bakes are canceled.
func TestClusterIdenticalRequests(t *testing.T) {
	needBakeTools(t)
	cfg, starts := countingPacker(t)
	c := newCluster(t, 3, clusterConfig{Config: cfg})
	c.upload(t, sampleDeb(t, "0.5.0-h5.c4baff4"))

	id := c.race(t, helloRequest)
	cleanupBake(t, id)
	final := waitDone(t, c.nodes[0].server, id, 5*time.Minute)
	if final.State != "COMPLETED" || final.Result == nil || *final.Result != "SUCCESS" {
		t.Fatalf("bake ended %s", final)
	}
	if got := packerStarts(t, starts); got != 1 {
		t.Fatalf("packer started %d times for 20 identical requests", got)
	}
	const rounds = 5
	for r := 1; r < rounds; r++ {
		id := c.race(t, with(helloRequest, "extended_attributes", map[string]string{"round": fmt.Sprint(r)}))
		cleanupBake(t, id)
		call(t, "GET", c.nodes[r%3].url+"/api/v1/global/cancel/"+id, nil, nil)
	}
	if got := c.queryInt(t, `SELECT COUNT(*) FROM bakes`); got != rounds {
		t.Fatalf("%d bakes in the database after %d rounds of identical requests, want %d", got, rounds, rounds)
	}
}

// race sends 20 copies of req at once, spread over the first 3 nodes,
// after a plan request on each (so that they all reach the database
// together), checks that they all got the same bake, and returns its id.
func (c *cluster) race(t *testing.T, req map[string]any) string {
	t.Helper()
	for _, nd := range c.nodes[:3] {
		if code, body, _ := call(t, "POST", nd.url+"/api/v1/global/bake/plan", req, nil); code != 200 {
			t.Fatalf("plan on %s: %d %s", nd.name, code, body)
		}
	}
	const n = 20
	ids := make([]string, n)
	var wg sync.WaitGroup
	ready := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-ready
			var st status
			if code, body, _ := call(t, "POST", c.nodes[i%3].url+"/api/v1/global/bake", req, &st); code != 200 {
				t.Errorf("request %d to %s: %d %s", i, c.nodes[i%3].name, code, body)
			}
			ids[i] = st.ID
		}()
	}
	close(ready)
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	for i, id := range ids {
		if id != ids[0] {
			t.Fatalf("request %d got bake %s, request 0 got %s: want one bake for identical requests", i, id, ids[0])
		}
	}
	return ids[0]
}

// TestClusterKill9: kill -9 of the node that runs a bake; another node
// ends the bake within 30 s, CANCELED/FAILURE, naming the dead node and
// when it was last seen; when the dead node comes back nothing of the bake
// is left (Packer, its build container); a new identical request bakes
// again (nothing is reused from the bake that did not finish).
func TestClusterKill9(t *testing.T) {
	needBakeTools(t)
	c := newCluster(t, 3, clusterConfig{})
	c.writeTemplate(t, "slow.json", slowTemplate)
	c.upload(t, sampleDeb(t, "0.5.0-h5.c4baff4"))
	req := with(helloRequest, "template_file_name", "slow.json")
	var st status
	if code, body, _ := call(t, "POST", c.nodes[0].url+"/api/v1/global/bake", req, &st); code != 200 {
		t.Fatalf("bake: %d %s", code, body)
	}
	cleanupBake(t, st.ID)
	dead := c.runner(t, st.ID, time.Minute)
	deadID := dead.id(t)
	waitLog(t, dead.server, st.ID, "slow-start", 2*time.Minute)
	var other *node
	for _, nd := range c.nodes {
		if nd != dead {
			other = nd
		}
	}
	killed := time.Now()
	dead.kill9(t)
	final := waitDone(t, other.server, st.ID, 30*time.Second)
	took := time.Since(killed)
	if final.State != "CANCELED" || final.Result == nil || *final.Result != "FAILURE" {
		t.Fatalf("bake of the killed node is %s", final)
	}
	t.Logf("kill -9 of node %s: its bake ended %s later", deadID, took.Round(100*time.Millisecond))
	why := c.queryString(t, `SELECT error FROM bakes WHERE id = $1`, st.ID)
	if !strings.Contains(why, "node "+deadID+", which ran this bake, stopped answering: last seen ") {
		t.Fatalf("the bake's error does not name the dead node and when it was last seen: %q", why)
	}
	if logs := c.nodesLogs(t, st.ID, dead); !strings.Contains(logs, why) {
		t.Fatalf("no node's log of the bake says %q:\n%s", why, logs)
	}

	dead.start(t)
	mustLeaveNothing(t, st.ID, 30*time.Second)
	if !strings.Contains(dead.log(), `msg="removed the leftovers of a bake ended while this node was down" id=`+st.ID) {
		t.Fatalf("node %s, back, did not remove what bake %s left:\n%s", deadID, st.ID, dead.log())
	}
	var again status
	if code, body, _ := call(t, "POST", other.url+"/api/v1/global/bake", req, &again); code != 200 || again.ID == st.ID || again.State != "RUNNING" {
		t.Fatalf("a new identical request after the kill: %d %s, want a new RUNNING bake", code, body)
	}
	cleanupBake(t, again.ID)
	call(t, "GET", other.url+"/api/v1/global/cancel/"+again.ID, nil, nil)
}

// nodesLogs is bake id's log as every node but skip serves it,
// concatenated.
func (c *cluster) nodesLogs(t *testing.T, id string, skip *node) string {
	var all strings.Builder
	for _, nd := range c.nodes {
		if nd == skip {
			continue
		}
		var l struct {
			LogsContent string `json:"logsContent"`
		}
		call(t, "GET", nd.url+"/api/v1/global/logs/"+id, nil, &l)
		all.WriteString(l.LogsContent + "\n")
	}
	return all.String()
}

// slowNTemplate is slowTemplate with a variable n, so that requests that
// differ by the extended attribute n make distinct slow bakes.
var slowNTemplate = strings.Replace(slowTemplate, `"variables": {`, `"variables": {"n": "", `, 1)

// TestClusterRollingRestart restarts both nodes of a cluster, one after
// the other, while a bake accepted by the first waits for a worker (each
// node runs one bake at a time, and each is busy with a slow bake): the
// slow bakes end CANCELED as the nodes stop, the queued bake survives the
// first node's stop and the second node's restart, and the second node
// runs it.
func TestClusterRollingRestart(t *testing.T) {
	needBakeTools(t)
	c := newCluster(t, 2, clusterConfig{Config: "bakehouse:\n  concurrency: 1\n"})
	c.writeTemplate(t, "slow.json", slowNTemplate)
	c.upload(t, sampleDeb(t, "0.5.0-h5.c4baff4"))
	a, b := c.nodes[0], c.nodes[1]
	aID, bID := a.id(t), b.id(t)
	for _, n := range []string{"1", "2"} {
		var st status
		req := with(helloRequest, "template_file_name", "slow.json", "extended_attributes", map[string]string{"n": n})
		if code, body, _ := call(t, "POST", a.url+"/api/v1/global/bake", req, &st); code != 200 {
			t.Fatalf("slow bake %s: %d %s", n, code, body)
		}
		cleanupBake(t, st.ID)
		c.runner(t, st.ID, time.Minute)
	}
	if got := c.queryInt(t, `SELECT COUNT(DISTINCT node) FROM bakes WHERE state = 'RUNNING'`); got != 2 {
		t.Fatalf("the slow bakes run on %d node(s), want one on each", got)
	}
	var q status
	if code, body, _ := call(t, "POST", a.url+"/api/v1/global/bake", helloRequest, &q); code != 200 {
		t.Fatalf("bake: %d %s", code, body)
	}
	cleanupBake(t, q.ID)
	queued := func(when string) {
		t.Helper()
		state := c.queryString(t, `SELECT state || '/' || node || '/' || queued_on FROM bakes WHERE id = $1`, q.ID)
		if state != "RUNNING//"+aID {
			t.Fatalf("%s, the queued bake is %q (state/node/queued_on), want RUNNING//%s", when, state, aID)
		}
	}
	queued("with both nodes busy")
	// Any node's /status/all lists both, with a's running and queued
	// bakes; a's /metrics counts them under its node id.
	var all struct {
		Instances map[string]struct {
			Running []string `json:"running"`
			Queued  []string `json:"queued"`
		} `json:"instances"`
	}
	if code, body, _ := call(t, "GET", b.url+"/status/all", nil, &all); code != 200 || len(all.Instances) != 2 ||
		len(all.Instances[aID].Running) != 1 || len(all.Instances[bID].Running) != 1 ||
		!slices.Equal(all.Instances[aID].Queued, []string{q.ID}) || len(all.Instances[bID].Queued) != 0 {
		t.Fatalf("/status/all on b: %d %s\nwant a with one running and %s queued, b with one running", code, body, q.ID)
	}
	_, metrics, _ := call(t, "GET", a.url+"/metrics", nil, nil)
	for _, want := range []string{
		`bakehouse_node_bakes{node="` + aID + `",state="queued"} 1`,
		`bakehouse_node_bakes{node="` + aID + `",state="running"} 1`,
		"bakehouse_nodes_live 2",
	} {
		if !strings.Contains(string(metrics), want) {
			t.Fatalf("/metrics of a lacks %s:\n%s", want, grepLines(string(metrics), "bakehouse_node"))
		}
	}

	a.stop(t, time.Minute)
	queued("after node a stopped")
	if got := c.queryInt(t, `SELECT COUNT(*) FROM bakes WHERE node = $1 AND state = 'CANCELED'`, aID); got != 1 {
		t.Fatalf("%d bake(s) of the stopped node ended CANCELED, want its slow bake", got)
	}
	b.stop(t, time.Minute)
	queued("after node b stopped")
	b.start(t)
	final := waitDone(t, b.server, q.ID, 5*time.Minute)
	if final.State != "COMPLETED" || final.Result == nil || *final.Result != "SUCCESS" {
		t.Fatalf("the queued bake ended %s\n%s", final, logsOf(t, b.server, q.ID))
	}
	if got := c.queryString(t, `SELECT node FROM bakes WHERE id = $1`, q.ID); got != bID {
		t.Fatalf("the queued bake ran on %q, want node b (%s)", got, bID)
	}
	a.start(t)
	if got := a.id(t); got != aID {
		t.Fatalf("node a came back as %s, was %s: a node keeps its id across restarts", got, aID)
	}
}

// TestClusterSecrets: a bake with a secret extended attribute, accepted by
// a busy node, runs on the other node, whose Packer gets the secret in
// clear: it crossed the database sealed with BAKEHOUSE_SECRETS_KEY, and
// neither the database nor any node's files or log hold it in clear.
func TestClusterSecrets(t *testing.T) {
	needBakeTools(t)
	const secret = "E-extended-secret-7713"
	key := base64.StdEncoding.EncodeToString([]byte("an operator's key, 32 bytes long"))
	dir := t.TempDir()
	seen := filepath.Join(dir, "argv")
	real, err := exec.LookPath("packer")
	if err != nil {
		t.Fatal(err)
	}
	wrapper := filepath.Join(dir, "packer")
	script := fmt.Sprintf("#!/bin/sh\n[ \"$1\" = version ] || echo \"$*\" >> %s\nexec %s \"$@\"\n", seen, real)
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	c := newCluster(t, 2, clusterConfig{
		Config: "bakehouse:\n  concurrency: 1\n  packerPath: " + wrapper + "\n",
		Env:    []string{"BAKEHOUSE_SECRETS_KEY=" + key},
	})
	c.writeTemplate(t, "slow.json", slowTemplate)
	c.upload(t, sampleDeb(t, "0.5.0-h5.c4baff4"))
	var slow status
	if code, body, _ := call(t, "POST", c.nodes[0].url+"/api/v1/global/bake", with(helloRequest, "template_file_name", "slow.json"), &slow); code != 200 {
		t.Fatalf("slow bake: %d %s", code, body)
	}
	cleanupBake(t, slow.ID)
	busy := c.runner(t, slow.ID, time.Minute)
	var st status
	req := with(helloRequest, "extended_attributes", map[string]string{"aws_access_key": secret})
	if code, body, _ := call(t, "POST", busy.url+"/api/v1/global/bake", req, &st); code != 200 {
		t.Fatalf("bake: %d %s", code, body)
	}
	cleanupBake(t, st.ID)
	ran := c.runner(t, st.ID, time.Minute)
	if ran == busy {
		t.Fatalf("the bake ran on the node that accepted it, %s, which was busy", busy.name)
	}
	if final := waitDone(t, ran.server, st.ID, 5*time.Minute); final.State != "COMPLETED" {
		t.Fatalf("bake ended %s\n%s", final, logsOf(t, ran.server, st.ID))
	}
	if got, _ := os.ReadFile(seen); !strings.Contains(string(got), "aws_access_key="+secret) {
		t.Fatalf("packer on node %s did not get the secret: %s", ran.name, got)
	}
	if n := c.queryInt(t, `SELECT COUNT(*) FROM bakes WHERE id = $1 AND sealed_argv IS NOT NULL`, st.ID); n != 1 {
		t.Fatalf("the bake's secret command line is not sealed in the database")
	}
	for _, q := range []string{`SELECT string_agg(b::text, ' ') FROM bakes b`, `SELECT string_agg(j::text, ' ') FROM river_job j`} {
		if text := c.queryString(t, q); strings.Contains(text, secret) || strings.Contains(text, hex.EncodeToString([]byte(secret))) {
			t.Fatalf("the secret is in the database in clear (%s)", q)
		}
	}
	for _, nd := range c.nodes {
		for _, text := range []string{nd.log(), logsOf(t, nd.server, st.ID)} {
			if strings.Contains(text, secret) || strings.Contains(text, key) {
				t.Fatalf("node %s logged the secret or the key", nd.name)
			}
		}
		filepath.Walk(nd.dataDir, func(path string, info os.FileInfo, err error) error {
			if err == nil && !info.IsDir() {
				if b, _ := os.ReadFile(path); strings.Contains(string(b), secret) {
					t.Errorf("secret stored in %s", path)
				}
			}
			return nil
		})
	}
}

// grepLines returns the lines of text that contain s.
func grepLines(text, s string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
