package main

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bakehouse/bakehouse/docker/dockertest"
	"github.com/bakehouse/bakehouse/jenkins/jenkinstest"
	"github.com/chromedp/chromedp"
)

// browser starts Debian's chromium, headless, at 1280x800 and returns a
// chromedp context for it. Without chromium the test skips (fails under
// BAKEHOUSE_INTEGRATION=1).
func browser(t *testing.T) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		dockertest.SkipOrFail(t, "chromium not installed (apt-get install chromium)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox,
		chromedp.WindowSize(1280, 800), chromedp.Flag("headless", "new"))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelC(); cancelA() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// screenshot saves the viewport as docs/<name>.png when
// BAKEHOUSE_SCREENSHOTS names the docs directory (how the README's
// pictures are made); otherwise it does nothing.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("BAKEHOUSE_SCREENSHOTS")
	if dir == "" {
		return
	}
	png := read(t, ctx, "screenshot "+name, chromedp.CaptureScreenshot())
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// browse runs browser actions with a deadline, failing the test with what
// the page shows when they do not complete.
func browse(t *testing.T, ctx context.Context, timeout time.Duration, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := chromedp.Do(c, actions...); err != nil {
		c, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		where, _ := chromedp.Run(c, chromedp.Location())
		body, _ := chromedp.Run(c, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
		errs, _ := chromedp.Run(c, chromedp.Evaluate[string](`Array.from(document.querySelectorAll(".field-error")).filter(function (e) { return e.textContent; }).map(function (e) { return e.id + ": " + e.textContent; }).join("\n")`))
		t.Fatalf("%s: %v\npage %s shows:\n%s\nfield errors:\n%s", what, err, where, body, errs)
	}
}

// read runs one browser action that answers a value.
func read[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(c, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// js runs a script in the page.
func js(script string) chromedp.Action[chromedp.Void] {
	ev := chromedp.Evaluate[any](script)
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := ev(ctx, t)
		return chromedp.Void{}, err
	}
}

// waitJS polls a JavaScript condition in the page until the deadline of
// the browse call that runs it (the test waits; the page itself is
// updated by the server's events).
func waitJS(cond string) chromedp.Action[chromedp.Void] {
	poll := chromedp.Poll[bool](cond, chromedp.WithPollingInterval(200*time.Millisecond), chromedp.WithPollingTimeout(0))
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := poll(ctx, t)
		return chromedp.Void{}, err
	}
}

// TestUIBrowser walks the steps in a real browser against the
// whole program with a real docker bake: a first start that explains
// how to bake, a pipeline created through the form (with a bad AMI
// suffix shown next to its field before saving), a manual run watched
// to SUCCEEDED, the Packer log arriving in "View Bakery Details", a
// second run that reuses the bake, and a forced rebake.
func TestUIBrowser(t *testing.T) {
	needBakeTools(t)
	ctx := browser(t)
	deb := sampleDeb(t, "0.5.0-h5.c4baff4")
	jk := jenkinstest.New(t, "ci-user", "ci-token-secret")
	jk.AddBuild(jenkinstest.ArmoryJob, jenkinstest.Build{Number: 3, Result: "SUCCESS"})
	jk.AddBuild(jenkinstest.ArmoryJob, jenkinstest.Build{Number: 4, Result: "FAILURE"})
	jk.AddBuild(jenkinstest.ArmoryJob, jenkinstest.Build{Number: 5, Result: "SUCCESS",
		ArtifactFiles: map[string]string{"build/" + filepath.Base(deb): deb},
		Artifacts:     map[string][]byte{"build/build.properties": []byte("version=0.5.0-h5.c4baff4\n")}})
	srv := startServer(t, t.TempDir(), jenkinsServeConfig(jk), nil)

	// First start: an explanation, not an empty table.
	browse(t, ctx, 30*time.Second, "first start", chromedp.Navigate(srv.url+"/"))
	text := read(t, ctx, "first start", chromedp.Text(chromedp.CSS("main")))
	if !strings.Contains(text, "Bake your first image") || !strings.Contains(text, "bookworm") {
		t.Fatalf("first start page:\n%s", text)
	}
	screenshot(t, ctx, "ui-first-start")

	// Step 1 and 6: the form; a bad AMI suffix shows its error next to
	// the field before anything is saved.
	browse(t, ctx, 30*time.Second, "create the pipeline",
		chromedp.Click(chromedp.CSS(`a[href="/ui/pipelines/new"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#f-application`)),
		chromedp.SendKeys(chromedp.CSS(`#f-application`), "armory"),
		chromedp.SendKeys(chromedp.CSS(`#f-name`), "hello"),
		js(`var m = document.getElementById("f-master"); m.value = "ci"; m.dispatchEvent(new Event("change", {bubbles: true}))`),
		waitJS(`!!document.querySelector('#jobs-list option[value="`+jenkinstest.ArmoryJob+`"]')`),
		chromedp.SendKeys(chromedp.CSS(`#f-job`), jenkinstest.ArmoryJob),
		chromedp.SendKeys(chromedp.CSS(`#f-propertyFile`), "build.properties"),
		chromedp.SendKeys(chromedp.CSS(`#f-s0-package`), "armory-hello-deploy"),
		chromedp.Click(chromedp.CSS(`input[name="s0.baseOs"][value=bookworm]`)),
		chromedp.Click(chromedp.CSS(`#stage-0 details summary`)),
		chromedp.SendKeys(chromedp.CSS(`#f-s0-amiSuffix`), "2024 01 31!"),
		chromedp.Click(chromedp.CSS(`#f-s0-amiName`)), // leave the field: "change"
		waitJS(`document.getElementById("err-s0-amiSuffix").textContent.includes("may only contain letters")`),
	)
	screenshot(t, ctx, "ui-bake-stage-form")
	var cfgs []map[string]any
	if call(t, "GET", srv.url+"/applications/armory/pipelineConfigs", nil, &cfgs); len(cfgs) != 0 {
		t.Fatalf("a form with a field error was saved: %v", cfgs)
	}
	browse(t, ctx, 30*time.Second, "save the pipeline",
		js(`document.getElementById("f-s0-amiSuffix").value = ""`),
		chromedp.Submit(chromedp.CSS(`#pipeline-form`)),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/ui/pipelines/armory/hello/run"]`)))
	if call(t, "GET", srv.url+"/applications/armory/pipelineConfigs", nil, &cfgs); len(cfgs) != 1 {
		t.Fatalf("pipelines after saving the form: %v", cfgs)
	}
	st := cfgs[0]["stages"].([]any)[0].(map[string]any)
	if st["package"] != "armory-hello-deploy" || st["baseOs"] != "bookworm" || st["cloudProviderType"] != "docker" || st["amiSuffix"] != nil {
		t.Fatalf("saved bake stage = %v", st)
	}

	// startRun opens the manual run dialog, ticks Force Rebake when asked,
	// and starts the run; the browser lands on the execution.
	startRun := func(rebake bool) {
		t.Helper()
		actions := []chromedp.Action[chromedp.Void]{
			chromedp.Navigate(srv.url + "/ui/pipelines"),
			chromedp.Click(chromedp.CSS(`a[href="/ui/pipelines/armory/hello/run"]`)),
			chromedp.WaitVisible(chromedp.CSS(`input[name=rebake]`)),
		}
		if rebake {
			actions = append(actions, chromedp.Click(chromedp.CSS(`input[name=rebake]`)))
		}
		// The build list: successful builds, newest first (4 failed).
		actions = append(actions, waitJS(`(function () {
			var o = document.querySelectorAll("select[name=buildNumber] option");
			return o.length === 2 && o[0].value === "5" && o[1].value === "3";
		})()`))
		actions = append(actions, chromedp.Click(chromedp.CSS(`form.dialog button[type=submit]`)),
			chromedp.WaitVisible(chromedp.CSS(`#execution`)))
		browse(t, ctx, 30*time.Second, "start a manual run", actions...)
	}
	succeeded := `document.querySelector("#execution p .status") && document.querySelector("#execution p .status").textContent === "SUCCEEDED"`
	resultText := func() string {
		return read(t, ctx, "read the result box", chromedp.Text(chromedp.CSS(`#execution .result`)))
	}

	// Steps 2 and 3: the run; "View Bakery Details" while the bake runs
	// streams Packer's lines; the execution reaches SUCCEEDED.
	startRun(false)
	execURL := read(t, ctx, "the execution's address", chromedp.Location())
	// The stages are replaced each time the run changes, so the link is
	// read and followed rather than clicked (a click can land on a
	// replaced node).
	details := `(function () {
		var a = Array.from(document.querySelectorAll("#execution a")).find(function (a) { return a.textContent === "View Bakery Details"; });
		return a ? a.href : "";
	})()`
	browse(t, ctx, 2*time.Minute, "the run shows View Bakery Details", waitJS(details+` !== ""`))
	browse(t, ctx, 30*time.Second, "open View Bakery Details",
		chromedp.Navigate(read(t, ctx, "the link", chromedp.Evaluate[string](details))),
		chromedp.WaitVisible(chromedp.CSS(`#log`)))
	streamed := read(t, ctx, "is the log streaming", chromedp.Evaluate[bool](`!/ended/.test(document.getElementById("log-state").textContent)`))
	browse(t, ctx, 5*time.Minute, "Packer's lines arrive",
		waitJS(`document.getElementById("log").textContent.includes("docker")`),
		waitJS(`document.getElementById("log").getAttribute("data-ended") === "true" || /ended/.test(document.getElementById("log-state").textContent)`))
	if !streamed {
		t.Log("the bake ended before its page opened; the log was read whole, not streamed")
	} else {
		// The page opened while the bake ran: its RUNNING label turns
		// into the result when the bake ends, without a reload.
		browse(t, ctx, 10*time.Second, "the bake page's state follows the bake",
			waitJS(`document.querySelector("#bake-head .status").textContent === "SUCCESS"`),
			waitJS(`document.querySelector("#bake-head .result.ok") !== null`))
	}
	browse(t, ctx, 10*time.Second, "scroll to the log", chromedp.ScrollIntoView(chromedp.CSS(`#log-title`)))
	screenshot(t, ctx, "ui-bakery-details")
	browse(t, ctx, 5*time.Minute, "the execution succeeds",
		chromedp.Navigate(execURL),
		waitJS(succeeded))
	if got := resultText(); !strings.HasPrefix(strings.TrimSpace(got), "Image: ") {
		t.Fatalf("first run's result box = %q", got)
	}
	screenshot(t, ctx, "ui-execution")

	// Step 4: again, nothing changed: the bake is reused.
	startRun(false)
	browse(t, ctx, 5*time.Minute, "the second run succeeds", waitJS(succeeded))
	if got := resultText(); !strings.Contains(got, "No changes detected; reused existing bake") {
		t.Fatalf("second run's result box = %q", got)
	}
	screenshot(t, ctx, "ui-execution-reused")

	// Step 5: Force Rebake bakes again.
	startRun(true)
	browse(t, ctx, 5*time.Minute, "the forced rebake succeeds", waitJS(succeeded))
	if got := resultText(); !strings.HasPrefix(strings.TrimSpace(got), "Image: ") {
		t.Fatalf("forced rebake's result box = %q", got)
	}

	// The Bakery lists both bakes; the Images page their lineage.
	browse(t, ctx, 30*time.Second, "the bakery", chromedp.Navigate(srv.url+"/ui/bakery"))
	text = read(t, ctx, "the bakery", chromedp.Text(chromedp.CSS("#bakes")))
	if n := strings.Count(text, "armory-hello-deploy"); n < 2 || !strings.Contains(text, "SUCCESS") {
		t.Fatalf("bakery shows %d bakes:\n%s", n, text)
	}
	screenshot(t, ctx, "ui-bakery")
	browse(t, ctx, 30*time.Second, "the images", chromedp.Navigate(srv.url+"/ui/images"))
	text = read(t, ctx, "the images", chromedp.Text(chromedp.CSS("main")))
	if !strings.Contains(text, "armory-hello-deploy=0.5.0") || !strings.Contains(text, "build 5") && !strings.Contains(text, "#5") {
		t.Fatalf("images page:\n%s", text)
	}
	screenshot(t, ctx, "ui-images")

	// Usable at phone width: no page scrolls sideways (wide tables scroll
	// inside their own box), and the nav is still there.
	noOverflow := waitJS(`document.documentElement.scrollWidth <= window.innerWidth + 1`)
	browse(t, ctx, 30*time.Second, "phone width",
		chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile),
		chromedp.Navigate(execURL), waitJS(succeeded), noOverflow,
		chromedp.WaitVisible(chromedp.CSS(`nav a[href="/ui/bakery"]`)))
	screenshot(t, ctx, "ui-phone-execution")
	for _, path := range []string{"/ui/bakery", "/ui/pipelines/armory/hello", "/ui/images"} {
		browse(t, ctx, 30*time.Second, "phone width "+path, chromedp.Navigate(srv.url+path), noOverflow)
	}
}

// TestUIRefusesCrossSitePosts: a UI form post from another site, or
// without the page's CSRF token, changes nothing.
func TestUIRefusesCrossSitePosts(t *testing.T) {
	srv := startServer(t, t.TempDir(), "", nil)
	// A page load gives the browser its token.
	resp, err := http.Get(srv.url + "/ui/bakery")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "bakehouse_csrf" {
			cookie = c
		}
	}
	if cookie == nil || cookie.SameSite != http.SameSiteStrictMode || !cookie.HttpOnly {
		t.Fatalf("no strict, HttpOnly CSRF cookie: %v", resp.Cookies())
	}
	form := url.Values{"csrf": {cookie.Value}, "application": {"evil"}, "name": {"p"}, "package": {"x"},
		"regions": {"global"}, "baseOs": {"bookworm"}, "cloudProviderType": {"docker"}}
	post := func(site, token string) int {
		f := url.Values{}
		for k, v := range form {
			f[k] = v
		}
		f.Set("csrf", token)
		req, _ := http.NewRequest("POST", srv.url+"/ui/pipelines", strings.NewReader(f.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", site)
		req.AddCookie(cookie)
		c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, tc := range []struct{ site, token string }{{"cross-site", cookie.Value}, {"same-site", cookie.Value}, {"same-origin", "wrong"}, {"same-origin", ""}} {
		if code := post(tc.site, tc.token); code != http.StatusForbidden {
			t.Errorf("post from %s with token %q: %d, want 403", tc.site, tc.token, code)
		}
	}
	var cfgs []map[string]any
	if call(t, "GET", srv.url+"/applications/evil/pipelineConfigs", nil, &cfgs); len(cfgs) != 0 {
		t.Fatalf("a refused post saved a pipeline: %v", cfgs)
	}
	if code := post("same-origin", cookie.Value); code != http.StatusSeeOther {
		t.Fatalf("the UI's own post: %d, want 303", code)
	}
	if call(t, "GET", srv.url+"/applications/evil/pipelineConfigs", nil, &cfgs); len(cfgs) != 1 {
		t.Fatalf("the UI's own post did not save: %v", cfgs)
	}
}
