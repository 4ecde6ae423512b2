package pipeline_test

import (
	"context"
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/bakehouse/bakehouse/pipeline"
)

// TestBakeFromSpinnakerConfig runs the Bake stage of a real Front50
// config (Orca's convertedPipelineTemplateSource: four regions, a deploy
// downstream to two of them) from NewExecution through BakeChildren to
// the first region's request, the path the runner takes.
func TestBakeFromSpinnakerConfig(t *testing.T) {
	raw, err := os.ReadFile("testdata/spinnaker/orca-convertedPipelineTemplateSource.pipeline.json")
	if err != nil {
		t.Fatalf("fixture: %v", err)
	}
	cfg, err := pipeline.ParseConfig(raw)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	newID := func() string { n++; return "s" + string(rune('0'+n)) }
	e, err := pipeline.NewExecution(cfg, "E", map[string]any{"type": "manual", "user": "anna"}, 0, newID)
	if err != nil {
		t.Fatal(err)
	}
	var bake *pipeline.Stage
	for _, s := range e.Stages {
		if s.Type == "bake" {
			bake = s
		}
	}
	children := pipeline.BakeChildren(e, bake, time.Date(2024, 5, 13, 17, 25, 4, 0, time.UTC), newID)
	var refs, names []string
	for _, c := range children {
		refs, names = append(refs, c.RefID), append(names, c.Name)
	}
	assertEqual(t, "refIds", refs, []string{"1<1", "1<2", "1<3", "1<4"})
	assertEqual(t, "names", names, []string{"Bake in us-east-1", "Bake in us-west-1", "Bake in us-west-2", "Bake in eu-west-1"})
	if bake.Context["amiSuffix"] != "20240513172504" {
		t.Errorf("parent amiSuffix %v", bake.Context["amiSuffix"])
	}
	if _, ok := children[0].Context["regions"]; ok {
		t.Error("a child kept regions")
	}

	e.Stages = append(children, e.Stages...)
	b := &fakeBakery{responses: map[string]any{
		"GET /bakeOptions/aws/baseImages/trusty": map[string]any{"status": float64(200), "body": map[string]any{"packageType": "DEB"}},
	}}
	update, err := pipeline.CreateBake(context.Background(), b, e, children[1], noWait())
	if err != nil {
		t.Fatal(err)
	}
	body := norm(t, b.creates[0].body).(map[string]any)
	for k, want := range map[string]any{
		"package": "orca", "package_type": "DEB", "base_os": "trusty", "base_label": "release", "vm_type": "hvm",
		"store_type": "ebs", "enhanced_networking": false, "cloud_provider_type": "aws", "ami_suffix": "20240513172504",
		"region": "us-west-1", "name": "Bake in us-west-1", "stage_timeout_ms": float64(900000), "user": "example@example.com",
	} {
		if got := body[k]; !jsonEqual(got, want) {
			t.Errorf("body %s = %v, want %v", k, got, want)
		}
	}
	if update["bakePackageName"] != "orca" || update["previouslyBaked"] != false {
		t.Errorf("update %v", update)
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}
