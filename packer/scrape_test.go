package packer

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/bakehouse/bakehouse"
)

const fixtureImage = "armory-hello-deploy-all-20170329204459-bookworm:latest"

func readFixture(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("testdata/docker-machine-readable.log")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestScrapeDockerMachineReadable(t *testing.T) {
	log := readFixture(t)
	got := ScrapeDocker("b-1", log)
	if got.ID != "b-1" || got.ImageName != fixtureImage || got.AMI != "" || got.Artifacts != nil {
		t.Errorf("ScrapeDocker = %+v", got)
	}

	// Without the ui records only the artifact records name the image.
	var records []string
	for _, line := range strings.Split(log, "\n") {
		if !strings.Contains(line, ",ui,") {
			records = append(records, line)
		}
	}
	if got := ScrapeDocker("b-1", strings.Join(records, "\n")); got.ImageName != fixtureImage {
		t.Errorf("fallback to artifact records: image_name = %q, want %q", got.ImageName, fixtureImage)
	}
}

func TestMachineReadableArtifactsDocker(t *testing.T) {
	got := MachineReadableArtifacts(readFixture(t))
	want := []bakehouse.Artifact{{
		Type:      ArtifactTypeDocker,
		Name:      "armory-hello-deploy-all-20170329204459-bookworm",
		Version:   "latest",
		Reference: fixtureImage,
	}}
	if len(got) != 1 || got[0].Type != want[0].Type || got[0].Name != want[0].Name ||
		got[0].Version != want[0].Version || got[0].Reference != want[0].Reference {
		t.Errorf("artifacts = %+v, want %+v (the sha256 ids of docker-import are not image names)", got, want)
	}
}

const amazonMachineLog = `1700000000,,ui,say,==> amazon-ebs: Creating AMI bake-x from instance i-0123456789abcdef0
1700000001,,ui,message,    amazon-ebs: AMI: ami-123
1700000002,,ui,say,\n==> Builds finished. The artifacts of successful builds are:
1700000002,amazon-ebs,artifact-count,1
1700000002,amazon-ebs,artifact,0,builder-id,mitchellh.amazonebs
1700000002,amazon-ebs,artifact,0,id,us-east-1:ami-123%!(PACKER_COMMA)us-west-2:ami-456
1700000002,amazon-ebs,artifact,0,string,AMIs were created:\nus-east-1: ami-123\nus-west-2: ami-456\n
1700000002,amazon-ebs,artifact,0,files-count,0
1700000002,amazon-ebs,artifact,0,end
1700000002,,ui,say,--> amazon-ebs: AMIs were created:\nus-east-1: ami-123\nus-west-2: ami-456\n
`

func TestScrapeAWSMachineReadable(t *testing.T) {
	wantArtifacts := []bakehouse.Artifact{
		{Type: ArtifactTypeAMI, Location: "us-east-1", Reference: "ami-123"},
		{Type: ArtifactTypeAMI, Location: "us-west-2", Reference: "ami-456"},
	}
	// With the ui records the text rules find everything; with only the
	// artifact records the fallback does.
	recordsOnly := strings.Join(slices.DeleteFunc(strings.Split(amazonMachineLog, "\n"),
		func(l string) bool { return strings.Contains(l, ",ui,") }), "\n")
	for name, log := range map[string]string{"full": amazonMachineLog, "records only": recordsOnly} {
		got := ScrapeAWS("us-west-2", "b-2", log)
		if got.AMI != "ami-456" || !equalArtifacts(got.Artifacts, wantArtifacts) {
			t.Errorf("%s: ScrapeAWS = %+v", name, got)
		}
		if name == "full" && got.ImageName != "bake-x" {
			t.Errorf("%s: image_name = %q", name, got.ImageName)
		}
	}
	if got := MachineReadableArtifacts(amazonMachineLog); !equalArtifacts(got, wantArtifacts) {
		t.Errorf("MachineReadableArtifacts = %+v", got)
	}
}

func TestScrapeAWSBakehouseExtras(t *testing.T) {
	tests := []struct{ name, log, wantName, wantAMI string }{
		{"timestamp-ui prefix",
			"2021-03-04T05:06:07Z: ==> amazon-ebs: Creating unencrypted AMI name-1 from instance i-1\n2021-03-04T05:06:09Z: --> amazon-ebs: AMIs were created:\nus-east-1: ami-0abc12345\n",
			"name-1", "ami-0abc12345"},
		{"AMI name with spaces",
			"==> amazon-ebs: Creating AMI my image (v1) from instance i-0123456789abcdef0\n",
			"my image (v1)", ""},
		{"custom builder name",
			"==> my-build: Creating AMI named-build from instance i-0123456789abcdef0\r\n",
			"named-build", ""},
		{"CR LF line ends",
			"==> amazon-ebs: Creating the AMI: crlf-name\r\n==> Builds finished. The artifacts of successful builds are:\r\nus-east-1: ami-2c014644\r\n",
			"crlf-name", "ami-2c014644"},
		{"empty", "", "", ""},
	}
	for _, tt := range tests {
		got := ScrapeAWS("us-east-1", "b", tt.log)
		if got.ImageName != tt.wantName || got.AMI != tt.wantAMI {
			t.Errorf("%s: got name %q ami %q, want %q %q", tt.name, got.ImageName, got.AMI, tt.wantName, tt.wantAMI)
		}
	}
}

func TestSplitImageRef(t *testing.T) {
	for ref, want := range map[string][2]string{
		"repo:tag":                        {"repo", "tag"},
		"registry:5000/org/repo:1.0":      {"registry:5000/org/repo", "1.0"},
		"registry:5000/org/repo":          {"registry:5000/org/repo", ""},
		"repo@sha256:abc":                 {"repo", "sha256:abc"},
		"mjd-docker-instance-2:5000/kato": {"mjd-docker-instance-2:5000/kato", ""},
	} {
		if n, v := splitImageRef(ref); n != want[0] || v != want[1] {
			t.Errorf("splitImageRef(%q) = %q, %q; want %q", ref, n, v, want)
		}
	}
}

func equalArtifacts(a, b []bakehouse.Artifact) bool {
	return slices.EqualFunc(a, b, func(x, y bakehouse.Artifact) bool {
		return x.Type == y.Type && x.Location == y.Location && x.Reference == y.Reference &&
			x.Name == y.Name && x.Version == y.Version
	})
}
