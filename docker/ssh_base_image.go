package docker

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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

// EnsureSSHBaseImage is EnsureBaseImage for an image that can be logged into
// over SSH, as a cloud instance is: Debian suite bootstrapped with
// mmdebstrap --variant=apt --include=openssh-server,sudo, with no SSH host
// keys in it (each container makes its own, as an instance does when it
// first boots), docker-imported as ref. With a cacheDir the tarball is kept
// there (as mmdebstrap-apt-SUITE-ssh.tar) and reused by later imports.
// Nothing is started: sshd runs per connection (sshd -i) in the test
// doubles that use the image. logf, if not nil, gets progress lines.
func (c *Client) EnsureSSHBaseImage(ctx context.Context, ref, suite, cacheDir string, logf func(string)) (string, error) {
	if logf == nil {
		logf = func(string) {}
	}
	if !suitePattern.MatchString(suite) {
		return "", fmt.Errorf("ssh base image %s: invalid suite %q", ref, suite)
	}
	if id, err := c.ImageID(ctx, ref); err == nil || !errors.Is(err, ErrNotFound) {
		return id, err
	}

	sshBaseMu.Lock()
	defer sshBaseMu.Unlock()
	workDir := cacheDir
	if workDir == "" {
		d, err := os.MkdirTemp("", "bakehouse-ssh-base-")
		if err != nil {
			return "", fmt.Errorf("ssh base image %s: %w", ref, err)
		}
		defer os.RemoveAll(d)
		workDir = d
	} else {
		if err := os.MkdirAll(cacheDir, 0o755); err != nil {
			return "", fmt.Errorf("ssh base image %s: %w", ref, err)
		}
		unlock, err := lockFile(ctx, filepath.Join(cacheDir, ".ssh-base-image.lock"))
		if err != nil {
			return "", fmt.Errorf("ssh base image %s: %w", ref, err)
		}
		defer unlock()
	}
	if id, err := c.ImageID(ctx, ref); err == nil || !errors.Is(err, ErrNotFound) {
		return id, err
	}

	tarPath := filepath.Join(workDir, "mmdebstrap-apt-"+suite+"-ssh.tar")
	if _, err := os.Stat(tarPath); err != nil {
		logf(fmt.Sprintf("bootstrapping Debian %s with %s into %s", suite, strings.Join(SSHBasePackages, ", "), tarPath))
		tmp := tarPath + ".partial"
		os.Remove(tmp)
		if err := mmdebstrapSSH(ctx, suite, tmp, logf); err != nil {
			os.Remove(tmp)
			return "", fmt.Errorf("ssh base image %s: %w", ref, err)
		}
		if err := os.Rename(tmp, tarPath); err != nil {
			return "", fmt.Errorf("ssh base image %s: %w", ref, err)
		}
	} else {
		logf("reusing cached " + tarPath)
	}
	logf(fmt.Sprintf("importing %s as %s", tarPath, ref))
	if _, err := c.run(ctx, "import",
		"--change", `CMD ["/bin/bash"]`,
		"--change", "LABEL io.bakehouse.base-suite="+suite+" io.bakehouse.base-flavor=ssh",
		"--message", "bakehouse: mmdebstrap --variant=apt --include="+strings.Join(SSHBasePackages, ",")+" "+suite,
		tarPath, ref); err != nil {
		return "", fmt.Errorf("ssh base image %s: %w", ref, err)
	}
	return c.ImageID(ctx, ref)
}

// mmdebstrapSSH is mmdebstrap (same mirror and apt options) with
// SSHBasePackages included and the SSH host keys their postinst made
// removed again.
func mmdebstrapSSH(ctx context.Context, suite, tarPath string, logf func(string)) error {
	if _, err := exec.LookPath("mmdebstrap"); err != nil {
		return fmt.Errorf("mmdebstrap not found (install it: apt-get install -y mmdebstrap): %w", err)
	}
	args := []string{"--variant=apt", "--format=tar", "--include=" + strings.Join(SSHBasePackages, ",")}
	if opts := hostAptOptions(ctx); len(opts) > 0 {
		for _, opt := range opts {
			args = append(args, "--aptopt="+opt)
		}
		args = append(args, `--customize-hook=rm -f "$1/etc/apt/apt.conf.d/99mmdebstrap"`)
	}
	args = append(args, `--customize-hook=rm -f "$1"/etc/ssh/ssh_host_*_key "$1"/etc/ssh/ssh_host_*_key.pub`)
	args = append(args, suite, tarPath)
	if m := hostMirror(suite, "/"); m != "" {
		args = append(args, m)
		logf("mmdebstrap mirror: " + m)
	} else {
		logf("mmdebstrap mirror: its default (no host apt source for " + suite + ")")
	}
	cmd := exec.CommandContext(ctx, "mmdebstrap", args...)
	cmd.Stdin = nil
	pr, pw := io.Pipe()
	cmd.Stdout = pw
	cmd.Stderr = pw
	var tail []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			line := sc.Text()
			logf(line)
			if tail = append(tail, line); len(tail) > 10 {
				tail = tail[1:]
			}
		}
		io.Copy(io.Discard, pr)
	}()
	err := cmd.Run()
	pw.Close()
	<-done
	if err != nil {
		return fmt.Errorf("mmdebstrap %s: %w: %s", suite, err, strings.Join(tail, "\n"))
	}
	return nil
}
