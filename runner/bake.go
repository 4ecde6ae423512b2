package runner

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/bakehouse/bakehouse/pipeline"
)

// PackageRepo is the bakery's package repository, where a Bake stage puts
// a .deb the triggering build archived and the repository lacks.
type PackageRepo interface {
	HasPackage(filename string) (bool, error)
	AddPackage(filename string, r io.Reader) error
}

// BakeCanceler cancels a bake, for a canceled execution's running bakes.
type BakeCanceler interface {
	CancelBake(ctx context.Context, region, id string) error
}

// planBake adds a top-level Bake stage's region children to e, right
// before it (Orca lists STAGE_BEFORE children first), and gives each
// stage its tasks.
func (t *Tasks) planBake(e *pipeline.Execution, s *pipeline.Stage, now time.Time, newID func() string) []*pipeline.Task {
	if s.ParentStageID != nil {
		if len(s.Tasks) > 0 {
			return s.Tasks
		}
		return pipeline.BakeStageTasks(s)
	}
	children := pipeline.BakeChildren(e, s, now, newID)
	for _, c := range children {
		if len(c.Tasks) == 0 {
			c.Tasks = pipeline.BakeStageTasks(c)
		}
	}
	i := slices.Index(e.Stages, s)
	e.Stages = slices.Insert(e.Stages, i, children...)
	return pipeline.BakeStageTasks(s)
}

// createBake runs Orca's createBake through a bakery that first puts the
// build's archived .deb files the request names into the repository.
func (t *Tasks) createBake(ctx context.Context, e *pipeline.Execution, s *pipeline.Stage) (pipeline.Status, map[string]any, map[string]any, error) {
	if t.Bakery == nil {
		return "", nil, nil, fmt.Errorf("no bakery is configured for pipelines")
	}
	b := &fetchingBakery{Bakery: t.Bakery, t: t, e: e}
	update, err := pipeline.CreateBake(ctx, b, e, s, t.settings())
	if err != nil {
		return "", nil, nil, err
	}
	// A run resumed after a restart submits its bake again; the bakery
	// answers with the same bake when it still runs or completed, which
	// is not a reuse of someone else's bake.
	if prev, _ := s.Context["status"].(map[string]any); prev != nil {
		if cur, _ := update["status"].(map[string]any); cur != nil && fmt.Sprint(prev["id"]) == fmt.Sprint(cur["id"]) {
			update["previouslyBaked"] = s.Context["previouslyBaked"]
		}
	}
	if len(b.notes) > 0 {
		update["messages"] = append(anyList(s.Context["messages"]), b.notes...)
	}
	return pipeline.Succeeded, update, nil, nil
}

func anyList(v any) []any { l, _ := v.([]any); return l }

func (t *Tasks) settings() pipeline.Settings {
	if t.Settings != nil {
		return *t.Settings
	}
	return pipeline.DefaultSettings()
}

// fetchingBakery is the bakery as the createBake task sees it: before
// the request goes out, each package it names that the triggering
// Jenkins build archived as <package>.deb, and that the bakery's
// repository does not have, is downloaded into the repository, so that a
// docker pipeline needs no apt repository of its own.
type fetchingBakery struct {
	pipeline.Bakery
	t     *Tasks
	e     *pipeline.Execution
	notes []any
}

func (f *fetchingBakery) CreateBake(ctx context.Context, region string, body map[string]any, rebake bool) (map[string]any, error) {
	if err := f.fetch(ctx, str(body["package"])); err != nil {
		return nil, err
	}
	return f.Bakery.CreateBake(ctx, region, body, rebake)
}

func (f *fetchingBakery) fetch(ctx context.Context, packages string) error {
	t, tr := f.t, f.e.Trigger
	if t.Repo == nil || t.CI == nil || str(tr["master"]) == "" {
		return nil
	}
	bi, _ := tr["buildInfo"].(map[string]any)
	n, ok := atoi(tr["buildNumber"])
	if bi == nil || !ok {
		return nil
	}
	for _, p := range strings.Fields(packages) {
		for _, a := range anyList(bi["artifacts"]) {
			am, _ := a.(map[string]any)
			file := str(am["fileName"])
			if file != p+".deb" {
				continue
			}
			has, err := t.Repo.HasPackage(file)
			if err != nil || has {
				return err
			}
			rel := str(am["relativePath"])
			if rel == "" {
				rel = file
			}
			rc, err := t.CI.Artifact(ctx, str(tr["master"]), str(tr["job"]), n, rel)
			if err != nil {
				return fmt.Errorf("download %s from Jenkins build %s #%d: %w", file, str(tr["job"]), n, err)
			}
			err = t.Repo.AddPackage(file, rc)
			rc.Close()
			if err != nil {
				return fmt.Errorf("add %s from Jenkins build %s #%d to the bakery's repository: %w", file, str(tr["job"]), n, err)
			}
			f.notes = append(f.notes, fmt.Sprintf("Downloaded %s from Jenkins master %s (job %s, build #%d) into the bakery's repository.", file, str(tr["master"]), str(tr["job"]), n))
		}
	}
	return nil
}

func (t *Tasks) monitorBake(ctx context.Context, e *pipeline.Execution, s *pipeline.Stage) (pipeline.Status, map[string]any, map[string]any, error) {
	st, update, err := pipeline.MonitorBake(ctx, t.Bakery, e, s, t.settings())
	return st, update, nil, err
}

func (t *Tasks) completedBake(ctx context.Context, _ *pipeline.Execution, s *pipeline.Stage) (pipeline.Status, map[string]any, map[string]any, error) {
	update, err := pipeline.CompletedBake(ctx, t.Bakery, s)
	return pipeline.Succeeded, update, nil, err
}

func (t *Tasks) completeParallel(_ context.Context, e *pipeline.Execution, s *pipeline.Stage) (pipeline.Status, map[string]any, map[string]any, error) {
	outputs, err := pipeline.CompleteParallelBake(e, s, t.settings())
	return pipeline.Succeeded, nil, outputs, err
}

func (t *Tasks) findImageFromTags(ctx context.Context, e *pipeline.Execution, s *pipeline.Stage) (pipeline.Status, map[string]any, map[string]any, error) {
	if t.Images == nil {
		return "", nil, nil, fmt.Errorf("no image finder is configured")
	}
	// Expressions (${trigger['properties']['version']}...) are evaluated
	// first, as Orca evaluates every stage's context before its tasks.
	v, err := pipeline.Evaluate(e, s, s.Context)
	if err != nil {
		return "", nil, nil, err
	}
	evaluated := *s
	evaluated.Context, _ = v.(map[string]any)
	update, outputs, err := pipeline.FindImageFromTags(ctx, t.Images, &evaluated)
	return pipeline.Succeeded, update, outputs, err
}

// cancelBake cancels the bake a canceled region child was waiting for.
func (t *Tasks) cancelBake(s *pipeline.Stage) {
	c, ok := t.Bakery.(BakeCanceler)
	st, _ := s.Context["status"].(map[string]any)
	if !ok || st == nil || st["state"] != "RUNNING" && st["state"] != "PENDING" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c.CancelBake(ctx, str(s.Context["region"]), fmt.Sprint(st["id"]))
}
