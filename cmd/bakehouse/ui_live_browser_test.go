package main

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestUIExecutionLive: an execution page updates when the runner in this
// process writes the execution, not by polling the store: with the
// fallback poll (bakehouse.uiExecutionPoll) at an hour, a run of two
// wait stages opened while RUNNING still shows each stage start and the
// run reach SUCCEEDED within seconds.
func TestUIExecutionLive(t *testing.T) {
	ctx := browser(t)
	srv := startServer(t, t.TempDir(), "bakehouse:\n  uiExecutionPoll: 1h\n", nil)
	cfg := `{"application":"armory","name":"waits","triggers":[],"stages":[
		{"refId":"1","requisiteStageRefIds":[],"type":"wait","name":"First wait","waitTime":2},
		{"refId":"2","requisiteStageRefIds":["1"],"type":"wait","name":"Second wait","waitTime":2}]}`
	if code, body, _ := call(t, "POST", srv.url+"/pipelines", cfg, nil); code != 200 {
		t.Fatalf("save pipeline: %d %s", code, body)
	}
	stageStatus := func(name string) string {
		return `(function () {
			var li = Array.from(document.querySelectorAll("#execution li.stage")).find(function (l) { return l.querySelector(".name").textContent === "` + name + `"; });
			return li ? li.querySelector(".status").textContent : "";
		})()`
	}
	browse(t, ctx, 30*time.Second, "start the run",
		chromedp.Navigate(srv.url+"/ui/pipelines/armory/waits/run"),
		clickLoads(`form.dialog button[type=submit]`),
		chromedp.WaitVisible(chromedp.CSS(`#execution`)))
	first := read(t, ctx, "the run's status on load", chromedp.Evaluate[string](`document.querySelector("#execution p .status").textContent`))
	if first == "SUCCEEDED" {
		t.Fatal("the run ended before its page loaded; the test cannot see the page update")
	}
	start := time.Now()
	browse(t, ctx, 20*time.Second, "the page follows the run",
		waitJS(stageStatus("Second wait")+` === "RUNNING"`),
		waitJS(`document.querySelector("#execution p .status").textContent === "SUCCEEDED"`),
		waitJS(stageStatus("First wait")+` === "SUCCEEDED" && `+stageStatus("Second wait")+` === "SUCCEEDED"`))
	if text := read(t, ctx, "the stages", chromedp.Text(chromedp.CSS("#execution"))); !strings.Contains(text, "Second wait") {
		t.Fatalf("execution shows:\n%s", text)
	}
	t.Logf("the page showed RUNNING on load and SUCCEEDED %s later, with the store poll at 1h", time.Since(start).Round(100*time.Millisecond))
}
