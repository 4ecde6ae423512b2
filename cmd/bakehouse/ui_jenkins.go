package main

import (
	"context"
	"sort"

	"github.com/bakehouse/bakehouse"
	bhttp "github.com/bakehouse/bakehouse/http"
	"github.com/bakehouse/bakehouse/jenkins"
)

// jenkinsBrowser gives the web UI the configured masters' jobs and builds.
type jenkinsBrowser struct{ ms *jenkins.Masters }

var _ bhttp.JenkinsBrowser = jenkinsBrowser{}

func (j jenkinsBrowser) Masters() []string {
	var names []string
	for name := range j.ms.Clients() {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

func (j jenkinsBrowser) client(master string) (*jenkins.Client, error) {
	c, ok := j.ms.Clients()[master]
	if !ok {
		return nil, bakehouse.Errorf(bakehouse.ENOTFOUND, "Jenkins master %q is not configured (jenkins.masters)", master)
	}
	return c, nil
}

func (j jenkinsBrowser) Jobs(ctx context.Context, master string) ([]string, error) {
	c, err := j.client(master)
	if err != nil {
		return nil, err
	}
	return c.Jobs(ctx)
}

func (j jenkinsBrowser) Builds(ctx context.Context, master, job string) ([]bhttp.JenkinsBuild, error) {
	c, err := j.client(master)
	if err != nil {
		return nil, err
	}
	bs, err := c.Builds(ctx, job)
	if err != nil {
		return nil, err
	}
	out := make([]bhttp.JenkinsBuild, len(bs))
	for i, b := range bs {
		out[i] = bhttp.JenkinsBuild{Number: b.Number, Result: b.Result, Building: b.Building, Timestamp: b.Timestamp}
	}
	return out, nil
}
