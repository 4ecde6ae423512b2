// Package jenkins is Bakehouse's adapter to a Jenkins master: it reads
// jobs, builds, artifacts and property files through Jenkins' JSON API
// (basic auth with an API token), decides which builds fire a pipeline
// with Igor's polling rules, and parses the Notification plugin's webhook.
//
// Names follow Spinnaker's Igor, so that pipelines exported from a real
// Spinnaker carry over: a job in folders is named with "/job/" between the
// levels ("armory/job/armory-hello-deploy/job/master"), and BuildInfo is
// the trigger's buildInfo as Igor serves it to Orca.
//
// The package logs nothing but through the Poller's logger, and the API
// token appears in no error, log line or serialized Master.
package jenkins

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/bakehouse/bakehouse"
)

// maxJSON bounds a JSON answer read from Jenkins.
const maxJSON = 32 << 20

// jobDepth is how many levels of folders Jobs asks for in its one request.
// Jobs nested deeper are not listed (they can still be polled by name).
const jobDepth = 6

// Client speaks to one Jenkins master.
type Client struct {
	master Master
	base   *url.URL // Address, with a path ending in "/"
	http   *http.Client
}

// New returns a client for m. It makes no request; an unreachable master
// or refused credentials show in the first call's error. httpClient nil
// means http.DefaultClient; give one with a Timeout in production.
func New(m Master, httpClient *http.Client) (*Client, error) {
	base, err := m.baseURL()
	if err != nil {
		return nil, err
	}
	if httpClient == nil {
		httpClient = http.DefaultClient
	}
	return &Client{master: m, base: base, http: httpClient}, nil
}

// baseURL validates m and returns its address as a URL whose path ends in
// a slash.
func (m Master) baseURL() (*url.URL, error) {
	if strings.TrimSpace(m.Name) == "" {
		return nil, bakehouse.Invalid("jenkins.masters[].name",
			"jenkins.masters[].name is empty: give each master the name its triggers use (trigger.master)")
	}
	u, err := url.Parse(m.Address)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, bakehouse.Invalid("jenkins.masters[].address",
			"jenkins.masters[].address of master %q is %q, not an http(s) URL: write the master's root URL, e.g. https://jenkins.example.com/",
			m.Name, redactAddress(m.Address))
	}
	if u.User != nil {
		return nil, bakehouse.Invalid("jenkins.masters[].address",
			"jenkins.masters[].address of master %q holds credentials: put them in username and password (an API token) instead",
			m.Name)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, bakehouse.Invalid("jenkins.masters[].address",
			"jenkins.masters[].address of master %q has a query or fragment: write the master's root URL only", m.Name)
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
		if u.RawPath != "" {
			u.RawPath += "/"
		}
	}
	return u, nil
}

// redactAddress drops any userinfo from an address that failed to parse
// as wanted, so that an error can quote it.
func redactAddress(s string) string {
	if u, err := url.Parse(s); err == nil && u.User != nil {
		u.User = nil
		return u.String()
	}
	if i := strings.LastIndex(s, "@"); i >= 0 {
		return "..." + s[i:]
	}
	return s
}

// Master returns the name of the client's master.
func (c *Client) Master() string { return c.master.Name }

// jobPath turns Igor's job name into the job's URL path below the root,
// "job/a/job/b/", escaping each name. It refuses empty levels.
func jobPath(job string) (string, error) {
	if job == "" {
		return "", bakehouse.Invalid("job", "the job name is empty: name a Jenkins job, e.g. folder/job/name")
	}
	var b strings.Builder
	for _, name := range strings.Split(job, "/job/") {
		if name == "" || name == "." || name == ".." {
			return "", bakehouse.Invalid("job",
				"job %q has an empty or relative level: name folders as Igor does, folder/job/name", job)
		}
		b.WriteString("job/")
		b.WriteString(url.PathEscape(name))
		b.WriteString("/")
	}
	return b.String(), nil
}

// get sends an authenticated GET for rel (an escaped path below the root)
// and returns the response when it is 200. what names the object asked
// for in a 404's error ("job x", "build 5 of job x").
func (c *Client) get(ctx context.Context, rel string, query url.Values, what string) (*http.Response, error) {
	u := *c.base
	u.RawPath = c.base.EscapedPath() + rel
	p, err := url.PathUnescape(u.RawPath)
	if err != nil {
		return nil, fmt.Errorf("jenkins master %q: bad path %q: %w", c.master.Name, rel, err)
	}
	u.Path = p
	u.RawQuery = query.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("jenkins master %q: %w", c.master.Name, err)
	}
	if c.master.Username != "" || c.master.Password != "" {
		req.SetBasicAuth(c.master.Username, c.master.Password)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("jenkins master %q: GET %s: %w", c.master.Name, u.Path, scrub(err, c.master.Password))
	}
	if resp.StatusCode == http.StatusOK {
		return resp, nil
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden:
		return nil, &bakehouse.Error{Code: bakehouse.EINTERNAL, Message: fmt.Sprintf(
			"Jenkins master %q refused the credentials of user %q (HTTP %d reading %s): check jenkins.masters[].username and password (an API token of that user with Overall/Read and Job/Read)",
			c.master.Name, c.master.Username, resp.StatusCode, what)}
	case http.StatusNotFound:
		return nil, &bakehouse.Error{Code: bakehouse.ENOTFOUND, Message: fmt.Sprintf(
			"Jenkins master %q has no %s", c.master.Name, what)}
	}
	return nil, fmt.Errorf("jenkins master %q: GET %s: HTTP %d", c.master.Name, u.Path, resp.StatusCode)
}

// scrub removes a secret from an error's text, in case a transport quotes
// a request it was given.
func scrub(err error, secret string) error {
	if secret == "" || !strings.Contains(err.Error(), secret) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), secret, bakehouse.Mask))
}

// getJSON GETs rel and decodes its JSON answer into v.
func (c *Client) getJSON(ctx context.Context, rel string, query url.Values, what string, v any) error {
	resp, err := c.get(ctx, rel, query, what)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxJSON)).Decode(v); err != nil {
		return fmt.Errorf("jenkins master %q: %s: decode JSON answer: %w", c.master.Name, what, err)
	}
	return nil
}

// jobNode is an item of a `jobs` list. Folders have Jobs (possibly empty);
// buildable jobs have none.
type jobNode struct {
	Name string     `json:"name"`
	Jobs *[]jobNode `json:"jobs"`
}

// jobsTree is the tree= of Jobs: depth levels of jobs[name,url,jobs[...]].
func jobsTree(depth int) string {
	s := "jobs[name,url]"
	for range depth - 1 {
		s = "jobs[name,url," + s + "]"
	}
	return s
}

// Jobs lists every buildable job of the master with one request, folders
// flattened into Igor's names ("folder1/job/folder2/job/job3"). Empty
// folders are left out.
func (c *Client) Jobs(ctx context.Context) ([]string, error) {
	var root struct {
		Jobs []jobNode `json:"jobs"`
	}
	if err := c.getJSON(ctx, "api/json", url.Values{"tree": {jobsTree(jobDepth)}}, "job list", &root); err != nil {
		return nil, err
	}
	var names []string
	var walk func(prefix string, nodes []jobNode)
	walk = func(prefix string, nodes []jobNode) {
		for _, n := range nodes {
			if n.Jobs != nil {
				walk(prefix+n.Name+"/job/", *n.Jobs)
				continue
			}
			names = append(names, prefix+n.Name)
		}
	}
	walk("", root.Jobs)
	return names, nil
}

// buildsTree is the tree= of Builds.
const buildsTree = "builds[number,url,timestamp,duration,result,building,fullDisplayName]"

// buildTree is the tree= of Build: the build, its artifacts and its git
// revisions as the git plugin records them before 4.0
// (BuildData.lastBuiltRevision) and after (BuildDetails.build.revision).
const buildTree = "number,url,timestamp,duration,result,building,fullDisplayName," +
	"artifacts[displayPath,fileName,relativePath]," +
	"actions[remoteUrls,lastBuiltRevision[SHA1,branch[SHA1,name]],build[revision[SHA1,branch[SHA1,name]]]]"

// Builds lists the builds of job Jenkins keeps in its list (the newest
// 100), newest first, without artifacts or SCM details.
func (c *Client) Builds(ctx context.Context, job string) ([]Build, error) {
	rel, err := jobPath(job)
	if err != nil {
		return nil, err
	}
	var answer struct {
		Builds []apiBuild `json:"builds"`
	}
	if err := c.getJSON(ctx, rel+"api/json", url.Values{"tree": {buildsTree}}, fmt.Sprintf("job %q", job), &answer); err != nil {
		return nil, err
	}
	builds := make([]Build, 0, len(answer.Builds))
	for _, b := range answer.Builds {
		builds = append(builds, b.build(job))
	}
	slices.SortStableFunc(builds, func(a, b Build) int { return b.Number - a.Number })
	return builds, nil
}

// Build returns build number of job with its artifacts and git revisions.
func (c *Client) Build(ctx context.Context, job string, number int) (Build, error) {
	rel, err := jobPath(job)
	if err != nil {
		return Build{}, err
	}
	var b apiBuild
	what := fmt.Sprintf("build %d of job %q", number, job)
	if err := c.getJSON(ctx, rel+strconv.Itoa(number)+"/api/json", url.Values{"tree": {buildTree}}, what, &b); err != nil {
		return Build{}, err
	}
	return b.build(job), nil
}

// Artifact opens the archived file relativePath of build number of job.
// size is the length Jenkins announced, or -1. The caller closes the
// reader. A relativePath that is absolute or climbs with ".." is refused.
func (c *Client) Artifact(ctx context.Context, job string, number int, relativePath string) (io.ReadCloser, int64, error) {
	rel, err := jobPath(job)
	if err != nil {
		return nil, 0, err
	}
	esc, err := artifactPath(relativePath)
	if err != nil {
		return nil, 0, err
	}
	what := fmt.Sprintf("artifact %q in build %d of job %q", relativePath, number, job)
	resp, err := c.get(ctx, rel+strconv.Itoa(number)+"/artifact/"+esc, nil, what)
	if err != nil {
		return nil, 0, err
	}
	return resp.Body, resp.ContentLength, nil
}

// artifactPath checks an artifact's relative path and escapes each level.
func artifactPath(rel string) (string, error) {
	if rel == "" || strings.HasPrefix(rel, "/") || strings.HasPrefix(rel, `\`) || path.IsAbs(rel) ||
		(len(rel) > 1 && rel[1] == ':') {
		return "", bakehouse.Invalid("relativePath",
			"artifact path %q is empty or absolute: give the artifact's relativePath as Jenkins lists it", rel)
	}
	parts := strings.FieldsFunc(rel, func(r rune) bool { return r == '/' || r == '\\' })
	for i, p := range parts {
		if p == ".." || p == "." {
			return "", bakehouse.Invalid("relativePath",
				"artifact path %q leaves the build's archive (%q): give the artifact's relativePath as Jenkins lists it", rel, p)
		}
		parts[i] = url.PathEscape(p)
	}
	return strings.Join(parts, "/"), nil
}
