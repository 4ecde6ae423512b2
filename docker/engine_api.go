package docker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// engineAPI asks the engine's HTTP API directly for the small reads that
// sit on hot paths (an image's id when a request is keyed, the version in
// /health): the docker CLI is a process start each time, tens of
// milliseconds of CPU that showed up as the reuse path's tail latency.
// It covers plain unix:// and tcp:// hosts; a host that needs TLS or ssh
// (or anything else the CLI resolves itself) leaves it nil and the CLI
// answers instead.
type engineAPI struct {
	client *http.Client
	base   string // scheme and authority the requests go to
}

// newEngineAPI returns the API client for host, or nil when the CLI must
// be used (TLS variables set, or a scheme other than unix and tcp).
func newEngineAPI(host string, env []string) *engineAPI {
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		if (k == "DOCKER_TLS_VERIFY" || k == "DOCKER_CERT_PATH" || k == "DOCKER_CONTEXT") && v != "" {
			return nil
		}
	}
	u, err := url.Parse(host)
	if err != nil {
		return nil
	}
	tr := &http.Transport{MaxIdleConns: 4, IdleConnTimeout: 30 * time.Second, DisableCompression: true}
	switch u.Scheme {
	case "unix":
		sock := u.Path
		tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		}
		return &engineAPI{client: &http.Client{Transport: tr}, base: "http://docker"}
	case "tcp":
		return &engineAPI{client: &http.Client{Transport: tr}, base: "http://" + u.Host}
	}
	return nil
}

// get reads path's JSON answer into out. A 404 is errNotFoundAPI; an
// engine that does not answer wraps ErrUnreachable.
func (a *engineAPI) get(ctx context.Context, host, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.base+path, nil)
	if err != nil {
		return err
	}
	resp, err := a.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("%w at %s: %v; %s", ErrUnreachable, host, err, StartHint)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("%w at %s: %v; %s", ErrUnreachable, host, err, StartHint)
	}
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return errNotFoundAPI
	case resp.StatusCode != http.StatusOK:
		var m struct{ Message string }
		json.Unmarshal(body, &m)
		return fmt.Errorf("engine answered %s: %s", resp.Status, m.Message)
	}
	return json.Unmarshal(body, out)
}

var errNotFoundAPI = errors.New("engine answered 404")

// imageID is ImageID through the API (GET /images/{name}/json).
func (a *engineAPI) imageID(ctx context.Context, host, ref string) (string, error) {
	if ref == "" || strings.ContainsAny(ref, "?#% \t\n") {
		return "", fmt.Errorf("image %q: not an image reference", ref)
	}
	var img struct {
		ID string `json:"Id"`
	}
	err := a.get(ctx, host, "/images/"+ref+"/json", &img)
	if errors.Is(err, errNotFoundAPI) {
		return "", fmt.Errorf("image %s: %w", ref, ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("image %s: %w", ref, err)
	}
	return img.ID, nil
}

// version is Version through the API (GET /version).
func (a *engineAPI) version(ctx context.Context, host string) (string, error) {
	var v struct{ Version string }
	if err := a.get(ctx, host, "/version", &v); err != nil {
		if !errors.Is(err, ErrUnreachable) {
			return "", fmt.Errorf("%w at %s: %v; %s", ErrUnreachable, host, err, StartHint)
		}
		return "", err
	}
	return v.Version, nil
}
