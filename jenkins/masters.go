package jenkins

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/bakehouse/bakehouse"
)

// Masters are the configured Jenkins masters by name: what pipelines
// read builds through (trigger.master names one). Its methods take the
// master's name, so one value serves every trigger.
type Masters struct {
	clients map[string]*Client
	// PropertyAttempts and PropertyDelay are how often and how far apart
	// Properties looks for a property file that is not archived yet;
	// NewMasters sets Igor's 5 attempts 2 s apart.
	PropertyAttempts int
	PropertyDelay    time.Duration
}

// NewMasters validates the masters of the config (jenkins.masters) and
// returns a client for each. Errors name the entry, e.g.
// jenkins.masters[1].address.
func NewMasters(ms []Master, httpClient *http.Client) (*Masters, error) {
	out := &Masters{clients: map[string]*Client{}, PropertyAttempts: 5, PropertyDelay: 2 * time.Second}
	for i, m := range ms {
		c, err := New(m, httpClient)
		if err != nil {
			var e *bakehouse.Error
			if errors.As(err, &e) {
				at := fmt.Sprintf("jenkins.masters[%d]", i)
				return nil, &bakehouse.Error{Code: e.Code, Field: strings.ReplaceAll(e.Field, "jenkins.masters[]", at),
					Message: strings.ReplaceAll(e.Message, "jenkins.masters[]", at)}
			}
			return nil, err
		}
		if out.clients[m.Name] != nil {
			return nil, bakehouse.Invalid(fmt.Sprintf("jenkins.masters[%d].name", i),
				"jenkins.masters[%d].name %q is used twice: give each master its own name", i, m.Name)
		}
		out.clients[m.Name] = c
	}
	return out, nil
}

// Clients returns the clients by master name, for PollerConfig.Clients.
func (ms *Masters) Clients() map[string]*Client { return ms.clients }

// client returns the named master's client, or an error naming the
// trigger field.
func (ms *Masters) client(master string) (*Client, error) {
	if c := ms.clients[master]; c != nil {
		return c, nil
	}
	return nil, bakehouse.Invalid("trigger.master",
		"Jenkins master %q is not configured: add it under jenkins.masters in the config", master)
}

// BuildInfo returns build number of job on master as a trigger's
// buildInfo (Build.BuildInfo as JSON values); number 0 means the newest
// successful build, as a manual run picks by default.
func (ms *Masters) BuildInfo(ctx context.Context, master, job string, number int) (map[string]any, error) {
	c, err := ms.client(master)
	if err != nil {
		return nil, err
	}
	if number == 0 {
		if number, err = c.lastSuccessful(ctx, job); err != nil {
			return nil, err
		}
	}
	b, err := c.Build(ctx, job, number)
	if err != nil {
		return nil, err
	}
	data, err := json.Marshal(b.BuildInfo())
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, err
	}
	return m, nil
}

// lastSuccessful returns the number of job's newest SUCCESS build.
func (c *Client) lastSuccessful(ctx context.Context, job string) (int, error) {
	builds, err := c.Builds(ctx, job)
	if err != nil {
		return 0, err
	}
	for _, b := range builds {
		if !b.Building && b.Result == Success {
			return b.Number, nil
		}
	}
	return 0, &bakehouse.Error{Code: bakehouse.ENOTFOUND, Field: "trigger.buildNumber", Message: fmt.Sprintf(
		"job %q on Jenkins master %q has no successful build: run it, or name a build (buildNumber)", job, c.master.Name)}
}

// Properties reads the property file of a build (Client.Properties),
// looking again PropertyAttempts times, PropertyDelay apart, while it is
// not archived yet.
func (ms *Masters) Properties(ctx context.Context, master, job string, number int, file string) (map[string]any, error) {
	c, err := ms.client(master)
	if err != nil {
		return nil, err
	}
	for attempt := 1; ; attempt++ {
		props, err := c.Properties(ctx, job, number, file)
		if err == nil || !errors.Is(err, ErrPropertyFileMissing) || attempt >= ms.PropertyAttempts {
			return props, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(ms.PropertyDelay):
		}
	}
}

// Artifact opens an archived file of a build (Client.Artifact).
func (ms *Masters) Artifact(ctx context.Context, master, job string, number int, relativePath string) (io.ReadCloser, error) {
	c, err := ms.client(master)
	if err != nil {
		return nil, err
	}
	r, _, err := c.Artifact(ctx, job, number, relativePath)
	return r, err
}
