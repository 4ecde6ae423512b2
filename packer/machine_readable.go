package packer

import (
	"regexp"
	"strings"

	"github.com/bakehouse/bakehouse"
)

// commaEscape is how Packer's -machine-readable output writes a comma
// inside a field.
const commaEscape = "%!(PACKER_COMMA)"

// machineLine matches a -machine-readable record,
// "timestamp,target,type,data...", and not a human line.
var machineLine = regexp.MustCompile(`^[0-9]{9,},[^,]*,[a-z][a-z0-9-]*(,|$)`)

// machineRecord is one parsed -machine-readable line.
type machineRecord struct {
	Target string
	Type   string
	Data   []string // unescaped
}

// parseMachineLine parses line if it is a -machine-readable record.
func parseMachineLine(line string) (machineRecord, bool) {
	if !machineLine.MatchString(line) {
		return machineRecord{}, false
	}
	f := strings.Split(line, ",")
	rec := machineRecord{Target: f[1], Type: f[2]}
	for _, d := range f[3:] {
		rec.Data = append(rec.Data, machineUnescape(d))
	}
	return rec, true
}

// machineUnescape reverses Packer's escaping of a field.
func machineUnescape(s string) string {
	s = strings.ReplaceAll(s, `\n`, "\n")
	s = strings.ReplaceAll(s, `\r`, "\r")
	return strings.ReplaceAll(s, commaEscape, ",")
}

// machineArtifact is one artifact of a build, from its "artifact" records.
type machineArtifact struct {
	Target, BuilderID, ID string
}

// machineArtifacts collects the artifacts recorded in log, in order.
func machineArtifacts(log string) []machineArtifact {
	var out []machineArtifact
	index := map[[2]string]int{}
	for _, line := range logLines(log) {
		rec, ok := parseMachineLine(line)
		if !ok || rec.Type != "artifact" || len(rec.Data) < 3 {
			continue
		}
		key := [2]string{rec.Target, rec.Data[0]}
		i, seen := index[key]
		if !seen {
			i = len(out)
			index[key] = i
			out = append(out, machineArtifact{Target: rec.Target})
		}
		switch rec.Data[1] {
		case "builder-id":
			out[i].BuilderID = rec.Data[2]
		case "id":
			out[i].ID = rec.Data[2]
		}
	}
	return out
}

// regionAMI matches one "region:ami-id" entry of an amazon artifact id.
var regionAMI = regexp.MustCompile(`^([a-z]{2}(?:-[a-z]+)+-[0-9]+):(ami-[0-9a-z]+)$`)

// MachineReadableArtifacts returns the images recorded in Packer's
// -machine-readable output: an aws/image per region of an amazon artifact
// ("us-east-1:ami-1,us-west-2:ami-2"), and a docker/image for each docker
// artifact named by repository and tag (docker-tag, docker-push, ...), not
// by content digest. It reads the records Packer writes for programs, so
// it keeps working when the human wording changes.
func MachineReadableArtifacts(log string) []bakehouse.Artifact {
	var out []bakehouse.Artifact
	for _, a := range machineArtifacts(log) {
		if amis := parseRegionAMIs(a.ID); amis != nil {
			out = append(out, amis...)
			continue
		}
		if strings.Contains(a.BuilderID, "docker") && isImageRef(a.ID) {
			name, version := splitImageRef(a.ID)
			out = append(out, bakehouse.Artifact{Type: ArtifactTypeDocker, Name: name, Version: version, Reference: a.ID})
		}
	}
	return out
}

// parseRegionAMIs parses an amazon artifact id; nil if id is not one.
func parseRegionAMIs(id string) []bakehouse.Artifact {
	var out []bakehouse.Artifact
	for _, part := range strings.Split(id, ",") {
		m := regionAMI.FindStringSubmatch(strings.TrimSpace(part))
		if m == nil {
			return nil
		}
		out = append(out, bakehouse.Artifact{Type: ArtifactTypeAMI, Location: m[1], Reference: m[2]})
	}
	return out
}

// isImageRef tells a repository[:tag] reference from an image id. A
// reference holds no blank or control character; an unescaped field could
// (\n in -machine-readable output becomes a newline), and a scraped name
// of several lines must not reach the bake's details.
func isImageRef(id string) bool {
	blank := func(r rune) bool { return r <= ' ' || r == 0x7f }
	if id == "" || strings.ContainsFunc(id, blank) || strings.HasPrefix(id, "sha256:") {
		return false
	}
	return !isHex(id) // a bare image id from older docker builders
}

func isHex(s string) bool {
	for _, r := range s {
		if !('0' <= r && r <= '9' || 'a' <= r && r <= 'f') {
			return false
		}
	}
	return len(s) >= 12
}

// splitImageRef splits "repo:tag" or "repo@digest"; a colon before the
// last slash belongs to a registry port.
func splitImageRef(ref string) (name, version string) {
	if i := strings.LastIndex(ref, "@"); i >= 0 {
		return ref[:i], ref[i+1:]
	}
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		return ref[:i], ref[i+1:]
	}
	return ref, ""
}
