package bakehouse

import (
	"strings"
	"testing"
	"time"
)

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

// repoVersions is a bakery repository holding name -> {version, arch}.
func repoVersions(held map[string][2]string) func(string) (string, string, bool) {
	return func(name string) (string, string, bool) {
		v, ok := held[name]
		return v[0], v[1], ok
	}
}

func TestResolvePinsUnversionedPackages(t *testing.T) {
	cfg := recipeConfig()
	cfg.Docker.Enabled = true
	req := BakeRequest{Package: "kato mongodb redis_6.0-1_amd64", BaseOS: "trusty", CloudProviderType: "docker", CommitHash: "c4baff4"}
	r, err := Resolve("global", req, cfg, Lookups{PackageVersion: repoVersions(map[string][2]string{"kato": {"1.2-h3.abc", "all"}, "redis": {"9.9-9", "amd64"}})})
	if err != nil {
		t.Fatal(err)
	}
	pp := r.PlanPackages
	if len(pp) != 3 || !pp[0].Resolved || pp[0].Version != "1.2" || pp[0].Release != "h3.abc" || pp[1].Resolved || pp[2].Resolved || pp[2].Version != "6.0" {
		t.Fatalf("plan packages = %+v", pp)
	}
	if len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], "mongodb") {
		t.Fatalf("warnings = %q, want one about mongodb", r.Warnings)
	}
	// The recipe installs and names exactly what was resolved, and the key
	// extras carry it, so that the key changes with a new release.
	rec, err := r.Recipe(time.UnixMilli(1))
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := varValue(rec, "packages"); v != "kato=1.2-h3.abc mongodb redis=6.0-1" {
		t.Errorf("packages = %q", v)
	}
	if x := r.KeyExtras(); len(x.ResolvedPackages) != 3 || x.ResolvedPackages[0] != "kato=1.2-h3.abc:all" {
		t.Errorf("key packages = %q", x.ResolvedPackages)
	}
	// Only docker bakes install from the bakery's repository.
	req.CloudProviderType, req.Package = "aws", "kato"
	cfg.AWS.Enabled = true
	r, err = Resolve("us-east-1", req, cfg, Lookups{PackageVersion: repoVersions(map[string][2]string{"kato": {"1.2-h3.abc", "all"}})})
	if err != nil {
		t.Fatal(err)
	}
	if r.PlanPackages[0].Resolved || len(r.Warnings) != 1 {
		t.Errorf("aws package pinned from the bakery's repository: %+v %q", r.PlanPackages, r.Warnings)
	}
}
