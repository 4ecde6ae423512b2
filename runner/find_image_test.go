package runner_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/bakehouse/bakehouse/pipeline"
	"github.com/bakehouse/bakehouse/runner"
)

type bakedList []pipeline.BakedImage

func (b bakedList) BakedImages(context.Context) ([]pipeline.BakedImage, error) { return b, nil }

type tagFinder struct{}

func (tagFinder) FindImages(_ context.Context, _, pkg string, _ map[string]string, regions []string, _ string) ([]pipeline.TaggedImage, error) {
	return []pipeline.TaggedImage{{ImageName: pkg + "-tagged", CreationDate: "2026-01-01T00:00:00.000Z",
		TagsByImageID: map[string]map[string]string{"ami-tagged": {"appversion": pkg + "-1.0.0-h1.abc/job/1"}},
		AMIs:          map[string][]string{regions[0]: {"ami-tagged"}}}}, nil
}

// TestFindImageFromCluster: a findImage stage takes the newest baked
// image of its cluster, a findImageFromTags stage in the same pipeline
// (whose task Orca names findImage too) still searches by tags, and a
// cluster with no image fails the stage with Orca's message.
func TestFindImageFromCluster(t *testing.T) {
	at := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	images := bakedList{
		{Provider: "aws", Region: "us-east-1", ImageID: "ami-old", ImageName: "hello-0.4.0", AppVersion: "hello-0.4.0-h4.aaa/hello/4", Created: at},
		{Provider: "aws", Region: "us-east-1", ImageID: "ami-new", ImageName: "hello-0.5.0", AppVersion: "hello-0.5.0-h5.bbb/hello/5",
			BuildHost: "https://jenkins/", Created: at.Add(time.Hour)},
	}
	r := newRunner(t, openStore(t, filepath.Join(t.TempDir(), "db")), &runner.Tasks{Baked: images, Images: tagFinder{}})
	save(t, r, `{"application":"hello","name":"p","stages":[
		{"refId":"1","type":"findImage","name":"Find Image from Cluster","cluster":"hello-prod","regions":["us-east-1"],
		 "credentials":"test","cloudProvider":"aws","selectionStrategy":"NEWEST","onlyEnabled":true},
		{"refId":"2","type":"findImageFromTags","name":"Find Image from Tags","packageName":"hello","tags":{},"regions":["us-east-1"]}]}`)
	e, err := r.Start(context.Background(), "hello", "p", nil)
	if err != nil {
		t.Fatal(err)
	}
	e = waitFor(t, r, e.ID, pipeline.Succeeded)
	s := stage(e, "1")
	details, _ := s.Context["amiDetails"].([]any)
	if len(details) != 1 {
		t.Fatalf("amiDetails = %v", s.Context["amiDetails"])
	}
	d := details[0].(map[string]any)
	if d["imageId"] != "ami-new" || d["region"] != "us-east-1" || d["sourceServerGroup"] != "hello-prod" ||
		fmt.Sprint(d["jenkins"]) != "map[host:https://jenkins/ name:hello number:5]" {
		t.Errorf("amiDetails[0] = %v", d)
	}
	if out, _ := s.Outputs["deploymentDetails"].([]any); len(out) != 1 {
		t.Errorf("deploymentDetails = %v", s.Outputs)
	}
	if s.Tasks[0].Name != "findImage" || s.Tasks[0].ImplementingClass != "com.netflix.spinnaker.orca.clouddriver.tasks.cluster.FindImageFromClusterTask" {
		t.Errorf("task = %+v", s.Tasks[0])
	}
	tags := stage(e, "2")
	if td, _ := tags.Context["amiDetails"].([]any); len(td) != 1 || td[0].(map[string]any)["imageId"] != "ami-tagged" {
		t.Errorf("findImageFromTags amiDetails = %v", tags.Context["amiDetails"])
	}

	save(t, r, `{"application":"hello","name":"missing","stages":[
		{"refId":"1","type":"findImage","name":"Find","cluster":"other-prod","regions":["us-east-1"],"credentials":"test"}]}`)
	e, _ = r.Start(context.Background(), "hello", "missing", nil)
	e = waitFor(t, r, e.ID, pipeline.Terminal)
	ex, _ := stage(e, "1").Context["exception"].(map[string]any)
	errs := fmt.Sprint(ex["details"].(map[string]any)["errors"])
	if errs != "[Could not find cluster 'other-prod' for 'test' in 'us-east-1'.]" || ex["exceptionType"] != "IllegalStateException" || ex["operation"] != "findImage" {
		t.Errorf("exception = %v", ex)
	}
}
