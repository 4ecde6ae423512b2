package http

import (
	"regexp"
	"strconv"
	"strings"
)

// The pipeline form's rules: each field's check, which runs as the user
// types and again when the form is posted, and the checks across a
// stage (regions, key/value tables, dependencies).

var (
	namePattern   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9 ._-]*$`)
	suffixPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)
	imagePattern  = regexp.MustCompile(`^[A-Za-z0-9()\[\]./'@_-]{3,128}$`)
	pkgPattern    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9.+~:_-]*$`)
)

// isExpression reports whether v is a Spinnaker expression, which the
// run evaluates, so the form does not judge it.
func isExpression(v string) bool { return strings.Contains(v, "${") }

// checkField is the form's rule for one field: "" when value is fine,
// else what is wrong and how to fix it. The same rules run as the user
// types (GET /ui/pipelines/check/{field}) and when the form is saved.
func checkField(name, value string) string {
	switch name {
	case "application":
		if value == "" {
			return "The application is required, e.g. armory."
		}
		if !namePattern.MatchString(value) || strings.ContainsAny(value, " ") {
			return "The application may only contain letters, digits, '.', '_' and '-'."
		}
	case "name":
		if value == "" {
			return "The pipeline name is required."
		}
		if !namePattern.MatchString(value) || strings.ContainsAny(value, "/") {
			return "The pipeline name may only contain letters, digits, spaces, '.', '_' and '-'."
		}
	case "package":
		if value == "" {
			return "The package is required: the package's base name, e.g. myapp."
		}
		for _, tok := range strings.Fields(value) {
			if !isExpression(tok) && !pkgPattern.MatchString(tok) {
				return "The package " + strconv.Quote(tok) + " is not a package name: give base names such as myapp, separated by spaces."
			}
		}
	case "packageName":
		if value == "" {
			return "Package is a required field for Find Image from Tags stages: the package whose image to find, e.g. myapp."
		}
		if !isExpression(value) && !pkgPattern.MatchString(value) {
			return "The package " + strconv.Quote(value) + " is not a package name: give one base name, such as myapp."
		}
	case "stageName":
		if value == "" {
			return "Stage Name is required: later stages and expressions such as #stage('Bake') find a stage by it."
		}
	case "amiSuffix":
		if value != "" && !isExpression(value) && !suffixPattern.MatchString(value) {
			return "The AMI suffix " + strconv.Quote(value) + " may only contain letters, digits, '.', '_' and '-' (at most 64), such as 20240131120000; leave it empty for the run's timestamp."
		}
	case "amiName":
		if value != "" && !isExpression(value) && !imagePattern.MatchString(value) {
			return "The AMI name must be 3 to 128 letters, digits or ( ) [ ] . / - ' @ _."
		}
	case "templateFileName", "varFileName":
		if value != "" && (strings.ContainsAny(value, `/\`) || strings.Contains(value, "..")) {
			return "Give a plain file name from the bakery's template directory, without '/' or '..'."
		}
	case "job":
		if strings.HasPrefix(value, "/") || strings.HasPrefix(value, "job/") {
			return "Give the job's path without a leading '/' or 'job/', e.g. team/job/app/job/master."
		}
	}
	return ""
}

// validate fills the form's and its stages' errors; it reports whether
// the form may be saved.
func (f *pipelineForm) validate() bool {
	for name, v := range map[string]string{"application": f.App, "name": f.Name, "job": f.Job} {
		if msg := checkField(name, v); msg != "" {
			f.Errors[name] = msg
		}
	}
	if (f.Master == "") != (f.Job == "") {
		f.Errors["master"] = "A Jenkins trigger needs both a controller and a job; leave both empty for manual runs only."
	}
	refs := map[string]bool{}
	for _, st := range f.Stages {
		refs[st.RefID] = true
	}
	ok := len(f.Errors) == 0
	for _, st := range f.Stages {
		st.validate(refs)
		ok = ok && len(st.Errors) == 0
	}
	return ok
}

func (st *stageForm) validate(refs map[string]bool) {
	set := func(field, msg string) {
		if msg != "" && st.Errors[field] == "" {
			st.Errors[field] = msg
		}
	}
	set("name", checkField("stageName", st.Name))
	for _, r := range st.DependsOn {
		if r == st.RefID {
			set("requisiteStageRefIds", "A stage cannot depend on itself.")
		} else if !refs[r] {
			set("requisiteStageRefIds", "The pipeline has no stage "+strconv.Quote(r)+" any more: untick it.")
		}
	}
	switch st.Type {
	case stageBake:
		for name, v := range map[string]string{"package": st.Package, "amiSuffix": st.AMISuffix, "amiName": st.AMIName,
			"templateFileName": st.TemplateFileName, "varFileName": st.VarFileName} {
			set(name, checkField(name, v))
		}
		if len(st.Regions) == 0 {
			set("regions", "Select at least one region (docker bakes use global).")
		}
		if st.BaseOS == "" {
			set("baseOs", "Choose a base OS.")
		}
		set("extendedAttributes", pairsError(st.Pairs, false))
	case stageFindFromTags:
		set("packageName", checkField("packageName", st.Package))
		if len(st.Regions) == 0 {
			set("regions", "Regions is a required field for Find Image from Tags stages: tick the regions to find the image in.")
		}
		set("tags", pairsError(st.Pairs, true))
	}
}

// pairsError checks a key/value table: no empty or duplicate key (Deck's
// "Duplicate key"), and for Tags at least one row, which Deck requires.
func pairsError(pairs []keyValue, tags bool) string {
	if tags && len(pairs) == 0 {
		return "Tags is a required field for Find Image from Tags stages: add a tag the image must carry, e.g. appversion or a tag your builds set."
	}
	seen := map[string]bool{}
	for _, kv := range pairs {
		if kv.Key == "" {
			return "A row has a value but no key: give it a key, or remove the row."
		}
		if seen[kv.Key] {
			return "Duplicate key " + strconv.Quote(kv.Key) + ": each key may appear once."
		}
		seen[kv.Key] = true
	}
	return ""
}
