package bakehouse

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"time"
)

// Var is one Packer -var: Key=Value.
type Var struct {
	Key, Value string
}

// Recipe is everything needed to run one packer build, as Rosco's
// produceBakeRecipe computes it. Vars are exactly the -var pairs of the
// command line, in order: empty and false values are already dropped and
// values trimmed.
type Recipe struct {
	BaseCommand  string // "sudo" for templates in templatesNeedingRoot, else ""
	TemplateFile string // configDir/template
	// TemplateSetting names where TemplateFile came from (a config key,
	// or the request's template_file_name), so that an error about a
	// missing template says what to change.
	TemplateSetting string
	VarFile         string // configDir/var_file_name, or ""
	Vars            []Var
	// ImageName is the AMI name for aws; for docker the full reference
	// repository/organization/name:tag (without "repository/" when
	// targetRepository is empty).
	ImageName        string
	AppVersion       string
	Packages         []Package
	MaskedParameters []string

	// Provider is the cloud provider type the recipe is for.
	Provider string
	// PackageType is the base image's package type (how Packages parse).
	PackageType PackageType
	// SourceImage is the resolved base: the source AMI id or docker image.
	SourceImage string
}

// NamedImage is one result of an image search by name (clouddriver's
// /aws/images/find answer).
type NamedImage struct {
	ImageName  string              `json:"imageName"`
	Attributes ImageAttributes     `json:"attributes"`
	AMIs       map[string][]string `json:"amis"` // region -> AMI ids
}

// ImageAttributes are the attributes of a NamedImage that the source AMI
// selection reads.
type ImageAttributes struct {
	CreationDate       string `json:"creationDate"` // ISO 8601, so it sorts as text
	VirtualizationType string `json:"virtualizationType"`
}

// ImageFinder searches images by name in a region and account. It is the
// only lookup a recipe may need (when sourceAmi or base_ami is a name
// rather than an AMI id); the caller supplies it so this package does no
// I/O.
type ImageFinder func(name, region, account string) ([]NamedImage, error)

// BuildRecipe builds the recipe for a request without image lookups: a
// source AMI given by name is an error. See BuildRecipeWith.
func BuildRecipe(region string, req BakeRequest, cfg Config, now time.Time) (Recipe, error) {
	return BuildRecipeWith(region, req, cfg, now, nil)
}

// BuildRecipeWith builds the packer recipe for req as Rosco does for aws
// and docker; find resolves source AMIs given by name. now is the bake
// time used where the request gives no ami_suffix or docker tag. Errors
// about the request are *Error with Code EINVALID, the field at fault and
// Rosco's message.
func BuildRecipeWith(region string, req BakeRequest, cfg Config, now time.Time, find ImageFinder) (Recipe, error) {
	if err := checkFileName("template_file_name", req.TemplateFileName); err != nil {
		return Recipe{}, err
	}
	if err := checkFileName("var_file_name", req.VarFileName); err != nil {
		return Recipe{}, err
	}
	provider := cfg.ProviderType(req)
	var (
		r        Recipe
		params   *orderedVars
		base     BaseImage
		template string
		err      error
	)
	switch provider {
	case "aws":
		r, params, base, err = awsRecipe(region, req, cfg, now, find)
		template = cfg.AWS.BakeryDefaults.TemplateFile
		r.TemplateSetting = "aws.bakeryDefaults.templateFile"
	case "docker":
		r, params, base, err = dockerRecipe(req, cfg, now)
		template = cfg.Docker.BakeryDefaults.TemplateFile
		r.TemplateSetting = "docker.bakeryDefaults.templateFile"
	default:
		return Recipe{}, Invalid("cloud_provider_type", "Unknown provider type '%s'.", provider)
	}
	if err != nil {
		return Recipe{}, err
	}
	r.Provider = provider

	// Provider-independent parameters, in Rosco's insertion order.
	switch {
	case base.CustomRepository != "":
		params.put("repository", base.CustomRepository)
	case cfg.DebianRepository != "" && r.PackageType == PackageDeb:
		params.put("repository", cfg.DebianRepository)
	case cfg.YumRepository != "" && r.PackageType == PackageRPM:
		params.put("repository", cfg.YumRepository)
	case cfg.ChocolateyRepository != "" && r.PackageType == PackageNupkg:
		params.put("repository", cfg.ChocolateyRepository)
	}
	params.put("package_type", string(r.PackageType))
	params.put("packages", PackagesParameter(r.PackageType, r.Packages))
	params.putIf("build_host", req.BuildHost)
	if req.Upgrade != nil && *req.Upgrade {
		params.put("upgrade", "true")
	}
	params.put("configDir", cfg.Rosco.ConfigDir)
	putExtendedAttributes(params, req.ExtendedAttributes)
	r.Vars = params.commandLine()

	if base.TemplateFile != "" {
		template = base.TemplateFile
		r.TemplateSetting = provider + ".bakeryDefaults.baseImages[id=" + base.ID + "].baseImage.templateFile"
	}
	if req.TemplateFileName != "" {
		template = req.TemplateFileName
		r.TemplateSetting = "template_file_name"
	}
	r.TemplateFile = inConfigDir(cfg.Rosco.ConfigDir, template)
	if req.VarFileName != "" {
		r.VarFile = inConfigDir(cfg.Rosco.ConfigDir, req.VarFileName)
	}
	if slices.Contains(cfg.TemplatesNeedingRoot, template) {
		r.BaseCommand = "sudo"
	}
	return r, nil
}

// amiID is what Rosco accepts as an AMI id; anything else is a name to
// search for.
var amiID = regexp.MustCompile(`^ami-[a-z0-9]+$`)

// awsRecipe finds the AWS virtualization settings and builds the AWS part
// of the parameters (AWSBakeHandler.findVirtualizationSettings and
// buildParameterMap).
func awsRecipe(region string, req BakeRequest, cfg Config, now time.Time, find ImageFinder) (Recipe, *orderedVars, BaseImage, error) {
	d := cfg.AWS.BakeryDefaults
	vmType := cfg.VMType(req)
	var img *AWSBaseImage
	for i := range d.BaseImages {
		if d.BaseImages[i].BaseImage.ID == req.BaseOS {
			img = &d.BaseImages[i]
			break
		}
	}
	if img == nil {
		return Recipe{}, nil, BaseImage{}, Invalid("base_os", "No virtualization settings found for '%s'.", javaString(req.BaseOS))
	}
	var vs *AWSVirtualizationSettings
	regionKnown := false
	for i := range img.VirtualizationSettings {
		s := &img.VirtualizationSettings[i]
		if s.Region == region {
			regionKnown = true
			if s.VirtualizationType == vmType {
				vs = s
				break
			}
		}
	}
	if vs == nil {
		field := "vm_type"
		if !regionKnown {
			field = "region"
		}
		return Recipe{}, nil, BaseImage{}, Invalid(field,
			"No virtualization settings found for region '%s', operating system '%s', and vm type '%s'.",
			region, req.BaseOS, vmType)
	}
	settings := *vs
	if req.BaseAMI != "" {
		settings.SourceAMI = req.BaseAMI
	}
	if settings.SourceAMI == "" {
		// Rosco's lookupBaseByDynamicProperty: a base per label.
		settings.SourceAMI = cfg.AWS.LabeledBase(req.BaseOS, vmType, req.BaseLabel, region)
	}
	if settings.SourceAMI != "" && !amiID.MatchString(settings.SourceAMI) {
		if find == nil {
			return Recipe{}, nil, BaseImage{}, Errorf(EINTERNAL,
				"source image %q is a name, and no image finder is configured to resolve it", settings.SourceAMI)
		}
		images, err := find(settings.SourceAMI, region, req.AccountName)
		if err != nil {
			return Recipe{}, nil, BaseImage{}, fmt.Errorf("find source image %q: %w", settings.SourceAMI, err)
		}
		settings.SourceAMI = SelectSourceAMI(images, region, vmType, settings.MostRecent)
	}
	if settings.SourceAMI == "" {
		return Recipe{}, nil, BaseImage{}, Invalid("base_ami",
			"No base image found for os '%s', vm type '%s', region '%s', label: '%s', account: '%s'",
			req.BaseOS, vmType, region, javaString(req.BaseLabel), javaString(req.AccountName))
	}

	t, err := ParsePackageType(img.BaseImage.PackageType)
	if err != nil {
		return Recipe{}, nil, BaseImage{}, Errorf(EINTERNAL, "base image %q: %v", img.BaseImage.ID, err)
	}
	names := DefaultImageNames(t, req, now)
	pkgs, _ := requestPackages(t, req)
	r := Recipe{
		ImageName:        names.ImageName,
		AppVersion:       names.AppVersion,
		Packages:         pkgs,
		MaskedParameters: cfg.MaskedParameters(),
		PackageType:      t,
		SourceImage:      settings.SourceAMI,
	}
	return r, awsParameters(region, settings, names.ImageName, req, names.AppVersion, d), img.BaseImage, nil
}

// awsParameters is AWSBakeHandler.buildParameterMap.
func awsParameters(region string, vs AWSVirtualizationSettings, imageName string, req BakeRequest, appVersion string, d AWSBakeryDefaults) *orderedVars {
	p := &orderedVars{}
	p.put("aws_region", region)
	p.put("aws_instance_type", vs.InstanceType)
	p.put("aws_source_ami", vs.SourceAMI)
	p.put("aws_target_ami", imageName)
	p.putIf("aws_ssh_username", vs.SSHUserName)
	p.putIf("aws_winrm_username", vs.WinRMUserName)
	p.putIf("aws_spot_price", vs.SpotPrice)
	if vs.SpotPrice == "auto" {
		p.putIf("aws_spot_price_auto_product", vs.SpotPriceAutoProduct)
	}
	if d.AWSAccessKey != "" && d.AWSSecretKey != "" {
		p.put("aws_access_key", d.AWSAccessKey)
		p.put("aws_secret_key", d.AWSSecretKey)
	}
	p.putIf("aws_subnet_id", d.AWSSubnetID)
	p.putIf("aws_vpc_id", d.AWSVpcID)
	if d.AWSAssociatePublicIPAddress {
		p.put("aws_associate_public_ip_address", "true")
	}
	if req.EnhancedNetworking != nil && *req.EnhancedNetworking {
		p.put("aws_ena_support", "true")
	}
	p.putIf("build_info_url", req.BuildInfoURL)
	p.putIf("appversion", appVersion)
	return p
}

// SelectSourceAMI picks the AMI from an image search as Rosco does: among
// images of vmType, the newest by creation date when mostRecent (the first
// of equals), else the first in result order; the AMI is the first id
// listed for region. "" means none.
func SelectSourceAMI(images []NamedImage, region, vmType string, mostRecent bool) string {
	var pick *NamedImage
	for i := range images {
		img := &images[i]
		if img.Attributes.VirtualizationType != vmType {
			continue
		}
		if !mostRecent {
			pick = img
			break
		}
		if pick == nil || img.Attributes.CreationDate > pick.Attributes.CreationDate {
			pick = img
		}
	}
	if pick == nil || len(pick.AMIs[region]) == 0 {
		return ""
	}
	return pick.AMIs[region][0]
}

// dockerRecipe is DockerBakeHandler.findVirtualizationSettings and
// buildParameterMap.
func dockerRecipe(req BakeRequest, cfg Config, now time.Time) (Recipe, *orderedVars, BaseImage, error) {
	d := cfg.Docker.BakeryDefaults
	var img *DockerBaseImage
	for i := range d.BaseImages {
		if d.BaseImages[i].BaseImage.ID == req.BaseOS {
			img = &d.BaseImages[i]
			break
		}
	}
	if img == nil {
		return Recipe{}, nil, BaseImage{}, Invalid("base_os", "No virtualization settings found for '%s'.", javaString(req.BaseOS))
	}
	source := img.VirtualizationSettings.SourceImage
	if req.BaseAMI != "" {
		source = req.BaseAMI
	}
	t, err := ParsePackageType(img.BaseImage.PackageType)
	if err != nil {
		return Recipe{}, nil, BaseImage{}, Errorf(EINTERNAL, "base image %q: %v", img.BaseImage.ID, err)
	}
	names, err := NewDockerImageNames(t, req, d.TargetRepository, now)
	if err != nil {
		return Recipe{}, nil, BaseImage{}, err
	}
	pkgs, _ := requestPackages(t, req)
	p := &orderedVars{}
	p.put("docker_source_image", source)
	p.put("docker_target_image", names.Image)
	p.put("docker_target_image_tag", names.Tag)
	p.put("docker_target_repository", names.Repository)
	p.putIf("build_info_url", req.BuildInfoURL)
	p.putIf("appversion", names.AppVersion)
	r := Recipe{
		ImageName:        names.Reference(),
		AppVersion:       names.AppVersion,
		Packages:         pkgs,
		MaskedParameters: cfg.MaskedParameters(),
		PackageType:      t,
		SourceImage:      source,
	}
	return r, p, img.BaseImage, nil
}

// putExtendedAttributes adds the extended attributes last, so they
// override earlier values (keeping the earlier position, as Rosco's
// LinkedHashMap does). copy_to and share_with are unrolled into
// copy_to_1..N / share_with_1..N. Rosco iterates the attributes in the
// order the JSON gave; a Go map has none, so keys are taken sorted.
func putExtendedAttributes(p *orderedVars, attrs map[string]string) {
	keys := make([]string, 0, len(attrs))
	for k := range attrs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		switch k {
		case "copy_to", "share_with":
			for _, v := range unroll(k, attrs[k]) {
				p.put(v.Key, v.Value)
			}
		default:
			p.put(k, attrs[k])
		}
	}
}

// unroll splits a comma-separated value into key_1..key_N (empty pieces
// between commas skipped, each piece trimmed), in the iteration order of
// the java.util.HashMap Rosco collects them in.
func unroll(key, value string) []Var {
	var vars []Var
	for i, v := range groovyTokenize(value, ",") {
		vars = append(vars, Var{Key: key + "_" + strconv.Itoa(i+1), Value: javaTrim(v)})
	}
	return javaHashMapOrder(vars)
}

// inConfigDir joins a template or var file name to the config directory.
func inConfigDir(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}

// javaString renders an absent string as Java prints null, for messages
// that must read exactly like Rosco's.
func javaString(s string) string {
	if s == "" {
		return "null"
	}
	return s
}
