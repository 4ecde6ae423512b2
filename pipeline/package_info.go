package pipeline

import (
	"regexp"
	"strings"
)

// PackageInfo is Orca's package resolution for a bake: the Bake stage
// names packages by base name ("armory-hello-deploy") and PackageInfo
// turns each into the exact build the pipeline produced
// ("armory-hello-deploy_0.5.0-h5.c4baff4_all"), looking in the execution's
// artifact pool, the stage's (or the nearest upstream stage's) buildInfo
// and the trigger's (or a parent pipeline's trigger's) buildInfo.
type PackageInfo struct {
	Type PackageType
	// ExtractBuildDetails adds the build's url, host, job, number and
	// commit to the result (bakery.extractBuildDetails, default true).
	ExtractBuildDetails bool
	// ExtractVersion adds packageVersion; the bake path leaves it off.
	ExtractVersion bool
	// AllowMissingPackageInstallation sends a name that matches nothing as
	// it is instead of failing (bakery.allowMissingPackageInstallation,
	// default false).
	AllowMissingPackageInstallation bool
}

// FindTargetPackage returns a copy of s's context with "package"
// rewritten to the resolved packages (space-separated, in the stage's
// order) and the build details added; pool is ArtifactPool(e). Only a
// PIPELINE execution is resolved; an orchestration's context comes back
// as it is. Errors are *UserError with Orca's messages word for word.
func (p PackageInfo) FindTargetPackage(e *Execution, s *Stage, pool []map[string]any) (map[string]any, error) {
	ctx := copyMap(s.Context)
	if !e.isPipeline() {
		return ctx, nil
	}
	trigger := e.Trigger
	if trigger == nil {
		trigger = map[string]any{}
	}
	var build map[string]any
	if bi := ctx["buildInfo"]; bi != nil { // built as part of this pipeline
		m, ok := bi.(map[string]any)
		if !ok {
			return nil, illegalArgument("buildInfo must be an object, not %s", javaString(bi))
		}
		build = m
	}
	if build == nil || len(asList(build["artifacts"])) > 0 {
		patterns := p.filePatterns(ctx)
		up := findAncestor(s, e, func(a *Stage) bool {
			bi := asMap(a.Outputs["buildInfo"])
			return bi != nil && artifactMatch(bi["artifacts"], patterns)
		})
		if up != nil {
			build = asMap(up.Outputs["buildInfo"])
		}
	}
	if build == nil {
		build = map[string]any{}
	}
	return p.augment(trigger, build, ctx, pool)
}

// filePatterns are the patterns an upstream stage's archived files are
// matched with: <name>.*\.<ext>, whole file name, one per requested name.
// A name is a regular expression to Orca; one Go cannot compile is
// matched literally.
func (p PackageInfo) filePatterns(ctx map[string]any) []*regexp.Regexp {
	v, ok := ctx["package"]
	if !ok || v == nil {
		return nil
	}
	var out []*regexp.Regexp
	for _, name := range javaSplit(javaString(v), " ") {
		re, err := regexp.Compile(`^(?:` + name + `.*\.` + p.Type.Ext() + `)$`)
		if err != nil {
			re = regexp.MustCompile(`^` + regexp.QuoteMeta(name) + `.*\.` + p.Type.Ext() + `$`)
		}
		out = append(out, re)
	}
	return out
}

func artifactMatch(artifacts any, patterns []*regexp.Regexp) bool {
	for _, a := range asList(artifacts) {
		name := javaString(asMap(a)["fileName"])
		for _, re := range patterns {
			if re.MatchString(name) {
				return true
			}
		}
	}
	return false
}

var urlPackage = regexp.MustCompile(`^\b(?:https?|ssh)://.*$`)

// TriggerBuildInfo is the buildInfo PackageInfo reads from the trigger:
// the first, walking trigger -> parentExecution.trigger -> ..., that has
// an "artifacts" key; {} when none has.
func TriggerBuildInfo(trigger map[string]any) map[string]any {
	for depth := 0; trigger != nil && depth <= maxParentDepth; depth++ {
		bi := asMap(trigger["buildInfo"])
		if bi != nil && bi["artifacts"] != nil {
			return bi
		}
		trigger = asMap(asMap(trigger["parentExecution"])["trigger"])
	}
	return map[string]any{}
}

func (p PackageInfo) augment(trigger, build, ctx map[string]any, pool []map[string]any) (map[string]any, error) {
	triggerBuild := TriggerBuildInfo(trigger)
	triggerArtifacts := objects(triggerBuild["artifacts"])
	buildArtifacts := objects(build["artifacts"])

	pkg, ok := ctx["package"]
	if !ok || pkg == nil || pkg == "" || urlPackage.MatchString(javaString(pkg)) {
		return ctx, nil
	}
	if len(build) == 0 || len(buildArtifacts) == 0 {
		parentBuild := asMap(asMap(trigger["parentExecution"])["trigger"])["buildInfo"] != nil
		if len(triggerArtifacts) == 0 && (trigger["buildInfo"] != nil || parentBuild) && len(pool) == 0 {
			return nil, illegalState("CI job detected, but no artifacts found. Please archive the packages in your job and try again.")
		}
	}
	if len(buildArtifacts) == 0 && len(triggerArtifacts) == 0 && len(pool) == 0 {
		return ctx, nil
	}

	delim, ext := p.Type.Delimiter(), "."+p.Type.Ext()
	var missing []string
	names := javaSplit(javaString(pkg), " ")
	for i, name := range names {
		prefix := name + delim
		kork := p.korkArtifact(pool, name)
		trig := p.filterArtifacts(triggerArtifacts, prefix, ext)
		built := p.filterArtifacts(buildArtifacts, prefix, ext)

		// only one build of a package per pipeline
		if trig != nil && built != nil && javaString(trig["fileName"]) != javaString(built["fileName"]) {
			// Orca reads the trigger artifact's "filename" (sic): null.
			return nil, illegalState("Found build artifact in both Jenkins stage (%s) and Pipeline Trigger (%s)",
				javaString(built["fileName"]), javaString(trig["filename"]))
		}
		kv := javaString(kork["version"])
		if trig != nil && kork != nil && p.version(trig, prefix, ext) != kv {
			return nil, illegalState("Found build artifact in both Pipeline Trigger (%s) and produced artifacts (%s%s%s)",
				javaString(trig["filename"]), kv, delim, kv)
		}
		if built != nil && kork != nil && p.version(built, prefix, ext) != kv {
			return nil, illegalState("Found build artifact in both Jenkins stage (%s%s%s) and produced artifacts (%s)",
				kv, delim, kv, javaString(built["fileName"]))
		}

		identifier, version := "", ""
		found := true
		switch {
		case kork != nil:
			identifier, version = javaString(kork["name"])+delim+kv, kv
		case built != nil:
			identifier, version = identifierOf(built, ext), p.version(built, prefix, ext)
		case trig != nil:
			identifier, version = identifierOf(trig, ext), p.version(trig, prefix, ext)
		default:
			found = false
			missing = append(missing, prefix)
		}
		if !found {
			continue // passed to the bakery as it is, if allowed
		}
		if p.ExtractVersion {
			ctx["packageVersion"] = version
		}
		names[i] = identifier
		if p.ExtractBuildDetails {
			details := triggerBuild
			if built != nil {
				details = build
			}
			ExtractBuildDetails(details, ctx)
		}
	}
	if len(missing) > 0 && !p.AllowMissingPackageInstallation {
		fileNames := make([]any, len(triggerArtifacts))
		for i, a := range triggerArtifacts {
			fileNames[i] = a["fileName"]
		}
		return nil, illegalState("Unable to find deployable artifact starting with %s and ending with %s in %s and %s. "+
			"Make sure your deb package file name complies with the naming convention: name_version-release_arch.",
			javaString(missing), ext, javaString(asList(build["artifacts"])), javaString(fileNames))
	}
	ctx["package"] = strings.Join(names, " ")
	return ctx, nil
}

// korkArtifact is the first pool artifact named exactly name whose type
// is the package type, ignoring case.
func (p PackageInfo) korkArtifact(pool []map[string]any, name string) map[string]any {
	for _, a := range pool {
		if n, ok := a["name"].(string); ok && n == name && strings.EqualFold(str(a["type"]), p.Type.Ext()) {
			return a
		}
	}
	return nil
}

// filterArtifacts is the first archived file of this package: for deb and
// nupkg its name starts with prefix and ends with ext; for rpm, the file
// name without its last two '-' parts (version, release.arch.rpm) is the
// package name.
func (p PackageInfo) filterArtifacts(artifacts []map[string]any, prefix, ext string) map[string]any {
	for _, a := range artifacts {
		if a["fileName"] == nil {
			continue
		}
		name := javaString(a["fileName"])
		if p.Type == RPM {
			parts := javaSplit(name, "-")
			if len(parts) >= 3 && strings.Join(parts[:len(parts)-2], "-")+"-" == prefix {
				return a
			}
			continue
		}
		if strings.HasPrefix(name, prefix) && strings.HasSuffix(name, ext) {
			return a
		}
	}
	return nil
}

// identifierOf is the file name without its extension: the package name
// plus all its version information, architecture included.
func identifierOf(a map[string]any, ext string) string {
	name := javaString(a["fileName"])
	if i := strings.LastIndex(name, ext); i >= 0 {
		return name[:i]
	}
	return name
}

var rpmSuffix = regexp.MustCompile(`.rpm`) // Orca's replaceAll(".rpm", ""): '.' is any character

// version is the package version in an archived file name: after
// <name><delimiter>, before the extension, cut at the next delimiter for
// deb (the architecture); for rpm the last two '-' parts.
func (p PackageInfo) version(a map[string]any, prefix, ext string) string {
	name := javaString(a["fileName"])
	if p.Type == RPM {
		parts := javaSplit(name, "-")
		if len(parts) < 2 {
			return name
		}
		return parts[len(parts)-2] + "-" + rpmSuffix.ReplaceAllString(parts[len(parts)-1], "")
	}
	start := strings.Index(name, prefix)
	end := strings.LastIndex(name, ext)
	if start < 0 || end < start+len(prefix) {
		return ""
	}
	v := name[start+len(prefix) : end]
	if d := p.Type.Delimiter(); p.Type != NUPKG && strings.Contains(v, d) {
		v = v[:strings.Index(v, d)]
	}
	return v
}
