package bakehouse

import (
	"strconv"
	"strings"
	"time"
)

// ImageNames are the names Rosco's default (VM) name factory derives from
// a request: the image to create, its appversion tag and the packages
// Packer installs.
type ImageNames struct {
	// ImageName is [ami_name|first package name]-[arch|all]-[ami_suffix|epoch millis]-[base_os],
	// with empty parts left out.
	ImageName string
	// AppVersion is the Frigga appversion of the first package, or "".
	AppVersion string
	// PackagesParameter is the "packages" Packer variable: the install
	// names of the request's packages (not its package_artifacts).
	PackagesParameter string
}

// DefaultImageNames names an AWS (or other VM) image. now replaces the
// timestamp when the request has no ami_suffix; Orca always sends one, so
// in pipelines the name does not depend on the clock.
func DefaultImageNames(t PackageType, req BakeRequest, now time.Time) ImageNames {
	pkgs, naming := requestPackages(t, req)
	return ImageNames{
		ImageName:         defaultImageName(req, naming, now),
		AppVersion:        firstAppVersion(t, naming, req),
		PackagesParameter: PackagesParameter(t, pkgs),
	}
}

// DockerImageNames are the names of a Docker bake. The image is pushed as
// Reference().
type DockerImageNames struct {
	// Image is [organization/](ami_name|first package name).
	Image string
	// Tag is extended_attributes.docker_target_image_tag, else
	// commit_hash, else epoch milliseconds.
	Tag string
	// Repository is docker.bakeryDefaults.targetRepository (may be empty).
	Repository string
	// AppVersion is the Frigga appversion of the first package, else epoch
	// milliseconds.
	AppVersion        string
	PackagesParameter string
}

// Reference is what the shipped docker.json template tags and pushes:
// repository/image:tag, without "repository/" when none is configured.
func (d DockerImageNames) Reference() string {
	ref := d.Image + ":" + d.Tag
	if d.Repository != "" {
		ref = d.Repository + "/" + ref
	}
	return ref
}

// NewDockerImageNames names a Docker image. A request with neither a
// package nor ami_name has nothing to name the image after; Rosco fails
// with a 500 there, Bakehouse with an EINVALID error on "package".
func NewDockerImageNames(t PackageType, req BakeRequest, targetRepository string, now time.Time) (DockerImageNames, error) {
	pkgs, naming := requestPackages(t, req)
	return dockerImageNames(t, req, pkgs, naming, targetRepository, now)
}

// dockerImageNames names a Docker image that installs pkgs after the
// packages in naming (pkgs, then the package_artifacts).
func dockerImageNames(t PackageType, req BakeRequest, pkgs, naming []Package, targetRepository string, now time.Time) (DockerImageNames, error) {
	name := req.AMIName
	if name == "" && len(naming) > 0 {
		name = naming[0].Name
	}
	if name == "" {
		return DockerImageNames{}, Invalid("package",
			"A docker bake needs a name for its image: send at least one package in 'package' or set 'ami_name'.")
	}
	millis := strconv.FormatInt(now.UnixMilli(), 10)
	d := DockerImageNames{
		Image:             joinNonEmpty("/", req.Organization, name),
		Tag:               DockerTag(req),
		Repository:        targetRepository,
		AppVersion:        firstAppVersion(t, naming, req),
		PackagesParameter: PackagesParameter(t, pkgs),
	}
	if d.Tag == "" {
		d.Tag = millis
	}
	if d.AppVersion == "" {
		d.AppVersion = millis
	}
	return d, nil
}

// DockerTag is the tag a Docker bake asks for: the extended attribute
// docker_target_image_tag, else commit_hash, else "" (meaning: the bake
// time in epoch milliseconds).
func DockerTag(req BakeRequest) string {
	if tag := req.ExtendedAttributes["docker_target_image_tag"]; tag != "" {
		return tag
	}
	return req.CommitHash
}

// PackagesParameter joins the install names of pkgs with spaces.
func PackagesParameter(t PackageType, pkgs []Package) string {
	names := make([]string, 0, len(pkgs))
	for _, p := range pkgs {
		names = append(names, p.InstallName(t))
	}
	return strings.Join(names, " ")
}

// requestPackages returns the request's parsed packages (empty names
// dropped) and the list used for naming: those packages followed by the
// parsed names of its package_artifacts (not filtered, as in Rosco).
func requestPackages(t PackageType, req BakeRequest) (pkgs, naming []Package) {
	pkgs = ParsePackages(t, req.Package)
	naming = append([]Package(nil), pkgs...)
	for _, a := range req.PackageArtifacts {
		naming = append(naming, ParsePackage(t, a.Name))
	}
	return pkgs, naming
}

// defaultImageName is Rosco's ImageNameFactory.buildImageName.
func defaultImageName(req BakeRequest, naming []Package, now time.Time) string {
	baseName, arch := "", "all"
	if len(naming) > 0 {
		baseName, arch = naming[0].Name, naming[0].Arch
	}
	if req.AMIName != "" {
		baseName = req.AMIName
	}
	if arch == "" {
		arch = "all"
	}
	release := req.AMISuffix
	if release == "" {
		release = strconv.FormatInt(now.UnixMilli(), 10)
	}
	return joinNonEmpty("-", baseName, arch, release, req.BaseOS)
}

// firstAppVersion is the appversion of the first package, or "".
func firstAppVersion(t PackageType, naming []Package, req BakeRequest) string {
	if len(naming) == 0 {
		return ""
	}
	return AppVersion(t, naming[0], req)
}

// joinNonEmpty joins the non-empty parts with sep (Groovy's
// findAll{it}.join(sep)).
func joinNonEmpty(sep string, parts ...string) string {
	var keep []string
	for _, p := range parts {
		if p != "" {
			keep = append(keep, p)
		}
	}
	return strings.Join(keep, sep)
}
