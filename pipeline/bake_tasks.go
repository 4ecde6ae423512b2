package pipeline

import (
	"context"
	"time"
)

// Bakery is the bakery as Orca's bake tasks see Rosco. The runner
// implements it over Bakehouse's in-process bakery; an error answer is a
// *BakeryError or a *bakehouse.Error (its code standing for the HTTP
// status the API would give).
type Bakery interface {
	// BaseImage answers GET /bakeOptions/{cloudProvider}/baseImages/{baseOS}
	// with the base image's packageType (DEB, RPM, NUPKG).
	BaseImage(ctx context.Context, cloudProvider, baseOS string) (packageType string, err error)
	// CreateBake is POST /api/v1/{region}/bake[?rebake=1]; it answers
	// Rosco's BakeStatus JSON ({id, state, result, resource_id}).
	CreateBake(ctx context.Context, region string, body map[string]any, rebake bool) (status map[string]any, err error)
	// Status is GET /api/v1/{region}/status/{id} (a BakeStatus).
	Status(ctx context.Context, region, id string) (map[string]any, error)
	// Bake is GET /api/v1/{region}/bake/{id}, Rosco's Bake JSON
	// (snake_case: id, ami, ami_name, image_name, base_ami, artifact).
	Bake(ctx context.Context, region, id string) (map[string]any, error)
}

// Settings are Orca's bakery settings, under Orca's names in the config
// (bakery.roscoApisEnabled, bakery.extractBuildDetails,
// bakery.allowMissingPackageInstallation,
// stages.bake.failOnImageNameMismatch), and the create call's retry.
type Settings struct {
	// RoscoAPIsEnabled asks the bakery for a base OS's package type and
	// passes the stage's undeclared fields through (default true).
	RoscoAPIsEnabled bool
	// ExtractBuildDetails sends the build's host, job, number and commit
	// (default true).
	ExtractBuildDetails bool
	// AllowMissingPackageInstallation lets a package name that matches no
	// build artifact go to the bakery as it is (default false).
	AllowMissingPackageInstallation bool
	// FailOnImageNameMismatch fails a Bake stage whose regions produced
	// differently named images (default false).
	FailOnImageNameMismatch bool
	// CreateAttempts is how many times the create call is tried before
	// its error stands (Orca: 5; 0 means 5), CreateRetryWait the wait
	// between tries (Orca: 2 s).
	CreateAttempts  int
	CreateRetryWait time.Duration
}

// DefaultSettings are Orca's defaults.
func DefaultSettings() Settings {
	return Settings{RoscoAPIsEnabled: true, ExtractBuildDetails: true, CreateAttempts: 5, CreateRetryWait: 2 * time.Second}
}

// CreateBake is the createBake task of a "Bake in <region>" stage: it
// evaluates the context's expressions, takes baseAmiFromUpstream's image,
// chooses the package type, resolves the packages (PackageInfo), builds
// Orca's request and submits it, retrying as Orca does. It returns what
// the task writes to the stage's context: status, bakePackageName,
// previouslyBaked (the bakery answered COMPLETED: it reused a bake),
// packageType and the build details. A bakery 404 becomes a *UserError
// with the bakery's first message.
func CreateBake(ctx context.Context, b Bakery, e *Execution, s *Stage, set Settings) (map[string]any, error) {
	update, err := createBake(ctx, b, e, s, set)
	return update, taskErr(TaskCreateBake, err)
}

func createBake(ctx context.Context, b Bakery, e *Execution, s *Stage, set Settings) (map[string]any, error) {
	v, err := Evaluate(e, s, s.Context)
	if err != nil {
		return nil, err
	}
	work, _ := v.(map[string]any)
	if work == nil {
		work = map[string]any{}
	}
	region := str(work["region"])
	if region == "" {
		return nil, illegalArgument("region is missing: a Bake stage's region child needs one (set region or regions on the Bake stage)")
	}
	if isTrue(work["baseAmiFromUpstream"]) {
		img, ok := UpstreamImage(e, s, region)
		if !ok {
			return nil, illegalState("baseAmiFromUpstream: no upstream Find Image stage found an image in %s; add one before this Bake stage or set baseAmi", region)
		}
		work["baseAmi"] = img
	}
	delete(work, "baseAmiFromUpstream")

	status, body, err := submitBake(ctx, b, e, s, work, region, set)
	if err != nil {
		if code, msgs := bakeryStatus(err); code == 404 && len(msgs) > 0 {
			return nil, illegalState("%s", msgs[0])
		}
		return nil, err
	}
	update := map[string]any{
		"status":          status,
		"bakePackageName": str(body["package"]),
		"previouslyBaked": status["state"] == "COMPLETED",
		"packageType":     work["packageType"],
	}
	if truthy(body["build_info_url"]) {
		update["buildInfoUrl"] = body["build_info_url"]
	}
	if truthy(body["build_host"]) {
		update["buildHost"], update["job"], update["buildNumber"] = body["build_host"], body["job"], body["build_number"]
		if truthy(body["commit_hash"]) {
			update["commitHash"] = body["commit_hash"]
		}
	}
	return update, nil
}

// submitBake builds the request from the working context and posts it.
func submitBake(ctx context.Context, b Bakery, e *Execution, s *Stage, work map[string]any, region string, set Settings) (map[string]any, map[string]any, error) {
	pt, err := bakePackageType(ctx, b, work, set)
	if err != nil {
		return nil, nil, err
	}
	work["packageType"] = string(pt)
	resolving := *s
	resolving.Context = work
	req, err := PackageInfo{Type: pt, ExtractBuildDetails: set.ExtractBuildDetails,
		AllowMissingPackageInstallation: set.AllowMissingPackageInstallation}.FindTargetPackage(e, &resolving, ArtifactPool(e))
	if err != nil {
		return nil, nil, err
	}
	if truthy(work["account"]) {
		req["accountName"] = javaString(work["account"])
	}
	req["packageArtifacts"] = boundArtifacts(e, work["packageArtifactIds"])
	if req["storeType"] == "docker" {
		delete(req, "baseOs") // Deck used to inject baseOs=trusty into docker bakes
	}
	if req["baseName"] == "" {
		delete(req, "baseName")
	}
	if work["baseOs"] == nil {
		req["custom_managed_image_name"] = work["managedImage"]
		if work["managedImage"] == nil {
			req["sku"], req["offer"], req["publisher"] = work["sku"], work["offer"], work["publisher"]
		}
	}
	body, err := BakeRequestBody(req, set.RoscoAPIsEnabled)
	if err != nil {
		return nil, nil, err
	}
	rebake := isTrue(work["rebake"]) || isTrue(e.Trigger["rebake"])
	attempts := set.CreateAttempts
	if attempts <= 0 {
		attempts = 5
	}
	var status map[string]any
	for i := 1; ; i++ {
		status, err = b.CreateBake(ctx, region, body, rebake)
		if err == nil || i >= attempts || ctx.Err() != nil {
			break
		}
		if werr := wait(ctx, set.CreateRetryWait); werr != nil {
			return nil, nil, werr
		}
	}
	if err != nil {
		return nil, nil, err
	}
	return normalizeStatus(status), body, nil
}

func wait(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// bakePackageType is Orca's choice of package type: with a baseOs, the
// bakery's answer for it (or, with Rosco's APIs off, the deprecated
// heuristic); without one, NUPKG unless osType is linux, else
// context.packageType, else the heuristic on managedImage.
func bakePackageType(ctx context.Context, b Bakery, work map[string]any, set Settings) (PackageType, error) {
	if os := work["baseOs"]; os != nil {
		if !set.RoscoAPIsEnabled {
			return osPackageType(javaString(os)), nil
		}
		provider := defaultCloudProvider // Rosco's default; Orca would fail on a null path parameter
		if v := work["cloudProviderType"]; v != nil {
			provider = javaString(v)
		}
		name, err := b.BaseImage(ctx, provider, javaString(os))
		if err != nil {
			return "", err
		}
		pt, ok := ParsePackageType(name)
		if !ok {
			return "", illegalState("the bakery gave base OS %s (%s) the package type %q, not one of DEB, RPM, NUPKG", javaString(os), provider, name)
		}
		return pt, nil
	}
	if work["osType"] != "linux" {
		return NUPKG, nil
	}
	if v := work["packageType"]; v != nil {
		pt, ok := ParsePackageType(javaString(v))
		if !ok {
			return "", illegalArgument("packageType %s is not one of DEB, RPM, NUPKG", javaString(v))
		}
		return pt, nil
	}
	return osPackageType(str(work["managedImage"])), nil
}

// boundArtifacts resolves packageArtifactIds (Deck's artifact picker)
// into the artifacts bound to those expected artifacts in the trigger.
// An id that is bound to nothing gives null, as in Orca.
func boundArtifacts(e *Execution, ids any) []any {
	out := []any{}
	for _, id := range asList(ids) {
		var found any
		for _, r := range asList(e.Trigger["resolvedExpectedArtifacts"]) {
			if rm := asMap(r); rm != nil && javaString(rm["id"]) == javaString(id) {
				found = rm["boundArtifact"]
				break
			}
		}
		out = append(out, found)
	}
	return out
}

// normalizeStatus is a BakeStatus as Orca holds it in the context: id,
// state, result, resourceId (Rosco's resource_id), nulls left out.
func normalizeStatus(raw map[string]any) map[string]any {
	out := map[string]any{}
	for _, k := range []string{"id", "state", "result"} {
		if v := raw[k]; v != nil {
			out[k] = v
		}
	}
	if v := raw["resource_id"]; v != nil {
		out["resourceId"] = v
	} else if v := raw["resourceId"]; v != nil {
		out["resourceId"] = v
	}
	return out
}

// MonitorBake is the monitorBake task, polled until it is no longer
// RUNNING: it replaces context.status with the bakery's answer and maps
// it to the task's status (COMPLETED with SUCCESS succeeds, COMPLETED
// otherwise or CANCELED is TERMINAL, anything else RUNNING). A bake that
// was PENDING and is now CANCELED is submitted again (CreateBake's update
// is returned, the task keeps RUNNING), and so is, once, a bake that ended
// because its node died (see resubmitAfterNodeDied); a bakery 404 keeps
// polling. An error means TERMINAL.
func MonitorBake(ctx context.Context, b Bakery, e *Execution, s *Stage, set Settings) (Status, map[string]any, error) {
	region := str(s.Context["region"])
	prev := asMap(s.Context["status"])
	raw, err := b.Status(ctx, region, javaString(prev["id"]))
	if err != nil {
		if code, _ := bakeryStatus(err); code == 404 {
			return Running, nil, nil
		}
		return Terminal, nil, taskErr(TaskMonitorBake, err)
	}
	status := normalizeStatus(raw)
	state := str(status["state"])
	canceled := state == "CANCELED" || state == "CANCELLED"
	if canceled && prev["state"] == "PENDING" {
		update, err := createBake(ctx, b, e, s, set)
		if err != nil {
			return Terminal, nil, taskErr(TaskMonitorBake, err)
		}
		return Running, update, nil
	}
	if update, err := resubmitAfterNodeDied(ctx, b, e, s, set, status); err != nil {
		return Terminal, nil, taskErr(TaskMonitorBake, err)
	} else if update != nil {
		return Running, update, nil
	}
	out := Running
	switch {
	case state == "COMPLETED" && status["result"] == "SUCCESS":
		out = Succeeded
	case state == "COMPLETED" || canceled:
		out = Terminal
	}
	return out, map[string]any{"status": status}, nil
}

// CompletedBake is the completedBake task: it reads the finished bake
// (by status.resourceId) and returns ami and imageId (the AMI, or the
// image name for docker and GCE bakes), artifacts, baseAmiId, imageName
// (image_name, else ami_name) and the context's cloudProvider.
func CompletedBake(ctx context.Context, b Bakery, s *Stage) (map[string]any, error) {
	status := asMap(s.Context["status"])
	id := status["resourceId"]
	if id == nil {
		id = status["resource_id"]
	}
	bake, err := b.Bake(ctx, str(s.Context["region"]), javaString(id))
	if err != nil {
		return nil, taskErr(TaskCompletedBake, err)
	}
	get := func(snake, camel string) any {
		if v, ok := bake[snake]; ok && v != nil {
			return v
		}
		return bake[camel]
	}
	ami := get("ami", "ami")
	if !truthy(ami) {
		ami = get("image_name", "imageName")
	}
	artifacts := []any{}
	if a := asMap(bake["artifact"]); len(a) > 0 {
		artifacts = append(artifacts, camelKeys(a))
	}
	out := map[string]any{"ami": ami, "imageId": ami, "artifacts": artifacts}
	if v := get("base_ami", "baseAmi"); v != nil {
		out["baseAmiId"] = v
	}
	if v := s.Context["cloudProvider"]; truthy(v) {
		out["cloudProvider"] = v
	}
	if n := get("image_name", "imageName"); truthy(n) {
		out["imageName"] = n
	} else if n := get("ami_name", "amiName"); truthy(n) {
		out["imageName"] = n
	}
	return out, nil
}
