package jenkinstest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/bakehouse/bakehouse/jenkins/jenkinstest"
)

const (
	user  = "igor"
	token = "11e0f3d5c0ffee0123456789abcdef0123"
)

// get GETs path with the double's credentials and decodes the JSON.
func get(t *testing.T, s *jenkinstest.Server, path string) any {
	t.Helper()
	req, _ := http.NewRequest("GET", s.URL()+path, nil)
	req.SetBasicAuth(user, token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return v
}

// fixture reads an api-json fixture with the fixtures' host replaced by
// the double's.
func fixture(t *testing.T, s *jenkinstest.Server, name string) any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "testdata", "api-json", name))
	if err != nil {
		t.Fatal(err)
	}
	data = []byte(strings.ReplaceAll(string(data), "http://my.jenkins.net/", s.URL()+"/"))
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestSeedMatchesFixtures compares the double's answers to the requests of
// shared/fixtures/jenkins/api-json with the fixture files: same keys and
// values, key order free.
func TestSeedMatchesFixtures(t *testing.T) {
	s := jenkinstest.New(t, user, token)
	s.SeedArmory()
	for _, c := range []struct{ path, file string }{
		{"/api/json?tree=jobs[name,url,lastBuild[number,url,timestamp,duration,result,building],jobs[name,url,lastBuild[number,url,timestamp,duration,result,building],jobs[name,url,lastBuild[number,url,timestamp,duration,result,building]]]]", "root-jobs.json"},
		{"/job/armory/job/armory-hello-deploy/job/master/api/json?tree=builds[number,url,timestamp,duration,result,building,fullDisplayName]", "master-builds.json"},
		{"/job/armory/job/armory-hello-deploy/job/master/5/api/json?tree=number,url,timestamp,duration,result,building,fullDisplayName,artifacts[displayPath,fileName,relativePath],actions[remoteUrls,lastBuiltRevision[SHA1,branch[SHA1,name]]]", "master-build-5.json"},
	} {
		got, want := get(t, s, c.path), fixture(t, s, c.file)
		if !reflect.DeepEqual(got, want) {
			g, _ := json.MarshalIndent(got, "", "  ")
			t.Errorf("%s differs from %s:\n%s", c.path, c.file, g)
		}
	}
	resp, err := http.Get(s.URL() + "/job/armory/job/armory-hello-deploy/job/master/5/artifact/" + jenkinstest.ArmoryProperties)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("artifact without credentials: %d, want 401", resp.StatusCode)
	}
}

// TestDisplayPath checks Jenkins' displayPath rule on the artifacts of
// igor-xml/jobs-with-folders.xml's job1 where two share a file name.
func TestDisplayPath(t *testing.T) {
	s := jenkinstest.New(t, user, token)
	s.AddBuild("j", jenkinstest.Build{Result: "SUCCESS", Artifacts: map[string][]byte{
		"build/libs/x-sources.jar":     nil,
		"build/tmp/a/b/x-sources.jar":  nil,
		"build/libs/x.jar":             nil,
		"build/tmp/c/b/x-sources.jar":  nil,
		"build/zz/build.properties":    nil,
		"build/distributions/pkg.deb":  nil,
		"build/distributions/pkg2.deb": nil,
	}})
	got := get(t, s, "/job/j/1/api/json").(map[string]any)["artifacts"]
	var paths []string
	for _, a := range got.([]any) {
		m := a.(map[string]any)
		paths = append(paths, m["relativePath"].(string)+" "+m["displayPath"].(string))
	}
	want := []string{
		"build/distributions/pkg.deb pkg.deb",
		"build/distributions/pkg2.deb pkg2.deb",
		"build/libs/x-sources.jar libs/x-sources.jar",
		"build/libs/x.jar x.jar",
		"build/tmp/a/b/x-sources.jar a/b/x-sources.jar",
		"build/tmp/c/b/x-sources.jar c/b/x-sources.jar",
		"build/zz/build.properties build.properties",
	}
	if !reflect.DeepEqual(paths, want) {
		t.Errorf("artifacts:\n got %q\nwant %q", paths, want)
	}
}
