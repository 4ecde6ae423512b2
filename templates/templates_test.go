package templates_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bakehouse/bakehouse/docker/dockertest"
	"github.com/bakehouse/bakehouse/templates"
)

func TestInstall(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "config")
	if err := templates.Install(dir); err != nil {
		t.Fatal(err)
	}
	for _, name := range templates.Names() {
		want, err := templates.Read(name)
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: installed content differs (err %v)", name, err)
		}
	}
	if fi, err := os.Stat(filepath.Join(dir, templates.InstallScript)); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("install script mode = %v, %v; want 0755", fi.Mode(), err)
	}

	// Bakehouse owns its names: a changed copy is replaced. Other files
	// (an operator's own templates) are left alone.
	own := filepath.Join(dir, "my_docker.json")
	mustWrite(t, own, "{}")
	mustWrite(t, filepath.Join(dir, templates.DockerTemplate), "{} edited")
	if err := templates.Install(dir); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(own); string(b) != "{}" {
		t.Errorf("operator file changed to %q", b)
	}
	want, _ := templates.Read(templates.DockerTemplate)
	if b, _ := os.ReadFile(filepath.Join(dir, templates.DockerTemplate)); !bytes.Equal(b, want) {
		t.Error("edited docker.json was not restored")
	}
	entries, _ := os.ReadDir(dir)
	if want := len(templates.Names()) + 1; len(entries) != want {
		t.Errorf("dir holds %d files, want %d (no temporary files left)", len(entries), want)
	}
}

func TestInstallUnchangedKeepsFiles(t *testing.T) {
	dir := t.TempDir()
	if err := templates.Install(dir); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, templates.DockerTemplate)
	old := time.Unix(1_000_000_000, 0)
	if err := os.Chtimes(file, old, old); err != nil {
		t.Fatal(err)
	}
	if err := templates.Install(dir); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(file); !fi.ModTime().Equal(old) {
		t.Errorf("unchanged %s was rewritten", templates.DockerTemplate)
	}
}

// TestDockerTemplateVariables checks docker.json declares every variable
// Rosco's docker recipe passes, so none is refused as undefined.
func TestDockerTemplateVariables(t *testing.T) {
	b, err := templates.Read(templates.DockerTemplate)
	if err != nil {
		t.Fatal(err)
	}
	var tpl struct {
		Variables map[string]*string `json:"variables"`
	}
	if err := json.Unmarshal(b, &tpl); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"docker_source_image", "docker_target_image", "docker_target_image_tag",
		"docker_target_repository", "build_info_url", "appversion", "repository", "package_type",
		"packages", "upgrade", "configDir", "bakehouse_repo_dir", "bakehouse_bake_id"} {
		if _, ok := tpl.Variables[name]; !ok {
			t.Errorf("docker.json does not declare %s", name)
		}
	}
	// Rosco drops an empty targetRepository from argv, so it must not be required.
	if v := tpl.Variables["docker_target_repository"]; v == nil || *v != "" {
		t.Errorf("docker_target_repository default = %v, want \"\"", v)
	}
}

// TestPackerValidate runs the real packer validate on every shipped
// template with the -var set of Rosco's docker recipe.
func TestPackerValidate(t *testing.T) {
	packer := mustPacker(t)
	dir := t.TempDir()
	if err := templates.Install(dir); err != nil {
		t.Fatal(err)
	}
	for name, args := range map[string][]string{
		"rosco argv": {"-var", "docker_source_image=ubuntu:precise", "-var", "docker_target_image=kato",
			"-var", "docker_target_image_tag=170cdbd", "-var", "docker_target_repository=my-docker-repository:5000",
			"-var", "build_info_url=http://some-build-server:8080/repogroup/repo/builds/320282",
			"-var", "appversion=1470391070464", "-var", "repository=http://some-debian-repository",
			"-var", "package_type=deb", "-var", "packages=kato nflx-djangobase-enhanced=0.1-h12.170cdbd mongodb",
			"-var", "configDir=" + dir},
		"no target repository, no configDir": {"-var", "docker_source_image=ubuntu:trusty",
			"-var", "docker_target_image=trojan-banker", "-var", "docker_target_image_tag=170cdbd",
			"-var", "appversion=trojan-banker-0.1", "-var", "package_type=deb", "-var", "packages=trojan-banker=0.1-3"},
	} {
		t.Run(name, func(t *testing.T) {
			for _, tpl := range []string{templates.DockerTemplate} {
				cmd := exec.Command(packer, append(append([]string{"validate"}, args...), filepath.Join(dir, tpl))...)
				cmd.Env = packerEnv()
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Errorf("packer validate %s: %v\n%s", tpl, err, out)
				}
			}
		})
	}
}

func TestPackerValidateRequiresSourceAndTarget(t *testing.T) {
	packer := mustPacker(t)
	dir := t.TempDir()
	if err := templates.Install(dir); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(packer, "validate", filepath.Join(dir, templates.DockerTemplate))
	cmd.Env = packerEnv()
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "docker_source_image") || !strings.Contains(string(out), "docker_target_image") {
		t.Errorf("packer validate without images = %v\n%s\nwant both required variables reported", err, out)
	}
}

func TestInstallScriptScrubsCredentials(t *testing.T) {
	dir := t.TempDir()
	if err := templates.Install(dir); err != nil {
		t.Fatal(err)
	}
	for _, shell := range []string{"bash", "sh"} {
		t.Run(shell, func(t *testing.T) { scrubs(t, shell, dir) })
	}
}

func scrubs(t *testing.T, shell, dir string) {
	cmd := exec.Command(shell, filepath.Join(dir, templates.InstallScript),
		"--repository", "https://user:s3cret@repo.example/debian stable main;[trusted=yes] file:/bakehouse/repo ./",
		"packages=a,b c", "--package_type", "none")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("package_type none succeeded:\n%s", out)
	}
	for _, want := range []string{
		"repository=https://repo.example/debian stable main;[trusted=yes] file:/bakehouse/repo ./",
		"packages=a b c", "package_type must be deb or rpm",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), "s3cret") {
		t.Errorf("output leaks the password:\n%s", out)
	}
}

func mustWrite(tb testing.TB, file, s string) {
	tb.Helper()
	mustWriteMode(tb, file, s, 0o644)
}

func mustWriteMode(tb testing.TB, file, s string, mode os.FileMode) {
	tb.Helper()
	if err := os.WriteFile(file, []byte(s), mode); err != nil {
		tb.Fatal(err)
	}
}

// mustPacker returns the path of packer, skipping (or failing under
// BAKEHOUSE_INTEGRATION=1) when it is not installed.
func mustPacker(tb testing.TB) string {
	tb.Helper()
	p, err := exec.LookPath("packer")
	if err != nil {
		dockertest.SkipOrFail(tb, "packer not installed (apt-get install -y packer): %v", err)
	}
	return p
}

// packerEnv is the environment tests run packer with: no update check
// (it would call out to checkpoint-api.hashicorp.com).
func packerEnv(extra ...string) []string {
	return append(append(os.Environ(), "CHECKPOINT_DISABLE=1"), extra...)
}
