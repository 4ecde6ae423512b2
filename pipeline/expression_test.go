package pipeline_test

import (
	"strings"
	"testing"

	"github.com/bakehouse/bakehouse/pipeline"
)

// exprExecution is a run with a Find Image from Tags stage that found an
// image in two regions, a manual trigger with parameters, and a bake
// stage downstream of it.
func exprExecution() (*pipeline.Execution, *pipeline.Stage) {
	find := &pipeline.Stage{ID: "F", RefID: "1", Type: "findImageFromTags", Name: "Find Image from Tags",
		Status: pipeline.Succeeded, RequisiteStageRefIDs: []string{},
		Context: map[string]any{"amiDetails": []any{
			map[string]any{"imageId": "ami-east", "region": "us-east-1"},
			map[string]any{"imageId": "ami-west", "region": "us-west-2"},
		}},
		Outputs: map[string]any{"deploymentDetails": []any{
			map[string]any{"imageId": "ami-east", "ami": "ami-east", "region": "us-east-1"},
			map[string]any{"imageId": "ami-west", "ami": "ami-west", "region": "us-west-2"},
		}}}
	bake := &pipeline.Stage{ID: "B", RefID: "2", Type: "bake", Name: "Bake", RequisiteStageRefIDs: []string{"1"},
		Context: map[string]any{}}
	quote := &pipeline.Stage{ID: "Q", RefID: "9", Type: "wait", Name: "It's", Context: map[string]any{"note": "quoted"}}
	e := &pipeline.Execution{ID: "E1", Type: "PIPELINE", Application: "app", Name: "pipe",
		Trigger: map[string]any{"type": "manual", "user": "anna", "buildInfo": map[string]any{"number": float64(5)},
			"parameters": map[string]any{"region": "us-east-1", "count": float64(3)}},
		Stages: []*pipeline.Stage{find, bake, quote}}
	return e, bake
}

func TestEvaluate(t *testing.T) {
	e, s := exprExecution()
	for _, tc := range []struct {
		in   string
		want any
	}{
		{"${ #stage('Find Image from Tags')['context']['amiDetails'][0]['imageId'] }", "ami-east"},
		{"${#stage(\"Find Image from Tags\")[\"outputs\"][\"deploymentDetails\"][1][\"ami\"]}", "ami-west"},
		{"${#stage('Find Image from Tags').context.amiDetails[1].region}", "us-west-2"},
		{"${ trigger['user'] }", "anna"},
		{"${trigger['buildInfo']['number']}", float64(5)}, // whole string: the value keeps its type
		{"${ parameters['region'] }", "us-east-1"},
		{"${ execution['application'] }", "app"},
		{"${execution['stages'][1]['name']}", "Bake"},
		{"image ${ trigger['user'] }-${parameters['count']}.", "image anna-3."},
		{"no expression here", "no expression here"},
		{"${ #stage('It''s')['context']['note'] }", "quoted"},
		{"${ trigger['user'] } ", "anna "},
	} {
		got, err := pipeline.Evaluate(e, s, tc.in)
		if err != nil {
			t.Errorf("Evaluate(%q): %v", tc.in, err)
			continue
		}
		if got != tc.want {
			t.Errorf("Evaluate(%q) = %#v, want %#v", tc.in, got, tc.want)
		}
	}
}

func TestEvaluateWalksObjectsAndLists(t *testing.T) {
	e, s := exprExecution()
	in := map[string]any{"baseAmi": "${ #stage('Find Image from Tags')['context']['amiDetails'][0]['imageId'] }",
		"list": []any{"${trigger['user']}", float64(1)}, "plain": true}
	got, err := pipeline.Evaluate(e, s, in)
	if err != nil {
		t.Fatal(err)
	}
	assertEqual(t, "evaluated", got, map[string]any{"baseAmi": "ami-east", "list": []any{"anna", 1}, "plain": true})
	if in["baseAmi"] == "ami-east" {
		t.Error("Evaluate changed its input")
	}
}

func TestEvaluateErrorsNameTheExpression(t *testing.T) {
	e, s := exprExecution()
	for _, tc := range []struct{ in, expr, why string }{
		{"${ #stage('Nope')['context'] }", "${ #stage('Nope')['context'] }", `no stage named "Nope"`},
		{"${ trigger['nothing'] }", "${ trigger['nothing'] }", "no key 'nothing'"},
		{"${ #stage('Find Image from Tags')['context']['amiDetails'][7] }", "${ #stage('Find Image from Tags')['context']['amiDetails'][7] }", "out of range"},
		{"x ${ T(java.lang.Runtime).getRuntime() } y", "${ T(java.lang.Runtime).getRuntime() }", "unknown name"},
		{"${ trigger['user'].toUpperCase() }", "${ trigger['user'].toUpperCase() }", "cannot read ['toUpperCase'] of a string"},
		{"${ trigger['user'] ", "${ trigger['user'] ", "no closing '}'"},
		{"${ #stage(Find)['context'] }", "${ #stage(Find)['context'] }", "quoted stage name"},
		{"${ trigger[0] }", "${ trigger[0] }", "cannot read [0] of an object"},
		{"${}", "${}", "unsupported syntax"},
	} {
		_, err := pipeline.Evaluate(e, s, map[string]any{"k": []any{tc.in}})
		if err == nil {
			t.Errorf("Evaluate(%q): no error", tc.in)
			continue
		}
		if !pipeline.IsUserError(err) {
			t.Errorf("Evaluate(%q): %T is not a user error", tc.in, err)
		}
		if !strings.Contains(err.Error(), "expression "+tc.expr) || !strings.Contains(err.Error(), tc.why) {
			t.Errorf("Evaluate(%q) error %q: want it to name %q and say %q", tc.in, err, tc.expr, tc.why)
		}
	}
}

func TestUpstreamImage(t *testing.T) {
	e, bake := exprExecution()
	// a region child of the bake stage looks upstream of its parent
	parentID := bake.ID
	child := &pipeline.Stage{ID: "C", RefID: "2<1", Type: "bake", ParentStageID: &parentID, RequisiteStageRefIDs: []string{}}
	e.Stages = append(e.Stages, child)
	for region, want := range map[string]string{"us-east-1": "ami-east", "us-west-2": "ami-west"} {
		got, ok := pipeline.UpstreamImage(e, child, region)
		if !ok || got != want {
			t.Errorf("UpstreamImage(%s) = %q, %v; want %q", region, got, ok, want)
		}
	}
	if got, ok := pipeline.UpstreamImage(e, child, "eu-west-1"); ok {
		t.Errorf("UpstreamImage(eu-west-1) = %q, want none", got)
	}
	// the nearer find-image stage wins
	near := &pipeline.Stage{ID: "N", RefID: "3", Type: "findImageFromTags", Name: "Nearer", RequisiteStageRefIDs: []string{"1"},
		Outputs: map[string]any{"deploymentDetails": []any{map[string]any{"imageId": "ami-near", "region": "us-east-1"}}}}
	e.Stages = append(e.Stages, near)
	bake.RequisiteStageRefIDs = []string{"3"}
	if got, _ := pipeline.UpstreamImage(e, child, "us-east-1"); got != "ami-near" {
		t.Errorf("nearest image %q, want ami-near", got)
	}
	if got, _ := pipeline.UpstreamImage(e, child, "us-west-2"); got != "ami-west" {
		t.Errorf("image through the nearer stage %q, want ami-west", got)
	}
}

func FuzzEvaluate(f *testing.F) {
	for _, s := range []string{
		"${ #stage('Find Image from Tags')['context']['amiDetails'][0]['imageId'] }",
		"${trigger['buildInfo']['number']}", "a ${parameters['region']} b ${execution['name']}",
		"${ #stage('x'", "${", "${}", "}${", "${'''}", "${trigger[99999999999999999999]}",
	} {
		f.Add(s)
	}
	e, s := exprExecution()
	f.Fuzz(func(t *testing.T, in string) {
		v, err := pipeline.Evaluate(e, s, in)
		if err != nil {
			if !pipeline.IsUserError(err) || !strings.Contains(err.Error(), "expression ") {
				t.Fatalf("Evaluate(%q): error %v does not name the expression", in, err)
			}
			return
		}
		if !strings.Contains(in, "${") && v != in {
			t.Fatalf("Evaluate(%q) changed a string without an expression: %v", in, v)
		}
	})
}
