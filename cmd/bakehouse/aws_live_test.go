package main

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// TestAWSLive bakes a tiny package into real AMIs in two regions, both
// ways: one request per region with a shared suffix, and one bake copied
// with copy_to. It runs only with BAKEHOUSE_AWS_LIVE=1 and real
// credentials in the AWS SDK's standard environment; see README "AWS".
//
//	BAKEHOUSE_AWS_LIVE_CONFIG   config file with an aws section (default ../../examples/aws.yml)
//	BAKEHOUSE_AWS_LIVE_REGIONS  two regions (default us-west-2,us-east-1)
//	BAKEHOUSE_AWS_LIVE_BASE_OS  base OS configured in both regions (default trusty)
//	BAKEHOUSE_AWS_LIVE_PACKAGE  package the configured repository holds (default armory-hello-deploy)
func TestAWSLive(t *testing.T) {
	if os.Getenv("BAKEHOUSE_AWS_LIVE") != "1" {
		t.Skip("live AWS test: set BAKEHOUSE_AWS_LIVE=1 with real AWS credentials to run it")
	}
	get := func(k, def string) string {
		if v := os.Getenv(k); v != "" {
			return v
		}
		return def
	}
	cfgFile := get("BAKEHOUSE_AWS_LIVE_CONFIG", "../../examples/aws.yml")
	cfg, err := os.ReadFile(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	regions := strings.Split(get("BAKEHOUSE_AWS_LIVE_REGIONS", "us-west-2,us-east-1"), ",")
	if len(regions) != 2 {
		t.Fatalf("BAKEHOUSE_AWS_LIVE_REGIONS must name two regions")
	}
	srv := startServer(t, t.TempDir(), string(cfg), nil)
	suffix := time.Now().UTC().Format("20060102150405")
	req := map[string]any{
		"package": get("BAKEHOUSE_AWS_LIVE_PACKAGE", "armory-hello-deploy"), "base_os": get("BAKEHOUSE_AWS_LIVE_BASE_OS", "trusty"),
		"cloud_provider_type": "aws", "ami_suffix": suffix,
	}
	// One request per region, the same suffix: the same name everywhere.
	names := map[string]bool{}
	for _, region := range regions {
		var st status
		if code, body, _ := call(t, "POST", srv.url+"/api/v1/"+region+"/bake", req, &st); code != 200 {
			t.Fatalf("%s: %d %s", region, code, body)
		}
		if final := waitDoneIn(t, srv, region, st.ID, 45*time.Minute); final.State != "COMPLETED" {
			t.Fatalf("%s: bake ended %s", region, final)
		}
		var d map[string]any
		call(t, "GET", srv.url+"/api/v1/"+region+"/bake/"+st.ID, nil, &d)
		if ami, _ := d["ami"].(string); !strings.HasPrefix(ami, "ami-") {
			t.Fatalf("%s: details %v", region, d)
		}
		names[fmt.Sprint(d["image_name"])] = true
	}
	if len(names) != 1 {
		t.Fatalf("per-region bakes got different names: %v", names)
	}
	// Bake once, copy to the second region.
	copyReq := map[string]any{}
	for k, v := range req {
		copyReq[k] = v
	}
	copyReq["ami_suffix"] = suffix + "c"
	copyReq["template_file_name"] = "aws-multi-ebs.json"
	copyReq["extended_attributes"] = map[string]string{"copy_to": regions[1]}
	var st status
	if code, body, _ := call(t, "POST", srv.url+"/api/v1/"+regions[0]+"/bake", copyReq, &st); code != 200 {
		t.Fatalf("copy bake: %d %s", code, body)
	}
	if final := waitDoneIn(t, srv, regions[0], st.ID, 60*time.Minute); final.State != "COMPLETED" {
		t.Fatalf("copy bake ended %s", final)
	}
	var d map[string]any
	call(t, "GET", srv.url+"/api/v1/"+regions[1]+"/bake/"+st.ID, nil, &d)
	if ami, _ := d["ami"].(string); !strings.HasPrefix(ami, "ami-") {
		t.Fatalf("copied AMI missing in %s: %v", regions[1], d)
	}
}

// waitDoneIn is waitDone for a region other than global.
func waitDoneIn(t *testing.T, srv *server, region, id string, timeout time.Duration) status {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var st status
		call(t, "GET", srv.url+"/api/v1/"+region+"/status/"+id, nil, &st)
		if st.State != "RUNNING" {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("bake %s still RUNNING after %s", id, timeout)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
