package jenkinstest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// Java classes written as "_class", as Jenkins does.
const (
	classRoot      = "hudson.model.Hudson"
	classFolder    = "com.cloudbees.hudson.plugins.folder.Folder"
	classJob       = "hudson.model.FreeStyleProject"
	classBuild     = "hudson.model.FreeStyleBuild"
	classCause     = "hudson.model.CauseAction"
	classBuildData = "hudson.plugins.git.util.BuildData"
	classDetails   = "hudson.plugins.git.util.BuildDetails"
)

// maxBuilds is how many builds a job's `builds` lists (Job.getNewBuilds).
const maxBuilds = 100

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	json.NewEncoder(w).Encode(v)
}

// itemURL is the absolute URL of the item named by names, ending in "/".
func (s *Server) itemURL(names []string) string {
	var b strings.Builder
	b.WriteString(s.srv.URL + "/")
	for _, n := range names {
		b.WriteString("job/" + url.PathEscape(n) + "/")
	}
	return b.String()
}

// root answers GET /api/json: the items of the root, folders holding
// theirs.
func (s *Server) root() map[string]any {
	return map[string]any{"_class": classRoot, "jobs": s.items(nil)}
}

// items lists the items directly in the folder named by prefix, in the
// order their first job was added.
func (s *Server) items(prefix []string) []any {
	items := []any{}
	var folders []string
	for _, j := range s.jobs {
		if len(j.names) <= len(prefix) || !slices.Equal(j.names[:len(prefix)], prefix) {
			continue
		}
		name := j.names[len(prefix)]
		names := append(slices.Clone(prefix), name)
		if len(j.names) == len(prefix)+1 {
			items = append(items, map[string]any{
				"_class": classJob, "name": name, "url": s.itemURL(names), "lastBuild": s.lastBuild(j),
			})
			continue
		}
		if slices.Contains(folders, name) {
			continue
		}
		folders = append(folders, name)
		items = append(items, map[string]any{
			"_class": classFolder, "name": name, "url": s.itemURL(names), "jobs": s.items(names),
		})
	}
	return items
}

// lastBuild is a job's lastBuild as root-jobs.json shows it, or nil.
func (s *Server) lastBuild(j *job) any {
	if len(j.builds) == 0 {
		return nil
	}
	m := s.buildSummary(j, j.builds[len(j.builds)-1])
	delete(m, "fullDisplayName")
	return m
}

// buildSummary is a build with the properties of a `builds` entry.
func (s *Server) buildSummary(j *job, b *Build) map[string]any {
	var result any
	if !b.Building {
		result = b.Result
	}
	return map[string]any{
		"_class":          classBuild,
		"building":        b.Building,
		"duration":        b.Duration,
		"fullDisplayName": strings.Join(j.names, " » ") + " #" + strconv.Itoa(b.Number),
		"number":          b.Number,
		"result":          result,
		"timestamp":       b.Timestamp,
		"url":             s.itemURL(j.names) + strconv.Itoa(b.Number) + "/",
	}
}

// jobJSON answers GET /job/.../api/json?tree=builds[...]: newest first.
func (s *Server) jobJSON(j *job) map[string]any {
	builds := []any{}
	for i := len(j.builds) - 1; i >= 0 && len(builds) < maxBuilds; i-- {
		builds = append(builds, s.buildSummary(j, j.builds[i]))
	}
	return map[string]any{"_class": classJob, "builds": builds}
}

// buildJSON answers GET /job/.../N/api/json with master-build-5.json's
// tree: the build, its artifacts, and its actions (a CauseAction, which
// the tree leaves empty but for "_class", then the git plugin's).
func (s *Server) buildJSON(j *job, b *Build) map[string]any {
	m := s.buildSummary(j, b)
	actions := []any{map[string]any{"_class": classCause}}
	for _, g := range b.SCM {
		branch := []any{map[string]any{"SHA1": g.SHA1, "name": g.Ref}}
		rev := map[string]any{"SHA1": g.SHA1, "branch": branch}
		a := map[string]any{"_class": classBuildData, "remoteUrls": []any{g.RemoteURL}}
		if g.Details {
			a["_class"] = classDetails
			a["build"] = map[string]any{"revision": rev}
		} else {
			a["lastBuiltRevision"] = rev
		}
		actions = append(actions, a)
	}
	m["actions"] = actions
	artifacts := []any{}
	for _, a := range artifactList(b) {
		artifacts = append(artifacts, map[string]any{
			"displayPath": a[0], "fileName": a[1], "relativePath": a[2],
		})
	}
	m["artifacts"] = artifacts
	return m
}

// artifactList lists a build's artifacts as Run.getArtifacts does: a
// depth-first walk of the archive, names sorted at each level; each as
// {displayPath, fileName, relativePath}.
func artifactList(b *Build) [][3]string {
	var rels []string
	for rel := range b.Artifacts {
		rels = append(rels, rel)
	}
	for rel := range b.ArtifactFiles {
		if _, dup := b.Artifacts[rel]; !dup {
			rels = append(rels, rel)
		}
	}
	slices.SortFunc(rels, func(x, y string) int {
		return slices.Compare(strings.Split(x, "/"), strings.Split(y, "/"))
	})
	display := displayPaths(rels)
	out := make([][3]string, len(rels))
	for i, rel := range rels {
		out[i] = [3]string{display[i], rel[strings.LastIndex(rel, "/")+1:], rel}
	}
	return out
}

// displayPaths computes each artifact's displayPath as
// Run.ArtifactList.computeDisplayName does: the file name, lengthened by
// parent folders while it collides with another artifact's.
func displayPaths(rels []string) []string {
	tokens := make([][]string, len(rels))
	length := make([]int, len(rels))
	maxDepth := 0
	for i, rel := range rels {
		tokens[i] = strings.Split(rel, "/")
		length[i] = 1
		maxDepth = max(maxDepth, len(tokens[i]))
	}
	last := func(i int) string {
		t := tokens[i]
		return strings.Join(t[max(len(t)-length[i], 0):], "/")
	}
	for depth := 0; depth <= maxDepth; depth++ {
		collision := false
		names := map[string]int{}
		for i := range rels {
			d := last(i)
			if j, ok := names[d]; ok {
				collision = true
				if j >= 0 {
					length[j]++
				}
				length[i]++
				names[d] = -1
				continue
			}
			names[d] = i
		}
		if !collision {
			break
		}
	}
	out := make([]string, len(rels))
	for i := range rels {
		out[i] = last(i)
	}
	return out
}
