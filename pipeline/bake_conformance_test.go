package pipeline_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/bakehouse/bakehouse/pipeline"
)

func TestBakeStageConformance(t *testing.T) {
	runConformance(t, "bake-stage.json", map[string]func(*testing.T, map[string]any){
		"regions":               runRegions,
		"graph":                 runGraph,
		"request_serialization": runRequestSerialization,
		"request":               runRequest,
		"artifact_pool":         runArtifactPool,
		"monitor":               runMonitor,
		"completed":             runCompleted,
		"parallel_complete":     runParallelComplete,
		"find_image_from_tags":  runFindImageFromTags,
	})
}

// fakeBakery answers from a case's bakery_responses ("METHOD /path":
// {status, body}) and records the calls.
type fakeBakery struct {
	responses map[string]any
	calls     []string
	creates   []createCall
}

type createCall struct {
	region string
	body   map[string]any
	rebake bool
}

func (f *fakeBakery) answer(key string) (map[string]any, bool, error) {
	f.calls = append(f.calls, key)
	r := m(f.responses[key])
	if r == nil {
		return nil, false, nil
	}
	body := m(r["body"])
	if status := int(r["status"].(float64)); status >= 400 {
		be := &pipeline.BakeryError{Status: status}
		for _, s := range asSlice(body["messages"]) {
			be.Messages = append(be.Messages, s.(string))
		}
		be.Message, _ = body["message"].(string)
		return nil, true, be
	}
	return body, true, nil
}

func (f *fakeBakery) BaseImage(_ context.Context, provider, os string) (string, error) {
	body, ok, err := f.answer("GET /bakeOptions/" + provider + "/baseImages/" + os)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", &pipeline.BakeryError{Status: 404, Message: "no base image " + os}
	}
	return body["packageType"].(string), nil
}

func (f *fakeBakery) CreateBake(_ context.Context, region string, body map[string]any, rebake bool) (map[string]any, error) {
	f.creates = append(f.creates, createCall{region, body, rebake})
	status, ok, err := f.answer("POST /api/v1/" + region + "/bake")
	if !ok && err == nil {
		status = map[string]any{"id": "s-1", "state": "RUNNING"}
	}
	return status, err
}

func (f *fakeBakery) Status(_ context.Context, region, id string) (map[string]any, error) {
	body, ok, err := f.answer("GET /api/v1/" + region + "/status/" + id)
	if !ok && err == nil {
		err = &pipeline.BakeryError{Status: 404}
	}
	return body, err
}

func (f *fakeBakery) Bake(_ context.Context, region, id string) (map[string]any, error) {
	body, ok, err := f.answer("GET /api/v1/" + region + "/bake/" + id)
	if !ok && err == nil {
		err = &pipeline.BakeryError{Status: 404}
	}
	return body, err
}

// caseSettings are Orca's defaults, the case's bakery_config over them,
// and no wait between create attempts.
func caseSettings(c map[string]any) pipeline.Settings {
	set := pipeline.DefaultSettings()
	set.CreateRetryWait = 0
	if cfg := m(c["bakery_config"]); cfg != nil {
		set.RoscoAPIsEnabled = cfg["roscoApisEnabled"] == true
		set.ExtractBuildDetails = cfg["extractBuildDetails"] == true
		set.AllowMissingPackageInstallation = cfg["allowMissingPackageInstallation"] == true
	}
	if dc := m(c["dynamic_config"]); dc != nil {
		set.FailOnImageNameMismatch = dc["stages.bake.failOnImageNameMismatch"] == true
	}
	return set
}

func idGen() func() string {
	n := 0
	return func() string { n++; return fmt.Sprintf("child-%d", n) }
}

// regionChild is a "Bake in <region>" stage under a top-level Bake
// stage, both in a fresh execution, as the runner holds them.
func regionChild(ctx map[string]any, trigger map[string]any) (*pipeline.Execution, *pipeline.Stage) {
	parentID := "P"
	parent := &pipeline.Stage{ID: parentID, RefID: "1", Type: "bake", Name: "Bake", Context: map[string]any{}, RequisiteStageRefIDs: []string{}}
	child := &pipeline.Stage{ID: "C", RefID: "1<1", Type: "bake", Name: "Bake in " + fmt.Sprint(ctx["region"]),
		Context: ctx, ParentStageID: &parentID, RequisiteStageRefIDs: []string{}, Outputs: map[string]any{}}
	if trigger == nil {
		trigger = map[string]any{"type": "manual"}
	}
	return &pipeline.Execution{Type: "PIPELINE", Trigger: trigger, Stages: []*pipeline.Stage{child, parent}}, child
}

func runRegions(t *testing.T, c map[string]any) {
	parent := &pipeline.Stage{ID: "P", RefID: "1", Type: "bake", Name: "Bake", Context: m(c["stage_context"]), RequisiteStageRefIDs: []string{}}
	e := &pipeline.Execution{Type: "PIPELINE", Trigger: map[string]any{}, Stages: []*pipeline.Stage{parent}}
	for _, d := range asSlice(c["downstream_stages"]) {
		e.Stages = append(e.Stages, stageFrom(m(d)))
	}
	clock, err := time.Parse(time.RFC3339, c["clock"].(string))
	if err != nil {
		t.Fatal(err)
	}
	children := pipeline.BakeChildren(e, parent, clock, idGen())
	var got []any
	for _, ch := range children {
		got = append(got, ch.Context)
	}
	want := asSlice(m(c["expected"])["child_contexts"])
	// configured regions first in order; detected ones as a set
	configured := 0
	seen := map[any]bool{}
	sc := m(c["stage_context"])
	for _, r := range append([]any{sc["region"]}, asSlice(sc["regions"])...) {
		if r != nil && !seen[r] {
			seen[r] = true
			configured++
		}
	}
	assertEqual(t, "child contexts", sortTail(t, got, configured), sortTail(t, want, configured))
	if parent.Context["amiSuffix"] != m(want[0])["amiSuffix"] {
		t.Errorf("parent amiSuffix %v, want %v", parent.Context["amiSuffix"], m(want[0])["amiSuffix"])
	}
}

func sortTail(t *testing.T, l []any, from int) []any {
	out := norm(t, l).([]any)
	if from > len(out) {
		return out
	}
	tail := out[from:]
	sort.Slice(tail, func(i, j int) bool { return m(tail[i])["region"].(string) < m(tail[j])["region"].(string) })
	return out
}

func taskNames(tasks []*pipeline.Task) []any {
	var out []any
	for _, tk := range tasks {
		out = append(out, tk.Name)
	}
	return out
}

func runGraph(t *testing.T, c map[string]any) {
	want := m(c["expected"])
	top := &pipeline.Stage{ID: "P", RefID: "1", Type: "bake", Context: map[string]any{"region": "us-east-1"}, RequisiteStageRefIDs: []string{}}
	if p := m(c["parent"]); p != nil {
		top = stageFrom(p)
	}
	e := &pipeline.Execution{Type: "PIPELINE", Trigger: map[string]any{}, Stages: []*pipeline.Stage{top}}
	children := pipeline.BakeChildren(e, top, time.Unix(0, 0), idGen())
	if wc := asSlice(want["children"]); wc != nil {
		var got []any
		for _, ch := range children {
			got = append(got, map[string]any{"type": ch.Type, "name": ch.Name, "refId": ch.RefID,
				"parentStageId": *ch.ParentStageID, "syntheticStageOwner": *ch.SyntheticStageOwner,
				"requisiteStageRefIds": ch.RequisiteStageRefIDs})
		}
		assertEqual(t, "children", got, wc)
	}
	if pt := want["parent_tasks"]; pt != nil {
		assertEqual(t, "parent tasks", taskNames(pipeline.BakeStageTasks(top)), pt)
	}
	if ct := want["child_tasks"]; ct != nil {
		assertEqual(t, "child tasks", taskNames(children[0].Tasks), ct)
		assertEqual(t, "child tasks from BakeStageTasks", taskNames(pipeline.BakeStageTasks(children[0])), ct)
	}
	if want["child_tasks_when_bake_pause_toggle_on"] != nil {
		t.Log("not asserted: child_tasks_when_bake_pause_toggle_on (Bakehouse has no stages.bake-stage.pause toggle)")
	}
}

func runRequestSerialization(t *testing.T, c map[string]any) {
	body, err := pipeline.BakeRequestBody(m(c["input"]), true)
	if err != nil {
		t.Fatal(err)
	}
	assertEqual(t, "body", body, m(c["expected"])["body"])
}

func runRequest(t *testing.T, c map[string]any) {
	fb := &fakeBakery{responses: m(c["bakery_responses"])}
	e, s := regionChild(m(c["stage_context"]), m(c["trigger"]))
	update, err := pipeline.CreateBake(context.Background(), fb, e, s, caseSettings(c))
	want := m(c["expected"])
	if msg, ok := want["error"].(string); ok {
		if err == nil || err.Error() != msg {
			t.Fatalf("error %v, want %q", err, msg)
		}
		if !pipeline.IsUserError(err) {
			t.Errorf("error %T is not a user error", err)
		}
		if n, ok := want["create_attempts"].(float64); ok && len(fb.creates) != int(n) {
			t.Errorf("%d create attempts, want %v", len(fb.creates), n)
		}
		return
	}
	if err != nil {
		t.Fatalf("CreateBake: %v", err)
	}
	if len(fb.creates) != 1 {
		t.Fatalf("%d create calls, want 1", len(fb.creates))
	}
	call := fb.creates[0]
	if wr := m(want["request"]); wr != nil {
		path := "/api/v1/" + call.region + "/bake"
		if path != wr["path"] {
			t.Errorf("path %s, want %s", path, wr["path"])
		}
		query := map[string]any{}
		if call.rebake {
			query["rebake"] = "1"
		}
		assertEqual(t, "query", query, wr["query"])
		assertEqual(t, "body", call.body, wr["body"])
	}
	if before := asSlice(want["bakery_calls_before"]); before != nil {
		assertEqual(t, "bakery calls before the create", fb.calls[:len(fb.calls)-1], before)
	}
	if wu := m(want["stage_context_update"]); wu != nil {
		for k, v := range wu {
			assertEqual(t, "context update "+k, update[k], v)
		}
	}
	for _, k := range asSlice(want["stage_context_lacks"]) {
		if _, ok := update[k.(string)]; ok {
			t.Errorf("context update has %s", k)
		}
	}
}

func runArtifactPool(t *testing.T, c map[string]any) {
	e := &pipeline.Execution{Type: "PIPELINE", Trigger: m(c["trigger"])}
	for _, s := range asSlice(c["stages"]) {
		e.Stages = append(e.Stages, stageFrom(m(s)))
	}
	var types []any
	for _, a := range pipeline.ArtifactPool(e) {
		types = append(types, a["type"])
	}
	assertEqual(t, "artifact types", types, m(c["expected"])["artifact_types"])
}

func runMonitor(t *testing.T, c map[string]any) {
	fb := &fakeBakery{responses: m(c["bakery_responses"])}
	e, s := regionChild(m(c["stage_context"]), nil)
	status, update, err := pipeline.MonitorBake(context.Background(), fb, e, s, caseSettings(c))
	if err != nil {
		t.Fatalf("MonitorBake: %v", err)
	}
	want := m(c["expected"])
	if string(status) != want["task_status"] {
		t.Errorf("task status %s, want %v", status, want["task_status"])
	}
	if wu := m(want["stage_context_update"]); wu != nil {
		assertEqual(t, "context update", update, wu)
	}
	if want["re_create"] == true {
		if len(fb.creates) != 1 {
			t.Fatalf("%d create calls, want the bake submitted again", len(fb.creates))
		}
		assertEqual(t, "new status", update["status"], map[string]any{"id": "s-1", "state": "RUNNING"})
	} else if len(fb.creates) != 0 {
		t.Errorf("bake submitted again")
	}
}

func runCompleted(t *testing.T, c map[string]any) {
	fb := &fakeBakery{responses: m(c["bakery_responses"])}
	_, s := regionChild(m(c["stage_context"]), nil)
	update, err := pipeline.CompletedBake(context.Background(), fb, s)
	want := m(c["expected"])
	if want["task_status"] == "TERMINAL" {
		if err == nil {
			t.Fatalf("got %v, want an error (TERMINAL)", update)
		}
		return
	}
	if err != nil {
		t.Fatalf("CompletedBake: %v", err)
	}
	wu := m(want["stage_context_update"])
	assertSubset(t, "context update", update, wu)
	for k := range update {
		if _, ok := wu[k]; !ok {
			t.Errorf("context update has %s = %v, not in the case", k, update[k])
		}
	}
}

func runParallelComplete(t *testing.T, c map[string]any) {
	parent := stageFrom(m(c["parent"]))
	e := &pipeline.Execution{Type: "PIPELINE", Trigger: map[string]any{}, Stages: []*pipeline.Stage{parent}}
	for i, ch := range asSlice(c["children"]) {
		s := stageFrom(m(ch))
		s.ID = fmt.Sprintf("child-%d", i)
		e.Stages = append(e.Stages, s)
	}
	outputs, err := pipeline.CompleteParallelBake(e, parent, caseSettings(c))
	want := m(c["expected"])
	if msg, ok := want["error"].(string); ok {
		if err == nil || err.Error() != msg {
			t.Fatalf("error %v, want %q", err, msg)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	assertEqual(t, "outputs", outputs, want["outputs"])
}

// fakeFinder answers with a case's clouddriver_response and records the
// search.
type fakeFinder struct {
	images []pipeline.TaggedImage
	query  map[string]any
	path   string
}

func (f *fakeFinder) FindImages(_ context.Context, provider, pkg string, tags map[string]string, regions []string, account string) ([]pipeline.TaggedImage, error) {
	f.path = "/" + provider + "/images/find"
	f.query = map[string]any{"q": pkg}
	for k, v := range tags {
		f.query["tag:"+k] = v
	}
	if account != "" {
		f.query["account"] = account
	}
	return f.images, nil
}

func runFindImageFromTags(t *testing.T, c map[string]any) {
	f := &fakeFinder{}
	for _, im := range asSlice(c["clouddriver_response"]) {
		im := m(im)
		ti := pipeline.TaggedImage{ImageName: im["imageName"].(string), TagsByImageID: map[string]map[string]string{}, AMIs: map[string][]string{}}
		ti.CreationDate, _ = m(im["attributes"])["creationDate"].(string)
		for id, tags := range m(im["tagsByImageId"]) {
			ti.TagsByImageID[id] = map[string]string{}
			for k, v := range m(tags) {
				ti.TagsByImageID[id][k] = v.(string)
			}
		}
		for r, ids := range m(im["amis"]) {
			ti.AMIs[r] = strs(ids)
		}
		f.images = append(f.images, ti)
	}
	s := &pipeline.Stage{ID: "F", RefID: "1", Type: "findImageFromTags", Context: m(c["stage_context"])}
	update, outputs, err := pipeline.FindImageFromTags(context.Background(), f, s)
	wr := m(c["clouddriver_request"])
	if f.path != wr["path"] {
		t.Errorf("path %s, want %s", f.path, wr["path"])
	}
	assertEqual(t, "query", f.query, wr["query"])
	want := m(c["expected"])
	if msg, ok := want["task_error"].(string); ok {
		if err == nil || err.Error() != msg {
			t.Fatalf("error %v, want %q", err, msg)
		}
		if !pipeline.IsUserError(err) {
			t.Errorf("error %T is not a user error", err)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if ad, ok := want["amiDetails"]; ok {
		assertEqual(t, "amiDetails", update["amiDetails"], ad)
	}
	if wu := m(want["stage_context_update"]); wu != nil {
		assertSubset(t, "context update", update, wu)
	}
	if wo := m(want["outputs"]); wo != nil {
		assertEqual(t, "outputs", outputs, wo)
	}
	if strings.Contains(fmt.Sprint(update["artifacts"]), "<random>") {
		t.Error("artifact uuid not generated")
	}
}
