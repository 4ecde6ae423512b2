package docker

import (
	"context"
	"sync"
)

// SSHBasePackages are what EnsureSSHBaseImage adds to the plain base: an
// SSH server (it pulls in openssh-client, whose scp Packer's file uploads
// use) and sudo, what logging in to a cloud instance needs.
var SSHBasePackages = []string{"openssh-server", "sudo"}

// sshBaseMu serialises EnsureSSHBaseImage within the process (a lock file
// in the cache directory does it across processes). It is not baseMu, so
// that a plain base image is not held up by an SSH one being bootstrapped.
var sshBaseMu sync.Mutex

// sshBase is the SSH flavor of the base image, without host keys: each
// container makes its own, as an instance does when it first boots.
var sshBase = baseFlavor{
	what: "ssh base image", suffix: "-ssh", lockName: ".ssh-base-image.lock", mu: &sshBaseMu,
	label: "io.bakehouse.base-flavor=ssh", includes: SSHBasePackages,
	build: func(*Client) func(context.Context, string, string, func(string)) error {
		return func(ctx context.Context, suite, tarPath string, logf func(string)) error {
			return mmdebstrapWith(ctx, suite, tarPath, logf, SSHBasePackages, sshHostKeyHooks)
		}
	},
}

// sshHostKeyHooks remove the SSH host keys the packages' postinst made.
var sshHostKeyHooks = []string{`rm -f "$1"/etc/ssh/ssh_host_*_key "$1"/etc/ssh/ssh_host_*_key.pub`}

// EnsureSSHBaseImage is EnsureBaseImage for an image that can be logged into
// over SSH, as a cloud instance is: Debian suite bootstrapped with
// mmdebstrap --variant=apt --include=openssh-server,sudo, with no SSH host
// keys in it, docker-imported as ref. With a cacheDir the tarball is kept
// there (as mmdebstrap-apt-SUITE-ssh.tar) and reused by later imports.
// Nothing is started: sshd runs per connection (sshd -i) in the test
// doubles that use the image. logf, if not nil, gets progress lines.
//
// Production does not call it: the EC2 test double's instances run this
// image (dockertest.MustSSHImage), so that Bakehouse's aws-ebs.json is
// baked unchanged over SSH. It shares ensureBase, and so its caching and
// locking, with the EnsureBaseImage that docker bakes use.
func (c *Client) EnsureSSHBaseImage(ctx context.Context, ref, suite, cacheDir string, logf func(string)) (string, error) {
	return c.ensureBase(ctx, ref, suite, cacheDir, logf, sshBase)
}
