package bakehouse

import (
	"encoding/json"
	"reflect"
	"strings"
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
				r, err := namesRecipe("aws", pt, req, "", now)
				if err != nil {
					t.Fatal(err)
				}
				packages, _ := varValue(r, "packages")
				if r.ImageName != str(e.ImageName) || r.AppVersion != str(e.AppVersion) || packages != str(e.PackagesParameter) {
					t.Errorf("image name, appversion, packages = %q, %q, %q; want %q, %q, %q",
						r.ImageName, r.AppVersion, packages, str(e.ImageName), str(e.AppVersion), str(e.PackagesParameter))
				}
			case "docker":
				r, err := namesRecipe("docker", pt, req, tc.Input.TargetRepository, now)
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
				got := map[string]string{}
				for _, k := range []string{"docker_target_image", "docker_target_image_tag", "docker_target_repository", "packages"} {
					got[k], _ = varValue(r, k)
				}
				want := map[string]string{"docker_target_image": str(e.Image), "docker_target_image_tag": str(e.Tag),
					"docker_target_repository": str(e.Repository), "packages": str(e.PackagesParameter)}
				if !reflect.DeepEqual(got, want) || r.AppVersion != str(e.AppVersion) {
					t.Errorf("docker names = %q (appversion %q), want %q (%q)", got, r.AppVersion, want, str(e.AppVersion))
				}
				if got, want := r.ImageName, str(e.PushedReference); got != want {
					t.Errorf("pushed reference = %q, want %q", got, want)
				}
			default:
				t.Fatalf("unknown conformance case kind %q: add a test for it", tc.Kind)
			}
		})
	}
	c.report(t)
}

// namesRecipe resolves req as the bakery does, for a provider whose base
// OS has package type t, and builds its recipe: image names are tested
// through the code that production runs.
func namesRecipe(provider string, t PackageType, req BakeRequest, targetRepository string, now time.Time) (Recipe, error) {
	var cfg Config
	base := BaseImage{ID: req.BaseOS, PackageType: string(t)}
	cfg.AWS.Enabled, cfg.Docker.Enabled = true, true
	cfg.AWS.BakeryDefaults.BaseImages = []AWSBaseImage{{BaseImage: base,
		VirtualizationSettings: []AWSVirtualizationSettings{{Region: "us-east-1", VirtualizationType: "hvm", SourceAMI: "ami-1"}}}}
	cfg.Docker.BakeryDefaults = DockerBakeryDefaults{TargetRepository: targetRepository,
		BaseImages: []DockerBaseImage{{BaseImage: base, VirtualizationSettings: DockerVirtualizationSettings{SourceImage: "base:1"}}}}
	req.CloudProviderType = provider
	region := "us-east-1"
	if provider == "docker" {
		region = "global"
	}
	r, err := Resolve(region, req, cfg, Lookups{})
	if err != nil {
		return Recipe{}, err
	}
	return r.Recipe(now)
}

func TestDockerImageNamesNeedAName(t *testing.T) {
	// A nupkg token can parse to no name at all: nothing names the image.
	_, err := namesRecipe("docker", PackageNupkg, BakeRequest{BaseOS: "windows", Package: "xnupkg"}, "repo:5000", time.UnixMilli(1))
	var e *Error
	if !asError(err, &e) || e.Code != EINVALID || e.Field != "package" || !strings.Contains(e.Message, "ami_name") {
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
	req := BakeRequest{BaseOS: "ubuntu", Package: "app", CommitHash: "abc", ExtendedAttributes: map[string]string{"docker_target_image_tag": "latest"}}
	r, err := namesRecipe("docker", PackageDeb, req, "", time.UnixMilli(5))
	if err != nil {
		t.Fatal(err)
	}
	if tag, _ := varValue(r, "docker_target_image_tag"); tag != "latest" || r.ImageName != "app:latest" {
		t.Errorf("tag = %q (image %q), want latest", tag, r.ImageName)
	}
}

func TestDefaultImageNameUsesArtifactsForNaming(t *testing.T) {
	req := BakeRequest{BaseOS: "trusty", PackageArtifacts: []Artifact{{Name: "app_1.0-1_amd64"}}}
	r, err := namesRecipe("aws", PackageDeb, req, "", time.UnixMilli(42))
	if err != nil {
		t.Fatal(err)
	}
	if packages, _ := varValue(r, "packages"); r.ImageName != "app-amd64-42-trusty" || packages != "" {
		t.Errorf("image name %q, packages %q; want app-amd64-42-trusty and none (artifacts name the image but are not installed)", r.ImageName, packages)
	}
}
