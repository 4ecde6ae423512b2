package docker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// Labels Bakehouse puts on the containers it starts, so that containers left
// behind by a crash can be found and removed. docker commit copies a
// container's labels into the image, and containers inherit their image's
// labels, so a baked image sets LabelManaged to "false": containers users run
// from it must never look like Bakehouse's own.
const (
	LabelManaged = "io.bakehouse.managed" // "true" on every container Bakehouse starts
	LabelBakeID  = "io.bakehouse.bake-id" // the bake a build container belongs to
	labelRunID   = "io.bakehouse.run-id"  // one RunImage call, for cleanup on cancel
)

// RemoveContainers force-removes every container Bakehouse started
// (LabelManaged=true), running or not, that also matches labelSelector
// ("key" or "key=value", as docker ps --filter label= takes it), and returns
// how many it removed. Requiring LabelManaged keeps it off containers users
// run from baked images, which carry the bake's labels. An empty selector is
// refused rather than taken as "all".
func (c *Client) RemoveContainers(ctx context.Context, labelSelector string) (int, error) {
	if strings.TrimSpace(labelSelector) == "" {
		return 0, fmt.Errorf("remove containers: empty label selector")
	}
	out, err := c.run(ctx, "ps", "--all", "--quiet", "--no-trunc",
		"--filter", "label="+LabelManaged+"=true", "--filter", "label="+labelSelector)
	if err != nil {
		return 0, fmt.Errorf("remove containers %s: %w", labelSelector, err)
	}
	ids := strings.Fields(out)
	if len(ids) == 0 {
		return 0, nil
	}
	if _, err := c.run(ctx, append([]string{"rm", "--force", "--volumes"}, ids...)...); err != nil {
		return 0, fmt.Errorf("remove containers %s: %w", labelSelector, err)
	}
	return len(ids), nil
}

// RunImage runs cmd in a new container of image ref with no network and
// returns its stdout; the container is removed afterwards. It is for demos
// and tests that show what a bake produced. When ctx ends first the
// container is removed too, not left running.
func (c *Client) RunImage(ctx context.Context, ref string, cmd ...string) (string, error) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("run %s: %w", ref, err)
	}
	runID := hex.EncodeToString(b)
	args := []string{"run", "--rm", "--network=none",
		"--label", LabelManaged + "=true", "--label", labelRunID + "=" + runID,
		"--", ref}
	out, err := c.run(ctx, append(args, cmd...)...)
	if err != nil && ctx.Err() != nil {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		c.RemoveContainers(cctx, labelRunID+"="+runID) // best effort; ctx's error is the one to report
	}
	if err != nil {
		return out, fmt.Errorf("run %s: %w", ref, err)
	}
	return out, nil
}
