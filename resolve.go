package bakehouse

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Resolved is a bake request resolved once against the configuration:
// every fact that the recipe, the image names and the bake key read,
// looked up in one place. Everything after Resolve computes from it and
// looks nothing up again, so the provider, the base OS entry and the
// package versions cannot differ between the key and the command line.
type Resolved struct {
	Region string
	// Request is the request as sent, with cloud_provider_type filled in.
	Request  BakeRequest
	Provider string
	// VMType is the request's vm_type or the configured default.
	VMType string
	// BaseImage is the configured entry of the request's base_os.
	BaseImage   BaseImage
	PackageType PackageType
	// AWS are the virtualization settings of the base OS for the region
	// and VM type, SourceAMI resolved to an AMI id (aws only).
	AWS AWSVirtualizationSettings
	// SourceImage is the resolved base: the source AMI id or docker image.
	SourceImage string
	// Packages are the request's packages, parsed, with the versions
	// found by Lookups.PackageVersion pinned; empty names dropped.
	Packages []Package
	// PlanPackages are the same packages as a plan shows them.
	PlanPackages []PlanPackage
	// Warnings are about inputs a reuse could silently get wrong.
	Warnings []string
	// ArtifactNames are the parsed names of package_artifacts: they name
	// the image (as in Rosco) but are not installed from the repository.
	ArtifactNames []Package
	// TemplateName is the template file name (request, base OS or
	// provider default); TemplateFile and VarFile are the paths in
	// rosco.configDir ("" for no var file).
	TemplateName, TemplateFile, VarFile string
	// TemplateSetting names where TemplateName came from (a config key,
	// or the request's template_file_name), so that an error about a
	// missing template says what to change.
	TemplateSetting string
	// MaskedParameters are the Packer parameters whose values are secrets.
	MaskedParameters []string

	cfg Config
}

// Lookups are the facts from outside that resolving a request may need;
// the caller supplies them so this package does no I/O. Nil functions
// find nothing.
type Lookups struct {
	// FindImages searches images by name, for a source AMI configured or
	// requested by name rather than id.
	FindImages ImageFinder
	// PackageVersion returns the version and architecture the bakery's
	// own repository would install for name, or ok=false when it does not
	// hold the package.
	PackageVersion func(name string) (version, arch string, ok bool)
}

// Resolve validates req (see validateRequest) and resolves it against cfg
// for region. Errors about the request are *Error with Code EINVALID, the
// field at fault and, where Rosco has one, Rosco's message first.
func Resolve(region string, req BakeRequest, cfg Config, look Lookups) (*Resolved, error) {
	base, err := validateRequest(region, &req, cfg)
	if err != nil {
		return nil, err
	}
	t, err := ParsePackageType(base.image.PackageType)
	if err != nil {
		return nil, Errorf(EINTERNAL, "base image %q: %v", base.image.ID, err)
	}
	r := &Resolved{
		Region:           region,
		Request:          req,
		Provider:         req.CloudProviderType,
		VMType:           cfg.VMType(req),
		BaseImage:        base.image,
		PackageType:      t,
		MaskedParameters: cfg.MaskedParameters(),
		cfg:              cfg,
	}
	switch r.Provider {
	case "aws":
		if err := r.resolveAWS(base.aws, look.FindImages); err != nil {
			return nil, err
		}
	case "docker":
		r.SourceImage = base.docker.SourceImage
		if req.BaseAMI != "" {
			r.SourceImage = req.BaseAMI
		}
	}
	r.resolvePackages(look.PackageVersion)
	for _, a := range req.PackageArtifacts {
		r.ArtifactNames = append(r.ArtifactNames, ParsePackage(t, a.Name))
	}
	r.TemplateName = cfg.templateFile(r.Provider)
	r.TemplateSetting = r.Provider + ".bakeryDefaults.templateFile"
	if base.image.TemplateFile != "" {
		r.TemplateName = base.image.TemplateFile
		r.TemplateSetting = r.Provider + ".bakeryDefaults.baseImages[id=" + base.image.ID + "].baseImage.templateFile"
	}
	if req.TemplateFileName != "" {
		r.TemplateName = req.TemplateFileName
		r.TemplateSetting = "template_file_name"
	}
	r.TemplateFile = inConfigDir(cfg.Rosco.ConfigDir, r.TemplateName)
	if req.VarFileName != "" {
		r.VarFile = inConfigDir(cfg.Rosco.ConfigDir, req.VarFileName)
	}
	return r, nil
}

// amiID is what Rosco accepts as an AMI id; anything else is a name to
// search for.
var amiID = regexp.MustCompile(`^ami-[a-z0-9]+$`)

// resolveAWS finds the virtualization settings for the region and VM type
// and the source AMI (AWSBakeHandler.findVirtualizationSettings).
func (r *Resolved) resolveAWS(settings []AWSVirtualizationSettings, find ImageFinder) error {
	req := r.Request
	var vs *AWSVirtualizationSettings
	regionKnown := false
	for i := range settings {
		s := &settings[i]
		if s.Region == r.Region {
			regionKnown = true
			if s.VirtualizationType == r.VMType {
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
		return Invalid(field,
			"No virtualization settings found for region '%s', operating system '%s', and vm type '%s'.",
			r.Region, req.BaseOS, r.VMType)
	}
	r.AWS = *vs
	if req.BaseAMI != "" {
		r.AWS.SourceAMI = req.BaseAMI
	}
	if r.AWS.SourceAMI == "" {
		// Rosco's lookupBaseByDynamicProperty: a base per label.
		r.AWS.SourceAMI = r.cfg.AWS.LabeledBase(req.BaseOS, r.VMType, req.BaseLabel, r.Region)
	}
	if r.AWS.SourceAMI != "" && !amiID.MatchString(r.AWS.SourceAMI) {
		if find == nil {
			return Errorf(EINTERNAL, "source image %q is a name, and no image finder is configured to resolve it", r.AWS.SourceAMI)
		}
		images, err := find(r.AWS.SourceAMI, r.Region, req.AccountName)
		if err != nil {
			return fmt.Errorf("find source image %q: %w", r.AWS.SourceAMI, err)
		}
		r.AWS.SourceAMI = SelectSourceAMI(images, r.Region, r.VMType, r.AWS.MostRecent)
	}
	if r.AWS.SourceAMI == "" {
		return Invalid("base_ami",
			"No base image found for os '%s', vm type '%s', region '%s', label: '%s', account: '%s'",
			req.BaseOS, r.VMType, r.Region, javaString(req.BaseLabel), javaString(req.AccountName))
	}
	r.SourceImage = r.AWS.SourceAMI
	return nil
}

// resolvePackages parses the package list and pins each package named
// without a version to the version the bakery's repository would install,
// so that a new release changes the key instead of silently reusing an
// old image. Only docker bakes install from that repository (it is
// mounted into the build container); elsewhere the configured
// repositories decide, which Bakehouse cannot see, and an unversioned
// package gets a warning.
func (r *Resolved) resolvePackages(version func(name string) (string, string, bool)) {
	pinning := version != nil && r.PackageType == PackageDeb && r.Provider == "docker"
	for _, pk := range ParsePackages(r.PackageType, r.Request.Package) {
		pp := PlanPackage{Name: pk.Name, Version: pk.Version, Release: pk.Release, Arch: pk.Arch}
		if pk.Version == "" && pinning {
			if v, arch, ok := version(pk.Name); ok {
				// Parsed as the pinned token, so that it reads as if the
				// request had named it.
				pk = ParsePackage(r.PackageType, pk.Name+"_"+v+"_"+arch)
				ver, rel := splitDebVersion(v)
				pp = PlanPackage{Name: pk.Name, Version: ver, Release: rel, Arch: arch, Resolved: true}
			}
		}
		if pk.Version == "" && !pp.Resolved {
			r.Warnings = append(r.Warnings, fmt.Sprintf("package %s has no version and Bakehouse cannot resolve it here: a bake reused for it may hold an older release (name the version, or rebake=1 forces a new bake)", pk.Name))
		}
		r.PlanPackages = append(r.PlanPackages, pp)
		r.Packages = append(r.Packages, pk)
	}
}

// splitDebVersion splits a Debian version into Rosco's version and release
// (upstream version and Debian revision).
func splitDebVersion(v string) (version, release string) {
	if i := strings.LastIndex(v, "-"); i >= 0 {
		return v[:i], v[i+1:]
	}
	return v, ""
}

// RoscoKey is the request's Rosco bake key (see RoscoBakeKey).
func (r *Resolved) RoscoKey() string {
	return roscoBakeKey(r.Region, r.Request, r.Provider, r.VMType)
}

// KeyExtras are the inputs of the bake that Rosco's key misses and that
// follow from the resolution: extended attributes, upgrade, the docker
// organization and requested tag, the packages with their resolved
// versions and the source image. A caller that reads the template or
// identifies the source image more precisely fills those in.
//
// Extended attributes that are masked parameters enter masked: a
// credential does not change the image, and the key is shown and stored,
// so it must not carry (a hash of) a secret.
func (r *Resolved) KeyExtras() KeyExtras {
	req := r.Request
	x := KeyExtras{
		ExtendedAttributes: MaskAttributes(req.ExtendedAttributes, r.MaskedParameters),
		Upgrade:            req.Upgrade != nil && *req.Upgrade,
		BaseImage:          r.SourceImage,
	}
	if r.Provider == "docker" {
		x.Organization = req.Organization
		x.DockerTag = DockerTag(req)
	}
	for _, p := range r.PlanPackages {
		x.ResolvedPackages = append(x.ResolvedPackages, p.Name+"="+p.Version+"-"+p.Release+":"+p.Arch)
	}
	return x
}

// needsRoot reports whether Packer runs under sudo for the template.
func (r *Resolved) needsRoot() bool {
	return slices.Contains(r.cfg.TemplatesNeedingRoot, r.TemplateName)
}
