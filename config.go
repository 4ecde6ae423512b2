package bakehouse

import (
	"slices"
	"strings"
)

// Config is Rosco's bakery configuration (rosco.yml, as Halyard writes it),
// limited to the AWS and Docker providers that Bakehouse bakes for. The
// yaml tags are Rosco's property names so that an existing rosco.yml (or a
// Halyard-generated rosco-local.yml) can be read unchanged.
type Config struct {
	Rosco RoscoConfig `yaml:"rosco"`

	// DefaultCloudProviderType replaces a missing cloud_provider_type before
	// the bake key is computed. Default: "aws".
	DefaultCloudProviderType string `yaml:"defaultCloudProviderType"`

	// DebianRepository, YumRepository and ChocolateyRepository are passed to
	// Packer as the "repository" variable for base images of the matching
	// package type, unless the base image has its own customRepository.
	// Several repositories may be given separated by ';' (the install
	// scripts split them).
	DebianRepository     string `yaml:"debianRepository"`
	YumRepository        string `yaml:"yumRepository"`
	ChocolateyRepository string `yaml:"chocolateyRepository"`

	// TemplatesNeedingRoot lists template file names that Packer must run
	// under sudo (aws-chroot.json in the shipped rosco.yml). Rosco's
	// rosco.yml writes it as a single comma-separated string, which
	// StringList accepts as well as a list.
	TemplatesNeedingRoot StringList `yaml:"templatesNeedingRoot"`

	Packer PackerConfig `yaml:"packer"`
	Docker DockerConfig `yaml:"docker"`
	AWS    AWSConfig    `yaml:"aws"`
}

// RoscoConfig is the rosco: section.
type RoscoConfig struct {
	// ConfigDir is the directory holding the Packer templates, var files and
	// install scripts. Default in rosco.yml: /opt/rosco/config/packer.
	ConfigDir string `yaml:"configDir"`
}

// PackerConfig is the packer: section: flags added to every packer build.
type PackerConfig struct {
	// Timestamp adds -timestamp-ui. Default: false.
	Timestamp bool `yaml:"timestamp"`
	// AdditionalParameters are appended one argv token each, verbatim (no
	// shell splitting), before the -var pairs.
	AdditionalParameters []string `yaml:"additionalParameters"`
}

// DockerConfig is the docker: section.
type DockerConfig struct {
	// Enabled registers the provider; a disabled provider is unknown to
	// requests, as in Rosco.
	Enabled        bool                 `yaml:"enabled"`
	BakeryDefaults DockerBakeryDefaults `yaml:"bakeryDefaults"`
}

// DockerBakeryDefaults are the Docker provider's settings.
type DockerBakeryDefaults struct {
	// TargetRepository is the registry images are pushed to, e.g.
	// "my-docker-repository:5000". Empty means no -var is sent.
	TargetRepository string `yaml:"targetRepository"`
	// TemplateFile is the Packer template in configDir. Default:
	// docker.json, the template Bakehouse ships.
	TemplateFile string            `yaml:"templateFile"`
	BaseImages   []DockerBaseImage `yaml:"baseImages"`
}

// DockerBaseImage is one base OS a Docker bake may start from.
type DockerBaseImage struct {
	BaseImage              BaseImage                    `yaml:"baseImage"`
	VirtualizationSettings DockerVirtualizationSettings `yaml:"virtualizationSettings"`
}

// DockerVirtualizationSettings holds the image a Docker bake starts from.
type DockerVirtualizationSettings struct {
	SourceImage string `yaml:"sourceImage"`
}

// BaseImage describes a base OS (Rosco's BakeOptions.BaseImage); it is also
// what the bake-options endpoint lists.
type BaseImage struct {
	// ID is the value requests send as base_os.
	ID                  string `yaml:"id"`
	ShortDescription    string `yaml:"shortDescription"`
	DetailedDescription string `yaml:"detailedDescription"`
	// PackageType is deb, rpm or nupkg (any case, as Spring binds enums
	// leniently); it decides how package names are parsed.
	PackageType string `yaml:"packageType"`
	// TemplateFile replaces the provider's default template for this OS.
	TemplateFile string `yaml:"templateFile"`
	// OSType is linux or windows. Default: linux.
	OSType string `yaml:"osType"`
	// CustomRepository wins over the global package repositories.
	CustomRepository string `yaml:"customRepository"`
}

// AWSConfig is the aws: section.
type AWSConfig struct {
	Enabled        bool              `yaml:"enabled"`
	BakeryDefaults AWSBakeryDefaults `yaml:"bakeryDefaults"`
	// Base maps base OS -> vm type -> base label -> region to a source
	// AMI id or image name: Rosco's dynamic property
	// aws.base.<os>.<vm_type>.<label>.<region>, used when the matching
	// virtualization settings name no sourceAmi and the request no
	// base_ami. A request without base_label uses "release".
	Base map[string]map[string]map[string]map[string]string `yaml:"base"`
}

// LabeledBase returns the configured base for os, vmType, label and
// region, or "".
func (c AWSConfig) LabeledBase(os, vmType, label, region string) string {
	if label == "" {
		label = "release"
	}
	return c.Base[os][vmType][label][region]
}

// AWSBakeryDefaults are the AWS provider's settings.
type AWSBakeryDefaults struct {
	// TemplateFile is the Packer template in configDir. Default:
	// aws-ebs.json, the template Bakehouse ships.
	TemplateFile string `yaml:"templateFile"`
	// DefaultVirtualizationType replaces a missing vm_type (hvm or pv).
	// Default: hvm.
	DefaultVirtualizationType string `yaml:"defaultVirtualizationType"`
	// MaskedPackerParameters are -var names whose values are shown as
	// ****** in the logged command. Default: aws_access_key,
	// aws_secret_key; Bakehouse always masks those two as well.
	MaskedPackerParameters []string `yaml:"maskedPackerParameters"`
	// AWSAccessKey and AWSSecretKey are sent to Packer only when both are
	// set; otherwise Packer uses its own credential chain.
	AWSAccessKey string `yaml:"awsAccessKey"`
	AWSSecretKey string `yaml:"awsSecretKey"`
	AWSSubnetID  string `yaml:"awsSubnetId"`
	AWSVpcID     string `yaml:"awsVpcId"`
	// AWSAssociatePublicIPAddress is sent when true (Rosco also "sends"
	// false, but its command builder drops false values).
	AWSAssociatePublicIPAddress bool           `yaml:"awsAssociatePublicIpAddress"`
	BaseImages                  []AWSBaseImage `yaml:"baseImages"`
}

// AWSBaseImage is one base OS an AWS bake may start from, with its
// per-region, per-virtualization-type settings.
type AWSBaseImage struct {
	BaseImage              BaseImage                   `yaml:"baseImage"`
	VirtualizationSettings []AWSVirtualizationSettings `yaml:"virtualizationSettings"`
}

// AWSVirtualizationSettings are the settings for one region and
// virtualization type of an AWS base image.
type AWSVirtualizationSettings struct {
	Region             string `yaml:"region"`
	VirtualizationType string `yaml:"virtualizationType"`
	InstanceType       string `yaml:"instanceType"`
	// SourceAMI is an AMI id (ami-...) or an image name to search for.
	SourceAMI string `yaml:"sourceAmi"`
	// MostRecent picks the newest image when SourceAMI is a name.
	MostRecent    bool   `yaml:"mostRecent"`
	SSHUserName   string `yaml:"sshUserName"`
	WinRMUserName string `yaml:"winRmUserName"`
	// SpotPrice is "auto", a price, or "0" (on demand; still sent).
	SpotPrice            string `yaml:"spotPrice"`
	SpotPriceAutoProduct string `yaml:"spotPriceAutoProduct"`
}

// StringList is a list setting that also accepts a single comma-separated
// string, because Spring binds "a.json,b.json" to a list and the shipped
// rosco.yml writes templatesNeedingRoot that way.
type StringList []string

// UnmarshalYAML accepts a sequence or a comma-separated scalar. The
// signature is the go-yaml unmarshaler interface, so no YAML package is
// imported here.
func (l *StringList) UnmarshalYAML(unmarshal func(any) error) error {
	var one string
	if err := unmarshal(&one); err == nil {
		*l = splitCommaList(one)
		return nil
	}
	var many []string
	if err := unmarshal(&many); err != nil {
		return err
	}
	*l = many
	return nil
}

// splitCommaList splits s on commas, trimming blanks and dropping empty
// entries, as Spring does for list properties.
func splitCommaList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// defaultMaskedParameters are masked whatever the configuration says:
// Rosco lets a configured list replace them, which can leak credentials.
var defaultMaskedParameters = []string{"aws_access_key", "aws_secret_key"}

// ProviderType returns the provider a request is for: its
// cloud_provider_type, else defaultCloudProviderType, else "aws" (what
// Rosco's controller fills in before computing the key).
func (c Config) ProviderType(req BakeRequest) string {
	if req.CloudProviderType != "" {
		return req.CloudProviderType
	}
	if c.DefaultCloudProviderType != "" {
		return c.DefaultCloudProviderType
	}
	return "aws"
}

// VMType returns the request's vm_type, else the AWS
// defaultVirtualizationType, else "hvm".
func (c Config) VMType(req BakeRequest) string {
	if req.VMType != "" {
		return req.VMType
	}
	if d := c.AWS.BakeryDefaults.DefaultVirtualizationType; d != "" {
		return d
	}
	return "hvm"
}

// ProviderEnabled reports whether provider is one Bakehouse can bake for
// and is switched on in the configuration.
func (c Config) ProviderEnabled(provider string) bool {
	switch provider {
	case "aws":
		return c.AWS.Enabled
	case "docker":
		return c.Docker.Enabled
	}
	return false
}

// BaseOSes lists the base_os values configured for provider, in
// configuration order (for bake options and error messages).
func (c Config) BaseOSes(provider string) []string {
	var ids []string
	switch provider {
	case "aws":
		for _, b := range c.AWS.BakeryDefaults.BaseImages {
			ids = append(ids, b.BaseImage.ID)
		}
	case "docker":
		for _, b := range c.Docker.BakeryDefaults.BaseImages {
			ids = append(ids, b.BaseImage.ID)
		}
	}
	return ids
}

// baseOS is a configured base OS of either provider, with its
// virtualization settings.
type baseOS struct {
	image  BaseImage
	aws    []AWSVirtualizationSettings
	docker DockerVirtualizationSettings
}

// lookupBaseOS finds the base OS id of provider: the one lookup of a base
// image entry that resolving a request makes.
func (c Config) lookupBaseOS(provider, id string) (baseOS, bool) {
	switch provider {
	case "aws":
		for _, b := range c.AWS.BakeryDefaults.BaseImages {
			if b.BaseImage.ID == id {
				return baseOS{image: b.BaseImage, aws: b.VirtualizationSettings}, true
			}
		}
	case "docker":
		for _, b := range c.Docker.BakeryDefaults.BaseImages {
			if b.BaseImage.ID == id {
				return baseOS{image: b.BaseImage, docker: b.VirtualizationSettings}, true
			}
		}
	}
	return baseOS{}, false
}

// templateFile is provider's configured default template.
func (c Config) templateFile(provider string) string {
	switch provider {
	case "aws":
		return c.AWS.BakeryDefaults.TemplateFile
	case "docker":
		return c.Docker.BakeryDefaults.TemplateFile
	}
	return ""
}

// MaskedParameters are the Packer parameters whose values are secrets:
// aws.bakeryDefaults.maskedPackerParameters plus the AWS credential names.
// They are masked for every provider, because packer.additionalParameters
// and extended attributes can pass them to any template.
func (c Config) MaskedParameters() []string {
	out := slices.Clone(c.AWS.BakeryDefaults.MaskedPackerParameters)
	for _, m := range defaultMaskedParameters {
		if !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	return out
}
