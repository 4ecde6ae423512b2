package packer

import (
	"encoding/json"
	"strings"

	"github.com/bakehouse/bakehouse"
)

// manifest is the file Packer's manifest post-processor writes.
type manifest struct {
	Builds []struct {
		BuilderType   string `json:"builder_type"`
		ArtifactID    string `json:"artifact_id"`
		PackerRunUUID string `json:"packer_run_uuid"`
	} `json:"builds"`
	LastRunUUID string `json:"last_run_uuid"`
}

// ManifestAMIs reads the AMIs of the last run from a manifest written by
// Packer's manifest post-processor: an amazon builder's artifact id is
// "region:ami-id[,region:ami-id...]". It is Packer's own record of what it
// made, so Bakehouse prefers it to scraping output text. Anything it cannot
// read gives nil.
func ManifestAMIs(data []byte) []bakehouse.Artifact {
	var m manifest
	if json.Unmarshal(data, &m) != nil {
		return nil
	}
	var out []bakehouse.Artifact
	for _, b := range m.Builds {
		if m.LastRunUUID != "" && b.PackerRunUUID != m.LastRunUUID {
			continue
		}
		if !strings.HasPrefix(b.BuilderType, "amazon-") {
			continue
		}
		for _, part := range strings.Split(b.ArtifactID, ",") {
			region, ami, ok := strings.Cut(strings.TrimSpace(part), ":")
			if ok && strings.HasPrefix(ami, "ami-") {
				out = append(out, bakehouse.Artifact{Type: ArtifactTypeAMI, Location: region, Reference: ami})
			}
		}
	}
	return out
}
