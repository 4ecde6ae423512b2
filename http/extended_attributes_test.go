package http_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// TestExtendedAttributesNotStrings sends extended attributes as Orca
// passes them from pipeline JSON: numbers and booleans reach Packer in
// their Java string form, and Groovy-false values (false, 0, "", null)
// are left out of the command, also where they replace a variable the
// bakery set (repository), as in Rosco. The plan and the key treat a
// value and its string form alike.
func TestExtendedAttributesNotStrings(t *testing.T) {
	e := newEnv(t)
	const typed = `{"package": "kato", "base_os": "ubuntu", "extended_attributes": {
		"root_volume_size": 0, "aws_ena_support": false, "copies": 2, "ratio": 1.5, "whole": 2.0,
		"big": 1e7, "count": 12345678901234567890, "flag": true, "note": "false", "zero_text": "0",
		"nothing": null, "empty": "", "negative_zero": -0.0, "repository": false}}`
	res := e.do("POST", "/api/v1/us-east-1/bake", nil, []byte(typed))
	if res.status != 200 {
		t.Fatalf("bake: %d %s", res.status, res.body)
	}
	id, _ := res.json(t)["id"].(string)
	wait(t, e.runBake(id), "bake")
	runs := e.packer.calls()
	if len(runs) != 1 {
		t.Fatalf("packer ran %d times, want 1", len(runs))
	}
	vars := varsOf(runs[0].Argv)
	for _, want := range []string{"copies=2", "ratio=1.5", "whole=2.0", "big=1.0E7", "count=12345678901234567890",
		"flag=true", "note=false", "zero_text=0"} {
		if !slices.Contains(vars, want) {
			t.Errorf("packer argv lacks -var %s: %q", want, runs[0].Argv)
		}
	}
	for _, gone := range []string{"root_volume_size", "aws_ena_support", "nothing", "empty", "negative_zero", "repository"} {
		for _, v := range vars {
			if strings.HasPrefix(v, gone+"=") {
				t.Errorf("packer argv has -var %s; Groovy-false values are left out", v)
			}
		}
	}

	// The same bake written with strings plans the same command and key;
	// a different number is a different bake.
	const strs = `{"package": "kato", "base_os": "ubuntu", "extended_attributes": {
		"root_volume_size": "", "aws_ena_support": "", "copies": "2", "ratio": "1.5", "whole": "2.0",
		"big": "1.0E7", "count": "12345678901234567890", "flag": "true", "note": "false", "zero_text": "0",
		"nothing": "", "empty": "", "negative_zero": "", "repository": ""}}`
	p1, p2 := planOf(t, e, typed), planOf(t, e, strs)
	if p1.BakeKey != p2.BakeKey || !slices.Equal(untimed(p1.Packer.Argv), untimed(p2.Packer.Argv)) {
		t.Errorf("typed and string attributes plan differently:\n%s %q\n%s %q", p1.BakeKey, p1.Packer.Argv, p2.BakeKey, p2.Packer.Argv)
	}
	if p1.Reuse == nil || p1.Reuse.ID != id {
		t.Errorf("plan of the baked request does not reuse bake %s: %+v", id, p1.Reuse)
	}
	if p3 := planOf(t, e, strings.Replace(typed, `"copies": 2`, `"copies": 3`, 1)); p3.BakeKey == p1.BakeKey {
		t.Errorf("copies 3 has the key of copies 2: %s", p3.BakeKey)
	}
}

type planBody struct {
	BakeKey string `json:"bake_key"`
	Packer  struct {
		Argv []string `json:"argv"`
	} `json:"packer"`
	Reuse *struct {
		ID string `json:"id"`
	} `json:"reuse"`
}

func planOf(t *testing.T, e *env, body string) planBody {
	t.Helper()
	res := e.do("POST", "/api/v1/us-east-1/bake/plan", nil, []byte(body))
	if res.status != 200 {
		t.Fatalf("plan: %d %s", res.status, res.body)
	}
	var p planBody
	if err := json.Unmarshal(res.body, &p); err != nil {
		t.Fatal(err)
	}
	return p
}

// varsOf returns the values of argv's -var options.
func varsOf(argv []string) []string {
	var vars []string
	for i := 0; i+1 < len(argv); i++ {
		if argv[i] == "-var" {
			vars = append(vars, argv[i+1])
		}
	}
	return vars
}

// untimed drops the -var values that hold the bake time.
func untimed(argv []string) []string {
	return slices.DeleteFunc(slices.Clone(argv), func(a string) bool {
		return strings.HasPrefix(a, "appversion=") || strings.HasPrefix(a, "docker_target_image_tag=")
	})
}
