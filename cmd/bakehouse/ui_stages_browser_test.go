package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// clickLoads clicks the element sel names and waits until the page it
// loads (a form post answered with a page) has replaced the current one.
func clickLoads(sel string) chromedp.Action[chromedp.Void] {
	mark := chromedp.Evaluate[bool](`window.bakehouseOld = true`)
	click := chromedp.Click(chromedp.CSS(sel))
	loaded := chromedp.Evaluate[bool](`window.bakehouseOld === undefined && document.readyState === "complete"`)
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		if _, err := mark(ctx, t); err != nil {
			return chromedp.Void{}, err
		}
		if _, err := click(ctx, t); err != nil {
			return chromedp.Void{}, err
		}
		for {
			// The old page's context goes away while the new one loads:
			// an error then is the load in progress.
			if ok, err := loaded(ctx, t); err == nil && ok {
				return chromedp.Void{}, nil
			}
			select {
			case <-ctx.Done():
				return chromedp.Void{}, ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
}

// TestUIStageEditor edits a pipeline's stages in a real browser: a Find
// Image from Tags stage added to the Bake stage, its required fields
// (Package, Tags) and a duplicate tag key refused next to their fields
// before anything is saved, a second Bake stage that depends on both,
// the stored JSON (types, refIds, requisiteStageRefIds, tags), and a
// stage removed again, which takes it out of the others' Depends On.
func TestUIStageEditor(t *testing.T) {
	ctx := browser(t)
	srv := startServer(t, t.TempDir(), "", nil)
	configs := func() []map[string]any {
		var cfgs []map[string]any
		call(t, "GET", srv.url+"/applications/armory/pipelineConfigs", nil, &cfgs)
		return cfgs
	}
	errText := func(id string) string {
		return read(t, ctx, "read "+id, chromedp.Evaluate[string](`(document.getElementById("`+id+`") || {}).textContent || ""`))
	}
	addStage := func(typ string) chromedp.Action[chromedp.Void] {
		return clickLoads(`button[name=op][value="add:` + typ + `"]`)
	}

	browse(t, ctx, 30*time.Second, "a new pipeline with a Find Image from Tags stage",
		chromedp.Navigate(srv.url+"/ui/pipelines/new"),
		chromedp.WaitVisible(chromedp.CSS(`#f-application`)),
		chromedp.SendKeys(chromedp.CSS(`#f-application`), "armory"),
		chromedp.SendKeys(chromedp.CSS(`#f-name`), "stages"),
		chromedp.SendKeys(chromedp.CSS(`#f-s0-package`), "armory-hello-deploy"),
		addStage("findImageFromTags"),
		chromedp.WaitVisible(chromedp.CSS(`#stage-1[data-type=findImageFromTags]`)))
	// Deck's order and words: Package, Regions, Tags.
	labels := read(t, ctx, "the stage's labels", chromedp.Evaluate[string](
		`Array.from(document.querySelectorAll("#stage-1 .field > label, #stage-1 .field > .label")).map(function (e) { return e.textContent.trim(); }).join("|")`))
	if !strings.Contains(labels, "Package|Regions|Tags") || !strings.HasPrefix(labels, "Stage Name|Depends On") {
		t.Fatalf("Find Image from Tags fields = %s", labels)
	}
	if v := read(t, ctx, "the new stage's dependency", chromedp.Evaluate[bool](`document.querySelector('input[name="s1.requisiteStageRefIds"][value="1"]').checked`)); !v {
		t.Fatalf("a new stage does not depend on the stage before it")
	}

	// A bad package shows its error as it is typed; saving with no package
	// and no tags shows both next to their fields and saves nothing.
	browse(t, ctx, 30*time.Second, "a bad package",
		chromedp.SendKeys(chromedp.CSS(`#f-s1-packageName`), "bad;pkg"),
		waitJS(`document.getElementById("err-s1-packageName").textContent.includes("is not a package name")`),
		js(`document.getElementById("f-s1-packageName").value = ""`),
		clickLoads(`button[name=op][value=save]:not(.default-submit)`),
		waitJS(`document.getElementById("err-s1-tags") && document.getElementById("err-s1-tags").textContent !== ""`))
	if got := errText("err-s1-tags"); !strings.Contains(got, "Tags is a required field") {
		t.Fatalf("tags error = %q", got)
	}
	if got := errText("err-s1-packageName"); !strings.Contains(got, "Package is a required field") {
		t.Fatalf("package error = %q", got)
	}
	if cfgs := configs(); len(cfgs) != 0 {
		t.Fatalf("a form with field errors was saved: %v", cfgs)
	}
	browse(t, ctx, 10*time.Second, "scroll to the stage", chromedp.ScrollIntoView(chromedp.CSS(`#stage-1`)))
	screenshot(t, ctx, "ui-find-image-from-tags-form")

	// Tags as a key/value table; a duplicate key is refused.
	browse(t, ctx, 30*time.Second, "fill the Find Image from Tags stage",
		chromedp.SendKeys(chromedp.CSS(`#f-s1-packageName`), "armory-base"),
		chromedp.Click(chromedp.CSS(`button[data-add-row="s1-tags-rows"]`)),
		chromedp.SendKeys(chromedp.CSS(`#s1-tags-rows tr:nth-child(1) input[name="s1.key"]`), "team"),
		chromedp.SendKeys(chromedp.CSS(`#s1-tags-rows tr:nth-child(1) input[name="s1.value"]`), "platform"),
		chromedp.Click(chromedp.CSS(`button[data-add-row="s1-tags-rows"]`)),
		chromedp.SendKeys(chromedp.CSS(`#s1-tags-rows tr:nth-child(2) input[name="s1.key"]`), "team"),
		chromedp.SendKeys(chromedp.CSS(`#s1-tags-rows tr:nth-child(2) input[name="s1.value"]`), "other"),
		clickLoads(`button[name=op][value=save]:not(.default-submit)`),
		waitJS(`document.getElementById("err-s1-tags") && document.getElementById("err-s1-tags").textContent.includes("Duplicate key")`),
		chromedp.Click(chromedp.CSS(`#s1-tags-rows tr:nth-child(2) button[data-remove-row]`)),
		// Find Image from Tags depends on nothing; a second Bake after it.
		chromedp.Click(chromedp.CSS(`input[name="s1.requisiteStageRefIds"][value="1"]`)),
		addStage("bake"),
		chromedp.WaitVisible(chromedp.CSS(`#stage-2[data-type=bake]`)),
		chromedp.SendKeys(chromedp.CSS(`#f-s2-package`), "armory-hello-extras"),
		chromedp.Click(chromedp.CSS(`input[name="s2.requisiteStageRefIds"][value="1"]`)),
		clickLoads(`button[name=op][value=save]:not(.default-submit)`),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/ui/pipelines/armory/stages"]`)))
	cfgs := configs()
	if len(cfgs) != 1 {
		t.Fatalf("pipelines = %v", cfgs)
	}
	got := stagesOf(t, cfgs[0])
	if want := "bake 1 Bake [] package=armory-hello-deploy regions=[global] | " +
		"findImageFromTags 2 Find Image from Tags [] packageName=armory-base regions=[global] tags=map[team:platform] | " +
		"bake 3 Bake 2 [1 2] package=armory-hello-extras regions=[global]"; got != want {
		t.Fatalf("stored stages:\n got %s\nwant %s", got, want)
	}

	// Remove the first Bake: the second no longer depends on it.
	browse(t, ctx, 30*time.Second, "remove a stage",
		chromedp.Navigate(srv.url+"/ui/pipelines/armory/stages"),
		chromedp.WaitVisible(chromedp.CSS(`#stage-2`)),
		clickLoads(`#stage-0 button[name=op][value="remove:0"]`),
		waitJS(`!document.getElementById("stage-2") && document.querySelector('#stage-1[data-type=bake]') !== null`),
		clickLoads(`button[name=op][value=save]:not(.default-submit)`),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/ui/pipelines/armory/stages"]`)))
	if got, want := stagesOf(t, configs()[0]), "findImageFromTags 2 Find Image from Tags [] packageName=armory-base regions=[global] tags=map[team:platform] | "+
		"bake 3 Bake 2 [2] package=armory-hello-extras regions=[global]"; got != want {
		t.Fatalf("stages after removing Bake:\n got %s\nwant %s", got, want)
	}
}

// stagesOf writes a stored pipeline's stages as "type refId name
// [requisites] fields | ...", the fields the form edits.
func stagesOf(t *testing.T, cfg map[string]any) string {
	t.Helper()
	b, _ := json.Marshal(cfg["stages"])
	var stages []struct {
		Type, RefID, Name, Package, PackageName string
		Requisites                              []string `json:"requisiteStageRefIds"`
		Regions                                 []string
		Tags                                    map[string]string
	}
	if err := json.Unmarshal(b, &stages); err != nil {
		t.Fatalf("stages %s: %v", b, err)
	}
	var out []string
	for _, s := range stages {
		line := fmt.Sprintf("%s %s %s %v", s.Type, s.RefID, s.Name, s.Requisites)
		if s.Package != "" {
			line += " package=" + s.Package
		}
		if s.PackageName != "" {
			line += " packageName=" + s.PackageName
		}
		line += fmt.Sprintf(" regions=%v", s.Regions)
		if s.Tags != nil {
			line += fmt.Sprintf(" tags=%v", s.Tags)
		}
		out = append(out, line)
	}
	return strings.Join(out, " | ")
}
