package templates_test

import (
	"context"
	"encoding/json"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bakehouse/bakehouse/aws/ec2test"
	"github.com/bakehouse/bakehouse/templates"
)

// TestAWSMultiEBSBakeAgainstEC2Double runs a whole packer build of the
// shipped aws-multi-ebs.json, with Rosco's argv, against the loopback EC2
// double: only the communicator is turned off and the provisioner dropped
// (the double's instances cannot be reached over SSH). It checks what the
// variables turn into on the wire: the endpoint from AWS_ENDPOINT_URL_EC2
// with no region validation call, copies to the set copy_to_N only, shares
// with the set share_with_N only, the tags with the lineage, the polling
// delay, and the manifest.
func TestAWSMultiEBSBakeAgainstEC2Double(t *testing.T) {
	packer := mustPacker(t)
	srv := ec2test.New(t, ec2test.PendingPolls(1), ec2test.Quiet())
	dir := t.TempDir()
	if err := templates.Install(dir); err != nil {
		t.Fatal(err)
	}
	b, err := templates.Read(templates.AWSMultiEBSTemplate)
	if err != nil {
		t.Fatal(err)
	}
	var tpl map[string]any
	if err := json.Unmarshal(b, &tpl); err != nil {
		t.Fatal(err)
	}
	tpl["builders"].([]any)[0].(map[string]any)["communicator"] = "none"
	delete(tpl, "provisioners")
	file := filepath.Join(dir, "aws-multi-ebs-no-ssh.json")
	b, _ = json.Marshal(tpl)
	mustWrite(t, file, string(b))

	const (
		amiName = "armory-hello-deploy-all-20170329204459-trusty"
		bakeID  = "01HBAKEHOUSEAWSDOUBLE"
		shareTo = "210987654321"
	)
	// aws-build-host-info-url-appversion's argv in the double's region,
	// with copy_to and share_with entries that leave gaps, as Rosco's
	// unrolling of "us-east-1, , us-east-2" would.
	c := roscoCase(t, "aws-build-host-info-url-appversion")
	args := []string{"build", "-color=false"}
	args = append(args, c.args(dir,
		"aws_region="+ec2test.DefaultRegion, "aws_source_ami="+ec2test.SourceAMI, "aws_target_ami="+amiName,
		"aws_spot_price=", // the double has no spot fleet
		"copy_to_1=us-east-1", "copy_to_3=us-east-2", "copy_to_4="+ec2test.DefaultRegion,
		"share_with_2="+shareTo)...)
	args = append(args, file)
	work := t.TempDir()
	home := filepath.Join(work, "home")
	if err := os.Mkdir(home, 0o700); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, packer, args...)
	cmd.Dir = work
	// Only loopback: fake credentials, no shared config, proxies on a
	// closed loopback port for anything that is not the double.
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + home, "TMPDIR=" + work, "CHECKPOINT_DISABLE=1",
		"AWS_ACCESS_KEY_ID=AKIDEC2TESTDOUBLE", "AWS_SECRET_ACCESS_KEY=ec2test-fake-secret",
		"AWS_EC2_METADATA_DISABLED=true", "AWS_CONFIG_FILE=" + os.DevNull, "AWS_SHARED_CREDENTIALS_FILE=" + os.DevNull,
		"HTTP_PROXY=http://127.0.0.1:9", "HTTPS_PROXY=http://127.0.0.1:9", "NO_PROXY=127.0.0.1,localhost",
		"AWS_ENDPOINT_URL_EC2=" + srv.Endpoint(), "BAKEHOUSE_BAKE_ID=" + bakeID, "BAKEHOUSE_AWS_POLLING_DELAY=1",
	}
	start := time.Now()
	out, err := cmd.CombinedOutput()
	t.Logf("packer build: %v, %d EC2 calls", time.Since(start).Round(time.Millisecond), len(srv.Calls()))
	if err != nil {
		t.Fatalf("packer build: %v\n%s", err, out)
	}

	if n := len(srv.CallsTo("DescribeRegions")); n != 0 {
		t.Errorf("%d DescribeRegions calls: skip_region_validation is not true with an endpoint", n)
	}
	var copied []string
	for _, call := range srv.CallsTo("CopyImage") {
		copied = append(copied, call.Region)
	}
	slices.Sort(copied)
	if want := []string{"us-east-1", "us-east-2"}; !slices.Equal(copied, want) {
		t.Errorf("CopyImage to %q, want %q", copied, want)
	}
	shares := srv.CallsTo("ModifyImageAttribute")
	if len(shares) != 3 {
		t.Errorf("%d ModifyImageAttribute calls, want one per region", len(shares))
	}
	for _, call := range shares {
		if got := call.Form.Get("LaunchPermission.Add.1.UserId"); got != shareTo || call.Form.Has("LaunchPermission.Add.2.UserId") {
			t.Errorf("ModifyImageAttribute in %s shares with %v, want only %s", call.Region, call.Form, shareTo)
		}
	}
	wantTags := map[string]string{
		"appversion":        "nflx-djangobase-enhanced-0.1",
		"build_host":        "http://some-build-server:8080",
		"build_info_url":    "http://some-build-server:8080/repogroup/repo/builds/320282",
		"bakehouse_bake_id": bakeID,
		"base_ami_id":       ec2test.SourceAMI,
	}
	tagged := map[string]bool{}
	for _, call := range srv.CallsTo("CreateTags") {
		got := formTags(call.Form, "Tag.")
		for k, want := range wantTags {
			if got[k] != want {
				t.Errorf("CreateTags in %s: %s = %q, want %q", call.Region, k, got[k], want)
			}
		}
		tagged[call.Region] = true
	}
	if len(tagged) != 3 {
		t.Errorf("AMIs tagged in %v, want the build region and both copies", tagged)
	}
	if runs := srv.CallsTo("RunInstances"); len(runs) == 1 {
		got := formTags(runs[0].Form, "TagSpecification.1.Tag.")
		if got["bakehouse_bake_id"] != bakeID || got["Packages"] != "nflx-djangobase-enhanced=0.1-h12.170cdbd" {
			t.Errorf("instance tags = %v", got)
		}
	} else {
		t.Errorf("%d RunInstances calls", len(runs))
	}

	var manifest struct {
		Builds []struct {
			ArtifactID string            `json:"artifact_id"`
			CustomData map[string]string `json:"custom_data"`
		} `json:"builds"`
	}
	mb, err := os.ReadFile(filepath.Join(work, templates.ManifestFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(mb, &manifest); err != nil || len(manifest.Builds) != 1 {
		t.Fatalf("manifest %s: %v\n%s", templates.ManifestFile, err, mb)
	}
	m := manifest.Builds[0]
	for _, region := range []string{"us-east-1:ami-", "us-east-2:ami-", ec2test.DefaultRegion + ":ami-"} {
		if !strings.Contains(m.ArtifactID, region) {
			t.Errorf("manifest artifact_id %q lacks %s", m.ArtifactID, region)
		}
	}
	if m.CustomData["bakehouse_bake_id"] != bakeID || m.CustomData["aws_target_ami"] != amiName || m.CustomData["aws_source_ami"] != ec2test.SourceAMI {
		t.Errorf("manifest custom_data = %v", m.CustomData)
	}
}

// formTags reads the Key/Value pairs prefix1.Key, prefix1.Value, ... of
// an EC2 Query form.
func formTags(form url.Values, prefix string) map[string]string {
	got := map[string]string{}
	for n := 1; form.Has(prefix + strconv.Itoa(n) + ".Key"); n++ {
		got[form.Get(prefix+strconv.Itoa(n)+".Key")] = form.Get(prefix + strconv.Itoa(n) + ".Value")
	}
	return got
}
