package docker_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/bakehouse/bakehouse/docker"
	"github.com/bakehouse/bakehouse/docker/dockertest"
)

func TestEnsureBaseImageRealDebian(t *testing.T) {
	c := dockertest.MustEngine(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	id := dockertest.MustBaseImage(t, c)
	got, err := c.ImageID(ctx, dockertest.BaseImage)
	if err != nil || got != id {
		t.Fatalf("ImageID(%s) = %q, %v; want %q", dockertest.BaseImage, got, err, id)
	}
	out, err := c.RunImage(ctx, dockertest.BaseImage, "sh", "-c", ". /etc/os-release && echo $VERSION_CODENAME && apt-get --version | head -n1 && cat /proc/net/dev")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out, "bookworm\napt ") {
		t.Errorf("base image reports %q, want bookworm with apt", out)
	}
	// --network=none: only loopback.
	for _, line := range strings.Split(out, "\n") {
		if name, _, ok := strings.Cut(strings.TrimSpace(line), ":"); ok && !strings.Contains(name, " ") && name != "lo" && !strings.HasPrefix(line, "Inter-") {
			t.Errorf("container has network interface %q", name)
		}
	}
}

func TestImageIDNotFound(t *testing.T) {
	c := dockertest.MustEngine(t)
	_, err := c.ImageID(context.Background(), "bakehouse-test/does-not-exist:never")
	if !errors.Is(err, docker.ErrNotFound) {
		t.Errorf("ImageID(missing) = %v, want ErrNotFound", err)
	}
}

func TestRemoveContainers(t *testing.T) {
	c := dockertest.MustEngine(t)
	ctx := context.Background()
	dockertest.MustBaseImage(t, c)
	sel := docker.LabelBakeID + "=test-" + strings.ReplaceAll(t.Name(), "/", "-") + "-" + time.Now().Format("150405.000000")
	for range 2 {
		dockertest.MustDocker(t, c, "create", "--network=none", "--label", docker.LabelManaged+"=true", "--label", sel, dockertest.BaseImage, "true")
	}
	// A container with the bake's label that Bakehouse did not start (one
	// run from the baked image) is left alone.
	user := strings.TrimSpace(dockertest.MustDocker(t, c, "create", "--network=none", "--label", docker.LabelManaged+"=false", "--label", sel, dockertest.BaseImage, "true"))
	t.Cleanup(func() { dockertest.MustDocker(t, c, "rm", "--force", user) })
	n, err := c.RemoveContainers(ctx, sel)
	if err != nil || n != 2 {
		t.Fatalf("RemoveContainers = %d, %v; want 2", n, err)
	}
	if n, err := c.RemoveContainers(ctx, sel); err != nil || n != 0 {
		t.Errorf("second RemoveContainers = %d, %v; want 0", n, err)
	}
	if out := dockertest.MustDocker(t, c, "ps", "-a", "-q", "--filter", "id="+user); strings.TrimSpace(out) == "" {
		t.Error("RemoveContainers removed a container not managed by Bakehouse")
	}
}

func TestRunImageCanceledRemovesContainer(t *testing.T) {
	c := dockertest.MustEngine(t)
	dockertest.MustBaseImage(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	// A unique duration finds this test's container among others'.
	secs := fmt.Sprintf("60.%d", time.Now().UnixNano())
	if _, err := c.RunImage(ctx, dockertest.BaseImage, "sleep", secs); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("RunImage = %v, want deadline exceeded", err)
	}
	out := dockertest.MustDocker(t, c, "ps", "-a", "--no-trunc", "--format", "{{.ID}} {{.Command}}", "--filter", "label="+docker.LabelManaged)
	if strings.Contains(out, secs) {
		t.Errorf("container still there after cancel: %q", out)
	}
}

func TestFindImages(t *testing.T) {
	c := dockertest.MustEngine(t)
	ctx := context.Background()
	dockertest.MustBaseImage(t, c)
	run := strings.ReplaceAll(strings.ToLower(t.Name()), "/", "-") + time.Now().Format("150405000000")
	ctr := strings.TrimSpace(dockertest.MustDocker(t, c, "create", "--network=none", dockertest.BaseImage, "true"))
	t.Cleanup(func() { dockertest.MustDocker(t, c, "rm", "--force", ctr) })
	var ids []string
	for i, app := range []string{"mypackage-1.0-h1.abc/job/1", "mypackage-1.1-h2.def/job/2", "other-1.0-h1.abc/job/1"} {
		tag := fmt.Sprintf("bakehouse-test/%s:%d", run, i)
		id := strings.TrimSpace(dockertest.MustDocker(t, c, "commit", "--change", "LABEL run="+run, "--change", "LABEL appversion="+app, ctr, tag))
		t.Cleanup(func() { dockertest.MustDocker(t, c, "rmi", "--force", tag) })
		ids = append(ids, id)
		time.Sleep(10 * time.Millisecond)
	}
	got, err := c.FindImages(ctx, []string{"run=" + run})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].ID != ids[2] || got[2].ID != ids[0] || got[0].Labels["appversion"] != "other-1.0-h1.abc/job/1" ||
		len(got[1].Tags) != 1 || got[1].Tags[0] != fmt.Sprintf("bakehouse-test/%s:1", run) || got[1].Created.IsZero() {
		t.Fatalf("FindImages = %+v; want the three images newest first with tags, labels and times (ids %v)", got, ids)
	}
	got, err = c.FindImages(ctx, []string{"run=" + run, "appversion=mypackage-1.0-h1.abc/job/1"})
	if err != nil || len(got) != 1 || got[0].ID != ids[0] {
		t.Fatalf("FindImages with two labels = %+v, %v; want only the first image", got, err)
	}
	if got, err := c.FindImages(ctx, []string{"run=nothing-" + run}); err != nil || len(got) != 0 {
		t.Fatalf("FindImages(no match) = %+v, %v", got, err)
	}
	if _, err := c.FindImages(ctx, []string{"a\nb"}); err == nil {
		t.Fatal("a label filter with a newline was accepted")
	}
}
