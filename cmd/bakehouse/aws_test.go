package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bakehouse/bakehouse/aws/ec2test"
	"github.com/bakehouse/bakehouse/docker/dockertest"
	"github.com/bakehouse/bakehouse/templates"
)

// The AWS tests run real bakes (the real Packer 1.6.6 amazon-ebs builder,
// through the bakery) against the loopback EC2 double. To keep them fast
// and independent of a Docker engine, the operator template directory here
// holds Bakehouse's own AWS templates with the communicator off and the
// provisioner dropped; the rest (Rosco's -var contract, tags, copies,
// sharing, the endpoint) is as shipped, and it shows an operator's
// rosco.configDir at work. aws_ssh_test.go runs the shipped template
// unchanged, over SSH into a container "instance".

const (
	awsConfigKey    = "AKIDCONFIGKEY0001"
	awsConfigSecret = "config-secret-value-123"
)

func needPacker(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("packer"); err != nil {
		dockertest.SkipOrFail(t, "packer not installed")
	}
}

// awsOperatorDir writes the no-SSH variants of the shipped AWS templates.
func awsOperatorDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"aws-ebs.json", "aws-multi-ebs.json"} {
		b, err := templates.Read(name)
		if err != nil {
			t.Fatal(err)
		}
		var tpl map[string]any
		if err := json.Unmarshal(b, &tpl); err != nil {
			t.Fatal(err)
		}
		tpl["builders"].([]any)[0].(map[string]any)["communicator"] = "none"
		delete(tpl, "provisioners")
		out, _ := json.MarshalIndent(tpl, "", "  ")
		if err := os.WriteFile(filepath.Join(dir, name), out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func awsConfig(configDir string) string {
	return awsConfigWith(configDir, "http://apt.example.invalid/debian stable main")
}

// awsConfigWith is the AWS bakery of these tests with an operator template
// directory (none: the shipped templates in DATA_DIR/templates) and the
// repository the instances install from.
func awsConfigWith(configDir, repository string) string {
	rosco := ""
	if configDir != "" {
		rosco = "rosco:\n  configDir: " + configDir + "\n"
	}
	return rosco + `
defaultCloudProviderType: aws
debianRepository: "` + repository + `"
aws:
  enabled: true
  bakeryDefaults:
    templateFile: aws-ebs.json
    defaultVirtualizationType: hvm
    awsAccessKey: ` + awsConfigKey + `
    awsSecretKey: ` + awsConfigSecret + `
    baseImages:
      - baseImage: {id: trusty, shortDescription: Ubuntu 14.04, packageType: DEB}
        virtualizationSettings:
          - {region: us-west-2, virtualizationType: hvm, instanceType: t2.micro, sourceAmi: ami-0abc1234567890001, sshUserName: ubuntu}
      - baseImage: {id: trusty-by-name, packageType: DEB}
        virtualizationSettings:
          - {region: us-west-2, virtualizationType: hvm, instanceType: t2.micro, sourceAmi: ubuntu-trusty-14.04-amd64-server-, mostRecent: true, sshUserName: ubuntu}
`
}

// doubleEnv points the server at the double. The AWS SDK reads the
// process environment itself, so the variables are set there too (the
// tests using it do not run in parallel).
func doubleEnv(t *testing.T, d *ec2test.Server) map[string]string {
	env := map[string]string{"BAKEHOUSE_AWS_POLLING_DELAY": "1"}
	for _, kv := range d.Env() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
	return env
}

var awsRequest = map[string]any{
	"package": "armory-hello-deploy_0.5.0-h5.c4baff4_all", "base_os": "trusty", "cloud_provider_type": "aws",
	"build_host": "http://jenkins:8080/", "job": "armory/hello-deploy", "build_number": "5", "commit_hash": "c4baff4",
	"build_info_url": "http://jenkins:8080/job/armory/job/hello-deploy/5/", "ami_suffix": "20170329204459",
}

// TestAWSBakeThroughEC2Double bakes once and copies to a second region.
func TestAWSBakeThroughEC2Double(t *testing.T) {
	needPacker(t)
	d := ec2test.New(t, ec2test.Quiet())
	dataDir := t.TempDir()
	srv := startServer(t, dataDir, awsConfig(awsOperatorDir(t)), doubleEnv(t, d))
	req := with(awsRequest, "template_file_name", "aws-multi-ebs.json",
		"extended_attributes", map[string]string{"copy_to": "us-east-1", "share_with": "210987654321"})

	var plan map[string]any
	call(t, "POST", srv.url+"/api/v1/us-west-2/bake/plan", req, &plan)
	argv := strings.Join(toStrings(plan["packer"].(map[string]any)["argv"]), " ")
	if strings.Contains(argv, awsConfigSecret) || !strings.Contains(argv, "aws_secret_key=******") {
		t.Fatalf("plan argv shows the secret or does not mask it: %s", argv)
	}

	var st status
	if code, body, _ := call(t, "POST", srv.url+"/api/v1/us-west-2/bake", req, &st); code != 200 {
		t.Fatalf("bake: %d %s", code, body)
	}
	final := waitDoneIn(t, srv, "us-west-2", st.ID, 3*time.Minute)
	logs := logsOf(t, srv, st.ID)
	if final.State != "COMPLETED" || *final.Result != "SUCCESS" {
		t.Fatalf("bake ended %s\n%s", final, logs)
	}
	var west, east map[string]any
	call(t, "GET", srv.url+"/api/v1/us-west-2/bake/"+st.ID, nil, &west)
	call(t, "GET", srv.url+"/api/v1/us-east-1/bake/"+st.ID, nil, &east)
	const name = "armory-hello-deploy-all-20170329204459-trusty"
	if west["image_name"] != name || !strings.HasPrefix(west["ami"].(string), "ami-") {
		t.Fatalf("us-west-2 details: %v", west)
	}
	if east["ami"] == west["ami"] || !strings.HasPrefix(east["ami"].(string), "ami-") {
		t.Fatalf("us-east-1 details: %v (west %v)", east, west["ami"])
	}
	art := west["artifact"].(map[string]any)
	if art["type"] != "aws/image" || art["location"] != "us-west-2" || art["reference"] != west["ami"] || art["name"] != name {
		t.Fatalf("artifact: %v", art)
	}
	if fmtList(west["regions"]) != "us-west-2,us-east-1" && fmtList(west["regions"]) != "us-east-1,us-west-2" {
		t.Fatalf("regions: %v", west["regions"])
	}
	if _, ok := west["artifacts"]; ok {
		t.Fatalf("details must not list artifacts (Rosco's per-region shape): %v", west)
	}
	// The images exist in the double with the tags and lineage.
	var tagged bool
	for _, img := range d.ImagesNamed(name) {
		if img.Tags["appversion"] == "armory-hello-deploy-0.5.0-h5.c4baff4/armory-hello-deploy/5" && img.Tags["bakehouse_bake_id"] == st.ID && img.Tags["base_ami_id"] == ec2test.SourceAMI {
			tagged = true
		}
	}
	if !tagged {
		t.Fatalf("no AMI named %s carries appversion, bake id and base AMI tags: %+v", name, d.ImagesNamed(name))
	}
	// Secrets: not in the logs, not in the database.
	for _, secret := range []string{awsConfigSecret, "ec2test-fake-secret"} {
		if strings.Contains(logs, secret) {
			t.Fatalf("secret %q in the bake log", secret)
		}
		db, _ := os.ReadFile(filepath.Join(dataDir, "bakehouse.db"))
		wal, _ := os.ReadFile(filepath.Join(dataDir, "bakehouse.db-wal"))
		if strings.Contains(string(db)+string(wal), secret) {
			t.Fatalf("secret %q stored in the database", secret)
		}
	}
	if !strings.Contains(logs, "aws_secret_key=******") || !strings.Contains(logs, "is free in us-west-2, us-east-1") {
		t.Errorf("log lacks the masked command or the name check:\n%s", logs)
	}
	// Asking again reuses.
	var again status
	call(t, "POST", srv.url+"/api/v1/us-west-2/bake", req, &again)
	if again.ID != st.ID {
		t.Fatalf("same request baked again: %s", again.ID)
	}

	// A masked parameter sent as an extended attribute reaches Packer but
	// is stored masked.
	const extSecret = "ext-attribute-secret-42"
	var ext status
	if code, body, _ := call(t, "POST", srv.url+"/api/v1/us-west-2/bake", with(awsRequest, "ami_name", "ext-secret",
		"extended_attributes", map[string]string{"aws_secret_key": extSecret}), &ext); code != 200 {
		t.Fatalf("bake with a secret extended attribute: %d %s", code, body)
	}
	if final := waitDoneIn(t, srv, "us-west-2", ext.ID, 3*time.Minute); final.State != "COMPLETED" {
		t.Fatalf("bake with a secret extended attribute ended %s\n%s", final, logsOf(t, srv, ext.ID))
	}
	db, _ := os.ReadFile(filepath.Join(dataDir, "bakehouse.db"))
	wal, _ := os.ReadFile(filepath.Join(dataDir, "bakehouse.db-wal"))
	if strings.Contains(string(db)+string(wal), extSecret) || strings.Contains(logsOf(t, srv, ext.ID), extSecret) {
		t.Fatalf("a secret extended attribute was stored or logged in clear")
	}
	var rec map[string]any
	call(t, "GET", srv.url+"/api/v1/bakes/"+ext.ID, nil, &rec)
	if fmt.Sprint(rec["request"]) == "" || !strings.Contains(fmt.Sprint(rec["request"]), "aws_secret_key:******") {
		t.Fatalf("stored request does not show the attribute masked: %v", rec["request"])
	}
}

// TestAWSBakeFailures: each failure ends CANCELED/FAILURE with the cause in
// the log and no secret in it.
func TestAWSBakeFailures(t *testing.T) {
	needPacker(t)
	d := ec2test.New(t, ec2test.Quiet())
	srv := startServer(t, t.TempDir(), awsConfig(awsOperatorDir(t)), doubleEnv(t, d))

	// An explicit suffix reused: the name is taken; Bakehouse stops before
	// any instance is launched.
	d.AddImage(ec2test.Image{Name: "taken-all-20170329204459-trusty", Region: "us-west-2", Owner: ec2test.Account})
	runs := len(d.CallsTo("RunInstances"))
	st := bakeAndWait(t, srv, with(awsRequest, "ami_name", "taken"))
	logs := logsOf(t, srv, st.ID)
	if st.State != "CANCELED" || !strings.Contains(logs, "an AMI named taken-all-20170329204459-trusty already exists in us-west-2") {
		t.Fatalf("collision: %s\n%s", st, logs)
	}
	if len(d.CallsTo("RunInstances")) != runs {
		t.Fatalf("an instance was launched for a taken name")
	}

	cases := []struct{ name, action, fixture, want string }{
		{"limit", "RunInstances", ec2test.InstanceLimitExceeded, "InstanceLimitExceeded"},
		{"unauthorized", "RunInstances", ec2test.UnauthorizedOperation, "UnauthorizedOperation"},
	}
	for _, c := range cases {
		d.SetFailure(c.action, c.fixture)
		st := bakeAndWait(t, srv, with(awsRequest, "ami_name", c.name))
		d.SetFailure(c.action, "")
		logs := logsOf(t, srv, st.ID)
		if st.State != "CANCELED" || *st.Result != "FAILURE" || !strings.Contains(logs, c.want) {
			t.Fatalf("%s: %s\n%s", c.name, st, logs)
		}
		if strings.Contains(logs, awsConfigSecret) {
			t.Fatalf("%s: secret in log", c.name)
		}
	}
	st = bakeAndWait(t, srv, with(awsRequest, "ami_name", "missing-base", "base_ami", ec2test.MissingAMI))
	if logs := logsOf(t, srv, st.ID); st.State != "CANCELED" || !strings.Contains(logs, "InvalidAMIID.NotFound") {
		t.Fatalf("missing base AMI: %s\n%s", st, logs)
	}
}

// TestAWSBaseImageByName resolves a configured image name through EC2
// (newest match) and keys the bake by the AMI it found.
func TestAWSBaseImageByName(t *testing.T) {
	d := ec2test.New(t, ec2test.Quiet())
	newer := d.AddImage(ec2test.Image{Name: "ubuntu/images/hvm-ssd/ubuntu-trusty-14.04-amd64-server-20991231", Region: "us-west-2",
		Owner: ec2test.CanonicalOwner, CreationDate: "2099-12-31T00:00:00.000Z", Public: true})
	srv := startServer(t, t.TempDir(), awsConfig(awsOperatorDir(t)), doubleEnv(t, d))
	var plan map[string]any
	code, body, _ := call(t, "POST", srv.url+"/api/v1/us-west-2/bake/plan", with(awsRequest, "base_os", "trusty-by-name"), &plan)
	if code != 200 {
		t.Fatalf("plan: %d %s", code, body)
	}
	argv := strings.Join(toStrings(plan["packer"].(map[string]any)["argv"]), " ")
	if !strings.Contains(argv, "aws_source_ami="+newer.ID) {
		t.Fatalf("newest image %s not chosen: %s", newer.ID, argv)
	}
	// Bake options come from the aws section.
	var opts struct {
		CloudProvider string `json:"cloudProvider"`
		BaseImages    []struct {
			ID, ShortDescription, PackageType string
		} `json:"baseImages"`
	}
	call(t, "GET", srv.url+"/bakeOptions/aws", nil, &opts)
	if opts.CloudProvider != "aws" || len(opts.BaseImages) != 2 || opts.BaseImages[0].ID != "trusty" || opts.BaseImages[0].ShortDescription != "Ubuntu 14.04" || opts.BaseImages[0].PackageType != "DEB" {
		t.Fatalf("/bakeOptions/aws = %+v", opts)
	}
	code, body, _ = call(t, "GET", srv.url+"/bakeOptions/aws/baseImages/jammy", nil, nil)
	if code != 404 || !strings.Contains(string(body), "Can't find base image with id jammy in aws base images: trusty, trusty-by-name") {
		t.Fatalf("unknown aws base image: %d %s", code, body)
	}
	// Unknown region and base OS: Rosco's messages, as 400s.
	code, body, _ = call(t, "POST", srv.url+"/api/v1/eu-west-3/bake/plan", awsRequest, nil)
	if code != 400 || !strings.Contains(string(body), "No virtualization settings found for region 'eu-west-3', operating system 'trusty', and vm type 'hvm'.") {
		t.Fatalf("unknown region: %d %s", code, body)
	}
}

func bakeAndWait(t *testing.T, srv *server, req map[string]any) status {
	t.Helper()
	var st status
	if code, body, _ := call(t, "POST", srv.url+"/api/v1/us-west-2/bake", req, &st); code != 200 {
		t.Fatalf("bake: %d %s", code, body)
	}
	return waitDoneIn(t, srv, "us-west-2", st.ID, 3*time.Minute)
}

func toStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

func fmtList(v any) string {
	l, _ := v.([]any)
	return strings.Join(toStringsOr(l), ",")
}

func toStringsOr(l []any) []string {
	var out []string
	for _, x := range l {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

// TestAWSMultiRegionCLI: `bakehouse bake --region A --region B` fans out one
// request per region with one shared suffix and prints each region's AMI.
func TestAWSMultiRegionCLI(t *testing.T) {
	needPacker(t)
	d := ec2test.New(t, ec2test.Quiet())
	east := d.AddImage(ec2test.Image{Name: ec2test.SourceAMIName, Region: "us-east-1", Owner: ec2test.CanonicalOwner, Public: true})
	cfg := strings.Replace(awsConfig(awsOperatorDir(t)),
		"          - {region: us-west-2, virtualizationType: hvm, instanceType: t2.micro, sourceAmi: ami-0abc1234567890001, sshUserName: ubuntu}\n",
		"          - {region: us-west-2, virtualizationType: hvm, instanceType: t2.micro, sourceAmi: ami-0abc1234567890001, sshUserName: ubuntu}\n"+
			"          - {region: us-east-1, virtualizationType: hvm, instanceType: t2.micro, sourceAmi: "+east.ID+", sshUserName: ubuntu}\n", 1)
	srv := startServer(t, t.TempDir(), cfg, doubleEnv(t, d))
	out, errOut, err := cli(t, srv, "bake", "--provider", "aws", "--package", "armory-hello-deploy_0.5.0-h5.c4baff4_all",
		"--base-os", "trusty", "--region", "us-west-2", "--region", "us-east-1", "--ami-suffix", "20170329204459")
	if err != nil {
		t.Fatalf("multi-region bake: %v\n%s\n%s", err, out, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "us-west-2: armory-hello-deploy-all-20170329204459-trusty (ami-") ||
		!strings.HasPrefix(lines[1], "us-east-1: armory-hello-deploy-all-20170329204459-trusty (ami-") {
		t.Fatalf("output:\n%s", out)
	}
	if !strings.Contains(errOut, "[us-west-2] ") || !strings.Contains(errOut, "[us-east-1] ") {
		t.Fatalf("progress is not shown per region:\n%s", errOut)
	}
	for _, region := range []string{"us-west-2", "us-east-1"} {
		n := 0
		for _, c := range d.CallsTo("CreateImage") {
			if c.Region == region {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("%d CreateImage calls in %s, want 1 (one independent bake per region)", n, region)
		}
	}
}
