package main

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/bakehouse/bakehouse"
	"github.com/bakehouse/bakehouse/templates"
	"github.com/goccy/go-yaml"
)

// fileConfig is the YAML config file: Rosco's rosco.yml sections at the
// top level, so an operator's existing sections work pasted in, plus a
// bakehouse: section for what Rosco has no setting for.
type fileConfig struct {
	bakehouse.Config `yaml:",inline"`
	Bakehouse        serverConfig `yaml:"bakehouse"`
	// Jenkins is Igor's jenkins: section: the masters the Jenkins trigger
	// polls and the bake stage downloads archived packages from.
	Jenkins jenkinsConfig `yaml:"jenkins"`
	// Bakery is Orca's bakery: section, for the Bake stage.
	Bakery orcaBakeryConfig `yaml:"bakery"`

	// ignored are the file's settings Bakehouse does not use (Rosco's
	// redis:, spectator:, ...), which serve lists once at start.
	ignored []string
}

// serverConfig is the bakehouse: section.
type serverConfig struct {
	// Concurrency is how many bakes run at once. Default: number of CPUs.
	Concurrency int `yaml:"concurrency"`
	// BakeTimeout ends a bake that runs longer. Default: 30m.
	BakeTimeout string `yaml:"bakeTimeout"`
	// CancelGrace is the time Packer gets to clean up after SIGINT before
	// it is killed. Default: 10s.
	CancelGrace string `yaml:"cancelGrace"`
	// PackerPath is the packer binary. Default: packer on PATH.
	PackerPath string `yaml:"packerPath"`
	// Instance is this server's name in /status/all. Default: hostname.
	Instance string `yaml:"instance"`
	// APIToken, when set, is the bearer token every mutating request
	// (bake, cancel, delete, package upload) must carry. The environment
	// variable BAKEHOUSE_API_TOKEN wins over it, so the secret can stay
	// out of the file. Default: none (every request is let through).
	APIToken string `yaml:"apiToken"`
	// TrustedNetworks are CIDRs (or single addresses) whose mutating
	// requests need no token: Orca cannot send one. Default: none.
	TrustedNetworks []string `yaml:"trustedNetworks"`

	// Database is the PostgreSQL URL (postgres://user:password@host/dbname)
	// of the bakes, pipelines and queue; --database and
	// BAKEHOUSE_DATABASE_URL win over it. Default: the embedded SQLite
	// database in the data dir.
	Database string `yaml:"database"`

	// NodeID is this node's id among the nodes that share the database;
	// BAKEHOUSE_NODE_ID wins over it. Default: on PostgreSQL, instance
	// (or the hostname) plus a random suffix kept in DATA_DIR/node-id, so
	// that nodes started with one config on one host differ and a node
	// keeps its id across restarts; on SQLite, instance.
	NodeID string `yaml:"nodeId"`
	// SecretsKey (32 random bytes in base64: openssl rand -base64 32)
	// seals the secret values of queued bakes into the database, so that
	// any node with the same key can run them; BAKEHOUSE_SECRETS_KEY wins
	// over it. Set the same key on every node. Default: none; a bake
	// with masked values then fails, saying so, if another node's worker
	// takes it, or if its node restarted before it ran.
	SecretsKey string `yaml:"secretsKey"`

	// JenkinsPollInterval is how often the Jenkins trigger polls each
	// watched job (a Go duration). Default: 15s (Igor's is 60s); the
	// Notification plugin's webhook starts runs at once anyway.
	JenkinsPollInterval string `yaml:"jenkinsPollInterval"`

	// UIExecutionPoll is how often an open execution page reads the stored
	// execution when this process's runner did not say it changed, which
	// is how it sees runs another node advances (a Go duration). Default:
	// 5s; runs driven here update the page at once.
	UIExecutionPoll string `yaml:"uiExecutionPoll"`

	// trusted is TrustedNetworks parsed, once, by loadConfig.
	trusted []netip.Prefix
}

// jenkinsConfig is Igor's jenkins: section.
type jenkinsConfig struct {
	Enabled bool            `yaml:"enabled"`
	Masters []jenkinsMaster `yaml:"masters"`
}

// jenkinsMaster is one Jenkins master, as Igor names its fields. Password
// is the user's API token: a secret, never logged or stored.
type jenkinsMaster struct {
	Name     string `yaml:"name"`
	Address  string `yaml:"address"`
	Username string `yaml:"username"`
	Password string `yaml:"password"`
}

// orcaBakeryConfig is Orca's bakery: settings, under the same names.
type orcaBakeryConfig struct {
	// AllowMissingPackageInstallation lets a bake stage name packages the
	// triggering build did not produce. Default: false.
	AllowMissingPackageInstallation bool `yaml:"allowMissingPackageInstallation"`
	// ExtractBuildDetails adds the build's host, job, number and commit
	// to bake requests. Default: true.
	ExtractBuildDetails *bool `yaml:"extractBuildDetails"`
}

// defaultConfig is the embedded default: the docker provider with a Debian
// bookworm base image built locally, installing from the bakery's own
// repository (mounted read-only into the build container at
// /bakehouse/repo by Bakehouse's docker template).
const defaultConfig = `
defaultCloudProviderType: docker
debianRepository: "[trusted=yes] file:/bakehouse/repo ./"
docker:
  enabled: true
  bakeryDefaults:
    targetRepository: bakehouse
    templateFile: docker.json
    baseImages:
      - baseImage:
          id: bookworm
          shortDescription: Debian 12 (bookworm)
          detailedDescription: Debian 12 bookworm, bootstrapped locally with mmdebstrap
          packageType: DEB
          # Docker bakes install from the bakery's own repository, also
          # when a config sets debianRepository for other providers.
          customRepository: "[trusted=yes] file:/bakehouse/repo ./"
        virtualizationSettings:
          sourceImage: bakehouse/debian:bookworm
`

// loadConfig reads the embedded default, then the file at path (if any)
// over it, and fills in the defaults that depend on dataDir.
func loadConfig(path, dataDir string) (fileConfig, error) {
	var c fileConfig
	if err := yaml.Unmarshal([]byte(defaultConfig), &c); err != nil {
		return c, fmt.Errorf("default config: %w", err)
	}
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return c, fmt.Errorf("config: %w", err)
		}
		keys, err := checkKeys(b)
		if err != nil {
			return c, fmt.Errorf("config %s: %w", path, err)
		}
		if len(keys.unknown) > 0 {
			return c, fmt.Errorf("config %s: %w", path, errors.Join(keys.unknown...))
		}
		var fc fileConfig
		if err := yaml.Unmarshal(b, &fc); err != nil {
			return c, fmt.Errorf("config %s: %w", path, err)
		}
		merge(&c, fc)
		c.ignored = keys.ignored
	}
	if c.Rosco.ConfigDir == "" {
		c.Rosco.ConfigDir = filepath.Join(dataDir, "templates")
	}
	// A provider section without templateFile bakes with the template
	// Bakehouse ships for it (serve installs it in DATA_DIR/templates).
	if c.AWS.BakeryDefaults.TemplateFile == "" {
		c.AWS.BakeryDefaults.TemplateFile = templates.AWSEBSTemplate
	}
	if c.Docker.BakeryDefaults.TemplateFile == "" {
		c.Docker.BakeryDefaults.TemplateFile = templates.DockerTemplate
	}
	if c.Bakehouse.Concurrency <= 0 {
		c.Bakehouse.Concurrency = runtime.NumCPU()
	}
	for i, n := range c.Bakehouse.TrustedNetworks {
		p, err := parseNetwork(n)
		if err != nil {
			return c, fmt.Errorf("config: bakehouse.trustedNetworks[%d] %q is not a CIDR such as 10.0.0.0/8 or 192.168.1.5/32 (nor a single address)", i, n)
		}
		c.Bakehouse.trusted = append(c.Bakehouse.trusted, p)
	}
	for i, m := range c.Jenkins.Masters {
		switch {
		case m.Name == "":
			return c, fmt.Errorf("config: jenkins.masters[%d].name is empty: name each master (triggers refer to it as master)", i)
		case !strings.HasPrefix(m.Address, "http://") && !strings.HasPrefix(m.Address, "https://"):
			return c, fmt.Errorf("config: jenkins.masters[%d].address %q is not an http(s) URL such as https://jenkins.example.com/", i, m.Address)
		}
		for _, o := range c.Jenkins.Masters[:i] {
			if o.Name == m.Name {
				return c, fmt.Errorf("config: jenkins.masters[%d].name %q is used twice: master names must be unique", i, m.Name)
			}
		}
	}
	for _, d := range []struct{ name, v string }{{"bakehouse.bakeTimeout", c.Bakehouse.BakeTimeout}, {"bakehouse.cancelGrace", c.Bakehouse.CancelGrace}, {"bakehouse.jenkinsPollInterval", c.Bakehouse.JenkinsPollInterval}, {"bakehouse.uiExecutionPoll", c.Bakehouse.UIExecutionPoll}} {
		if d.v != "" {
			if _, err := time.ParseDuration(d.v); err != nil {
				return c, fmt.Errorf("config: %s %q is not a duration such as 30m or 10s", d.name, d.v)
			}
		}
	}
	return c, nil
}

// merge lays the sections a file sets over the defaults. A provider
// section in the file replaces the default one whole.
func merge(c *fileConfig, f fileConfig) {
	if f.DefaultCloudProviderType != "" {
		c.DefaultCloudProviderType = f.DefaultCloudProviderType
	}
	if f.DebianRepository != "" {
		c.DebianRepository = f.DebianRepository
	}
	if f.YumRepository != "" {
		c.YumRepository = f.YumRepository
	}
	if f.ChocolateyRepository != "" {
		c.ChocolateyRepository = f.ChocolateyRepository
	}
	if len(f.TemplatesNeedingRoot) > 0 {
		c.TemplatesNeedingRoot = f.TemplatesNeedingRoot
	}
	if f.Rosco.ConfigDir != "" {
		c.Rosco.ConfigDir = f.Rosco.ConfigDir
	}
	if f.Packer.Timestamp || len(f.Packer.AdditionalParameters) > 0 {
		c.Packer = f.Packer
	}
	if f.Docker.Enabled || len(f.Docker.BakeryDefaults.BaseImages) > 0 {
		c.Docker = f.Docker
	}
	if f.AWS.Enabled || len(f.AWS.BakeryDefaults.BaseImages) > 0 {
		c.AWS = f.AWS
	}
	c.Bakehouse = f.Bakehouse
	c.Jenkins = f.Jenkins
	c.Bakery = f.Bakery
}

// parseNetwork reads a CIDR, or a single address as the network of that
// address alone.
func parseNetwork(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func durationOr(s string, d time.Duration) time.Duration {
	if v, err := time.ParseDuration(s); err == nil && v > 0 {
		return v
	}
	return d
}
