package bakery

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/bakehouse/bakehouse"
)

// keyTestService is a bakery with a docker provider and its template, and
// no adapters: enough to key requests.
func keyTestService(t *testing.T) *Service {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "docker.json"), []byte(`{"builders": []}`), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := bakehouse.Config{
		Rosco:                    bakehouse.RoscoConfig{ConfigDir: dir},
		DefaultCloudProviderType: "docker",
		DebianRepository:         "[trusted=yes] file:/bakehouse/repo ./",
		Docker: bakehouse.DockerConfig{
			Enabled: true,
			BakeryDefaults: bakehouse.DockerBakeryDefaults{
				TargetRepository: "bakehouse",
				TemplateFile:     "docker.json",
				BaseImages: []bakehouse.DockerBaseImage{{
					BaseImage:              bakehouse.BaseImage{ID: "bookworm", PackageType: "DEB"},
					VirtualizationSettings: bakehouse.DockerVirtualizationSettings{SourceImage: "bakehouse/debian:bookworm"},
				}},
			},
		},
	}
	s, err := New(Config{Rosco: cfg, LogDir: t.TempDir()}, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestRequestCacheKey: the key cache tells requests apart by every field
// and the region, except the request id, the user and the pipeline
// execution, which it leaves out because no bake key reads them.
func TestRequestCacheKey(t *testing.T) {
	s := keyTestService(t)
	ctx := context.Background()
	base := bakehouse.BakeRequest{Package: "app_1.0-1_all", BaseOS: "bookworm", CloudProviderType: "docker"}
	ck0, err := requestCacheKey("global", base)
	if err != nil {
		t.Fatal(err)
	}
	p0, err := s.prepare(ctx, "global", base)
	if err != nil {
		t.Fatal(err)
	}

	ignored := base
	ignored.RequestID, ignored.User, ignored.SpinnakerExecutionID = "req-1", "someone@example.com", "01EXEC"
	if ck, _ := requestCacheKey("global", ignored); !bytes.Equal(ck, ck0) {
		t.Errorf("request id, user and execution change the cache key: %q vs %q", ck, ck0)
	}
	if p, err := s.prepare(ctx, "global", ignored); err != nil || p.plan.BakeKey != p0.plan.BakeKey {
		t.Errorf("request id, user and execution change the bake key (%v): %s vs %s", err, p.plan.BakeKey, p0.plan.BakeKey)
	}

	if ck, _ := requestCacheKey("us-west-2", base); bytes.Equal(ck, ck0) {
		t.Error("the region is not part of the cache key")
	}
	skip := map[string]bool{"RequestID": true, "User": true, "SpinnakerExecutionID": true}
	typ := reflect.TypeFor[bakehouse.BakeRequest]()
	for i := range typ.NumField() {
		name := typ.Field(i).Name
		if skip[name] {
			continue
		}
		req := base
		f := reflect.ValueOf(&req).Elem().Field(i)
		switch f.Kind() {
		case reflect.String:
			f.SetString(f.String() + "x")
		case reflect.Pointer: // *bool
			f.Set(reflect.New(f.Type().Elem()))
		case reflect.Slice: // package_artifacts
			f.Set(reflect.MakeSlice(f.Type(), 1, 1))
			f.Index(0).FieldByName("Name").SetString("x")
		case reflect.Map: // extended_attributes
			f.Set(reflect.MakeMap(f.Type()))
			f.SetMapIndex(reflect.ValueOf("k"), reflect.ValueOf("v").Convert(f.Type().Elem()))
		default:
			t.Fatalf("field %s: no test value for kind %s", name, f.Kind())
		}
		if ck, _ := requestCacheKey("global", req); bytes.Equal(ck, ck0) {
			t.Errorf("field %s is not part of the cache key", name)
		}
	}
}

// TestKeyCacheBound: the cache holds at most two generations; an entry
// read from the older one survives the next turnover.
func TestKeyCacheBound(t *testing.T) {
	c := newKeyCache()
	kept := []byte("kept")
	c.put(kept, &keyEntry{key: "k"})
	for i := range keyCacheSize - 1 {
		c.put(fmt.Appendf(nil, "a%d", i), &keyEntry{})
	}
	c.put([]byte("turn"), &keyEntry{}) // cur is full: it becomes old
	if e := c.get(kept); e == nil || e.key != "k" {
		t.Fatal("an entry of the older generation is gone")
	}
	for i := range keyCacheSize {
		c.put(fmt.Appendf(nil, "b%d", i), &keyEntry{})
	}
	if n := len(c.cur) + len(c.old); n > 2*keyCacheSize {
		t.Fatalf("%d entries, want at most %d", n, 2*keyCacheSize)
	}
	if c.get(kept) == nil {
		t.Error("an entry read from the older generation was dropped at the next turnover")
	}
	if c.get([]byte("a0")) != nil {
		t.Error("an entry two turnovers old is still held")
	}
}
