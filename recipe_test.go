package bakehouse

import (
	"encoding/json"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
)

type packerCommandsFile struct {
	Configs map[string]map[string]any `json:"configs"`
	Cases   []packerCase              `json:"cases"`
}

type packerCase struct {
	ID       string          `json:"id"`
	Kind     string          `json:"kind"`
	Region   string          `json:"region"`
	Request  json.RawMessage `json:"request"`
	Config   map[string]any  `json:"config"`
	Clock    int64           `json:"clock_millis"`
	Input    tokenizeInput   `json:"input"`
	Expected struct {
		BaseCommand  *string     `json:"base_command"`
		TemplateFile *string     `json:"template_file"`
		VarFile      *string     `json:"var_file"`
		Vars         [][2]string `json:"vars"`
		Argv         []string    `json:"argv"`
		MaskedArgv   []string    `json:"masked_argv"`
		Message      string      `json:"message"`
		HTTPStatus   int         `json:"http_status"`
		Includes     map[string]string
		Excludes     []string
		SourceAMI    string `json:"aws_source_ami"`
	} `json:"expected"`

	// aws_parameter_map
	VirtualizationSettings AWSVirtualizationSettings `json:"virtualization_settings"`
	ImageName              string                    `json:"image_name"`
	AppVersion             string                    `json:"appversion"`
	// source_ami_lookup
	ConfiguredSourceAMI string       `json:"configured_source_ami"`
	SearchResults       []NamedImage `json:"image_search_results"`
}

type tokenizeInput struct {
	BaseCommand      string        `json:"base_command"`
	Parameters       [][2]string   `json:"parameters"`
	VarFile          *string       `json:"var_file"`
	TemplateFile     string        `json:"template_file"`
	MaskedParameters []string      `json:"masked_parameters"`
	Packer           *PackerConfig `json:"packer"`
}

func TestPackerCommandsConformance(t *testing.T) {
	var file packerCommandsFile
	loadConformance(t, "packer-commands.json", &file)
	c := newConformance("packer-commands.json")
	for _, tc := range file.Cases {
		c.run(t, tc.ID, func(t *testing.T) {
			switch tc.Kind {
			case "recipe":
				testRecipeCase(t, file, tc)
			case "recipe_error":
				testRecipeErrorCase(t, file, tc)
			case "tokenize":
				testTokenizeCase(t, tc)
			case "aws_parameter_map":
				testAWSParameterMapCase(t, tc)
			case "source_ami_lookup":
				testSourceAMILookupCase(t, file, tc)
			default:
				t.Fatalf("unknown conformance case kind %q: add a test for it", tc.Kind)
			}
		})
	}
	c.report(t)
}

func testRecipeCase(t *testing.T, file packerCommandsFile, tc packerCase) {
	cfg := conformanceConfig(t, file.Configs, tc.Config)
	req := decodeRequest(t, tc.Request)
	r, err := buildRecipe(tc.Region, req, cfg, clock(tc.Clock), nil)
	if err != nil {
		t.Fatalf("buildRecipe: %v", err)
	}
	e := tc.Expected
	if r.BaseCommand != str(e.BaseCommand) || r.TemplateFile != str(e.TemplateFile) || r.VarFile != str(e.VarFile) {
		t.Errorf("base command, template, var file = %q, %q, %q; want %q, %q, %q",
			r.BaseCommand, r.TemplateFile, r.VarFile, str(e.BaseCommand), str(e.TemplateFile), str(e.VarFile))
	}
	want := make([]Var, len(e.Vars))
	for i, kv := range e.Vars {
		want[i] = Var{Key: kv[0], Value: kv[1]}
	}
	compareVars(t, r.Vars, want)
	if e.Argv != nil {
		compareArgv(t, "Argv", r.Argv(cfg.Packer), e.Argv)
	}
	if e.MaskedArgv != nil {
		compareArgv(t, "MaskedArgv", MaskArgv(r.Argv(cfg.Packer), r.MaskedParameters), e.MaskedArgv)
	}
	// The recipe's own fields agree with its variables.
	vars := map[string]string{}
	for _, v := range r.Vars {
		vars[v.Key] = v.Value
	}
	if r.AppVersion != "" && vars["appversion"] != r.AppVersion {
		t.Errorf("AppVersion = %q, appversion var = %q", r.AppVersion, vars["appversion"])
	}
	if ami, aws := vars["aws_target_ami"]; aws && r.ImageName != ami {
		t.Errorf("ImageName = %q, aws_target_ami = %q", r.ImageName, vars["aws_target_ami"])
	}
}

// unrolledKey matches copy_to_N / share_with_N, whose order the README
// leaves open (Java HashMap order).
var unrolledKey = regexp.MustCompile(`^(copy_to|share_with)_[0-9]+$`)

// compareVars compares exactly, except that unrolled variables are
// compared as a multiset (and reported if only their order differs).
func compareVars(t *testing.T, got, want []Var) {
	t.Helper()
	if reflect.DeepEqual(got, want) {
		return
	}
	split := func(vs []Var) (fixed, unrolled []Var) {
		for _, v := range vs {
			if unrolledKey.MatchString(v.Key) {
				unrolled = append(unrolled, v)
			} else {
				fixed = append(fixed, v)
			}
		}
		sortVars := func(a, b Var) int {
			if a.Key != b.Key {
				return strings.Compare(a.Key, b.Key)
			}
			return strings.Compare(a.Value, b.Value)
		}
		slices.SortFunc(unrolled, sortVars)
		return fixed, unrolled
	}
	gf, gu := split(got)
	wf, wu := split(want)
	if !reflect.DeepEqual(gf, wf) || !reflect.DeepEqual(gu, wu) {
		t.Errorf("vars\n got %v\nwant %v", got, want)
		return
	}
	t.Logf("unrolled -var order differs from Rosco's (allowed): got %v", got)
}

// compareArgv compares argv exactly, except that the "-var copy_to_N=..."
// pairs are compared as a multiset.
func compareArgv(t *testing.T, name string, got, want []string) {
	t.Helper()
	if slices.Equal(got, want) {
		return
	}
	split := func(argv []string) (fixed, unrolled []string) {
		for i := 0; i < len(argv); i++ {
			if argv[i] == "-var" && i+1 < len(argv) && unrolledKey.MatchString(keyOf(argv[i+1])) {
				unrolled = append(unrolled, argv[i+1])
				i++
				continue
			}
			fixed = append(fixed, argv[i])
		}
		slices.Sort(unrolled)
		return fixed, unrolled
	}
	gf, gu := split(got)
	wf, wu := split(want)
	if !slices.Equal(gf, wf) || !slices.Equal(gu, wu) {
		t.Errorf("%s\n got %q\nwant %q", name, got, want)
	}
}

func keyOf(tok string) string {
	k, _, _ := strings.Cut(tok, "=")
	return k
}

func testRecipeErrorCase(t *testing.T, file packerCommandsFile, tc packerCase) {
	cfg := conformanceConfig(t, file.Configs, tc.Config)
	req := decodeRequest(t, tc.Request)
	_, err := buildRecipe(tc.Region, req, cfg, clock(tc.Clock), nil)
	var e *Error
	if !asError(err, &e) {
		t.Fatalf("err = %v, want *Error", err)
	}
	if tc.Expected.HTTPStatus == 400 && e.Code != EINVALID {
		t.Errorf("Code = %q, want %q (HTTP 400)", e.Code, EINVALID)
	}
	// Rosco's sentence first; Bakehouse adds which base OSes to use.
	if !strings.HasPrefix(e.Message, tc.Expected.Message+" ") {
		t.Errorf("Message = %q, want %q first", e.Message, tc.Expected.Message)
	}
	if e.Field != "base_os" {
		t.Errorf("Field = %q, want base_os", e.Field)
	}
}

func testTokenizeCase(t *testing.T, tc packerCase) {
	in := tc.Input
	r := Recipe{BaseCommand: in.BaseCommand, VarFile: str(in.VarFile), TemplateFile: in.TemplateFile, MaskedParameters: in.MaskedParameters}
	for _, kv := range in.Parameters {
		r.Vars = append(r.Vars, Var{Key: kv[0], Value: kv[1]})
	}
	var pc PackerConfig
	if in.Packer != nil {
		pc = *in.Packer
	}
	if got := r.Argv(pc); !slices.Equal(got, tc.Expected.Argv) {
		t.Errorf("Argv\n got %q\nwant %q", got, tc.Expected.Argv)
	}
	if tc.Expected.MaskedArgv != nil {
		if got := MaskArgv(r.Argv(pc), r.MaskedParameters); !slices.Equal(got, tc.Expected.MaskedArgv) {
			t.Errorf("MaskedArgv\n got %q\nwant %q", got, tc.Expected.MaskedArgv)
		}
	}
}

func testAWSParameterMapCase(t *testing.T, tc packerCase) {
	req := decodeRequest(t, tc.Request)
	p := awsParameters(tc.Region, tc.VirtualizationSettings, tc.ImageName, req, tc.AppVersion, AWSBakeryDefaults{})
	got := map[string]string{}
	for _, v := range p.commandLine() {
		got[v.Key] = v.Value
	}
	for k, want := range tc.Expected.Includes {
		if got[k] != want {
			t.Errorf("%s = %q, want %q", k, got[k], want)
		}
	}
	for _, k := range tc.Expected.Excludes {
		for _, v := range p.vars {
			if v.Key == k {
				t.Errorf("parameter %s present (%q), want absent", k, v.Value)
			}
		}
	}
}

func testSourceAMILookupCase(t *testing.T, file packerCommandsFile, tc packerCase) {
	cfg := conformanceConfig(t, file.Configs, tc.Config)
	req := decodeRequest(t, tc.Request)
	var asked []string
	find := func(name, region, account string) ([]NamedImage, error) {
		asked = append(asked, name+"@"+region)
		return tc.SearchResults, nil
	}
	r, err := buildRecipe(tc.Region, req, cfg, clock(tc.Clock), find)
	if err != nil {
		t.Fatalf("buildRecipe: %v", err)
	}
	if want := []string{tc.ConfiguredSourceAMI + "@" + tc.Region}; !slices.Equal(asked, want) {
		t.Errorf("finder asked %q, want %q", asked, want)
	}
	var got string
	for _, v := range r.Vars {
		if v.Key == "aws_source_ami" {
			got = v.Value
		}
	}
	if got != tc.Expected.SourceAMI {
		t.Errorf("aws_source_ami = %q, want %q", got, tc.Expected.SourceAMI)
	}
}
