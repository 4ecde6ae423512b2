package docker

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestHostOf(t *testing.T) {
	for _, tc := range []struct {
		env  []string
		want string
	}{
		{nil, DefaultHost},
		{[]string{"DOCKER_HOST="}, DefaultHost},
		{[]string{"DOCKER_HOST=unix:///a.sock", "PATH=/bin", "DOCKER_HOST=unix:///b.sock"}, "unix:///b.sock"},
	} {
		if got := hostOf(tc.env); got != tc.want {
			t.Errorf("hostOf(%q) = %q, want %q", tc.env, got, tc.want)
		}
	}
}

func TestCommandUsesGivenEnv(t *testing.T) {
	c := MustNew(t, []string{"DOCKER_HOST=unix:///x.sock"})
	cmd := c.Command(context.Background(), "ps", "-a")
	if got, want := cmd.Args[1:], []string{"ps", "-a"}; !slices.Equal(got, want) {
		t.Errorf("args = %q, want %q", got, want)
	}
	if got, want := cmd.Env, []string{"DOCKER_HOST=unix:///x.sock"}; !slices.Equal(got, want) {
		t.Errorf("env = %q, want %q", got, want)
	}
	if got, want := c.Host(), "unix:///x.sock"; got != want {
		t.Errorf("Host() = %q, want %q", got, want)
	}
}

func TestVersionUnreachable(t *testing.T) {
	host := "unix://" + filepath.Join(t.TempDir(), "none.sock")
	c := MustNew(t, append(os.Environ(), "DOCKER_HOST="+host))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	v, err := c.Version(ctx)
	if !errors.Is(err, ErrUnreachable) || v != "" {
		t.Fatalf("Version = %q, %v, want ErrUnreachable", v, err)
	}
	for _, want := range []string{"Docker engine is not reachable at " + host, "scripts/start-dockerd.sh"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Version error %q does not contain %q", err, want)
		}
	}
}

func TestHostMirror(t *testing.T) {
	root := filepath.Join("testdata", "apt")
	for suite, want := range map[string]string{
		"bookworm":          "http://mirror.example/debian",
		"bookworm-security": "http://security.example/debian-security",
		"jammy":             "http://list.example/ubuntu",
		"trixie":            "",
	} {
		if got := hostMirror(suite, root); got != want {
			t.Errorf("hostMirror(%q) = %q, want %q", suite, got, want)
		}
	}
}

func TestPickAptOptions(t *testing.T) {
	dump := []byte(`APT "";
Acquire::Check-Valid-Until "false";
Acquire::http::Proxy "http://127.0.0.1:3142";
Acquire::Languages "none";
Acquire::Check-Date "false";
`)
	got := pickAptOptions(dump)
	want := []string{`Acquire::Check-Valid-Until "false";`, `Acquire::http::Proxy "http://127.0.0.1:3142";`, `Acquire::Check-Date "false";`}
	if !slices.Equal(got, want) {
		t.Errorf("pickAptOptions = %q, want %q", got, want)
	}
}

func TestEnsureBaseImageRefusesBadSuite(t *testing.T) {
	c := MustNew(t, []string{"DOCKER_HOST=unix:///nonexistent.sock"})
	if _, err := c.EnsureBaseImage(context.Background(), "x:y", "../etc", "", nil); err == nil || !strings.Contains(err.Error(), "invalid suite") {
		t.Errorf("EnsureBaseImage(suite ../etc) = %v, want invalid suite", err)
	}
}

func TestRemoveContainersRefusesEmptySelector(t *testing.T) {
	c := MustNew(t, []string{"DOCKER_HOST=unix:///nonexistent.sock"})
	if _, err := c.RemoveContainers(context.Background(), " "); err == nil {
		t.Error("RemoveContainers(\" \") succeeded, want error")
	}
}

// MustNew returns a Client with env, skipping the test when there is no
// docker CLI at all.
func MustNew(tb testing.TB, env []string) *Client {
	tb.Helper()
	c, err := New("", env)
	if err != nil {
		tb.Skipf("no docker CLI: %v", err)
	}
	return c
}

func TestEnsureBaseImageBuildsOnce(t *testing.T) {
	c := MustNew(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := c.Version(ctx); err != nil {
		if os.Getenv("BAKEHOUSE_INTEGRATION") == "1" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	var builds atomic.Int32
	c.buildBase = func(ctx context.Context, suite, tarPath string, logf func(string)) error {
		builds.Add(1)
		time.Sleep(300 * time.Millisecond) // let the other caller arrive
		return writeTinyTar(tarPath)
	}
	ref := fmt.Sprintf("bakehouse-test/once:%d", time.Now().UnixNano())
	t.Cleanup(func() { c.run(context.Background(), "rmi", "--force", ref) })
	cache := t.TempDir()
	ids := make([]string, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Go(func() { ids[i], errs[i] = c.EnsureBaseImage(ctx, ref, "bookworm", cache, func(s string) { t.Log(s) }) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil || !strings.HasPrefix(ids[i], "sha256:") {
			t.Fatalf("EnsureBaseImage #%d = %q, %v", i, ids[i], err)
		}
	}
	if ids[0] != ids[1] {
		t.Errorf("callers got different images %s and %s", ids[0], ids[1])
	}
	if n := builds.Load(); n != 1 {
		t.Errorf("built %d times, want 1", n)
	}
	if _, err := os.Stat(filepath.Join(cache, "mmdebstrap-apt-bookworm.tar")); err != nil {
		t.Errorf("tarball not cached: %v", err)
	}
	// With the image gone, the cached tarball is imported without a build.
	if _, err := c.run(ctx, "rmi", "--force", ref); err != nil {
		t.Fatal(err)
	}
	if _, err := c.EnsureBaseImage(ctx, ref, "bookworm", cache, func(s string) { t.Log(s) }); err != nil {
		t.Fatal(err)
	}
	if n := builds.Load(); n != 1 {
		t.Errorf("built %d times after re-import, want 1", n)
	}
}

// writeTinyTar writes a one-file tarball: enough for docker import.
func writeTinyTar(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(f)
	body := []byte("not a real root file system\n")
	if err := tw.WriteHeader(&tar.Header{Name: "README", Mode: 0o644, Size: int64(len(body))}); err != nil {
		return err
	}
	if _, err := tw.Write(body); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return f.Close()
}
