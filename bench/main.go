// Command bench measures Bakehouse against its targets in one run, on the
// real Packer and Docker engine, talking only to loopback:
//
//	(a) bake wall time through Bakehouse / raw `packer build` of the same
//	    template and variables (median of N each; target <= 1.10)
//	(b) reuse of an existing bake: p50/p99 latency and requests per second
//	    (target p99 < 5 ms at >= 1,000 req/s)
//	(c) 200 concurrent identical requests -> Packer processes (target 1)
//	(d) server start time and idle RSS
//	(e) scale-out: the reuse figures on PostgreSQL with one node and three
//	    (requests spread over them), 200 identical requests over three
//	    nodes -> Packer processes (target 1), the start of three nodes on
//	    one empty database, side by side with SQLite in one table
//
// Run it with `make bench` (it needs DOCKER_HOST, packer, dpkg-deb and
// Debian's postgresql: it starts a private cluster with postgres/pgtest).
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	runs := flag.Int("runs", 5, "bakes per side for (a)")
	reuseN := flag.Int("reuse-requests", 20000, "requests for (b)")
	conc := flag.Int("reuse-concurrency", 8, "concurrent clients for (b)")
	racers := flag.Int("racers", 200, "concurrent identical requests for (c)")
	flag.Parse()
	if err := run(*runs, *reuseN, *conc, *racers); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type bench struct {
	dir, bin, url, countFile string
	client                   *http.Client
	cmd                      *exec.Cmd
}

func run(runs, reuseN, conc, racers int) error {
	dir, err := os.MkdirTemp("", "bakehouse-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	b := &bench{dir: dir, client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}}
	b.bin = filepath.Join(dir, "bakehouse")
	if out, err := exec.Command("go", "build", "-o", b.bin, "../cmd/bakehouse").CombinedOutput(); err != nil {
		return fmt.Errorf("build: %v\n%s", err, out)
	}
	if err := b.packerWrapper(); err != nil {
		return err
	}
	startDur, rss, err := b.start()
	if err != nil {
		return err
	}
	defer func() { b.cmd.Process.Signal(os.Interrupt); b.cmd.Wait() }()

	deb, err := exec.Command("bash", "../scripts/build-sample-deb.sh", dir).Output()
	if err != nil {
		return fmt.Errorf("sample deb: %v", err)
	}
	debPath := strings.TrimSpace(lastLine(string(deb)))
	data, _ := os.ReadFile(debPath)
	if code, body := b.do("PUT", "/api/v1/packages/"+filepath.Base(debPath), data, nil); code != 201 {
		return fmt.Errorf("upload: %d %s", code, body)
	}
	req := map[string]any{"package": "armory-hello-deploy", "base_os": "bookworm", "cloud_provider_type": "docker", "build_number": "5", "commit_hash": "c4baff4"}

	// Warm-up bake (builds the base image if missing).
	if _, err := b.bake(req, true); err != nil {
		return err
	}

	// (a)
	var viaBH, raw []time.Duration
	var plan struct {
		Packer struct {
			Argv []string `json:"argv"`
		} `json:"packer"`
	}
	b.do("POST", "/api/v1/global/bake/plan", req, &plan)
	for i := 0; i < runs; i++ {
		d, err := b.bake(req, true)
		if err != nil {
			return err
		}
		viaBH = append(viaBH, d)
		d, err = b.rawPacker(plan.Packer.Argv)
		if err != nil {
			return err
		}
		raw = append(raw, d)
	}
	mb, mr := median(viaBH), median(raw)

	// (b) at the target rate, alternating with /health (the HTTP floor)
	// for three rounds of 5 s each, then flat out.
	type rateRound struct{ hp50, hp99, p50, p99, rps float64 }
	var rounds []rateRound
	var errs int64
	for i := 0; i < 3; i++ {
		hp50, hp99, _, herrs := b.healthAtRate(1000, 5*time.Second)
		p50, p99, rps, rerrs := b.reuseAtRate(req, 1000, 5*time.Second)
		errs += herrs + rerrs
		rounds = append(rounds, rateRound{ms(hp50), ms(hp99), ms(p50), ms(p99), rps})
	}
	sp50, sp99, srps, serrs := b.reuse(req, reuseN, conc)

	// (c)
	ids, packers := b.race([]string{b.url}, req, racers, "race")

	// (e) the same on PostgreSQL, one node and three.
	so, err := b.scaleOut(req, debPath, reuseN, conc, racers)
	if err != nil {
		return fmt.Errorf("postgresql: %w", err)
	}

	fmt.Printf("\nBakehouse benchmarks (%s)\n", time.Now().UTC().Format(time.RFC3339))
	fmt.Printf("(a) bake wall time, median of %d: bakehouse %.2fs, raw packer %.2fs, ratio %.3f (target <= 1.10)\n", runs, mb.Seconds(), mr.Seconds(), mb.Seconds()/mr.Seconds())
	fmt.Printf("    bakehouse runs: %v\n    raw packer runs: %v\n", round(viaBH), round(raw))
	fmt.Printf("(b) at 1000 req/s offered, 3 rounds of 5 s, /health then reuse (targets: reuse p99 < 5ms and <= 1.5 x /health p99), %d errors:\n", errs)
	for i, r := range rounds {
		fmt.Printf("    round %d: /health p50 %.2fms p99 %.2fms | reuse p50 %.2fms p99 %.2fms, %.0f req/s | p99 ratio %.2f\n", i+1, r.hp50, r.hp99, r.p50, r.p99, r.rps, r.p99/r.hp99)
	}
	fmt.Printf("    reuse flat out, %d requests from %d clients: p50 %.2fms, p99 %.2fms, %.0f req/s, %d errors\n", reuseN, conc, ms(sp50), ms(sp99), srps, serrs)
	fmt.Printf("(c) %d concurrent identical requests: %d distinct bake ids, %d packer processes (target 1)\n", racers, len(ids), packers)
	fmt.Printf("(d) server start %.0fms, idle RSS %.1f MiB\n", ms(startDur), float64(rss)/1024)
	last := rounds[len(rounds)-1]
	sq := figures{p50: ms(sp50), p99: ms(sp99), rps: srps, errs: serrs, rateP99: last.p99, rateRPS: last.rps}
	printTable(sq, len(ids), packers, startDur, so, reuseN, conc, racers)
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func round(ds []time.Duration) []string {
	var out []string
	for _, d := range ds {
		out = append(out, fmt.Sprintf("%.2fs", d.Seconds()))
	}
	return out
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func (b *bench) packerWrapper() error {
	real, err := exec.LookPath("packer")
	if err != nil {
		return err
	}
	b.countFile = filepath.Join(b.dir, "packer-starts")
	wrapper := filepath.Join(b.dir, "packer")
	if err := os.WriteFile(wrapper, []byte(fmt.Sprintf("#!/bin/sh\necho $$ >> %s\nexec %s \"$@\"\n", b.countFile, real)), 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(b.dir, "config.yml"), []byte("bakehouse:\n  packerPath: "+wrapper+"\n"), 0o644)
}

func (b *bench) packerStarts() int {
	data, _ := os.ReadFile(b.countFile)
	return len(strings.Fields(string(data)))
}

// start starts the server and returns the time until it answered /health
// and its RSS after a second of idling.
func (b *bench) start() (time.Duration, int64, error) {
	t0 := time.Now()
	b.cmd = exec.Command(b.bin, "serve", "--addr", "127.0.0.1:0", "--data-dir", filepath.Join(b.dir, "data"), "--config", filepath.Join(b.dir, "config.yml"))
	out, err := b.cmd.StdoutPipe()
	if err != nil {
		return 0, 0, err
	}
	logf, _ := os.Create(filepath.Join(b.dir, "serve.log"))
	b.cmd.Stderr = logf
	if err := b.cmd.Start(); err != nil {
		return 0, 0, err
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		return 0, 0, fmt.Errorf("server did not start: %v", err)
	}
	b.url = strings.TrimSpace(line)
	for {
		if code, _ := b.do("GET", "/health", nil, nil); code == 200 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	d := time.Since(t0)
	time.Sleep(time.Second)
	return d, rssKiB(b.cmd.Process.Pid), nil
}

func rssKiB(pid int) int64 {
	data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			var kb int64
			fmt.Sscanf(strings.TrimSpace(strings.TrimPrefix(l, "VmRSS:")), "%d", &kb)
			return kb
		}
	}
	return 0
}

// race sends racers identical new requests at once, spread over the
// servers at urls in turn, waits for their bakes, and returns how many
// requests got each bake id and how many Packer processes they started.
func (b *bench) race(urls []string, req map[string]any, racers int, name string) (map[string]int, int) {
	before := b.packerStarts()
	racer := map[string]any{}
	for k, v := range req {
		racer[k] = v
	}
	racer["ami_name"] = fmt.Sprintf("%s-%d", name, time.Now().UnixNano())
	ids := map[string]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := 0; i < racers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var st struct{ ID string }
			b.doAt(urls[i%len(urls)], "POST", "/api/v1/global/bake", racer, &st)
			mu.Lock()
			ids[st.ID]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	for id := range ids {
		b.waitAt(urls[0], id)
	}
	return ids, b.packerStarts() - before
}

func (b *bench) do(method, path string, body any, out any) (int, string) {
	return b.doAt(b.url, method, path, body, out)
}

// doAt is do on the server at url (one node of several).
func (b *bench) doAt(url, method, path string, body any, out any) (int, string) {
	var rd io.Reader
	switch v := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(v)
	default:
		j, _ := json.Marshal(v)
		rd = bytes.NewReader(j)
	}
	req, _ := http.NewRequest(method, url+path, rd)
	resp, err := b.client.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil {
		json.Unmarshal(data, out)
	}
	return resp.StatusCode, string(data)
}

// bake runs one bake (rebake=1 forces a new one) and returns the time from
// request to COMPLETED.
func (b *bench) bake(req map[string]any, rebake bool) (time.Duration, error) {
	path := "/api/v1/global/bake"
	if rebake {
		path += "?rebake=1"
	}
	t0 := time.Now()
	var st struct{ ID, State string }
	if code, body := b.do("POST", path, req, &st); code != 200 {
		return 0, fmt.Errorf("bake: %d %s", code, body)
	}
	state, result := b.wait(st.ID)
	d := time.Since(t0)
	if state != "COMPLETED" || result != "SUCCESS" {
		var l struct {
			LogsContent string `json:"logsContent"`
		}
		b.do("GET", "/api/v1/global/logs/"+st.ID, nil, &l)
		return 0, fmt.Errorf("bake %s ended %s/%s; its log:\n%s", st.ID, state, result, l.LogsContent)
	}
	return d, nil
}

func (b *bench) wait(id string) (string, string) {
	return b.waitAt(b.url, id)
}

// waitAt is wait, asking the server at url.
func (b *bench) waitAt(url, id string) (string, string) {
	for {
		var st struct {
			State  string
			Result *string
		}
		b.doAt(url, "GET", "/api/v1/global/status/"+id, nil, &st)
		if st.State != "RUNNING" && st.State != "" {
			r := ""
			if st.Result != nil {
				r = *st.Result
			}
			return st.State, r
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// rawPacker runs the same packer command line directly.
func (b *bench) rawPacker(argv []string) (time.Duration, error) {
	work, err := os.MkdirTemp("", "raw-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(work)
	cmd := exec.Command("packer", argv[1:]...)
	cmd.Dir = work
	cmd.Env = append(os.Environ(), "CHECKPOINT_DISABLE=1", "BAKEHOUSE_REPO_DIR="+filepath.Join(b.dir, "data", "repo"), "BAKEHOUSE_BAKE_ID=raw-bench", "TMPDIR="+work)
	t0 := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("raw packer: %v\n%s", err, out)
	}
	return time.Since(t0), nil
}

// reuse sends n identical requests for a completed bake from conc clients.
func (b *bench) reuse(req map[string]any, n, conc int) (p50, p99 time.Duration, rps float64, errs int64) {
	return b.reuseAcross([]string{b.url}, req, n, conc)
}

// reuseAcross is reuse with the requests spread over the servers at urls
// in turn.
func (b *bench) reuseAcross(urls []string, req map[string]any, n, conc int) (p50, p99 time.Duration, rps float64, errs int64) {
	body, _ := json.Marshal(req)
	lat := make([]time.Duration, n)
	var next, bad int64
	var wg sync.WaitGroup
	t0 := time.Now()
	for c := 0; c < conc; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := atomic.AddInt64(&next, 1) - 1
				if i >= int64(n) {
					return
				}
				var ok bool
				lat[i], ok = b.reuseOnceAt(urls[i%int64(len(urls))], body)
				if !ok {
					atomic.AddInt64(&bad, 1)
				}
			}
		}()
	}
	wg.Wait()
	total := time.Since(t0)
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return lat[n/2], lat[n*99/100], float64(n) / total.Seconds(), bad
}

// reuseAtRate offers rate requests per second for d (open loop: a request
// is sent on schedule whether or not earlier ones have answered) and
// returns latency percentiles and the rate achieved.
func (b *bench) reuseAtRate(req map[string]any, rate int, d time.Duration) (p50, p99 time.Duration, rps float64, errs int64) {
	return b.reuseAtRateAcross([]string{b.url}, req, rate, d)
}

// reuseAtRateAcross is reuseAtRate with the requests spread over the
// servers at urls in turn.
func (b *bench) reuseAtRateAcross(urls []string, req map[string]any, rate int, d time.Duration) (p50, p99 time.Duration, rps float64, errs int64) {
	body, _ := json.Marshal(req)
	var next atomic.Int64
	return atRate(rate, d, func() (time.Duration, bool) {
		return b.reuseOnceAt(urls[int(next.Add(1))%len(urls)], body)
	})
}

// healthAtRate is reuseAtRate for GET /health: the HTTP floor that a reuse
// is compared with in the same run.
func (b *bench) healthAtRate(rate int, d time.Duration) (p50, p99 time.Duration, rps float64, errs int64) {
	return atRate(rate, d, func() (time.Duration, bool) {
		s := time.Now()
		resp, err := b.client.Get(b.url + "/health")
		if err != nil {
			return time.Since(s), false
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return time.Since(s), resp.StatusCode == 200
	})
}

func atRate(rate int, d time.Duration, once func() (time.Duration, bool)) (p50, p99 time.Duration, rps float64, errs int64) {
	n := int(d.Seconds() * float64(rate))
	lat := make([]time.Duration, n)
	var bad int64
	var wg sync.WaitGroup
	interval := time.Second / time.Duration(rate)
	t0 := time.Now()
	for i := 0; i < n; i++ {
		if sleep := time.Until(t0.Add(time.Duration(i) * interval)); sleep > 0 {
			time.Sleep(sleep)
		}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			var ok bool
			lat[i], ok = once()
			if !ok {
				atomic.AddInt64(&bad, 1)
			}
		}(i)
	}
	wg.Wait()
	total := time.Since(t0)
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return lat[n/2], lat[n*99/100], float64(n) / total.Seconds(), bad
}

// reuseOnce sends one bake request that must be answered by reuse, and
// returns its latency and whether it was.
func (b *bench) reuseOnceAt(url string, body []byte) (time.Duration, bool) {
	s := time.Now()
	r, _ := http.NewRequestWithContext(context.Background(), "POST", url+"/api/v1/global/bake", bytes.NewReader(body))
	resp, err := b.client.Do(r)
	if err != nil {
		return time.Since(s), false
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return time.Since(s), resp.StatusCode == 200 && resp.Header.Get("X-Bakehouse-Reused") == "true"
}
