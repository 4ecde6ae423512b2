package templates_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bakehouse/bakehouse/docker"
	"github.com/bakehouse/bakehouse/docker/dockertest"
	"github.com/bakehouse/bakehouse/repo"
	"github.com/bakehouse/bakehouse/templates"
)

// TestBakeEndToEnd bakes the sample package into a Docker image with the
// real Packer and the shipped docker.json, exactly as Rosco's docker recipe
// would call it, and runs the result.
func TestBakeEndToEnd(t *testing.T) {
	packer := mustPacker(t)
	c := dockertest.MustEngine(t)
	dockertest.MustBaseImage(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	configDir := t.TempDir()
	if err := templates.Install(configDir); err != nil {
		t.Fatal(err)
	}
	r, err := repo.Open(filepath.Join(t.TempDir(), "repo"))
	if err != nil {
		t.Fatal(err)
	}
	deb := filepath.Join(t.TempDir(), "debs")
	out, err := exec.Command(filepath.Join("..", "scripts", "build-sample-deb.sh"), deb).CombinedOutput()
	if err != nil {
		t.Fatalf("build-sample-deb.sh: %v\n%s", err, out)
	}
	f, err := os.Open(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := r.Add(filepath.Base(f.Name()), f); err != nil {
		t.Fatal(err)
	}
	version, ok := r.Resolve("armory-hello-deploy")
	if !ok {
		t.Fatal("sample package not in the repository")
	}

	bake := func(t *testing.T, bakeID string, vars ...string) string {
		t.Helper()
		args := []string{"build", "-color=false"}
		for _, v := range vars {
			args = append(args, "-var", v)
		}
		args = append(args, "-var", "configDir="+configDir, filepath.Join(configDir, templates.DockerTemplate))
		cmd := exec.CommandContext(ctx, packer, args...)
		cmd.Env = packerEnv("BAKEHOUSE_REPO_DIR="+r.Dir(), "BAKEHOUSE_BAKE_ID="+bakeID, "PACKER_TMP_DIR="+t.TempDir())
		var log bytes.Buffer
		cmd.Stdout, cmd.Stderr = &log, &log
		start := time.Now()
		err := cmd.Run()
		t.Logf("packer build took %s", time.Since(start).Round(10*time.Millisecond))
		if err != nil {
			t.Fatalf("packer build: %v\n%s", err, log.String())
		}
		if n, err := c.RemoveContainers(ctx, docker.LabelBakeID+"="+bakeID); err != nil || n != 0 {
			t.Errorf("%d containers labelled with bake %s remained (err %v)\n%s", n, bakeID, err, log.String())
		}
		return log.String()
	}

	t.Run("rosco argv", func(t *testing.T) {
		bakeID := fmt.Sprintf("e2e-%d", time.Now().UnixNano())
		const ref = "bakehouse/armory-hello-deploy:test"
		t.Cleanup(func() { c.Command(context.Background(), "rmi", "--force", ref).Run() })
		log := bake(t, bakeID,
			"docker_source_image="+dockertest.BaseImage,
			"docker_target_image=armory-hello-deploy",
			"docker_target_image_tag=test",
			"docker_target_repository=bakehouse",
			"build_info_url=http://jenkins.example/job/hello/5/",
			"appversion=armory-hello-deploy-0.5.0-h5.c4baff4/hello/5",
			"repository=[trusted=yes] file:/bakehouse/repo ./",
			"package_type=deb",
			"packages=armory-hello-deploy="+version,
		)
		if !strings.Contains(log, "Setting up armory-hello-deploy ("+version+")") {
			t.Errorf("packer log does not show the package being installed:\n%s", log)
		}
		got, err := c.RunImage(ctx, ref, "hello-deploy")
		if err != nil {
			t.Fatal(err)
		}
		if want := "hello deploy " + version + "\n"; got != want {
			t.Errorf("hello-deploy printed %q, want %q", got, want)
		}
		labels := dockertest.MustDocker(t, c, "inspect", "--format",
			`{{index .Config.Labels "appversion"}}|{{index .Config.Labels "build_info_url"}}|{{index .Config.Labels "io.bakehouse.bake-id"}}|{{index .Config.Labels "io.bakehouse.managed"}}|{{json .Config.Entrypoint}}|{{json .Config.Cmd}}`, ref)
		want := "armory-hello-deploy-0.5.0-h5.c4baff4/hello/5|http://jenkins.example/job/hello/5/|" + bakeID + `|false|[""]|["/bin/bash"]` + "\n"
		if labels != want {
			t.Errorf("image config = %q\nwant %q", labels, want)
		}
	})

	// Rosco leaves docker_target_repository out when it is empty; the image
	// is then tagged with docker_target_image alone. This bake also takes
	// the upgrade path and an unpinned package.
	t.Run("empty target repository", func(t *testing.T) {
		bakeID := fmt.Sprintf("e2e-norepo-%d", time.Now().UnixNano())
		const ref = "bakehouse-e2e-norepo:test"
		t.Cleanup(func() { c.Command(context.Background(), "rmi", "--force", ref).Run() })
		bake(t, bakeID,
			"docker_source_image="+dockertest.BaseImage,
			"docker_target_image=bakehouse-e2e-norepo",
			"docker_target_image_tag=test",
			"appversion=armory-hello-deploy-0.5.0",
			"repository=[trusted=yes] file:/bakehouse/repo ./",
			"package_type=deb",
			"packages=armory-hello-deploy",
			"upgrade=true",
		)
		if _, err := c.ImageID(ctx, ref); err != nil {
			t.Fatalf("image %s: %v", ref, err)
		}
		if got, err := c.RunImage(ctx, ref, "hello-deploy"); err != nil || !strings.HasPrefix(got, "hello deploy") {
			t.Errorf("hello-deploy = %q, %v", got, err)
		}
	})
}
