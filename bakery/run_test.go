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

// TestUnmaskedArgv: the stored plan is masked; the values come back only
// from what this process kept when the bake was created.
func TestUnmaskedArgv(t *testing.T) {
	s := &Service{secretArgv: map[string][]string{}}
	full := []string{"packer", "build", "-var=aws_secret_key=S", "-var", "aws_access_key=K", "t.json"}
	rec := &bakehouse.BakeRecord{ID: "b1"}
	rec.Plan.Packer.Argv = bakehouse.MaskArgv(full, s.cfg.Rosco.MaskedParameters())
	s.secretArgv["b1"] = full
	got, err := s.unmaskedArgv(rec)
	if err != nil || strings.Join(got, " ") != strings.Join(full, " ") {
		t.Fatalf("unmaskedArgv = %q, %v; want the argv in clear", got, err)
	}
	if _, ok := s.secretArgv["b1"]; ok {
		t.Error("the secrets are still held after the run took them")
	}
	// Not held (the process restarted): a masked plan does not run.
	if _, err := s.unmaskedArgv(rec); err == nil || !strings.Contains(err.Error(), "bake again") {
		t.Errorf("masked plan without its secrets: err = %v", err)
	}
	// A plan without secrets runs as stored.
	plain := &bakehouse.BakeRecord{ID: "b2"}
	plain.Plan.Packer.Argv = []string{"packer", "build", "t.json"}
	if got, err := s.unmaskedArgv(plain); err != nil || len(got) != 3 {
		t.Errorf("plain plan: %q, %v", got, err)
	}
	// Held secrets that do not match the stored plan are refused.
	s.secretArgv["b1"] = []string{"packer", "build", "-var=aws_secret_key=S", "other.json"}
	if _, err := s.unmaskedArgv(rec); err == nil {
		t.Error("a kept argv that differs from the stored plan was run")
	}
}

// TestUnmaskedArgvOnAnotherNode: a node that did not accept the bake gets
// its secret values from the sealed command line, with the same key only;
// without a key, the error names the node that holds them and the setting.
func TestUnmaskedArgvOnAnotherNode(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	full := []string{"packer", "build", "-var=aws_secret_key=S", "-var", "aws_access_key=K", "t.json"}
	accepting := &Service{cfg: Config{Node: "node-a"}, secretArgv: map[string][]string{}}
	rec := &bakehouse.BakeRecord{ID: "b1", QueuedOn: "node-a"}
	rec.Plan.Packer.Argv = bakehouse.MaskArgv(full, accepting.cfg.Rosco.MaskedParameters())

	noKey := &Service{cfg: Config{Node: "node-b"}, secretArgv: map[string][]string{}}
	if _, err := noKey.unmaskedArgv(rec); err == nil || !strings.Contains(err.Error(), "node node-a") || !strings.Contains(err.Error(), "bakehouse.secretsKey") {
		t.Fatalf("no key, secrets on node-a: err = %v; want one naming node-a and bakehouse.secretsKey", err)
	}
	sealed, err := sealArgv(key, full)
	if err != nil {
		t.Fatal(err)
	}
	rec.SealedArgv = sealed
	withKey := &Service{cfg: Config{Node: "node-b", SecretsKey: key}, secretArgv: map[string][]string{}}
	if got, err := withKey.unmaskedArgv(rec); err != nil || strings.Join(got, " ") != strings.Join(full, " ") {
		t.Fatalf("same key: unmaskedArgv = %q, %v; want the argv in clear", got, err)
	}
	if _, err := noKey.unmaskedArgv(rec); err == nil || !strings.Contains(err.Error(), "has none") || !strings.Contains(err.Error(), "BAKEHOUSE_SECRETS_KEY") {
		t.Fatalf("sealed, no key: err = %v", err)
	}
	otherKey := &Service{cfg: Config{Node: "node-c", SecretsKey: []byte("fedcba9876543210fedcba9876543210")}, secretArgv: map[string][]string{}}
	if _, err := otherKey.unmaskedArgv(rec); err == nil || !strings.Contains(err.Error(), "same bakehouse.secretsKey") {
		t.Fatalf("sealed, another key: err = %v", err)
	}
}
