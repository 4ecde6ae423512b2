package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/bakehouse/bakehouse/aws/ec2test"
	"github.com/bakehouse/bakehouse/pipeline"
)

// TestPipelineAWSTwoRegions runs a Bake stage over two regions against the
// EC2 double with the real Packer: both regions bake at once under one
// amiSuffix, and a Find Image from Tags stage downstream finds the AMIs.
func TestPipelineAWSTwoRegions(t *testing.T) {
	needPacker(t)
	d := ec2test.New(t, ec2test.Quiet())
	east := d.AddImage(ec2test.Image{Region: "us-east-1", Name: "ubuntu-trusty-14.04-amd64-server-east", CreationDate: "2024-01-01T00:00:00.000Z"})
	cfg := strings.Replace(awsConfig(awsOperatorDir(t)),
		"          - {region: us-west-2, virtualizationType: hvm, instanceType: t2.micro, sourceAmi: ami-0abc1234567890001, sshUserName: ubuntu}\n",
		"          - {region: us-west-2, virtualizationType: hvm, instanceType: t2.micro, sourceAmi: ami-0abc1234567890001, sshUserName: ubuntu}\n"+
			"          - {region: us-east-1, virtualizationType: hvm, instanceType: t2.micro, sourceAmi: "+east.ID+", sshUserName: ubuntu}\n", 1)
	srv := startServer(t, t.TempDir(), cfg, doubleEnv(t, d))
	const p = `{"application": "armory", "name": "hello", "stages": [
	  {"refId": "1", "type": "bake", "name": "Bake", "package": "armory-hello-deploy", "baseOs": "trusty", "baseLabel": "release",
	   "vmType": "hvm", "storeType": "ebs", "cloudProviderType": "aws", "regions": ["us-west-2", "us-east-1"], "user": "anna"},
	  {"refId": "2", "requisiteStageRefIds": ["1"], "type": "findImageFromTags", "name": "Find Image from Tags",
	   "packageName": "armory-hello-deploy", "tags": {}, "regions": ["us-west-2", "us-east-1"], "cloudProvider": "aws"}]}`
	if code, body, _ := call(t, "POST", srv.url+"/pipelines", p, nil); code != 200 {
		t.Fatalf("save: %d %s", code, body)
	}
	e := runPipeline(t, srv, `{"type": "manual", "buildInfo": {"name": "armory/job/armory-hello-deploy/job/master", "number": 5,
	  "url": "http://jenkins.example/job/armory/job/armory-hello-deploy/job/master/5/", "result": "SUCCESS",
	  "artifacts": [{"fileName": "armory-hello-deploy_0.5.0-h5.c4baff4_all.deb", "relativePath": "build/armory-hello-deploy_0.5.0-h5.c4baff4_all.deb"}],
	  "scm": [{"name": "refs/remotes/origin/master", "branch": "master", "sha1": "c4baff4cafe0000000000000000000000000000"}]}}`)
	mustSucceed(t, e)
	west, eastStage := stageNamed(e, "Bake in us-west-2"), stageNamed(e, "Bake in us-east-1")
	if west == nil || eastStage == nil {
		t.Fatalf("stages: %v", e.Stages)
	}
	if *west.StartTime >= *eastStage.EndTime || *eastStage.StartTime >= *west.EndTime {
		t.Errorf("the regions baked one after the other: west %d-%d, east %d-%d", *west.StartTime, *west.EndTime, *eastStage.StartTime, *eastStage.EndTime)
	}
	suffix := fmt.Sprint(stageNamed(e, "Bake").Context["amiSuffix"])
	if len(suffix) != 14 || west.Context["amiSuffix"] != suffix || eastStage.Context["amiSuffix"] != suffix {
		t.Fatalf("amiSuffix parent %q, children %v %v", suffix, west.Context["amiSuffix"], eastStage.Context["amiSuffix"])
	}
	name := "armory-hello-deploy-all-" + suffix + "-trusty"
	if west.Context["imageName"] != name || eastStage.Context["imageName"] != name || west.Context["ami"] == eastStage.Context["ami"] {
		t.Fatalf("images: west %v %v, east %v %v; want both named %s", west.Context["imageName"], west.Context["ami"], eastStage.Context["imageName"], eastStage.Context["ami"], name)
	}
	if eastStage.Context["baseAmiId"] != east.ID || west.Context["baseAmiId"] != ec2test.SourceAMI {
		t.Errorf("base AMIs: west %v east %v", west.Context["baseAmiId"], eastStage.Context["baseAmiId"])
	}
	dd, _ := stageNamed(e, "Bake").Outputs["deploymentDetails"].([]any)
	if len(dd) != 2 {
		t.Fatalf("deploymentDetails = %v", dd)
	}
	find := stageNamed(e, "Find Image from Tags")
	details, _ := find.Context["amiDetails"].([]any)
	if find.Status != pipeline.Succeeded || len(details) != 2 {
		t.Fatalf("find image: %s %v", find.Status, find.Context)
	}
	for _, det := range details {
		m := det.(map[string]any)
		want := west.Context["ami"]
		if m["region"] == "us-east-1" {
			want = eastStage.Context["ami"]
		}
		if m["imageId"] != want || m["imageName"] != name {
			t.Errorf("amiDetails entry %v, want %v named %s", m, want, name)
		}
	}
	// Again: both regions reuse their bakes at once.
	start := time.Now()
	again := runPipeline(t, srv, `{"type": "manual", "buildInfo": {"name": "armory/job/armory-hello-deploy/job/master", "number": 5,
	  "url": "http://jenkins.example/job/armory/job/armory-hello-deploy/job/master/5/", "result": "SUCCESS",
	  "artifacts": [{"fileName": "armory-hello-deploy_0.5.0-h5.c4baff4_all.deb"}],
	  "scm": [{"name": "refs/remotes/origin/master", "branch": "master", "sha1": "c4baff4cafe0000000000000000000000000000"}]}}`)
	mustSucceed(t, again)
	for _, r := range []string{"us-west-2", "us-east-1"} {
		if s := stageNamed(again, "Bake in "+r); s.Context["previouslyBaked"] != true {
			t.Errorf("second run in %s: previouslyBaked %v (status %v)", r, s.Context["previouslyBaked"], s.Context["status"])
		}
	}
	t.Logf("second run took %s", time.Since(start))
}
