package main

import (
	"context"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bakehouse/bakehouse"
)

// dyingWorker is a store whose first MarkStarted panics after recording
// Packer's pid: the worker goroutine dies while Packer runs (the queue
// recovers the panic), and the process lives on.
type dyingWorker struct {
	bakehouse.BakeStore
	once sync.Once
}

func (s *dyingWorker) MarkStarted(ctx context.Context, id string, pid int) error {
	if err := s.BakeStore.MarkStarted(ctx, id, pid); err != nil {
		return err
	}
	s.once.Do(func() { panic("test: the worker dies while Packer runs") })
	return nil
}

// TestRescuerEndsBakeOfDeadWorker: a bake whose worker died while Packer
// ran is ended by the server's rescuer within seconds, without a restart:
// CANCELED/FAILURE with the reason in its log, no Packer process and no
// build container left, and the server bakes on.
func TestRescuerEndsBakeOfDeadWorker(t *testing.T) {
	needBakeTools(t)
	srv := startServerWith(t, t.TempDir(), "", nil, func(s bakehouse.BakeStore) bakehouse.BakeStore {
		return &dyingWorker{BakeStore: s}
	})
	writeTemplate(t, srv, "slow.json", slowTemplate)
	upload(t, srv, sampleDeb(t, "0.5.0-h5.c4baff4"))
	var st status
	if code, body, _ := call(t, "POST", srv.url+"/api/v1/global/bake", with(helloRequest, "template_file_name", "slow.json"), &st); code != 200 {
		t.Fatalf("bake: %d %s", code, body)
	}
	cleanupBake(t, st.ID)
	final := waitDone(t, srv, st.ID, 2*time.Minute)
	if final.State != "CANCELED" || final.Result == nil || *final.Result != "FAILURE" {
		t.Fatalf("bake of a dead worker is %s, want CANCELED/FAILURE", final)
	}
	if logs := logsOf(t, srv, st.ID); !strings.Contains(logs, "no worker is running this bake") {
		t.Fatalf("log does not say why the bake ended:\n%s", logs)
	}
	mustLeaveNothing(t, st.ID, 30*time.Second)
	var next status
	if code, body, _ := call(t, "POST", srv.url+"/api/v1/global/bake", with(helloRequest, "template_file_name", "slow.json"), &next); code != 200 || next.ID == st.ID || next.State != "RUNNING" {
		t.Fatalf("a new request after the rescue: %d %s, want a new RUNNING bake", code, body)
	}
	cleanupBake(t, next.ID)
	if code, body, _ := call(t, "GET", srv.url+"/api/v1/global/cancel/"+next.ID, nil, nil); code != 200 {
		t.Fatalf("cancel: %d %s", code, body)
	}
}

// bakeProcesses lists the live processes (not zombies) whose environment
// names bake id: its Packer and what Packer started.
func bakeProcesses(id string) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/environ")
		if err != nil || len(b) == 0 {
			continue
		}
		if slices.Contains(strings.Split(string(b), "\x00"), "BAKEHOUSE_BAKE_ID="+id) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// cleanupBake kills, when the test ends, whatever a bake may have left
// running (its Packer process group, its build containers), so that a
// failing test does not leave them behind.
func cleanupBake(t *testing.T, id string) {
	t.Cleanup(func() {
		for _, pid := range bakeProcesses(id) {
			syscall.Kill(-pid, syscall.SIGKILL)
			syscall.Kill(pid, syscall.SIGKILL)
		}
		out, _ := exec.Command("docker", "ps", "-aq", "--filter", "label=io.bakehouse.bake-id="+id).Output()
		if ids := strings.Fields(string(out)); len(ids) > 0 {
			exec.Command("docker", append([]string{"rm", "-f"}, ids...)...).Run()
		}
	})
}
