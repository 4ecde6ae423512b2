package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bakehouse/bakehouse/templates"
)

// TestExampleConfigs loads every shipped example config: a typo in one
// would otherwise only show when an operator starts the server with it.
func TestExampleConfigs(t *testing.T) {
	files, _ := filepath.Glob("../../examples/*.yml")
	if len(files) == 0 {
		t.Fatal("no example configs found")
	}
	for _, f := range files {
		c, err := loadConfig(f, t.TempDir())
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if strings.HasSuffix(f, "aws.yml") {
			if !c.AWS.Enabled || c.DefaultCloudProviderType != "aws" || len(c.AWS.BakeryDefaults.BaseImages) != 5 {
				t.Errorf("%s: aws section not read: %+v", f, c.AWS)
			}
			ids := strings.Join(c.BaseOSes("aws"), ",")
			if ids != "trusty,xenial,bionic,jammy,bookworm" {
				t.Errorf("%s: base OSes %s", f, ids)
			}
			if vs := c.AWS.BakeryDefaults.BaseImages[0].VirtualizationSettings[0]; vs.Region != "us-west-2" || !vs.MostRecent || vs.SSHUserName != "ubuntu" {
				t.Errorf("%s: virtualization settings not read: %+v", f, vs)
			}
			// The embedded docker default stays available.
			if !c.Docker.Enabled {
				t.Errorf("%s: docker provider lost", f)
			}
		}
	}
}

// TestConfigErrors names the setting at fault.
func TestConfigErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.yml")
	os.WriteFile(path, []byte("bakehouse:\n  bakeTimeout: soon\n"), 0o644)
	if _, err := loadConfig(path, t.TempDir()); err == nil || !strings.Contains(err.Error(), "bakehouse.bakeTimeout") {
		t.Fatalf("bad duration: err = %v", err)
	}
	os.WriteFile(path, []byte("docker: [unclosed\n"), 0o644)
	if _, err := loadConfig(path, t.TempDir()); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("bad yaml: err = %v", err)
	}
	if _, err := loadConfig(filepath.Join(t.TempDir(), "missing.yml"), t.TempDir()); err == nil {
		t.Fatal("missing file: no error")
	}
}

// TestConfigTemplatesNeedingRoot reads templatesNeedingRoot through the
// YAML decoder serve uses, in both of rosco.yml's forms.
func TestConfigTemplatesNeedingRoot(t *testing.T) {
	for body, want := range map[string]string{
		"templatesNeedingRoot: aws-chroot.json, other.json,\n":     "aws-chroot.json other.json",
		"templatesNeedingRoot: [aws-chroot.json, \"x.json\"]\n":    "aws-chroot.json x.json",
		"templatesNeedingRoot:\n  - aws-chroot.json\n  - y.json\n": "aws-chroot.json y.json",
	} {
		path := filepath.Join(t.TempDir(), "c.yml")
		os.WriteFile(path, []byte(body), 0o644)
		c, err := loadConfig(path, t.TempDir())
		if err != nil {
			t.Errorf("%q: %v", body, err)
			continue
		}
		if got := strings.Join(c.TemplatesNeedingRoot, " "); got != want {
			t.Errorf("%q: templatesNeedingRoot = %q, want %q", body, got, want)
		}
	}
}

// TestConfigTemplateFileDefault gives a provider section without
// templateFile the template Bakehouse ships, and keeps one that is set.
func TestConfigTemplateFileDefault(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yml")
	os.WriteFile(path, []byte("aws:\n  enabled: true\ndocker:\n  enabled: true\n"), 0o644)
	c, err := loadConfig(path, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if got := c.AWS.BakeryDefaults.TemplateFile; got != templates.AWSEBSTemplate {
		t.Errorf("aws templateFile = %q, want %s", got, templates.AWSEBSTemplate)
	}
	if got := c.Docker.BakeryDefaults.TemplateFile; got != templates.DockerTemplate {
		t.Errorf("docker templateFile = %q, want %s", got, templates.DockerTemplate)
	}
	os.WriteFile(path, []byte("aws:\n  enabled: true\n  bakeryDefaults:\n    templateFile: mine.json\n"), 0o644)
	if c, err = loadConfig(path, t.TempDir()); err != nil || c.AWS.BakeryDefaults.TemplateFile != "mine.json" {
		t.Errorf("configured templateFile = %q, %v; want mine.json", c.AWS.BakeryDefaults.TemplateFile, err)
	}
}

func TestConfigJenkinsAndOrcaBakery(t *testing.T) {
	dir := t.TempDir()
	write := func(body string) string {
		p := filepath.Join(dir, "c.yml")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	c, err := loadConfig(write("jenkins:\n  enabled: true\n  masters:\n  - name: ci\n    address: http://127.0.0.1:1/\n    username: u\n    password: tok\nbakery:\n  allowMissingPackageInstallation: true\n  extractBuildDetails: false\nbakehouse:\n  jenkinsPollInterval: 2s\n"), dir)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Jenkins.Enabled || len(c.Jenkins.Masters) != 1 || c.Jenkins.Masters[0].Password != "tok" ||
		!c.Bakery.AllowMissingPackageInstallation || c.Bakery.ExtractBuildDetails == nil || *c.Bakery.ExtractBuildDetails ||
		c.Bakehouse.JenkinsPollInterval != "2s" {
		t.Fatalf("config = %+v %+v %+v", c.Jenkins, c.Bakery, c.Bakehouse)
	}
	for body, want := range map[string]string{
		"jenkins:\n  masters:\n  - address: http://x/\n":                                                   "jenkins.masters[0].name is empty",
		"jenkins:\n  masters:\n  - name: a\n    address: ftp://x/\n":                                       "jenkins.masters[0].address \"ftp://x/\" is not an http(s) URL",
		"jenkins:\n  masters:\n  - {name: a, address: 'http://x/'}\n  - {name: a, address: 'http://y/'}\n": "jenkins.masters[1].name \"a\" is used twice",
		"bakehouse:\n  jenkinsPollInterval: often\n":                                                       "bakehouse.jenkinsPollInterval \"often\" is not a duration",
	} {
		if _, err := loadConfig(write(body), dir); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err %v, want %q", body, err, want)
		}
	}
}
