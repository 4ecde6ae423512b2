package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds the bakehouse binary once, for tests that need a real
// process to kill.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "bakehouse-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "bakehouse")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = &exec.ExitError{}
			t.Logf("go build: %s", out)
		}
	})
	if buildErr != nil {
		t.Fatalf("build bakehouse: %v", buildErr)
	}
	return binPath
}

// startProcess runs bakehouse serve as a child process.
func startProcess(t *testing.T, dataDir string) (*exec.Cmd, *server) {
	t.Helper()
	cmd := exec.Command(binary(t), "serve", "--addr", "127.0.0.1:0", "--data-dir", dataDir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(t.TempDir(), "serve.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		b, _ := os.ReadFile(logf.Name())
		t.Fatalf("server did not start: %v\n%s", err, b)
	}
	return cmd, &server{url: strings.TrimSpace(line), dataDir: dataDir}
}

// TestKill9Restart kills the server while Packer runs, starts it again on
// the same data directory, and checks that the orphaned bake is failed
// within seconds and leaves no Packer process and no build container. If
// it fails, its cleanup kills them.
func TestKill9Restart(t *testing.T) {
	needBakeTools(t)
	dataDir := t.TempDir()
	cmd, srv := startProcess(t, dataDir)
	writeTemplate(t, srv, "slow.json", slowTemplate)
	upload(t, srv, sampleDeb(t, "0.5.0-h5.c4baff4"))
	var st status
	if code, body, _ := call(t, "POST", srv.url+"/api/v1/global/bake", with(helloRequest, "template_file_name", "slow.json"), &st); code != 200 {
		t.Fatalf("bake: %d %s", code, body)
	}
	cleanupBake(t, st.ID)
	waitLog(t, srv, st.ID, "slow-start", 2*time.Minute)
	if len(bakeProcesses(st.ID)) == 0 {
		t.Fatalf("no packer process found while the bake runs")
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()

	restarted := time.Now()
	_, srv2 := startProcess(t, dataDir)
	final := waitDone(t, srv2, st.ID, 30*time.Second)
	if final.State != "CANCELED" || final.Result == nil || *final.Result != "FAILURE" {
		t.Fatalf("orphaned bake is %s after restart", final)
	}
	t.Logf("orphaned bake failed %s after restart", time.Since(restarted).Round(time.Millisecond))
	if logs := logsOf(t, srv2, st.ID); !strings.Contains(logs, "the bakery restarted while this bake was running") || !strings.Contains(logs, "slow-start") {
		t.Fatalf("log does not keep Packer's output and say why the bake ended:\n%s", logs)
	}
	mustLeaveNothing(t, st.ID, 20*time.Second)
	// The store is whole: the bake's record answers, a new request bakes.
	var again status
	call(t, "POST", srv2.url+"/api/v1/global/bake/plan", with(helloRequest, "template_file_name", "slow.json"), nil)
	call(t, "GET", srv2.url+"/api/v1/global/status/"+st.ID, nil, &again)
	if again.ID != st.ID {
		t.Fatalf("status after restart: %+v", again)
	}
}

// mustLeaveNothing waits up to within for bake id's processes (Packer and
// its children, found by the bake id in their environment) and labelled
// build containers to be gone, and fails the test if any are left.
func mustLeaveNothing(t *testing.T, id string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) && (len(bakeProcesses(id)) > 0 || labelledContainers(t, id) != "") {
		time.Sleep(200 * time.Millisecond)
	}
	if p := bakeProcesses(id); len(p) > 0 {
		t.Fatalf("processes of bake %s left: %v", id, p)
	}
	if c := labelledContainers(t, id); c != "" {
		t.Fatalf("build container of bake %s left: %s", id, c)
	}
}
