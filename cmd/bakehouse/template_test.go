package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// templateConfig is an aws section, and a docker section replacing the
// embedded one, that name no templateFile (as many rosco.yml files do,
// relying on Rosco's packaged defaults).
const templateConfig = `
aws:
  enabled: true
  bakeryDefaults:
    baseImages:
      - baseImage: {id: trusty, packageType: DEB}
        virtualizationSettings:
          - {region: us-west-2, virtualizationType: hvm, instanceType: t2.micro, sourceAmi: ami-0abc1234567890001, sshUserName: ubuntu}
docker:
  enabled: true
  bakeryDefaults:
    baseImages:
      - baseImage: {id: bookworm, packageType: DEB}
        virtualizationSettings: {sourceImage: bakehouse/debian:bookworm}
`

var templateRequest = map[string]any{"package": "app_1.0-1_all", "base_os": "trusty", "cloud_provider_type": "aws"}

// TestTemplateFileDefault plans an aws bake with no templateFile
// configured: it uses the shipped aws-ebs.json installed in the data
// directory, where it used to fail with "Template .../templates/ cannot
// be read".
func TestTemplateFileDefault(t *testing.T) {
	needPacker(t)
	dataDir := t.TempDir()
	srv := startServer(t, dataDir, templateConfig, nil)
	var plan struct {
		Packer struct {
			Template string   `json:"template"`
			Argv     []string `json:"argv"`
		} `json:"packer"`
	}
	code, body, _ := call(t, "POST", srv.url+"/api/v1/us-west-2/bake/plan", templateRequest, &plan)
	if code != 200 {
		t.Fatalf("plan: %d %s", code, body)
	}
	want := filepath.Join(dataDir, "templates", "aws-ebs.json")
	if plan.Packer.Template != want || plan.Packer.Argv[len(plan.Packer.Argv)-1] != want {
		t.Errorf("plan template = %q, argv ends %q; want %s", plan.Packer.Template, plan.Packer.Argv[len(plan.Packer.Argv)-1], want)
	}
}

// TestTemplateFileMissing names the setting that named a missing template
// and the directory searched: the config key when the config named it
// (or left the default), template_file_name when the request did.
func TestTemplateFileMissing(t *testing.T) {
	needPacker(t)
	configDir := t.TempDir() // an operator's directory without the shipped templates
	config := "rosco:\n  configDir: " + configDir + "\n" +
		strings.Replace(templateConfig, "  bakeryDefaults:\n    baseImages:\n      - baseImage: {id: trusty",
			"  bakeryDefaults:\n    templateFile: mine.json\n    baseImages:\n      - baseImage: {id: trusty", 1)
	srv := startServer(t, t.TempDir(), config, nil)
	for _, c := range []struct {
		req                map[string]any
		field, name, words string
	}{
		{templateRequest, "aws.bakeryDefaults.templateFile", "mine.json", "named by aws.bakeryDefaults.templateFile"},
		{with(templateRequest, "template_file_name", "other.json"), "template_file_name", "other.json", "pick another template_file_name"},
		{map[string]any{"package": "app_1.0-1_all", "base_os": "bookworm", "cloud_provider_type": "docker"},
			"docker.bakeryDefaults.templateFile", "docker.json", "named by docker.bakeryDefaults.templateFile"},
	} {
		code, body, _ := call(t, "POST", srv.url+"/api/v1/us-west-2/bake/plan", c.req, nil)
		msg := string(body)
		if code != 400 || !strings.Contains(msg, `"`+c.field+`"`) || !strings.Contains(msg, "Template "+c.name) ||
			!strings.Contains(msg, configDir) || !strings.Contains(msg, c.words) {
			t.Errorf("plan %v: %d %s\nwant 400 naming %s, %s, %s and %q", c.req, code, body, c.field, c.name, configDir, c.words)
		}
	}
}
