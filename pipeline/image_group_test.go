package pipeline_test

import (
	"context"
	"testing"
	"time"

	"github.com/bakehouse/bakehouse/pipeline"
)

type listFinder []pipeline.Image

func (l listFinder) FindImages(context.Context, string, string, map[string]string, []string, string) ([]pipeline.TaggedImage, error) {
	return pipeline.GroupImages(l), nil
}

// TestFindImageFromTagsOverFlatImages: two regions' copies of one bake
// (as EC2 lists them, one AMI per region) and an older bake, found per
// region newest first, the Jenkins details from the bake's tags.
func TestFindImageFromTagsOverFlatImages(t *testing.T) {
	tags := map[string]string{"appversion": "hello-0.5.0-h5.c4baff4/armory-hello-deploy/5", "build_host": "http://jenkins/"}
	old := map[string]string{"appversion": "hello-0.4.0-h4.aaaaaaa/armory-hello-deploy/4", "build_host": "http://jenkins/"}
	f := listFinder{
		{Name: "hello-4", ID: "ami-old-east", Region: "us-east-1", CreationDate: "2024-01-01T00:00:00Z", Tags: old},
		{Name: "hello-5", ID: "ami-new-east", Region: "us-east-1", CreationDate: "2024-02-01T00:00:00Z", Tags: tags},
		{Name: "hello-5", ID: "ami-new-west", Region: "us-west-2", CreationDate: "2024-02-01T00:00:05Z", Tags: tags},
		{Name: "hello-4", ID: "ami-old-west", Region: "us-west-2", CreationDate: "2024-01-01T00:00:00Z", Tags: old},
	}
	s := &pipeline.Stage{Type: "findImageFromTags", Context: map[string]any{"packageName": "hello",
		"tags": map[string]any{"team": "x"}, "regions": []any{"us-west-2", "us-east-1"}}}
	update, outputs, err := pipeline.FindImageFromTags(context.Background(), f, s)
	if err != nil {
		t.Fatal(err)
	}
	want := []any{
		map[string]any{"imageName": "hello-5", "imageId": "ami-new-west", "ami": "ami-new-west", "region": "us-west-2",
			"jenkins": map[string]any{"host": "http://jenkins/", "name": "armory-hello-deploy", "number": "5"}},
		map[string]any{"imageName": "hello-5", "imageId": "ami-new-east", "ami": "ami-new-east", "region": "us-east-1",
			"jenkins": map[string]any{"host": "http://jenkins/", "name": "armory-hello-deploy", "number": "5"}},
	}
	assertEqual(t, "amiDetails", update["amiDetails"], want)
	assertEqual(t, "deploymentDetails", outputs["deploymentDetails"], want)
	if got := pipeline.GroupImages(f); len(got) != 2 || len(got[1].AMIs) != 2 || got[1].CreationDate != "2024-02-01T00:00:05Z" {
		t.Errorf("GroupImages = %+v", got)
	}

	_, _, err = pipeline.FindImageFromTags(context.Background(), listFinder{}, s)
	if err == nil || err.Error() != "Could not find tagged image for package: hello and tags: {team=x}" || !pipeline.IsUserError(err) {
		t.Errorf("no image: error %v", err)
	}
}

func TestTaskTiming(t *testing.T) {
	s := &pipeline.Stage{Context: map[string]any{}}
	if b, to, ok := pipeline.TaskTiming(pipeline.TaskMonitorBake, s); !ok || b != 30*time.Second || to != time.Hour {
		t.Errorf("monitorBake: %v %v %v", b, to, ok)
	}
	s.Context["stageTimeoutMs"] = float64(120000)
	if _, to, _ := pipeline.TaskTiming(pipeline.TaskMonitorBake, s); to != 2*time.Minute {
		t.Errorf("monitorBake with stageTimeoutMs: %v", to)
	}
	if _, _, ok := pipeline.TaskTiming("wait", s); ok {
		t.Error("a cadence for an unknown task")
	}
	if tasks := pipeline.FindImageFromTagsTasks(); len(tasks) != 1 || tasks[0].Name != "findImage" {
		t.Errorf("find image tasks %+v", tasks)
	}
}
