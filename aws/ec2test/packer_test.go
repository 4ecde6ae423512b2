package ec2test_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bakehouse/bakehouse/aws/ec2test"
)

// The AMI name of the fixtures' bake.
const amiName = "armory-hello-deploy-all-20170329204459-trusty"

// The tags of the fixtures' bake (the conformance values).
var bakeTags = map[string]string{
	"appversion":     "armory-hello-deploy-0.5.0-h5.c4baff4/armory-hello-deploy/5",
	"build_host":     "http://jenkins:8080/",
	"build_info_url": "http://jenkins:8080/job/armory/job/hello-deploy/5/",
}

// realPacker returns HashiCorp's packer from PATH (or /usr/bin/packer),
// skipping the test when there is none unless BAKEHOUSE_INTEGRATION=1.
func realPacker(t *testing.T) string {
	t.Helper()
	skip := t.Skip
	if os.Getenv("BAKEHOUSE_INTEGRATION") == "1" {
		skip = t.Fatal
	}
	path, err := exec.LookPath("packer")
	if err != nil {
		if _, serr := os.Stat("/usr/bin/packer"); serr != nil {
			skip("no packer in PATH:", err)
		}
		path = "/usr/bin/packer"
	}
	out, err := exec.Command(path, "version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "Packer v") {
		skip("packer in PATH is not HashiCorp's:", err, strings.TrimSpace(string(out)))
	}
	return path
}

// template is the README's verified amazon-ebs template.
func template(sourceAMI string) map[string]any {
	return map[string]any{
		"variables": map[string]any{"endpoint": ""},
		"builders": []any{map[string]any{
			"type":                    "amazon-ebs",
			"region":                  "us-west-2",
			"custom_endpoint_ec2":     "{{user `endpoint`}}",
			"skip_region_validation":  true,
			"skip_metadata_api_check": true,
			"source_ami":              sourceAMI,
			"instance_type":           "t2.micro",
			"communicator":            "none",
			"ami_name":                amiName,
			"ami_regions":             []string{"us-east-1"},
			"ami_users":               []string{"210987654321"},
			"aws_polling":             map[string]any{"delay_seconds": 1, "max_attempts": 10},
			"tags":                    bakeTags,
		}},
	}
}

// packerBuild runs packer build of tmpl against srv and returns its exit
// code and output. Packer's environment has only fake credentials, an
// empty HOME and proxies on a closed loopback port, so that nothing it
// might send elsewhere than the double leaves the machine.
func packerBuild(t *testing.T, packer string, srv *ec2test.Server, tmpl map[string]any) (int, string) {
	t.Helper()
	dir := t.TempDir()
	b, err := json.MarshalIndent(tmpl, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "template.json")
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(dir, "home")
	if err := os.Mkdir(home, 0o700); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, packer, "build", "-color=false", "-var", "endpoint="+srv.Endpoint(), file)
	cmd.Dir = dir
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"TMPDIR=" + dir,
		"CHECKPOINT_DISABLE=1",
		"AWS_ACCESS_KEY_ID=AKIDEC2TESTDOUBLE",
		"AWS_SECRET_ACCESS_KEY=ec2test-fake-secret",
		"AWS_EC2_METADATA_DISABLED=true",
		"HTTP_PROXY=http://127.0.0.1:9",
		"HTTPS_PROXY=http://127.0.0.1:9",
		"NO_PROXY=127.0.0.1,localhost",
	}
	start := time.Now()
	out, err := cmd.CombinedOutput()
	t.Logf("packer build: %v, %d EC2 calls", time.Since(start).Round(time.Millisecond), len(srv.Calls()))
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, string(out)
	case errors.As(err, &exit):
		return exit.ExitCode(), string(out)
	}
	t.Fatalf("packer build: %v\n%s", err, out)
	return -1, ""
}

func TestPackerBakesAgainstTheDouble(t *testing.T) {
	packer := realPacker(t)
	srv := ec2test.New(t)
	code, out := packerBuild(t, packer, srv, template(ec2test.SourceAMI))
	if code != 0 {
		t.Fatalf("packer build exit %d:\n%s", code, out)
	}

	// The artifact: one AMI per region, after "Builds finished".
	_, artifact, ok := strings.Cut(out, "Builds finished")
	if !ok {
		t.Fatalf("no \"Builds finished\" in:\n%s", out)
	}
	amis := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^([a-z]{2}-[a-z]+-\d): (ami-[0-9a-f]+)$`).FindAllStringSubmatch(artifact, -1) {
		amis[m[1]] = m[2]
	}
	west, east := amis["us-west-2"], amis["us-east-1"]
	if len(amis) != 2 || west == "" || east == "" || west == east {
		t.Fatalf("artifact AMIs = %v, want one in us-west-2 and one in us-east-1:\n%s", amis, artifact)
	}
	// They are the images the double made, named as asked.
	for region, id := range amis {
		var img *ec2test.Image
		for _, i := range srv.ImagesNamed(amiName) {
			if i.ID == id {
				img = &i
			}
		}
		if img == nil || img.Region != region || img.State != "available" {
			t.Errorf("%s: %s is not an available image of the double in that region: %+v", region, id, img)
			continue
		}
		if !slices.Contains(img.LaunchPermissions, "210987654321") {
			t.Errorf("%s: %s not shared with ami_users: %v", region, id, img.LaunchPermissions)
		}
		for k, v := range bakeTags {
			if img.Tags[k] != v {
				t.Errorf("%s: %s tag %s = %q, want %q", region, id, k, img.Tags[k], v)
			}
		}
	}

	// The calls: CreateImage in the build region, CopyImage signed for the
	// target region, CreateTags with the template's tags on each AMI.
	creates := srv.CallsTo("CreateImage")
	if len(creates) != 1 || creates[0].Region != "us-west-2" || creates[0].Form.Get("Name") != amiName {
		t.Errorf("CreateImage calls = %+v", creates)
	}
	copies := srv.CallsTo("CopyImage")
	if len(copies) != 1 || copies[0].Region != "us-east-1" ||
		copies[0].Form.Get("SourceRegion") != "us-west-2" || copies[0].Form.Get("SourceImageId") != west {
		t.Errorf("CopyImage calls = %+v", copies)
	}
	tagged := map[string]bool{}
	for _, c := range srv.CallsTo("CreateTags") {
		got := map[string]string{}
		for n := 1; c.Form.Has("Tag." + strconv.Itoa(n) + ".Key"); n++ {
			got[c.Form.Get("Tag."+strconv.Itoa(n)+".Key")] = c.Form.Get("Tag." + strconv.Itoa(n) + ".Value")
		}
		for k, v := range bakeTags {
			if got[k] != v {
				t.Errorf("CreateTags in %s: tag %s = %q, want %q", c.Region, k, got[k], v)
			}
		}
		tagged[c.Region+":"+c.Form.Get("ResourceId.1")] = true
	}
	if !tagged["us-west-2:"+west] || !tagged["us-east-1:"+east] {
		t.Errorf("CreateTags tagged %v, want us-west-2:%s and us-east-1:%s", tagged, west, east)
	}
	// Every action of the README's sequence was seen, and the temporary
	// resources are gone.
	for _, action := range []string{"DescribeImages", "CreateKeyPair", "CreateSecurityGroup", "DescribeSecurityGroups",
		"AuthorizeSecurityGroupIngress", "RunInstances", "DescribeInstances", "StopInstances", "ModifyImageAttribute",
		"TerminateInstances", "DescribeVolumes", "DeleteSecurityGroup", "DeleteKeyPair"} {
		if len(srv.CallsTo(action)) == 0 {
			t.Errorf("Packer made no %s call", action)
		}
	}
	for _, c := range srv.Calls() {
		if c.Status != 200 {
			t.Errorf("call %s in %s answered %d %s", c.Action, c.Region, c.Status, c.Code)
		}
	}
	if k, g := srv.KeyPairs(), srv.SecurityGroups(); len(k)+len(g) != 0 {
		t.Errorf("left behind: key pairs %v, security groups %v", k, g)
	}
	for _, i := range srv.Instances() {
		if i.State != "terminated" {
			t.Errorf("instance %s left %s", i.ID, i.State)
		}
	}
}

func TestPackerFailures(t *testing.T) {
	packer := realPacker(t)
	cases := []struct {
		name   string
		opts   []ec2test.Option
		seed   bool
		source string
		want   []string
		calls  int // at most
	}{{
		name:  "name collision",
		seed:  true,
		want:  []string{"is used by an existing AMI: ami-"},
		calls: 1,
	}, {
		name: "instance limit",
		opts: []ec2test.Option{ec2test.FailAction("RunInstances", ec2test.InstanceLimitExceeded)},
		want: []string{"Error launching source instance: InstanceLimitExceeded: You have requested more instances (21)",
			"status code: 400, request id: 0abc0021-5b1e-4c7d-9f2a-000000000021"},
		calls: 9,
	}, {
		name: "unauthorized",
		opts: []ec2test.Option{ec2test.FailAction("RunInstances", ec2test.UnauthorizedOperation)},
		want: []string{"Error launching source instance: UnauthorizedOperation: You are not authorized to perform this operation.",
			"status code: 403, request id: 0abc0023-5b1e-4c7d-9f2a-000000000023"},
		calls: 9,
	}, {
		name:   "missing source AMI",
		source: ec2test.MissingAMI,
		want: []string{"Error querying AMI: InvalidAMIID.NotFound: The image id '[" + ec2test.MissingAMI + "]' does not exist",
			"status code: 400, request id: 0abc0022-5b1e-4c7d-9f2a-000000000022"},
		calls: 2,
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := ec2test.New(t, tc.opts...)
			var existing ec2test.Image
			if tc.seed {
				existing = srv.AddImage(ec2test.Image{Name: amiName})
			}
			source := tc.source
			if source == "" {
				source = ec2test.SourceAMI
			}
			code, out := packerBuild(t, packer, srv, template(source))
			if code == 0 {
				t.Fatalf("packer build exited 0:\n%s", out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if tc.seed && !strings.Contains(out, "Error: AMI Name: '"+amiName+"' is used by an existing AMI: "+existing.ID) {
				t.Errorf("output does not name the existing AMI %s:\n%s", existing.ID, out)
			}
			if n := len(srv.Calls()); n > tc.calls {
				t.Errorf("%d calls, want at most %d: %v", n, tc.calls, srv.Actions())
			}
			if len(srv.CallsTo("CreateImage")) != 0 {
				t.Errorf("an image was created: %v", srv.Actions())
			}
			if k, g := srv.KeyPairs(), srv.SecurityGroups(); len(k)+len(g) != 0 {
				t.Errorf("left behind: key pairs %v, security groups %v", k, g)
			}
		})
	}
}
