package dockertest

import (
	"context"
	"testing"
	"time"

	"github.com/bakehouse/bakehouse/docker"
)

// SSHImage is BaseImage's suite with openssh-server and sudo, made by
// EnsureSSHBaseImage: what the EC2 double's instances run
// (ec2test.DockerMachines).
const SSHImage = "bakehouse/debian-ssh:bookworm"

// MustSSHImage makes sure SSHImage exists and returns its ID. The first run
// bootstraps Debian with mmdebstrap (about a minute); the tarball is kept in
// CacheDir() next to the plain base image's.
func MustSSHImage(tb testing.TB, c *docker.Client) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	start := time.Now()
	id, err := c.EnsureSSHBaseImage(ctx, SSHImage, BaseSuite, CacheDir(), func(line string) { tb.Log(line) })
	if err != nil {
		tb.Fatalf("ssh base image: %v", err)
	}
	tb.Logf("ssh base image %s = %s (%s)", SSHImage, id, time.Since(start).Round(time.Millisecond))
	return id
}
