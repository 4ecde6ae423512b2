package ec2test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// ownNetworkEnv marks the child process OwnNetworkForSSH starts.
const ownNetworkEnv = "EC2TEST_OWN_NETWORK"

// OwnNetworkForSSH makes sure the test can run instances that serve SSH on
// port 22 (WithMachines). When this process can listen there it returns
// (false, nil): go on. When it cannot (it is not root, or something such
// as the host's own sshd listens on 0.0.0.0:22, which takes port 22 of
// every loopback address), it runs the test again in a child process with
// a network namespace of its own (only loopback; nothing listens), logs
// the child's output, ends the test as the child's ended and returns
// (true, nil): the caller returns at once. Everything such tests talk to
// is on loopback, so the child sees the same world, provided the Docker
// engine is reached through a unix socket. Make what needs the outside
// network (base images) before calling it. An error means neither way
// works: skip or fail on it.
func OwnNetworkForSSH(t *testing.T) (reran bool, err error) {
	t.Helper()
	if os.Getenv(ownNetworkEnv) == "1" {
		if err := loopbackUp(); err != nil {
			return false, fmt.Errorf("ec2test: bring up lo in the test's network namespace: %w", err)
		}
		return false, CanListenSSH(22)
	}
	direct := CanListenSSH(22)
	if direct == nil {
		return false, nil
	}
	attr, err := netnsAttr()
	if err != nil {
		return false, fmt.Errorf("%w; and no network namespace of its own: %v", direct, err)
	}
	var run []string
	for _, part := range strings.Split(t.Name(), "/") {
		run = append(run, "^"+regexp.QuoteMeta(part)+"$")
	}
	args := []string{"-test.run=" + strings.Join(run, "/"), "-test.v=true", "-test.count=1"}
	if d, ok := t.Deadline(); ok {
		args = append(args, "-test.timeout="+time.Until(d).Round(time.Second).String())
	}
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), ownNetworkEnv+"=1")
	cmd.SysProcAttr = attr
	t.Logf("%v: running %s again in a network namespace of its own", direct, t.Name())
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		return false, fmt.Errorf("%w; and no network namespace of its own: %v", direct, err)
	}
	switch {
	case err != nil || strings.Contains(string(out), "--- FAIL: "+t.Name()):
		t.Fatalf("in its own network namespace: %v\n%s", err, out)
	case strings.Contains(string(out), "--- SKIP: "+t.Name()):
		t.Skipf("in its own network namespace:\n%s", out)
	case !strings.Contains(string(out), "--- PASS: "+t.Name()):
		t.Fatalf("in its own network namespace the test did not run:\n%s", out)
	}
	t.Logf("in its own network namespace:\n%s", out)
	return true, nil
}
