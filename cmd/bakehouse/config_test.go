package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
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
