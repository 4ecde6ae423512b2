package http_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bakehouse/bakehouse"
	"github.com/bakehouse/bakehouse/bakery"
	"github.com/bakehouse/bakehouse/sqlite"
)

// failingFinish is a store whose first Finish of bake id fails, as a
// finishing write can (a full disk, a lost database).
type failingFinish struct {
	bakehouse.BakeStore
	id   string
	once sync.Once
}

func (s *failingFinish) Finish(ctx context.Context, p bakehouse.FinishBakeParams) (bool, error) {
	failed := false
	if p.ID == s.id {
		s.once.Do(func() { failed = true })
	}
	if failed {
		return false, errors.New("disk I/O error")
	}
	return s.BakeStore.Finish(ctx, p)
}

// TestRescueEndsOnlyStuckBakes runs bakes through the real queue: a bake
// whose finishing write failed stays RUNNING with its job ended, and
// Rescue ends it, without a restart; a bake that a worker runs and a
// queued bake whose job still waits are left alone.
func TestRescueEndsOnlyStuckBakes(t *testing.T) {
	e := newEnv(t, withQueue(sqlite.QueueConfig{Concurrency: 1}), withStore(func(s bakehouse.BakeStore) bakehouse.BakeStore {
		return &failingFinish{BakeStore: s, id: "stuck"}
	}))
	ctx := context.Background()
	bake := func(pkg, id string) string {
		t.Helper()
		r := e.do("POST", "/api/v1/global/bake", nil, []byte(`{"package": "`+pkg+`", "base_os": "ubuntu", "request_id": "`+id+`"}`))
		if r.status != 200 {
			t.Fatalf("bake %s: %d %s", pkg, r.status, r.body)
		}
		return statusOf(t, r.body).ID
	}

	stuck := bake("kato", "stuck")
	e.packer.waitStarted(t, stuck)
	rec, err := e.svc.Record(ctx, stuck)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		alive, err := e.queue.JobAlive(ctx, rec.JobID)
		if err != nil {
			t.Fatal(err)
		}
		if !alive {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the job of bake %s never ended", stuck)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if st := e.status(stuck); st.State != bakehouse.StateRunning {
		t.Fatalf("bake whose finish failed is %s, want it stuck RUNNING", st.State)
	}

	e.packer.set(func(p *fakePacker) { p.block = true })
	running := bake("running", "running")
	e.packer.waitStarted(t, running)
	queued := bake("queued", "queued")

	n, err := e.svc.Rescue(ctx)
	if err != nil || n != 1 {
		t.Fatalf("Rescue = %d, %v; want 1 bake ended", n, err)
	}
	st := e.status(stuck)
	if st.State != bakehouse.StateCanceled || st.Result == nil || *st.Result != bakehouse.ResultFailure {
		t.Fatalf("stuck bake is %+v after Rescue, want CANCELED/FAILURE", st)
	}
	logs, err := os.ReadFile(filepath.Join(e.logDir, stuck+".log"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(logs), "no worker is running this bake") {
		t.Fatalf("the stuck bake's log does not say why it ended:\n%s", logs)
	}
	for _, id := range []string{running, queued} {
		if st := e.status(id); st.State != bakehouse.StateRunning {
			t.Errorf("Rescue ended bake %s (%s), which a worker runs or whose job waits", id, st.State)
		}
	}
	if r := e.do("GET", "/api/v1/global/cancel/"+running, nil, nil); r.status != 200 {
		t.Fatalf("cancel: %d %s", r.status, r.body)
	}
	e.packer.waitStarted(t, queued)
	if n, err := e.svc.Rescue(ctx); err != nil || n != 0 {
		t.Fatalf("second Rescue = %d, %v; want nothing to end", n, err)
	}
}

// TestRescuerStartStop: the rescuer ends a stuck bake on its own, and can
// be stopped twice, or without having been started.
func TestRescuerStartStop(t *testing.T) {
	e := newEnv(t, withQueue(sqlite.QueueConfig{Concurrency: 1}), withStore(func(s bakehouse.BakeStore) bakehouse.BakeStore {
		return &failingFinish{BakeStore: s, id: "stuck"}
	}))
	bakery.NewRescuer(e.svc, time.Millisecond).Stop()

	r := bakery.NewRescuer(e.svc, 20*time.Millisecond)
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := r.Start(context.Background()); err == nil {
		t.Errorf("a second Start must fail")
	}
	res := e.do("POST", "/api/v1/global/bake", nil, []byte(`{"package": "kato", "base_os": "ubuntu", "request_id": "stuck"}`))
	if res.status != 200 {
		t.Fatalf("bake: %d %s", res.status, res.body)
	}
	deadline := time.Now().Add(20 * time.Second)
	for e.status("stuck").State == bakehouse.StateRunning {
		if time.Now().After(deadline) {
			t.Fatalf("the rescuer never ended the stuck bake")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if st := e.status("stuck"); st.State != bakehouse.StateCanceled {
		t.Fatalf("stuck bake ended %s, want CANCELED", st.State)
	}
	r.Stop()
	r.Stop()
}

// orphanPacker starts a process named packer in its own process group, as
// a Packer left by a dead bakery would be, whose environment names bake
// id. It is killed when the test ends.
func orphanPacker(t *testing.T, id string) *exec.Cmd {
	t.Helper()
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Fatal(err)
	}
	bin, err := os.ReadFile(sleep)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "packer")
	if err := os.WriteFile(path, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(path, "300")
	cmd.Env = []string{"BAKEHOUSE_BAKE_ID=" + id}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
	})
	return cmd
}

// processAlive reports whether pid runs and is not a zombie.
func processAlive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	return len(f) > 0 && f[0] != "Z"
}

// TestRecoverEndsOrphans calls Recover on its own: the RUNNING bakes that
// this node ran and no longer runs (claimed by it, or started before
// bakes named their node) end CANCELED/FAILURE with why in their logs, a
// started bake's Packer process group is killed, a process that merely
// reuses a recorded pid is not; a queued bake stays queued, another
// node's bake and the bake this process runs are left alone; and the
// Packer and scratch directory of a bake that another node ended while
// this one was down are removed.
func TestRecoverEndsOrphans(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	req := bakehouse.BakeRequest{Package: "kato", BaseOS: "ubuntu"}
	for _, id := range []string{"queued", "started", "pid-reused", "claimed", "other-node", "mine", "ended-elsewhere"} {
		e.seed(id, "", "", req, bakehouse.Plan{}, "global", bakehouse.StateRunning, "", nil)
	}
	packer := orphanPacker(t, "started")
	stranger := orphanPacker(t, "another-bake")
	othersPacker := orphanPacker(t, "other-node")
	if err := e.store.MarkStarted(ctx, "started", packer.Process.Pid); err != nil {
		t.Fatal(err)
	}
	if err := e.store.MarkStarted(ctx, "pid-reused", stranger.Process.Pid); err != nil {
		t.Fatal(err)
	}
	mustClaim(t, e, "claimed", e.svc.Instance())
	mustClaim(t, e, "other-node", "node-b")
	if err := e.store.MarkStarted(ctx, "other-node", othersPacker.Process.Pid); err != nil {
		t.Fatal(err)
	}
	// A bake this node ran, which another node ended while this one was
	// dead: its Packer and scratch directory are still here.
	mustClaim(t, e, "ended-elsewhere", e.svc.Instance())
	if ok, err := e.store.Finish(ctx, bakehouse.FinishBakeParams{ID: "ended-elsewhere", State: bakehouse.StateCanceled, Result: bakehouse.ResultFailure, Error: "node gone"}); err != nil || !ok {
		t.Fatal(ok, err)
	}
	leftPacker := orphanPacker(t, "ended-elsewhere")
	leftDir := filepath.Join(filepath.Dir(e.logDir), "work", "ended-elsewhere")
	if err := os.MkdirAll(leftDir, 0o755); err != nil {
		t.Fatal(err)
	}
	e.packer.set(func(p *fakePacker) { p.block = true })
	mine := e.runBake("mine")
	e.packer.waitStarted(t, "mine")

	n, err := e.svc.Recover(ctx)
	if err != nil || n != 3 {
		t.Fatalf("Recover = %d, %v; want 3 bakes ended", n, err)
	}
	for id, why := range map[string]string{
		"started":    "the bakery restarted while this bake was running",
		"pid-reused": "the bakery restarted while this bake was running",
		"claimed":    "the bakery restarted while this bake was running (node " + e.svc.Instance() + ")",
	} {
		st := e.status(id)
		if st.State != bakehouse.StateCanceled || st.Result == nil || *st.Result != bakehouse.ResultFailure {
			t.Errorf("orphan %s is %+v, want CANCELED/FAILURE", id, st)
		}
		if logs, _ := os.ReadFile(filepath.Join(e.logDir, id+".log")); !strings.Contains(string(logs), why) {
			t.Errorf("log of %s does not say %q:\n%s", id, why, logs)
		}
	}
	for _, id := range []string{"queued", "other-node", "mine"} {
		if st := e.status(id); st.State != bakehouse.StateRunning {
			t.Errorf("Recover ended bake %s (%s), which is queued, another node's or this process's", id, st.State)
		}
	}
	for _, p := range []*exec.Cmd{packer, leftPacker} {
		deadline := time.Now().Add(10 * time.Second)
		for processAlive(p.Process.Pid) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if processAlive(p.Process.Pid) {
			t.Errorf("the orphaned Packer %s (pid %d) still runs", p.Env, p.Process.Pid)
		}
	}
	if _, err := os.Stat(leftDir); !os.IsNotExist(err) {
		t.Errorf("the scratch directory of a bake ended elsewhere is left (stat: %v)", err)
	}
	if !processAlive(stranger.Process.Pid) {
		t.Errorf("Recover killed a process that is not the bake's Packer")
	}
	if !processAlive(othersPacker.Process.Pid) {
		t.Errorf("Recover killed the Packer of another node's bake")
	}
	if r := e.do("GET", "/api/v1/global/cancel/mine", nil, nil); r.status != 200 {
		t.Fatalf("cancel: %d %s", r.status, r.body)
	}
	wait(t, mine, "run of mine")
}

func mustClaim(t *testing.T, e *env, id, node string) {
	t.Helper()
	if ok, err := e.store.ClaimBake(context.Background(), id, node); err != nil || !ok {
		t.Fatalf("ClaimBake(%s, %s) = %v, %v", id, node, ok, err)
	}
}
