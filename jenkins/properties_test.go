package jenkins_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/bakehouse/bakehouse/jenkins"
	"github.com/bakehouse/bakehouse/jenkins/jenkinstest"
)

// TestPropertiesFormats reads Igor's property-file cases through the
// client (find by file name, download, parse) and compares the maps with
// expected.json's as JSON, which is how the trigger carries them.
func TestPropertiesFormats(t *testing.T) {
	dir := filepath.Join("testdata", "property-files")
	var expected map[string]any
	data, err := os.ReadFile(filepath.Join(dir, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &expected); err != nil {
		t.Fatal(err)
	}
	if len(expected) != 3 {
		t.Fatalf("expected.json has %d cases", len(expected))
	}
	s := jenkinstest.New(t, user, token)
	c := mustClient(t, s, token)
	for name, want := range expected {
		t.Run(name, func(t *testing.T) {
			content, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			n := s.AddBuild("PropertiesTest", jenkinstest.Build{Result: "SUCCESS", Artifacts: map[string][]byte{
				"properties/" + name: content,
				"other/x" + name:     []byte("not: [the file"),
			}})
			got, err := c.Properties(context.Background(), "PropertiesTest", n, name)
			if err != nil {
				t.Fatal(err)
			}
			data, _ := json.Marshal(got)
			var g any
			json.Unmarshal(data, &g)
			if !reflect.DeepEqual(g, want) {
				t.Errorf("Properties(%s) = %s, want %v", name, data, want)
			}
		})
	}
}

func TestPropertiesFromSeed(t *testing.T) {
	_, c := seeded(t)
	got, err := c.Properties(context.Background(), jenkinstest.ArmoryJob, 5, "build.properties")
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]any{"a": "hello", "b": "world", "c": "3"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Properties = %v, want %v", got, want)
	}
	empty, err := c.Properties(context.Background(), jenkinstest.ArmoryJob, 5, "")
	if err != nil || len(empty) != 0 {
		t.Errorf("no property file: %v, %v; want an empty map", empty, err)
	}
}

func TestPropertiesMissing(t *testing.T) {
	_, c := seeded(t)
	_, err := c.Properties(context.Background(), jenkinstest.ArmoryJob, 4, "build.properties")
	if !errors.Is(err, jenkins.ErrPropertyFileMissing) {
		t.Fatalf("err = %v, want ErrPropertyFileMissing", err)
	}
	want := "Could not find build artifact matching requested filename 'build.properties' on 'my-jenkins/armory/job/armory-hello-deploy/job/master' build 4"
	if err.Error() != want {
		t.Errorf("err = %q\nwant  %q", err, want)
	}
	// A file name is matched exactly, not as a suffix or a path.
	for _, name := range []string{"properties", "build/build.properties"} {
		if _, err := c.Properties(context.Background(), jenkinstest.ArmoryJob, 5, name); !errors.Is(err, jenkins.ErrPropertyFileMissing) {
			t.Errorf("Properties(%q) = %v, want ErrPropertyFileMissing", name, err)
		}
	}
}

func TestPropertiesBadFile(t *testing.T) {
	s := jenkinstest.New(t, user, token)
	c := mustClient(t, s, token)
	for name, content := range map[string]string{
		"p.json": `{"a": `,
		"p.yml":  "- a\n- b\n",
		"l.json": `[1, 2]`,
	} {
		n := s.AddBuild("j", jenkinstest.Build{Result: "SUCCESS", Artifacts: map[string][]byte{name: []byte(content)}})
		_, err := c.Properties(context.Background(), "j", n, name)
		if err == nil || errors.Is(err, jenkins.ErrPropertyFileMissing) {
			t.Errorf("Properties(%s) = %v, want a parse error", name, err)
		}
	}
}
