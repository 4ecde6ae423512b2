package pipeline

import (
	"fmt"
	"regexp"
	"strings"
)

// ExtractBuildDetails is Orca's BuildDetailExtractor: it adds the Jenkins
// build's buildInfoUrl, buildHost, job, buildNumber and commitHash to
// request (a bake stage's context copy), which the bakery turns into the
// image's build_host/job/build_number/commit_hash tags. It reports
// whether anything was added.
//
// The default extractor needs url, name and a number > 0 and keeps
// buildNumber an integer; failing that, the legacy one parses
// <scheme>//<host>/job/<job>/<n>/ from the url and gives buildNumber as a
// string. Orca keeps those types, and so does this.
func ExtractBuildDetails(buildInfo map[string]any, request map[string]any) bool {
	if buildInfo == nil || request == nil {
		return false
	}
	b, ok := jenkinsBuildInfoFrom(buildInfo)
	if !ok {
		return false // Orca's conversion to JenkinsBuildInfo failed: no details
	}
	add := map[string]any{}
	switch {
	case b.url != nil && b.name != nil && b.number > 0:
		add["buildInfoUrl"] = *b.url
		add["job"] = *b.name
		add["buildNumber"] = b.number
		if parts := javaSplitRe(*b.url, slashes); len(parts) >= 5 {
			add["buildHost"] = fmt.Sprintf("%s//%s/", parts[0], parts[1])
		}
	case b.url != nil:
		parts := javaSplitRe(*b.url, slashes)
		if len(parts) < 5 {
			return false
		}
		add["buildInfoUrl"] = *b.url
		add["buildHost"] = fmt.Sprintf("%s//%s/", parts[0], parts[1])
		add["job"] = strings.Join(parts[3:len(parts)-1], "/")
		add["buildNumber"] = parts[len(parts)-1]
	default:
		return false
	}
	if c := b.commitHash(); c != nil {
		add["commitHash"] = *c
	}
	for k, v := range add {
		request[k] = v
	}
	return true
}

var slashes = regexp.MustCompile(`/+`)

type scmEntry struct {
	branch *string
	sha1   *string
}

type jenkinsBuildInfo struct {
	name, url *string
	number    int
	scm       []scmEntry
}

// jenkinsBuildInfoFrom binds the fields the extractors read as Jackson
// binds Orca's JenkinsBuildInfo; ok is false where Jackson would fail.
func jenkinsBuildInfoFrom(m map[string]any) (jenkinsBuildInfo, bool) {
	var b jenkinsBuildInfo
	opt := func(v any) (*string, bool) {
		if v == nil {
			return nil, true
		}
		s, ok := asString(v)
		return &s, ok
	}
	var ok bool
	if b.name, ok = opt(m["name"]); !ok {
		return b, false
	}
	if b.url, ok = opt(m["url"]); !ok {
		return b, false
	}
	if b.number, ok = toInt(m["number"]); !ok {
		return b, false
	}
	if m["scm"] != nil {
		l := asList(m["scm"])
		if l == nil {
			return b, false
		}
		for _, e := range l {
			em, isMap := e.(map[string]any)
			if !isMap {
				return b, false
			}
			var s scmEntry
			if s.branch, ok = opt(em["branch"]); !ok {
				return b, false
			}
			if s.sha1, ok = opt(em["sha1"]); !ok {
				return b, false
			}
			b.scm = append(b.scm, s)
		}
	}
	return b, true
}

// commitHash prefers, among two or more scm entries, the first on a
// branch other than master and develop; else the first entry's sha1.
func (b jenkinsBuildInfo) commitHash() *string {
	var c *string
	if len(b.scm) >= 2 {
		for _, s := range b.scm {
			if s.branch == nil || (*s.branch != "master" && *s.branch != "develop") {
				c = s.sha1
				break
			}
		}
	}
	if (c == nil || *c == "") && len(b.scm) > 0 {
		c = b.scm[0].sha1
	}
	return c
}
