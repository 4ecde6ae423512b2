package main

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/bakehouse/bakehouse/pipeline"
	"github.com/spf13/cobra"
)

// executionCmd is `bakehouse pipeline execution`: spin's execution get,
// list and cancel.
func executionCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "execution", Short: "Show, list and cancel pipeline executions"}
	cmd.AddCommand(executionGetCmd(e), executionListCmd(e), executionCancelCmd(e))
	return cmd
}

func executionGetCmd(e *env) *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{
		Use:   "get ID",
		Short: "Show an execution: its status and each stage's (-o json: Orca's execution JSON)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ex, err := f.client().Execution(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if f.json() {
				return printJSON(e, ex)
			}
			fmt.Fprintf(e.stdout, "Execution:  %s\nPipeline:   %s (%s)\nStatus:     %s\nTrigger:    %s\nStarted:    %s\nTook:       %s\n\n",
				ex.ID, ex.Name, ex.Application, ex.Status, triggerText(ex.Trigger), when(ex.StartTime), orNone(span(ex.StartTime, ex.EndTime)))
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "STAGE\tSTATUS\tTOOK\tDETAILS")
			for _, s := range ex.Stages {
				name := s.Name
				if s.ParentStageID != nil {
					name = "  " + name
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", name, s.Status, orNone(span(s.StartTime, s.EndTime)), stageNotes(s))
			}
			return tw.Flush()
		},
	}
	f.add(cmd, e)
	return cmd
}

func executionListCmd(e *env) *cobra.Command {
	var (
		f        clientFlags
		app      string
		limit    int
		statuses []string
	)
	cmd := &cobra.Command{
		Use:   "list --application APP",
		Short: "List an application's executions, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			filter := pipeline.ExecutionFilter{Application: app, Limit: limit}
			for _, s := range statuses {
				st := pipeline.Status(strings.ToUpper(s))
				if !st.Valid() {
					return fmt.Errorf("--status %s: not one of Orca's statuses (RUNNING, SUCCEEDED, TERMINAL, CANCELED, ...)", s)
				}
				filter.Statuses = append(filter.Statuses, st)
			}
			exs, err := f.client().Executions(cmd.Context(), filter)
			if err != nil {
				return err
			}
			if f.json() {
				if exs == nil {
					exs = []*pipeline.Execution{}
				}
				return printJSON(e, exs)
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tPIPELINE\tSTATUS\tSTARTED\tTOOK\tTRIGGER")
			for _, ex := range exs {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", ex.ID, ex.Name, ex.Status, when(ex.StartTime),
					orNone(span(ex.StartTime, ex.EndTime)), triggerText(ex.Trigger))
			}
			return tw.Flush()
		},
	}
	f.add(cmd, e)
	cmd.Flags().StringVar(&app, "application", "", "the application (required)")
	cmd.MarkFlagRequired("application")
	cmd.Flags().IntVar(&limit, "limit", 10, "at most this many executions")
	cmd.Flags().StringArrayVar(&statuses, "status", nil, "only executions in this status (RUNNING, SUCCEEDED, TERMINAL, ...); repeatable")
	return cmd
}

func executionCancelCmd(e *env) *cobra.Command {
	var f clientFlags
	var reason string
	cmd := &cobra.Command{
		Use:   "cancel ID",
		Short: "Cancel a running execution (its running bakes are canceled too)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := f.client().CancelExecution(cmd.Context(), args[0], reason); err != nil {
				return err
			}
			if f.json() {
				return printJSON(e, map[string]string{"id": args[0], "canceled": "true"})
			}
			fmt.Fprintf(e.stdout, "canceled execution %s\n", args[0])
			return nil
		},
	}
	f.add(cmd, e)
	cmd.Flags().StringVar(&reason, "reason", "", "why, recorded in the execution's cancellationReason")
	return cmd
}

// triggerText is a trigger in a few words: its type, the build it ran and
// whether it forced a rebake.
func triggerText(t map[string]any) string {
	s := fmt.Sprint(orNone(t["type"]))
	if bi, ok := t["buildInfo"].(map[string]any); ok {
		s += fmt.Sprintf(" %v #%v", bi["name"], bi["number"])
	} else if n, ok := t["buildNumber"]; ok {
		s += fmt.Sprintf(" #%v", n)
	}
	if rb, _ := t["rebake"].(bool); rb {
		s += " (rebake)"
	}
	return s
}

// when shows an epoch-milliseconds time in UTC, or "-".
func when(ms *int64) string {
	if ms == nil {
		return "-"
	}
	return time.UnixMilli(*ms).UTC().Format("2006-01-02 15:04:05Z")
}

// span is the time between two epoch-milliseconds times, or "".
func span(start, end *int64) string {
	if start == nil || end == nil {
		return ""
	}
	return (time.Duration(*end-*start) * time.Millisecond).Round(100 * time.Millisecond).String()
}
