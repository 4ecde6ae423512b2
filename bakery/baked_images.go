package bakery

import (
	"context"
	"strings"

	"github.com/bakehouse/bakehouse"
	"github.com/bakehouse/bakehouse/pipeline"
)

// BakedImages lists the images of every successful bake that was not
// deleted, newest bake first, one per region an image is in: what the
// Find Image from Cluster stage chooses from, since Bakehouse keeps no
// inventory of deployed clusters (see pipeline.FindImageFromBakes). It is
// one store query, whatever the number of regions a stage names.
func (s *Service) BakedImages(ctx context.Context) ([]pipeline.BakedImage, error) {
	recs, err := s.store.List(ctx, bakehouse.BakeFilter{State: bakehouse.StateCompleted})
	if err != nil {
		return nil, err
	}
	return bakedImages(recs), nil
}

// bakedImages turns bake records into the images they made. An aws bake
// made an AMI in its region and a copy in each region its artifacts name
// (copy_to); a docker bake made one image in the engine, named by its
// reference (the Bake stage's imageId). The appversion and the build host
// are those the bake tagged the image with.
func bakedImages(recs []*bakehouse.BakeRecord) []pipeline.BakedImage {
	var out []pipeline.BakedImage
	for _, r := range recs {
		d := r.Details
		if r.State != bakehouse.StateCompleted || r.Result == nil || *r.Result != bakehouse.ResultSuccess || r.Deleted || d == nil {
			continue
		}
		base := pipeline.BakedImage{
			Provider: r.Provider, ImageName: d.ImageName, AppVersion: r.Plan.AppVersion,
			BuildHost: r.Request.BuildHost, BuildInfoURL: r.Request.BuildInfoURL, Created: r.FinishedAt,
		}
		if len(r.Plan.Packages) > 0 {
			base.Package = r.Plan.Packages[0].Name
		}
		if base.Created.IsZero() {
			base.Created = r.CreatedAt
		}
		if r.Provider == "docker" {
			im := base
			im.Region, im.ImageID = r.Region, d.AMI
			if im.ImageID == "" {
				im.ImageID = d.ImageName
			}
			out = append(out, im)
			continue
		}
		seen := map[string]bool{}
		add := func(region, id string) {
			if region == "" || id == "" || seen[region] {
				return
			}
			seen[region] = true
			im := base
			im.Region, im.ImageID = region, id
			out = append(out, im)
		}
		add(r.Region, d.AMI)
		arts := d.Artifacts
		if d.Artifact != nil {
			arts = append([]bakehouse.Artifact{*d.Artifact}, arts...)
		}
		for _, a := range arts {
			if a.Type == "" || strings.HasSuffix(a.Type, "/image") {
				add(a.Location, a.Reference)
			}
		}
	}
	return out
}
