package bakehouse

import (
	"strings"
	"testing"
)

// validateConfig has both providers enabled with a couple of base OSes.
func validateConfig() Config {
	var cfg Config
	cfg.AWS.Enabled = true
	cfg.AWS.BakeryDefaults.BaseImages = []AWSBaseImage{
		{BaseImage: BaseImage{ID: "ubuntu", PackageType: "deb"}},
		{BaseImage: BaseImage{ID: "trusty", PackageType: "deb"}},
	}
	cfg.Docker.Enabled = true
	cfg.Docker.BakeryDefaults.BaseImages = []DockerBaseImage{
		{BaseImage: BaseImage{ID: "centos", PackageType: "rpm"}},
	}
	return cfg
}

func TestValidateRequest(t *testing.T) {
	aws := BakeRequest{Package: "kato nflx-djangobase-enhanced_0.1-h12.170cdbd_all", BaseOS: "ubuntu", CloudProviderType: "aws"}
	docker := BakeRequest{Package: "kato", BaseOS: "centos", CloudProviderType: "docker"}
	with := func(r BakeRequest, f func(*BakeRequest)) BakeRequest { f(&r); return r }
	tests := []struct {
		name    string
		region  string
		req     BakeRequest
		cfg     func(*Config)
		field   string // "" = valid
		message string // exact when set, else substrings in contains
		contain []string
	}{
		{name: "valid aws", region: "us-east-1", req: aws},
		{name: "valid docker", region: "global", req: docker},
		{name: "docker ami_name without package", region: "global", req: with(docker, func(r *BakeRequest) { r.Package = ""; r.AMIName = "superimage" })},
		{name: "package_artifacts without package", region: "us-east-1", req: with(aws, func(r *BakeRequest) { r.Package = ""; r.PackageArtifacts = []Artifact{{Reference: "x"}} })},
		{name: "all enums", region: "us-east-1", req: with(aws, func(r *BakeRequest) { r.VMType, r.BaseLabel, r.StoreType = "pv", "candidate", "ebs" })},
		{name: "package with version chars", region: "us-east-1", req: with(aws, func(r *BakeRequest) { r.Package = "app=1:2.0~rc1+b1-1 libc6" })},

		{name: "empty region", region: "", req: aws, field: "region", contain: []string{"region", "us-east-1"}},
		{name: "bad region", region: "US_East", req: aws, field: "region", contain: []string{`"US_East"`, "lowercase"}},
		{name: "region with slash", region: "us-east-1/../x", req: aws, field: "region"},

		{name: "unknown provider", region: "us-east-1", req: with(aws, func(r *BakeRequest) { r.CloudProviderType = "gce" }),
			field: "cloud_provider_type", message: "Unknown provider type 'gce'."},
		{name: "disabled provider", region: "us-east-1", req: aws, cfg: func(c *Config) { c.AWS.Enabled = false },
			field: "cloud_provider_type", message: "Unknown provider type 'aws'."},
		{name: "default provider is aws", region: "us-east-1", req: with(aws, func(r *BakeRequest) { r.CloudProviderType = "" })},
		{name: "configured default provider", region: "global", req: with(docker, func(r *BakeRequest) { r.CloudProviderType = "" }),
			cfg: func(c *Config) { c.DefaultCloudProviderType = "docker" }},

		{name: "missing base_os", region: "us-east-1", req: with(aws, func(r *BakeRequest) { r.BaseOS = "" }),
			field: "base_os", contain: []string{"base_os", "ubuntu, trusty"}},
		{name: "unknown base_os", region: "us-east-1", req: with(aws, func(r *BakeRequest) { r.BaseOS = "centos" }),
			field: "base_os", contain: []string{"'centos'", "aws", "ubuntu, trusty"}},
		{name: "base_os of other provider", region: "global", req: with(docker, func(r *BakeRequest) { r.BaseOS = "ubuntu" }),
			field: "base_os", contain: []string{"docker", "centos"}},
		{name: "no base OS configured", region: "global", req: docker, cfg: func(c *Config) { c.Docker.BakeryDefaults.BaseImages = nil },
			field: "base_os", contain: []string{"docker.bakeryDefaults.baseImages"}},

		{name: "aws without packages", region: "us-east-1", req: with(aws, func(r *BakeRequest) { r.Package = "  " }),
			field: "package", contain: []string{"package", "package_artifacts"}},
		{name: "aws ami_name without packages", region: "us-east-1", req: with(aws, func(r *BakeRequest) { r.Package = ""; r.AMIName = "x" }),
			field: "package"},
		{name: "docker without package or ami_name", region: "global", req: with(docker, func(r *BakeRequest) { r.Package = "" }),
			field: "package", contain: []string{"ami_name"}},
		{name: "semicolon", region: "us-east-1", req: with(aws, func(r *BakeRequest) { r.Package = "kato;reboot" }),
			field: "package", contain: []string{`"kato;reboot"`, "shell metacharacter", `';'`}},
		{name: "command substitution", region: "us-east-1", req: with(aws, func(r *BakeRequest) { r.Package = "ok $(id)" }),
			field: "package", contain: []string{`"$(id)"`, "shell metacharacter"}},
		{name: "backtick", region: "us-east-1", req: with(aws, func(r *BakeRequest) { r.Package = "a`id`" }), field: "package"},
		{name: "pipe", region: "us-east-1", req: with(aws, func(r *BakeRequest) { r.Package = "a|b" }), field: "package"},
		{name: "slash", region: "us-east-1", req: with(aws, func(r *BakeRequest) { r.Package = "../evil" }),
			field: "package", contain: []string{`"../evil"`, `'/'`}},
		{name: "non-ascii", region: "us-east-1", req: with(aws, func(r *BakeRequest) { r.Package = "kät" }), field: "package"},
		{name: "non-breaking space", region: "us-east-1", req: with(aws, func(r *BakeRequest) { r.Package = "a\u00a0b" }), field: "package"},
		{name: "option injection", region: "us-east-1", req: with(aws, func(r *BakeRequest) { r.Package = "--allow-unauthenticated" }),
			field: "package", contain: []string{"start with a letter or digit"}},

		{name: "template with slash", region: "us-east-1", req: with(aws, func(r *BakeRequest) { r.TemplateFileName = "../../etc/passwd" }),
			field: "template_file_name", contain: []string{"template_file_name", "template directory"}},
		{name: "absolute template", region: "us-east-1", req: with(aws, func(r *BakeRequest) { r.TemplateFileName = "/tmp/t.json" }),
			field: "template_file_name"},
		{name: "template with backslash", region: "us-east-1", req: with(aws, func(r *BakeRequest) { r.TemplateFileName = `..\t.json` }),
			field: "template_file_name"},
		{name: "template with dots", region: "us-east-1", req: with(aws, func(r *BakeRequest) { r.TemplateFileName = "a..json" }),
			field: "template_file_name"},
		{name: "plain template", region: "us-east-1", req: with(aws, func(r *BakeRequest) { r.TemplateFileName = "aws-multi-ebs.json" })},
		{name: "var file traversal", region: "us-east-1", req: with(aws, func(r *BakeRequest) { r.VarFileName = "../vars.json" }),
			field: "var_file_name", contain: []string{"var_file_name", "template directory"}},

		{name: "vm_type", region: "us-east-1", req: with(aws, func(r *BakeRequest) { r.VMType = "HVM" }),
			field: "vm_type", contain: []string{`"HVM"`, "hvm or pv"}},
		{name: "base_label", region: "us-east-1", req: with(aws, func(r *BakeRequest) { r.BaseLabel = "latest" }),
			field: "base_label", contain: []string{"release, candidate, previous, unstable or foundation"}},
		{name: "store_type", region: "us-east-1", req: with(aws, func(r *BakeRequest) { r.StoreType = "gp2" }),
			field: "store_type", contain: []string{"ebs, s3 or docker"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := validateConfig()
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			req := tt.req
			_, err := validateRequest(tt.region, &req, cfg)
			if tt.field == "" {
				if err != nil {
					t.Fatalf("validateRequest: %v", err)
				}
				if req.CloudProviderType == "" {
					t.Error("cloud_provider_type was not filled in")
				}
				return
			}
			var e *Error
			if !asError(err, &e) {
				t.Fatalf("err = %v, want *Error", err)
			}
			if e.Code != EINVALID || e.Field != tt.field {
				t.Errorf("Code, Field = %q, %q; want %q, %q", e.Code, e.Field, EINVALID, tt.field)
			}
			if tt.message != "" && e.Message != tt.message {
				t.Errorf("Message = %q, want %q", e.Message, tt.message)
			}
			for _, s := range tt.contain {
				if !strings.Contains(e.Message, s) {
					t.Errorf("Message %q lacks %q", e.Message, s)
				}
			}
			if tt.message == "" && (!strings.HasSuffix(e.Message, ".") || !strings.Contains(e.Message, fieldWord(tt.field))) {
				t.Errorf("Message %q should be a sentence naming %s", e.Message, tt.field)
			}
		})
	}
}

// fieldWord is how a message names a field (package messages say
// "package").
func fieldWord(field string) string { return strings.SplitN(field, "_", 2)[0] }
