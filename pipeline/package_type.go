package pipeline

import (
	"regexp"
	"strings"
)

// PackageType is Orca's PackageType enum: the package format a bake
// installs. Its name is what Orca sends as package_type and writes to the
// stage's context.packageType.
type PackageType string

const (
	DEB   PackageType = "DEB"
	RPM   PackageType = "RPM"
	NUPKG PackageType = "NUPKG"
)

// Ext is the file extension without the dot (deb, rpm, nupkg).
func (t PackageType) Ext() string { return strings.ToLower(string(t)) }

// Delimiter separates a package's name from its version in a file name:
// name_version.deb, name-version-release.rpm, Name.1.2.3.nupkg.
func (t PackageType) Delimiter() string {
	switch t {
	case RPM:
		return "-"
	case NUPKG:
		return "."
	}
	return "_"
}

// ParsePackageType reads an enum name exactly (DEB, RPM, NUPKG), as
// Jackson binds Rosco's base image packageType and Groovy casts
// context.packageType.
func ParsePackageType(s string) (PackageType, bool) {
	switch t := PackageType(s); t {
	case DEB, RPM, NUPKG:
		return t, true
	}
	return "", false
}

var rpmOS = regexp.MustCompile(`^(?:centos|rhel|redhat)$`)

// osPackageType is Orca's deprecated OperatingSystem heuristic, used when
// Rosco's APIs are off: centos, rhel or redhat mean RPM, anything else DEB.
func osPackageType(os string) PackageType {
	if os != "" && rpmOS.MatchString(strings.ToLower(os)) {
		return RPM
	}
	return DEB
}
