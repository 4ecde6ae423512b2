package jenkins_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bakehouse/bakehouse/jenkins"
	"github.com/bakehouse/bakehouse/jenkins/jenkinstest"
)

// memCursors is an in-memory CursorStore.
type memCursors struct {
	mu sync.Mutex
	m  map[string]int
}

func (s *memCursors) Cursor(_ context.Context, master, job string) (int, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, ok := s.m[master+" "+job]
	return n, ok, nil
}

func (s *memCursors) SetCursor(_ context.Context, master, job string, n int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]int{}
	}
	s.m[master+" "+job] = n
	return nil
}

// fired records the builds a Poller fires.
type fired struct {
	mu     sync.Mutex
	builds []jenkins.Build
	fail   error // returned (once) instead of recording
}

func (f *fired) fire(_ context.Context, master, job string, b jenkins.Build) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		err := f.fail
		f.fail = nil
		return err
	}
	if master != "my-jenkins" || job != b.Job {
		return fmt.Errorf("fired %s %s for a build of %s", master, job, b.Job)
	}
	f.builds = append(f.builds, b)
	return nil
}

func (f *fired) numbers() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	var n []int
	for _, b := range f.builds {
		n = append(n, b.Number)
	}
	return n
}

func newPoller(t *testing.T, c *jenkins.Client, store jenkins.CursorStore, f *fired, watch ...jenkins.Watch) (*jenkins.Poller, *bytes.Buffer) {
	t.Helper()
	var logs bytes.Buffer
	p, err := jenkins.NewPoller(jenkins.PollerConfig{
		Clients:    map[string]*jenkins.Client{c.Master(): c},
		Watched:    func(context.Context) ([]jenkins.Watch, error) { return watch, nil },
		Cursors:    store,
		Fire:       f.fire,
		Interval:   10 * time.Millisecond,
		MaxPerPoll: 3,
		Logger:     slog.New(slog.NewTextHandler(&logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	return p, &logs
}

func mustPoll(t *testing.T, p *jenkins.Poller) {
	t.Helper()
	if err := p.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestPollerFiresNewSuccessOnce: builds there before the trigger never
// fire, a new SUCCESS fires once with its artifacts and SCM, a restarted
// Poller with the stored cursor fires nothing again, and a running build
// holds newer ones until it ends.
func TestPollerFiresNewSuccessOnce(t *testing.T) {
	s, c := seeded(t)
	store := &memCursors{}
	f := &fired{}
	armory := jenkins.Watch{Master: "my-jenkins", Job: jenkinstest.ArmoryJob}
	// Two triggers on the same job: it is polled and fired once.
	p, _ := newPoller(t, c, store, f, armory, armory)
	ctx := context.Background()

	mustPoll(t, p)
	if n, ok, _ := store.Cursor(ctx, "my-jenkins", jenkinstest.ArmoryJob); !ok || n != 7 {
		t.Fatalf("cursor after the first poll = %d, %v; want 7", n, ok)
	}
	s.Finish(jenkinstest.ArmoryJob, 7, "SUCCESS") // existed before the trigger
	mustPoll(t, p)
	if got := f.numbers(); len(got) != 0 {
		t.Fatalf("fired %v for builds that existed before the trigger", got)
	}

	s.AddBuild(jenkinstest.ArmoryJob, jenkinstest.Build{Number: 8, Result: "SUCCESS",
		Artifacts: map[string][]byte{jenkinstest.ArmoryDeb: []byte("deb")},
		SCM:       []jenkinstest.SCM{{Ref: "refs/remotes/origin/master", SHA1: "abc123", RemoteURL: "https://x/y.git"}}})
	mustPoll(t, p)
	mustPoll(t, p)
	if got := f.numbers(); !slices.Equal(got, []int{8}) {
		t.Fatalf("fired %v, want [8]", got)
	}
	b := f.builds[0]
	if len(b.Artifacts) != 1 || b.Artifacts[0].RelativePath != jenkinstest.ArmoryDeb || len(b.SCM) != 1 || b.SCM[0].Branch != "master" {
		t.Errorf("fired build lacks its details: %+v", b)
	}

	// A restart: a new Poller on the same store fires nothing again.
	p2, _ := newPoller(t, c, store, f, armory)
	mustPoll(t, p2)
	if got := f.numbers(); !slices.Equal(got, []int{8}) {
		t.Fatalf("after a restart fired %v, want [8]", got)
	}

	// #9 runs: #10, already successful, waits for it.
	s.AddBuild(jenkinstest.ArmoryJob, jenkinstest.Build{Number: 9, Building: true})
	s.AddBuild(jenkinstest.ArmoryJob, jenkinstest.Build{Number: 10, Result: "SUCCESS"})
	mustPoll(t, p2)
	if got := f.numbers(); !slices.Equal(got, []int{8}) {
		t.Fatalf("fired %v past a running build", got)
	}
	s.Finish(jenkinstest.ArmoryJob, 9, "FAILURE")
	mustPoll(t, p2)
	if got := f.numbers(); !slices.Equal(got, []int{8, 10}) {
		t.Fatalf("fired %v, want [8 10]", got)
	}
	if n, _, _ := store.Cursor(ctx, "my-jenkins", jenkinstest.ArmoryJob); n != 10 {
		t.Errorf("cursor = %d, want 10", n)
	}
}

// TestPollerRetriesFailedFire: when Fire fails the cursor stays below the
// build, which fires at the next poll, once.
func TestPollerRetriesFailedFire(t *testing.T) {
	s, c := seeded(t)
	store := &memCursors{}
	f := &fired{}
	p, _ := newPoller(t, c, store, f, jenkins.Watch{Master: "my-jenkins", Job: "job1"})
	mustPoll(t, p)
	s.AddBuild("job1", jenkinstest.Build{Result: "SUCCESS"})
	s.AddBuild("job1", jenkinstest.Build{Result: "SUCCESS"})
	f.fail = errors.New("database is locked")
	if err := p.Poll(context.Background()); err == nil || !strings.Contains(err.Error(), "database is locked") {
		t.Fatalf("Poll = %v, want the fire's error", err)
	}
	if n, _, _ := store.Cursor(context.Background(), "my-jenkins", "job1"); n != 1 {
		t.Fatalf("cursor after a failed fire = %d, want 1", n)
	}
	mustPoll(t, p)
	mustPoll(t, p)
	if got := f.numbers(); !slices.Equal(got, []int{2, 3}) {
		t.Errorf("fired %v, want [2 3]", got)
	}
}

func TestPollerFloodGuard(t *testing.T) {
	s, c := seeded(t)
	store := &memCursors{}
	f := &fired{}
	p, logs := newPoller(t, c, store, f, jenkins.Watch{Master: "my-jenkins", Job: "job2"})
	mustPoll(t, p)
	for range 4 {
		s.AddBuild("job2", jenkinstest.Build{Result: "SUCCESS"})
	}
	mustPoll(t, p)
	if got := f.numbers(); len(got) != 0 {
		t.Errorf("flood fired %v", got)
	}
	if n, _, _ := store.Cursor(context.Background(), "my-jenkins", "job2"); n != 6 {
		t.Errorf("cursor = %d, want 6 (jumped)", n)
	}
	if !strings.Contains(logs.String(), "flood guard") || !strings.Contains(logs.String(), "builds=4") {
		t.Errorf("flood not logged: %s", logs)
	}
	s.AddBuild("job2", jenkinstest.Build{Result: "SUCCESS"})
	mustPoll(t, p)
	if got := f.numbers(); !slices.Equal(got, []int{7}) {
		t.Errorf("after the flood fired %v, want [7]", got)
	}
}

func TestPollerUnknownMasterAndJob(t *testing.T) {
	_, c := seeded(t)
	f := &fired{}
	p, _ := newPoller(t, c, &memCursors{}, f,
		jenkins.Watch{Master: "other", Job: "job1"},
		jenkins.Watch{Master: "my-jenkins", Job: "gone"},
		jenkins.Watch{Master: "my-jenkins", Job: "job1"})
	err := p.Poll(context.Background())
	if err == nil || !strings.Contains(err.Error(), `master "other" is not configured`) ||
		!strings.Contains(err.Error(), `has no job "gone"`) {
		t.Errorf("Poll = %v", err)
	}
}

// TestPollerStartStop: Start polls on its own; Start and Stop twice are
// harmless, and PollJob racing the ticks fires a build once.
func TestPollerStartStop(t *testing.T) {
	s, c := seeded(t)
	store := &memCursors{}
	f := &fired{}
	p, _ := newPoller(t, c, store, f, jenkins.Watch{Master: "my-jenkins", Job: "job1"})
	p.Stop() // before Start
	ctx := context.Background()
	p.Start(ctx)
	p.Start(ctx)
	waitFor(t, func() bool { _, ok, _ := store.Cursor(ctx, "my-jenkins", "job1"); return ok })
	s.AddBuild("job1", jenkinstest.Build{Result: "SUCCESS"})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() { defer wg.Done(); p.PollJob(ctx, "my-jenkins", "job1") }()
	}
	wg.Wait()
	waitFor(t, func() bool { return len(f.numbers()) > 0 })
	p.Stop()
	p.Stop()
	if got := f.numbers(); !slices.Equal(got, []int{2}) {
		t.Errorf("fired %v, want [2]", got)
	}
	// After Stop no tick runs: a new build does not fire.
	s.AddBuild("job1", jenkinstest.Build{Result: "SUCCESS"})
	time.Sleep(100 * time.Millisecond)
	if got := f.numbers(); !slices.Equal(got, []int{2}) {
		t.Errorf("fired %v after Stop, want [2]", got)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestNotificationPollsTheJob is the webhook's path: a notification that
// fires makes the Poller poll that job at once, so the build fires within
// the request, and the second notification of the same build (COMPLETED
// then FINALIZED) fires nothing more.
func TestNotificationPollsTheJob(t *testing.T) {
	s, c := seeded(t)
	store := &memCursors{}
	f := &fired{}
	p, _ := newPoller(t, c, store, f)
	ctx := context.Background()
	if err := p.PollJob(ctx, "my-jenkins", jenkinstest.ArmoryJob); err != nil { // the trigger is saved
		t.Fatal(err)
	}
	s.Finish(jenkinstest.ArmoryJob, 7, "ABORTED")
	s.AddBuild(jenkinstest.ArmoryJob, jenkinstest.Build{Number: 8, Result: "SUCCESS"})
	for _, phase := range []string{"COMPLETED", "FINALIZED"} {
		body := `{"name":"master","url":"job/armory/job/armory-hello-deploy/job/master/",
			"build":{"number":8,"phase":"` + phase + `","status":"SUCCESS"}}`
		n, err := jenkins.ParseNotification([]byte(body))
		if err != nil || !n.Fires() {
			t.Fatalf("%s: %v, fires %v", phase, err, n.Fires())
		}
		if err := p.PollJob(ctx, "my-jenkins", n.Job); err != nil {
			t.Fatal(err)
		}
	}
	if got := f.numbers(); !slices.Equal(got, []int{8}) {
		t.Errorf("fired %v, want [8]", got)
	}
}
