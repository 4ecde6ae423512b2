package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/bakehouse/bakehouse/pipeline"
)

// findImagePipelines find the image of the cluster armory-hello-deploy
// (Frigga: app armory, stack hello, detail deploy), which the sample
// package's bakes belong to, and of a cluster nothing was baked for.
const findImagePipelines = `[
 {"application": "armory", "name": "find", "stages": [
   {"refId": "1", "requisiteStageRefIds": [], "type": "findImage", "name": "Find Image from Cluster",
    "cluster": "armory-hello-deploy", "moniker": {"app": "armory", "cluster": "armory-hello-deploy", "stack": "hello", "detail": "deploy"},
    "credentials": "docker-local", "cloudProvider": "docker", "regions": ["global"], "selectionStrategy": "NEWEST", "onlyEnabled": true}]},
 {"application": "armory", "name": "find-missing", "stages": [
   {"refId": "1", "requisiteStageRefIds": [], "type": "findImage", "name": "Find Image from Cluster",
    "cluster": "tracks-test", "credentials": "docker-local", "cloudProvider": "docker", "regions": ["global"]}]}
]`

func startRun(t *testing.T, srv *server, app, name string) *pipeline.Execution {
	t.Helper()
	var ref struct{ Ref string }
	code, body, _ := call(t, "POST", srv.url+"/pipelines/"+app+"/"+name, `{"type":"manual","user":"anna"}`, &ref)
	if code != 202 || !strings.HasPrefix(ref.Ref, "/pipelines/") {
		t.Fatalf("start %s: %d %s", name, code, body)
	}
	return waitRun(t, srv, strings.TrimPrefix(ref.Ref, "/pipelines/"), time.Minute)
}

// TestFindImageFromClusterServesBakedImages: a docker bake of the sample
// package through the Rosco API, then a pipeline whose findImage stage
// names the cluster: the stage finds that image among the bakery's own
// records and writes Orca's amiDetails and deploymentDetails with the
// bake's Jenkins build; a cluster nothing was baked for fails the stage
// with Orca's message.
func TestFindImageFromClusterServesBakedImages(t *testing.T) {
	needBakeTools(t)
	srv := startServer(t, t.TempDir(), "", nil)
	upload(t, srv, sampleDeb(t, "0.5.0-h5.c4baff4"))
	req := with(helloRequest, "package", "armory-hello-deploy_0.5.0-h5.c4baff4_all",
		"job", "armory-hello-deploy", "build_host", "https://jenkins.example.com/")
	var st status
	if code, body, _ := call(t, "POST", srv.url+"/api/v1/global/bake", req, &st); code != 200 {
		t.Fatalf("bake: %d %s", code, body)
	}
	if final := waitDone(t, srv, st.ID, 5*time.Minute); final.State != "COMPLETED" || final.Result == nil || *final.Result != "SUCCESS" {
		t.Fatalf("bake ended %s\n%s", final, logsOf(t, srv, st.ID))
	}
	var bake map[string]any
	call(t, "GET", srv.url+"/api/v1/global/bake/"+st.ID, nil, &bake)
	image, _ := bake["image_name"].(string)
	if image == "" {
		t.Fatalf("bake details: %v", bake)
	}

	var configs []json.RawMessage
	if err := json.Unmarshal([]byte(findImagePipelines), &configs); err != nil {
		t.Fatal(err)
	}
	for _, c := range configs {
		if code, body, _ := call(t, "POST", srv.url+"/pipelines", []byte(c), nil); code != 200 {
			t.Fatalf("save pipeline: %d %s", code, body)
		}
	}
	e := startRun(t, srv, "armory", "find")
	mustSucceed(t, e)
	s := stageNamed(e, "Find Image from Cluster")
	details, _ := s.Context["amiDetails"].([]any)
	if len(details) != 1 {
		t.Fatalf("amiDetails = %v", s.Context["amiDetails"])
	}
	d := details[0].(map[string]any)
	want := map[string]any{"ami": image, "imageId": image, "imageName": image, "region": "global", "cloudProvider": "docker",
		"refId": "1", "sourceServerGroup": "armory-hello-deploy", "package_name": "armory-hello-deploy", "version": "0.5.0", "commit": "c4baff4",
		"jenkins": map[string]any{"host": "https://jenkins.example.com/", "name": "armory-hello-deploy", "number": "5"}}
	for k, v := range want {
		if fmt.Sprint(d[k]) != fmt.Sprint(v) {
			t.Errorf("amiDetails[0].%s = %v, want %v", k, d[k], v)
		}
	}
	if out, _ := s.Outputs["deploymentDetails"].([]any); len(out) != 1 || out[0].(map[string]any)["imageId"] != image {
		t.Errorf("deploymentDetails = %v", s.Outputs["deploymentDetails"])
	}
	if arts, _ := s.Context["artifacts"].([]any); len(arts) != 1 || arts[0].(map[string]any)["type"] != "docker/image" {
		t.Errorf("artifacts = %v", s.Context["artifacts"])
	}

	e = startRun(t, srv, "armory", "find-missing")
	s = stageNamed(e, "Find Image from Cluster")
	ex, _ := s.Context["exception"].(map[string]any)
	errs, _ := ex["details"].(map[string]any)["errors"].([]any)
	if e.Status != pipeline.Terminal || len(errs) != 1 || errs[0] != "Could not find cluster 'tracks-test' for 'docker-local' in 'global'." {
		t.Fatalf("a cluster with no bakes: %s %v", e.Status, s.Context["exception"])
	}
}
