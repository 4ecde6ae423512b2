package pipeline

import (
	"sort"
	"strconv"
	"strings"
	"time"
)

// The Bake stage (type "bake") as Orca's BakeStage builds it: the
// configured stage fans out into one synthetic child per region, "Bake in
// <region>", which run in parallel before the parent's own task; every
// child shares the parent's amiSuffix so that the images of one run carry
// one name.

// BakeType is the stage type of a Bake stage and of its region children.
const BakeType = "bake"

// amiSuffixLayout is Orca's yyyyMMddHHmmss.
const amiSuffixLayout = "20060102150405"

// defaultCloudProvider is Orca's CloudProviderAware.DEFAULT_CLOUD_PROVIDER.
const defaultCloudProvider = "aws"

// BakeRegions is the set of regions a top-level Bake stage bakes in:
// context.region, then context.regions in order, then, unless a region
// is "global" or skipRegionDetection is exactly true, the regions of the
// deploy stages downstream whose cluster cloudProvider is the bake's
// cloudProviderType (or cloudProvider, default aws), and of the canary
// stages downstream (any provider). A region named twice bakes once.
// Orca collects the detected regions in a hash set; they come sorted
// here so that refIds are stable across restarts.
func BakeRegions(e *Execution, parent *Stage) []string {
	var out []string
	seen := map[string]bool{}
	add := func(v any) {
		if v == nil {
			return
		}
		r := javaString(v)
		if !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	c := parent.Context
	if truthy(c["region"]) {
		add(c["region"])
	}
	for _, r := range asList(c["regions"]) {
		add(r)
	}
	if seen["global"] || isTrue(c["skipRegionDetection"]) {
		return out
	}
	detected := detectRegions(e, parent)
	sort.Strings(detected)
	for _, r := range detected {
		add(r)
	}
	return out
}

// detectRegions is Orca's RegionCollector.getRegionsFromChildStages.
func detectRegions(e *Execution, parent *Stage) []string {
	provider := defaultCloudProvider
	if v, ok := parent.Context["cloudProviderType"]; ok {
		provider = javaString(v)
	} else if v, ok := parent.Context["cloudProvider"]; ok {
		provider = javaString(v)
	}
	var out []string
	zones := func(cluster map[string]any) {
		for r := range asMap(cluster["availabilityZones"]) {
			out = append(out, r)
		}
	}
	for _, d := range downstreamStages(e, parent) {
		switch d.Type {
		case "deploy":
			for _, c := range asList(d.Context["clusters"]) {
				if cm := asMap(c); cm != nil && str(cm["cloudProvider"]) == provider {
					zones(cm)
				}
			}
			if cm := asMap(d.Context["cluster"]); cm != nil && str(cm["cloudProvider"]) == provider {
				zones(cm)
			}
		case "canary":
			for _, p := range asList(d.Context["clusterPairs"]) {
				pm := asMap(p)
				zones(asMap(pm["baseline"]))
				zones(asMap(pm["canary"]))
			}
		}
	}
	return out
}

// BakeChildren builds the synthetic "Bake in <region>" stages of a
// top-level Bake stage, one per BakeRegions region in that order, and
// sets the parent's amiSuffix to now (UTC, yyyyMMddHHmmss) unless it has
// a non-empty one. Each child's context is the parent's (less regions,
// skipRegionDetection, refId and requisiteStageRefIds) with type, region
// and name; its refId is <parentRefId><n (n from 1), its
// syntheticStageOwner STAGE_BEFORE, with no requisites (the children run
// in parallel), and its tasks are BakeStageTasks'. The caller adds them
// to the execution, before the parent as Orca does, and runs the
// parent's completeParallel task once they all succeeded.
func BakeChildren(e *Execution, parent *Stage, now time.Time, newID func() string) []*Stage {
	if parent.Context == nil {
		parent.Context = map[string]any{}
	}
	regions := BakeRegions(e, parent)
	if !truthy(parent.Context["amiSuffix"]) {
		parent.Context["amiSuffix"] = now.UTC().Format(amiSuffixLayout)
	}
	owner := StageBefore
	out := make([]*Stage, 0, len(regions))
	for i, r := range regions {
		ctx := deepCopy(parent.Context).(map[string]any)
		for _, k := range []string{"regions", "skipRegionDetection", "refId", "requisiteStageRefIds"} {
			delete(ctx, k)
		}
		name := "Bake in " + r
		ctx["type"], ctx["region"], ctx["name"] = BakeType, r, name
		parentID := parent.ID
		child := &Stage{
			ID:                   newID(),
			RefID:                parent.RefID + "<" + strconv.Itoa(i+1),
			Type:                 BakeType,
			Name:                 name,
			Status:               NotStarted,
			Context:              ctx,
			Outputs:              map[string]any{},
			ParentStageID:        &parentID,
			SyntheticStageOwner:  &owner,
			RequisiteStageRefIDs: []string{},
		}
		child.Tasks = BakeStageTasks(child)
		out = append(out, child)
	}
	return out
}

// Task names and Orca's implementing classes of the Bake stage, as an
// execution lists them.
const (
	TaskCompleteParallel      = "completeParallel"
	TaskCreateBake            = "createBake"
	TaskMonitorBake           = "monitorBake"
	TaskCompletedBake         = "completedBake"
	TaskBindProducedArtifacts = "bindProducedArtifacts"
	// TaskFindImage is the findImageFromTags stage's one task.
	TaskFindImage = "findImage"
)

var taskClasses = map[string]string{
	TaskCompleteParallel:      "com.netflix.spinnaker.orca.bakery.pipeline.BakeStage$CompleteParallelBakeTask",
	TaskCreateBake:            "com.netflix.spinnaker.orca.bakery.tasks.CreateBakeTask",
	TaskMonitorBake:           "com.netflix.spinnaker.orca.bakery.tasks.MonitorBakeTask",
	TaskCompletedBake:         "com.netflix.spinnaker.orca.bakery.tasks.CompletedBakeTask",
	TaskBindProducedArtifacts: "com.netflix.spinnaker.orca.pipeline.tasks.artifacts.BindProducedArtifactsTask",
	TaskFindImage:             "com.netflix.spinnaker.orca.clouddriver.tasks.image.FindImageFromTagsTask",
}

// FindImageFromTagsTasks lists the findImageFromTags stage's task.
func FindImageFromTagsTasks() []*Task {
	return []*Task{{ID: "1", Name: TaskFindImage, ImplementingClass: taskClasses[TaskFindImage], Status: NotStarted,
		StageStart: true, StageEnd: true}}
}

// BakeStageTasks lists a Bake stage's tasks, all NOT_STARTED: the
// top-level stage (no parentStageId) runs only completeParallel
// (CompleteParallelBake); a region child runs createBake, monitorBake,
// completedBake and bindProducedArtifacts. (bindProducedArtifacts binds
// the stage's expectedArtifacts; with none, as Deck's bake stage has, it
// succeeds doing nothing.)
func BakeStageTasks(s *Stage) []*Task {
	names := []string{TaskCompleteParallel}
	if s.ParentStageID != nil {
		names = []string{TaskCreateBake, TaskMonitorBake, TaskCompletedBake, TaskBindProducedArtifacts}
	}
	tasks := make([]*Task, len(names))
	for i, n := range names {
		tasks[i] = &Task{
			ID: strconv.Itoa(i + 1), Name: n, ImplementingClass: taskClasses[n], Status: NotStarted,
			StageStart: i == 0, StageEnd: i == len(names)-1,
		}
	}
	return tasks
}

// deploymentDetailFields are the child context keys Orca copies into the
// parent's outputs.deploymentDetails.
var deploymentDetailFields = []string{"ami", "amiName", "imageId", "imageName", "amiSuffix", "baseLabel",
	"baseOs", "refId", "storeType", "vmType", "region", "package", "cloudProviderType", "cloudProvider", "baseAmiId"}

// CompleteParallelBake is the top-level Bake stage's task, run after its
// children: it returns the parent's outputs, deploymentDetails with one
// entry per child of this parent that produced an ami or imageId, in
// stage order (every downstream stage reads the images from there). With
// FailOnImageNameMismatch, children whose imageNames differ fail the
// stage (a ConstraintViolationException in Orca).
func CompleteParallelBake(e *Execution, parent *Stage, set Settings) (map[string]any, error) {
	details := []any{}
	var names []string
	seen := map[string]bool{}
	for _, s := range e.Stages {
		if s.Type != BakeType || s.ParentStageID == nil || *s.ParentStageID != parent.ID {
			continue
		}
		if truthy(s.Context["ami"]) || truthy(s.Context["imageId"]) {
			d := map[string]any{}
			for _, k := range deploymentDetailFields {
				if v, ok := s.Context[k]; ok {
					d[k] = v
				}
			}
			details = append(details, d)
		}
		if n := s.Context["imageName"]; truthy(n) && !seen[javaString(n)] {
			seen[javaString(n)] = true
			names = append(names, javaString(n))
		}
	}
	if set.FailOnImageNameMismatch && len(names) > 1 {
		return nil, taskErr(TaskCompleteParallel, &UserError{Type: "ConstraintViolationException",
			Message: "Image names found in different regions do not match: " + strings.Join(names, ", ") +
				". Re-run the bake to protect against deployment failures."})
	}
	return map[string]any{"deploymentDetails": details}, nil
}
