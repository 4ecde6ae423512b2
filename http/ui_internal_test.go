package http

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestUICheckField: the rules the pipeline form shows next to its fields
// before saving.
func TestUICheckField(t *testing.T) {
	for _, tc := range []struct {
		field, value, want string // want: a word of the error, "" for none
	}{
		{"amiSuffix", "", ""},
		{"amiSuffix", "20240131120000", ""},
		{"amiSuffix", "2024 01 31!", "may only contain letters"},
		{"amiSuffix", "a/b", "may only contain letters"},
		{"amiSuffix", strings.Repeat("1", 65), "at most 64"},
		{"amiSuffix", "${trigger['buildNumber']}", ""},
		{"package", "", "is required"},
		{"package", "armory-hello-deploy other", ""},
		{"package", "app;rm", "is not a package name"},
		{"application", "arm ory", "may only contain"},
		{"templateFileName", "../etc/passwd", "plain file name"},
		{"varFileName", "vars.json", ""},
		{"job", "/job/x", "without a leading"},
		{"packageName", "", "Package is a required field for Find Image from Tags stages"},
		{"packageName", "a b", "is not a package name"},
		{"packageName", "${trigger['properties']['pkg']}", ""},
		{"stageName", "", "Stage Name is required"},
	} {
		got := checkField(tc.field, tc.value)
		if tc.want == "" && got != "" || tc.want != "" && !strings.Contains(got, tc.want) {
			t.Errorf("checkField(%s, %q) = %q, want %q", tc.field, tc.value, got, tc.want)
		}
	}
}

// TestUITemplatesParse: every page parses with the layout.
func TestUITemplatesParse(t *testing.T) {
	if _, err := uiTemplates(); err != nil {
		t.Fatal(err)
	}
}

// TestUISession: a session cookie authorizes only while unexpired, with
// its signature intact, under the token that made it.
func TestUISession(t *testing.T) {
	z := newAuthorizer(Auth{Token: "tok-1"})
	other := newAuthorizer(Auth{Token: "tok-2"})
	future := time.Now().Add(time.Hour).Unix()
	good := z.sessionValue(future)
	for _, tc := range []struct {
		name, value string
		z           *authorizer
		want        bool
	}{
		{"good", good, z, true},
		{"expired", z.sessionValue(time.Now().Add(-time.Second).Unix()), z, false},
		{"later expiry, old signature", strconv.FormatInt(future+3600, 10) + good[strings.IndexByte(good, '.'):], z, false},
		{"flipped signature", good[:len(good)-1] + "0", z, good[len(good)-1] == '0'},
		{"another token", good, other, false},
		{"the token itself", "tok-1", z, false},
		{"empty", "", z, false},
	} {
		r := httptest.NewRequest("POST", "/ui/pipelines", nil)
		r.AddCookie(&http.Cookie{Name: sessionCookie, Value: tc.value})
		if got := tc.z.sessionMatches(r); got != tc.want {
			t.Errorf("%s: sessionMatches = %v, want %v", tc.name, got, tc.want)
		}
		if got := tc.z.allows(r); got != tc.want {
			t.Errorf("%s: allows = %v, want %v", tc.name, got, tc.want)
		}
	}
	if strings.Contains(good, "tok-1") {
		t.Errorf("the session %q holds the token", good)
	}
	// The API's routes take the bearer header, not the cookie.
	r := httptest.NewRequest("POST", "/api/v1/global/bake", nil)
	r.AddCookie(&http.Cookie{Name: sessionCookie, Value: good})
	if z.allows(r) {
		t.Error("a session cookie authorized an API route")
	}
}

// TestUILocalPath: a sign-in returns only to a path on this server.
func TestUILocalPath(t *testing.T) {
	for next, want := range map[string]string{
		"/ui/pipelines/new":       "/ui/pipelines/new",
		"/ui/bakery?state=FAILED": "/ui/bakery?state=FAILED",
		"":                        "/",
		"https://evil.example/":   "/",
		"//evil.example/x":        "/",
		"/\\evil.example/x":       "/",
		"javascript:alert(1)":     "/",
		"ui/relative":             "/",
	} {
		if got := localPath(next); got != want {
			t.Errorf("localPath(%q) = %q, want %q", next, got, want)
		}
	}
}
