package jenkins_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/bakehouse/bakehouse"
	"github.com/bakehouse/bakehouse/jenkins"
)

func TestParseNotification(t *testing.T) {
	read := func(name string) []byte {
		data, err := os.ReadFile(filepath.Join("testdata", "notification", name))
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	n, err := jenkins.ParseNotification(read("master-5-finalized.json"))
	if err != nil {
		t.Fatal(err)
	}
	if n.Name != "master" || n.Job != "armory/job/armory-hello-deploy/job/master" || n.Number != 5 ||
		n.Phase != "FINALIZED" || n.Status != "SUCCESS" || !n.Fires() ||
		n.URL != "http://my.jenkins.net/job/armory/job/armory-hello-deploy/job/master/5/" ||
		n.SCM.Branch != "origin/master" || n.SCM.Commit != "c4baff4a8f3e0b6d2c1e9f7a5b3d1c0e8f6a4b2d" {
		t.Errorf("current plugin: %+v", n)
	}
	wantArtifacts := []jenkins.Artifact{
		{FileName: "build.properties", DisplayPath: "build.properties", RelativePath: "build/build.properties"},
		{FileName: "armory-hello-deploy_0.5.0-h5.c4baff4_all.deb", DisplayPath: "armory-hello-deploy_0.5.0-h5.c4baff4_all.deb",
			RelativePath: "build/distributions/armory-hello-deploy_0.5.0-h5.c4baff4_all.deb"},
	}
	if !reflect.DeepEqual(n.Artifacts, wantArtifacts) {
		t.Errorf("artifacts = %+v", n.Artifacts)
	}

	old, err := jenkins.ParseNotification(read("wiki-example.json"))
	if err != nil {
		t.Fatal(err)
	}
	if old.Name != "asgard" || old.Job != "asgard" || old.Number != 18 || old.Phase != "COMPLETED" || !old.Fires() ||
		len(old.Artifacts) != 2 || old.Artifacts[0].FileName != "asgard-standalone.jar" || old.Artifacts[1].FileName != "asgard.war" {
		t.Errorf("old plugin: %+v", old)
	}
}

func TestNotificationFires(t *testing.T) {
	for _, c := range []struct {
		body string
		want bool
	}{
		{`{"name":"j","url":"job/j/","build":{"number":1,"phase":"STARTED"}}`, false},
		{`{"name":"j","url":"job/j/","build":{"number":1,"phase":"QUEUED"}}`, false},
		{`{"name":"j","url":"job/j/","build":{"number":1,"phase":"STARTED","status":"SUCCESS"}}`, false},
		{`{"name":"j","url":"job/j/","build":{"number":1,"phase":"COMPLETED","status":"FAILURE"}}`, false},
		{`{"name":"j","url":"job/j/","build":{"number":1,"phase":"FINALIZED","status":"UNSTABLE"}}`, false},
		{`{"name":"j","url":"job/j/","build":{"number":1,"phase":"COMPLETED","status":"SUCCESS"}}`, true},
		{`{"name":"j","url":"job/j/","build":{"number":1,"phase":"FINALIZED","status":"SUCCESS"}}`, true},
	} {
		n, err := jenkins.ParseNotification([]byte(c.body))
		if err != nil || n.Fires() != c.want {
			t.Errorf("%s: Fires() = %v, %v; want %v", c.body, n.Fires(), err, c.want)
		}
	}
	n, err := jenkins.ParseNotification([]byte(`{"name":"my job","url":"job/f/job/my%20job/","build":{"number":2,"phase":"STARTED"}}`))
	if err != nil || n.Job != "f/job/my job" {
		t.Errorf("escaped url: %q, %v", n.Job, err)
	}
}

func TestParseNotificationErrors(t *testing.T) {
	for body, field := range map[string]string{
		`not json`: "body",
		`{"url":"job/j/","build":{"number":1,"phase":"STARTED"}}`:                      "name",
		`{"name":"j","url":"job/j/"}`:                                                  "build",
		`{"name":"j","url":"job/j/","build":{"phase":"STARTED"}}`:                      "build.number",
		`{"name":"j","url":"job/j/","build":{"number":1}}`:                             "build.phase",
		`{"name":"j","url":"view/all/job/j/x","build":{"number":1,"phase":"STARTED"}}`: "url",
	} {
		_, err := jenkins.ParseNotification([]byte(body))
		var e *bakehouse.Error
		if !errors.As(err, &e) || e.Field != field || e.Code != bakehouse.EINVALID {
			t.Errorf("%s: %v, want an invalid %s", body, err, field)
		}
	}
}
