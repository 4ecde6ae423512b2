package main

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestUISignIn: with bakehouse.apiToken set and the browser outside
// bakehouse.trustedNetworks, pages read without a token, but a form post
// is refused with a page that offers to sign in; a wrong token says so;
// the right one sets a session cookie (HttpOnly, SameSite=Strict, not the
// token) with which the same form saves; signing out refuses it again.
func TestUISignIn(t *testing.T) {
	const token = "ui-token-5d4c3b2a1f0e"
	ctx := browser(t)
	srv := startServer(t, t.TempDir(), "bakehouse:\n  apiToken: "+token+"\n  trustedNetworks: [10.0.0.0/8]\n",
		map[string]string{"BAKEHOUSE_API_TOKEN": ""})
	configs := func() int {
		var cfgs []map[string]any
		call(t, "GET", srv.url+"/applications/armory/pipelineConfigs", nil, &cfgs)
		return len(cfgs)
	}
	fillAndSave := []chromedp.Action[chromedp.Void]{
		chromedp.Navigate(srv.url + "/ui/pipelines/new"),
		chromedp.WaitVisible(chromedp.CSS(`#f-application`)),
		chromedp.SendKeys(chromedp.CSS(`#f-application`), "armory"),
		chromedp.SendKeys(chromedp.CSS(`#f-name`), "signed"),
		chromedp.SendKeys(chromedp.CSS(`#f-s0-package`), "armory-hello-deploy"),
		clickLoads(`button[name=op][value=save]:not(.default-submit)`),
	}
	mainText := func() string { return read(t, ctx, "the page", chromedp.Text(chromedp.CSS("main"))) }

	// Reads are open; the header offers to sign in.
	browse(t, ctx, 30*time.Second, "the bakery without a sign-in", chromedp.Navigate(srv.url+"/ui/bakery"),
		chromedp.WaitVisible(chromedp.CSS(`nav a.auth[href^="/ui/signin"]`)))

	// A form post is refused with a page that offers sign-in.
	browse(t, ctx, 30*time.Second, "save without a sign-in", fillAndSave...)
	if text := mainText(); !strings.Contains(text, "This change was not made") || !strings.Contains(text, "API token") {
		t.Fatalf("refused post shows:\n%s", text)
	}
	if n := configs(); n != 0 {
		t.Fatalf("a post without a sign-in saved %d pipelines", n)
	}
	screenshot(t, ctx, "ui-sign-in")

	// A wrong token says so.
	browse(t, ctx, 30*time.Second, "a wrong token",
		chromedp.SendKeys(chromedp.CSS(`#f-token`), "not-the-token"),
		clickLoads(`#signin-form button[type=submit]`),
		waitJS(`document.getElementById("err-token").textContent.includes("not this bakery's API token")`))

	// The right token: back to the form, which now saves.
	browse(t, ctx, 30*time.Second, "the right token",
		chromedp.SendKeys(chromedp.CSS(`#f-token`), token),
		clickLoads(`#signin-form button[type=submit]`),
		chromedp.WaitVisible(chromedp.CSS(`nav form.auth button`)))
	if loc := read(t, ctx, "where sign-in leads", chromedp.Location()); !strings.HasSuffix(loc, "/ui/pipelines/new") {
		t.Errorf("sign-in led to %s, want the form's page", loc)
	}
	browse(t, ctx, 30*time.Second, "save signed in", append(fillAndSave,
		chromedp.WaitVisible(chromedp.CSS(`a[href="/ui/pipelines/armory/signed"]`)))...)
	if n := configs(); n != 1 {
		t.Fatalf("a signed-in post saved %d pipelines, want 1", n)
	}

	// Signing out: the form is refused again.
	browse(t, ctx, 30*time.Second, "sign out",
		clickLoads(`nav form.auth button`),
		chromedp.WaitVisible(chromedp.CSS(`nav a.auth[href^="/ui/signin"]`)))
	browse(t, ctx, 30*time.Second, "save signed out", fillAndSave...)
	if text := mainText(); !strings.Contains(text, "This change was not made") {
		t.Fatalf("a post after signing out shows:\n%s", text)
	}

	// The cookie: HttpOnly, SameSite=Strict, and not the token.
	jar := signInDirect(t, srv.url, token)
	if jar == nil || !jar.HttpOnly || jar.SameSite != http.SameSiteStrictMode || strings.Contains(jar.Value, token) || jar.Value == "" {
		t.Fatalf("session cookie = %+v", jar)
	}
}

// signInDirect signs in with net/http as the form does and returns the
// session cookie the server sets.
func signInDirect(t *testing.T, base, token string) *http.Cookie {
	t.Helper()
	res, err := http.Get(base + "/ui/signin")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	var csrf *http.Cookie
	for _, c := range res.Cookies() {
		if c.Name == "bakehouse_csrf" {
			csrf = c
		}
	}
	if csrf == nil {
		t.Fatal("the sign-in page set no CSRF cookie")
	}
	req, _ := http.NewRequest("POST", base+"/ui/signin", strings.NewReader(url.Values{"csrf": {csrf.Value}, "token": {token}, "next": {"/"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.AddCookie(csrf)
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in: %d", res.StatusCode)
	}
	for _, c := range res.Cookies() {
		if c.Name == "bakehouse_session" {
			return c
		}
	}
	return nil
}
