package http

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/bakehouse/bakehouse"
	"github.com/bakehouse/bakehouse/pipeline"
	"github.com/bakehouse/bakehouse/ui"
)

// The pipeline form: the pipeline's name, its Jenkins trigger and its
// stages, each with Deck's "Stage Name" and "Depends On"
// (requisiteStageRefIds). Bake and Find Image from Tags stages have their
// own fields in Deck's order and words; a stage of another type keeps its
// fields and is edited under "View as JSON". Adding or removing a stage
// posts the form and renders it again, unsaved, so the page works without
// script and the server holds the only copy of the rules.

// Stage types the form edits, with Deck's labels.
const (
	stageBake         = "bake"
	stageFindFromTags = "findImageFromTags"
	labelBake         = "Bake"
	labelFindFromTags = "Find Image from Tags"
	defaultVMType     = "hvm"
	defaultBaseLabel  = "release"
	maxFormStages     = 50
)

// stageLabels are Deck's labels of the stage types the form edits.
var stageLabels = map[string]string{stageBake: labelBake, stageFindFromTags: labelFindFromTags}

// baseOSOption is one Base OS choice of the Bake stage form.
type baseOSOption struct{ ID, Description string }

// keyValue is one row of a key/value table (Extended Attributes, Tags).
type keyValue struct{ Key, Value string }

// stageRef is a stage another stage may depend on.
type stageRef struct{ RefID, Name string }

// stageForm is one stage of the form. Index is its place in the posted
// form (its fields are named s<Index>.<field>), not its refId.
type stageForm struct {
	Index                                           int
	RefID, Type, Name                               string
	DependsOn                                       []string
	Provider, Package, BaseOS, VMType, BaseLabel    string
	TemplateFileName, VarFileName, BaseAMI, AMIName string
	AMISuffix                                       string
	Regions, AllRegions                             []string
	SkipRegionDetection, Rebake, Advanced           bool
	BaseOSes                                        []baseOSOption
	Pairs                                           []keyValue // Extended Attributes or Tags
	Others                                          []stageRef // the stages it may depend on
	Errors                                          map[string]string
}

// Label is the stage type as Deck names it.
func (s *stageForm) Label() string {
	if l := stageLabels[s.Type]; l != "" {
		return l
	}
	return s.Type
}

// P is the posted name of the stage's field.
func (s *stageForm) P(name string) string { return fmt.Sprintf("s%d.%s", s.Index, name) }

// F is a text field of the stage for the "field" template.
func (s *stageForm) F(name, label, value, help string) ui.Field {
	return ui.Field{Name: s.P(name), ID: fmt.Sprintf("s%d-%s", s.Index, name), Check: name, Label: label, Value: value, Help: help, Error: s.Errors[name]}
}

// Edits reports whether the form has fields for the stage's type.
func (s *stageForm) Edits() bool { return stageLabels[s.Type] != "" }

// pipelineForm is the whole form.
type pipelineForm struct {
	New                                      bool
	ID, App, Name, Master, Job, PropertyFile string
	JSON                                     string
	Stages                                   []*stageForm
	Providers, Masters, Jobs                 []string
	Errors                                   map[string]string
	cfg                                      *pipeline.Config
}

// StageErrors reports whether a stage has a field error, for the
// summary at the top of a refused form.
func (f *pipelineForm) StageErrors() bool {
	for _, s := range f.Stages {
		if len(s.Errors) > 0 {
			return true
		}
	}
	return false
}

// awsRegions are the regions the form offers for aws stages, besides any
// the stage already names.
var awsRegions = []string{"us-east-1", "us-east-2", "us-west-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-1", "ap-northeast-1"}

// fillOptions adds what the form offers: Jenkins masters and jobs, the
// providers, each stage's regions and base OSes, the stages each may
// depend on, and the pipeline as JSON.
func (s *Server) fillOptions(ctx context.Context, f *pipelineForm) {
	cfg := s.bakery.Config()
	if s.jenkinsUI != nil {
		f.Masters = s.jenkinsUI.Masters()
		master := f.Master
		if master == "" && len(f.Masters) > 0 {
			master = f.Masters[0]
		}
		f.Jobs = s.jenkinsJobs(ctx, master)
	}
	f.Providers = nil
	for _, p := range []string{"docker", "aws"} {
		if _, ok := optionsFor(cfg, p); ok {
			f.Providers = append(f.Providers, p)
		}
	}
	for _, st := range f.Stages {
		if st.Errors == nil {
			st.Errors = map[string]string{}
		}
		st.Others = nil
		for _, o := range f.Stages {
			if o != st {
				st.Others = append(st.Others, stageRef{RefID: o.RefID, Name: o.Name})
			}
		}
		if !st.Edits() {
			continue
		}
		if st.Provider == "" && len(f.Providers) > 0 {
			st.Provider = f.Providers[0]
		}
		st.BaseOSes = nil
		if o, ok := optionsFor(cfg, st.Provider); ok && st.Type == stageBake {
			for _, b := range o.BaseImages {
				st.BaseOSes = append(st.BaseOSes, baseOSOption{ID: b.ID, Description: b.ShortDescription})
			}
		}
		all := []string{"global"}
		if st.Provider == "aws" {
			all = append([]string{}, awsRegions...)
		}
		for _, r := range st.Regions {
			if !contains(all, r) {
				all = append(all, r)
			}
		}
		st.AllRegions = all
		st.Advanced = st.Advanced || st.TemplateFileName != "" || st.VarFileName != "" || st.BaseAMI != "" || st.AMIName != "" ||
			st.AMISuffix != "" || st.Type == stageBake && len(st.Pairs) > 0
	}
	if f.cfg != nil {
		b, _ := json.MarshalIndent(f.cfg, "", "  ")
		f.JSON = string(b)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// newStage is a stage of typ as the form adds it: refId one past the
// highest, depending on the last stage (as Deck adds a stage after the
// selected one), named by its type (numbered when the name is taken).
func (f *pipelineForm) newStage(typ string) *stageForm {
	max := 0
	names := map[string]bool{}
	for _, st := range f.Stages {
		if n, err := strconv.Atoi(st.RefID); err == nil && n > max {
			max = n
		}
		names[st.Name] = true
	}
	st := &stageForm{Type: typ, RefID: strconv.Itoa(max + 1), Name: stageLabels[typ], Errors: map[string]string{}}
	for n := 2; names[st.Name]; n++ {
		st.Name = fmt.Sprintf("%s %d", stageLabels[typ], n)
	}
	if len(f.Stages) > 0 {
		st.DependsOn = []string{f.Stages[len(f.Stages)-1].RefID}
	}
	if typ == stageBake {
		st.VMType, st.BaseLabel = defaultVMType, defaultBaseLabel
	}
	return st
}

// stageOf fills a stage form from a stored stage.
func stageOf(m map[string]any) *stageForm {
	st := &stageForm{Type: stringOf(m["type"]), RefID: refOf(m["refId"]), Name: stringOf(m["name"]), Errors: map[string]string{}}
	if reqs, ok := m["requisiteStageRefIds"].([]any); ok {
		for _, r := range reqs {
			st.DependsOn = append(st.DependsOn, refOf(r))
		}
	}
	switch st.Type {
	case stageBake:
		st.Provider, st.Package, st.BaseOS = stringOf(m["cloudProviderType"]), stringOf(m["package"]), stringOf(m["baseOs"])
		st.VMType, st.BaseLabel = stringOf(m["vmType"]), stringOf(m["baseLabel"])
		st.TemplateFileName, st.VarFileName, st.BaseAMI = stringOf(m["templateFileName"]), stringOf(m["varFileName"]), stringOf(m["baseAmi"])
		st.AMIName, st.AMISuffix = stringOf(m["amiName"]), stringOf(m["amiSuffix"])
		st.SkipRegionDetection, st.Rebake = m["skipRegionDetection"] == true, m["rebake"] == true
		st.Pairs = pairsOf(m["extendedAttributes"])
	case stageFindFromTags:
		st.Provider, st.Package = stringOf(m["cloudProvider"]), stringOf(m["packageName"])
		if st.Provider == "" {
			st.Provider = stringOf(m["cloudProviderType"])
		}
		st.Pairs = pairsOf(m["tags"])
	}
	if r := stringOf(m["region"]); r != "" {
		st.Regions = append(st.Regions, r)
	}
	if rs, ok := m["regions"].([]any); ok {
		for _, r := range rs {
			if !contains(st.Regions, stringOf(r)) {
				st.Regions = append(st.Regions, stringOf(r))
			}
		}
	}
	return st
}

func refOf(v any) string {
	if f, ok := v.(float64); ok {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	return stringOf(v)
}

func pairsOf(v any) []keyValue {
	var out []keyValue
	if m, ok := v.(map[string]any); ok {
		for k, v := range m {
			out = append(out, keyValue{k, stringOf(v)})
		}
		sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	}
	return out
}

// formOf fills the form from a stored config. A config that predates
// refIds gets them as Orca gives them: 1, 2, ..., each stage after the
// one before.
func formOf(cfg *pipeline.Config) *pipelineForm {
	f := &pipelineForm{ID: cfg.ID(), App: cfg.Application(), Name: cfg.Name(), cfg: cfg, Errors: map[string]string{}}
	for _, t := range cfg.Triggers() {
		if t["type"] == "jenkins" {
			f.Master, f.Job, f.PropertyFile = stringOf(t["master"]), stringOf(t["job"]), stringOf(t["propertyFile"])
			break
		}
	}
	legacy := true
	for _, m := range cfg.Stages() {
		if _, ok := m["refId"]; ok {
			legacy = false
		}
	}
	for i, m := range cfg.Stages() {
		st := stageOf(m)
		st.Index = i
		if legacy {
			st.RefID, st.DependsOn = strconv.Itoa(i+1), nil
			if i > 0 {
				st.DependsOn = []string{strconv.Itoa(i)}
			}
		}
		f.Stages = append(f.Stages, st)
	}
	return f
}

// formFrom reads the posted form: the pipeline's fields, then each stage
// listed in "stage" (the indexes of its s<i>.* fields, in order).
func formFrom(r *http.Request) *pipelineForm {
	v := r.PostForm
	f := &pipelineForm{ID: v.Get("id"), App: strings.TrimSpace(v.Get("application")), Name: strings.TrimSpace(v.Get("name")),
		Master: strings.TrimSpace(v.Get("master")), Job: strings.TrimSpace(v.Get("job")), PropertyFile: strings.TrimSpace(v.Get("propertyFile")),
		Errors: map[string]string{}}
	for n, idx := range v["stage"] {
		if n == maxFormStages {
			break
		}
		i, err := strconv.Atoi(idx)
		if err != nil || i < 0 {
			continue
		}
		p := func(name string) string { return fmt.Sprintf("s%d.%s", i, name) }
		get := func(name string) string { return strings.TrimSpace(v.Get(p(name))) }
		st := &stageForm{Index: len(f.Stages), RefID: get("refId"), Type: get("type"), Name: get("name"),
			DependsOn: v[p("requisiteStageRefIds")], Provider: get("cloudProviderType"), Package: get("package"),
			BaseOS: get("baseOs"), VMType: get("vmType"), BaseLabel: get("baseLabel"), TemplateFileName: get("templateFileName"),
			VarFileName: get("varFileName"), BaseAMI: get("baseAmi"), AMIName: get("amiName"), AMISuffix: get("amiSuffix"),
			Regions: v[p("regions")], SkipRegionDetection: get("skipRegionDetection") == "true", Rebake: get("rebake") == "true",
			Errors: map[string]string{}}
		if st.Type == stageFindFromTags {
			st.Package = get("packageName")
		}
		keys, vals := v[p("key")], v[p("value")]
		for j, k := range keys {
			if k = strings.TrimSpace(k); (k != "" || j < len(vals) && vals[j] != "") && j < len(vals) {
				st.Pairs = append(st.Pairs, keyValue{k, vals[j]})
			}
		}
		f.Stages = append(f.Stages, st)
	}
	return f
}

// apply writes the form onto cfg (a stored config or a new one): the
// stages in the form's order, each built on the stored stage with its
// refId, so every field the form does not show is kept.
func (f *pipelineForm) apply(cfg *pipeline.Config) {
	m := cfg.Fields
	m["application"], m["name"] = f.App, f.Name
	var triggers []any
	found := false
	for _, t := range cfg.Triggers() {
		if t["type"] == "jenkins" && !found {
			found = true
			if f.Job == "" {
				continue
			}
			t["master"], t["job"] = f.Master, f.Job
			setOrDelete(t, "propertyFile", f.PropertyFile)
		}
		triggers = append(triggers, t)
	}
	if !found && f.Job != "" {
		t := map[string]any{"type": "jenkins", "enabled": true, "master": f.Master, "job": f.Job}
		setOrDelete(t, "propertyFile", f.PropertyFile)
		triggers = append(triggers, t)
	}
	if triggers == nil {
		triggers = []any{}
	}
	m["triggers"] = triggers
	stored := map[string]map[string]any{}
	for _, st := range cfg.Stages() {
		stored[refOf(st["refId"])] = st
	}
	stages := []any{}
	for _, sf := range f.Stages {
		st := stored[sf.RefID]
		if st == nil || stringOf(st["type"]) != sf.Type {
			st = map[string]any{"type": sf.Type}
		}
		st["refId"], st["name"] = sf.RefID, sf.Name
		reqs := []any{}
		for _, r := range sf.DependsOn {
			reqs = append(reqs, r)
		}
		st["requisiteStageRefIds"] = reqs
		sf.applyTo(st)
		stages = append(stages, st)
	}
	m["stages"] = stages
}

// applyTo writes a Bake or Find Image from Tags stage's fields onto st.
func (sf *stageForm) applyTo(st map[string]any) {
	regions := []any{}
	for _, r := range sf.Regions {
		regions = append(regions, r)
	}
	pairs := map[string]any{}
	for _, kv := range sf.Pairs {
		pairs[kv.Key] = kv.Value
	}
	switch sf.Type {
	case stageBake:
		st["cloudProviderType"], st["package"], st["baseOs"] = sf.Provider, sf.Package, sf.BaseOS
		delete(st, "region")
		st["regions"] = regions
		if contains(sf.Regions, "global") && len(sf.Regions) == 1 {
			st["region"] = "global"
		}
		for k, v := range map[string]string{"vmType": sf.VMType, "baseLabel": sf.BaseLabel, "templateFileName": sf.TemplateFileName,
			"varFileName": sf.VarFileName, "baseAmi": sf.BaseAMI, "amiName": sf.AMIName, "amiSuffix": sf.AMISuffix} {
			setOrDelete(st, k, v)
		}
		for k, v := range map[string]bool{"skipRegionDetection": sf.SkipRegionDetection, "rebake": sf.Rebake} {
			if v {
				st[k] = true
			} else {
				delete(st, k)
			}
		}
		st["extendedAttributes"] = pairs
	case stageFindFromTags:
		st["cloudProvider"], st["cloudProviderType"], st["packageName"] = sf.Provider, sf.Provider, sf.Package
		st["regions"], st["tags"] = regions, pairs
	}
}

func setOrDelete(m map[string]any, k, v string) {
	if v == "" {
		delete(m, k)
	} else {
		m[k] = v
	}
}

// stageFieldError maps a save error's field (stages[i].x, as
// pipeline.NewExecution names it) onto the stage's field in the form.
func (f *pipelineForm) stageFieldError(err error) bool {
	var e *bakehouse.Error
	if !errors.As(err, &e) || !strings.HasPrefix(e.Field, "stages[") {
		return false
	}
	var i int
	var rest string
	if _, scanErr := fmt.Sscanf(e.Field, "stages[%d]%s", &i, &rest); scanErr != nil || i < 0 || i >= len(f.Stages) {
		return false
	}
	field := strings.TrimPrefix(rest, ".")
	if field == "refId" {
		field = "name"
	}
	f.Stages[i].Errors[field] = e.Message
	return true
}
