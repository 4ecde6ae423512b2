package pipeline_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/bakehouse/bakehouse/pipeline"
)

// Orca's own cases (package-info.json, bake-stage.json), copied verbatim
// from shared/conformance into the root testdata/conformance, run through
// the functions the runner calls. Every case counts: one whose kind no
// runner knows fails, one that cannot apply is skipped and not passed.

type conformanceFile struct {
	Cases []map[string]any `json:"cases"`
}

func loadCases(t *testing.T, file string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "conformance", file))
	if err != nil {
		t.Fatalf("read %s: %v", file, err)
	}
	var f conformanceFile
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("decode %s: %v", file, err)
	}
	return f.Cases
}

// runConformance runs every case of file through the runner for its
// kind, one subtest per case id, and reports "<file>: N/M passed".
func runConformance(t *testing.T, file string, runners map[string]func(*testing.T, map[string]any)) {
	cases := loadCases(t, file)
	passed := 0
	for _, c := range cases {
		id, kind := c["id"].(string), c["kind"].(string)
		ok := t.Run(id, func(t *testing.T) {
			run, known := runners[kind]
			if !known {
				t.Fatalf("no runner for case kind %q", kind)
			}
			run(t, c)
		})
		if ok && !skipped[id] {
			passed++
		}
	}
	msg := fmt.Sprintf("%s: %d/%d passed", file, passed, len(cases))
	t.Log(msg)
	fmt.Println(msg)
}

// skipped records cases that could not apply (t.Skip also makes t.Run
// report true).
var skipped = map[string]bool{}

func skipCase(t *testing.T, c map[string]any, why string) {
	t.Helper()
	skipped[c["id"].(string)] = true
	t.Skip(why)
}

// norm turns a value into the JSON form a case holds (numbers float64,
// objects map[string]any), so that Go values compare with case values.
func norm(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal %v: %v", v, err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("unmarshal: %v", err)
	}
	return out
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func assertEqual(t *testing.T, what string, got, want any) {
	t.Helper()
	if g, w := norm(t, got), norm(t, want); !reflect.DeepEqual(g, w) {
		t.Errorf("%s:\n got %s\nwant %s", what, jsonText(g), jsonText(w))
	}
}

// assertSubset checks that every key of want is in got with an equal
// value; an object in want is compared on its own keys, and "<random>"
// matches any value.
func assertSubset(t *testing.T, what string, got, want any) {
	t.Helper()
	if !subset(norm(t, got), norm(t, want)) {
		t.Errorf("%s:\n got %s\nwant (at least) %s", what, jsonText(norm(t, got)), jsonText(want))
	}
}

func subset(got, want any) bool {
	if want == "<random>" {
		return got != nil
	}
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return false
		}
		for k, wv := range w {
			gv, present := g[k]
			if !present && wv != nil {
				return false
			}
			if present && !subset(gv, wv) {
				return false
			}
		}
		return true
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return false
		}
		for i := range w {
			if !subset(g[i], w[i]) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(got, want)
}

func m(v any) map[string]any { x, _ := v.(map[string]any); return x }

func strs(v any) []string {
	var out []string
	for _, e := range v.([]any) {
		out = append(out, e.(string))
	}
	return out
}

// stageFrom builds a stage from a case's stage object. A stage given only
// a refId gets it as its id too: the cases name stages by refId where
// Orca stores ids (parentPipelineStageRefId, parentStageId).
func stageFrom(v map[string]any) *pipeline.Stage {
	s := &pipeline.Stage{Context: map[string]any{}, Outputs: map[string]any{}, RequisiteStageRefIDs: []string{}}
	s.RefID, _ = v["refId"].(string)
	s.ID, _ = v["id"].(string)
	if s.ID == "" {
		s.ID = s.RefID
	}
	s.Type, _ = v["type"].(string)
	s.Name, _ = v["name"].(string)
	if r, ok := v["requisiteStageRefIds"].([]any); ok {
		s.RequisiteStageRefIDs = strs(r)
	}
	if p, ok := v["parentStageId"].(string); ok {
		s.ParentStageID = &p
	}
	if c := m(v["context"]); c != nil {
		s.Context = c
	}
	if o := m(v["outputs"]); o != nil {
		s.Outputs = o
	}
	return s
}

// fixTrigger rewrites the cases' stand-ins into what Orca stores: a
// parent execution's stage ids (its refIds here) and
// parentPipelineStageId (given as parentPipelineStageRefId).
func fixTrigger(trigger map[string]any) map[string]any {
	if trigger == nil {
		return map[string]any{}
	}
	if ref, ok := trigger["parentPipelineStageRefId"]; ok {
		trigger["parentPipelineStageId"] = ref
		delete(trigger, "parentPipelineStageRefId")
	}
	if pe := m(trigger["parentExecution"]); pe != nil {
		for _, s := range pe["stages"].([]any) {
			sm := m(s)
			if _, ok := sm["id"]; !ok {
				sm["id"] = sm["refId"]
			}
		}
		pe["trigger"] = fixTrigger(m(pe["trigger"]))
	}
	return trigger
}

func TestPackageInfoConformance(t *testing.T) {
	runConformance(t, "package-info.json", map[string]func(*testing.T, map[string]any){
		"resolve":            runResolve,
		"trigger_build_info": runTriggerBuildInfo,
		"build_details":      runBuildDetails,
	})
}

func runResolve(t *testing.T, c map[string]any) {
	pt, ok := pipeline.ParsePackageType(strings.ToUpper(c["package_type"].(string)))
	if !ok {
		t.Fatalf("package_type %v", c["package_type"])
	}
	e := &pipeline.Execution{Type: "PIPELINE", Trigger: fixTrigger(m(c["trigger"]))}
	if et, ok := c["execution_type"].(string); ok {
		e.Type = et
	}
	for _, u := range asSlice(c["upstream_stages"]) {
		e.Stages = append(e.Stages, stageFrom(m(u)))
	}
	bakeDef := m(c["bake_stage"])
	if bakeDef == nil {
		bakeDef = map[string]any{"refId": "bake"}
	}
	bake := stageFrom(bakeDef)
	bake.Type = "bake"
	bake.Context = m(c["stage_context"])
	e.Stages = append(e.Stages, bake)

	pool := pipeline.ArtifactPool(e)
	wantPool := c["kork_artifacts"]
	if wantPool == nil {
		wantPool = []any{}
	}
	if pool == nil {
		pool = []map[string]any{}
	}
	assertEqual(t, "artifact pool", pool, wantPool)

	p := pipeline.PackageInfo{
		Type:                            pt,
		ExtractBuildDetails:             c["extract_build_details"] == true,
		ExtractVersion:                  c["extract_version"] == true,
		AllowMissingPackageInstallation: c["allow_missing_package_installation"] == true,
	}
	got, err := p.FindTargetPackage(e, bake, pool)
	want := m(c["expected"])
	if msg, isErr := want["error"].(string); isErr {
		if err == nil {
			t.Fatalf("got %s, want error %q", jsonText(got), msg)
		}
		if err.Error() != msg {
			t.Fatalf("error:\n got %q\nwant %q", err.Error(), msg)
		}
		if !pipeline.IsUserError(err) {
			t.Errorf("error %T is not a *pipeline.UserError", err)
		}
		return
	}
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	if rc, ok := want["result_context"]; ok {
		assertEqual(t, "result context", got, rc)
		return
	}
	assertEqual(t, "package", got["package"], want["package"])
	if wv, ok := want["packageVersion"]; ok {
		assertEqual(t, "packageVersion", got["packageVersion"], wv)
	}
	for k, v := range m(want["request_additions"]) {
		assertEqual(t, k, got[k], v)
	}
	for _, k := range asSlice(want["request_lacks"]) {
		if _, present := got[k.(string)]; present {
			t.Errorf("result has %s = %v, want none", k, got[k.(string)])
		}
	}
}

func asSlice(v any) []any { l, _ := v.([]any); return l }

func runTriggerBuildInfo(t *testing.T, c map[string]any) {
	got := pipeline.TriggerBuildInfo(m(c["trigger"]))
	assertEqual(t, "build info", got, m(c["expected"])["build_info"])
}

func runBuildDetails(t *testing.T, c map[string]any) {
	req := map[string]any{}
	bi := m(c["build_info"])
	pipeline.ExtractBuildDetails(bi, req)
	assertEqual(t, "request additions", req, m(c["expected"])["request_additions"])
}

// sortedStrings is used to compare region tails as sets.
func sortedStrings(l []string) []string {
	out := append([]string(nil), l...)
	sort.Strings(out)
	return out
}
