package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	bhttp "github.com/bakehouse/bakehouse/http"
	"github.com/bakehouse/bakehouse/pipeline"
	"github.com/spf13/cobra"
)

// pipelineCmd is `bakehouse pipeline`: the verbs of spin's pipeline
// commands, over the same Gate paths, plus a run that follows its
// execution live.
func pipelineCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "pipeline", Short: "Save, run and watch pipelines (Spinnaker's pipeline JSON, over Gate's API)"}
	cmd.AddCommand(pipelineSaveCmd(e), pipelineListCmd(e), pipelineGetCmd(e), pipelineDeleteCmd(e), pipelineRunCmd(e), executionCmd(e))
	return cmd
}

func pipelineSaveCmd(e *env) *cobra.Command {
	var f clientFlags
	var file string
	cmd := &cobra.Command{
		Use:   "save -f FILE",
		Short: "Save a pipeline config (a new one, or the one with its id or application and name)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if file == "" {
				return errors.New("--file is required: the pipeline's JSON, or - for standard input")
			}
			var b []byte
			var err error
			if file == "-" {
				b, err = io.ReadAll(e.stdin)
			} else {
				b, err = os.ReadFile(file)
			}
			if err != nil {
				return fmt.Errorf("read %s: %w", file, err)
			}
			cfg, err := pipeline.ParseConfig(b)
			if err != nil {
				return fmt.Errorf("%s: %w", file, err)
			}
			saved, err := f.client().SavePipeline(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			if f.json() {
				return printJSON(e, saved)
			}
			fmt.Fprintf(e.stdout, "saved pipeline %q of %s (id %s)\n", saved.Name(), saved.Application(), saved.ID())
			return nil
		},
	}
	f.add(cmd, e)
	cmd.Flags().StringVarP(&file, "file", "f", "", "pipeline config JSON file (- for standard input)")
	return cmd
}

func pipelineListCmd(e *env) *cobra.Command {
	var f clientFlags
	var app string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List pipeline configs (of one application, or of all)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, c := cmd.Context(), f.client()
			apps := []string{app}
			if app == "" {
				var err error
				if apps, err = c.Applications(ctx); err != nil {
					return err
				}
			}
			all := []*pipeline.Config{}
			for _, a := range apps {
				cfgs, err := c.Pipelines(ctx, a)
				if err != nil {
					return err
				}
				all = append(all, cfgs...)
			}
			if f.json() {
				return printJSON(e, all)
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "APPLICATION\tNAME\tID\tSTAGES\tTRIGGERS")
			for _, p := range all {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", p.Application(), p.Name(), p.ID(), len(p.Stages()), orNone(triggerTypes(p)))
			}
			return tw.Flush()
		},
	}
	f.add(cmd, e)
	cmd.Flags().StringVar(&app, "application", "", "only this application's pipelines")
	return cmd
}

// triggerTypes lists a config's triggers by type, disabled ones marked.
func triggerTypes(p *pipeline.Config) string {
	var ts []string
	for _, t := range p.Triggers() {
		s := fmt.Sprint(t["type"])
		if on, ok := t["enabled"].(bool); ok && !on {
			s += " (disabled)"
		}
		ts = append(ts, s)
	}
	return strings.Join(ts, ", ")
}

func pipelineGetCmd(e *env) *cobra.Command {
	var f clientFlags
	var app string
	cmd := &cobra.Command{
		Use:   "get --application APP NAME",
		Short: "Show a pipeline config",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := f.client().Pipeline(cmd.Context(), app, args[0])
			if err != nil {
				return err
			}
			if f.json() {
				return printJSON(e, p)
			}
			fmt.Fprintf(e.stdout, "Pipeline:     %s\nApplication:  %s\nID:           %s\nTriggers:     %s\n\n", p.Name(), p.Application(), p.ID(), orNone(triggerTypes(p)))
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "REF\tTYPE\tNAME\tAFTER")
			for _, s := range p.Stages() {
				after := []string{}
				if l, ok := s["requisiteStageRefIds"].([]any); ok {
					for _, r := range l {
						after = append(after, fmt.Sprint(r))
					}
				}
				fmt.Fprintf(tw, "%v\t%v\t%v\t%s\n", s["refId"], s["type"], s["name"], orNone(strings.Join(after, ",")))
			}
			return tw.Flush()
		},
	}
	f.add(cmd, e)
	applicationFlag(cmd, &app)
	return cmd
}

// applicationFlag adds the required --application flag.
func applicationFlag(cmd *cobra.Command, app *string) {
	cmd.Flags().StringVar(app, "application", "", "the pipeline's application (required)")
	cmd.MarkFlagRequired("application")
}

func pipelineDeleteCmd(e *env) *cobra.Command {
	var f clientFlags
	var app string
	cmd := &cobra.Command{
		Use:   "delete --application APP NAME",
		Short: "Delete a pipeline config (its past executions stay)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := f.client().DeletePipeline(cmd.Context(), app, args[0]); err != nil {
				return err
			}
			if f.json() {
				return printJSON(e, map[string]string{"application": app, "name": args[0], "deleted": "true"})
			}
			fmt.Fprintf(e.stdout, "deleted pipeline %q of %s\n", args[0], app)
			return nil
		},
	}
	f.add(cmd, e)
	applicationFlag(cmd, &app)
	return cmd
}

func pipelineRunCmd(e *env) *cobra.Command {
	var (
		f      clientFlags
		app    string
		build  int
		rebake bool
		params []string
		noWait bool
	)
	cmd := &cobra.Command{
		Use:   "run --application APP NAME",
		Short: "Run a pipeline and follow its stages until it ends",
		Long: "Run a pipeline as a manual trigger would, and print each stage as its status changes until the run ends;\n" +
			"the command fails unless the run SUCCEEDED. --build picks the build of the pipeline's Jenkins trigger\n" +
			"(default: the newest successful one); --rebake bakes again even where an identical bake exists.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			trigger := map[string]any{"type": "manual", "rebake": rebake}
			if cmd.Flags().Changed("build") {
				if build <= 0 {
					return fmt.Errorf("--build %d: want a build number of the trigger's job, 1 or more", build)
				}
				trigger["buildNumber"] = build
			}
			if len(params) > 0 {
				ps := map[string]any{}
				for _, p := range params {
					k, v, ok := strings.Cut(p, "=")
					if !ok || k == "" {
						return fmt.Errorf("--parameter %q: want name=value", p)
					}
					ps[k] = v
				}
				trigger["parameters"] = ps
			}
			ctx, c := cmd.Context(), f.client()
			id, err := c.StartPipeline(ctx, app, args[0], trigger)
			if err != nil {
				return err
			}
			if noWait {
				if f.json() {
					return printJSON(e, map[string]string{"id": id, "ref": "/pipelines/" + id})
				}
				fmt.Fprintf(e.stdout, "started execution %s\n", id)
				return nil
			}
			if !f.json() {
				fmt.Fprintf(e.stdout, "started execution %s\n", id)
			}
			ex, err := followExecution(ctx, c, id, f.json(), e.stdout)
			if err != nil {
				return err
			}
			if f.json() {
				printJSON(e, ex)
			}
			if ex.Status != pipeline.Succeeded {
				return fmt.Errorf("execution %s ended %s", id, ex.Status)
			}
			return nil
		},
	}
	f.add(cmd, e)
	applicationFlag(cmd, &app)
	fl := cmd.Flags()
	fl.IntVar(&build, "build", 0, "build number of the Jenkins trigger's job (default: the newest successful build)")
	fl.BoolVar(&rebake, "rebake", false, "bake again even where an identical bake exists (Force Rebake)")
	fl.StringArrayVar(&params, "parameter", nil, "pipeline parameter name=value; repeatable")
	fl.BoolVar(&noWait, "no-wait", false, "start the run and return without following it")
	return cmd
}

// pollInterval is how often a followed execution is read again.
const pollInterval = 300 * time.Millisecond

// followExecution reads execution id until it is complete, printing (unless
// quiet) a line for each stage whose status changed, and returns the
// final execution. An interrupt stops following, as it does for a bake;
// the run goes on.
func followExecution(ctx context.Context, c *bhttp.Client, id string, quiet bool, w io.Writer) (*pipeline.Execution, error) {
	seen := map[string]pipeline.Status{}
	for {
		ex, err := c.Execution(ctx, id)
		if ctx.Err() != nil {
			return nil, stoppedFollowing(id)
		}
		if err != nil {
			return nil, err
		}
		if !quiet {
			for _, s := range ex.Stages {
				if s.Status == seen[s.ID] || s.Status == pipeline.NotStarted {
					continue
				}
				seen[s.ID] = s.Status
				fmt.Fprintln(w, stageLine(s))
			}
		}
		if ex.Status.Complete() {
			if !quiet {
				fmt.Fprintf(w, "execution %s %s%s\n", ex.ID, ex.Status, took(ex))
			}
			return ex, nil
		}
		select {
		case <-ctx.Done():
			return nil, stoppedFollowing(id)
		case <-time.After(pollInterval):
		}
	}
}

func stoppedFollowing(id string) error {
	return fmt.Errorf("stopped following execution %s, which goes on: `bakehouse pipeline execution get %s` shows it, `bakehouse pipeline execution cancel %s` stops it", id, id, id)
}

// stageLine is one line of a run's progress: the stage, its status, and
// what it produced or why it failed or was skipped.
func stageLine(s *pipeline.Stage) string {
	line := fmt.Sprintf("%-32s %s", s.Name, s.Status)
	if n := stageNotes(s); n != "" {
		line += "  " + n
	}
	return line
}

// stageNotes says what a stage produced (the image, whether it was baked
// before, the bake whose log tells how) or why it failed or was skipped,
// from its context.
func stageNotes(s *pipeline.Stage) string {
	ctx := s.Context
	var notes []string
	if s.Status == pipeline.Succeeded {
		name, _ := ctx["imageName"].(string)
		id, _ := ctx["imageId"].(string)
		if id == "" {
			id, _ = ctx["ami"].(string)
		}
		switch {
		case name != "" && id != "" && id != name:
			notes = append(notes, fmt.Sprintf("image: %s (%s)", name, id))
		case name != "":
			notes = append(notes, "image: "+name)
		case id != "":
			notes = append(notes, "image: "+id)
		}
		if pb, _ := ctx["previouslyBaked"].(bool); pb {
			notes = append(notes, "previously baked")
		}
		// The bake's id, for `bakehouse logs` and `bakehouse status`.
		if st, ok := ctx["status"].(map[string]any); ok && st["id"] != nil {
			notes = append(notes, fmt.Sprintf("bake %v", st["id"]))
		}
	}
	if r, _ := ctx["skipReason"].(string); r != "" && s.Status == pipeline.Skipped {
		notes = append(notes, r)
	}
	if ex, ok := ctx["exception"].(map[string]any); ok {
		if d, ok := ex["details"].(map[string]any); ok {
			if errs, ok := d["errors"].([]any); ok {
				for _, e := range errs {
					notes = append(notes, fmt.Sprint(e))
				}
			}
		}
	}
	return strings.Join(notes, "; ")
}

// took is " in <duration>" for an execution that has ended.
func took(ex *pipeline.Execution) string {
	if d := span(ex.StartTime, ex.EndTime); d != "" {
		return " in " + d
	}
	return ""
}
