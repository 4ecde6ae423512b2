package bakery

import (
	"testing"
	"time"

	"github.com/bakehouse/bakehouse"
	"github.com/bakehouse/bakehouse/pipeline"
)

// TestBakedImages: a successful aws bake gives its AMI in its region and
// each copy in the others; a docker bake its reference; failed, deleted
// and running bakes nothing.
func TestBakedImages(t *testing.T) {
	success, failure := bakehouse.ResultSuccess, bakehouse.ResultFailure
	at := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	plan := bakehouse.Plan{AppVersion: "hello-0.5.0-h5.c4baff4/hello/5", Packages: []bakehouse.PlanPackage{{Name: "hello"}}}
	req := bakehouse.BakeRequest{Package: "hello_0.5.0-h5.c4baff4_all vim", BuildHost: "https://jenkins/", BuildInfoURL: "https://jenkins/job/hello/5/"}
	recs := []*bakehouse.BakeRecord{
		{ID: "aws1", Provider: "aws", Region: "us-east-1", State: bakehouse.StateCompleted, Result: &success, Plan: plan, Request: req,
			FinishedAt: at, Details: &bakehouse.Bake{AMI: "ami-east", ImageName: "hello-all-1",
				Artifacts: []bakehouse.Artifact{{Type: "aws/image", Location: "us-east-1", Reference: "ami-east"},
					{Type: "aws/image", Location: "eu-west-1", Reference: "ami-eu"}}}},
		{ID: "dk1", Provider: "docker", Region: "global", State: bakehouse.StateCompleted, Result: &success,
			Plan: bakehouse.Plan{Packages: []bakehouse.PlanPackage{{Name: "hello"}, {Name: "vim"}}}, CreatedAt: at.Add(-time.Hour),
			Details: &bakehouse.Bake{ImageName: "hello:c4baff4"}},
		{ID: "failed", Provider: "aws", Region: "us-east-1", State: bakehouse.StateCompleted, Result: &failure, Details: &bakehouse.Bake{AMI: "ami-x"}},
		{ID: "deleted", Provider: "aws", Region: "us-east-1", State: bakehouse.StateCompleted, Result: &success, Deleted: true, Details: &bakehouse.Bake{AMI: "ami-y"}},
		{ID: "running", Provider: "aws", Region: "us-east-1", State: bakehouse.StateRunning},
	}
	got := bakedImages(recs)
	want := []pipeline.BakedImage{
		{Provider: "aws", Region: "us-east-1", ImageID: "ami-east", ImageName: "hello-all-1", AppVersion: plan.AppVersion, Package: "hello",
			BuildHost: "https://jenkins/", BuildInfoURL: "https://jenkins/job/hello/5/", Created: at},
		{Provider: "aws", Region: "eu-west-1", ImageID: "ami-eu", ImageName: "hello-all-1", AppVersion: plan.AppVersion, Package: "hello",
			BuildHost: "https://jenkins/", BuildInfoURL: "https://jenkins/job/hello/5/", Created: at},
		{Provider: "docker", Region: "global", ImageID: "hello:c4baff4", ImageName: "hello:c4baff4", Package: "hello", Created: at.Add(-time.Hour)},
	}
	if len(got) != len(want) {
		t.Fatalf("bakedImages = %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("image %d = %+v\nwant %+v", i, got[i], want[i])
		}
	}
}
