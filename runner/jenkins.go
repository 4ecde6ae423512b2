package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/bakehouse/bakehouse"
	"github.com/bakehouse/bakehouse/pipeline"
)

// CI is the build server as pipelines see it: Jenkins masters, read the
// way Igor reads them. cmd/bakehouse implements it over package jenkins.
type CI interface {
	// BuildInfo returns build number of job on master as a trigger's
	// buildInfo (Igor's GenericBuild: name, number, url, result,
	// artifacts, scm...). Number 0 asks for the newest successful build.
	BuildInfo(ctx context.Context, master, job string, number int) (map[string]any, error)
	// Properties reads the build's archived property file (a file name),
	// parsed by its extension, retrying while it is not there yet.
	Properties(ctx context.Context, master, job string, number int, file string) (map[string]any, error)
	// Artifact opens an archived file of the build.
	Artifact(ctx context.Context, master, job string, number int, relativePath string) (io.ReadCloser, error)
}

// Watch is one Jenkins job an enabled pipeline trigger watches.
type Watch struct{ Master, Job string }

// firedBuilds remembers the builds this process started runs for, so
// that the poller and the webhook reporting the same build start one run.
type firedBuilds struct {
	mu   sync.Mutex
	seen map[string]bool
}

func (f *firedBuilds) first(master, job string, n int) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.seen == nil {
		f.seen = map[string]bool{}
	}
	k := fmt.Sprintf("%s\x00%s\x00%d", master, job, n)
	if f.seen[k] {
		return false
	}
	f.seen[k] = true
	return true
}

// jenkinsTriggers returns cfg's jenkins triggers (enabled or not, when
// all is set).
func jenkinsTriggers(cfg *pipeline.Config, all bool) []map[string]any {
	var out []map[string]any
	for _, t := range cfg.Triggers() {
		if t["type"] != "jenkins" {
			continue
		}
		if en, _ := t["enabled"].(bool); en || all {
			out = append(out, t)
		}
	}
	return out
}

func str(v any) string { s, _ := v.(string); return s }

// Watched lists the jobs that enabled Jenkins triggers of enabled
// pipelines watch, for the poller.
func (r *Runner) Watched(ctx context.Context) ([]Watch, error) {
	cs, err := r.cfg.Store.Configs(ctx, "")
	if err != nil {
		return nil, err
	}
	seen := map[Watch]bool{}
	var out []Watch
	for _, c := range cs {
		if c.Disabled() {
			continue
		}
		for _, t := range jenkinsTriggers(c, false) {
			w := Watch{str(t["master"]), str(t["job"])}
			if w.Master != "" && w.Job != "" && !seen[w] {
				seen[w] = true
				out = append(out, w)
			}
		}
	}
	return out, nil
}

// JenkinsBuild starts a run of every enabled pipeline whose enabled
// Jenkins trigger watches master's job, for its completed, successful
// build number (the poller and the Notification webhook call it). A
// build already fired is not fired again. It returns the runs started.
func (r *Runner) JenkinsBuild(ctx context.Context, master, job string, number int) ([]*pipeline.Execution, error) {
	if !r.fired.first(master, job, number) {
		return nil, nil
	}
	cs, err := r.cfg.Store.Configs(ctx, "")
	if err != nil {
		return nil, err
	}
	var out []*pipeline.Execution
	var errs []error
	for _, c := range cs {
		if c.Disabled() {
			continue
		}
		for _, t := range jenkinsTriggers(c, false) {
			if str(t["master"]) != master || str(t["job"]) != job {
				continue
			}
			trigger := map[string]any{"type": "jenkins", "master": master, "job": job, "buildNumber": number, "user": "[anonymous]"}
			if pf := str(t["propertyFile"]); pf != "" {
				trigger["propertyFile"] = pf
			}
			e, err := r.start(ctx, c, trigger, &pipeline.FiredBuild{Master: master, Job: job, Number: number})
			if errors.Is(err, pipeline.ErrBuildFired) {
				// A node died after it started this run and before it stored
				// the job's cursor, or another node fired the build meanwhile.
				r.cfg.Log.Info("jenkins build already started a run of this pipeline; nothing started", "application", c.Application(), "pipeline", c.Name(), "master", master, "job", job, "build", number)
				break
			}
			if err != nil {
				r.cfg.Log.Error("jenkins trigger could not start a run", "application", c.Application(), "pipeline", c.Name(), "master", master, "job", job, "build", number, "err", err)
				errs = append(errs, err)
				continue
			}
			out = append(out, e)
			break // one run per pipeline, however many of its triggers match
		}
	}
	if len(out) == 0 && len(errs) > 0 {
		return nil, errs[0]
	}
	return out, nil
}

// prepareTrigger completes a trigger before its run starts: a Jenkins
// trigger (or a manual run of a pipeline that has one) gets the build's
// buildInfo (the newest successful build unless buildNumber names one)
// and the properties of its property file, as Echo's build events and
// Deck's manual run dialog give Orca.
func (t *Tasks) prepareTrigger(ctx context.Context, cfg *pipeline.Config, trigger map[string]any) error {
	typ := str(trigger["type"])
	var jt map[string]any
	if ts := jenkinsTriggers(cfg, true); len(ts) > 0 {
		jt = ts[0]
	}
	if typ != "jenkins" && (typ != "manual" || jt == nil) {
		return nil
	}
	master, job := str(trigger["master"]), str(trigger["job"])
	if master == "" && jt != nil {
		master, job = str(jt["master"]), str(jt["job"])
	}
	if master == "" || job == "" {
		if typ == "manual" {
			return nil
		}
		return bakehouse.Invalid("trigger.master", "a jenkins trigger names its master and job: set trigger.master and trigger.job (or give the pipeline a jenkins trigger)")
	}
	trigger["master"], trigger["job"] = master, job
	if trigger["buildInfo"] == nil {
		if t.CI == nil {
			return bakehouse.Invalid("trigger.master", "Jenkins master %q is not configured: add it under jenkins.masters in the config", master)
		}
		n := 0
		if v, ok := trigger["buildNumber"]; ok && v != nil {
			var ok bool
			if n, ok = atoi(v); !ok || n <= 0 {
				return bakehouse.Invalid("trigger.buildNumber", "buildNumber %v is not a build number", v)
			}
		}
		bi, err := t.CI.BuildInfo(ctx, master, job, n)
		if err != nil {
			return err
		}
		trigger["buildInfo"] = bi
		if num, ok := atoi(bi["number"]); ok {
			trigger["buildNumber"] = num
		}
	}
	pf := str(trigger["propertyFile"])
	if pf == "" && jt != nil {
		pf = str(jt["propertyFile"])
	}
	if pf != "" && trigger["properties"] == nil && t.CI != nil {
		n, _ := atoi(trigger["buildNumber"])
		props, err := t.CI.Properties(ctx, master, job, n, pf)
		var be *bakehouse.Error
		if err != nil && !errors.As(err, &be) {
			// A missing or unreadable property file is the trigger's
			// problem, said as it is (not a 500 "Internal error.").
			return &bakehouse.Error{Code: bakehouse.EINVALID, Field: "trigger.propertyFile",
				Message: fmt.Sprintf("property file %s of build #%d of %s on master %s: %v", pf, n, job, master, err)}
		}
		if err != nil {
			return err
		}
		trigger["propertyFile"], trigger["properties"] = pf, props
	}
	return nil
}
