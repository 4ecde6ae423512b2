package bakehouse

import (
	"encoding/json"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// The README's deviation: Bakehouse's key is Rosco's key, ":", and a digest
// of the inputs Rosco leaves out. These tests compare the Rosco part with
// expected.key and check what the digest does.

// splitKey splits a Bakehouse key at its last ':' into the Rosco part and
// the digest.
func splitKey(t *testing.T, key string) (rosco, digest string) {
	t.Helper()
	i := strings.LastIndex(key, ":")
	rosco, digest = key[:i], key[i+1:]
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(digest) {
		t.Fatalf("digest %q is not lowercase hex sha256", digest)
	}
	return rosco, digest
}

// keysFor computes both keys of a request, with the extras that follow
// from the request alone.
func keysFor(region string, req BakeRequest, cfg Config) (roscoKey, full string) {
	roscoKey = RoscoBakeKey(region, req, cfg)
	return roscoKey, BakeKey(roscoKey, (&Resolved{Request: req, Provider: cfg.ProviderType(req)}).KeyExtras())
}

func TestBakeKeysConformance(t *testing.T) {
	var file struct {
		Config map[string]any `json:"config"`
		Cases  []struct {
			ID                string            `json:"id"`
			Region            string            `json:"region"`
			Request           json.RawMessage   `json:"request"`
			SameKeyRequests   []json.RawMessage `json:"same_key_requests"`
			ProviderComponent string            `json:"provider_component"`
			Expected          struct{ Key string }
		} `json:"cases"`
	}
	loadConformance(t, "bake-keys.json", &file)
	cfg := conformanceConfig(t, nil, file.Config)
	// Expectations the README states outright, checked by name as well as
	// by the general rule below.
	digestDiffers := map[string]bool{
		"aws-fields-not-in-key":         true,  // upgrade, extended_attributes
		"docker-ignores-region-org-tag": true,  // organization, tag
		"aws-ami-suffix-ignored":        false, // ami_suffix is in neither part
		"aws-default-vm-type":           false,
		"aws-default-cloud-provider":    false,
	}
	c := newConformance("bake-keys.json")
	for _, tc := range file.Cases {
		c.run(t, tc.ID, func(t *testing.T) {
			req := decodeRequest(t, tc.Request)
			roscoKey, full := keysFor(tc.Region, req, cfg)
			if tc.ProviderComponent != "" {
				// Not an AWS/Docker key: the case shows the
				// provider-independent part, which a provider without a
				// component of its own returns; the component is given.
				roscoKey += ":" + tc.ProviderComponent
			}
			if roscoKey != tc.Expected.Key {
				t.Errorf("RoscoBakeKey = %q\nwant          %q", roscoKey, tc.Expected.Key)
			}
			if tc.ProviderComponent == "" {
				if part, _ := splitKey(t, full); part != tc.Expected.Key {
					t.Errorf("BakeKey's Rosco part = %q, want %q", part, tc.Expected.Key)
				}
			}
			_, digest := splitKey(t, full)
			for i, raw := range tc.SameKeyRequests {
				other := decodeRequest(t, raw)
				otherRosco, otherFull := keysFor(tc.Region, other, cfg)
				if otherRosco != RoscoBakeKey(tc.Region, req, cfg) {
					t.Errorf("same_key_requests[%d]: Rosco key %q, want %q", i, otherRosco, tc.Expected.Key)
				}
				_, otherDigest := splitKey(t, otherFull)
				extrasDiffer := !reflect.DeepEqual(
					(&Resolved{Request: req, Provider: cfg.ProviderType(req)}).KeyExtras(),
					(&Resolved{Request: other, Provider: cfg.ProviderType(other)}).KeyExtras())
				if (digest != otherDigest) != extrasDiffer {
					t.Errorf("same_key_requests[%d]: digest differs=%v, want %v (extras differ)", i, digest != otherDigest, extrasDiffer)
				}
				if want, ok := digestDiffers[tc.ID]; ok && (digest != otherDigest) != want {
					t.Errorf("same_key_requests[%d]: digest differs=%v, want %v", i, digest != otherDigest, want)
				}
			}
		})
	}
	c.report(t)
}

func TestRoscoBakeKeyDefaults(t *testing.T) {
	req := BakeRequest{Package: "kato", BaseOS: "ubuntu"}
	if got, want := RoscoBakeKey("us-east-1", req, Config{}), "bake:aws:ubuntu:kato:us-east-1:hvm:enhancedNWDisabled"; got != want {
		t.Errorf("no config: %q, want %q", got, want)
	}
	cfg := Config{DefaultCloudProviderType: "docker"}
	if got, want := RoscoBakeKey("us-east-1", req, cfg), "bake:docker:ubuntu:kato"; got != want {
		t.Errorf("docker default: %q, want %q", got, want)
	}
	cfg = Config{AWS: AWSConfig{BakeryDefaults: AWSBakeryDefaults{DefaultVirtualizationType: "pv"}}}
	on := true
	req.EnhancedNetworking = &on
	if got, want := RoscoBakeKey("eu-west-1", req, cfg), "bake:aws:ubuntu:kato:eu-west-1:pv:enhancedNWEnabled"; got != want {
		t.Errorf("pv default: %q, want %q", got, want)
	}
}

func TestBakeKeyExtrasChangeDigest(t *testing.T) {
	base := KeyExtras{
		ExtendedAttributes: map[string]string{"copy_to": "us-west-2"},
		Organization:       "ECorp",
		DockerTag:          "abc",
		ResolvedPackages:   []string{"kato=1.0-1"},
		BaseImage:          "ami-123",
		TemplateDigest:     "t1",
		VarFileDigest:      "v1",
	}
	key := BakeKey("bake:x", base)
	variants := map[string]func(x *KeyExtras){
		"extended_attributes value": func(x *KeyExtras) { x.ExtendedAttributes = map[string]string{"copy_to": "us-west-1"} },
		"extended_attributes added": func(x *KeyExtras) { x.ExtendedAttributes = map[string]string{"copy_to": "us-west-2", "a": ""} },
		"upgrade":                   func(x *KeyExtras) { x.Upgrade = true },
		"organization":              func(x *KeyExtras) { x.Organization = "Other" },
		"docker tag":                func(x *KeyExtras) { x.DockerTag = "def" },
		"package version":           func(x *KeyExtras) { x.ResolvedPackages = []string{"kato=1.0-2"} },
		"package added":             func(x *KeyExtras) { x.ResolvedPackages = []string{"kato=1.0-1", "redis"} },
		"base image":                func(x *KeyExtras) { x.BaseImage = "ami-456" },
		"template digest":           func(x *KeyExtras) { x.TemplateDigest = "t2" },
		"var file digest":           func(x *KeyExtras) { x.VarFileDigest = "v2" },
	}
	for name, change := range variants {
		x := base
		change(&x)
		if got := BakeKey("bake:x", x); got == key {
			t.Errorf("%s: digest unchanged", name)
		}
	}
	if !strings.HasPrefix(key, "bake:x:") {
		t.Errorf("key %q does not start with the Rosco key", key)
	}
}

func TestBakeKeyEncodingIsUnambiguous(t *testing.T) {
	pairs := [][2]KeyExtras{
		{{ExtendedAttributes: map[string]string{"a": "b:c"}}, {ExtendedAttributes: map[string]string{"a:b": "c"}}},
		{{ResolvedPackages: []string{"a b"}}, {ResolvedPackages: []string{"a", "b"}}},
		{{ResolvedPackages: []string{"ab"}}, {ResolvedPackages: []string{"a", "b"}}},
		{{Organization: "x"}, {DockerTag: "x"}},
		{{BaseImage: "x"}, {TemplateDigest: "x"}},
		{{TemplateDigest: "x"}, {VarFileDigest: "x"}},
		// Invalid UTF-8 must not collapse (JSON would map both to U+FFFD).
		{{Organization: "\xff"}, {Organization: "\xfe"}},
	}
	for i, p := range pairs {
		if BakeKey("k", p[0]) == BakeKey("k", p[1]) {
			t.Errorf("pair %d: %+v and %+v share a digest", i, p[0], p[1])
		}
	}
	// Nil and empty are the same input; map order never matters.
	if BakeKey("k", KeyExtras{}) != BakeKey("k", KeyExtras{ExtendedAttributes: map[string]string{}, ResolvedPackages: []string{}}) {
		t.Error("nil and empty extras differ")
	}
	m1 := map[string]string{"a": "1", "b": "2", "c": "3"}
	m2 := map[string]string{"c": "3", "b": "2", "a": "1"}
	for range 20 {
		if BakeKey("k", KeyExtras{ExtendedAttributes: m1}) != BakeKey("k", KeyExtras{ExtendedAttributes: m2}) {
			t.Fatal("map order changed the digest")
		}
	}
}

func TestAMISuffixIsNotInAnyKey(t *testing.T) {
	for _, f := range reflect.VisibleFields(reflect.TypeFor[KeyExtras]()) {
		if strings.Contains(strings.ToLower(f.Name), "suffix") {
			t.Errorf("KeyExtras has field %s", f.Name)
		}
	}
	a := BakeRequest{Package: "kato", BaseOS: "ubuntu", AMISuffix: "20170329204459", CloudProviderType: "aws"}
	b := a
	b.AMISuffix = "20250101000000"
	for _, provider := range []string{"aws", "docker"} {
		a.CloudProviderType, b.CloudProviderType = provider, provider
		_, ka := keysFor("us-east-1", a, Config{})
		_, kb := keysFor("us-east-1", b, Config{})
		if ka != kb {
			t.Errorf("%s: keys differ only by ami_suffix: %q vs %q", provider, ka, kb)
		}
		if strings.Contains(ka, a.AMISuffix) {
			t.Errorf("%s: key %q contains the ami_suffix", provider, ka)
		}
	}
}

func TestKeyExtrasDockerTagIgnoresTimestampFallback(t *testing.T) {
	req := BakeRequest{Package: "app", BaseOS: "ubuntu", CloudProviderType: "docker"}
	r := &Resolved{Request: req, Provider: "docker", PackageType: PackageDeb, PlanPackages: []PlanPackage{{Name: "app"}}, SourceImage: "ubuntu:precise"}
	x := r.KeyExtras()
	if x.DockerTag != "" {
		t.Errorf("DockerTag = %q, want \"\" (the timestamp tag must not enter the key)", x.DockerTag)
	}
	if !reflect.DeepEqual(x.ResolvedPackages, []string{"app=-:"}) || x.BaseImage != "ubuntu:precise" {
		t.Errorf("extras = %+v", x)
	}
}
