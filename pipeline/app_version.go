package pipeline

import (
	"regexp"
	"strings"
)

// appVersion is Frigga's AppVersion: the appversion tag a bake puts on
// its image, <package>-<version>-h<build>.<commit>/<job>/<build>.
type appVersion struct {
	packageName, version, buildJobName, buildNumber, commit string
}

// appVersionPattern is Frigga v0.24.0's pattern (the one kork pins),
// anchored because Frigga needs a full match; \w is ASCII in both Java
// and Go.
var appVersionPattern = regexp.MustCompile(
	`^(?:([-a-zA-Z0-9._~^]+)-([0-9.a-zA-Z~]+)-(\w+)(?:[.](\w+))?(?:/([-a-zA-Z0-9._~^]+)/([0-9]+))?)$`)

// parseAppVersion is Frigga's AppVersion.parseName: the build number is
// the part after 'h' (Hudson) of whichever of the third and fourth parts
// starts with it, the commit the other.
func parseAppVersion(s string) (appVersion, bool) {
	g := appVersionPattern.FindStringSubmatch(s)
	if g == nil {
		return appVersion{}, false
	}
	av := appVersion{packageName: g[1], version: g[2], buildJobName: g[5]}
	build, commit := g[4], g[3]
	if strings.HasPrefix(g[3], "h") {
		build, commit = g[3], g[4]
	}
	if build != "" {
		av.buildNumber = build[1:]
	}
	av.commit = commit
	return av, true
}
