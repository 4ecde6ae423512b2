package bakehouse

import (
	"encoding/json"
	"testing"
	"time"
)

func TestImageNamesConformance(t *testing.T) {
	var file struct {
		Cases []struct {
			ID    string `json:"id"`
			Kind  string `json:"kind"`
			Input struct {
				PackageType      string          `json:"package_type"`
				Package          string          `json:"package"`
				PackageArtifacts []Artifact      `json:"package_artifacts"`
				Request          json.RawMessage `json:"request"`
				ClockMillis      int64           `json:"clock_millis"`
				TargetRepository string          `json:"target_repository"`
			} `json:"input"`
			Expected struct {
				ImageName         *string         `json:"image_name"`
				AppVersion        *string         `json:"appversion"`
				PackagesParameter *string         `json:"packages_parameter"`
				Image             *string         `json:"docker_target_image"`
				Tag               *string         `json:"docker_target_image_tag"`
				Repository        *string         `json:"docker_target_repository"`
				PushedReference   *string         `json:"pushed_reference"`
				Error             json.RawMessage `json:"error"`
			} `json:"expected"`
		} `json:"cases"`
	}
	loadConformance(t, "image-names.json", &file)
	c := newConformance("image-names.json")
	for _, tc := range file.Cases {
		c.run(t, tc.ID, func(t *testing.T) {
			pt, err := ParsePackageType(tc.Input.PackageType)
			if err != nil {
				t.Fatal(err)
			}
			req := decodeRequest(t, tc.Input.Request)
			req.Package = tc.Input.Package
			req.PackageArtifacts = tc.Input.PackageArtifacts
			now := clock(tc.Input.ClockMillis)
			e := tc.Expected
			switch tc.Kind {
			case "default":
				got := DefaultImageNames(pt, req, now)
				want := ImageNames{ImageName: str(e.ImageName), AppVersion: str(e.AppVersion), PackagesParameter: str(e.PackagesParameter)}
				if got != want {
					t.Errorf("DefaultImageNames = %+v, want %+v", got, want)
				}
			case "docker":
				got, err := NewDockerImageNames(pt, req, tc.Input.TargetRepository, now)
				if e.Error != nil {
					// Rosco answers 500 here; Bakehouse a 400 naming the field.
					if ErrorCode(err) != EINVALID {
						t.Errorf("err = %v, want an EINVALID error", err)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				want := DockerImageNames{Image: str(e.Image), Tag: str(e.Tag), Repository: str(e.Repository),
					AppVersion: str(e.AppVersion), PackagesParameter: str(e.PackagesParameter)}
				if got != want {
					t.Errorf("NewDockerImageNames = %+v, want %+v", got, want)
				}
				if got, want := got.Reference(), str(e.PushedReference); got != want {
					t.Errorf("Reference = %q, want %q", got, want)
				}
			default:
				t.Fatalf("unknown conformance case kind %q: add a test for it", tc.Kind)
			}
		})
	}
	c.report(t)
}

func TestDockerImageNamesNeedAName(t *testing.T) {
	_, err := NewDockerImageNames(PackageDeb, BakeRequest{BaseOS: "ubuntu"}, "repo:5000", time.UnixMilli(1))
	var e *Error
	if !asError(err, &e) || e.Code != EINVALID || e.Field != "package" {
		t.Fatalf("err = %#v, want EINVALID on package", err)
	}
}

func TestDockerReferenceWithoutRepository(t *testing.T) {
	d := DockerImageNames{Image: "ECorp/app", Tag: "abc"}
	if got, want := d.Reference(), "ECorp/app:abc"; got != want {
		t.Errorf("Reference = %q, want %q", got, want)
	}
}

func TestDockerTagPrefersExtendedAttribute(t *testing.T) {
	req := BakeRequest{Package: "app", CommitHash: "abc", ExtendedAttributes: map[string]string{"docker_target_image_tag": "latest"}}
	d, err := NewDockerImageNames(PackageDeb, req, "", time.UnixMilli(5))
	if err != nil {
		t.Fatal(err)
	}
	if d.Tag != "latest" {
		t.Errorf("Tag = %q, want latest", d.Tag)
	}
}

func TestDefaultImageNameUsesArtifactsForNaming(t *testing.T) {
	req := BakeRequest{BaseOS: "trusty", PackageArtifacts: []Artifact{{Name: "app_1.0-1_amd64"}}}
	got := DefaultImageNames(PackageDeb, req, time.UnixMilli(42))
	want := ImageNames{ImageName: "app-amd64-42-trusty"}
	if got != want {
		t.Errorf("DefaultImageNames = %+v, want %+v (artifacts name the image but are not in packages)", got, want)
	}
}
