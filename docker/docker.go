// Package docker drives a Docker engine through the docker CLI (and, for the
// reads on hot paths, its HTTP API): checking the
// engine answers, making base images without a registry, and cleaning up
// after bakes. Bakes themselves run through Packer's docker builder.
package docker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// DefaultHost is where the docker CLI looks when DOCKER_HOST is unset.
const DefaultHost = "unix:///var/run/docker.sock"

// StartHint tells an operator how to get an engine; errors carry it.
const StartHint = "start one with scripts/start-dockerd.sh and export the DOCKER_HOST it prints"

// ErrUnreachable is wrapped by every error caused by the engine not
// answering, so callers can tell "no engine" from a failed command.
var ErrUnreachable = errors.New("Docker engine is not reachable")

// ErrNotFound is wrapped by ImageID's error when the image does not exist.
var ErrNotFound = errors.New("no such image")

// Client runs the docker CLI with a fixed environment. It owns that
// environment, so DOCKER_HOST comes from what New was given and not from
// the process, which lets one process talk to several engines.
type Client struct {
	path string
	env  []string
	host string
	api  *engineAPI // nil: every call goes through the CLI

	// buildBase makes a base image tarball; tests replace mmdebstrap with
	// something quicker.
	buildBase func(ctx context.Context, suite, tarPath string, logf func(string)) error
}

// New returns a Client for the docker CLI at dockerPath ("" looks up
// "docker" on PATH) with environment env (nil means this process's).
func New(dockerPath string, env []string) (*Client, error) {
	if dockerPath == "" {
		dockerPath = "docker"
	}
	p, err := exec.LookPath(dockerPath)
	if err != nil {
		return nil, fmt.Errorf("docker CLI %q not found (install it: apt-get install -y docker.io): %w", dockerPath, err)
	}
	if env == nil {
		env = os.Environ()
	}
	env = append([]string(nil), env...)
	c := &Client{path: p, env: env, host: hostOf(env)}
	c.api = newEngineAPI(c.host, env)
	c.buildBase = mmdebstrap
	return c, nil
}

// hostOf returns the engine address env selects, as the CLI resolves it: the
// last DOCKER_HOST wins, and an empty or missing one means DefaultHost.
func hostOf(env []string) string {
	host := ""
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "DOCKER_HOST="); ok {
			host = v
		}
	}
	if host == "" {
		return DefaultHost
	}
	return host
}

// Host returns the engine address this Client talks to.
func (c *Client) Host() string { return c.host }

// Version returns the engine's version (e.g. "20.10.24"), which also
// checks that it answers: serve shows it in /health, and tests ask it
// before using the engine. Its error wraps ErrUnreachable and says where
// it looked and how to start an engine.
func (c *Client) Version(ctx context.Context) (string, error) {
	if c.api != nil {
		return c.api.version(ctx, c.host)
	}
	out, err := c.run(ctx, "version", "--format", "{{.Server.Version}}")
	if err != nil && !errors.Is(err, ErrUnreachable) {
		// Any failure of "docker version" means no usable engine.
		return "", fmt.Errorf("%w at %s: %v; %s", ErrUnreachable, c.host, err, StartHint)
	}
	return strings.TrimSpace(out), err
}

// ImageID returns the ID (sha256:...) of the image ref. A missing image
// gives an error wrapping ErrNotFound.
func (c *Client) ImageID(ctx context.Context, ref string) (string, error) {
	if c.api != nil {
		return c.api.imageID(ctx, c.host, ref)
	}
	out, err := c.run(ctx, "image", "inspect", "--format", "{{.Id}}", "--", ref)
	if err != nil {
		if strings.Contains(strings.ToLower(err.Error()), "no such image") {
			return "", fmt.Errorf("image %s: %w", ref, ErrNotFound)
		}
		return "", fmt.Errorf("image %s: %w", ref, err)
	}
	return strings.TrimSpace(out), nil
}

// Command returns the *exec.Cmd for docker args with this Client's
// environment, for subcommands Client has no method for. Building it apart
// from running it also lets tests check argv and environment.
func (c *Client) Command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, c.path, args...)
	cmd.Env = c.env
	return cmd
}

// run runs docker args and returns its stdout. The error carries the
// command's stderr, and wraps ErrUnreachable when the engine did not answer.
func (c *Client) run(ctx context.Context, args ...string) (string, error) {
	var stdout, stderr bytes.Buffer
	cmd := c.Command(ctx, args...)
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	err := cmd.Run()
	if err == nil {
		return stdout.String(), nil
	}
	if ctx.Err() != nil {
		return "", fmt.Errorf("docker %s: %w", args[0], ctx.Err())
	}
	msg := strings.TrimSpace(stderr.String())
	if unreachable(msg) {
		return "", fmt.Errorf("%w at %s: %s; %s", ErrUnreachable, c.host, msg, StartHint)
	}
	if msg == "" {
		msg = err.Error()
	}
	return "", fmt.Errorf("docker %s: %s", args[0], msg)
}

// unreachable reports whether the CLI's stderr says it could not reach the
// engine (as opposed to the engine refusing the request).
func unreachable(stderr string) bool {
	s := strings.ToLower(stderr)
	return strings.Contains(s, "cannot connect to the docker daemon") ||
		strings.Contains(s, "error during connect") ||
		strings.Contains(s, "is the docker daemon running")
}
