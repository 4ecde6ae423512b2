package bakehouse

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The fuzz targets' seeds are the conformance cases, so plain `go test`
// runs every seed and `make fuzz` mutates from Rosco's own examples.

// fuzzPackageTypes are indexed by the fuzzer's type byte.
var fuzzPackageTypes = []PackageType{PackageDeb, PackageRPM, PackageNupkg}

// FuzzParsePackage parses package names of each type. Beyond not
// panicking: parsing is deterministic, a package has an install name
// exactly when it has a name, and a list of one name keeps that package
// exactly when it has a name.
func FuzzParsePackage(f *testing.F) {
	var file struct {
		Cases []struct {
			PackageType string `json:"package_type"`
			Input       string `json:"input"`
		} `json:"cases"`
	}
	loadConformance(f, "package-names.json", &file)
	for _, c := range file.Cases {
		pt, err := ParsePackageType(c.PackageType)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(slices.Index(fuzzPackageTypes, pt)), c.Input)
	}
	f.Fuzz(func(t *testing.T, typ uint8, s string) {
		pt := fuzzPackageTypes[int(typ)%len(fuzzPackageTypes)]
		p := ParsePackage(pt, s)
		if again := ParsePackage(pt, s); again != p {
			t.Fatalf("ParsePackage(%s, %q) = %+v, then %+v", pt, s, p, again)
		}
		if name := p.InstallName(pt); (name == "") != (p.Name == "") {
			t.Errorf("ParsePackage(%s, %q) = %+v has install name %q", pt, s, p, name)
		}
		if strings.ContainsAny(s, " \t\n\r\f") {
			return
		}
		list := ParsePackages(pt, s)
		if p.Name == "" && len(list) != 0 || p.Name != "" && (len(list) != 1 || list[0] != p) {
			t.Errorf("ParsePackages(%s, %q) = %+v, want [%+v] or none", pt, s, list, p)
		}
		AppVersion(pt, p, BakeRequest{BuildNumber: "5", CommitHash: "c4baff4"})
	})
}

// keyDigest is the digest Bakehouse appends to Rosco's key.
var keyDigest = regexp.MustCompile(`^[0-9a-f]{64}$`)

// FuzzBakeKey keys bake requests decoded as the server decodes them.
// Beyond not panicking: the key is deterministic, is Rosco's key plus a
// digest, and a request stored (encoded) and read back has the same key,
// which the reuse of a bake after a restart depends on.
func FuzzBakeKey(f *testing.F) {
	var file struct {
		Cases []struct {
			Region          string            `json:"region"`
			Request         json.RawMessage   `json:"request"`
			SameKeyRequests []json.RawMessage `json:"same_key_requests"`
		} `json:"cases"`
	}
	loadConformance(f, "bake-keys.json", &file)
	for _, c := range file.Cases {
		f.Add(c.Region, []byte(c.Request))
		for _, r := range c.SameKeyRequests {
			f.Add(c.Region, []byte(r))
		}
	}
	cfg := Config{DefaultCloudProviderType: "aws", AWS: AWSConfig{BakeryDefaults: AWSBakeryDefaults{DefaultVirtualizationType: "hvm"}}}
	f.Fuzz(func(t *testing.T, region string, body []byte) {
		var req BakeRequest
		if json.Unmarshal(body, &req) != nil {
			return // the decoder's own target checks refusals
		}
		key := func(req BakeRequest) (string, string) { return keysFor(region, req, cfg) }
		rosco, full := key(req)
		if r2, f2 := key(req); r2 != rosco || f2 != full {
			t.Fatalf("key of %s: %s, then %s", body, full, f2)
		}
		if !strings.HasPrefix(rosco, "bake:") || !strings.HasPrefix(full, rosco+":") || !keyDigest.MatchString(full[len(rosco)+1:]) {
			t.Errorf("key %q is not Rosco's key %q, ':' and a hex SHA-256", full, rosco)
		}
		stored, err := json.Marshal(req)
		if err != nil {
			t.Fatalf("encode %+v: %v", req, err)
		}
		var back BakeRequest
		if err := json.Unmarshal(stored, &back); err != nil {
			t.Fatalf("stored request %s does not decode: %v", stored, err)
		}
		if r2, f2 := key(back); r2 != rosco || f2 != full {
			t.Errorf("request %s keyed %s, stored as %s keyed %s", body, full, stored, f2)
		}
	})
}
