package jenkins_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/bakehouse/bakehouse"
	"github.com/bakehouse/bakehouse/jenkins"
	"github.com/bakehouse/bakehouse/jenkins/jenkinstest"
)

const (
	user  = "igor"
	token = "11e0f3d5-secret-api-token-c0ffee"
)

// seeded starts a double with the fixtures' data and a client of it.
func seeded(t *testing.T) (*jenkinstest.Server, *jenkins.Client) {
	t.Helper()
	s := jenkinstest.New(t, user, token)
	s.SeedArmory()
	return s, mustClient(t, s, token)
}

func mustClient(t *testing.T, s *jenkinstest.Server, password string) *jenkins.Client {
	t.Helper()
	c, err := jenkins.New(jenkins.Master{Name: "my-jenkins", Address: s.URL(), Username: user, Password: password}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestJobsFlattensFolders(t *testing.T) {
	s, c := seeded(t)
	s.AddJob("empty-folder/job/sub/job/with space")
	got, err := c.Jobs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"job1", "job2", "folder1/job/folder2/job/job3",
		"armory/job/armory-hello-deploy/job/master", "empty-folder/job/sub/job/with space"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Jobs = %q, want %q", got, want)
	}
	reqs := s.Requests()
	if len(reqs) != 1 || !strings.HasPrefix(reqs[0], "GET /api/json?tree=jobs%5Bname%2Curl%2Cjobs%5B") {
		t.Errorf("requests = %q, want one GET /api/json?tree=jobs[name,url,jobs[...", reqs)
	}
}

func TestBuildsNewestFirst(t *testing.T) {
	s, c := seeded(t)
	got, err := c.Builds(context.Background(), jenkinstest.ArmoryJob)
	if err != nil {
		t.Fatal(err)
	}
	var nums []int
	for _, b := range got {
		nums = append(nums, b.Number)
	}
	if !slices.Equal(nums, []int{7, 6, 5, 4}) {
		t.Fatalf("numbers = %v, want 7 6 5 4", nums)
	}
	want7 := jenkins.Build{Job: jenkinstest.ArmoryJob, Number: 7, Building: true, Timestamp: 1490822460000,
		URL:             s.URL() + "/job/armory/job/armory-hello-deploy/job/master/7/",
		FullDisplayName: "armory » armory-hello-deploy » master #7"}
	if !reflect.DeepEqual(got[0], want7) {
		t.Errorf("running build = %+v\nwant %+v", got[0], want7)
	}
	if got[1].Result != jenkins.Failure || got[1].Building || got[1].Duration != 41234 {
		t.Errorf("build 6 = %+v, want FAILURE after 41234 ms", got[1])
	}
	if last := s.Requests()[0]; !strings.HasPrefix(last, "GET /job/armory/job/armory-hello-deploy/job/master/api/json?tree=builds") {
		t.Errorf("request = %s", last)
	}
}

func TestBuildArtifactsSCMAndBuildInfo(t *testing.T) {
	s, c := seeded(t)
	b, err := c.Build(context.Background(), jenkinstest.ArmoryJob, 5)
	if err != nil {
		t.Fatal(err)
	}
	// buildInfo as Igor's GenericBuild serializes it, hand-written from
	// master-build-5.json.
	want := `{
	  "building": false,
	  "fullDisplayName": "armory » armory-hello-deploy » master #5",
	  "name": "armory/job/armory-hello-deploy/job/master",
	  "number": 5,
	  "duration": 52311,
	  "timestamp": "1490819400000",
	  "result": "SUCCESS",
	  "url": "URL/job/armory/job/armory-hello-deploy/job/master/5/",
	  "id": "armory/job/armory-hello-deploy/job/master-5",
	  "artifacts": [
	    {"fileName": "build.properties", "displayPath": "build.properties", "relativePath": "build/build.properties",
	     "reference": "build/build.properties", "name": "armory/job/armory-hello-deploy/job/master", "type": "jenkins/file",
	     "version": "5", "decorated": false},
	    {"fileName": "armory-hello-deploy_0.5.0-h5.c4baff4_all.deb", "displayPath": "armory-hello-deploy_0.5.0-h5.c4baff4_all.deb",
	     "relativePath": "build/distributions/armory-hello-deploy_0.5.0-h5.c4baff4_all.deb",
	     "reference": "build/distributions/armory-hello-deploy_0.5.0-h5.c4baff4_all.deb",
	     "name": "armory/job/armory-hello-deploy/job/master", "type": "jenkins/file", "version": "5", "decorated": false}
	  ],
	  "scm": [{"name": "refs/remotes/origin/master", "branch": "master", "sha1": "c4baff4a8f3e0b6d2c1e9f7a5b3d1c0e8f6a4b2d",
	           "remoteUrl": "https://github.com/armory/armory-hello-deploy.git"}]
	}`
	assertJSON(t, b.BuildInfo(), strings.ReplaceAll(want, "URL", s.URL()))
}

// assertJSON compares v's JSON with want's, key order free.
func assertJSON(t *testing.T, v any, want string) {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var g, w any
	if err := json.Unmarshal(data, &g); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("want: %v", err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("got  %s\nwant %s", data, want)
	}
}

// TestSCM restates Igor's ScmDetails cases (igor-xml/scm-*.xml) as JSON
// API answers: the branch is the ref's last segment, BuildDetails is read
// like BuildData, and a revision reported twice is kept once.
func TestSCM(t *testing.T) {
	igor := "https://github.com/spinnaker/igor"
	fork := "https://github.com/spinnaker/igor-fork"
	master := jenkinstest.SCM{Ref: "refs/remotes/origin/master", SHA1: "111aaa", RemoteURL: igor}
	other := jenkinstest.SCM{Ref: "refs/remotes/origin/master-master", SHA1: "222bbb", RemoteURL: fork}
	withDetails := func(s jenkinstest.SCM) jenkinstest.SCM { s.Details = true; return s }
	m := jenkins.SCM{Name: "refs/remotes/origin/master", Branch: "master", SHA1: "111aaa", RemoteURL: igor}
	o := jenkins.SCM{Name: "refs/remotes/origin/master-master", Branch: "master-master", SHA1: "222bbb", RemoteURL: fork}
	for _, c := range []struct {
		name string
		scm  []jenkinstest.SCM
		want []jenkins.SCM
	}{
		{"builddata-single", []jenkinstest.SCM{master}, []jenkins.SCM{m}},
		{"builddata-two-remotes", []jenkinstest.SCM{master, other}, []jenkins.SCM{m, o}},
		{"builddata-lastbuiltrevision-and-build", []jenkinstest.SCM{master, withDetails(other)}, []jenkins.SCM{m, o}},
		{"builddetails-single", []jenkinstest.SCM{withDetails(master)}, []jenkins.SCM{m}},
		{"builddetails-and-builddata", []jenkinstest.SCM{withDetails(master), withDetails(other)}, []jenkins.SCM{m, o}},
		{"same-revision-twice", []jenkinstest.SCM{master, withDetails(master)}, []jenkins.SCM{m}},
		{"feature branch", []jenkinstest.SCM{{Ref: "refs/remotes/origin/feature/x", SHA1: "333ccc", RemoteURL: igor}},
			[]jenkins.SCM{{Name: "refs/remotes/origin/feature/x", Branch: "x", SHA1: "333ccc", RemoteURL: igor}}},
		{"none", nil, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := jenkinstest.New(t, user, token)
			n := s.AddBuild("job", jenkinstest.Build{Result: "SUCCESS", SCM: c.scm})
			b, err := mustClient(t, s, token).Build(context.Background(), "job", n)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(b.SCM, c.want) {
				t.Errorf("SCM = %+v, want %+v", b.SCM, c.want)
			}
		})
	}
}

func TestArtifact(t *testing.T) {
	s, c := seeded(t)
	deb := filepath.Join(t.TempDir(), "pkg_1.0_all.deb")
	content := []byte("!<arch>\ndebian-binary   ...")
	if err := os.WriteFile(deb, content, 0o644); err != nil {
		t.Fatal(err)
	}
	rel := "build/distributions/pkg_1.0_all.deb"
	n := s.AddBuild("folder a/job/b", jenkinstest.Build{Result: "SUCCESS", ArtifactFiles: map[string]string{rel: deb}})
	r, size, err := c.Artifact(context.Background(), "folder a/job/b", n, rel)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(r)
	r.Close()
	if string(got) != string(content) || size != int64(len(content)) {
		t.Errorf("artifact = %q (size %d), want %q", got, size, content)
	}
	if reqs := s.Requests(); reqs[len(reqs)-1] != "GET /job/folder%20a/job/b/1/artifact/build/distributions/pkg_1.0_all.deb" {
		t.Errorf("request = %s", reqs[len(reqs)-1])
	}

	_, _, err = c.Artifact(context.Background(), jenkinstest.ArmoryJob, 5, "build/nothing.deb")
	if bakehouse.ErrorCode(err) != bakehouse.ENOTFOUND || !strings.Contains(err.Error(), `artifact "build/nothing.deb" in build 5 of job "armory/job/armory-hello-deploy/job/master"`) {
		t.Errorf("missing artifact: %v (%s)", err, bakehouse.ErrorCode(err))
	}
}

func TestArtifactRefusesEscapingPaths(t *testing.T) {
	s, c := seeded(t)
	for _, rel := range []string{"../../../secrets/master.key", "build/../../x", "/etc/passwd", `..\x`, `C:\x`, "", "a/./b"} {
		_, _, err := c.Artifact(context.Background(), jenkinstest.ArmoryJob, 5, rel)
		var e *bakehouse.Error
		if !errors.As(err, &e) || e.Field != "relativePath" {
			t.Errorf("Artifact(%q) = %v, want an invalid relativePath", rel, err)
		}
	}
	if n := len(s.Requests()); n != 0 {
		t.Errorf("%d requests made for refused paths", n)
	}
}

func TestNotFound(t *testing.T) {
	_, c := seeded(t)
	ctx := context.Background()
	if _, err := c.Builds(ctx, "armory/job/nope"); bakehouse.ErrorCode(err) != bakehouse.ENOTFOUND ||
		err.Error() != `Jenkins master "my-jenkins" has no job "armory/job/nope"` {
		t.Errorf("unknown job: %v", err)
	}
	if _, err := c.Build(ctx, jenkinstest.ArmoryJob, 99); bakehouse.ErrorCode(err) != bakehouse.ENOTFOUND ||
		!strings.Contains(err.Error(), `no build 99 of job "armory/job/armory-hello-deploy/job/master"`) {
		t.Errorf("unknown build: %v", err)
	}
}

func TestCredentialsRefused(t *testing.T) {
	s := jenkinstest.New(t, user, token)
	s.SeedArmory()
	const wrong = "wrong-token-do-not-print"
	for _, password := range []string{wrong, ""} {
		c := mustClient(t, s, password)
		_, err := c.Jobs(context.Background())
		if err == nil {
			t.Fatal("no error with bad credentials")
		}
		msg := err.Error()
		if !strings.Contains(msg, `Jenkins master "my-jenkins" refused the credentials of user "igor"`) {
			t.Errorf("error %q does not say the credentials were refused", msg)
		}
		if strings.Contains(msg, wrong) || strings.Contains(msg, token) {
			t.Errorf("error %q shows the token", msg)
		}
	}
}

func TestNewValidatesAddress(t *testing.T) {
	for _, c := range []struct{ name, address, field string }{
		{"m", "", "jenkins.masters[].address"},
		{"m", "jenkins.example.com", "jenkins.masters[].address"},
		{"m", "ftp://jenkins.example.com/", "jenkins.masters[].address"},
		{"m", "https://igor:s3cr3t-token@jenkins.example.com/", "jenkins.masters[].address"},
		{"", "https://jenkins.example.com/", "jenkins.masters[].name"},
	} {
		_, err := jenkins.New(jenkins.Master{Name: c.name, Address: c.address, Username: "u", Password: "s3cr3t-token"}, nil)
		var e *bakehouse.Error
		if !errors.As(err, &e) || e.Field != c.field || e.Code != bakehouse.EINVALID {
			t.Errorf("New(%q) = %v, want an invalid %s", c.address, err, c.field)
			continue
		}
		if strings.Contains(e.Message, "s3cr3t") {
			t.Errorf("New(%q) error shows the token: %s", c.address, e.Message)
		}
	}
	for _, a := range []string{"http://127.0.0.1:8080", "https://ci.example.com/jenkins/"} {
		if _, err := jenkins.New(jenkins.Master{Name: "m", Address: a}, nil); err != nil {
			t.Errorf("New(%q): %v", a, err)
		}
	}
}

// TestAddressWithPath keeps a master served below a path (…/jenkins/).
func TestAddressWithPath(t *testing.T) {
	s, _ := seeded(t)
	h := http.StripPrefix("/jenkins", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r2, _ := http.NewRequest(r.Method, s.URL()+r.URL.RequestURI(), nil)
		r2.Header = r.Header
		resp, err := http.DefaultClient.Do(r2)
		if err != nil {
			http.Error(w, err.Error(), 502)
			return
		}
		defer resp.Body.Close()
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	}))
	proxy := newServer(t, h)
	c, err := jenkins.New(jenkins.Master{Name: "m", Address: proxy + "/jenkins", Username: user, Password: token}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Build(context.Background(), jenkinstest.ArmoryJob, 5); err != nil {
		t.Fatal(err)
	}
	if reqs := s.Requests(); !strings.HasPrefix(reqs[len(reqs)-1], "GET /job/armory/job/armory-hello-deploy/job/master/5/api/json?") {
		t.Errorf("request = %s", reqs[len(reqs)-1])
	}
}
