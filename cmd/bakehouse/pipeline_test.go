package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/bakehouse/bakehouse/jenkins/jenkinstest"
	"github.com/bakehouse/bakehouse/pipeline"
)

// waitPipeline is a pipeline whose wait stage lasts secs seconds, then a
// deploy stage Bakehouse does not run.
func waitPipeline(name string, secs any) map[string]any {
	return map[string]any{
		"application": "armory", "name": name,
		"notifications": []any{map[string]any{"type": "slack", "address": "#bakes"}},
		"triggers":      []any{},
		"stages": []any{
			map[string]any{"refId": "1", "requisiteStageRefIds": []any{}, "type": "wait", "name": "Wait", "waitTime": secs},
			map[string]any{"refId": "2", "requisiteStageRefIds": []any{"1"}, "type": "deploy", "name": "Deploy",
				"clusters": []any{map[string]any{"availabilityZones": map[string]any{"us-west-2": []any{"us-west-2a"}}}}},
		},
	}
}

// TestPipelineSpin speaks spin's exact requests to the whole program
// (spin is not on the Go module proxy): /version, save twice (GET, then
// POST with the id copied), list, get, execute, execution get and list
// through /executions, cancel, delete. The server has an API token, and
// spin, which cannot send one, runs from a trusted network.
func TestPipelineSpin(t *testing.T) {
	srv := startServer(t, t.TempDir(), "bakehouse:\n  apiToken: spin-test-token-0123456789\n  trustedNetworks: [127.0.0.0/8]\n",
		map[string]string{"BAKEHOUSE_API_TOKEN": "", "BAKEHOUSE_TOKEN": ""})
	u := srv.url
	var v map[string]any
	if code, body, _ := call(t, "GET", u+"/version", nil, &v); code != 200 || v["version"] == "" {
		t.Fatalf("GET /version: %d %s", code, body)
	}

	// spin pipeline save --file, twice.
	save := func(cfg map[string]any) {
		t.Helper()
		var old map[string]any
		switch code, body, _ := call(t, "GET", u+"/applications/armory/pipelineConfigs/Bake%20hello", nil, &old); code {
		case 200:
			cfg["id"] = old["id"]
		case 404:
		default:
			t.Fatalf("save's GET: %d %s", code, body)
		}
		if code, body, _ := call(t, "POST", u+"/pipelines", cfg, nil); code != 200 {
			t.Fatalf("save's POST: %d, spin wants exactly 200: %s", code, body)
		}
	}
	save(waitPipeline("Bake hello", 600))
	second := waitPipeline("Bake hello", 600)
	second["description"] = "saved twice"
	save(second)

	// spin pipeline list / get.
	var list []map[string]any
	if code, body, _ := call(t, "GET", u+"/applications/armory/pipelineConfigs", nil, &list); code != 200 || len(list) != 1 || list[0]["description"] != "saved twice" {
		t.Fatalf("list after two saves: %d %s", code, body)
	}
	cfgID, _ := list[0]["id"].(string)
	var got map[string]any
	if code, body, _ := call(t, "GET", u+"/applications/armory/pipelineConfigs/Bake%20hello", nil, &got); code != 200 || got["id"] != cfgID || got["notifications"] == nil {
		t.Fatalf("get: %d %s", code, body)
	}

	// spin pipeline execute --parameter env=prod.
	var ref struct{ Ref string }
	code, body, _ := call(t, "POST", u+"/pipelines/armory/Bake%20hello", `{"type":"manual","parameters":{"env":"prod"},"artifacts":[]}`, &ref)
	if code != 202 || !strings.HasPrefix(ref.Ref, "/pipelines/") {
		t.Fatalf("execute: %d, spin wants exactly 202 and Gate's ref: %s", code, body)
	}
	id := strings.TrimPrefix(ref.Ref, "/pipelines/")

	// spin pipeline execution get / list.
	var exs []map[string]any
	if code, body, _ := call(t, "GET", u+"/executions?executionIds="+id+"&limit=1", nil, &exs); code != 200 || len(exs) != 1 || exs[0]["id"] != id {
		t.Fatalf("execution get: %d %s", code, body)
	}
	if trig, _ := exs[0]["trigger"].(map[string]any); trig["type"] != "manual" || trig["parameters"].(map[string]any)["env"] != "prod" {
		t.Fatalf("execution's trigger = %v", exs[0]["trigger"])
	}
	if code, body, _ := call(t, "GET", u+"/executions?pipelineConfigIds="+cfgID+"&statuses=NOT_STARTED,RUNNING&limit=5", nil, &exs); code != 200 || len(exs) != 1 {
		t.Fatalf("execution list --running: %d %s", code, body)
	}
	if code, body, _ := call(t, "GET", u+"/executions?pipelineConfigIds="+cfgID+"&statuses=SUCCEEDED,STOPPED,SKIPPED", nil, &exs); code != 200 || len(exs) != 0 {
		t.Fatalf("execution list --succeeded: %d %s", code, body)
	}

	// spin pipeline execution cancel.
	if code, body, _ := call(t, "PUT", u+"/pipelines/"+id+"/cancel", nil, nil); code/100 != 2 {
		t.Fatalf("cancel: %d %s", code, body)
	}
	if ex := waitExecution(t, srv, id); ex["status"] != "CANCELED" {
		t.Fatalf("after cancel: %v", ex["status"])
	}

	// spin pipeline delete.
	if code, body, _ := call(t, "DELETE", u+"/pipelines/armory/Bake%20hello", nil, nil); code/100 != 2 {
		t.Fatalf("delete: %d %s", code, body)
	}
	if code, _, _ := call(t, "GET", u+"/applications/armory/pipelineConfigs/Bake%20hello", nil, nil); code != 404 {
		t.Fatalf("config after delete: %d, want 404", code)
	}
}

// waitExecution polls GET /pipelines/{id} until the execution is
// complete.
func waitExecution(t *testing.T, srv *server, id string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var ex map[string]any
		if code, body, _ := call(t, "GET", srv.url+"/pipelines/"+id, nil, &ex); code != 200 {
			t.Fatalf("GET /pipelines/%s: %d %s", id, code, body)
		}
		switch ex["status"] {
		case "SUCCEEDED", "TERMINAL", "CANCELED", "STOPPED", "SKIPPED", "FAILED_CONTINUE":
			return ex
		}
		if time.Now().After(deadline) {
			t.Fatalf("execution %s still %v", id, ex["status"])
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// cliIn runs a client command with stdin.
func cliIn(t *testing.T, srv *server, stdin io.Reader, args ...string) (string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	full := append(append([]string{}, args...), "--server", srv.url)
	err := run(context.Background(), full, testEnv(nil), stdin, &stdout, &stderr)
	return stdout.String(), err
}

// TestPipelineCLI drives `bakehouse pipeline`: save from a file and from
// stdin, list, get, run followed live (one line per stage status change,
// exit status from the run's), executions, cancel, delete.
func TestPipelineCLI(t *testing.T) {
	srv := startServer(t, t.TempDir(), "", nil)
	file := filepath.Join(t.TempDir(), "p.json")
	b, _ := json.Marshal(waitPipeline("Quick", 0))
	os.WriteFile(file, b, 0o644)

	out, err := cliIn(t, srv, nil, "pipeline", "save", "-f", file)
	if err != nil || !strings.Contains(out, `saved pipeline "Quick" of armory (id `) {
		t.Fatalf("save -f: %v\n%s", err, out)
	}
	b, _ = json.Marshal(waitPipeline("Slow", 600))
	if out, err = cliIn(t, srv, bytes.NewReader(b), "pipeline", "save", "-f", "-"); err != nil {
		t.Fatalf("save -f -: %v\n%s", err, out)
	}
	if _, err = cliIn(t, srv, strings.NewReader(`{"name": "x"}`), "pipeline", "save", "-f", "-"); err == nil || !strings.Contains(err.Error(), "application") {
		t.Fatalf("save without application: err = %v, want one naming the field", err)
	}
	out, err = cliIn(t, srv, nil, "pipeline", "list")
	if err != nil || !strings.Contains(out, "APPLICATION") || !strings.Contains(out, "Quick") || !strings.Contains(out, "Slow") {
		t.Fatalf("list: %v\n%s", err, out)
	}
	out, err = cliIn(t, srv, nil, "pipeline", "get", "--application", "armory", "Quick", "-o", "json")
	var cfg map[string]any
	if err != nil || json.Unmarshal([]byte(out), &cfg) != nil || cfg["name"] != "Quick" || cfg["notifications"] == nil {
		t.Fatalf("get -o json: %v\n%s", err, out)
	}
	if _, err = cliIn(t, srv, nil, "pipeline", "get", "--application", "armory", "Nope"); err == nil {
		t.Fatal("get of an absent pipeline succeeded")
	}

	// A run followed to its end: each stage's changes, the skip's reason.
	out, err = cliIn(t, srv, nil, "pipeline", "run", "--application", "armory", "Quick", "--parameter", "env=prod")
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out)
	}
	for _, want := range []string{"started execution ", "Wait", "SUCCEEDED", "Deploy", "SKIPPED  stage type deploy is not run by Bakehouse", " SUCCEEDED in "} {
		if !strings.Contains(out, want) {
			t.Errorf("run output lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "Wait "); n < 1 || n > 2 {
		t.Errorf("the wait stage printed %d lines, want one per status change:\n%s", n, out)
	}
	id := strings.Fields(strings.SplitN(out, "\n", 2)[0])[2]

	// A run that fails exits non-zero, naming its status, and shows why.
	b, _ = json.Marshal(waitPipeline("Bad", "soon"))
	if out, err = cliIn(t, srv, bytes.NewReader(b), "pipeline", "save", "-f", "-"); err != nil {
		t.Fatalf("save Bad: %v\n%s", err, out)
	}
	out, err = cliIn(t, srv, nil, "pipeline", "run", "--application", "armory", "Bad")
	if err == nil || !strings.Contains(err.Error(), "ended TERMINAL") || !strings.Contains(out, "TERMINAL  waitTime soon is not a number of seconds") {
		t.Fatalf("failing run: err = %v, want one saying it ended TERMINAL\n%s", err, out)
	}

	out, err = cliIn(t, srv, nil, "pipeline", "execution", "get", id)
	if err != nil || !strings.Contains(out, "SUCCEEDED") || !strings.Contains(out, "manual") {
		t.Fatalf("execution get: %v\n%s", err, out)
	}
	out, err = cliIn(t, srv, nil, "pipeline", "execution", "get", id, "-o", "json")
	var ex map[string]any
	if err != nil || json.Unmarshal([]byte(out), &ex) != nil || ex["id"] != id || ex["status"] != "SUCCEEDED" {
		t.Fatalf("execution get -o json: %v\n%s", err, out)
	}

	// The trigger the CLI sends: a manual run with the build, the rebake
	// and the parameters asked for.
	out, err = cliIn(t, srv, nil, "pipeline", "run", "--application", "armory", "Quick", "--build", "7", "--rebake", "--parameter", "env=prod", "--parameter", "x=a=b", "--no-wait", "-o", "json")
	var run struct{ ID string }
	if err != nil || json.Unmarshal([]byte(out), &run) != nil {
		t.Fatalf("run --build --rebake --no-wait: %v\n%s", err, out)
	}
	out, _ = cliIn(t, srv, nil, "pipeline", "execution", "get", run.ID, "-o", "json")
	var withTrigger struct{ Trigger map[string]any }
	json.Unmarshal([]byte(out), &withTrigger)
	if got, want := jsonOf(withTrigger.Trigger), `{"buildNumber":7,"parameters":{"env":"prod","x":"a=b"},"rebake":true,"type":"manual","user":"anonymous"}`; got != want {
		t.Fatalf("trigger = %s, want %s", got, want)
	}
	if _, err = cliIn(t, srv, nil, "pipeline", "run", "--application", "armory", "Quick", "--parameter", "novalue"); err == nil || !strings.Contains(err.Error(), "name=value") {
		t.Fatalf("--parameter without =: %v", err)
	}

	// A run not followed, then cancelled.
	out, err = cliIn(t, srv, nil, "pipeline", "run", "--application", "armory", "Slow", "--no-wait", "-o", "json")
	var started struct{ ID string }
	if err != nil || json.Unmarshal([]byte(out), &started) != nil || started.ID == "" {
		t.Fatalf("run --no-wait: %v\n%s", err, out)
	}
	if out, err = cliIn(t, srv, nil, "pipeline", "execution", "cancel", started.ID, "--reason", "not today"); err != nil {
		t.Fatalf("execution cancel: %v\n%s", err, out)
	}
	if ex := waitExecution(t, srv, started.ID); ex["status"] != "CANCELED" || ex["cancellationReason"] != "not today" {
		t.Fatalf("cancelled run: %v %v", ex["status"], ex["cancellationReason"])
	}
	out, err = cliIn(t, srv, nil, "pipeline", "execution", "list", "--application", "armory")
	if err != nil || !strings.Contains(out, started.ID) || !strings.Contains(out, id) || strings.Index(out, started.ID) > strings.Index(out, id) {
		t.Fatalf("execution list (newest first): %v\n%s", err, out)
	}
	if out, err = cliIn(t, srv, nil, "pipeline", "delete", "--application", "armory", "Quick"); err != nil {
		t.Fatalf("delete: %v\n%s", err, out)
	}
	if _, err = cliIn(t, srv, nil, "pipeline", "get", "--application", "armory", "Quick"); err == nil {
		t.Fatal("deleted pipeline still there")
	}
}

func jsonOf(v any) string { b, _ := json.Marshal(v); return string(b) }

// TestStageLine: a bake stage's line shows the image it made, or that it
// was baked before, and a failed stage its errors, from the context
// fields Orca's bake stage writes.
func TestStageLine(t *testing.T) {
	for _, c := range []struct {
		status pipeline.Status
		ctx    map[string]any
		want   string
	}{
		{pipeline.Running, map[string]any{}, "Bake in us-west-2                RUNNING"},
		{pipeline.Succeeded, map[string]any{"imageName": "armory-hello-deploy-all-20261130", "imageId": "sha256:ab12"},
			"Bake in us-west-2                SUCCEEDED  image: armory-hello-deploy-all-20261130 (sha256:ab12)"},
		{pipeline.Succeeded, map[string]any{"imageName": "hello", "ami": "ami-0123", "previouslyBaked": true, "status": map[string]any{"id": "b-1"}},
			"Bake in us-west-2                SUCCEEDED  image: hello (ami-0123); previously baked; bake b-1"},
		{pipeline.Succeeded, map[string]any{"imageName": "bakehouse/hello:1", "imageId": "bakehouse/hello:1"},
			"Bake in us-west-2                SUCCEEDED  image: bakehouse/hello:1"},
		{pipeline.Terminal, map[string]any{"exception": map[string]any{"details": map[string]any{"errors": []any{"Unable to find deployable artifact", "second"}}}},
			"Bake in us-west-2                TERMINAL  Unable to find deployable artifact; second"},
	} {
		got := stageLine(&pipeline.Stage{Name: "Bake in us-west-2", Status: c.status, Context: c.ctx})
		if got != c.want {
			t.Errorf("stageLine(%s, %v)\n got %q\nwant %q", c.status, c.ctx, got, c.want)
		}
	}
}

// TestPipelineRunBakes runs the user's guide's pipeline from the CLI with
// a real docker bake: `pipeline run --build 5` bakes build 5's archived
// package (not the newer build 6) and prints the region's bake with its
// image; a second run shows "previously baked"; --rebake bakes again.
func TestPipelineRunBakes(t *testing.T) {
	needBakeTools(t)
	deb := sampleDeb(t, "0.5.0-h5.c4baff4")
	jk := jenkinstest.New(t, "ci-user", "ci-token-secret")
	jk.AddBuild(jenkinstest.ArmoryJob, jenkinstest.Build{Number: 5, Result: "SUCCESS",
		ArtifactFiles: map[string]string{"build/" + filepath.Base(deb): deb},
		Artifacts:     map[string][]byte{"build/build.properties": []byte("version=0.5.0-h5.c4baff4\n")}})
	jk.AddBuild(jenkinstest.ArmoryJob, jenkinstest.Build{Number: 6, Result: "SUCCESS"})
	srv := startServer(t, t.TempDir(), jenkinsServeConfig(jk), nil)
	// The trigger is disabled, so that only the CLI starts runs; a manual
	// run still takes its build from the trigger's job.
	file := filepath.Join(t.TempDir(), "hello.json")
	os.WriteFile(file, []byte(strings.Replace(helloPipeline, `"enabled": true`, `"enabled": false`, 1)), 0o644)
	if out, err := cliIn(t, srv, nil, "pipeline", "save", "-f", file); err != nil {
		t.Fatalf("save: %v\n%s", err, out)
	}

	run := func(args ...string) string {
		t.Helper()
		out, err := cliIn(t, srv, nil, append([]string{"pipeline", "run", "--application", "armory", "hello", "--build", "5"}, args...)...)
		if err != nil {
			t.Fatalf("run %v: %v\n%s\nserver log:\n%s", args, err, out, srv.stderr.String())
		}
		if !strings.Contains(out, "\nexecution ") || !strings.Contains(out, " SUCCEEDED in ") {
			t.Errorf("run %v does not show the run's end:\n%s", args, out)
		}
		return out
	}
	imageLine := regexp.MustCompile(`(?m)^Bake in global +SUCCEEDED  image: (\S+)(; previously baked)?; bake (\S+)$`)

	// A real bake lasts seconds: its RUNNING shows before its end.
	out := run()
	if !strings.Contains(out, "Bake in global                   RUNNING\n") {
		t.Errorf("the first run does not show the bake running:\n%s", out)
	}
	m := imageLine.FindStringSubmatch(out)
	if m == nil || m[2] != "" {
		t.Fatalf("first run: no line with the new image:\n%s", out)
	}
	image, bake := m[1], m[3]
	id := strings.Fields(strings.SplitN(out, "\n", 2)[0])[2]
	js, _ := cliIn(t, srv, nil, "pipeline", "execution", "get", id, "-o", "json")
	var ex pipeline.Execution
	if err := json.Unmarshal([]byte(js), &ex); err != nil || fmt.Sprint(ex.Trigger["buildNumber"]) != "5" {
		t.Fatalf("first run's trigger: %v (%v)", ex.Trigger, err)
	}
	if b := stageNamed(&ex, "Bake in global"); b == nil || b.Context["bakePackageName"] != "armory-hello-deploy_0.5.0-h5.c4baff4_all" {
		t.Fatalf("the bake did not take build 5's package: %+v", b)
	}

	if m = imageLine.FindStringSubmatch(run()); m == nil || m[1] != image || m[2] == "" || m[3] != bake {
		t.Fatalf("second run: want the same image and bake, previously baked; got %q", m)
	}
	if m = imageLine.FindStringSubmatch(run("--rebake")); m == nil || m[2] != "" || m[3] == bake {
		t.Fatalf("--rebake: want a new bake, not previously baked; got %q", m)
	}
	// The bake named on the line is one `bakehouse logs` shows.
	if out, err := cliIn(t, srv, nil, "logs", m[3]); err != nil || !strings.Contains(out, "armory-hello-deploy") {
		t.Fatalf("logs of the run's bake %s: %v\n%s", m[3], err, out)
	}
}
