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
	"regexp"
	"strings"
	"sync"
)

// baseMu serialises EnsureBaseImage within the process; a lock file in the
// cache directory does the same across processes (parallel test binaries,
// two bakeries on one engine).
var baseMu sync.Mutex

// suitePattern is what a Debian suite or codename looks like; anything else
// is refused before it reaches a file name or mmdebstrap's argv.
var suitePattern = regexp.MustCompile(`^[a-z][a-z0-9.-]*$`)

// EnsureBaseImage returns the ID of image ref, first making it if the engine
// lacks it: no registry is reachable, so a Debian suite is bootstrapped with
// mmdebstrap --variant=apt into a tarball and docker-imported as ref. With a
// cacheDir the tarball is kept there (as mmdebstrap-apt-SUITE.tar) and reused
// by later imports; delete it to bootstrap afresh. Concurrent callers wait
// for one build instead of each making their own. logf, if not nil, gets
// progress lines.
func (c *Client) EnsureBaseImage(ctx context.Context, ref, suite, cacheDir string, logf func(string)) (string, error) {
	return c.ensureBase(ctx, ref, suite, cacheDir, logf, plainBase)
}

// baseFlavor is one kind of bootstrapped base image: the plain one bakes
// start from, or one with extra packages (the SSH one the EC2 double's
// instances run).
type baseFlavor struct {
	what     string // in error messages: "base image", "ssh base image"
	suffix   string // of the cached tarball's name: "", "-ssh"
	lockName string // lock file in the cache directory
	mu       *sync.Mutex
	label    string   // extra LABEL for docker import, or ""
	includes []string // mmdebstrap --include (for messages)
	build    func(c *Client) func(ctx context.Context, suite, tarPath string, logf func(string)) error
}

var plainBase = baseFlavor{
	what: "base image", lockName: ".base-image.lock", mu: &baseMu,
	build: func(c *Client) func(context.Context, string, string, func(string)) error { return c.buildBase },
}

func (c *Client) ensureBase(ctx context.Context, ref, suite, cacheDir string, logf func(string), f baseFlavor) (string, error) {
	if logf == nil {
		logf = func(string) {}
	}
	if !suitePattern.MatchString(suite) {
		return "", fmt.Errorf("%s %s: invalid suite %q", f.what, ref, suite)
	}
	if id, err := c.ImageID(ctx, ref); err == nil || !errors.Is(err, ErrNotFound) {
		return id, err
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	workDir := cacheDir
	if workDir == "" {
		d, err := os.MkdirTemp("", "bakehouse-base-")
		if err != nil {
			return "", fmt.Errorf("%s %s: %w", f.what, ref, err)
		}
		defer os.RemoveAll(d)
		workDir = d
	} else {
		if err := os.MkdirAll(cacheDir, 0o755); err != nil {
			return "", fmt.Errorf("%s %s: %w", f.what, ref, err)
		}
		unlock, err := lockFile(ctx, filepath.Join(cacheDir, f.lockName))
		if err != nil {
			return "", fmt.Errorf("%s %s: %w", f.what, ref, err)
		}
		defer unlock()
	}
	// Another caller may have made it while this one waited.
	if id, err := c.ImageID(ctx, ref); err == nil || !errors.Is(err, ErrNotFound) {
		return id, err
	}

	tarPath := filepath.Join(workDir, "mmdebstrap-apt-"+suite+f.suffix+".tar")
	if _, err := os.Stat(tarPath); err != nil {
		msg := fmt.Sprintf("bootstrapping Debian %s with mmdebstrap into %s", suite, tarPath)
		if len(f.includes) > 0 {
			msg = fmt.Sprintf("bootstrapping Debian %s with %s into %s", suite, strings.Join(f.includes, ", "), tarPath)
		}
		logf(msg)
		tmp := tarPath + ".partial"
		os.Remove(tmp)
		if err := f.build(c)(ctx, suite, tmp, logf); err != nil {
			os.Remove(tmp)
			return "", fmt.Errorf("%s %s: %w", f.what, ref, err)
		}
		if err := os.Rename(tmp, tarPath); err != nil {
			return "", fmt.Errorf("%s %s: %w", f.what, ref, err)
		}
	} else {
		logf("reusing cached " + tarPath)
	}
	logf(fmt.Sprintf("importing %s as %s", tarPath, ref))
	label := "LABEL io.bakehouse.base-suite=" + suite
	if f.label != "" {
		label += " " + f.label
	}
	message := "bakehouse: mmdebstrap --variant=apt "
	if len(f.includes) > 0 {
		message += "--include=" + strings.Join(f.includes, ",") + " "
	}
	if _, err := c.run(ctx, "import", "--change", `CMD ["/bin/bash"]`, "--change", label,
		"--message", message+suite, tarPath, ref); err != nil {
		return "", fmt.Errorf("%s %s: %w", f.what, ref, err)
	}
	return c.ImageID(ctx, ref)
}

// mmdebstrap bootstraps suite into the tarball tarPath, streaming its
// progress to logf. It uses the host's apt mirror for suite when one is
// configured (a CI mirror may be the only one reachable) and the host's
// proxy and validity settings, which mmdebstrap's own apt does not read.
func mmdebstrap(ctx context.Context, suite, tarPath string, logf func(string)) error {
	return mmdebstrapWith(ctx, suite, tarPath, logf, nil, nil)
}

// mmdebstrapWith is mmdebstrap with extra packages and customize hooks.
func mmdebstrapWith(ctx context.Context, suite, tarPath string, logf func(string), includes, hooks []string) error {
	if _, err := exec.LookPath("mmdebstrap"); err != nil {
		return fmt.Errorf("mmdebstrap not found (install it: apt-get install -y mmdebstrap): %w", err)
	}
	args := []string{"--variant=apt", "--format=tar"}
	if len(includes) > 0 {
		args = append(args, "--include="+strings.Join(includes, ","))
	}
	if opts := hostAptOptions(ctx); len(opts) > 0 {
		for _, opt := range opts {
			args = append(args, "--aptopt="+opt)
		}
		// mmdebstrap keeps --aptopt in the image; the host's proxy (perhaps
		// with credentials) and relaxed checks must not ship in it.
		args = append(args, `--customize-hook=rm -f "$1/etc/apt/apt.conf.d/99mmdebstrap"`)
	}
	for _, h := range hooks {
		args = append(args, "--customize-hook="+h)
	}
	args = append(args, suite, tarPath)
	if m := hostMirror(suite, "/"); m != "" {
		args = append(args, m)
		logf("mmdebstrap mirror: " + m)
	} else {
		logf("mmdebstrap mirror: its default (no host apt source for " + suite + ")")
	}
	cmd := exec.CommandContext(ctx, "mmdebstrap", args...)
	cmd.Stdin = nil // mmdebstrap reads sources from stdin when it is a pipe
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
