package jenkins

import (
	"encoding/json"
	"net/url"
	"path"
	"slices"
	"strings"

	"github.com/bakehouse/bakehouse"
)

// Phases of the Notification plugin (Phase.java), in the order a build
// goes through them.
const (
	PhaseQueued    = "QUEUED"
	PhaseStarted   = "STARTED"
	PhaseCompleted = "COMPLETED"
	PhaseFinalized = "FINALIZED"
)

// Notification is the Notification plugin's POST about one build.
type Notification struct {
	// Name is the job's short name ("master").
	Name string
	// Job is Igor's name of the job, from the job's URL
	// ("job/a/job/b/" -> "a/job/b"); Name when the URL is missing.
	Job    string
	Number int
	Phase  string
	// Status is the build's result, "" until it has one.
	Status string
	// URL is the build's absolute URL (build.full_url), "" when Jenkins
	// has no root URL configured.
	URL string
	// SCM is what the plugin read from the build's GIT_* variables; any
	// field may be empty.
	SCM struct{ URL, Branch, Commit string }
	// Artifacts are the archived files. The current plugin keys them by
	// relative path, older ones by file name: both give FileName as the
	// last path segment.
	Artifacts []Artifact
}

// ParseNotification reads the body of the Notification plugin's POST
// (JSON format), current and older versions alike.
func ParseNotification(body []byte) (Notification, error) {
	var raw struct {
		Name  *string `json:"name"`
		URL   string  `json:"url"`
		Build *struct {
			Number  *int   `json:"number"`
			Phase   string `json:"phase"`
			Status  string `json:"status"`
			FullURL string `json:"full_url"`
			SCM     struct {
				URL    string `json:"url"`
				Branch string `json:"branch"`
				Commit string `json:"commit"`
			} `json:"scm"`
			Artifacts map[string]struct {
				Archive string `json:"archive"`
			} `json:"artifacts"`
		} `json:"build"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return Notification{}, bakehouse.Invalid("body",
			"the Jenkins notification is not the Notification plugin's JSON: %v; set the endpoint's format to JSON", err)
	}
	switch {
	case raw.Name == nil || *raw.Name == "":
		return Notification{}, bakehouse.Invalid("name", "the Jenkins notification has no job name (name)")
	case raw.Build == nil:
		return Notification{}, bakehouse.Invalid("build", "the Jenkins notification has no build")
	case raw.Build.Number == nil || *raw.Build.Number <= 0:
		return Notification{}, bakehouse.Invalid("build.number", "the Jenkins notification has no build number (build.number)")
	case raw.Build.Phase == "":
		return Notification{}, bakehouse.Invalid("build.phase", "the Jenkins notification has no phase (build.phase)")
	}
	n := Notification{
		Name: *raw.Name, Job: *raw.Name, Number: *raw.Build.Number, Phase: raw.Build.Phase,
		Status: raw.Build.Status, URL: raw.Build.FullURL,
	}
	n.SCM.URL, n.SCM.Branch, n.SCM.Commit = raw.Build.SCM.URL, raw.Build.SCM.Branch, raw.Build.SCM.Commit
	if raw.URL != "" {
		job, err := jobFromURL(raw.URL)
		if err != nil {
			return Notification{}, err
		}
		n.Job = job
	}
	for rel := range raw.Build.Artifacts {
		n.Artifacts = append(n.Artifacts, Artifact{FileName: path.Base(rel), DisplayPath: path.Base(rel), RelativePath: rel})
	}
	slices.SortFunc(n.Artifacts, func(a, b Artifact) int { return strings.Compare(a.RelativePath, b.RelativePath) })
	return n, nil
}

// jobFromURL turns a job's URL relative to Jenkins' root
// ("job/a/job/b/") into Igor's name ("a/job/b").
func jobFromURL(u string) (string, error) {
	parts := strings.Split(strings.Trim(u, "/"), "/")
	if len(parts)%2 != 0 {
		return "", bakehouse.Invalid("url", "the Jenkins notification's job url %q is not job/<name>[/job/<name>...]/", u)
	}
	var names []string
	for i := 0; i < len(parts); i += 2 {
		name, err := url.PathUnescape(parts[i+1])
		if parts[i] != "job" || err != nil || name == "" {
			return "", bakehouse.Invalid("url", "the Jenkins notification's job url %q is not job/<name>[/job/<name>...]/", u)
		}
		names = append(names, name)
	}
	return strings.Join(names, "/job/"), nil
}

// Fires reports whether the notification is about a build that ended
// with SUCCESS: phase COMPLETED or FINALIZED (both are sent for one build;
// pass them through Poller.PollJob so the build fires once).
func (n Notification) Fires() bool {
	return (n.Phase == PhaseCompleted || n.Phase == PhaseFinalized) && n.Status == Success
}
