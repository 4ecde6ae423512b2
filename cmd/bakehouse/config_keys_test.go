package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "bakehouse.yml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestConfigUnknownBakehouseKey stops on a key of the bakehouse: section
// that does not exist, naming it and the closest valid one, instead of
// leaving the setting at its default without a word.
func TestConfigUnknownBakehouseKey(t *testing.T) {
	for _, tt := range []struct{ config, want string }{
		{"bakehouse: {concurency: 1}\n", "bakehouse.concurency: unknown key; did you mean concurrency?"},
		{"bakehouse:\n  concurrency: 2\n  bakeTimeOut: 5m\n", "bakehouse.bakeTimeOut: unknown key; did you mean bakeTimeout?"},
		{"bakehouse:\n  api_token: x\n", "bakehouse.api_token: unknown key; did you mean apiToken?"},
		{"bakehouse:\n  colour: blue\n", "bakehouse.colour: unknown key; the keys are apiToken, bakeTimeout, cancelGrace, concurrency, database, instance, jenkinsPollInterval, nodeId, packerPath, secretsKey, trustedNetworks, uiExecutionPoll"},
	} {
		path := writeConfig(t, tt.config)
		_, err := loadConfig(path, t.TempDir())
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), path) {
			t.Errorf("%q: err = %v, want %q", tt.config, err, tt.want)
		}
	}
	// Two typos are both named.
	_, err := loadConfig(writeConfig(t, "bakehouse:\n  concurency: 1\n  instanse: a\n"), t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "bakehouse.concurency") || !strings.Contains(err.Error(), "bakehouse.instanse: unknown key; did you mean instance?") {
		t.Errorf("two typos: err = %v", err)
	}
}

// roscoYML is an operator's rosco.yml pasted whole: sections and keys
// Bakehouse does not use next to the ones it reads.
const roscoYML = `
server:
  port: 8087
rosco:
  configDir: /opt/rosco/config/packer
  jobs:
    local:
      timeoutMinutes: 30
spectator:
  applicationName: ${spring.application.name}
redis:
  connection: redis://localhost:6379
defaultCloudProviderType: docker
templatesNeedingRoot: aws-chroot.json
google:
  enabled: false
  gce:
    bakeryDefaults:
      zone: us-central1-f
      baseImages: []
docker:
  enabled: true
  bakeryDefaults:
    targetRepository: registry:5000
    templatFile: docker.json
    baseImages:
      - baseImage:
          id: trusty
          packageType: DEB
          unknownThing: 1
        virtualizationSettings:
          sourceImage: ubuntu:trusty
`

// TestConfigIgnoredRoscoKeys lists the Rosco settings Bakehouse does not
// use, each once, and still reads the ones it does.
func TestConfigIgnoredRoscoKeys(t *testing.T) {
	c, err := loadConfig(writeConfig(t, roscoYML), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"server.port", "rosco.jobs.local.timeoutMinutes", "spectator.applicationName", "redis.connection",
		"google.enabled", "google.gce.bakeryDefaults.zone", "google.gce.bakeryDefaults.baseImages",
		"docker.bakeryDefaults.templatFile (did you mean templateFile?)",
		"docker.bakeryDefaults.baseImages[0].baseImage.unknownThing",
	}
	if got := strings.Join(c.ignored, ", "); got != strings.Join(want, ", ") {
		t.Errorf("ignored:\n got %s\nwant %s", got, strings.Join(want, ", "))
	}
	if c.Rosco.ConfigDir != "/opt/rosco/config/packer" || c.Docker.BakeryDefaults.TargetRepository != "registry:5000" ||
		len(c.TemplatesNeedingRoot) != 1 || c.Docker.BakeryDefaults.BaseImages[0].VirtualizationSettings.SourceImage != "ubuntu:trusty" {
		t.Errorf("used settings not read: %+v", c.Config)
	}
	// The shipped examples use nothing Bakehouse ignores.
	files, _ := filepath.Glob("../../examples/*.yml")
	for _, f := range files {
		if c, err := loadConfig(f, t.TempDir()); err != nil || len(c.ignored) > 0 {
			t.Errorf("%s: err %v, ignored %v", f, err, c.ignored)
		}
	}
}

// TestServeConfigKeys runs the whole program: a typo in the bakehouse:
// section stops serve with the key named; a pasted rosco.yml starts with
// one warning listing what is ignored.
func TestServeConfigKeys(t *testing.T) {
	path := writeConfig(t, "bakehouse:\n  concurency: 1\n")
	// A server that starts anyway is stopped, and the test fails, rather
	// than hangs.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--config", path},
		testEnv(nil), strings.NewReader(""), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "bakehouse.concurency: unknown key; did you mean concurrency?") {
		t.Fatalf("serve with a typo: err = %v", err)
	}

	srv := startServer(t, t.TempDir(), roscoYML, nil)
	log := srv.stderr.String()
	if n := strings.Count(log, "ignored: "); n != 1 || !strings.Contains(log, "ignored: server.port, rosco.jobs.local.timeoutMinutes, spectator.applicationName, redis.connection") {
		t.Errorf("want one warning listing the ignored settings, got %d:\n%s", n, log)
	}
}
