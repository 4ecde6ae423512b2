package bakehouse

import (
	"testing"
	"time"
)

// TestBaseLabelSelectsSource: with no sourceAmi configured and no base_ami,
// the base comes from aws.base.<os>.<vm>.<label>.<region>, by id or by name.
func TestBaseLabelSelectsSource(t *testing.T) {
	cfg := Config{}
	cfg.AWS.Enabled = true
	cfg.AWS.BakeryDefaults.TemplateFile = "aws-ebs.json"
	cfg.AWS.BakeryDefaults.BaseImages = []AWSBaseImage{{
		BaseImage:              BaseImage{ID: "bionic", PackageType: "DEB"},
		VirtualizationSettings: []AWSVirtualizationSettings{{Region: "us-west-2", VirtualizationType: "hvm", InstanceType: "t3.micro"}},
	}}
	cfg.AWS.Base = map[string]map[string]map[string]map[string]string{
		"bionic": {"hvm": {
			"release":   {"us-west-2": "ami-0release0"},
			"candidate": {"us-west-2": "bionic-candidate-*"},
		}},
	}
	finder := func(name, region, account string) ([]NamedImage, error) {
		if name != "bionic-candidate-*" || region != "us-west-2" {
			t.Fatalf("finder(%q, %q)", name, region)
		}
		return []NamedImage{{ImageName: "bionic-candidate-2", Attributes: ImageAttributes{CreationDate: "2024-01-02", VirtualizationType: "hvm"}, AMIs: map[string][]string{"us-west-2": {"ami-0cand0"}}}}, nil
	}
	for label, want := range map[string]string{"": "ami-0release0", "release": "ami-0release0", "candidate": "ami-0cand0"} {
		req := BakeRequest{Package: "kato", BaseOS: "bionic", CloudProviderType: "aws", BaseLabel: label}
		r, err := buildRecipe("us-west-2", req, cfg, time.Unix(0, 0), finder)
		if src, _ := varValue(r, "aws_source_ami"); err != nil || src != want {
			t.Errorf("label %q: source %q, err %v; want %q", label, src, err, want)
		}
	}
	req := BakeRequest{Package: "kato", BaseOS: "bionic", CloudProviderType: "aws", BaseLabel: "unstable"}
	_, err := buildRecipe("us-west-2", req, cfg, time.Unix(0, 0), finder)
	if e, ok := err.(*Error); !ok || e.Message != "No base image found for os 'bionic', vm type 'hvm', region 'us-west-2', label: 'unstable', account: 'null'" {
		t.Fatalf("unconfigured label: %v", err)
	}
	// An explicit base_ami still wins.
	req = BakeRequest{Package: "kato", BaseOS: "bionic", CloudProviderType: "aws", BaseLabel: "candidate", BaseAMI: "ami-0explicit"}
	r, _ := buildRecipe("us-west-2", req, cfg, time.Unix(0, 0), finder)
	if src, _ := varValue(r, "aws_source_ami"); src != "ami-0explicit" {
		t.Fatalf("base_ami did not win: %s", src)
	}
}
