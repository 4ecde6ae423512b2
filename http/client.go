package http

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/bakehouse/bakehouse"
)

// Client talks to a Bakehouse server; the CLI uses it.
type Client struct {
	BaseURL string
	HTTP    *http.Client
	// Token, when set, is sent as "Authorization: Bearer <Token>"; a
	// server with an API token refuses mutating requests without it.
	Token string
}

// NewClient returns a client for the server at baseURL.
func NewClient(baseURL string) *Client {
	return &Client{BaseURL: strings.TrimRight(baseURL, "/"), HTTP: &http.Client{}}
}

// apiError is a non-2xx answer, carrying the server's message.
type apiError struct {
	Status  int
	Message string
	Field   string
	// Messages is the body's "messages" list (Rosco's kork errors).
	Messages []string
}

func (e *apiError) Error() string {
	if e.Field != "" && e.Field != "body" && e.Field != "id" {
		return fmt.Sprintf("%s (field %s)", e.Message, e.Field)
	}
	return e.Message
}

func (c *Client) do(ctx context.Context, method, path string, body io.Reader, out any) (http.Header, error) {
	return c.doWithHeader(ctx, method, path, body, out, nil)
}

// doWithHeader is do with extra request headers.
func (c *Client) doWithHeader(ctx context.Context, method, path string, body io.Reader, out any, header http.Header) (http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.BaseURL+path, body)
	if err != nil {
		return nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	c.authorize(req)
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach the Bakehouse server at %s (start it with `bakehouse serve`): %w", c.BaseURL, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 300 {
		var e struct {
			Message  string   `json:"message"`
			Field    string   `json:"field"`
			Messages []string `json:"messages"`
		}
		json.Unmarshal(data, &e)
		msg := e.Message
		if msg == "" && len(e.Messages) > 0 {
			msg = strings.Join(e.Messages, "; ")
		}
		if msg == "" {
			msg = strings.TrimSpace(string(data))
		}
		if resp.StatusCode == http.StatusUnauthorized && c.Token == "" {
			msg += " Set BAKEHOUSE_TOKEN to the server's API token."
		}
		return nil, &apiError{Status: resp.StatusCode, Message: msg, Field: e.Field, Messages: e.Messages}
	}
	if out != nil {
		if s, ok := out.(*string); ok {
			*s = string(data)
		} else if err := json.Unmarshal(data, out); err != nil {
			return nil, fmt.Errorf("decode %s %s: %w", method, path, err)
		}
	}
	return resp.Header, nil
}

// authorize adds the bearer token, if any.
func (c *Client) authorize(req *http.Request) {
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
}

func jsonBody(v any) io.Reader {
	b, _ := json.Marshal(v)
	return bytes.NewReader(b)
}

// BakeResult is the answer to a bake request.
type BakeResult struct {
	Status bakehouse.BakeStatus
	Reused bool
	Reason string
}

// Bake posts a bake request.
func (c *Client) Bake(ctx context.Context, region string, req bakehouse.BakeRequest, rebake bool) (BakeResult, error) {
	path := "/api/v1/" + url.PathEscape(region) + "/bake"
	if rebake {
		path += "?rebake=1"
	}
	var st bakehouse.BakeStatus
	h, err := c.do(ctx, http.MethodPost, path, jsonBody(req), &st)
	if err != nil {
		return BakeResult{}, err
	}
	return BakeResult{Status: st, Reused: h.Get("X-Bakehouse-Reused") == "true", Reason: h.Get("X-Bakehouse-Reason")}, nil
}

// Plan asks what a bake would do.
func (c *Client) Plan(ctx context.Context, region string, req bakehouse.BakeRequest, rebake bool) (bakehouse.Plan, error) {
	path := "/api/v1/" + url.PathEscape(region) + "/bake/plan"
	if rebake {
		path += "?rebake=1"
	}
	var p bakehouse.Plan
	_, err := c.do(ctx, http.MethodPost, path, jsonBody(req), &p)
	return p, err
}

// Status returns a bake's status.
func (c *Client) Status(ctx context.Context, region, id string) (bakehouse.BakeStatus, error) {
	var st bakehouse.BakeStatus
	_, err := c.do(ctx, http.MethodGet, "/api/v1/"+url.PathEscape(region)+"/status/"+url.PathEscape(id), nil, &st)
	return st, err
}

// Details returns a finished bake's details as the server sends them.
func (c *Client) Details(ctx context.Context, region, id string) (map[string]any, error) {
	var m map[string]any
	_, err := c.do(ctx, http.MethodGet, "/api/v1/"+url.PathEscape(region)+"/bake/"+url.PathEscape(id), nil, &m)
	return m, err
}

// Record returns the whole record of a bake.
func (c *Client) Record(ctx context.Context, id string) (map[string]any, error) {
	var m map[string]any
	_, err := c.do(ctx, http.MethodGet, "/api/v1/bakes/"+url.PathEscape(id), nil, &m)
	return m, err
}

// Logs returns a bake's log.
func (c *Client) Logs(ctx context.Context, region, id string) (string, error) {
	var m struct {
		LogsContent string `json:"logsContent"`
	}
	_, err := c.do(ctx, http.MethodGet, "/api/v1/"+url.PathEscape(region)+"/logs/"+url.PathEscape(id), nil, &m)
	return m.LogsContent, err
}

// FollowLogs copies a bake's log to w as it is written, until the bake
// ends.
func (c *Client) FollowLogs(ctx context.Context, region, id string, w io.Writer) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.BaseURL+"/api/v1/"+url.PathEscape(region)+"/logs/"+url.PathEscape(id)+"?follow=1", nil)
	if err != nil {
		return err
	}
	c.authorize(req)
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach the Bakehouse server at %s: %w", c.BaseURL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		var e struct {
			Message string `json:"message"`
		}
		json.Unmarshal(b, &e)
		return &apiError{Status: resp.StatusCode, Message: e.Message}
	}
	_, err = io.Copy(w, resp.Body)
	return err
}

// Cancel cancels a bake.
func (c *Client) Cancel(ctx context.Context, region, id string) (string, error) {
	var s string
	_, err := c.do(ctx, http.MethodGet, "/api/v1/"+url.PathEscape(region)+"/cancel/"+url.PathEscape(id), nil, &s)
	return s, err
}

// Options returns the bake options of every provider.
func (c *Client) Options(ctx context.Context) (any, error) {
	var v any
	_, err := c.do(ctx, http.MethodGet, "/bakeOptions", nil, &v)
	return v, err
}

// InstanceStatus returns /status/instance.
func (c *Client) InstanceStatus(ctx context.Context) (map[string]any, error) {
	var m map[string]any
	_, err := c.do(ctx, http.MethodGet, "/status/instance", nil, &m)
	return m, err
}

// AddPackage uploads a package file to the bakery's repository.
func (c *Client) AddPackage(ctx context.Context, filename string, r io.Reader) (PackageInfo, error) {
	var p PackageInfo
	_, err := c.do(ctx, http.MethodPut, "/api/v1/packages/"+url.PathEscape(filename), r, &p)
	return p, err
}

// Packages lists the bakery's repository.
func (c *Client) Packages(ctx context.Context) ([]PackageInfo, error) {
	var ps []PackageInfo
	_, err := c.do(ctx, http.MethodGet, "/api/v1/packages", nil, &ps)
	return ps, err
}

// Health returns /health: the server's status and the versions of Packer
// and the Docker engine it runs.
func (c *Client) Health(ctx context.Context) (Health, error) {
	var h Health
	_, err := c.do(ctx, http.MethodGet, "/health", nil, &h)
	return h, err
}

// WaitReady polls /health until the server answers or timeout passes.
func (c *Client) WaitReady(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		var m map[string]any
		_, err := c.do(ctx, http.MethodGet, "/health", nil, &m)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// ListBakes returns GET /api/v1/bakes with query (state, provider,
// region, package, image, limit), newest first.
func (c *Client) ListBakes(ctx context.Context, query url.Values) ([]map[string]any, error) {
	var out []map[string]any
	path := "/api/v1/bakes"
	if len(query) > 0 {
		path += "?" + query.Encode()
	}
	_, err := c.do(ctx, http.MethodGet, path, nil, &out)
	return out, err
}
