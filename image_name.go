package bakehouse

import (
	"strconv"
	"strings"
	"time"
)

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
	AppVersion string
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

// dockerImageNames names a Docker image after the packages in naming (the
// installed packages, then the package_artifacts). A request with nothing
// to name the image after fails here: Rosco with a 500, Bakehouse with an
// EINVALID error on "package".
func dockerImageNames(t PackageType, req BakeRequest, naming []Package, targetRepository string, now time.Time) (DockerImageNames, error) {
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
		Image:      joinNonEmpty("/", req.Organization, name),
		Tag:        DockerTag(req),
		Repository: targetRepository,
		AppVersion: firstAppVersion(t, naming, req),
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
