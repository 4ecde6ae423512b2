package main

// The scale-out benchmarks (issue 9): real `bakehouse serve` processes on
// one private PostgreSQL cluster, side by side with the SQLite server of
// the same run.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/bakehouse/bakehouse/postgres/pgtest"
	"github.com/jackc/pgx/v5"
)

// node is one `bakehouse serve` process on PostgreSQL.
type node struct {
	name, url string
	cmd       *exec.Cmd
	done      chan struct{}
}

// figures are one configuration's reuse figures.
type figures struct {
	p50, p99, rps float64
	errs          int64
	rateP99       float64 // p99 at 1000 req/s offered
	rateRPS       float64
}

// scaleOut are the PostgreSQL side's results.
type scaleOut struct {
	pgVersion            string
	one, three           figures
	racerIDs, racerBakes int
	racerPackers         int
	startOne             time.Duration // one node on an empty database
	startThree           time.Duration // three at once on another empty database
	migrationsOnce       error         // nil when each migration is recorded once
	kill                 string        // the kill -9 figure, or why it is pending
}

// startNode starts node name on the database at dbURL and returns once it
// answers /health.
func (b *bench) startNode(name, dbURL string) (*node, error) {
	n := &node{name: name, done: make(chan struct{})}
	n.cmd = exec.Command(b.bin, "serve", "--addr", "127.0.0.1:0", "--data-dir", filepath.Join(b.dir, name), "--config", filepath.Join(b.dir, "config.yml"))
	n.cmd.Env = append(os.Environ(), "BAKEHOUSE_DATABASE_URL="+dbURL)
	out, err := n.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(b.dir, name+".log"))
	if err != nil {
		return nil, err
	}
	n.cmd.Stderr = logf
	if err := n.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { n.cmd.Wait(); logf.Close(); close(n.done) }()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		n.stop()
		log, _ := os.ReadFile(logf.Name())
		return nil, fmt.Errorf("node %s did not start: %v\n%s", name, err, log)
	}
	n.url = strings.TrimSpace(line)
	for {
		if code, _ := b.doAt(n.url, "GET", "/health", nil, nil); code == 200 {
			return n, nil
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// stop interrupts the node and waits for it (killing it after a minute).
func (n *node) stop() {
	n.cmd.Process.Signal(os.Interrupt)
	select {
	case <-n.done:
	case <-time.After(time.Minute):
		n.cmd.Process.Kill()
		<-n.done
	}
}

// startNodes starts count nodes at once and returns them with the time
// until the last one answered /health.
func (b *bench) startNodes(prefix, dbURL string, count int) ([]*node, time.Duration, error) {
	nodes := make([]*node, count)
	errs := make([]error, count)
	var wg sync.WaitGroup
	t0 := time.Now()
	for i := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			nodes[i], errs[i] = b.startNode(fmt.Sprintf("%s-%d", prefix, i+1), dbURL)
		}()
	}
	wg.Wait()
	d := time.Since(t0)
	if err := errors.Join(errs...); err != nil {
		stopAll(nodes)
		return nil, 0, err
	}
	return nodes, d, nil
}

func stopAll(nodes []*node) {
	var wg sync.WaitGroup
	for _, n := range nodes {
		if n != nil {
			wg.Add(1)
			go func() { defer wg.Done(); n.stop() }()
		}
	}
	wg.Wait()
}

func urls(nodes []*node) []string {
	var out []string
	for _, n := range nodes {
		out = append(out, n.url)
	}
	return out
}

// startCluster starts a private PostgreSQL cluster (postgres/pgtest: initdb
// in a temporary directory, a unix socket only) made durable again (the
// tests' cluster turns fsync off), and makes the databases names.
func startCluster(names ...string) (*pgtest.Cluster, string, error) {
	bin, err := pgtest.BinDir()
	if err != nil {
		return nil, "", err
	}
	c, err := pgtest.Start(bin)
	if err != nil {
		return nil, "", err
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		c.Stop()
		return nil, "", err
	}
	defer conn.Close(ctx)
	stmts := []string{`ALTER SYSTEM SET fsync = on`, `ALTER SYSTEM SET synchronous_commit = on`, `ALTER SYSTEM SET full_page_writes = on`, `SELECT pg_reload_conf()`}
	for _, n := range names {
		stmts = append(stmts, `CREATE DATABASE `+n)
	}
	for _, s := range stmts {
		if _, err := conn.Exec(ctx, s); err != nil {
			c.Stop()
			return nil, "", fmt.Errorf("%s: %w", s, err)
		}
	}
	var version string
	conn.QueryRow(ctx, `SHOW server_version`).Scan(&version)
	return c, version, nil
}

// migrationsOnce checks that each of Bakehouse's and River's migrations is
// recorded once in the database at url.
func migrationsOnce(url string) error {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	for _, q := range []string{
		`SELECT COUNT(*), COUNT(DISTINCT name) FROM bakehouse_migrations`,
		`SELECT COUNT(*), COUNT(DISTINCT version) FROM river_migration`,
	} {
		var all, distinct int
		if err := conn.QueryRow(ctx, q).Scan(&all, &distinct); err != nil {
			return err
		}
		if all != distinct || all == 0 {
			return fmt.Errorf("%s: %d rows, %d distinct", q, all, distinct)
		}
	}
	return nil
}

// scaleOut measures the PostgreSQL side: start times on empty databases,
// reuse on one node and on three, identical requests spread over three
// nodes. deb is the sample package, uploaded to each node's repository.
func (b *bench) scaleOut(req map[string]any, deb string, reuseN, conc, racers int) (*scaleOut, error) {
	c, version, err := startCluster("empty1", "empty3", "bakes")
	if err != nil {
		return nil, fmt.Errorf("postgresql: %w", err)
	}
	defer c.Stop()
	so := &scaleOut{pgVersion: version}

	one, d, err := b.startNodes("empty1", c.URL("empty1"), 1)
	if err != nil {
		return nil, err
	}
	so.startOne = d
	stopAll(one)
	three, d, err := b.startNodes("empty3", c.URL("empty3"), 3)
	if err != nil {
		return nil, err
	}
	so.startThree = d
	stopAll(three)
	so.migrationsOnce = migrationsOnce(c.URL("empty3"))

	data, err := os.ReadFile(deb)
	if err != nil {
		return nil, err
	}
	nodes, _, err := b.startNodes("node", c.URL("bakes"), 3)
	if err != nil {
		return nil, err
	}
	defer stopAll(nodes)
	for _, n := range nodes {
		if code, body := b.doAt(n.url, "PUT", "/api/v1/packages/"+filepath.Base(deb), data, nil); code != 201 {
			return nil, fmt.Errorf("upload to %s: %d %s", n.name, code, body)
		}
	}
	// One bake to reuse (the base image is there from the SQLite side).
	var st struct{ ID string }
	if code, body := b.doAt(nodes[0].url, "POST", "/api/v1/global/bake", req, &st); code != 200 {
		return nil, fmt.Errorf("bake on postgresql: %d %s", code, body)
	}
	if state, result := b.waitAt(nodes[0].url, st.ID); state != "COMPLETED" || result != "SUCCESS" {
		return nil, fmt.Errorf("bake %s on postgresql ended %s/%s (see %s)", st.ID, state, result, b.dir)
	}
	measure := func(us []string) figures {
		b.reuseAcross(us, req, reuseN/10, conc) // warm every node's connections
		p50, p99, rps, errs := b.reuseAcross(us, req, reuseN, conc)
		_, rp99, rrps, rerrs := b.reuseAtRateAcross(us, req, 1000, 5*time.Second)
		return figures{p50: ms(p50), p99: ms(p99), rps: rps, errs: errs + rerrs, rateP99: ms(rp99), rateRPS: rrps}
	}
	so.one = measure(urls(nodes[:1]))
	so.three = measure(urls(nodes))

	ids, packers := b.race(urls(nodes), req, racers, "race-pg")
	so.racerIDs, so.racerPackers = len(ids), packers
	so.kill = b.killNode(nodes, c.URL("bakes"), req)
	return so, nil
}

// killNode bakes on the nodes, kills with SIGKILL the node whose Packer
// runs the bake (the Packer wrapper records its pid; its parent is the
// node), and returns the time until another node reports the bake ended.
// The killed node is started again on its data dir afterwards, to remove
// what its bake left, and replaces the dead one in nodes.
func (b *bench) killNode(nodes []*node, dbURL string, req map[string]any) string {
	before := map[string]bool{}
	for _, pid := range b.packerPIDs() {
		before[pid] = true
	}
	r := map[string]any{}
	for k, v := range req {
		r[k] = v
	}
	r["ami_name"] = fmt.Sprintf("kill-%d", time.Now().UnixNano())
	var st struct{ ID string }
	if code, body := b.doAt(nodes[0].url, "POST", "/api/v1/global/bake", r, &st); code != 200 {
		return fmt.Sprintf("bake failed: %d %s", code, body)
	}
	victim, packerPID := -1, 0
	for deadline := time.Now().Add(2 * time.Minute); victim < 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			return "no node started Packer for the bake within 2 min"
		}
		for _, pid := range b.packerPIDs() {
			if before[pid] {
				continue
			}
			fmt.Sscan(pid, &packerPID)
			for i, n := range nodes {
				if parentPID(packerPID) == n.cmd.Process.Pid {
					victim = i
				}
			}
		}
	}
	survivor := nodes[(victim+1)%len(nodes)]
	t0 := time.Now()
	nodes[victim].kill9()
	var state, result string
	for deadline := t0.Add(2 * time.Minute); ; time.Sleep(50 * time.Millisecond) {
		var s struct {
			State  string
			Result *string
		}
		b.doAt(survivor.url, "GET", "/api/v1/global/status/"+st.ID, nil, &s)
		if s.State != "RUNNING" && s.State != "" {
			state = s.State
			if s.Result != nil {
				result = *s.Result
			}
			break
		}
		if time.Now().After(deadline) {
			state = "still RUNNING 2 min after the kill"
			break
		}
	}
	d := time.Since(t0)
	// The dead node's Packer lives on in its own process group: stop it,
	// then start the node again so that it removes its containers.
	syscall.Kill(-packerPID, syscall.SIGKILL)
	syscall.Kill(packerPID, syscall.SIGKILL)
	if n, err := b.startNode(nodes[victim].name, dbURL); err == nil {
		nodes[victim] = n
	}
	if result == "" {
		return state
	}
	return fmt.Sprintf("%.1f s (%s/%s)", d.Seconds(), state, result)
}

// packerPIDs are the pids the Packer wrapper recorded, oldest first.
func (b *bench) packerPIDs() []string {
	data, _ := os.ReadFile(b.countFile)
	return strings.Fields(string(data))
}

// parentPID is pid's parent's pid, 0 if pid is gone.
func parentPID(pid int) int {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// pid (comm) state ppid ...: comm may hold spaces, so read after ")".
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	var state string
	var ppid int
	fmt.Sscan(s[i+1:], &state, &ppid)
	return ppid
}

// kill9 kills the node as a crash would.
func (n *node) kill9() {
	n.cmd.Process.Signal(syscall.SIGKILL)
	<-n.done
}

// printTable prints the SQLite and PostgreSQL figures side by side.
func printTable(sq figures, sqRacerIDs, sqRacerPackers int, sqStart time.Duration, so *scaleOut, reuseN, conc, racers int) {
	fmt.Printf("\nSQLite and PostgreSQL %s (private cluster on a unix socket, fsync on) side by side; reuse flat out: %d requests from %d clients; at rate: 1000 req/s offered for 5 s; requests spread over the nodes in turn\n", so.pgVersion, reuseN, conc)
	row := func(what, a, b, c string) { fmt.Printf("  %-50s %-20s %-20s %-20s\n", what, a, b, c) }
	f := func(format string, v ...any) string { return fmt.Sprintf(format, v...) }
	row("", "SQLite, 1 node", "PostgreSQL, 1 node", "PostgreSQL, 3 nodes")
	row("reuse p50, flat out", f("%.2f ms", sq.p50), f("%.2f ms", so.one.p50), f("%.2f ms", so.three.p50))
	row("reuse p99, flat out", f("%.2f ms", sq.p99), f("%.2f ms", so.one.p99), f("%.2f ms", so.three.p99))
	row("reuse requests per second, flat out", f("%.0f", sq.rps), f("%.0f", so.one.rps), f("%.0f", so.three.rps))
	row("reuse p99 at 1000 req/s (achieved req/s)", f("%.2f ms (%.0f)", sq.rateP99, sq.rateRPS), f("%.2f ms (%.0f)", so.one.rateP99, so.one.rateRPS), f("%.2f ms (%.0f)", so.three.rateP99, so.three.rateRPS))
	row("reuse errors", f("%d", sq.errs), f("%d", so.one.errs), f("%d", so.three.errs))
	row(f("%d identical new requests: bakes / packer runs", racers), f("%d / %d", sqRacerIDs, sqRacerPackers), "-", f("%d / %d", so.racerIDs, so.racerPackers))
	once := "migrations once"
	if so.migrationsOnce != nil {
		once = "MIGRATIONS: " + so.migrationsOnce.Error()
	}
	row("start on an empty database, until /health", f("%.0f ms", ms(sqStart)), f("%.0f ms", ms(so.startOne)), f("%.0f ms, all 3 at once", ms(so.startThree)))
	row("", "", "", once)
	row("kill -9 of a node -> its bakes ended", "-", "-", so.kill)
}
