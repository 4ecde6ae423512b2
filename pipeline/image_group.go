package pipeline

// Image is one image in one region as a cloud lists it: an EC2 AMI from
// DescribeImages, or a docker engine image (region "global" or the
// bakery's region name). CreationDate is ISO 8601 (RFC 3339).
type Image struct {
	Name, ID, Region, CreationDate string
	Tags                           map[string]string
}

// GroupImages groups images by name as Clouddriver's image search answers
// Orca: one TaggedImage per name, in order of first appearance, with each
// region's ids, each id's tags, and the newest creation date of its
// copies. An ImageFinder over EC2 or docker returns GroupImages of what
// it listed.
func GroupImages(images []Image) []TaggedImage {
	var out []TaggedImage
	index := map[string]int{}
	for _, im := range images {
		i, ok := index[im.Name]
		if !ok {
			i = len(out)
			index[im.Name] = i
			out = append(out, TaggedImage{ImageName: im.Name,
				TagsByImageID: map[string]map[string]string{}, AMIs: map[string][]string{}})
		}
		g := &out[i]
		if im.CreationDate > g.CreationDate {
			g.CreationDate = im.CreationDate
		}
		if !contains(g.AMIs[im.Region], im.ID) {
			g.AMIs[im.Region] = append(g.AMIs[im.Region], im.ID)
		}
		if len(im.Tags) > 0 {
			tags := make(map[string]string, len(im.Tags))
			for k, v := range im.Tags {
				tags[k] = v
			}
			g.TagsByImageID[im.ID] = tags
		}
	}
	return out
}
