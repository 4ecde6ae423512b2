package bakehouse

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// PackageType is the OS package format of a base image. It decides how
// package names in a request are parsed and how each is written for the
// package manager.
type PackageType string

const (
	PackageDeb   PackageType = "deb"   // Debian/Ubuntu: name_version-release_arch
	PackageRPM   PackageType = "rpm"   // RedHat/Amazon Linux: name-version-release.arch
	PackageNupkg PackageType = "nupkg" // Chocolatey/NuGet: name.major.minor[-prerelease][+metadata]
)

// ParsePackageType parses a configured packageType. Case is ignored
// because Rosco's configuration binds "DEB" and "deb" alike.
func ParsePackageType(s string) (PackageType, error) {
	switch t := PackageType(strings.ToLower(strings.TrimSpace(s))); t {
	case PackageDeb, PackageRPM, PackageNupkg:
		return t, nil
	}
	return "", fmt.Errorf("unknown package type %q (want deb, rpm or nupkg)", s)
}

// Package is a parsed package name. Fields the name did not carry are
// empty (Rosco's nulls).
type Package struct {
	Name    string
	Version string
	Release string
	Arch    string
}

// separators are the per-type strings Rosco's PackageUtil classes use.
type separators struct {
	install     string // between name and version for the package manager
	version     string // between name and version in the appversion
	buildNumber string // before the build number in the appversion
	commitHash  string // before the commit hash in the appversion
}

func (t PackageType) separators() separators {
	switch t {
	case PackageRPM:
		return separators{install: "-", version: "-", buildNumber: "-h", commitHash: "."}
	case PackageNupkg:
		return separators{install: ".", version: ".", buildNumber: "-", commitHash: "+"}
	default:
		return separators{install: "=", version: "-", buildNumber: "-h", commitHash: "."}
	}
}

// ParsePackage parses one package name by the rules of t, exactly as Rosco
// does, quirks included (an rpm name's last dotted part is always the
// arch; a deb name keeps a ".deb" extension in its arch).
func ParsePackage(t PackageType, s string) Package {
	if s == "" {
		return Package{}
	}
	switch t {
	case PackageRPM:
		return parseRPM(s)
	case PackageNupkg:
		return parseNupkg(s)
	default:
		return parseDeb(s)
	}
}

// ParsePackages splits a space-separated package list and parses each
// name, dropping those that parse to an empty name (Rosco's
// buildOsPackageNames), so they add nothing to the packages variable, the
// image name or the appversion.
func ParsePackages(t PackageType, list string) []Package {
	var out []Package
	for _, tok := range tokenize(list) {
		if p := ParsePackage(t, tok); p.Name != "" {
			out = append(out, p)
		}
	}
	return out
}

// InstallName is how the package is passed to the package manager in the
// "packages" variable: name=version-release for deb, name-version-release
// for rpm, name.version-release for nupkg, the bare name when there is no
// version, and "" for a package with no name (which Rosco drops).
func (p Package) InstallName(t PackageType) string {
	if p.Name == "" {
		return ""
	}
	if p.Version == "" {
		return p.Name
	}
	s := p.Name + t.separators().install + p.Version
	if p.Release != "" {
		s += "-" + p.Release
	}
	return s
}

// AppVersion builds the appversion tag for p from the request's build
// number, commit hash and job, and returns "" unless the result fully
// matches Frigga's AppVersion pattern (Orca and Deck parse the tag with
// it). Commit and job are only used when there is a build number; slashes
// in the job (folder jobs) become hyphens.
func AppVersion(t PackageType, p Package, req BakeRequest) string {
	sep := t.separators()
	s := p.Name
	if p.Version != "" {
		s += sep.version + p.Version
		if req.BuildNumber != "" {
			s += sep.buildNumber + req.BuildNumber
			if req.CommitHash != "" {
				s += sep.commitHash + req.CommitHash
			}
			if req.Job != "" {
				s += "/" + strings.ReplaceAll(req.Job, "/", "-") + "/" + req.BuildNumber
			}
		}
	}
	if !ValidAppVersion(s) {
		return ""
	}
	return s
}

// appVersionPattern is Frigga v0.24.0's AppVersion pattern, anchored
// because Frigga requires a full match. \w is ASCII in both Java and Go.
var appVersionPattern = regexp.MustCompile(
	`^(?:([-a-zA-Z0-9._~^]+)-([0-9.a-zA-Z~]+)-(\w+)(?:[.](\w+))?(?:/([-a-zA-Z0-9._~^]+)/([0-9]+))?)$`)

// ValidAppVersion reports whether s is an appversion Frigga can parse.
func ValidAppVersion(s string) bool { return appVersionPattern.MatchString(s) }

// parseDeb parses name_version-release_arch with Java split semantics.
func parseDeb(s string) Package {
	p := Package{Name: s}
	parts := javaSplit(s, "_")
	if len(parts) > 1 {
		p.Name = parts[0]
		vr := javaSplit(parts[1], "-")
		if len(vr) > 0 { // Java would throw for a version part of only '-'
			p.Version = vr[0]
		}
		if len(vr) > 1 {
			p.Release = vr[1]
		}
		if len(parts) > 2 {
			p.Arch = parts[2]
		}
	}
	return p
}

// parseRPM parses name-version-release.arch; the last '.' piece is taken
// as arch even for an unqualified name such as python3.8.
func parseRPM(s string) Package {
	p := Package{Name: s}
	nameParts := javaSplit(s, ".")
	if n := len(nameParts); n >= 2 {
		s = strings.Join(nameParts[:n-1], ".")
		p.Arch = nameParts[n-1]
	}
	parts := javaSplit(s, "-")
	if n := len(parts); n >= 3 {
		p.Name = strings.Join(parts[:n-2], "-")
		p.Version = parts[n-2]
		p.Release = parts[n-1]
	}
	return p
}

// nupkgExtension is Rosco's replaceFirst(".nupkg", ""): a regular
// expression, so the dot matches any character.
var nupkgExtension = regexp.MustCompile(`.nupkg`)

// parseNupkg parses {name}[.{language}].{major}.{minor}...[-{pre}][+{meta}]
// following Rosco's NupkgPackageUtil step by step.
func parseNupkg(s string) Package {
	if loc := nupkgExtension.FindStringIndex(s); loc != nil {
		s = s[:loc[0]] + s[loc[1]:]
	}
	p := Package{Name: s}
	parts := groovyTokenize(s, ".")
	switch {
	case len(parts) > 2:
		versionStart := 0
		for i := 1; i < len(parts); i++ {
			if groovyIsInteger(parts[i]) {
				versionStart = i
				break
			}
		}
		if versionStart < 1 {
			for i := 1; i < len(parts); i++ {
				if strings.Contains(parts[i], "-") && groovyIsInteger(parts[i][:1]) {
					versionStart = i
					break
				}
			}
		}
		if versionStart > 0 {
			p.Name = strings.Join(parts[:versionStart], ".")
			p.Version = strings.Join(parts[versionStart:], ".")
			if v, r, ok := strings.Cut(p.Version, "-"); ok {
				p.Version, p.Release = v, r
			} else if v, r, ok := strings.Cut(p.Version, "+"); ok {
				p.Version, p.Release = v, "+"+r
			}
			return p
		}
		for i, part := range parts {
			if strings.Contains(part, "+") {
				pieces := javaSplit(part, "+")
				name, meta := "", ""
				if len(pieces) > 0 {
					name = pieces[0]
				}
				if len(pieces) > 1 {
					meta = pieces[1]
				}
				p.Name = strings.Join(parts[:i], ".") + "." + name
				p.Release = "+" + meta
				return p
			}
		}
		p.Name = strings.Join(parts, ".")
	case len(parts) == 2:
		switch {
		case groovyIsInteger(parts[1]):
			p.Name, p.Version = parts[0], parts[1]
		case groovyIsInteger(parts[1][:1]) && strings.Contains(parts[1], "-"):
			p.Name = parts[0]
			p.Version, p.Release, _ = strings.Cut(parts[1], "-")
		default:
			p.Name = strings.Join(parts, ".")
		}
	}
	return p
}

// javaSplit is Java's String.split with a literal separator: trailing
// empty strings are removed, and a string without the separator is
// returned whole.
func javaSplit(s, sep string) []string {
	parts := strings.Split(s, sep)
	if len(parts) == 1 {
		return parts
	}
	for len(parts) > 0 && parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1]
	}
	return parts
}

// groovyTokenize is Groovy's String.tokenize(delims): split on any of the
// delimiter characters, dropping empty tokens.
func groovyTokenize(s, delims string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return strings.ContainsRune(delims, r) })
}

// tokenize is Groovy's String.tokenize() with no argument (Java's
// StringTokenizer default delimiters).
func tokenize(s string) []string { return groovyTokenize(s, " \t\n\r\f") }

// groovyIsInteger is Groovy's CharSequence.isInteger(): the trimmed text
// parses as a 32-bit signed integer.
func groovyIsInteger(s string) bool {
	_, err := strconv.ParseInt(strings.TrimSpace(s), 10, 32)
	return err == nil
}
