package runner_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bakehouse/bakehouse/pipeline"
	"github.com/bakehouse/bakehouse/runner"
)

// roscoDouble answers Rosco's API as documented: a bake is RUNNING until
// finish is closed, then COMPLETED/SUCCESS with an AMI per region.
type roscoDouble struct {
	mu       sync.Mutex
	finish   chan struct{}
	bodies   []map[string]any
	rebakes  int
	canceled []string
	inflight int
	maxIn    int
}

func newRosco() *roscoDouble { return &roscoDouble{finish: make(chan struct{})} }

func (r *roscoDouble) BaseImage(context.Context, string, string) (string, error) { return "DEB", nil }

func (r *roscoDouble) CreateBake(_ context.Context, region string, body map[string]any, rebake bool) (map[string]any, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.bodies = append(r.bodies, body)
	if rebake {
		r.rebakes++
	}
	r.inflight++
	r.maxIn = max(r.maxIn, r.inflight)
	return map[string]any{"id": "b-" + region, "state": "RUNNING", "resource_id": "b-" + region}, nil
}

func (r *roscoDouble) Status(_ context.Context, region, id string) (map[string]any, error) {
	select {
	case <-r.finish:
		r.mu.Lock()
		r.inflight = 0
		r.mu.Unlock()
		return map[string]any{"id": id, "state": "COMPLETED", "result": "SUCCESS", "resource_id": id}, nil
	default:
		return map[string]any{"id": id, "state": "RUNNING", "resource_id": id}, nil
	}
}

func (r *roscoDouble) Bake(_ context.Context, region, id string) (map[string]any, error) {
	return map[string]any{"id": id, "ami": "ami-" + region, "ami_name": "hello-all-20170329204459-trusty", "base_ami": "ami-base"}, nil
}

func (r *roscoDouble) CancelBake(_ context.Context, region, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.canceled = append(r.canceled, region+"/"+id)
	return nil
}

const twoRegions = `{"application":"app","name":"bake","stages":[
	{"refId":"1","type":"bake","name":"Bake","package":"hello","baseOs":"trusty","baseLabel":"release","cloudProviderType":"aws","regions":["us-west-2","us-east-1"]%s},
	{"refId":"2","type":"deploy","name":"Deploy","requisiteStageRefIds":["1"],"clusters":[{"cloudProvider":"aws","availabilityZones":{"eu-west-1":[]}}]}]}`

func TestBakeStageRegionsInParallel(t *testing.T) {
	rosco := newRosco()
	r := newRunner(t, openStore(t, filepath.Join(t.TempDir(), "db")), &runner.Tasks{Bakery: rosco})
	save(t, r, fmt.Sprintf(twoRegions, ""))
	e, err := r.Start(context.Background(), "app", "bake", map[string]any{"type": "manual", "rebake": true})
	if err != nil {
		t.Fatal(err)
	}
	// Every region's bake is submitted before any completes.
	deadline := time.Now().Add(10 * time.Second)
	for {
		rosco.mu.Lock()
		n := len(rosco.bodies)
		rosco.mu.Unlock()
		if n == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of 3 bakes submitted while none completed", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	close(rosco.finish)
	e = waitFor(t, r, e.ID, pipeline.Succeeded)
	var suffixes []string
	for _, b := range rosco.bodies {
		suffixes = append(suffixes, fmt.Sprint(b["ami_suffix"]))
	}
	if suffixes[0] == "" || suffixes[0] != suffixes[1] || suffixes[1] != suffixes[2] || rosco.rebakes != 3 {
		t.Fatalf("suffixes %v (want one shared), rebakes %d (want 3: the trigger's Force Rebake)", suffixes, rosco.rebakes)
	}
	names := []string{}
	for _, s := range e.Stages {
		names = append(names, s.RefID+":"+s.Name)
	}
	if got := strings.Join(names, ","); got != "1<1:Bake in us-west-2,1<2:Bake in us-east-1,1<3:Bake in eu-west-1,1:Bake,2:Deploy" {
		t.Fatalf("stages = %s", got)
	}
	dd, _ := stage(e, "1").Outputs["deploymentDetails"].([]any)
	if len(dd) != 3 || dd[0].(map[string]any)["ami"] != "ami-us-west-2" {
		t.Fatalf("deploymentDetails = %v", dd)
	}
}

func TestBakeStageTimeout(t *testing.T) {
	rosco := newRosco()
	r := newRunner(t, openStore(t, filepath.Join(t.TempDir(), "db")), &runner.Tasks{Bakery: rosco})
	save(t, r, fmt.Sprintf(twoRegions, `,"stageTimeoutMs":200,"skipRegionDetection":true`))
	e, _ := r.Start(context.Background(), "app", "bake", nil)
	e = waitFor(t, r, e.ID, pipeline.Terminal)
	// Both regions time out; whichever does first fails the stage and the
	// other is canceled.
	var found []string
	for _, ref := range []string{"1<1", "1<2"} {
		if ex, _ := stage(e, ref).Context["exception"].(map[string]any); strings.Contains(fmt.Sprint(ex), "monitorBake timed out after 200ms") {
			found = append(found, ref)
		}
	}
	if len(found) == 0 || stage(e, "1").Status != pipeline.Terminal {
		t.Fatalf("no region failed with the timeout: %s %v %v", stages(e), stage(e, "1<1").Context["exception"], stage(e, "1<2").Context["exception"])
	}
}

func TestCancelCancelsBakes(t *testing.T) {
	rosco := newRosco()
	r := newRunner(t, openStore(t, filepath.Join(t.TempDir(), "db")), &runner.Tasks{Bakery: rosco})
	save(t, r, fmt.Sprintf(twoRegions, `,"skipRegionDetection":true`))
	e, _ := r.Start(context.Background(), "app", "bake", nil)
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, _ := r.Execution(context.Background(), e.ID)
		if a, b := stage(got, "1<1"), stage(got, "1<2"); a != nil && b != nil && a.Context["status"] != nil && b.Context["status"] != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("bakes not submitted")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := r.Cancel(context.Background(), e.ID, "anna", ""); err != nil {
		t.Fatal(err)
	}
	waitFor(t, r, e.ID, pipeline.Canceled)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		rosco.mu.Lock()
		n := len(rosco.canceled)
		rosco.mu.Unlock()
		if n == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("canceled bakes: %v, want both regions'", rosco.canceled)
		}
	}
}

// A run resumed after a restart submits its unfinished bakes again (the
// bakery ended them when it restarted) and completes.
func TestResumeResubmitsBakes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	store := openStore(t, path)
	rosco := newRosco()
	r1 := runner.New(runner.Config{Store: store, Tasks: &runner.Tasks{Bakery: rosco, Poll: 20 * time.Millisecond}})
	save(t, r1, fmt.Sprintf(twoRegions, `,"skipRegionDetection":true`))
	e, _ := r1.Start(context.Background(), "app", "bake", nil)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		rosco.mu.Lock()
		n := len(rosco.bodies)
		rosco.mu.Unlock()
		if n == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("bakes not submitted")
		}
	}
	r1.Stop()
	close(rosco.finish)
	r2 := newRunner(t, store, &runner.Tasks{Bakery: rosco})
	got := waitFor(t, r2, e.ID, pipeline.Succeeded)
	if len(rosco.bodies) != 4 {
		t.Fatalf("%d bake requests, want 4 (each region submitted again on resume)", len(rosco.bodies))
	}
	if msgs := fmt.Sprint(stage(got, "1<1").Context["messages"]); !strings.Contains(msgs, "submitted again") {
		t.Fatalf("messages = %v", msgs)
	}
}

// Orca's PackageInfo errors reach the execution word for word, in the
// stage's context.exception as Orca puts them, and nothing is baked.
func TestBakeStagePackageError(t *testing.T) {
	rosco := newRosco()
	r := newRunner(t, openStore(t, filepath.Join(t.TempDir(), "db")), &runner.Tasks{Bakery: rosco})
	save(t, r, `{"application":"app","name":"p","stages":[{"refId":"1","type":"bake","name":"Bake","package":"foo bar","baseOs":"trusty","cloudProviderType":"aws","region":"us-west-2"}]}`)
	e, err := r.Start(context.Background(), "app", "p", map[string]any{"type": "manual",
		"buildInfo": map[string]any{"artifacts": []any{map[string]any{"fileName": "test-package_1.0.0.deb"}}}})
	if err != nil {
		t.Fatal(err)
	}
	e = waitFor(t, r, e.ID, pipeline.Terminal)
	ex, _ := stage(e, "1<1").Context["exception"].(map[string]any)
	errs := fmt.Sprint(ex["details"].(map[string]any)["errors"])
	const want = "Unable to find deployable artifact starting with [foo_, bar_] and ending with .deb in [] and [test-package_1.0.0.deb]. Make sure your deb package file name complies with the naming convention: name_version-release_arch."
	if errs != "["+want+"]" {
		t.Fatalf("errors = %s\nwant [%s]", errs, want)
	}
	if stage(e, "1").Status != pipeline.Terminal || len(rosco.bodies) != 0 {
		t.Fatalf("parent %s, %d bakes submitted", stage(e, "1").Status, len(rosco.bodies))
	}
}
