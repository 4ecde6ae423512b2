package packer

import (
	"regexp"
	"strings"

	"github.com/bakehouse/bakehouse"
)

// Artifact types of scraped images, as Spinnaker names them.
const (
	ArtifactTypeAMI    = "aws/image"
	ArtifactTypeDocker = "docker/image"
)

// The patterns Rosco's AWSBakeHandler and DockerBakeHandler look for. Rosco
// applies them with Groovy's find (=~), so they match anywhere in a line.
var (
	awsImageNameToken   = regexp.MustCompile(`amazon-(chroot|ebs): Creating the AMI:`)
	awsUnencryptedToken = regexp.MustCompile(`(==> |)amazon-(chroot|ebs): Creating unencrypted AMI`)
	awsAMIExtractor     = regexp.MustCompile(`[a-z]{2}-[a-z]{2,10}-[0-9]:\sami-[a-z0-9]{8,}`)
)

const (
	buildsFinished       = "==> Builds finished. The artifacts of successful builds are:"
	dockerImageNameToken = "Repository:"
)

// awsCreatingAMI matches the line amazon-ebs prints since Packer 1.4,
// "Creating AMI <name> from instance <id>", which Rosco misses. The name is
// everything up to " from instance", since AMI names may contain spaces.
var awsCreatingAMI = regexp.MustCompile(`: Creating AMI (.+) from instance i-[0-9a-z]+\s*$`)

// timestampPrefix is what -timestamp-ui puts before each message.
var timestampPrefix = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2}): `)

// ScrapeAWS reads a finished amazon-ebs or amazon-chroot bake's output the
// way Rosco does: image name from "Creating the AMI: <name>" or Packer
// 1.3's "Creating unencrypted AMI <name> ...", AMI from the last line with
// "<region>:", and an aws/image artifact for each "region: ami-..." line
// after "Builds finished". Bakehouse also takes the name from Packer 1.4+'s
// "Creating AMI <name> from instance <id>", which Rosco misses; with
// encrypt_boot that is Packer's temporary name, so a caller that knows the
// requested aws_target_ami should prefer it. When the output is
// -machine-readable, its artifact records fill in the artifacts and the
// region's AMI if the text gave none. Missing lines leave fields empty;
// scraping never fails.
func ScrapeAWS(region, bakeID, log string) bakehouse.Bake {
	b := bakehouse.Bake{ID: bakeID}
	finished := false
	for _, line := range humanLines(log) {
		if awsImageNameToken.MatchString(line) {
			b.ImageName = lastToken(line)
		} else if awsUnencryptedToken.MatchString(line) {
			b.ImageName = firstToken(javaTrim(awsUnencryptedToken.ReplaceAllString(line, "")))
		} else if m := awsCreatingAMI.FindStringSubmatch(line); m != nil {
			b.ImageName = m[1]
		} else if strings.Contains(line, region+":") {
			b.AMI = lastToken(line)
		} else if strings.Contains(line, buildsFinished) {
			finished = true
		}
		if finished && awsAMIExtractor.MatchString(line) {
			b.Artifacts = append(b.Artifacts, bakehouse.Artifact{
				Type:      ArtifactTypeAMI,
				Location:  first(javaSplit(line, ": ")),
				Reference: last(javaSplit(line, ": ")),
			})
		}
	}

	var amis []bakehouse.Artifact
	for _, a := range MachineReadableArtifacts(log) {
		if a.Type == ArtifactTypeAMI {
			amis = append(amis, a)
		}
	}
	if len(b.Artifacts) == 0 {
		b.Artifacts = amis
	}
	if b.AMI == "" {
		for _, a := range amis {
			if a.Location == region {
				b.AMI = a.Reference
			}
		}
	}
	return b
}

// ScrapeDocker reads a finished docker bake's output the way Rosco does:
// the image name is the last token of the last line with "Repository:",
// i.e. the <repository>:<tag> the post-processor tagged. With
// -machine-readable output and no such line, the last docker artifact
// named by repository and tag is used. No artifacts are reported, as in
// Rosco: a Rosco-style per-region lookup would fail on an artifact whose
// location is not the bake's region (MachineReadableArtifacts has them).
func ScrapeDocker(bakeID, log string) bakehouse.Bake {
	b := bakehouse.Bake{ID: bakeID}
	for _, line := range humanLines(log) {
		if strings.Contains(line, dockerImageNameToken) {
			b.ImageName = lastToken(line)
		}
	}
	if b.ImageName == "" {
		for _, a := range MachineReadableArtifacts(log) {
			if a.Type == ArtifactTypeDocker {
				b.ImageName = a.Reference
			}
		}
	}
	return b
}

// humanLines returns the lines of log as Packer's human output would show
// them: the text of -machine-readable "ui" records (other records are
// dropped, so their data cannot be mistaken for text), and other lines
// without a -timestamp-ui prefix.
func humanLines(log string) []string {
	var out []string
	for _, line := range logLines(log) {
		if rec, ok := parseMachineLine(line); ok {
			if rec.Type == "ui" && len(rec.Data) >= 2 {
				out = append(out, logLines(strings.Join(rec.Data[1:], ","))...)
			}
			continue
		}
		out = append(out, timestampPrefix.ReplaceAllString(line, ""))
	}
	return out
}

// logLines splits text into lines as Groovy's eachLine does: at LF, CR LF
// or a lone CR.
func logLines(s string) []string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

// javaSplit is Java's String.split with a literal separator: trailing
// empty strings are removed.
func javaSplit(s, sep string) []string {
	parts := strings.Split(s, sep)
	for len(parts) > 0 && parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1]
	}
	return parts
}

// javaTrim is Java's String.trim: it strips every character up to ' '.
func javaTrim(s string) string {
	return strings.TrimFunc(s, func(r rune) bool { return r <= ' ' })
}

func lastToken(line string) string  { return last(javaSplit(line, " ")) }
func firstToken(line string) string { return first(javaSplit(line, " ")) }

func first(parts []string) string {
	if len(parts) == 0 {
		return ""
	}
	return parts[0]
}

func last(parts []string) string {
	if len(parts) == 0 {
		return ""
	}
	return parts[len(parts)-1]
}
