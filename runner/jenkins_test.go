package runner_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bakehouse/bakehouse"
	"github.com/bakehouse/bakehouse/runner"
)

// fakeCI answers like Igor for builds 4 (SUCCESS) and 5 (SUCCESS, newest).
type fakeCI struct{ asked []string }

func (f *fakeCI) BuildInfo(_ context.Context, master, job string, n int) (map[string]any, error) {
	f.asked = append(f.asked, fmt.Sprintf("build %s %s %d", master, job, n))
	if n == 0 {
		n = 5
	}
	if n > 5 {
		return nil, bakehouse.Errorf(bakehouse.ENOTFOUND, "build %d of %s not found", n, job)
	}
	return map[string]any{"name": job, "number": n, "result": "SUCCESS", "url": "http://ci/job/" + job + "/" + fmt.Sprint(n) + "/",
		"artifacts": []any{map[string]any{"fileName": "app_1.0." + fmt.Sprint(n) + "_all.deb", "relativePath": "app_1.0." + fmt.Sprint(n) + "_all.deb"}}}, nil
}

func (f *fakeCI) Properties(_ context.Context, master, job string, n int, file string) (map[string]any, error) {
	f.asked = append(f.asked, fmt.Sprintf("props %s %s %d %s", master, job, n, file))
	if file == "missing.properties" {
		return nil, errors.New("Could not find build artifact matching requested filename 'missing.properties'")
	}
	return map[string]any{"version": "1.0." + fmt.Sprint(n)}, nil
}

func (f *fakeCI) Artifact(context.Context, string, string, int, string) (io.ReadCloser, error) {
	return io.NopCloser(strings.NewReader("")), nil
}

func TestJenkinsTrigger(t *testing.T) {
	ci := &fakeCI{}
	r := newRunner(t, openStore(t, filepath.Join(t.TempDir(), "db")), &runner.Tasks{CI: ci})
	save(t, r, `{"application":"app","name":"p","triggers":[{"type":"jenkins","enabled":true,"master":"ci","job":"folder/job/app","propertyFile":"build.properties"}],
		"stages":[{"refId":"1","type":"wait","waitTime":0}]}`)
	save(t, r, `{"application":"app","name":"off","triggers":[{"type":"jenkins","enabled":false,"master":"ci","job":"other"}],"stages":[]}`)
	save(t, r, `{"application":"app","name":"disabled","disabled":true,"triggers":[{"type":"jenkins","enabled":true,"master":"ci","job":"other2"}],"stages":[]}`)
	ctx := context.Background()
	w, err := r.Watched(ctx)
	if err != nil || len(w) != 1 || w[0] != (runner.Watch{Master: "ci", Job: "folder/job/app"}) {
		t.Fatalf("Watched = %v, %v; want only the enabled trigger of the enabled pipeline", w, err)
	}
	es, err := r.JenkinsBuild(ctx, "ci", "folder/job/app", 5)
	if err != nil || len(es) != 1 {
		t.Fatalf("JenkinsBuild = %v, %v", es, err)
	}
	e := waitFor(t, r, es[0].ID, "SUCCEEDED")
	bi, _ := e.Trigger["buildInfo"].(map[string]any)
	props, _ := e.Trigger["properties"].(map[string]any)
	if e.Trigger["type"] != "jenkins" || fmt.Sprint(e.Trigger["buildNumber"]) != "5" || bi == nil || fmt.Sprint(bi["number"]) != "5" ||
		props["version"] != "1.0.5" || e.Trigger["propertyFile"] != "build.properties" {
		t.Fatalf("trigger = %v", e.Trigger)
	}
	if es, err := r.JenkinsBuild(ctx, "ci", "folder/job/app", 5); err != nil || len(es) != 0 {
		t.Fatalf("the same build fired again: %v, %v", es, err)
	}
	if es, _ := r.JenkinsBuild(ctx, "ci", "other", 1); len(es) != 0 {
		t.Fatal("a disabled trigger fired")
	}
	// A manual run of a pipeline with a Jenkins trigger takes the newest
	// successful build, or the one it names.
	e, err = r.Start(ctx, "app", "p", map[string]any{"type": "manual", "rebake": true})
	if err != nil || fmt.Sprint(e.Trigger["buildNumber"]) != "5" || e.Trigger["master"] != "ci" || e.Trigger["rebake"] != true {
		t.Fatalf("manual run trigger = %v, %v", e.Trigger, err)
	}
	e, err = r.Start(ctx, "app", "p", map[string]any{"type": "manual", "buildNumber": 4})
	if err != nil || fmt.Sprint(e.Trigger["buildInfo"].(map[string]any)["number"]) != "4" {
		t.Fatalf("manual run of build 4: %v, %v", e.Trigger, err)
	}
	if _, err := r.Start(ctx, "app", "p", map[string]any{"type": "manual", "buildNumber": "four"}); bakehouse.ErrorCode(err) != bakehouse.EINVALID {
		t.Fatalf("bad build number: %v, want EINVALID", err)
	}
	if _, err := r.Start(ctx, "app", "p", map[string]any{"type": "manual", "buildNumber": 9}); bakehouse.ErrorCode(err) != bakehouse.ENOTFOUND {
		t.Fatalf("absent build: %v, want ENOTFOUND", err)
	}
	// A property file the build did not archive: the trigger's error,
	// said as it is.
	_, err = r.Start(ctx, "app", "p", map[string]any{"type": "manual", "propertyFile": "missing.properties"})
	if be := (*bakehouse.Error)(nil); !errors.As(err, &be) || be.Code != bakehouse.EINVALID || be.Field != "trigger.propertyFile" ||
		!strings.Contains(be.Message, "Could not find build artifact matching requested filename 'missing.properties'") {
		t.Fatalf("missing property file: %#v", err)
	}
}
