package pipeline_test

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/bakehouse/bakehouse/pipeline"
)

var day = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

// baked is an aws image of pkg in region, made d days after day.
func baked(pkg, version, region, id string, d int) pipeline.BakedImage {
	return pipeline.BakedImage{Provider: "aws", Region: region, ImageID: id,
		ImageName:  pkg + "-" + version + "-all-20261101-bookworm",
		AppVersion: pkg + "-" + version + "-h5.c4baff4/" + pkg + "/5", Package: pkg,
		BuildHost: "https://jenkins.example.com/", Created: day.Add(time.Duration(d) * 24 * time.Hour)}
}

// TestFindImageFromBakes: which image each region gets, and Orca's errors.
func TestFindImageFromBakes(t *testing.T) {
	hello := []pipeline.BakedImage{
		baked("armory-hello-deploy", "0.4.0", "us-east-1", "ami-old-east", 0),
		baked("armory-hello-deploy", "0.5.0", "us-east-1", "ami-new-east", 2),
		baked("armory-hello-deploy", "0.5.0", "us-west-2", "ami-new-west", 2),
		baked("armory-hello-deploy", "0.4.0", "us-west-2", "ami-old-west", 0),
		baked("armory-other", "9.0.0", "us-east-1", "ami-other-east", 5), // the app's other package, newest
		baked("armoryx", "1.0.0", "us-east-1", "ami-armoryx", 6),         // not the app's
		{Provider: "docker", Region: "us-east-1", ImageID: "armory-hello-deploy:c4baff4", ImageName: "armory-hello-deploy:c4baff4",
			AppVersion: "armory-hello-deploy-0.6.0-h6.aaaaaaa/armory-hello-deploy/6", Created: day.Add(9 * 24 * time.Hour)},
	}
	cases := []struct {
		name    string
		context string
		images  []pipeline.BakedImage
		want    map[string]string // region -> image id
		err     string
	}{
		{name: "newest per region, the cluster's own package before the app's others",
			context: `{"cluster":"armory-hello-deploy","regions":["us-west-2","us-east-1"],"credentials":"test"}`,
			images:  hello, want: map[string]string{"us-west-2": "ami-new-west", "us-east-1": "ami-new-east"}},
		{name: "OLDEST", context: `{"cluster":"armory-hello-deploy","regions":["us-east-1","us-west-2"],"selectionStrategy":"OLDEST"}`,
			images: hello, want: map[string]string{"us-east-1": "ami-old-east", "us-west-2": "ami-old-west"}},
		{name: "LARGEST is NEWEST", context: `{"cluster":"armory-hello-deploy","regions":["us-east-1"],"selectionStrategy":"LARGEST"}`,
			images: hello, want: map[string]string{"us-east-1": "ami-new-east"}},
		{name: "a server group name is its cluster", context: `{"cluster":"armory-hello-deploy-v003","regions":["us-east-1"]}`,
			images: hello, want: map[string]string{"us-east-1": "ami-new-east"}},
		{name: "the application's package", context: `{"cluster":"armory-prod","regions":["us-east-1"]}`,
			images: append([]pipeline.BakedImage{baked("armory", "2.0.0", "us-east-1", "ami-armory", 1)}, hello...),
			want:   map[string]string{"us-east-1": "ami-armory"}},
		{name: "the application's <app>-<detail> packages, newest", context: `{"cluster":"armory-prod","regions":["us-east-1"]}`,
			images: hello, want: map[string]string{"us-east-1": "ami-other-east"}},
		{name: "moniker.app names the application",
			context: `{"cluster":"tracks-test","moniker":{"app":"armory","cluster":"tracks-test"},"regions":["us-east-1"]}`,
			images:  hello, want: map[string]string{"us-east-1": "ami-other-east"}},
		{name: "imageNamePattern narrows before choosing",
			context: `{"cluster":"armory-hello-deploy","regions":["us-east-1"],"imageNamePattern":"armory-hello-deploy-0\\.4\\..*"}`,
			images:  hello, want: map[string]string{"us-east-1": "ami-old-east"}},
		{name: "imageNamePattern must match the whole name",
			context: `{"cluster":"armory-hello-deploy","regions":["us-east-1"],"imageNamePattern":"0\\.4\\.0","credentials":"test"}`,
			images:  hello, err: "Could not find cluster 'armory-hello-deploy' for 'test' in 'us-east-1'."},
		{name: "a region without the package", context: `{"cluster":"armory-hello-deploy","regions":["us-east-1","eu-west-1"],"credentials":"prod"}`,
			images: hello, err: "Could not find cluster 'armory-hello-deploy' for 'prod' in 'eu-west-1'."},
		{name: "account before credentials, null when neither", context: `{"cluster":"nope","regions":["us-east-1"]}`,
			images: hello, err: "Could not find cluster 'nope' for 'null' in 'us-east-1'."},
		{name: "account", context: `{"cluster":"nope","regions":["us-east-1"],"account":"a1","credentials":"c1"}`,
			images: hello, err: "Could not find cluster 'nope' for 'a1' in 'us-east-1'."},
		{name: "FAIL with one image per region", context: `{"cluster":"armory-hello-deploy","regions":["us-east-1"],"selectionStrategy":"FAIL"}`,
			images: hello[1:2], want: map[string]string{"us-east-1": "ami-new-east"}},
		{name: "FAIL with two", context: `{"cluster":"armory-hello-deploy","regions":["us-west-2","us-east-1"],"selectionStrategy":"FAIL"}`,
			images: hello, err: "Multiple possible server groups present in us-west-2"},
		{name: "docker images are in every region",
			context: `{"cluster":"armory-hello-deploy","regions":["global","us-east-1"],"cloudProvider":"docker"}`,
			images:  hello, want: map[string]string{"global": "armory-hello-deploy:c4baff4", "us-east-1": "armory-hello-deploy:c4baff4"}},
		{name: "no appversion: the bake's package",
			context: `{"cluster":"hello","regions":["global"],"cloudProvider":"docker"}`,
			images: []pipeline.BakedImage{{Provider: "docker", Region: "global", ImageID: "hello:1", ImageName: "hello:1",
				AppVersion: "1700000000000", Package: "hello"}},
			want: map[string]string{"global": "hello:1"}},
		{name: "no cluster", context: `{"regions":["us-east-1"]}`, images: hello, err: "cluster is missing"},
		{name: "no regions", context: `{"cluster":"armory-hello-deploy"}`, images: hello, err: "regions is missing"},
		{name: "unknown strategy", context: `{"cluster":"armory-hello-deploy","regions":["us-east-1"],"selectionStrategy":"RANDOM"}`,
			images: hello, err: "selectionStrategy RANDOM is not one of NEWEST, OLDEST, LARGEST, FAIL"},
		{name: "bad pattern", context: `{"cluster":"armory-hello-deploy","regions":["us-east-1"],"imageNamePattern":"(("}`,
			images: hello, err: `imageNamePattern "((" is not a regular expression`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := &pipeline.Stage{RefID: "1", Type: pipeline.FindImageFromClusterType, Context: map[string]any{}}
			if err := json.Unmarshal([]byte(tc.context), &s.Context); err != nil {
				t.Fatal(err)
			}
			e := &pipeline.Execution{Stages: []*pipeline.Stage{s}}
			update, outputs, err := pipeline.FindImageFromBakes(e, s, tc.images)
			if tc.err != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tc.err) || !pipeline.IsUserError(err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			details, _ := update["amiDetails"].([]any)
			got := map[string]string{}
			for _, d := range details {
				m := d.(map[string]any)
				got[m["region"].(string)] = m["imageId"].(string)
			}
			assertEqual(t, "images by region", got, tc.want)
			assertEqual(t, "deploymentDetails", outputs["deploymentDetails"], update["amiDetails"])
		})
	}
}

// TestFindImageFromBakesShape checks the task's output against the
// findImage stage of a real Orca execution: fed the images that stage
// found (its appversion, build_host, AMI ids), it writes the same
// amiDetails keys and values (but for the server group, which Bakehouse
// does not have, and the EC2 description fields Clouddriver adds), the
// same artifacts, and deploymentDetails.
func TestFindImageFromBakesShape(t *testing.T) {
	raw, err := os.ReadFile("testdata/spinnaker/orca-pipelinetrigger.findImage-stage.json")
	if err != nil {
		t.Fatal(err)
	}
	var real *pipeline.Stage
	if err := json.Unmarshal(raw, &real); err != nil {
		t.Fatal(err)
	}
	realDetails := real.Context["amiDetails"].([]any)
	var images []pipeline.BakedImage
	for i, d := range realDetails {
		m := d.(map[string]any)
		tags := map[string]string{}
		for _, tg := range m["tags"].([]any) {
			kv := tg.(map[string]any)
			tags[kv["key"].(string)] = kv["value"].(string)
		}
		created, _ := time.Parse(time.RFC3339, m["creationDate"].(string))
		images = append(images, pipeline.BakedImage{Provider: "aws", Region: m["region"].(string), ImageID: m["imageId"].(string),
			ImageName: m["imageName"].(string), AppVersion: tags["appversion"], BuildHost: tags["build_host"], Created: created},
			// an older image of the same package in each region
			pipeline.BakedImage{Provider: "aws", Region: m["region"].(string), ImageID: "ami-older" + string(rune('0'+i)),
				ImageName: "tracks-server-6.0.45", AppVersion: "tracks-server-6.0.45-h170.aaaaaaa/PBC-tracks-build-master/170",
				Created: created.Add(-time.Hour)})
	}

	s := &pipeline.Stage{RefID: real.RefID, Type: real.Type, Context: map[string]any{}}
	for _, k := range []string{"selectionStrategy", "cluster", "regions", "credentials", "cloudProvider", "onlyEnabled", "cloudProviderType", "moniker"} {
		s.Context[k] = real.Context[k]
	}
	update, outputs, err := pipeline.FindImageFromBakes(&pipeline.Execution{Stages: []*pipeline.Stage{s}}, s, images)
	if err != nil {
		t.Fatal(err)
	}
	details := update["amiDetails"].([]any)
	if len(details) != len(realDetails) {
		t.Fatalf("%d amiDetails, the real stage has %d", len(details), len(realDetails))
	}
	for i, d := range details {
		got, want := d.(map[string]any), realDetails[i].(map[string]any)
		for k, v := range got {
			if _, ok := want[k]; !ok {
				t.Errorf("amiDetails[%d] has %s, which Orca does not write", i, k)
			}
			if k != "sourceServerGroup" {
				assertEqual(t, "amiDetails."+k, v, want[k])
			}
		}
		for _, k := range []string{"ami", "imageId", "imageName", "cloudProvider", "refId", "sourceServerGroup", "region",
			"jenkins", "package_name", "version", "commit", "name", "creationDate"} {
			if _, ok := got[k]; !ok {
				t.Errorf("amiDetails[%d] lacks %s", i, k)
			}
		}
		if got["sourceServerGroup"] != "tracks-test" {
			t.Errorf("sourceServerGroup = %v, want the cluster", got["sourceServerGroup"])
		}
	}
	assertEqual(t, "deploymentDetails", outputs["deploymentDetails"], details)
	assertEqual(t, "inferredRegions", outputs["inferredRegions"], []any{})
	assertEqual(t, "regions", update["regions"], real.Context["regions"])

	realArtifacts := real.Context["artifacts"].([]any)
	for i, a := range update["artifacts"].([]any) {
		got, want := a.(map[string]any), realArtifacts[i].(map[string]any)
		for _, k := range []string{"type", "name", "location", "reference"} {
			assertEqual(t, "artifact."+k, got[k], want[k])
		}
		if u, _ := got["uuid"].(string); len(u) != 36 {
			t.Errorf("artifact uuid = %v", got["uuid"])
		}
		meta, wantMeta := got["metadata"].(map[string]any), want["metadata"].(map[string]any)
		for k, v := range meta {
			if k != "sourceServerGroup" {
				assertEqual(t, "artifact.metadata."+k, v, wantMeta[k])
			}
		}
		if meta["jenkins"] == nil || meta["refId"] != "5" {
			t.Errorf("artifact metadata = %v", meta)
		}
	}
	if tasks := pipeline.FindImageFromClusterTasks(); len(tasks) != 1 || tasks[0].Name != real.Tasks[0].Name ||
		tasks[0].ImplementingClass != real.Tasks[0].ImplementingClass {
		t.Errorf("tasks = %+v, Orca's %+v", tasks[0], real.Tasks[0])
	}
}

// TestFindImageFromBakesInfersRegions: for aws, the regions of the deploy
// stages downstream are added (Orca's RegionCollector), reported as
// inferredRegions, and written back to regions as Orca writes them.
func TestFindImageFromBakesInfersRegions(t *testing.T) {
	cfg, err := pipeline.ParseConfig([]byte(`{"application":"armory","name":"p","stages":[
		{"refId":"1","type":"findImage","name":"Find","cluster":"armory-hello-deploy","regions":["us-east-1"],"cloudProvider":"aws","credentials":"test"},
		{"refId":"2","type":"deploy","name":"Deploy","requisiteStageRefIds":["1"],"clusters":[
			{"cloudProvider":"aws","availabilityZones":{"us-west-2":["us-west-2a"],"us-east-1":["us-east-1a"]}}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	e, err := pipeline.NewExecution(cfg, "x", nil, 0, func() string { n++; return string(rune('a' + n)) })
	if err != nil {
		t.Fatal(err)
	}
	images := []pipeline.BakedImage{
		baked("armory-hello-deploy", "0.5.0", "us-east-1", "ami-east", 1),
		baked("armory-hello-deploy", "0.5.0", "us-west-2", "ami-west", 1),
	}
	update, outputs, err := pipeline.FindImageFromBakes(e, e.Stages[0], images)
	if err != nil {
		t.Fatal(err)
	}
	assertEqual(t, "inferredRegions", outputs["inferredRegions"], []any{"us-west-2"})
	assertEqual(t, "regions", update["regions"], []any{"us-east-1", "us-west-2", "us-west-2"})
	if d := update["amiDetails"].([]any); len(d) != 2 || d[1].(map[string]any)["imageId"] != "ami-west" {
		t.Errorf("amiDetails = %v", d)
	}
	want := map[string]any{"host": "https://jenkins.example.com/", "name": "armory-hello-deploy", "number": "5"}
	assertEqual(t, "jenkins", update["amiDetails"].([]any)[0].(map[string]any)["jenkins"], want)

	images = images[:1]
	if _, _, err := pipeline.FindImageFromBakes(e, e.Stages[0], images); err == nil ||
		err.Error() != "Could not find cluster 'armory-hello-deploy' for 'test' in 'us-west-2'." {
		t.Errorf("a deploy region without the image: %v", err)
	}
}
