package pipeline

import (
	"context"
	"crypto/rand"
	"fmt"
	"sort"
)

// The Find Image from Tags stage (type findImageFromTags) as Orca's
// FindImageFromTagsTask and AmazonImageFinder run it: the newest image per
// region whose tags match and whose appversion names the package.

// TaggedImage is one image as Clouddriver's image search answers it (GET
// /{provider}/images/find): a name, its creation date, and per region
// the ids of its copies with their tags. The runner builds it from EC2
// DescribeImages (one AMI per region under one name) or from the docker
// engine's image labels (region "global" or the bakery's region name).
type TaggedImage struct {
	ImageName string `json:"imageName"`
	// CreationDate is ISO 8601, compared as text ("" sorts last).
	CreationDate  string                       `json:"creationDate"`
	TagsByImageID map[string]map[string]string `json:"tagsByImageId"`
	AMIs          map[string][]string          `json:"amis"` // region -> image ids
}

// ImageFinder searches images by package name and tags. Orca passes no
// region to Clouddriver and filters by region itself; regions is given so
// that a finder may search only those. account is imageOwnerAccount
// ("" for any).
type ImageFinder interface {
	FindImages(ctx context.Context, cloudProvider, packageName string, tags map[string]string, regions []string, account string) ([]TaggedImage, error)
}

// maxImageResults is the count from which Orca warns that the search is
// too broad.
const maxImageResults = 1000

// FindImageFromTags is the findImageFromTags task. It returns the stage
// context update (amiDetails, one per region in the stage's regions order
// that has an image, newest first; artifacts, one <cloudProvider>/image
// per image) and the outputs (deploymentDetails, the same list). No image
// at all is Orca's error "Could not find tagged image for package: <p>
// and tags: {k=v}", a *UserError.
func FindImageFromTags(ctx context.Context, f ImageFinder, s *Stage) (update, outputs map[string]any, err error) {
	c := s.Context
	provider := defaultCloudProvider
	if v := c["cloudProvider"]; truthy(v) {
		provider = javaString(v)
	} else if v := c["cloudProviderType"]; truthy(v) {
		provider = javaString(v)
	}
	pkg := javaString(c["packageName"])
	if c["packageName"] == nil {
		return nil, nil, taskErr(TaskFindImage, illegalArgument("packageName is missing: name the package whose image to find"))
	}
	tags := map[string]string{}
	for k, v := range asMap(c["tags"]) {
		tags[k] = javaString(v)
	}
	var regions []string
	for _, r := range asList(c["regions"]) {
		regions = append(regions, javaString(r))
	}
	if len(regions) == 0 && truthy(c["region"]) {
		regions = []string{javaString(c["region"])}
	}
	images, err := f.FindImages(ctx, provider, pkg, tags, regions, str(c["imageOwnerAccount"]))
	if err != nil {
		return nil, nil, taskErr(TaskFindImage, err)
	}
	var warnings []any
	details := imageDetails(images, pkg, regions, &warnings)
	if len(details) == 0 {
		return nil, nil, taskErr(TaskFindImage, illegalState("Could not find tagged image for package: %s and tags: %s", pkg, javaString(tags)))
	}
	artifacts := make([]any, len(details))
	amiDetails := make([]any, len(details))
	for i, d := range details {
		amiDetails[i] = d
		metadata := map[string]any{}
		if j, ok := d["jenkins"].(map[string]any); ok {
			metadata["build_info_url"], metadata["build_number"] = j["host"], j["number"]
		}
		artifacts[i] = map[string]any{
			"type": provider + "/image", "name": d["imageName"], "reference": d["imageId"],
			"location": d["region"], "metadata": metadata, "uuid": newUUID(),
		}
	}
	update = map[string]any{"amiDetails": amiDetails, "artifacts": artifacts}
	if len(warnings) > 0 {
		update["exception"] = map[string]any{"details": map[string]any{"errors": warnings}}
	}
	return update, map[string]any{"deploymentDetails": amiDetails}, nil
}

// imageDetails is AmazonImageFinder.byTags after the search: images
// without tags dropped, newest first; those whose appversion (in a
// requested region) names the package preferred when there are any;
// then per region the first image with a copy there.
func imageDetails(images []TaggedImage, pkg string, regions []string, warnings *[]any) []map[string]any {
	var all []TaggedImage
	for _, im := range images {
		if len(im.TagsByImageID) > 0 {
			all = append(all, im)
		}
	}
	sort.SliceStable(all, func(i, j int) bool {
		a, b := all[i].CreationDate, all[j].CreationDate
		if a == "" || b == "" {
			return a != "" && b == ""
		}
		return a > b
	})
	if len(all) >= maxImageResults {
		*warnings = append(*warnings, "Too many results matching search criteria: Consider refining the search.")
	}
	var matches []TaggedImage
	for _, im := range all {
		if appVersionMatches(im, pkg, regions) {
			matches = append(matches, im)
		}
	}
	candidates := all
	if len(matches) > 0 {
		candidates = matches
	}
	var out []map[string]any
	for _, r := range regions {
		for _, im := range candidates {
			ids, ok := im.AMIs[r]
			if !ok {
				continue
			}
			out = append(out, imageDetail(im, r, ids))
			break
		}
	}
	return out
}

func appVersionMatches(im TaggedImage, pkg string, regions []string) bool {
	for _, r := range regions {
		for _, id := range im.AMIs[r] {
			if av, ok := parseAppVersion(im.TagsByImageID[id]["appversion"]); ok && av.packageName == pkg {
				return true
			}
		}
	}
	return false
}

func imageDetail(im TaggedImage, region string, ids []string) map[string]any {
	id := ""
	if len(ids) > 0 {
		id = ids[0]
	}
	tags := im.TagsByImageID[id]
	var jenkins any
	if av, ok := parseAppVersion(tags["appversion"]); ok {
		jenkins = map[string]any{"host": nullable(tags, "build_host"), "name": nonEmpty(av.buildJobName), "number": nonEmpty(av.buildNumber)}
	}
	return map[string]any{"imageName": im.ImageName, "imageId": id, "ami": id, "region": region, "jenkins": jenkins}
}

func nullable(m map[string]string, k string) any {
	if v, ok := m[k]; ok {
		return v
	}
	return nil
}

// nonEmpty is s, or null for a part Frigga did not find.
func nonEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// newUUID is a random (version 4) UUID, as Orca gives each artifact.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
