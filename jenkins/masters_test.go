package jenkins_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bakehouse/bakehouse"
	"github.com/bakehouse/bakehouse/jenkins"
	"github.com/bakehouse/bakehouse/jenkins/jenkinstest"
)

func seededMasters(t *testing.T) (*jenkinstest.Server, *jenkins.Masters) {
	t.Helper()
	s := jenkinstest.New(t, user, token)
	s.SeedArmory()
	ms, err := jenkins.NewMasters([]jenkins.Master{{Name: "my-jenkins", Address: s.URL(), Username: user, Password: token}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s, ms
}

func TestMastersBuildInfo(t *testing.T) {
	s, ms := seededMasters(t)
	ctx := context.Background()
	bi, err := ms.BuildInfo(ctx, "my-jenkins", jenkinstest.ArmoryJob, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Newest successful: #7 runs, #6 failed, so #5.
	if bi["number"] != float64(5) || bi["name"] != jenkinstest.ArmoryJob || bi["result"] != "SUCCESS" {
		t.Errorf("newest successful buildInfo = %v", bi)
	}
	arts, _ := bi["artifacts"].([]any)
	if len(arts) != 2 || arts[1].(map[string]any)["relativePath"] != jenkinstest.ArmoryDeb {
		t.Errorf("artifacts = %v", bi["artifacts"])
	}
	if bi, err := ms.BuildInfo(ctx, "my-jenkins", jenkinstest.ArmoryJob, 4); err != nil || bi["number"] != float64(4) {
		t.Errorf("build 4: %v, %v", bi, err)
	}
	s.AddBuild("never-green", jenkinstest.Build{Result: "FAILURE"})
	_, err = ms.BuildInfo(ctx, "my-jenkins", "never-green", 0)
	var e *bakehouse.Error
	if !errors.As(err, &e) || e.Code != bakehouse.ENOTFOUND || !strings.Contains(e.Message, `job "never-green" on Jenkins master "my-jenkins" has no successful build`) {
		t.Errorf("no successful build: %v", err)
	}
	_, err = ms.BuildInfo(ctx, "other", "job1", 0)
	if !errors.As(err, &e) || e.Field != "trigger.master" || !strings.Contains(e.Message, `Jenkins master "other" is not configured`) {
		t.Errorf("unknown master: %v", err)
	}
	r, err := ms.Artifact(ctx, "my-jenkins", jenkinstest.ArmoryJob, 5, jenkinstest.ArmoryProperties)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(r)
	r.Close()
	if string(data) != "a=hello\nb=world\nc=3\n" {
		t.Errorf("artifact = %q", data)
	}
}

// TestMastersPropertiesRetry: a property file archived a moment after the
// build is found by a later attempt; one never archived gives
// ErrPropertyFileMissing after the attempts.
func TestMastersPropertiesRetry(t *testing.T) {
	s, ms := seededMasters(t)
	ms.PropertyAttempts, ms.PropertyDelay = 4, 20*time.Millisecond
	ctx := context.Background()
	s.AddBuild("late", jenkinstest.Build{Number: 1, Result: "SUCCESS"})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		time.Sleep(30 * time.Millisecond)
		s.AddBuild("late", jenkinstest.Build{Number: 1, Result: "SUCCESS",
			Artifacts: map[string][]byte{"out/app.json": []byte(`{"version": "1.2.3"}`)}})
	}()
	props, err := ms.Properties(ctx, "my-jenkins", "late", 1, "app.json")
	wg.Wait()
	if err != nil || props["version"] != "1.2.3" {
		t.Errorf("late property file: %v, %v", props, err)
	}
	start := time.Now()
	_, err = ms.Properties(ctx, "my-jenkins", jenkinstest.ArmoryJob, 4, "build.properties")
	if !errors.Is(err, jenkins.ErrPropertyFileMissing) {
		t.Errorf("never archived: %v", err)
	}
	if d := time.Since(start); d < 60*time.Millisecond {
		t.Errorf("gave up after %s, before 3 delays", d)
	}
}

func TestNewMastersNamesTheEntry(t *testing.T) {
	_, err := jenkins.NewMasters([]jenkins.Master{
		{Name: "a", Address: "http://a.example/"},
		{Name: "b", Address: "b.example"},
	}, nil)
	var e *bakehouse.Error
	if !errors.As(err, &e) || e.Field != "jenkins.masters[1].address" || !strings.Contains(e.Message, "jenkins.masters[1].address") {
		t.Errorf("bad address: %v", err)
	}
	_, err = jenkins.NewMasters([]jenkins.Master{
		{Name: "a", Address: "http://a.example/"},
		{Name: "a", Address: "http://b.example/"},
	}, nil)
	if !errors.As(err, &e) || e.Field != "jenkins.masters[1].name" {
		t.Errorf("duplicate name: %v", err)
	}
}
