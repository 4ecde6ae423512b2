package bakehouse

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestPackageNamesConformance(t *testing.T) {
	var file struct {
		Cases []struct {
			ID          string          `json:"id"`
			PackageType string          `json:"package_type"`
			Input       string          `json:"input"`
			Request     json.RawMessage `json:"request"`
			Expected    struct {
				Name, Version, Release, Arch *string
				Install                      *string          `json:"qualified_name_for_install"`
				AppVersion                   *json.RawMessage `json:"appversion"`
			} `json:"expected"`
		} `json:"cases"`
	}
	loadConformance(t, "package-names.json", &file)
	c := newConformance("package-names.json")
	for _, tc := range file.Cases {
		c.run(t, tc.ID, func(t *testing.T) {
			pt, err := ParsePackageType(tc.PackageType)
			if err != nil {
				t.Fatal(err)
			}
			got := ParsePackage(pt, tc.Input)
			want := Package{Name: str(tc.Expected.Name), Version: str(tc.Expected.Version),
				Release: str(tc.Expected.Release), Arch: str(tc.Expected.Arch)}
			if got != want {
				t.Errorf("ParsePackage(%q) = %+v, want %+v", tc.Input, got, want)
			}
			if got, want := got.InstallName(pt), str(tc.Expected.Install); got != want {
				t.Errorf("InstallName = %q, want %q", got, want)
			}
			// A package that parses to an empty name is dropped from lists.
			if n := len(ParsePackages(pt, tc.Input)); (n == 0) != (tc.Expected.Install == nil) {
				t.Errorf("ParsePackages kept %d packages, want dropped=%v", n, tc.Expected.Install == nil)
			}
			if tc.Request == nil {
				return
			}
			var wantAV string
			if tc.Expected.AppVersion != nil {
				var s *string
				if err := json.Unmarshal(*tc.Expected.AppVersion, &s); err != nil {
					t.Fatal(err)
				}
				wantAV = str(s)
			}
			req := decodeRequest(t, tc.Request)
			if av := AppVersion(pt, got, req); av != wantAV {
				t.Errorf("AppVersion = %q, want %q", av, wantAV)
			}
		})
	}
	c.report(t)
}

func TestParsePackageEdges(t *testing.T) {
	tests := []struct {
		t    PackageType
		in   string
		want Package
	}{
		// Java's split drops trailing empty strings: "foo_" has one part.
		{PackageDeb, "foo_", Package{Name: "foo_"}},
		{PackageDeb, "foo__amd64", Package{Name: "foo", Arch: "amd64"}},
		{PackageDeb, "foo_1.0-2-3_all", Package{Name: "foo", Version: "1.0", Release: "2", Arch: "all"}},
		{PackageDeb, "foo_-_all", Package{Name: "foo", Arch: "all"}},
		{PackageRPM, "kato", Package{Name: "kato"}},
		// Without an arch the dot in the version is taken for one (like python3.8).
		{PackageRPM, "foo-1.0-1", Package{Name: "foo-1.0-1", Arch: "0-1"}},
		{PackageRPM, "foo-1-2.noarch", Package{Name: "foo", Version: "1", Release: "2", Arch: "noarch"}},
		{PackageRPM, "foo-1.0-1.el7.x86_64", Package{Name: "foo", Version: "1.0", Release: "1.el7", Arch: "x86_64"}},
		{PackageNupkg, "a.b", Package{Name: "a.b"}},
		{PackageNupkg, "a.1-rc1", Package{Name: "a", Version: "1", Release: "rc1"}},
		{PackageNupkg, "a.b.c+meta", Package{Name: "a.b.c", Release: "+meta"}},
		{PackageNupkg, "autohotkey.1.1.24.04.nupkg", Package{Name: "autohotkey", Version: "1.1.24.04"}},
		{PackageNupkg, "foo.1.0+meta", Package{Name: "foo", Version: "1.0", Release: "+meta"}},
		// replaceFirst(".nupkg") is a regular expression in Rosco.
		{PackageNupkg, "foo-nupkg.1.0", Package{Name: "foo", Version: "1.0"}},
	}
	for _, tt := range tests {
		if got := ParsePackage(tt.t, tt.in); got != tt.want {
			t.Errorf("ParsePackage(%s, %q) = %+v, want %+v", tt.t, tt.in, got, tt.want)
		}
	}
}

func TestParsePackagesSplitsOnWhitespace(t *testing.T) {
	got := ParsePackages(PackageDeb, "  kato\tfoo_1.0-1_all\n_0.1-3_all  ")
	want := []Package{{Name: "kato"}, {Name: "foo", Version: "1.0", Release: "1", Arch: "all"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParsePackages = %+v, want %+v", got, want)
	}
	if got := ParsePackages(PackageDeb, " \t "); got != nil {
		t.Errorf("ParsePackages(blank) = %+v, want nil", got)
	}
}

func TestParsePackageType(t *testing.T) {
	for in, want := range map[string]PackageType{"DEB": PackageDeb, "rpm": PackageRPM, "Nupkg": PackageNupkg} {
		if got, err := ParsePackageType(in); got != want || err != nil {
			t.Errorf("ParsePackageType(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ParsePackageType("apk"); err == nil {
		t.Error("ParsePackageType(apk): want error")
	}
}

func TestAppVersionJobSlashes(t *testing.T) {
	p := Package{Name: "app", Version: "1.0"}
	req := BakeRequest{BuildNumber: "7", CommitHash: "abc", Job: "folder/sub/job"}
	if got, want := AppVersion(PackageDeb, p, req), "app-1.0-h7.abc/folder-sub-job/7"; got != want {
		t.Errorf("AppVersion = %q, want %q", got, want)
	}
	if ValidAppVersion("app-1.0-h7 trailing") {
		t.Error("ValidAppVersion must require a full match")
	}
}
