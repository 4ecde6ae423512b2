package packer

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/bakehouse/bakehouse"
)

// outputCase is a case of testdata/conformance/packer-output.json.
type outputCase struct {
	ID       string `json:"id"`
	Kind     string `json:"kind"`
	Provider string `json:"provider"`
	Region   string `json:"region"`
	BakeID   string `json:"bake_id"`
	Log      string `json:"log"`
	RoscoGap bool   `json:"rosco_gap"`
	Input    struct {
		Command  []string `json:"command"`
		ExitCode int      `json:"exit_code"`
		Stdout   string   `json:"stdout"`
		Stderr   string   `json:"stderr"`
	} `json:"input"`
	Expected struct {
		// scrape
		ID        string       `json:"id"`
		AMI       *string      `json:"ami"`
		ImageName *string      `json:"image_name"`
		Artifacts *[]artifactJ `json:"artifacts"`
		// job_status
		State         string  `json:"state"`
		Result        *string `json:"result"`
		LogsContent   *string `json:"logsContent"`
		OutputContent *string `json:"outputContent"`
		Scraped       *bool   `json:"scraped"`
	} `json:"expected"`
}

type artifactJ struct {
	Type      string `json:"type"`
	Location  string `json:"location"`
	Reference string `json:"reference"`
}

// gapImageNames is what Bakehouse reports where Rosco misses the image
// name (cases flagged rosco_gap; README "Where Bakehouse deliberately
// differs from Rosco"). Rosco's expected value there is null.
var gapImageNames = map[string]string{
	"aws-packer-1-4-plus-creating-ami-line": "armory-hello-deploy-all-20170329204459-trusty",
}

func loadCases[T any](t testing.TB, name string) []T {
	t.Helper()
	b, err := os.ReadFile("testdata/conformance/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Cases []T `json:"cases"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	return f.Cases
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func TestConformancePackerOutput(t *testing.T) {
	cases := loadCases[outputCase](t, "packer-output.json")
	passed := 0
	for _, c := range cases {
		ok := t.Run(c.ID, func(t *testing.T) {
			switch c.Kind {
			case "scrape":
				checkScrape(t, c)
			case "job_status":
				checkJobStatus(t, c)
			default:
				t.Fatalf("unknown kind %q", c.Kind)
			}
		})
		if ok {
			passed++
		}
	}
	t.Logf("conformance packer-output.json: passed %d/%d", passed, len(cases))
}

func checkScrape(t *testing.T, c outputCase) {
	var got bakehouse.Bake
	switch c.Provider {
	case "aws":
		got = ScrapeAWS(c.Region, c.BakeID, c.Log)
	case "docker":
		got = ScrapeDocker(c.BakeID, c.Log)
	default:
		t.Fatalf("unknown provider %q", c.Provider)
	}
	e := c.Expected
	wantName := str(e.ImageName)
	if c.RoscoGap {
		name, ok := gapImageNames[c.ID]
		if !ok {
			t.Fatalf("rosco_gap case without a Bakehouse expectation")
		}
		if e.ImageName != nil {
			t.Fatalf("rosco_gap case where Rosco has the name %q", *e.ImageName)
		}
		wantName = name
		t.Logf("rosco_gap: Bakehouse reports image_name %q where Rosco reports null", name)
	}
	if got.ID != e.ID || got.AMI != str(e.AMI) || got.ImageName != wantName {
		t.Errorf("got {id %q, ami %q, image_name %q}, want {%q, %q, %q}", got.ID, got.AMI, got.ImageName, e.ID, str(e.AMI), wantName)
	}
	if e.Artifacts != nil {
		var gotA []artifactJ
		for _, a := range got.Artifacts {
			gotA = append(gotA, artifactJ{a.Type, a.Location, a.Reference})
		}
		if !slices.Equal(gotA, *e.Artifacts) {
			t.Errorf("artifacts = %+v, want %+v", gotA, *e.Artifacts)
		}
	}
}

// checkJobStatus runs the case's job through Run, with /bin/sh standing
// in for Packer: it prints the case's stdout and stderr and exits with its
// code. Run's exit code and combined output are what the bakery decides
// on: exit 0 is scraped and ends COMPLETED/SUCCESS when an image is found,
// any other exit ends CANCELED/FAILURE (bakery.RunBake; the HTTP
// conformance case of a failing Packer checks that end to end).
func checkJobStatus(t *testing.T, c outputCase) {
	p, err := New("/bin/sh")
	if err != nil {
		t.Fatal(err)
	}
	script := fmt.Sprintf("printf %%s %s; printf %%s %s >&2; exit %d",
		shellQuote(c.Input.Stdout), shellQuote(c.Input.Stderr), c.Input.ExitCode)
	var lines []string
	res, err := p.Run(context.Background(), []string{"packer", "-c", script}, RunOptions{Stdout: func(l string) { lines = append(lines, l) }})
	if res.ExitCode != c.Input.ExitCode {
		t.Fatalf("exit code = %d (%v), want %d", res.ExitCode, err, c.Input.ExitCode)
	}
	if (err == nil) != (c.Input.ExitCode == 0) {
		t.Errorf("Run error = %v for exit %d", err, c.Input.ExitCode)
	}
	e := c.Expected
	// Bakehouse always combines stdout and stderr in one stream.
	if want := c.Input.Stdout + c.Input.Stderr; res.Output != want {
		t.Errorf("output = %q, want %q", res.Output, want)
	}
	if e.OutputContent != nil && res.Output != *e.OutputContent {
		t.Errorf("output = %q, want %q", res.Output, *e.OutputContent)
	}
	completed := res.ExitCode == 0
	if wantCompleted := e.State == string(bakehouse.StateCompleted) && str(e.Result) == string(bakehouse.ResultSuccess); completed != wantCompleted {
		t.Errorf("exit %d goes on to scraping = %v, want state/result %s/%s", res.ExitCode, completed, e.State, str(e.Result))
	}
	if e.Scraped != nil && completed != *e.Scraped {
		t.Errorf("would scrape = %v, want %v", completed, *e.Scraped)
	}
	switch logs := strings.Join(lines, "\n"); {
	case e.LogsContent == nil:
	case res.Output == "" && logs == "":
		// Rosco shows a placeholder for a job that printed nothing; a
		// Bakehouse bake log is never empty (it holds the Running: line
		// and the outcome), so there is nothing to replace.
		t.Logf("empty output: Bakehouse's bake log has its own lines where Rosco shows %q", *e.LogsContent)
	case logs != *e.LogsContent:
		t.Errorf("logged lines = %q, want %q", logs, *e.LogsContent)
	}
}

// shellQuote quotes s for /bin/sh.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// commandCase is a case of packer-commands.json; only its masking concerns
// this package (argv building belongs to the root package).
type commandCase struct {
	ID     string                     `json:"id"`
	Kind   string                     `json:"kind"`
	Config map[string]json.RawMessage `json:"config"`
	Input  struct {
		MaskedParameters []string `json:"masked_parameters"`
	} `json:"input"`
	Expected struct {
		Argv       []string `json:"argv"`
		MaskedArgv []string `json:"masked_argv"`
	} `json:"expected"`
}

func TestConformancePackerCommandsMasking(t *testing.T) {
	b, err := os.ReadFile("testdata/conformance/packer-commands.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Configs map[string]struct {
			AWS struct {
				Masked []string `json:"maskedPackerParameters"`
			} `json:"aws.bakeryDefaults"`
		} `json:"configs"`
		Cases []commandCase `json:"cases"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	passed, total := 0, 0
	for _, c := range f.Cases {
		if c.Expected.MaskedArgv == nil {
			continue
		}
		total++
		masked := c.Input.MaskedParameters
		if c.Kind == "recipe" {
			var base string
			if err := json.Unmarshal(c.Config["base"], &base); err != nil {
				t.Fatalf("%s: config base: %v", c.ID, err)
			}
			masked = f.Configs[base].AWS.Masked
			if raw, ok := c.Config["aws.bakeryDefaults.maskedPackerParameters"]; ok {
				masked = nil
				if err := json.Unmarshal(raw, &masked); err != nil {
					t.Fatal(err)
				}
			}
		}
		ok := t.Run(c.ID, func(t *testing.T) {
			got := bakehouse.MaskArgv(c.Expected.Argv, masked)
			if !slices.Equal(got, c.Expected.MaskedArgv) {
				t.Errorf("MaskArgv =\n %q\nwant\n %q", got, c.Expected.MaskedArgv)
			}
		})
		if ok {
			passed++
		}
	}
	t.Logf("conformance packer-commands.json (masked_argv cases): passed %d/%d of %d cases; argv building is the root package's", passed, total, len(f.Cases))
}
