package http

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"

	"github.com/bakehouse/bakehouse/pipeline"
)

// OrcaBakery is the bakery as a pipeline's Bake stage talks to it: Rosco's
// API over HTTP, as Orca calls it, answering the JSON maps Orca reads. The
// runner bakes through it against this same server (or any Rosco-
// compatible bakery), so a pipeline's bakes take the path every other
// client's take: validation, auth, reuse, Rosco's response shapes.
type OrcaBakery struct {
	c *Client
}

var (
	_ pipeline.Bakery         = (*OrcaBakery)(nil)
	_ pipeline.BakeEndReasons = (*OrcaBakery)(nil)
)

// NewOrcaBakery returns the bakery at baseURL, sending token (if any) as
// the bearer token.
func NewOrcaBakery(baseURL, token string) *OrcaBakery {
	c := NewClient(baseURL)
	c.Token = token
	return &OrcaBakery{c: c}
}

// call does one request and turns a non-2xx answer into the
// *pipeline.BakeryError Orca's bakery client raises.
func (o *OrcaBakery) call(ctx context.Context, method, path string, body any) (map[string]any, error) {
	var out map[string]any
	var rd io.Reader
	if body != nil {
		rd = jsonBody(body)
	}
	var header http.Header
	if exec, stage, ok := pipeline.StageOf(ctx); ok {
		// As Orca names the run that asks: "<execution id>:<stage id>".
		header = http.Header{"X-Spinnaker-Execution-Id": {exec + ":" + stage}}
	}
	_, err := o.c.doWithHeader(ctx, method, path, rd, &out, header)
	var ae *apiError
	if errors.As(err, &ae) {
		return nil, &pipeline.BakeryError{Status: ae.Status, Messages: ae.Messages, Message: ae.Message}
	}
	return out, err
}

// BaseImage implements pipeline.Bakery: GET /bakeOptions/{provider}/baseImages/{os}.
func (o *OrcaBakery) BaseImage(ctx context.Context, cloudProvider, baseOS string) (string, error) {
	m, err := o.call(ctx, http.MethodGet, "/bakeOptions/"+url.PathEscape(cloudProvider)+"/baseImages/"+url.PathEscape(baseOS), nil)
	if err != nil {
		return "", err
	}
	t, _ := m["packageType"].(string)
	return t, nil
}

// CreateBake implements pipeline.Bakery: POST /api/v1/{region}/bake, with
// ?rebake=1 when asked.
func (o *OrcaBakery) CreateBake(ctx context.Context, region string, body map[string]any, rebake bool) (map[string]any, error) {
	path := "/api/v1/" + url.PathEscape(region) + "/bake"
	if rebake {
		path += "?rebake=1"
	}
	return o.call(ctx, http.MethodPost, path, body)
}

// Status implements pipeline.Bakery: GET /api/v1/{region}/status/{id}.
func (o *OrcaBakery) Status(ctx context.Context, region, id string) (map[string]any, error) {
	return o.call(ctx, http.MethodGet, "/api/v1/"+url.PathEscape(region)+"/status/"+url.PathEscape(id), nil)
}

// Bake implements pipeline.Bakery: GET /api/v1/{region}/bake/{id}.
func (o *OrcaBakery) Bake(ctx context.Context, region, id string) (map[string]any, error) {
	return o.call(ctx, http.MethodGet, "/api/v1/"+url.PathEscape(region)+"/bake/"+url.PathEscape(id), nil)
}

// EndReason implements pipeline.BakeEndReasons: the error of bake id, from
// Bakehouse's GET /api/v1/bakes/{id} ("" when the bakery has none to give).
func (o *OrcaBakery) EndReason(ctx context.Context, _, id string) (string, error) {
	m, err := o.call(ctx, http.MethodGet, "/api/v1/bakes/"+url.PathEscape(id), nil)
	if err != nil {
		return "", err
	}
	why, _ := m["error"].(string)
	return why, nil
}

// CancelBake asks the bakery to cancel bake id: GET /api/v1/{region}/cancel/{id}.
func (o *OrcaBakery) CancelBake(ctx context.Context, region, id string) error {
	_, err := o.call(ctx, http.MethodGet, "/api/v1/"+url.PathEscape(region)+"/cancel/"+url.PathEscape(id), nil)
	return err
}
