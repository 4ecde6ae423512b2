package http

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/bakehouse/bakehouse/pipeline"
)

// The Client's side of Gate's pipeline paths (gate.go), for the CLI's
// `bakehouse pipeline` commands. It asks the same paths spin does, so
// the CLI and spin see one surface.

// IsNotFound reports whether err is the server's 404.
func IsNotFound(err error) bool {
	var ae *apiError
	return errors.As(err, &ae) && ae.Status == http.StatusNotFound
}

// GateVersion returns GET /version's version.
func (c *Client) GateVersion(ctx context.Context) (string, error) {
	var v struct {
		Version string `json:"version"`
	}
	_, err := c.do(ctx, http.MethodGet, "/version", nil, &v)
	return v.Version, err
}

// SavePipeline stores a pipeline config (POST /pipelines) and returns it as
// stored, with its id.
func (c *Client) SavePipeline(ctx context.Context, cfg *pipeline.Config) (*pipeline.Config, error) {
	var out pipeline.Config
	if _, err := c.do(ctx, http.MethodPost, "/pipelines", jsonBody(cfg), &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Pipeline returns app's config named name.
func (c *Client) Pipeline(ctx context.Context, app, name string) (*pipeline.Config, error) {
	var out pipeline.Config
	if _, err := c.do(ctx, http.MethodGet, "/applications/"+url.PathEscape(app)+"/pipelineConfigs/"+url.PathEscape(name), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Pipelines returns app's configs.
func (c *Client) Pipelines(ctx context.Context, app string) ([]*pipeline.Config, error) {
	var out []*pipeline.Config
	_, err := c.do(ctx, http.MethodGet, "/applications/"+url.PathEscape(app)+"/pipelineConfigs", nil, &out)
	return out, err
}

// Applications returns the names of the applications that have pipelines.
func (c *Client) Applications(ctx context.Context) ([]string, error) {
	var apps []struct {
		Name string `json:"name"`
	}
	if _, err := c.do(ctx, http.MethodGet, "/applications", nil, &apps); err != nil {
		return nil, err
	}
	names := make([]string, 0, len(apps))
	for _, a := range apps {
		names = append(names, a.Name)
	}
	return names, nil
}

// DeletePipeline removes app's config named name.
func (c *Client) DeletePipeline(ctx context.Context, app, name string) error {
	_, err := c.do(ctx, http.MethodDelete, "/pipelines/"+url.PathEscape(app)+"/"+url.PathEscape(name), nil, nil)
	return err
}

// StartPipeline runs app's pipeline named name with trigger (nil: a manual
// run) and returns the new execution's id.
func (c *Client) StartPipeline(ctx context.Context, app, name string, trigger map[string]any) (string, error) {
	if trigger == nil {
		trigger = map[string]any{"type": "manual"}
	}
	var ref struct {
		Ref string `json:"ref"`
	}
	if _, err := c.do(ctx, http.MethodPost, "/pipelines/"+url.PathEscape(app)+"/"+url.PathEscape(name), jsonBody(trigger), &ref); err != nil {
		return "", err
	}
	id, ok := strings.CutPrefix(ref.Ref, "/pipelines/")
	if !ok || id == "" {
		return "", errors.New("start pipeline: the server answered no execution ref")
	}
	return id, nil
}

// Execution returns one execution (GET /pipelines/{id}).
func (c *Client) Execution(ctx context.Context, id string) (*pipeline.Execution, error) {
	var ex pipeline.Execution
	if _, err := c.do(ctx, http.MethodGet, "/pipelines/"+url.PathEscape(id), nil, &ex); err != nil {
		return nil, err
	}
	return &ex, nil
}

// Executions returns executions matching f, newest first: an
// application's through GET /applications/{app}/pipelines, otherwise
// through GET /executions by ids or pipeline config ids.
func (c *Client) Executions(ctx context.Context, f pipeline.ExecutionFilter) ([]*pipeline.Execution, error) {
	q := url.Values{}
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	if len(f.Statuses) > 0 {
		st := make([]string, len(f.Statuses))
		for i, s := range f.Statuses {
			st[i] = string(s)
		}
		q.Set("statuses", strings.Join(st, ","))
	}
	path := "/executions"
	switch {
	case len(f.IDs) > 0:
		q.Set("executionIds", strings.Join(f.IDs, ","))
	case len(f.PipelineConfigIDs) > 0:
		q.Set("pipelineConfigIds", strings.Join(f.PipelineConfigIDs, ","))
	default:
		path = "/applications/" + url.PathEscape(f.Application) + "/pipelines"
	}
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var exs []*pipeline.Execution
	_, err := c.do(ctx, http.MethodGet, path, nil, &exs)
	return exs, err
}

// CancelExecution cancels a running execution, giving reason.
func (c *Client) CancelExecution(ctx context.Context, id, reason string) error {
	path := "/pipelines/" + url.PathEscape(id) + "/cancel"
	if reason != "" {
		path += "?reason=" + url.QueryEscape(reason)
	}
	_, err := c.do(ctx, http.MethodPut, path, nil, nil)
	return err
}
