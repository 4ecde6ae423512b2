package pipeline

import (
	"regexp"
	"sort"
	"strings"
	"time"
)

// The Find Image from Cluster stage (type findImage) as Orca's
// FindImageFromClusterTask runs it, over the images Bakehouse baked.
// Orca asks Clouddriver which image the newest (oldest, largest) server
// group of a deployed cluster runs in each region. Bakehouse deploys
// nothing and keeps no inventory of clusters, so it answers from its own
// bake records instead: in each region, the newest (or oldest) successful
// bake whose package belongs to the cluster by Frigga's naming. The
// outputs keep Orca's shape, so the expressions and the Bake stages'
// baseAmiFromUpstream that read them work unchanged.

// FindImageFromClusterType is the stage type of Find Image from Cluster
// (Orca's FindImageFromClusterStage.PIPELINE_CONFIG_TYPE); its one task
// is named findImage too, like Find Image from Tags' task, so the runner
// tells them apart by the stage's type.
const FindImageFromClusterType = "findImage"

// FindImageFromClusterTasks lists the findImage stage's task.
func FindImageFromClusterTasks() []*Task {
	return []*Task{{ID: "1", Name: TaskFindImage, Status: NotStarted, StageStart: true, StageEnd: true,
		ImplementingClass: "com.netflix.spinnaker.orca.clouddriver.tasks.cluster.FindImageFromClusterTask"}}
}

// BakedImage is one image a successful, not deleted bake produced, in one
// region: what Find Image from Cluster chooses from. A bake that copied
// its AMI to other regions gives one BakedImage per region.
type BakedImage struct {
	// Provider is the bake's cloud provider type (aws, docker).
	Provider string
	// Region is where the image is. A docker image is in the engine, not
	// in a region: it is found in every region the stage names.
	Region string
	// ImageID is the AMI id; for docker the image reference, which is
	// what the Bake stage reports as its ami and imageId.
	ImageID   string
	ImageName string
	// AppVersion is the Frigga appversion the bake tagged (aws) or
	// labelled (docker) the image with; its package name says which
	// cluster the image belongs to and its parts are the build info.
	AppVersion string
	// Package is the first package the bake installed, which names the
	// image when AppVersion is not a Frigga appversion.
	Package string
	// BuildHost and BuildInfoURL are the bake request's (the image's
	// build_host and build_info_url tags).
	BuildHost, BuildInfoURL string
	// Created is when the bake finished, i.e. when the image was made.
	Created time.Time
}

// Frigga's Names patterns (NameConstants.NAME_CHARS a-zA-Z0-9._, hyphens
// allowed in the detail and before a push), anchored as Java's matches().
var (
	friggaPush = regexp.MustCompile(`^([-a-zA-Z0-9._]*)-(v([0-9]{3}))$`)
	friggaName = regexp.MustCompile(`^([a-zA-Z0-9._]+)(?:-([a-zA-Z0-9._]*)(?:-([-a-zA-Z0-9._]*?))?)?$`)
)

// friggaNames is Frigga's Names.parseName for what Find Image needs: the
// cluster (the name without a -vNNN push) and the application (the part
// before the first hyphen); ok is false for a name Frigga does not parse.
func friggaNames(name string) (cluster, app string, ok bool) {
	if strings.TrimSpace(name) == "" {
		return "", "", false
	}
	cluster = name
	if m := friggaPush.FindStringSubmatch(name); m != nil {
		cluster = m[1]
	}
	m := friggaName.FindStringSubmatch(cluster)
	if m == nil {
		return "", "", false
	}
	return cluster, m[1], true
}

// selectionStrategies are Orca's SelectionStrategy values. With no server
// groups, LARGEST (most instances, ties to the newest) is NEWEST, and
// FAIL fails when more than one image could be chosen in a region.
var selectionStrategies = map[string]bool{"NEWEST": true, "OLDEST": true, "LARGEST": true, "FAIL": true}

// FindImageFromBakes is the findImage task of a Find Image from Cluster
// stage over images, the bakes Bakehouse recorded (any order). It returns
// what Orca's FindImageFromClusterTask writes: the context update
// (amiDetails, one per region in order; artifacts, one <provider>/image
// per region; for aws the regions with those inferred from the deploy
// stages downstream) and the outputs (deploymentDetails, the same list
// as amiDetails, and inferredRegions).
//
// An image belongs to the cluster when its package (the appversion's, as
// Clouddriver reads it from the image's tags) is, in this order of
// preference, the cluster's name, its application (moniker.app, else
// Frigga's app: the part of the cluster before the first hyphen), or the
// application followed by a hyphen and anything ("tracks-server" for the
// cluster tracks-test); the first of those that any image meets is used
// in every region, so that a region never gets another package's image
// while the package itself was baked elsewhere. imageNamePattern (a
// regular expression the whole image name must match, as Groovy's ==~)
// narrows the images before one is chosen, where Orca drops the chosen
// server group's image when it does not match. A region with no image is
// Orca's "Could not find cluster '<cluster>' for '<account>' in
// '<region>'."; selectionStrategy FAIL with two images in a region is
// Orca's "Multiple possible server groups present in <region>". onlyEnabled
// and resolveMissingLocations have nothing to act on and are ignored.
func FindImageFromBakes(e *Execution, s *Stage, images []BakedImage) (update, outputs map[string]any, err error) {
	c := s.Context
	var provider any = defaultCloudProvider
	if v, ok := c["cloudProvider"]; ok {
		provider = v
	}
	account := c["credentials"]
	if v, ok := c["account"]; ok {
		account = v
	}
	if v, ok := c["account.name"]; ok {
		account = v
	}
	clusterName, ok := asString(c["cluster"])
	if c["cluster"] == nil || !ok || clusterName == "" {
		return nil, nil, taskErr(TaskFindImage, illegalArgument(
			"cluster is missing: name the cluster whose image to find (Frigga's app-stack-detail, e.g. armory-hello-deploy)"))
	}
	strategy := "NEWEST"
	if v := c["selectionStrategy"]; v != nil {
		if strategy = str(v); !selectionStrategies[strategy] {
			return nil, nil, taskErr(TaskFindImage, illegalArgument(
				"selectionStrategy %s is not one of NEWEST, OLDEST, LARGEST, FAIL", javaString(v)))
		}
	}
	var pattern *regexp.Regexp
	if v := c["imageNamePattern"]; truthy(v) {
		p, ok := v.(string)
		if !ok {
			return nil, nil, taskErr(TaskFindImage, illegalArgument("imageNamePattern %s is not a regular expression string", javaString(v)))
		}
		if pattern, err = regexp.Compile(`^(?:` + p + `)$`); err != nil {
			return nil, nil, taskErr(TaskFindImage, illegalArgument("imageNamePattern %q is not a regular expression: %v", p, err))
		}
	}

	var regions []string
	for _, r := range asList(c["regions"]) {
		regions = append(regions, javaString(r))
	}
	configured := len(regions) > 0
	inferred := []string{}
	if provider == "aws" {
		detected := detectRegions(e, s)
		sort.Strings(detected)
		for _, r := range detected {
			if !contains(regions, r) {
				regions = append(regions, r)
				inferred = append(inferred, r)
			}
		}
	}
	if len(regions) == 0 {
		return nil, nil, taskErr(TaskFindImage, illegalArgument(
			"regions is missing: name the regions to find the image of cluster %s in (a docker bake's region, e.g. [\"global\"])", clusterName))
	}

	cluster, app := clusterName, ""
	if fc, fa, ok := friggaNames(clusterName); ok {
		cluster, app = fc, fa
	}
	if m := asMap(c["moniker"]); truthy(m["app"]) {
		app = javaString(m["app"])
	}
	// Candidates: the provider's images in a requested region, whose name
	// matches the pattern, with how well their package names the cluster.
	type candidate struct {
		im   BakedImage
		rank int // 0 cluster name, 1 application, 2 application-*
	}
	var cands []candidate
	best := 3
	for _, im := range images {
		if im.Provider != str(provider) || im.ImageID == "" {
			continue
		}
		if im.Provider != "docker" && !contains(regions, im.Region) {
			continue
		}
		if pattern != nil && !pattern.MatchString(im.ImageName) {
			continue
		}
		rank := clusterRank(packageOf(im), cluster, app)
		if rank < 0 {
			continue
		}
		cands = append(cands, candidate{im, rank})
		best = min(best, rank)
	}
	sort.SliceStable(cands, func(i, j int) bool {
		if strategy == "OLDEST" {
			return cands[i].im.Created.Before(cands[j].im.Created)
		}
		return cands[i].im.Created.After(cands[j].im.Created)
	})

	details := []any{}
	artifacts := []any{}
	for _, r := range regions {
		var chosen []BakedImage
		for _, cd := range cands {
			if cd.rank == best && (cd.im.Provider == "docker" || cd.im.Region == r) {
				chosen = append(chosen, cd.im)
			}
		}
		if len(chosen) == 0 {
			return nil, nil, taskErr(TaskFindImage, illegalState("Could not find cluster '%s' for '%s' in '%s'.", clusterName, javaString(account), r))
		}
		if strategy == "FAIL" && distinctImages(chosen) > 1 {
			return nil, nil, taskErr(TaskFindImage, illegalState("Multiple possible server groups present in %s", r))
		}
		im := chosen[0]
		// Orca's detail: the summary's fields, then Clouddriver's image
		// and build info merged over them; Bakehouse has no server
		// group, so sourceServerGroup is the cluster, as Orca writes it
		// for an image it resolved by name.
		detail := map[string]any{
			"ami": im.ImageID, "imageId": im.ImageID, "imageName": im.ImageName,
			"cloudProvider": provider, "refId": s.RefID, "sourceServerGroup": clusterName, "region": r,
		}
		metadata := map[string]any{"sourceServerGroup": clusterName, "refId": s.RefID}
		for k, v := range imageAndBuildInfo(im) {
			detail[k], metadata[k] = v, v
		}
		details = append(details, detail)
		artifacts = append(artifacts, map[string]any{
			"type": javaString(provider) + "/image", "name": im.ImageName, "location": r,
			"reference": im.ImageID, "metadata": metadata, "uuid": newUUID(),
		})
	}
	update = map[string]any{"amiDetails": details, "artifacts": artifacts}
	if provider == "aws" && configured {
		// Orca writes config.regions (which already holds the inferred
		// regions) + inferredRegions: an inferred region is listed twice.
		all := make([]any, 0, len(regions)+len(inferred))
		for _, r := range append(append([]string{}, regions...), inferred...) {
			all = append(all, r)
		}
		update["regions"] = all
	}
	inf := make([]any, len(inferred))
	for i, r := range inferred {
		inf[i] = r
	}
	return update, map[string]any{"deploymentDetails": details, "inferredRegions": inf}, nil
}

// packageOf is the package an image was baked from: the appversion's, as
// Clouddriver reads it, else the bake's first package.
func packageOf(im BakedImage) string {
	if av, ok := parseAppVersion(im.AppVersion); ok {
		return av.packageName
	}
	return im.Package
}

// clusterRank says how well package pkg names the cluster: 0 it is the
// cluster's name, 1 its application, 2 the application and a detail
// ("<app>-server"), -1 not at all.
func clusterRank(pkg, cluster, app string) int {
	switch {
	case pkg == "":
		return -1
	case pkg == cluster:
		return 0
	case app == "":
		return -1
	case pkg == app:
		return 1
	case strings.HasPrefix(pkg, app+"-"):
		return 2
	}
	return -1
}

func distinctImages(ims []BakedImage) int {
	ids := map[string]bool{}
	for _, im := range ims {
		ids[im.ImageID] = true
	}
	return len(ids)
}

// imageAndBuildInfo is what Orca merges into a detail from Clouddriver's
// server group summary: the image (its id, name and creation date) and
// the build info Clouddriver derives from the appversion and build_host
// tags (package_name, version, commit, jenkins {name, number, host},
// buildInfoUrl).
func imageAndBuildInfo(im BakedImage) map[string]any {
	out := map[string]any{"name": im.ImageName}
	if !im.Created.IsZero() {
		out["creationDate"] = im.Created.UTC().Format("2006-01-02T15:04:05.000Z")
	}
	av, ok := parseAppVersion(im.AppVersion)
	if !ok {
		return out
	}
	out["package_name"], out["version"], out["commit"] = av.packageName, av.version, nonEmpty(av.commit)
	if av.buildJobName != "" {
		jenkins := map[string]any{"name": av.buildJobName, "number": nonEmpty(av.buildNumber)}
		if im.BuildHost != "" {
			jenkins["host"] = im.BuildHost
		}
		out["jenkins"] = jenkins
	}
	if im.BuildInfoURL != "" {
		out["buildInfoUrl"] = im.BuildInfoURL
	}
	return out
}
