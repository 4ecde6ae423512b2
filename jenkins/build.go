package jenkins

import (
	"strconv"
	"strings"
)

// Results of a completed build, as Jenkins names them (hudson.model.Result).
const (
	Success  = "SUCCESS"
	Unstable = "UNSTABLE"
	Failure  = "FAILURE"
	NotBuilt = "NOT_BUILT"
	Aborted  = "ABORTED"
)

// Build is one run of a job as Jenkins reports it.
type Build struct {
	// Job is Igor's name of the job (folders joined by "/job/").
	Job    string
	Number int
	// URL is the build's absolute URL as Jenkins gives it (its root URL
	// setting decides the host).
	URL string
	// Timestamp is the start, in milliseconds since the epoch; Duration
	// is in milliseconds and 0 while the build runs.
	Timestamp int64
	Duration  int64
	// Result is one of the constants above, or "" while Building.
	Result          string
	Building        bool
	FullDisplayName string
	// Artifacts and SCM are filled by Client.Build only.
	Artifacts []Artifact
	SCM       []SCM
}

// Artifact is an archived file of a build.
type Artifact struct {
	FileName     string `json:"fileName"`
	DisplayPath  string `json:"displayPath"`
	RelativePath string `json:"relativePath"`
}

// SCM is a git revision a build was made from, as Igor derives it from the
// git plugin's actions: Name is the full ref, Branch its last path
// segment.
type SCM struct {
	Name      string `json:"name,omitempty"`
	Branch    string `json:"branch,omitempty"`
	SHA1      string `json:"sha1,omitempty"`
	RemoteURL string `json:"remoteUrl,omitempty"`
}

// apiBuild is a build as Jenkins' JSON API writes it.
type apiBuild struct {
	Number          int         `json:"number"`
	URL             string      `json:"url"`
	Timestamp       int64       `json:"timestamp"`
	Duration        int64       `json:"duration"`
	Result          *string     `json:"result"`
	Building        bool        `json:"building"`
	FullDisplayName string      `json:"fullDisplayName"`
	Artifacts       []Artifact  `json:"artifacts"`
	Actions         []apiAction `json:"actions"`
}

// apiAction is the part of a build action the git plugin fills: BuildData
// (lastBuiltRevision, before git plugin 4.0) or BuildDetails
// (build.revision, from 4.0).
type apiAction struct {
	LastBuiltRevision *apiRevision `json:"lastBuiltRevision"`
	Build             *struct {
		Revision *apiRevision `json:"revision"`
	} `json:"build"`
	RemoteURLs []string `json:"remoteUrls"`
}

type apiRevision struct {
	Branch []struct {
		SHA1 string `json:"SHA1"`
		Name string `json:"name"`
	} `json:"branch"`
}

func (a apiBuild) build(job string) Build {
	b := Build{
		Job: job, Number: a.Number, URL: a.URL, Timestamp: a.Timestamp, Duration: a.Duration,
		Building: a.Building, FullDisplayName: a.FullDisplayName, Artifacts: a.Artifacts,
		SCM: scmOf(a.Actions),
	}
	if a.Result != nil {
		b.Result = *a.Result
	}
	return b
}

// scmOf derives a build's git revisions as Igor's ScmDetails does: each
// action's lastBuiltRevision, else its build.revision; one entry per
// branch with a name, Branch the name's last path segment; a revision
// (by SHA1) reported in both places or by two actions is kept once.
func scmOf(actions []apiAction) []SCM {
	var out []SCM
	for _, a := range actions {
		rev := a.LastBuiltRevision
		if rev == nil && a.Build != nil {
			rev = a.Build.Revision
		}
		if rev == nil {
			continue
		}
		remote := ""
		if len(a.RemoteURLs) > 0 {
			remote = a.RemoteURLs[0]
		}
		for _, br := range rev.Branch {
			if br.Name == "" {
				continue
			}
			dup := false
			for _, s := range out {
				dup = dup || s.SHA1 == br.SHA1
			}
			if dup {
				continue
			}
			out = append(out, SCM{Name: br.Name, Branch: br.Name[strings.LastIndex(br.Name, "/")+1:],
				SHA1: br.SHA1, RemoteURL: remote})
		}
	}
	return out
}

// BuildInfo is a trigger's buildInfo: the build as Igor serves it to Orca
// (GenericBuild from GET /builds/status/{n}/{master}/{job}), which is what
// Orca's PackageInfo and the pipeline's expressions read.
type BuildInfo struct {
	Building        bool   `json:"building"`
	FullDisplayName string `json:"fullDisplayName,omitempty"`
	// Name is the job, in Igor's form.
	Name     string `json:"name"`
	Number   int    `json:"number"`
	Duration int64  `json:"duration"`
	// Timestamp is the start in epoch milliseconds, as a string as Igor
	// writes it.
	Timestamp string `json:"timestamp"`
	// Result is omitted while the build runs (Igor's null).
	Result    string              `json:"result,omitempty"`
	Artifacts []BuildInfoArtifact `json:"artifacts,omitempty"`
	URL       string              `json:"url"`
	// ID is Igor's "<job>-<number>".
	ID  string `json:"id"`
	SCM []SCM  `json:"scm,omitempty"`
}

// BuildInfoArtifact is an artifact as Igor's GenericArtifact writes a
// Jenkins file: the three Jenkins fields, plus the job as name, the build
// number as version and the relative path as reference.
type BuildInfoArtifact struct {
	FileName     string `json:"fileName"`
	DisplayPath  string `json:"displayPath"`
	RelativePath string `json:"relativePath"`
	Reference    string `json:"reference"`
	Name         string `json:"name"`
	Type         string `json:"type"`
	Version      string `json:"version"`
	Decorated    bool   `json:"decorated"`
}

// BuildInfo returns b as a trigger's buildInfo. Give it a Build from
// Client.Build, which carries the artifacts and SCM details.
func (b Build) BuildInfo() BuildInfo {
	bi := BuildInfo{
		Building: b.Building, FullDisplayName: b.FullDisplayName, Name: b.Job, Number: b.Number,
		Duration: b.Duration, Timestamp: strconv.FormatInt(b.Timestamp, 10), Result: b.Result,
		URL: b.URL, ID: b.Job + "-" + strconv.Itoa(b.Number), SCM: b.SCM,
	}
	for _, a := range b.Artifacts {
		bi.Artifacts = append(bi.Artifacts, BuildInfoArtifact{
			FileName: a.FileName, DisplayPath: a.DisplayPath, RelativePath: a.RelativePath,
			Reference: a.RelativePath, Name: b.Job, Type: "jenkins/file", Version: strconv.Itoa(b.Number),
		})
	}
	return bi
}
