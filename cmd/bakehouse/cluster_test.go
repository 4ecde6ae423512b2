package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
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
