package packer

import (
	"regexp"
	"strings"
	"testing"

	"github.com/bakehouse/bakehouse"
)

// amiRef is what an aws/image artifact's reference must look like.
var amiRef = regexp.MustCompile(`^ami-[0-9a-z]+$`)

// FuzzScrape scrapes Packer output, seeded with the conformance cases of
// packer-output.json. Beyond not panicking: scraping is deterministic,
// keeps the bake id, and every value it reports (image name, AMI,
// artifact fields) is one line, since each ends up in a bake's details,
// Orca's context and image tags; machine-readable artifacts are real AMI
// ids or image references without blanks.
func FuzzScrape(f *testing.F) {
	for _, c := range loadCases[outputCase](f, "packer-output.json") {
		if c.Kind == "scrape" {
			f.Add(c.Region, c.BakeID, c.Log)
		}
	}
	f.Fuzz(func(t *testing.T, region, bakeID, log string) {
		aws := ScrapeAWS(region, bakeID, log)
		checkScraped(t, "ScrapeAWS", bakeID, aws, ScrapeAWS(region, bakeID, log))
		for _, a := range aws.Artifacts {
			if a.Type != ArtifactTypeAMI {
				t.Errorf("ScrapeAWS artifact of type %q", a.Type)
			}
		}
		checkScraped(t, "ScrapeDocker", bakeID, ScrapeDocker(bakeID, log), ScrapeDocker(bakeID, log))
		for _, a := range MachineReadableArtifacts(log) {
			switch a.Type {
			case ArtifactTypeAMI:
				if !amiRef.MatchString(a.Reference) || a.Location == "" {
					t.Errorf("machine-readable AMI artifact %+v", a)
				}
			case ArtifactTypeDocker:
				ref := a.Name
				if a.Version != "" {
					ref = a.Reference[:len(a.Name)+1] + a.Version
				}
				if a.Reference == "" || strings.ContainsFunc(a.Reference, blank) || ref != a.Reference {
					t.Errorf("machine-readable docker artifact %+v", a)
				}
			default:
				t.Errorf("machine-readable artifact of type %q", a.Type)
			}
		}
	})
}

func checkScraped(t *testing.T, what, bakeID string, b, again bakehouse.Bake) {
	t.Helper()
	if b.ID != bakeID {
		t.Errorf("%s: id %q, want %q", what, b.ID, bakeID)
	}
	values := []string{b.ImageName, b.AMI}
	for _, a := range b.Artifacts {
		values = append(values, a.Location, a.Reference, a.Name, a.Version)
	}
	for _, v := range values {
		if strings.ContainsAny(v, "\r\n") {
			t.Errorf("%s reported a value of several lines: %q in %+v", what, v, b)
		}
	}
	if b.ImageName != again.ImageName || b.AMI != again.AMI || !equalArtifacts(b.Artifacts, again.Artifacts) {
		t.Errorf("%s: %+v, then %+v", what, b, again)
	}
}

// blank reports the characters an image reference cannot hold.
func blank(r rune) bool { return r <= ' ' || r == 0x7f }
