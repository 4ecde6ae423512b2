package runner

import (
	"context"
	"fmt"
	"time"

	"github.com/bakehouse/bakehouse/pipeline"
)

// Tasks runs stages' tasks: it knows which stage types Bakehouse runs and
// what each of their tasks does. Stage types it does not run (deploy,
// manualJudgment, ...) are kept in the execution, take part in region
// detection, and end SKIPPED when reached.
type Tasks struct {
	// Poll is how long a task that answered RUNNING waits before it is
	// asked again (default 1s; Orca's bake monitor waits 30 s, which
	// the in-process bakery makes needless).
	Poll time.Duration
	// CI reads Jenkins builds (nil: no masters configured).
	CI CI
	// Bakery is the bakery the Bake stage bakes with (Rosco's API).
	Bakery pipeline.Bakery
	// Settings are Orca's bakery settings; nil: Orca's defaults.
	Settings *pipeline.Settings
	// Images finds tagged images for Find Image from Tags stages.
	Images pipeline.ImageFinder
	// Baked lists Bakehouse's own images for Find Image from Cluster.
	Baked BakedImages
	// Repo is the bakery's package repository (nil: nothing is fetched).
	Repo PackageRepo
}

// taskFunc runs one task once. RUNNING means "ask again after Poll";
// ctxUpdate and outputs are merged into the stage's context and outputs.
type taskFunc func(ctx context.Context, e *pipeline.Execution, s *pipeline.Stage) (st pipeline.Status, ctxUpdate, outputs map[string]any, err error)

// skipped is plan's answer for a stage Bakehouse does not run.
type skipped struct{ reason string }

func (s *skipped) Error() string { return s.reason }

func (t *Tasks) after() <-chan time.Time {
	d := t.Poll
	if d <= 0 {
		d = time.Second
	}
	return time.After(d)
}

// task makes an Orca task entry.
func task(id int, name, class string, first, last bool) *pipeline.Task {
	return &pipeline.Task{ID: fmt.Sprint(id), Name: name, ImplementingClass: class, Status: pipeline.NotStarted, StageStart: first, StageEnd: last}
}

// plan returns the tasks of stage s, which starts now, and adds the
// stage's synthetic children to e; a *skipped error says the stage is not
// run.
func (t *Tasks) plan(e *pipeline.Execution, s *pipeline.Stage, now time.Time, newID func() string) ([]*pipeline.Task, error) {
	switch s.Type {
	case "bake":
		return t.planBake(e, s, now, newID), nil
	case "findImageFromTags":
		return pipeline.FindImageFromTagsTasks(), nil
	case pipeline.FindImageFromClusterType:
		return pipeline.FindImageFromClusterTasks(), nil
	case "wait":
		return []*pipeline.Task{task(1, "wait", "com.netflix.spinnaker.orca.pipeline.tasks.WaitTask", true, true)}, nil
	}
	return nil, &skipped{fmt.Sprintf("stage type %s is not run by Bakehouse", s.Type)}
}

// run runs task name of stage s once.
func (t *Tasks) run(ctx context.Context, name string, e *pipeline.Execution, s *pipeline.Stage) (pipeline.Status, map[string]any, map[string]any, error) {
	var f taskFunc
	switch name {
	case "wait":
		f = waitTask
	case pipeline.TaskCreateBake:
		f = t.createBake
	case pipeline.TaskMonitorBake:
		f = t.monitorBake
	case pipeline.TaskCompletedBake:
		f = t.completedBake
	case pipeline.TaskBindProducedArtifacts:
		f = func(context.Context, *pipeline.Execution, *pipeline.Stage) (pipeline.Status, map[string]any, map[string]any, error) {
			return pipeline.Succeeded, nil, nil, nil
		}
	case pipeline.TaskCompleteParallel:
		f = t.completeParallel
	case pipeline.TaskFindImage:
		f = t.findImage
	default:
		return "", nil, nil, fmt.Errorf("task %s of stage %s is not known to this Bakehouse", name, s.Name)
	}
	return f(ctx, e, s)
}

// canceled is told that stage id of e was canceled while it ran, so that
// work it started elsewhere (a bake) stops too.
func (t *Tasks) canceled(e *pipeline.Execution, id string) {
	if s := e.Stage(id); s != nil && s.Type == "bake" && s.ParentStageID != nil && t.Bakery != nil {
		go t.cancelBake(s)
	}
}

// waitTask is Orca's WaitTask: RUNNING until waitTime seconds have passed
// since the stage started.
func waitTask(_ context.Context, _ *pipeline.Execution, s *pipeline.Stage) (pipeline.Status, map[string]any, map[string]any, error) {
	secs, ok := atoi(s.Context["waitTime"])
	if !ok {
		if s.Context["waitTime"] != nil {
			return "", nil, nil, fmt.Errorf("waitTime %v is not a number of seconds", s.Context["waitTime"])
		}
		secs = 30
	}
	if s.StartTime == nil || time.Now().UnixMilli() >= *s.StartTime+int64(secs)*1000 {
		return pipeline.Succeeded, nil, nil, nil
	}
	return pipeline.Running, nil, nil, nil
}
