package bakery

import (
	"strings"
	"testing"
	"time"

	"github.com/bakehouse/bakehouse"
)

func TestPhaseOf(t *testing.T) {
	for line, want := range map[string]string{
		"==> docker: Provisioning with shell script: /x/install_packages.sh": "provision",
		"==> docker: Committing the container":                               "snapshot",
		"==> amazon-ebs: Creating AMI kato-all-1 from instance i-1":          "snapshot",
		"==> docker: Running post-processor: docker-tag":                     "tag_copy",
		"    docker: Setting up armory-hello-deploy (0.5.0-h5.c4baff4) ...":  "",
	} {
		if got := phaseOf(line); got != want {
			t.Errorf("phaseOf(%q) = %q, want %q", line, got, want)
		}
	}
}

func TestPhaseTracker(t *testing.T) {
	now := time.Unix(0, 0)
	pt := &phaseTracker{now: func() time.Time { return now }}
	pt.enter("base_image")
	now = now.Add(2 * time.Second)
	pt.enter("provision")
	pt.enter("provision") // repeated lines do not split a phase
	now = now.Add(3 * time.Second)
	pt.enter("snapshot")
	now = now.Add(time.Second)
	got := pt.done()
	want := []struct {
		name string
		secs float64
	}{{"base_image", 2}, {"provision", 3}, {"snapshot", 1}}
	if len(got) != len(want) {
		t.Fatalf("phases = %+v", got)
	}
	for i, w := range want {
		if got[i].Name != w.name || got[i].Seconds != w.secs {
			t.Errorf("phase %d = %s %.1fs, want %s %.1fs", i, got[i].Name, got[i].Seconds, w.name, w.secs)
		}
	}
}

func TestSplitDebVersion(t *testing.T) {
	for in, want := range map[string][2]string{
		"0.5.0-h5.c4baff4": {"0.5.0", "h5.c4baff4"},
		"1:2.3-4-5":        {"1:2.3-4", "5"},
		"7":                {"7", ""},
	} {
		v, r := splitDebVersion(in)
		if v != want[0] || r != want[1] {
			t.Errorf("splitDebVersion(%q) = %q, %q; want %q, %q", in, v, r, want[0], want[1])
		}
	}
}

func TestPlanDiffNamesWhatChanged(t *testing.T) {
	old := bakehouse.Plan{BaseImage: "img@sha256:a", Packages: []bakehouse.PlanPackage{{Name: "kato", Version: "1.0", Release: "1"}}}
	cur := bakehouse.Plan{BaseImage: "img@sha256:b", Packages: []bakehouse.PlanPackage{{Name: "kato", Version: "1.1", Release: "1"}}}
	d := planDiff(old, cur)
	if len(d) != 2 || d[0] != "base image img@sha256:a -> img@sha256:b" || d[1] != "packages kato=1.0-1 -> kato=1.1-1" {
		t.Fatalf("planDiff = %q", d)
	}
	if d := planDiff(old, old); len(d) != 0 {
		t.Fatalf("planDiff of equal plans = %q", d)
	}
}

type fakeRepo map[string][2]string

func (r fakeRepo) Resolve(name string) (string, string, bool) {
	v, ok := r[name]
	return v[0], v[1], ok
}
func (r fakeRepo) Dir() string { return "/repo" }

func TestResolvePackagesPinsUnversionedNames(t *testing.T) {
	s := &Service{repo: fakeRepo{"kato": {"1.2-h3.abc", "all"}}}
	req := bakehouse.BakeRequest{Package: "kato mongodb redis_6.0-1_amd64", BaseOS: "bookworm"}
	got, pkgs, warnings := s.resolvePackages(req, "docker")
	if got.Package != "kato_1.2-h3.abc_all mongodb redis_6.0-1_amd64" {
		t.Fatalf("resolved package list = %q", got.Package)
	}
	if !pkgs[0].Resolved || pkgs[0].Version != "1.2" || pkgs[0].Release != "h3.abc" || pkgs[1].Resolved || pkgs[2].Resolved {
		t.Fatalf("packages = %+v", pkgs)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "mongodb") {
		t.Fatalf("warnings = %q, want one about mongodb", warnings)
	}
}
