package http_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bakehouse/bakehouse"
	"github.com/bakehouse/bakehouse/storetest"
)

// apiTests maps each case id of api.json to its test. TestConformanceAPI
// fails on a case without one.
func apiTests() map[string]func(*apiTest) {
	return map[string]func(*apiTest){
		"create-new-bake":                      testCreateNew,
		"create-returns-running-bake":          testCreateReuses,
		"create-returns-completed-bake":        testCreateReuses,
		"create-rebake-only-exact-1":           testCreateReuses,
		"create-after-failed-bake":             testCreateAfterFailed,
		"create-rebake":                        testCreateRebake,
		"create-fails-fast-with-packer-output": testCreateFailsFast,
		"create-unknown-provider":              testCreateUnknownProvider,
		"create-waits-for-lock-holder":         testCreateRace,
		"create-lock-never-released": func(a *apiTest) {
			a.skip("Bakehouse has no bake lock: CreateBake is one " + a.store + " transaction, so no lock holder can exist without its bake (the race is create-waits-for-lock-holder)")
		},
		"status-found":                         testSeededByID,
		"status-unknown-id":                    testNothingStored,
		"bake-details-found":                   testSeededByID,
		"bake-details-per-region":              testSeededByID,
		"bake-details-unknown-id":              testNothingStored,
		"logs-found":                           testLogsFound,
		"logs-missing-or-empty":                testLogsMissing,
		"logs-by-image-id":                     testLogsByImage,
		"delete-bake":                          testDelete,
		"delete-bake-unknown-key":              testNothingStored,
		"cancel-bake":                          testCancel,
		"cancel-bake-not-incomplete":           testCancelNotIncomplete,
		"bake-options-by-provider":             testBakeOptions,
		"bake-options-provider-not-registered": testBakeOptions,
		"base-image-not-found":                 testBakeOptions,
		"delete-bakes-by-pipeline-execution":   testDeleteByExecution,
		"instance-status":                      testInstanceStatus,
		"all-instances-status":                 testAllStatus,
	}
}

// bakeStatus is a BakeStatus precondition.
type bakeStatus struct {
	ID         string  `json:"id"`
	State      string  `json:"state"`
	Result     *string `json:"result"`
	ResourceID string  `json:"resource_id"`
}

func (s bakeStatus) result() bakehouse.BakeResult {
	if s.Result == nil {
		return ""
	}
	return bakehouse.BakeResult(*s.Result)
}

func statusOf(t *testing.T, raw []byte) bakehouse.BakeStatus {
	t.Helper()
	var st bakehouse.BakeStatus
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatalf("status body: %v\n%s", err, raw)
	}
	return st
}

// checkKey checks that the bakery keys the request as the case says: the
// Rosco part of Bakehouse's key is the case's bake_key.
func (a *apiTest) checkKey(e *env, req bakehouse.BakeRequest) bakehouse.Plan {
	a.Helper()
	plan := e.plan(a.region(), req)
	var key string
	if a.pre("bake_key", &key) {
		if plan.RoscoKey != key {
			a.Errorf("Rosco key = %q, want %q", plan.RoscoKey, key)
		}
		if got, _ := strings.CutPrefix(plan.BakeKey, key+":"); got == plan.BakeKey {
			a.Errorf("bake key %q does not extend the Rosco key %q", plan.BakeKey, key)
		}
	}
	return plan
}

// checkNewBake checks a create that started a bake: the new bake is the
// one answered, RUNNING, reusable under the key, and running it (as the
// queue would) runs Packer once.
func (a *apiTest) checkNewBake(e *env, res *response, plan bakehouse.Plan) string {
	a.Helper()
	st := statusOf(a.T, res.body)
	if res.header.Get("X-Bakehouse-Reused") != "" {
		a.Errorf("a new bake is marked reused")
	}
	if b := e.reusable(plan.BakeKey); b == nil || b.ID != st.ID {
		a.Errorf("bake reusable under the key = %v, want %s", b, st.ID)
	}
	before := len(e.packer.calls())
	wait(a.T, e.runBake(st.ID), "run bake "+st.ID)
	calls := e.packer.calls()
	if len(calls) != before+1 {
		a.Fatalf("packer runs = %d, want %d", len(calls), before+1)
	}
	argv := calls[len(calls)-1].Argv
	if len(argv) < 2 || argv[0] != "packer" || argv[1] != "build" {
		a.Errorf("command = %q, want packer build ...", argv)
	}
	if got := e.status(st.ID); got.State != bakehouse.StateCompleted {
		a.Errorf("after its run the bake is %s, want COMPLETED", got.State)
	}
	return st.ID
}

func testCreateNew(a *apiTest) {
	e := a.env(a.T)
	plan := a.checkKey(e, a.bakeRequest())
	res := a.send(e)
	a.check(res)
	a.checkCounters(e)
	if n := len(e.bakes()); n != 1 {
		a.Errorf("stored bakes = %d, want 1", n)
	}
	a.checkNewBake(e, res, plan)
}

// testCreateReuses: a reusable bake with the key is answered as is and
// nothing new is stored or run (jobs_started 0).
func testCreateReuses(a *apiTest) {
	e := a.env(a.T)
	req := a.bakeRequest()
	var prior bakeStatus
	a.pre("status_for_key", &prior)
	e.seedForRequest(prior.ID, a.region(), req, bakehouse.BakeState(prior.State), prior.result())
	a.checkKey(e, req)
	res := a.send(e)
	a.check(res)
	a.checkCounters(e)
	if n := len(e.bakes()); n != 1 {
		a.Errorf("stored bakes = %d, want 1 (no new bake)", n)
	}
	if res.header.Get("X-Bakehouse-Reused") != "true" {
		a.Errorf("X-Bakehouse-Reused = %q, want true", res.header.Get("X-Bakehouse-Reused"))
	}
	if n := len(e.packer.calls()); n != 0 {
		a.Errorf("packer runs = %d, want 0", n)
	}
}

// testCreateAfterFailed: a CANCELED/FAILURE bake is not reused. (Rosco's
// second spec, CANCELED with no result, cannot be stored in Bakehouse:
// every finished bake has a result.)
func testCreateAfterFailed(a *apiTest) {
	e := a.env(a.T)
	req := a.bakeRequest()
	var prior bakeStatus
	a.pre("status_for_key", &prior)
	e.seedForRequest(prior.ID, a.region(), req, bakehouse.BakeState(prior.State), prior.result())
	plan := a.checkKey(e, req)
	res := a.send(e)
	a.check(res)
	a.checkCounters(e)
	if n := len(e.bakes()); n != 2 {
		a.Errorf("stored bakes = %d, want 2", n)
	}
	a.checkNewBake(e, res, plan)
}

// testCreateRebake: rebake=1 bakes anew although a bake with the key
// succeeded, keeps the old bake's record and details, and cancels the
// key's running bake (bake_id_for_key), stopping its Packer.
func testCreateRebake(a *apiTest) {
	e := a.env(a.T)
	req := a.bakeRequest()
	region := a.region()
	var prior bakeStatus
	var runningID string
	a.pre("status_for_key", &prior)
	a.pre("bake_id_for_key", &runningID)
	plan := e.seedForRequest(prior.ID, region, req, bakehouse.BakeState(prior.State), prior.result())
	e.seed(runningID, plan.BakeKey, plan.RoscoKey, req, plan, region, bakehouse.StateRunning, "", nil)
	e.packer.set(func(p *fakePacker) { p.block = true })
	running := e.runBake(runningID)
	e.packer.waitStarted(a.T, runningID)
	e.packer.set(func(p *fakePacker) { p.block = false })

	res := a.send(e)
	a.check(res)
	a.checkCounters(e)
	newID := statusOf(a.T, res.body).ID

	wait(a.T, running, "run of the superseded bake")
	if cause := e.packer.cause(runningID); cause == nil || !strings.Contains(cause.Error(), "superseded by rebake "+newID) {
		a.Errorf("packer of %s stopped by %v, want superseded by rebake %s", runningID, cause, newID)
	}
	if st := e.status(runningID); st.State != bakehouse.StateCanceled || st.Result == nil || *st.Result != bakehouse.ResultFailure {
		a.Errorf("superseded bake is %+v, want CANCELED/FAILURE", st)
	}
	if st := e.status(prior.ID); st.State != bakehouse.StateCompleted {
		a.Errorf("earlier bake %s is %s, want it kept COMPLETED", prior.ID, st.State)
	}
	if r := e.do("GET", "/api/v1/"+region+"/bake/"+prior.ID, nil, nil); r.status != 200 {
		a.Errorf("details of the earlier bake: %d %s, want them kept", r.status, r.body)
	}
	a.checkNewBake(e, res, plan)
}

// testCreateFailsFast: Rosco polls the job once before answering and
// turns an early Packer failure into a 400 carrying the log. Bakehouse
// answers before Packer runs (the bake is queued), so the equivalent is
// checked: the failed bake is CANCELED/FAILURE, its log holds Packer's
// output, and nothing stays reusable under the key.
func testCreateFailsFast(a *apiTest) {
	e := a.env(a.T)
	plan := a.checkKey(e, a.bakeRequest())
	var after struct {
		LogsContent string `json:"logsContent"`
	}
	a.pre("job_status_after_start", &after)
	res := a.send(e)
	if res.status != 200 {
		a.Fatalf("status = %d, want 200 (queued): %s", res.status, res.body)
	}
	a.checkCounters(e)
	id := statusOf(a.T, res.body).ID
	e.packer.set(func(p *fakePacker) { p.output, p.code = after.LogsContent, 1 })
	wait(a.T, e.runBake(id), "run bake")
	if st := e.status(id); st.State != bakehouse.StateCanceled || st.Result == nil || *st.Result != bakehouse.ResultFailure {
		a.Errorf("failed bake is %+v, want CANCELED/FAILURE", st)
	}
	logs := e.do("GET", "/api/v1/"+a.region()+"/logs/"+id, nil, nil)
	if logs.status != 200 || !strings.Contains(logs.json(a.T)["logsContent"].(string), after.LogsContent) {
		a.Errorf("logs = %d %s, want Packer's output %q", logs.status, logs.body, after.LogsContent)
	}
	if b := e.reusable(plan.BakeKey); b != nil {
		a.Errorf("failed bake %s is reusable under the key", b.ID)
	}
	a.skip("Bakehouse queues the bake and answers 200 RUNNING before Packer runs; an early Packer failure shows as CANCELED/FAILURE on /status with the output in /logs (checked instead of the 400)")
}

// testCreateUnknownProvider: gce is never registered in Bakehouse; a
// known provider that is disabled is unknown too.
func testCreateUnknownProvider(a *apiTest) {
	e := a.env(a.T)
	res := a.send(e)
	a.check(res)
	if n := len(e.bakes()); n != 0 {
		a.Errorf("stored bakes = %d, want 0", n)
	}

	off := a.env(a.T, withRosco(func(c *bakehouse.Config) { c.Docker.Enabled = false }))
	body := strings.Replace(string(a.c.Request.Body), `"gce"`, `"docker"`, 1)
	res = off.do("POST", a.c.Request.Path, nil, []byte(body))
	exp := a.c.Expected
	exp.BodySubset = []byte(strings.Replace(string(exp.BodySubset), "'gce'", "'docker'", 1))
	a.Run("disabled docker", func(t *testing.T) { checkExpected(t, exp, res) })
}

// testCreateRace is the equivalent of Rosco's lock wait: identical
// requests racing get one bake, and every loser is answered with the
// winner's status. The winner is whichever request commits first, so
// the expected body's id is the winner's. A barrier holds every create
// until all requests have found nothing to reuse outside the transaction,
// so that only the check inside it keeps them to one bake, in every run.
func testCreateRace(a *apiTest) {
	const n = 8
	e := a.env(a.T, withStore(func(s bakehouse.BakeStore) bakehouse.BakeStore {
		return storetest.NewCreateBarrier(s, n, 20*time.Second)
	}))
	var holder bakeStatus
	if err := json.Unmarshal(a.c.Expected.Body, &holder); err != nil {
		a.Fatal(err)
	}
	res := make([]*response, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		var body map[string]any
		if err := json.Unmarshal(a.c.Request.Body, &body); err != nil {
			a.Fatal(err)
		}
		if i == 0 {
			body["request_id"] = holder.ID
		} else if i > 1 {
			body["request_id"] = fmt.Sprintf("racer-%d", i)
		}
		b, _ := json.Marshal(body)
		wg.Go(func() { res[i], errs[i] = e.try("POST", a.c.Request.Path, a.c.Request.Query, b) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			a.Fatal(err)
		}
	}
	bakes := e.bakes()
	if len(bakes) != 1 {
		a.Fatalf("racing requests stored %d bakes, want 1", len(bakes))
	}
	winner := bakes[0].ID
	exp := a.c.Expected
	exp.Body = []byte(strings.ReplaceAll(string(exp.Body), `"`+holder.ID+`"`, `"`+winner+`"`))
	fresh := 0
	for i, r := range res {
		a.Run(fmt.Sprintf("request %d", i), func(t *testing.T) { checkExpected(t, exp, r) })
		if r.header.Get("X-Bakehouse-Reused") == "" {
			fresh++
		}
	}
	if fresh != 1 {
		a.Errorf("%d answers started a bake, want 1", fresh)
	}
	if got := e.requested("duplicate"); got != n-1 {
		a.Errorf("duplicate requests = %v, want %d", got, n-1)
	}
}

// testSeededByID stores the status or details the case names by id.
func testSeededByID(a *apiTest) {
	e := a.env(a.T)
	var st bakeStatus
	var details *bakehouse.Bake
	var region string
	a.pre("bake_region", &region)
	switch {
	case a.pre("stored_status", &st):
		e.seed(st.ID, "", "", bakehouse.BakeRequest{}, bakehouse.Plan{}, region, bakehouse.BakeState(st.State), st.result(), nil)
		a.check(a.send(e)) // a BakeStatus is exactly its four fields
	case a.pre("stored_details", &details):
		e.seed(details.ID, "", "", bakehouse.BakeRequest{}, bakehouse.Plan{}, region, bakehouse.StateCompleted, bakehouse.ResultSuccess, details)
		a.check(a.send(e), detailsExtras...)
	default:
		a.Fatal("no stored_status or stored_details")
	}
}

// testNothingStored: the id or key is unknown; nothing may be stored.
func testNothingStored(a *apiTest) {
	e := a.env(a.T)
	if a.c.Request.Method == "DELETE" {
		a.checkKey(e, a.bakeRequest())
	}
	a.check(a.send(e))
	if n := len(e.bakes()); n != 0 {
		a.Errorf("stored bakes = %d, want 0", n)
	}
}

// testLogsFound: logs are set up through the bakery's LogStore, which is
// line-oriented: Append(id, s) stores the line s, "s\n". logsContent is
// the stored log exactly, so the expected body gets that newline.
func testLogsFound(a *apiTest) {
	e := a.env(a.T)
	var stored struct {
		LogsContent string `json:"logsContent"`
	}
	a.pre("stored_logs", &stored)
	id := a.c.Request.Path[strings.LastIndex(a.c.Request.Path, "/")+1:]
	e.svc.Logs().Append(id, stored.LogsContent)
	exp := a.c.Expected
	exp.Body, _ = json.Marshal(map[string]string{"logsContent": stored.LogsContent + "\n"})
	checkExpected(a.T, exp, a.send(e))
}

// testLogsMissing: no log, a bake with no log lines ({} and a null
// logsContent in Rosco), and an empty log file all answer 404.
func testLogsMissing(a *apiTest) {
	var variants []json.RawMessage
	a.pre("stored_logs_variants", &variants)
	id := a.c.Request.Path[strings.LastIndex(a.c.Request.Path, "/")+1:]
	for _, v := range variants {
		a.Run(string(v), func(t *testing.T) {
			e := a.env(t)
			switch string(v) {
			case "null":
			case "{}", `{"logsContent":null}`:
				e.seed(id, "", "", bakehouse.BakeRequest{}, bakehouse.Plan{}, "", bakehouse.StateRunning, "", nil)
			case `{"logsContent":""}`:
				if e.logDir == "" {
					// A log row with no lines.
					e.svc.Logs().Close(id)
					break
				}
				e.svc.Logs().Append(id, "x")
				files, err := os.ReadDir(e.logDir)
				if err != nil || len(files) != 1 {
					t.Fatalf("log dir holds %v (%v), want one log", files, err)
				}
				if err := os.Truncate(filepath.Join(e.logDir, files[0].Name()), 0); err != nil {
					t.Fatal(err)
				}
			default:
				t.Fatalf("unknown variant %s", v)
			}
			checkExpected(t, a.c.Expected, a.send(e))
		})
	}
}

func testLogsByImage(a *apiTest) {
	e := a.env(a.T)
	var byImage map[string]string
	a.pre("bake_id_for_image", &byImage)
	var stored struct {
		LogsContent string `json:"logsContent"`
	}
	a.pre("stored_logs", &stored)
	for k, id := range byImage {
		region, image, _ := strings.Cut(k, ":")
		// The mapping is written when bake details are stored: seed a
		// finished bake whose artifact is that image in that region.
		e.seed(id, "k:"+id, "k", bakehouse.BakeRequest{}, bakehouse.Plan{}, region, bakehouse.StateCompleted, bakehouse.ResultSuccess,
			&bakehouse.Bake{ID: id, AMI: image, Artifacts: []bakehouse.Artifact{{Type: "aws/image", Location: region, Reference: image}}})
		e.svc.Logs().Append(id, stored.LogsContent)
	}
	exp := a.c.Expected
	exp.Body, _ = json.Marshal(map[string]string{"logsContent": stored.LogsContent + "\n"})
	checkExpected(a.T, exp, a.send(e))
	// An unknown image: 404 with Rosco's message.
	res := e.do("GET", "/api/v1/some-region/logs/image/ami-0unknown", nil, nil)
	if res.status != 404 || !strings.Contains(string(res.body), "Unable to retrieve logs for image id 'ami-0unknown'.") {
		a.Errorf("unknown image: %d %s", res.status, res.body)
	}
}

// testDeleteByExecution: the bakes an execution asked for (its id from
// X-SPINNAKER-EXECUTION-ID at create time) are no longer reused.
func testDeleteByExecution(a *apiTest) {
	e := a.env(a.T)
	var ids []string
	a.pre("pipeline_execution_ids", &ids)
	if len(ids) == 0 {
		var body struct {
			IDs []string `json:"pipelineExecutionIds"`
		}
		json.Unmarshal(a.c.Request.Body, &body)
		ids = body.IDs
	}
	body, _ := json.Marshal(standardRequest)
	req, _ := http.NewRequest("POST", e.srv.URL+"/api/v1/some-region/bake", bytes.NewReader(body))
	req.Header.Set("X-SPINNAKER-EXECUTION-ID", ids[0]+":stage-1")
	resp, err := e.srv.Client().Do(req)
	if err != nil || resp.StatusCode != 200 {
		a.Fatalf("create: %v %v", resp, err)
	}
	resp.Body.Close()
	plan := e.plan("some-region", standardRequest)
	if e.reusable(plan.BakeKey) == nil {
		a.Fatalf("the created bake is not reusable before the delete")
	}
	a.check(a.send(e))
	if b := e.reusable(plan.BakeKey); b != nil {
		a.Errorf("bake %s of execution %s still reused after delete-requests", b.ID, ids[0])
	}
}

// testDelete: the key's bake is hidden from reuse; a running bake is not
// stopped (cancel_job null).
func testDelete(a *apiTest) {
	e := a.env(a.T)
	req := a.bakeRequest()
	var id string
	a.pre("bake_id_for_key", &id)
	plan := e.seedForRequest(id, a.region(), req, bakehouse.StateRunning, "")
	a.checkKey(e, req)
	a.check(a.send(e))
	if b := e.reusable(plan.BakeKey); b != nil {
		a.Errorf("bake %s still reusable after delete", b.ID)
	}
	if st := e.status(id); st.State != bakehouse.StateRunning {
		a.Errorf("deleted bake is %s, want RUNNING (delete does not cancel)", st.State)
	}
}

// standardRequest is a valid request for seeding bakes that must run.
var standardRequest = bakehouse.BakeRequest{User: "someuser@gmail.com", Package: "kato", BaseOS: "ubuntu", CloudProviderType: "docker"}

// testCancel: the running bake's Packer is stopped, its status becomes
// CANCELED/FAILURE and it is no longer reusable.
func testCancel(a *apiTest) {
	e := a.env(a.T)
	var ids []string
	a.pre("incomplete_bake_ids", &ids)
	id := ids[0]
	plan := e.seedForRequest(id, a.region(), standardRequest, bakehouse.StateRunning, "")
	e.packer.set(func(p *fakePacker) { p.block = true })
	running := e.runBake(id)
	e.packer.waitStarted(a.T, id)
	a.check(a.send(e))
	wait(a.T, running, "run of the canceled bake")
	if cause := e.packer.cause(id); cause == nil || !strings.Contains(cause.Error(), "canceled by request") {
		a.Errorf("packer stopped by %v, want canceled by request", cause)
	}
	var want bakehouse.BakeStatus
	if a.effect("stored_status", &want) {
		if got := e.status(id); got.State != want.State || got.Result == nil || want.Result == nil || *got.Result != *want.Result {
			a.Errorf("status after cancel = %+v, want %+v", got, want)
		}
	}
	if b := e.reusable(plan.BakeKey); b != nil {
		a.Errorf("canceled bake is still reusable")
	}
}

// testCancelNotIncomplete: 400 for an unknown or finished bake. Rosco's
// side effect (the status is overwritten with CANCELED/FAILURE and the
// key's entry dropped) is deliberately not copied, as the case's note
// asks: an unknown id stays unknown, a finished bake stays reusable.
func testCancelNotIncomplete(a *apiTest) {
	id := a.c.Request.Path[strings.LastIndex(a.c.Request.Path, "/")+1:]
	a.Run("unknown", func(t *testing.T) {
		e := a.env(t)
		checkExpected(t, a.c.Expected, a.send(e))
		if r := e.do("GET", "/api/v1/some-region/status/"+id, nil, nil); r.status != 400 {
			t.Errorf("status of the unknown id after cancel: %d %s, want still 400", r.status, r.body)
		}
	})
	a.Run("completed", func(t *testing.T) {
		e := a.env(t)
		plan := e.seedForRequest(id, "some-region", standardRequest, bakehouse.StateCompleted, bakehouse.ResultSuccess)
		checkExpected(t, a.c.Expected, a.send(e))
		if b := e.reusable(plan.BakeKey); b == nil || b.ID != id {
			t.Errorf("completed bake no longer reusable after a refused cancel")
		}
	})
}

// testBakeOptions configures exactly the providers of the case's
// bake_options that Bakehouse has (aws, and docker standing for gce).
func testBakeOptions(a *apiTest) {
	var opts map[string]struct {
		BaseImages []bakehouse.BaseImage `json:"baseImages"`
	}
	a.pre("bake_options", &opts)
	e := a.env(a.T, withRosco(func(c *bakehouse.Config) {
		c.AWS = bakehouse.AWSConfig{}
		c.Docker.Enabled = false
		c.Docker.BakeryDefaults.BaseImages = nil
		for provider, o := range opts {
			for _, b := range o.BaseImages {
				switch provider {
				case "aws":
					c.AWS.Enabled = true
					c.AWS.BakeryDefaults.BaseImages = append(c.AWS.BakeryDefaults.BaseImages, bakehouse.AWSBaseImage{BaseImage: b})
				case "docker":
					c.Docker.Enabled = true
					c.Docker.BakeryDefaults.BaseImages = append(c.Docker.BakeryDefaults.BaseImages, bakehouse.DockerBaseImage{BaseImage: b})
				}
			}
		}
	}))
	a.check(a.send(e))
	if a.c.ID == "base-image-not-found" {
		// The note: a known id answers that base image.
		r := e.do("GET", "/bakeOptions/docker/baseImages/santa", nil, nil)
		if r.status != 200 || r.json(a.T)["shortDescription"] != "abc" {
			a.Errorf("GET base image santa = %d %s, want shortDescription abc", r.status, r.body)
		}
	}
}

// testInstanceStatus: this instance's incomplete bakes, and IDLE with
// none (the note's second spec).
func testInstanceStatus(a *apiTest) {
	e := a.env(a.T)
	var statuses map[string]bakeStatus
	a.pre("stored_status", &statuses)
	var ids []string
	a.pre("this_instance_incomplete_bake_ids", &ids)
	for _, id := range ids {
		st := statuses[id]
		e.seed(id, "", "", bakehouse.BakeRequest{}, bakehouse.Plan{}, "", bakehouse.BakeState(st.State), st.result(), nil)
	}
	a.check(a.send(e), instanceExtras...)
	a.Run("idle", func(t *testing.T) {
		exp := apiExpected{Status: 200, Body: []byte(`{"status":"IDLE","bakes":[]}`)}
		checkExpected(t, exp, a.env(t).do("GET", "/status/instance", nil, nil), instanceExtras...)
	})
}

// testAllStatus: a Bakehouse server is one instance, so only the local
// instance's part of the answer is checked; then the case is skipped for
// its remote instance.
func testAllStatus(a *apiTest) {
	var name string
	a.pre("this_instance_id", &name)
	var byInstance map[string][]string
	a.pre("incomplete_bake_ids_by_instance", &byInstance)
	var statuses map[string]bakeStatus
	a.pre("stored_status", &statuses)
	e := a.env(a.T, withInstance(name))
	for _, id := range byInstance[name] {
		st := statuses[id]
		e.seed(id, "", "", bakehouse.BakeRequest{}, bakehouse.Plan{}, "", bakehouse.BakeState(st.State), st.result(), nil)
	}
	var want map[string]any
	if err := json.Unmarshal(a.c.Expected.Body, &want); err != nil {
		a.Fatal(err)
	}
	instances := want["instances"].(map[string]any)
	for k := range instances {
		if k != name {
			delete(instances, k)
		}
	}
	res := a.send(e)
	if res.status != a.c.Expected.Status {
		a.Errorf("status = %d, want %d", res.status, a.c.Expected.Status)
	}
	got := res.json(a.T)
	if gi, ok := got["instances"].(map[string]any); ok {
		if local, ok := gi[name].(map[string]any); ok {
			for _, k := range instanceExtras {
				delete(local, k)
			}
		}
	}
	if d := diffExact(any(got), any(want), nil); d != "" {
		a.Errorf("local instance's part differs: %s\n got: %s", d, res.body)
	}
	a.Run("no incomplete bakes", func(t *testing.T) {
		res := a.env(t, withInstance(name)).do("GET", "/status/all", nil, nil)
		exp := apiExpected{Status: 200, Body: []byte(`{"instance":"` + name + `","instances":{}}`)}
		checkExpected(t, exp, res)
	})
	a.skip("a Bakehouse server is a single instance: there is no remote-instance part of /status/all (the local part was checked)")
}
