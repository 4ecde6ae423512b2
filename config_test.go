package bakehouse

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

// TestConfigYAMLNames pins every yaml tag to rosco.yml's property names, so
// an existing rosco.yml decodes unchanged.
func TestConfigYAMLNames(t *testing.T) {
	var got []string
	var walk func(prefix string, typ reflect.Type)
	walk = func(prefix string, typ reflect.Type) {
		for _, f := range reflect.VisibleFields(typ) {
			tag := f.Tag.Get("yaml")
			if tag == "" {
				t.Errorf("%s%s has no yaml tag", prefix, f.Name)
				continue
			}
			ft := f.Type
			if ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				walk(prefix+tag+".", ft)
				continue
			}
			got = append(got, prefix+tag)
		}
	}
	walk("", reflect.TypeFor[Config]())
	image := "id shortDescription detailedDescription packageType templateFile osType customRepository"
	want := []string{"rosco.configDir", "defaultCloudProviderType", "debianRepository", "yumRepository",
		"chocolateyRepository", "templatesNeedingRoot", "packer.timestamp", "packer.additionalParameters",
		"docker.enabled", "docker.bakeryDefaults.targetRepository", "docker.bakeryDefaults.templateFile",
		"docker.bakeryDefaults.baseImages.virtualizationSettings.sourceImage",
		"aws.enabled", "aws.base", "aws.bakeryDefaults.templateFile", "aws.bakeryDefaults.defaultVirtualizationType",
		"aws.bakeryDefaults.maskedPackerParameters", "aws.bakeryDefaults.awsAccessKey", "aws.bakeryDefaults.awsSecretKey",
		"aws.bakeryDefaults.awsSubnetId", "aws.bakeryDefaults.awsVpcId", "aws.bakeryDefaults.awsAssociatePublicIpAddress"}
	for _, f := range strings.Fields(image) {
		want = append(want, "docker.bakeryDefaults.baseImages.baseImage."+f, "aws.bakeryDefaults.baseImages.baseImage."+f)
	}
	for _, f := range strings.Fields("region virtualizationType instanceType sourceAmi mostRecent sshUserName winRmUserName spotPrice spotPriceAutoProduct") {
		want = append(want, "aws.bakeryDefaults.baseImages.virtualizationSettings."+f)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("yaml names\n got %q\nwant %q", got, want)
	}
}

func TestConfigDefaults(t *testing.T) {
	var cfg Config
	if got := cfg.ProviderType(BakeRequest{}); got != "aws" {
		t.Errorf("ProviderType = %q, want aws", got)
	}
	if got := cfg.VMType(BakeRequest{}); got != "hvm" {
		t.Errorf("VMType = %q, want hvm", got)
	}
	cfg.AWS.BakeryDefaults.MaskedPackerParameters = []string{"my_token"}
	if got, want := cfg.MaskedParameters(), []string{"my_token", "aws_access_key", "aws_secret_key"}; !slices.Equal(got, want) {
		t.Errorf("maskedParameters = %q, want %q (credentials are always masked)", got, want)
	}
}
