package pipeline_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/bakehouse/bakehouse/pipeline"
)

func bakeContext(extra map[string]any) map[string]any {
	c := map[string]any{"region": "us-east-1", "package": "hodor", "user": "bran", "baseOs": "ubuntu",
		"baseLabel": "release", "cloudProviderType": "aws"}
	for k, v := range extra {
		c[k] = v
	}
	return c
}

func noWait() pipeline.Settings {
	set := pipeline.DefaultSettings()
	set.CreateRetryWait = 0
	return set
}

func okBakery() *fakeBakery {
	return &fakeBakery{responses: map[string]any{
		"GET /bakeOptions/aws/baseImages/ubuntu": map[string]any{"status": float64(200), "body": map[string]any{"packageType": "DEB"}},
	}}
}

func TestCreateBakeUserErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		ctx  map[string]any
		b    *fakeBakery
		want string
	}{
		{"no region", bakeContext(map[string]any{"region": nil}), okBakery(), "region is missing"},
		{"bad vmType", bakeContext(map[string]any{"vmType": "fast"}), okBakery(), `vmType "fast" is not one of pv, hvm`},
		{"bad storeType", bakeContext(map[string]any{"storeType": "tape"}), okBakery(), `storeType "tape" is not one of ebs, s3, docker`},
		{"user is a list", bakeContext(map[string]any{"user": []any{"a"}}), okBakery(), "user must be a string"},
		{"no upstream image", bakeContext(map[string]any{"baseAmiFromUpstream": true}), okBakery(),
			"baseAmiFromUpstream: no upstream Find Image stage found an image in us-east-1"},
		{"bad expression", bakeContext(map[string]any{"baseAmi": "${ #stage('Find')['context'] }"}), okBakery(),
			"expression ${ #stage('Find')['context'] }: no stage named \"Find\""},
		{"unknown base OS", bakeContext(map[string]any{"baseOs": "plan9"}), &fakeBakery{responses: map[string]any{
			"GET /bakeOptions/aws/baseImages/plan9": map[string]any{"status": float64(404),
				"body": map[string]any{"error": "bake.options.not.found", "messages": []any{"Base image with id plan9 not found."}}}}},
			"Base image with id plan9 not found."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, s := regionChild(tc.ctx, nil)
			_, err := pipeline.CreateBake(context.Background(), tc.b, e, s, noWait())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
			if !pipeline.IsUserError(err) {
				t.Errorf("%T is not a user error", err)
			}
			if len(tc.b.creates) != 0 {
				t.Errorf("the bakery was asked to bake")
			}
		})
	}
}

func TestCreateBakeBakeryErrors(t *testing.T) {
	// The bakery's HTTP answers: a 404 is Rosco's "not found", its first
	// message surfaces as it is; a 400 stays the bakery's error.
	for _, tc := range []struct {
		err      *pipeline.BakeryError
		user     bool
		attempts int
	}{
		{&pipeline.BakeryError{Status: 404, Messages: []string{"no such base image"}}, true, 3},
		{&pipeline.BakeryError{Status: 400, Message: "base_os is required"}, false, 3},
	} {
		b := &errBakery{err: tc.err}
		e, s := regionChild(bakeContext(nil), nil)
		set := noWait()
		set.CreateAttempts = 3
		set.RoscoAPIsEnabled = false
		_, err := pipeline.CreateBake(context.Background(), b, e, s, set)
		want := tc.err.Message
		if len(tc.err.Messages) > 0 {
			want = tc.err.Messages[0]
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("error %v, want %v", err, tc.err)
		}
		if pipeline.IsUserError(err) != tc.user {
			t.Errorf("%v: user error %v, want %v", tc.err, !tc.user, tc.user)
		}
		if b.creates != tc.attempts {
			t.Errorf("%d attempts, want %d", b.creates, tc.attempts)
		}
	}
}

type errBakery struct {
	fakeBakery
	err     error
	creates int
}

func (b *errBakery) CreateBake(context.Context, string, map[string]any, bool) (map[string]any, error) {
	b.creates++
	return nil, b.err
}

func TestCreateBakeRetryWaitStopsOnCancel(t *testing.T) {
	b := &errBakery{err: &pipeline.BakeryError{Status: 503}}
	e, s := regionChild(bakeContext(nil), nil)
	set := pipeline.DefaultSettings()
	set.RoscoAPIsEnabled = false
	set.CreateRetryWait = time.Hour
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := pipeline.CreateBake(ctx, b, e, s, set)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v, want the context's", err)
	}
	if time.Since(start) > 5*time.Second || b.creates != 1 {
		t.Errorf("%d attempts in %v", b.creates, time.Since(start))
	}
}

func TestCreateBakeBaseAmi(t *testing.T) {
	e, bake := exprExecution()
	e.Trigger["buildInfo"] = map[string]any{"number": float64(5), "artifacts": []any{map[string]any{"fileName": "hodor_1.0_all.deb"}}}
	parentID := bake.ID
	for _, tc := range []struct {
		name string
		ctx  map[string]any
		want string
	}{
		{"guide's expression", map[string]any{"baseAmi": "${ #stage('Find Image from Tags')['context']['amiDetails'][0]['imageId'] }"}, "ami-east"},
		{"baseAmiFromUpstream", map[string]any{"region": "us-west-2", "baseAmiFromUpstream": true}, "ami-west"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			child := &pipeline.Stage{ID: "C-" + tc.name, RefID: "2<1", Type: "bake", ParentStageID: &parentID,
				RequisiteStageRefIDs: []string{}, Context: bakeContext(tc.ctx)}
			e.Stages = append(e.Stages, child)
			b := okBakery()
			if _, err := pipeline.CreateBake(context.Background(), b, e, child, noWait()); err != nil {
				t.Fatal(err)
			}
			body := b.creates[0].body
			if body["base_ami"] != tc.want {
				t.Errorf("base_ami %v, want %s", body["base_ami"], tc.want)
			}
			if body["package"] != "hodor_1.0_all" {
				t.Errorf("package %v, want hodor_1.0_all", body["package"])
			}
			if _, ok := body["base_ami_from_upstream"]; ok {
				t.Error("baseAmiFromUpstream passed through to the bakery")
			}
			if strings.Contains(jsonText(child.Context), tc.want) {
				t.Error("CreateBake changed the stage's context")
			}
		})
	}
}

func TestExceptionContext(t *testing.T) {
	now := time.UnixMilli(1620926705665)
	e, s := regionChild(bakeContext(map[string]any{"vmType": "fast"}), nil)
	_, err := pipeline.CreateBake(context.Background(), okBakery(), e, s, noWait())
	got := pipeline.ExceptionContext(err, now)
	assertEqual(t, "exception", got, map[string]any{
		"details":       map[string]any{"error": "Unexpected Task Failure", "errors": []any{`vmType "fast" is not one of pv, hvm`}},
		"exceptionType": "IllegalArgumentException", "operation": "createBake", "shouldRetry": false, "timestamp": 1620926705665,
	})

	httpErr := pipeline.ExceptionContext(&pipeline.BakeryError{Status: 500, Message: "Bake failed"}, now)
	assertEqual(t, "http exception", httpErr, map[string]any{
		"details":       map[string]any{"error": "Internal Server Error", "errors": []any{"Bake failed"}, "kind": "HTTP", "status": 500},
		"exceptionType": "SpinnakerHttpException", "shouldRetry": false, "timestamp": 1620926705665,
	})

	// the keys Orca writes, as the Armory sample's failed stage shows them
	raw, rerr := os.ReadFile("testdata/spinnaker/armory-policy-engine-bake.execution-input.json")
	if rerr != nil {
		t.Fatalf("fixture: %v", rerr)
	}
	var sample struct {
		Input struct {
			Pipeline struct {
				Stages []struct {
					Context map[string]any `json:"context"`
				} `json:"stages"`
			} `json:"pipeline"`
		} `json:"input"`
	}
	if err := json.Unmarshal(raw, &sample); err != nil {
		t.Fatal(err)
	}
	for _, st := range sample.Input.Pipeline.Stages {
		ex := m(st.Context["exception"])
		if ex == nil {
			continue
		}
		for k := range ex {
			if _, ok := got[k]; !ok {
				t.Errorf("Orca's exception has %q, ours does not", k)
			}
		}
		for _, k := range []string{"error", "errors"} {
			if _, ok := m(ex["details"])[k]; !ok {
				t.Errorf("sample details lack %q", k)
			}
		}
	}
}

// TestBakeChildTasksMatchArmorySample checks a region child's tasks
// against the real execution in the Armory sample ("Bake in us-east-2").
func TestBakeChildTasksMatchArmorySample(t *testing.T) {
	raw, err := os.ReadFile("testdata/spinnaker/armory-policy-engine-bake.execution-input.json")
	if err != nil {
		t.Fatalf("fixture: %v", err)
	}
	var sample struct {
		Input struct {
			Stage struct {
				RefID string           `json:"refId"`
				Tasks []map[string]any `json:"tasks"`
			} `json:"stage"`
		} `json:"input"`
	}
	if err := json.Unmarshal(raw, &sample); err != nil {
		t.Fatal(err)
	}
	parent := &pipeline.Stage{ID: "P", RefID: "8", Type: "bake", Context: map[string]any{"region": "us-east-2"}}
	e := &pipeline.Execution{Type: "PIPELINE", Stages: []*pipeline.Stage{parent}}
	child := pipeline.BakeChildren(e, parent, time.Now(), idGen())[0]
	if child.RefID != sample.Input.Stage.RefID {
		t.Errorf("refId %s, want %s", child.RefID, sample.Input.Stage.RefID)
	}
	var got, want []any
	for _, tk := range child.Tasks {
		got = append(got, map[string]any{"id": tk.ID, "name": tk.Name, "implementingClass": tk.ImplementingClass,
			"stageStart": tk.StageStart, "stageEnd": tk.StageEnd, "loopStart": tk.LoopStart, "loopEnd": tk.LoopEnd})
	}
	for _, tk := range sample.Input.Stage.Tasks {
		want = append(want, map[string]any{"id": tk["id"], "name": tk["name"], "implementingClass": tk["implementingClass"],
			"stageStart": tk["stageStart"], "stageEnd": tk["stageEnd"], "loopStart": tk["loopStart"], "loopEnd": tk["loopEnd"]})
	}
	assertEqual(t, "tasks", got, want)
}

// TestPackageInfoSyntheticUpstream: the build may come from a synthetic
// child of a requisite stage (Orca searches those with the requisites).
func TestPackageInfoSyntheticUpstream(t *testing.T) {
	parentID := "J"
	jenkins := &pipeline.Stage{ID: "J", RefID: "1", Type: "pipeline", RequisiteStageRefIDs: []string{}, Outputs: map[string]any{}}
	child := &pipeline.Stage{ID: "JC", RefID: "1<1", Type: "jenkins", ParentStageID: &parentID, RequisiteStageRefIDs: []string{},
		Outputs: map[string]any{"buildInfo": map[string]any{"artifacts": []any{map[string]any{"fileName": "api_2.0-h3_all.deb"}}}}}
	far := &pipeline.Stage{ID: "F", RefID: "0", Type: "jenkins", RequisiteStageRefIDs: []string{},
		Outputs: map[string]any{"buildInfo": map[string]any{"artifacts": []any{map[string]any{"fileName": "api_1.0-h1_all.deb"}}}}}
	jenkins.RequisiteStageRefIDs = []string{"0"}
	bake := &pipeline.Stage{ID: "B", RefID: "2", Type: "bake", RequisiteStageRefIDs: []string{"1"}, Context: map[string]any{"package": "api"}}
	e := &pipeline.Execution{Type: "PIPELINE", Trigger: map[string]any{"type": "manual"}, Stages: []*pipeline.Stage{far, jenkins, child, bake}}
	got, err := pipeline.PackageInfo{Type: pipeline.DEB}.FindTargetPackage(e, bake, pipeline.ArtifactPool(e))
	if err != nil {
		t.Fatal(err)
	}
	if got["package"] != "api_2.0-h3_all" {
		t.Errorf("package %v, want the synthetic child's build api_2.0-h3_all", got["package"])
	}
}
