package packer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// lineRecorder collects streamed lines and fails the test if one arrives
// after Run returned.
type lineRecorder struct {
	t        *testing.T
	mu       sync.Mutex
	lines    []string
	returned atomic.Bool
	on       func(line string)
}

func (r *lineRecorder) add(line string) {
	if r.returned.Load() {
		r.t.Errorf("line %q streamed after Run returned", line)
	}
	r.mu.Lock()
	r.lines = append(r.lines, line)
	r.mu.Unlock()
	if r.on != nil {
		r.on(line)
	}
}

func (r *lineRecorder) got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.lines)
}

// sh runs script in place of Packer (see testPacker).
func sh(script string) []string { return []string{"packer", "-c", script} }

func TestRunStreamsCombinedOutputMasked(t *testing.T) {
	p := testPacker(t)
	rec := &lineRecorder{t: t}
	res, err := p.Run(context.Background(), sh(`echo one; echo two >&2; printf 'three\r\n'; echo "key hunter2"; printf 'last'`),
		RunOptions{Stdout: rec.add, Mask: []string{"hunter2"}})
	rec.returned.Store(true)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"one", "two", "three", "key ******", "last"}
	if got := rec.got(); !slices.Equal(got, want) {
		t.Errorf("lines = %q, want %q", got, want)
	}
	if res.Output != "one\ntwo\nthree\nkey ******\nlast" {
		t.Errorf("Output = %q", res.Output)
	}
	if res.ExitCode != 0 || res.Duration <= 0 {
		t.Errorf("ExitCode = %d, Duration = %v", res.ExitCode, res.Duration)
	}
}

func TestRunOnStartBeforeFirstLine(t *testing.T) {
	p := testPacker(t)
	var events []string
	var mu sync.Mutex
	record := func(s string) { mu.Lock(); events = append(events, s); mu.Unlock() }
	_, err := p.Run(context.Background(), sh(`echo "$$ $(cut -d' ' -f5 /proc/$$/stat)"`), RunOptions{
		OnStart: func(pid int) { time.Sleep(50 * time.Millisecond); record(fmt.Sprintf("start %d", pid)) },
		Stdout:  record,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 2 || !strings.HasPrefix(events[0], "start ") {
		t.Fatalf("events = %q, want OnStart first", events)
	}
	pid := strings.TrimPrefix(events[0], "start ")
	if f := strings.Fields(events[1]); len(f) != 2 || f[0] != pid || f[1] != pid {
		t.Errorf("OnStart pid %s, process says pid and pgid %q", pid, events[1])
	}
}

func TestRunExitError(t *testing.T) {
	p := testPacker(t)
	res, err := p.Run(context.Background(), sh(`echo failing; exit 3`), RunOptions{})
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != 3 {
		t.Fatalf("err = %v, want *ExitError{3}", err)
	}
	if errors.Is(err, context.Canceled) {
		t.Error("a plain failure reported as canceled")
	}
	if res.ExitCode != 3 || res.Output != "failing\n" {
		t.Errorf("Result = %+v", res)
	}
}

func TestRunStreamsWhileRunning(t *testing.T) {
	p := testPacker(t)
	gate := filepath.Join(t.TempDir(), "gate")
	rec := &lineRecorder{t: t, on: func(line string) {
		if line == "ready" {
			if err := os.WriteFile(gate, nil, 0o600); err != nil {
				t.Error(err)
			}
		}
	}}
	// The script only goes on once the callback has seen "ready": that
	// proves lines are delivered while the process runs, with no timing.
	script := fmt.Sprintf(`echo ready; i=0; while [ ! -e %q ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done; [ -e %q ] && echo streamed || echo not-streamed`, gate, gate)
	res, err := p.Run(context.Background(), sh(script), RunOptions{Stdout: rec.add})
	if err != nil {
		t.Fatal(err)
	}
	if res.Output != "ready\nstreamed\n" {
		t.Errorf("Output = %q", res.Output)
	}
}

func TestRunCancelSendsSIGINT(t *testing.T) {
	p := testPacker(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rec := &lineRecorder{t: t, on: func(line string) {
		if line == "ready" {
			cancel()
		}
	}}
	start := time.Now()
	res, err := p.Run(ctx, sh(`trap 'echo got INT; exit 130' INT; echo ready; while :; do sleep 0.1; done`),
		RunOptions{Stdout: rec.add, GracePeriod: 30 * time.Second})
	elapsed := time.Since(start)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != 130 {
		t.Errorf("err = %v, want it to carry *ExitError{130}", err)
	}
	if !strings.Contains(res.Output, "got INT") {
		t.Errorf("SIGINT did not reach the process: %q", res.Output)
	}
	if elapsed > 20*time.Second {
		t.Errorf("took %v: ended by SIGKILL, not SIGINT", elapsed)
	}
}

func TestRunKillsGroupAfterGracePeriod(t *testing.T) {
	p := testPacker(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rec := &lineRecorder{t: t, on: func(line string) {
		if line == "ready" {
			cancel()
		}
	}}
	const grace = 300 * time.Millisecond
	start := time.Now()
	// SIGINT is ignored by the script and by the child it leaves behind.
	res, err := p.Run(ctx, sh(`trap '' INT; sleep 60 & echo "child $!"; echo ready; wait; echo survived`),
		RunOptions{Stdout: rec.add, GracePeriod: grace})
	elapsed := time.Since(start)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if res.ExitCode != -1 || strings.Contains(res.Output, "survived") {
		t.Errorf("not killed: ExitCode %d, Output %q", res.ExitCode, res.Output)
	}
	if elapsed < grace || elapsed > 20*time.Second {
		t.Errorf("took %v, want SIGKILL after the %v grace period", elapsed, grace)
	}
	child := childPID(t, res.Output)
	if !eventually(5*time.Second, func() bool { return processGone(child) }) {
		t.Errorf("child %d of the process group survived", child)
	}
}

func TestRunDeadline(t *testing.T) {
	p := testPacker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := p.Run(ctx, sh(`echo started; sleep 60`), RunOptions{})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want context.DeadlineExceeded", err)
	}
}

func TestRunCanceledBeforeStart(t *testing.T) {
	p := testPacker(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rec := &lineRecorder{t: t}
	res, err := p.Run(ctx, sh(`echo should not run`), RunOptions{Stdout: rec.add})
	if !errors.Is(err, context.Canceled) || res.ExitCode != -1 || len(rec.got()) != 0 {
		t.Errorf("err = %v, Result = %+v, lines = %q", err, res, rec.got())
	}
}

func TestRunLeftoverProcessHoldingOutput(t *testing.T) {
	p := testPacker(t)
	// The script exits 0 but leaves a child holding the output pipe: Run
	// must not wait for it, and must not leave it running.
	start := time.Now()
	res, err := p.Run(context.Background(), sh(`sleep 60 & echo "child $!"`), RunOptions{GracePeriod: 100 * time.Millisecond})
	if err != nil {
		t.Fatalf("err = %v", err)
	}
	if elapsed := time.Since(start); elapsed > 20*time.Second {
		t.Errorf("took %v", elapsed)
	}
	child := childPID(t, res.Output)
	if !eventually(5*time.Second, func() bool { return processGone(child) }) {
		t.Errorf("leftover child %d still running", child)
	}
}

func TestLineWriterMasksAcrossWrites(t *testing.T) {
	var lines []string
	w := &lineWriter{redactor: NewRedactor([]string{"hunter2"}), emit: func(s string) { lines = append(lines, s) }}
	for _, chunk := range []string{"pass: hun", "ter2\nnext", " line\r", "\n", "tail hunter", "2"} {
		w.Write([]byte(chunk))
	}
	w.flush()
	want := []string{"pass: ******", "next line", "tail ******"}
	if !slices.Equal(lines, want) {
		t.Errorf("lines = %q, want %q", lines, want)
	}
	if got := w.out.String(); got != "pass: ******\nnext line\ntail ******" {
		t.Errorf("out = %q", got)
	}
}

// childPID reads the "child PID" line a test script prints.
func childPID(t *testing.T, output string) int {
	t.Helper()
	for _, line := range strings.Split(output, "\n") {
		if s, ok := strings.CutPrefix(line, "child "); ok {
			pid, err := strconv.Atoi(s)
			if err == nil {
				return pid
			}
		}
	}
	t.Fatalf("no child pid in %q", output)
	return 0
}

// processGone reports whether pid has exited (a zombie counts: in a
// container nobody may reap an orphan).
func processGone(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndex(s, ")")+1:])
	return len(fields) > 0 && (fields[0] == "Z" || fields[0] == "X")
}

// eventually polls cond until it holds or timeout passes.
func eventually(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}
