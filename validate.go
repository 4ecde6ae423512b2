package bakehouse

import (
	"fmt"
	"slices"
	"strings"
)

// Enum values Rosco's BakeRequest accepts (its Java enums, case-sensitive).
var (
	vmTypes    = []string{"hvm", "pv"}
	baseLabels = []string{"release", "candidate", "previous", "unstable", "foundation"}
	storeTypes = []string{"ebs", "s3", "docker"}
)

// validateRequest checks a bake request before it is resolved, keyed or
// queued, so that a bad request is a 400 naming its field instead of a
// failed or (in Rosco) cached bake. It fills a missing cloud_provider_type
// with the configured default, as Rosco's controller does, returns the
// base OS entry it found, and returns the first problem as an *Error with
// Code EINVALID.
//
// Unlike Rosco it requires a package (or package_artifacts, or for docker
// an ami_name), restricts package tokens to characters a package name can
// hold (they end up in an install script), and keeps template and var
// file names inside the template directory.
func validateRequest(region string, req *BakeRequest, cfg Config) (baseOS, error) {
	if err := checkRegion(region); err != nil {
		return baseOS{}, err
	}
	req.CloudProviderType = cfg.ProviderType(*req)
	provider := req.CloudProviderType
	if !cfg.ProviderEnabled(provider) {
		// Rosco's exact text (its API tests expect it); a known but
		// disabled provider is unknown to Rosco too.
		return baseOS{}, Invalid("cloud_provider_type", "Unknown provider type '%s'.", provider)
	}
	base, ok := cfg.lookupBaseOS(provider, req.BaseOS)
	if !ok {
		return baseOS{}, baseOSError(provider, req.BaseOS, cfg)
	}
	if err := checkPackages(provider, req); err != nil {
		return baseOS{}, err
	}
	if err := checkFileName("template_file_name", req.TemplateFileName); err != nil {
		return baseOS{}, err
	}
	if err := checkFileName("var_file_name", req.VarFileName); err != nil {
		return baseOS{}, err
	}
	if err := checkEnum("vm_type", req.VMType, vmTypes); err != nil {
		return baseOS{}, err
	}
	if err := checkEnum("base_label", req.BaseLabel, baseLabels); err != nil {
		return baseOS{}, err
	}
	return base, checkEnum("store_type", req.StoreType, storeTypes)
}

// checkRegion accepts AWS-style region names and docker's "global"; the
// region is part of the key and of Packer variables.
func checkRegion(region string) error {
	if region == "" {
		return Invalid("region", "The region is required: post to /api/v1/{region}/bake with a region such as us-east-1 (docker bakes use 'global').")
	}
	for _, c := range region {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return Invalid("region", "The region %q may only contain lowercase letters, digits and '-', as in us-east-1.", region)
		}
	}
	return nil
}

// baseOSError says why baseOS is not one of provider's: Rosco's sentence,
// then what to send instead.
func baseOSError(provider, baseOS string, cfg Config) error {
	configured := cfg.BaseOSes(provider)
	rosco := fmt.Sprintf("No virtualization settings found for '%s'.", javaString(baseOS))
	switch {
	case len(configured) == 0:
		return Invalid("base_os", "%s No base OS is configured for %s: add one under %s.bakeryDefaults.baseImages.", rosco, provider, provider)
	case baseOS == "":
		return Invalid("base_os", "%s The base_os is required; base OSes configured for %s: %s.", rosco, provider, strings.Join(configured, ", "))
	}
	return Invalid("base_os", "%s The base_os '%s' is not configured for %s; use one of: %s.", rosco, baseOS, provider, strings.Join(configured, ", "))
}

// checkPackages requires something to install or name the image after,
// and checks every package token.
func checkPackages(provider string, req *BakeRequest) error {
	tokens := tokenize(req.Package)
	if len(tokens) == 0 && len(req.PackageArtifacts) == 0 {
		if provider != "docker" {
			return Invalid("package", "The package list is empty: list the packages to install, separated by spaces, or send package_artifacts.")
		}
		if req.AMIName == "" {
			return Invalid("package", "The package list is empty: list the packages to install, separated by spaces, or set ami_name to name the docker image.")
		}
	}
	for _, tok := range tokens {
		if err := checkPackageToken(tok); err != nil {
			return err
		}
	}
	return nil
}

// shellMetacharacters are named as such in messages, because they are the
// characters that would matter if a token reached a shell.
const shellMetacharacters = "|&;<>()$`\\\"'*?[]#!{}"

// checkPackageToken allows [A-Za-z0-9._+~:=-], starting with a letter or
// digit: enough for name=version-release, name-version-release.arch and
// nupkg names, and never an option (a leading '-') or shell syntax.
func checkPackageToken(tok string) error {
	const allowed = "letters, digits and . _ + ~ : = -"
	for _, c := range tok {
		if isAlnum(c) || strings.ContainsRune("._+~:=-", c) {
			continue
		}
		if strings.ContainsRune(shellMetacharacters, c) {
			return Invalid("package", "The package %q contains the shell metacharacter %q; package names may only contain %s.", tok, c, allowed)
		}
		return Invalid("package", "The package %q contains %q; package names may only contain %s.", tok, c, allowed)
	}
	if c := rune(tok[0]); !isAlnum(c) {
		return Invalid("package", "The package %q must start with a letter or digit (a leading %q could be read as an option).", tok, c)
	}
	return nil
}

func isAlnum(c rune) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// checkFileName keeps template_file_name and var_file_name plain names,
// since they are joined to rosco.configDir and passed to Packer.
func checkFileName(field, name string) error {
	if name == "" {
		return nil
	}
	if strings.ContainsAny(name, "/\\") || strings.Contains(name, "..") {
		return Invalid(field, "The %s %q must be a plain file name without '/', '\\' or '..': templates come only from the template directory (rosco.configDir).", field, name)
	}
	return nil
}

// checkEnum accepts an empty value (the default applies) or one of values.
func checkEnum(field, value string, values []string) error {
	if value == "" || slices.Contains(values, value) {
		return nil
	}
	return Invalid(field, "The %s %q is not valid; use %s.", field, value, orList(values))
}

// orList renders values as "a, b or c".
func orList(values []string) string {
	if len(values) == 1 {
		return values[0]
	}
	return fmt.Sprintf("%s or %s", strings.Join(values[:len(values)-1], ", "), values[len(values)-1])
}
