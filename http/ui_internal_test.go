package http

import (
	"strings"
	"testing"
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
