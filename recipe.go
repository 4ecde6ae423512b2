package bakehouse

import (
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
	VarFile      string // configDir/var_file_name, or ""
	Vars         []Var
	// ImageName is the AMI name for aws; for docker the full reference
	// repository/organization/name:tag (without "repository/" when
	// targetRepository is empty).
	ImageName  string
	AppVersion string
	// MaskedParameters name the -var values that are secrets.
	MaskedParameters []string
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

// Recipe builds the packer recipe of the resolved request as Rosco does
// for aws and docker. now is the bake time used where the request gives no
// ami_suffix or docker tag; the recipe is computed once, when the bake is
// created, so the image name a plan shows is the one Packer makes.
func (r *Resolved) Recipe(now time.Time) (Recipe, error) {
	req := r.Request
	naming := append(slices.Clone(r.Packages), r.ArtifactNames...)
	rec := Recipe{
		MaskedParameters: r.MaskedParameters,
		TemplateFile:     r.TemplateFile,
		VarFile:          r.VarFile,
	}
	var params *orderedVars
	switch r.Provider {
	case "aws":
		rec.ImageName = defaultImageName(req, naming, now)
		rec.AppVersion = firstAppVersion(r.PackageType, naming, req)
		params = awsParameters(r.Region, r.AWS, rec.ImageName, req, rec.AppVersion, r.cfg.AWS.BakeryDefaults)
	case "docker":
		names, err := dockerImageNames(r.PackageType, req, naming, r.cfg.Docker.BakeryDefaults.TargetRepository, now)
		if err != nil {
			return Recipe{}, err
		}
		rec.ImageName, rec.AppVersion = names.Reference(), names.AppVersion
		params = dockerParameters(r.SourceImage, names, req)
	default:
		return Recipe{}, Invalid("cloud_provider_type", "Unknown provider type '%s'.", r.Provider)
	}

	// Provider-independent parameters, in Rosco's insertion order.
	cfg := r.cfg
	switch {
	case r.BaseImage.CustomRepository != "":
		params.put("repository", r.BaseImage.CustomRepository)
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
	rec.Vars = params.commandLine()
	if r.needsRoot() {
		rec.BaseCommand = "sudo"
	}
	return rec, nil
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

// dockerParameters is DockerBakeHandler.buildParameterMap.
func dockerParameters(source string, names DockerImageNames, req BakeRequest) *orderedVars {
	p := &orderedVars{}
	p.put("docker_source_image", source)
	p.put("docker_target_image", names.Image)
	p.put("docker_target_image_tag", names.Tag)
	p.put("docker_target_repository", names.Repository)
	p.putIf("build_info_url", req.BuildInfoURL)
	p.putIf("appversion", names.AppVersion)
	return p
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
