package http_test

import (
	"context"
	"strings"
	"testing"
)

// TestBakeInputChecks covers Bakehouse's own checks of a bake request,
// beyond Rosco's: each bad request is a 400 with kork's error body whose
// "field" names what to fix, and no bake is stored, queued or run.
func TestBakeInputChecks(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		field  string
		says   []string // substrings of the message
		decode bool     // a decoding error: DELETE refuses it too
	}{
		{
			name:  "body over 1 MiB",
			body:  `{"package": "kato", "base_os": "ubuntu", "user": "` + strings.Repeat("a", 1<<20) + `"}`,
			field: "body", says: []string{"body", "1 MiB"}, decode: true,
		},
		{name: "empty body", body: " ", field: "body", says: []string{"body", "empty"}, decode: true},
		{name: "not JSON", body: "package=kato&base_os=ubuntu", field: "body", says: []string{"body", "JSON"}, decode: true},
		{name: "truncated JSON", body: `{"package": "kato"`, field: "body", says: []string{"JSON"}, decode: true},
		{name: "package is a number", body: `{"package": 5, "base_os": "ubuntu"}`, field: "package", says: []string{"'package'", "string"}, decode: true},
		{name: "upgrade is a string", body: `{"package": "kato", "base_os": "ubuntu", "upgrade": "yes"}`, field: "upgrade", says: []string{"'upgrade'"}, decode: true},
		{
			name:  "template outside the template directory",
			body:  `{"package": "kato", "base_os": "ubuntu", "template_file_name": "../x.json"}`,
			field: "template_file_name", says: []string{"template_file_name", "../x.json"},
		},
		{
			name:  "var file outside the template directory",
			body:  `{"package": "kato", "base_os": "ubuntu", "var_file_name": "/etc/passwd"}`,
			field: "var_file_name", says: []string{"var_file_name"},
		},
		{
			name:  "package with a shell metacharacter",
			body:  `{"package": "kato;rm -rf /", "base_os": "ubuntu"}`,
			field: "package", says: []string{"package", "kato;rm", "';'"},
		},
		{
			name:  "package that looks like an option",
			body:  `{"package": "--force-yes", "base_os": "ubuntu"}`,
			field: "package", says: []string{"package", "--force-yes"},
		},
		{
			name:  "unknown base_os",
			body:  `{"package": "kato", "base_os": "windows"}`,
			field: "base_os", says: []string{"windows", "bookworm", "ubuntu"},
		},
		{
			name:  "missing base_os",
			body:  `{"package": "kato"}`,
			field: "base_os", says: []string{"base_os", "bookworm", "ubuntu"},
		},
		{name: "no package", body: `{"base_os": "ubuntu"}`, field: "package", says: []string{"package"}},
		{
			name:  "extended attribute that is an object",
			body:  `{"package": "kato", "base_os": "ubuntu", "extended_attributes": {"copies": 2, "tags": {"a": "b"}}}`,
			field: "extended_attributes.tags", says: []string{"extended_attributes.tags", "object"}, decode: true,
		},
		{
			name:  "extended attribute that is a list",
			body:  `{"package": "kato", "base_os": "ubuntu", "extended_attributes": {"copy_to": ["us-east-1"]}}`,
			field: "extended_attributes.copy_to", says: []string{"extended_attributes.copy_to", "list", "comma-separated"}, decode: true,
		},
		{
			name:  "extended attributes that are not an object",
			body:  `{"package": "kato", "base_os": "ubuntu", "extended_attributes": "copies=2"}`,
			field: "extended_attributes", says: []string{"extended_attributes", "object"}, decode: true,
		},
		{
			name:  "extended attribute number out of range",
			body:  `{"package": "kato", "base_os": "ubuntu", "extended_attributes": {"size": 1e400}}`,
			field: "extended_attributes.size", says: []string{"extended_attributes.size", "1e400"}, decode: true,
		},
		{name: "unknown vm_type", body: `{"package": "kato", "base_os": "ubuntu", "vm_type": "hvm2"}`, field: "vm_type", says: []string{"hvm2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			res := e.do("POST", "/api/v1/some-region/bake", nil, []byte(tt.body))
			checkBadRequest(t, "bake", res, tt.field, tt.says)
			res = e.do("POST", "/api/v1/some-region/bake/plan", nil, []byte(tt.body))
			checkBadRequest(t, "plan", res, tt.field, tt.says)
			if tt.decode {
				res = e.do("DELETE", "/api/v1/some-region/bake", nil, []byte(tt.body))
				checkBadRequest(t, "delete", res, tt.field, tt.says)
			}
			checkNothingStored(t, e)
		})
	}
}

// TestBakeInputChecksRegion: the region is checked before the body.
func TestBakeInputChecksRegion(t *testing.T) {
	e := newEnv(t)
	res := e.do("POST", "/api/v1/US_EAST_1/bake", nil, []byte(`{"package": "kato", "base_os": "ubuntu"}`))
	checkBadRequest(t, "POST", res, "region", []string{"US_EAST_1"})
	checkNothingStored(t, e)
}

// TestBakeInputAccepted: what the checks must let through (Orca's
// extra fields are ignored; versioned and qualified package names pass).
func TestBakeInputAccepted(t *testing.T) {
	e := newEnv(t)
	body := `{"package": "kato=1.0-3 nginx_1.2.3-1_amd64.deb libc6:amd64", "base_os": "ubuntu",
		"cloudProviderType": "ignored", "stageId": "01J", "user": "someuser@gmail.com"}`
	res := e.do("POST", "/api/v1/some-region/bake", nil, []byte(body))
	if res.status != 200 {
		t.Fatalf("status = %d, want 200: %s", res.status, res.body)
	}
	if n := len(e.bakes()); n != 1 {
		t.Errorf("stored bakes = %d, want 1", n)
	}
}

func checkBadRequest(t *testing.T, what string, res *response, field string, says []string) {
	t.Helper()
	if res.status != 400 {
		t.Fatalf("%s: status = %d, want 400: %.300s", what, res.status, res.body)
	}
	body := res.json(t)
	for _, k := range []string{"timestamp", "status", "error", "exception", "message"} {
		if _, ok := body[k]; !ok {
			t.Errorf("%s: error body lacks %q: %s", what, k, res.body)
		}
	}
	if body["status"] != float64(400) || body["error"] != "Bad Request" {
		t.Errorf("%s: status/error = %v/%v, want 400/Bad Request", what, body["status"], body["error"])
	}
	if body["field"] != field {
		t.Errorf("%s: field = %v, want %q; message %q", what, body["field"], field, body["message"])
	}
	msg, _ := body["message"].(string)
	for _, s := range says {
		if !strings.Contains(msg, s) {
			t.Errorf("%s: message %q does not mention %q", what, msg, s)
		}
	}
}

// checkNothingStored: a refused request leaves no bake, running or not,
// and never reaches Packer.
func checkNothingStored(t *testing.T, e *env) {
	t.Helper()
	running, err := e.svc.Running(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(running) != 0 {
		t.Errorf("running bakes = %d, want 0", len(running))
	}
	if all := e.bakes(); len(all) != 0 {
		t.Errorf("stored bakes = %d, want 0", len(all))
	}
	if n := len(e.packer.calls()); n != 0 {
		t.Errorf("packer runs = %d, want 0", n)
	}
}
