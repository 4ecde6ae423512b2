package templates_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/bakehouse/bakehouse/templates"
)

var awsTemplates = []string{templates.AWSEBSTemplate, templates.AWSMultiEBSTemplate, templates.AWSChrootTemplate}

// unrolled is how many copy_to_N and share_with_N aws-multi-ebs.json
// declares.
const unrolled = 10

// recipeCase is one AWS recipe case of Rosco's conformance suite
// (testdata/rosco-aws-recipes.json): the -var pairs Rosco passes.
type recipeCase struct {
	ID                 string            `json:"id"`
	ExtendedAttributes map[string]string `json:"extended_attributes"`
	TemplateFile       string            `json:"template_file"`
	Vars               [][2]string       `json:"vars"`
}

// linux reports whether the case is for a Linux template (not Rosco's
// aws-windows-2012-r2.json, which Bakehouse does not ship).
func (c recipeCase) linux() bool { return !strings.Contains(c.TemplateFile, "windows") }

// roscoVar reports whether name is one of Rosco's own parameters rather
// than a free-form extended attribute (copy_to/share_with are unrolled
// into copy_to_N/share_with_N).
func (c recipeCase) roscoVar(name string) bool {
	_, ext := c.ExtendedAttributes[name]
	return !ext
}

// args is the case's -var list, configDir pointing at dir.
func (c recipeCase) args(dir string, override ...string) []string {
	var args []string
	for _, kv := range c.Vars {
		v := kv[1]
		if kv[0] == "configDir" {
			v = dir
		}
		args = append(args, "-var", kv[0]+"="+v)
	}
	for _, kv := range override {
		args = append(args, "-var", kv)
	}
	return args
}

func roscoAWSCases(t *testing.T) []recipeCase {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "rosco-aws-recipes.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Cases []recipeCase `json:"cases"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Cases) < 10 {
		t.Fatalf("only %d AWS recipe cases in testdata", len(f.Cases))
	}
	return f.Cases
}

func roscoCase(t *testing.T, id string) recipeCase {
	t.Helper()
	for _, c := range roscoAWSCases(t) {
		if c.ID == id {
			return c
		}
	}
	t.Fatalf("no recipe case %s", id)
	return recipeCase{}
}

// wantVariables are the variables tpl must declare: every name Rosco
// passes for aws, and copy_to_1..N / share_with_1..N in the multi template.
func wantVariables(t *testing.T, tpl string) []string {
	var names []string
	for _, c := range roscoAWSCases(t) {
		for _, kv := range c.Vars {
			if c.roscoVar(kv[0]) && !slices.Contains(names, kv[0]) {
				names = append(names, kv[0])
			}
		}
	}
	var out []string
	for _, n := range names {
		if strings.HasPrefix(n, "copy_to_") || strings.HasPrefix(n, "share_with_") {
			continue
		}
		out = append(out, n)
	}
	if tpl == templates.AWSMultiEBSTemplate {
		for i := 1; i <= unrolled; i++ {
			out = append(out, fmt.Sprintf("copy_to_%d", i), fmt.Sprintf("share_with_%d", i))
		}
	}
	out = append(out, "aws_endpoint_ec2", "bakehouse_bake_id", "bakehouse_aws_polling_delay", "bakehouse_aws_polling_max_attempts")
	return out
}

// awsTemplate is the part of an AWS template the tests read.
type awsTemplate struct {
	Variables      map[string]*string `json:"variables"`
	Builders       []map[string]any   `json:"builders"`
	Provisioners   []map[string]any   `json:"provisioners"`
	PostProcessors []map[string]any   `json:"post-processors"`
}

func readAWSTemplate(t *testing.T, name string) awsTemplate {
	t.Helper()
	b, err := templates.Read(name)
	if err != nil {
		t.Fatal(err)
	}
	var tpl awsTemplate
	if err := json.Unmarshal(b, &tpl); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if len(tpl.Builders) != 1 || len(tpl.Provisioners) != 1 || len(tpl.PostProcessors) != 1 {
		t.Fatalf("%s: want one builder, provisioner and post-processor", name)
	}
	return tpl
}

// TestAWSTemplatesShape checks, without Packer, what each AWS template
// wires: the variables Rosco passes, the environment defaults, the
// endpoint, the tags and the provisioner.
func TestAWSTemplatesShape(t *testing.T) {
	for _, name := range awsTemplates {
		t.Run(name, func(t *testing.T) {
			tpl := readAWSTemplate(t, name)
			for _, v := range wantVariables(t, name) {
				if _, ok := tpl.Variables[v]; !ok {
					t.Errorf("variable %s is not declared", v)
				}
			}
			for v, want := range map[string]string{
				"aws_endpoint_ec2":  "{{env `AWS_ENDPOINT_URL_EC2`}}",
				"bakehouse_bake_id": "{{env `BAKEHOUSE_BAKE_ID`}}",
			} {
				if got := tpl.Variables[v]; got == nil || *got != want {
					t.Errorf("variable %s = %v, want %q", v, got, want)
				}
			}
			b := tpl.Builders[0]
			wantType := "amazon-ebs"
			if name == templates.AWSChrootTemplate {
				wantType = "amazon-chroot"
			}
			for k, want := range map[string]string{
				"type":                wantType,
				"region":              "{{user `aws_region`}}",
				"source_ami":          "{{user `aws_source_ami`}}",
				"ami_name":            "{{user `aws_target_ami`}}",
				"access_key":          "{{user `aws_access_key`}}",
				"secret_key":          "{{user `aws_secret_key`}}",
				"custom_endpoint_ec2": "{{user `aws_endpoint_ec2`}}",
				"ena_support":         "{{user `aws_ena_support`}}",
			} {
				if b[k] != want {
					t.Errorf("builder %s = %v, want %q", k, b[k], want)
				}
			}
			if name != templates.AWSChrootTemplate {
				for k, want := range map[string]string{
					"instance_type":               "{{user `aws_instance_type`}}",
					"ssh_username":                "{{user `aws_ssh_username`}}",
					"subnet_id":                   "{{user `aws_subnet_id`}}",
					"vpc_id":                      "{{user `aws_vpc_id`}}",
					"associate_public_ip_address": "{{user `aws_associate_public_ip_address`}}",
				} {
					if b[k] != want {
						t.Errorf("builder %s = %v, want %q", k, b[k], want)
					}
				}
			}
			tags, _ := b["tags"].(map[string]any)
			for k, want := range map[string]string{
				"appversion":        "{{user `appversion`}}",
				"build_host":        "{{user `build_host`}}",
				"build_info_url":    "{{user `build_info_url`}}",
				"bakehouse_bake_id": "{{user `bakehouse_bake_id`}}",
				"base_ami_id":       "{{ .SourceAMI }}",
			} {
				if tags[k] != want {
					t.Errorf("tag %s = %v, want %q", k, tags[k], want)
				}
			}
			p := tpl.Provisioners[0]
			env := fmt.Sprint(p["environment_vars"])
			for _, v := range []string{"repository", "package_type", "packages", "upgrade"} {
				if !strings.Contains(env, v+"={{user `"+v+"`}}") {
					t.Errorf("provisioner environment_vars %s lack %s", env, v)
				}
			}
			if !strings.HasSuffix(fmt.Sprint(p["script"]), "/"+templates.InstallScript) {
				t.Errorf("provisioner script = %v", p["script"])
			}
			if pp := tpl.PostProcessors[0]; pp["type"] != "manifest" || pp["output"] != templates.ManifestFile {
				t.Errorf("post-processor = %v, want a manifest into %s", pp, templates.ManifestFile)
			}
		})
	}
}

// inspectVariables returns the variables packer inspect reports for file:
// name -> required.
func inspectVariables(t *testing.T, packer, file string) map[string]bool {
	t.Helper()
	cmd := exec.Command(packer, "inspect", "-machine-readable", file)
	cmd.Env = packerEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("packer inspect %s: %v\n%s", file, err, out)
	}
	vars := map[string]bool{}
	for _, line := range strings.Split(string(out), "\n") {
		// timestamp,target,template-variable,NAME,DEFAULT,REQUIRED(0|1)
		f := strings.Split(line, ",")
		if len(f) >= 6 && f[2] == "template-variable" {
			vars[f[3]] = f[len(f)-1] == "1"
		}
	}
	return vars
}

// TestAWSTemplatesDeclareRoscoVariables asks the real Packer which
// variables each AWS template declares: every -var of Rosco's AWS recipes
// must be among them, and every required one must be in every Linux
// recipe, so that Rosco's argv never fails on a missing variable.
func TestAWSTemplatesDeclareRoscoVariables(t *testing.T) {
	packer := mustPacker(t)
	dir := t.TempDir()
	if err := templates.Install(dir); err != nil {
		t.Fatal(err)
	}
	for _, name := range awsTemplates {
		t.Run(name, func(t *testing.T) {
			vars := inspectVariables(t, packer, filepath.Join(dir, name))
			for _, v := range wantVariables(t, name) {
				if _, ok := vars[v]; !ok {
					t.Errorf("packer inspect does not list %s", v)
				}
			}
			for _, c := range roscoAWSCases(t) {
				if !c.linux() {
					continue
				}
				for v, required := range vars {
					if required && !slices.ContainsFunc(c.Vars, func(kv [2]string) bool { return kv[0] == v }) {
						t.Errorf("required variable %s is not passed by recipe %s", v, c.ID)
					}
				}
			}
		})
	}
}

// validate runs packer validate on file with args and env (name=value,
// replacing the same names of the test's environment).
func validate(t *testing.T, packer, file string, args []string, env ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(packer, append(append([]string{"validate"}, args...), file)...)
	cmd.Env = packerEnvWithout([]string{"AWS_ENDPOINT_URL_EC2", "BAKEHOUSE_"}, env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// packerEnvWithout is packerEnv without the variables named (or, for a
// name ending in "_", prefixed) by drop, plus extra.
func packerEnvWithout(drop []string, extra ...string) []string {
	var env []string
	for _, kv := range packerEnv() {
		name, _, _ := strings.Cut(kv, "=")
		if !slices.ContainsFunc(drop, func(d string) bool {
			return name == d || strings.HasSuffix(d, "_") && strings.HasPrefix(name, d)
		}) {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// TestAWSTemplatesValidate runs the real packer validate on each AWS
// template with Rosco's argv: the fullest recipe (credentials, subnet,
// VPC, public IP, ENA with a spot price, build info) with copy_to and
// share_with entries, with AWS_ENDPOINT_URL_EC2 set and unset; and for
// aws-ebs.json every other Linux recipe.
func TestAWSTemplatesValidate(t *testing.T) {
	packer := mustPacker(t)
	dir := t.TempDir()
	if err := templates.Install(dir); err != nil {
		t.Fatal(err)
	}
	full := roscoCase(t, "aws-credentials-network-seed")
	unrolled := []string{"copy_to_2=us-west-2", "copy_to_1=us-west-1", "share_with_1=000001", "share_with_2=000002"}
	for _, name := range awsTemplates {
		for _, endpoint := range []string{"", "http://127.0.0.1:9"} {
			t.Run(fmt.Sprintf("%s/endpoint=%q", name, endpoint), func(t *testing.T) {
				t.Parallel()
				out, err := validate(t, packer, filepath.Join(dir, name), full.args(dir, unrolled...), "AWS_ENDPOINT_URL_EC2="+endpoint)
				if err != nil {
					t.Errorf("packer validate: %v\n%s", err, out)
				}
			})
		}
	}
	for _, c := range roscoAWSCases(t) {
		if !c.linux() || c.ID == full.ID {
			continue
		}
		t.Run(templates.AWSEBSTemplate+"/"+c.ID, func(t *testing.T) {
			t.Parallel()
			out, err := validate(t, packer, filepath.Join(dir, templates.AWSEBSTemplate), c.args(dir))
			if err != nil {
				t.Errorf("packer validate: %v\n%s", err, out)
			}
		})
	}
}

func TestAWSTemplatesRequireSourceAndTarget(t *testing.T) {
	packer := mustPacker(t)
	dir := t.TempDir()
	if err := templates.Install(dir); err != nil {
		t.Fatal(err)
	}
	for _, name := range awsTemplates {
		out, err := validate(t, packer, filepath.Join(dir, name), []string{"-var", "aws_region=us-east-1"})
		if err == nil || !strings.Contains(out, "aws_source_ami") || !strings.Contains(out, "aws_target_ami") {
			t.Errorf("%s: packer validate without source and target = %v\n%s\nwant both required variables reported", name, err, out)
		}
	}
}

// probe renders the given builder settings of an AWS template with the
// real Packer: a template with the same variables, a null builder and a
// shell-local step that prints each setting's template string once Packer
// has rendered it. It returns setting -> rendered value.
func probe(t *testing.T, packer, name string, settings map[string]string, args []string, env ...string) map[string]string {
	t.Helper()
	tpl := readAWSTemplate(t, name)
	var inline []string
	for k, v := range settings {
		inline = append(inline, "echo 'probe:"+k+"="+v+"'")
	}
	probe := map[string]any{
		"variables":    tpl.Variables,
		"builders":     []any{map[string]any{"type": "null", "communicator": "none"}},
		"provisioners": []any{map[string]any{"type": "shell-local", "inline": inline}},
	}
	b, err := json.Marshal(probe)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "probe.json")
	mustWrite(t, file, string(b))
	cmd := exec.Command(packer, append(append([]string{"build", "-color=false"}, args...), file)...)
	cmd.Dir = dir
	cmd.Env = packerEnvWithout([]string{"AWS_", "BAKEHOUSE_"}, append([]string{"PACKER_TMP_DIR=" + dir}, env...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("packer build probe: %v\n%s", err, out)
	}
	got := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)probe:(\w+)=(.*?)\s*$`).FindAllStringSubmatch(string(out), -1) {
		got[m[1]] = m[2]
	}
	return got
}

// TestAWSTemplatesRender checks what Packer 1.6.6 makes of the settings
// computed from variables: the endpoint and the two booleans that follow
// it, the polling settings and their environment fallbacks, spot price
// with ENA, and the ami_regions / ami_users strings that drop unset
// copy_to_N / share_with_N entries (Packer splits them on ',').
func TestAWSTemplatesRender(t *testing.T) {
	packer := mustPacker(t)
	tpl := readAWSTemplate(t, templates.AWSMultiEBSTemplate)
	b := tpl.Builders[0]
	polling, _ := b["aws_polling"].(map[string]any)
	settings := map[string]string{
		"endpoint":      fmt.Sprint(b["custom_endpoint_ec2"]),
		"skip_region":   fmt.Sprint(b["skip_region_validation"]),
		"skip_metadata": fmt.Sprint(b["skip_metadata_api_check"]),
		"ami_regions":   fmt.Sprint(b["ami_regions"]),
		"ami_users":     fmt.Sprint(b["ami_users"]),
		"spot_price":    fmt.Sprint(b["spot_price"]),
		"delay_seconds": fmt.Sprint(polling["delay_seconds"]),
		"max_attempts":  fmt.Sprint(polling["max_attempts"]),
		"bake_id":       "{{user `bakehouse_bake_id`}}",
		"packages_tag":  fmt.Sprint(b["run_tags"].(map[string]any)["Packages"]),
	}
	long := strings.Repeat("pkg-", 70) // 280 characters
	for _, tc := range []struct {
		name string
		args []string
		env  []string
		want map[string]string
	}{
		{
			name: "endpoint unset, messy copy_to",
			args: roscoCase(t, "aws-copy-to-messy-list").args("/tmp"),
			want: map[string]string{"endpoint": "", "skip_region": "false", "skip_metadata": "false",
				"ami_regions": "us-west-1,us-west-2", "ami_users": "", "spot_price": "auto",
				"delay_seconds": "15", "max_attempts": "120", "bake_id": "",
				"packages_tag": "kato nflx-djangobase-enhanced=0.1-h12.170cdbd mongodb"},
		},
		{
			name: "endpoint set, gaps in share_with, ENA with spot",
			args: roscoCase(t, "aws-credentials-network-seed").args("/tmp", "share_with_2=000002", "share_with_5=000005", "copy_to_10=eu-west-1"),
			env: []string{"AWS_ENDPOINT_URL_EC2=http://127.0.0.1:9", "BAKEHOUSE_BAKE_ID=01HBAKE",
				"BAKEHOUSE_AWS_POLLING_DELAY=2", "AWS_POLL_DELAY_SECONDS=3", "AWS_MAX_ATTEMPTS=7"},
			want: map[string]string{"endpoint": "http://127.0.0.1:9", "skip_region": "true", "skip_metadata": "true",
				"ami_regions": "eu-west-1", "ami_users": "000002,000005", "spot_price": "",
				"delay_seconds": "2", "max_attempts": "7", "bake_id": "01HBAKE"},
		},
		{
			name: "Packer's own polling variables",
			args: roscoCase(t, "aws-share-with-unrolled").args("/tmp", "packages="+long),
			env:  []string{"AWS_POLL_DELAY_SECONDS=3", "BAKEHOUSE_AWS_POLLING_MAX_ATTEMPTS=9", "AWS_MAX_ATTEMPTS=7"},
			want: map[string]string{"skip_region": "false", "ami_regions": "", "ami_users": "000001,000002",
				"spot_price": "auto", "delay_seconds": "3", "max_attempts": "9", "packages_tag": long[:255]},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := probe(t, packer, templates.AWSMultiEBSTemplate, settings, tc.args, tc.env...)
			for k, want := range tc.want {
				if got[k] != want {
					t.Errorf("%s renders %q, want %q (template: %s)", k, got[k], want, settings[k])
				}
			}
		})
	}
	// spot_price_auto_product is deprecated in Packer >= 1.5 and warns when
	// set: the template declares the variable but does not wire it.
	if _, ok := b["spot_price_auto_product"]; ok {
		t.Error("builder sets spot_price_auto_product")
	}
}
