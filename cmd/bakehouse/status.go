package main

import (
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"text/tabwriter"

	bhttp "github.com/bakehouse/bakehouse/http"

	"github.com/spf13/cobra"
)

func statusCmd(e *env) *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{
		Use:   "status [ID]",
		Short: "Show a bake (or, without an id, the server's queue)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c := f.client()
			if len(args) == 0 {
				st, err := c.InstanceStatus(cmd.Context())
				if err != nil {
					return err
				}
				if f.json() {
					return printJSON(e, st)
				}
				bakes, err := c.ListBakes(cmd.Context(), url.Values{"state": {"RUNNING"}, "limit": {"1000"}})
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "Concurrency: %v; %d baking, %d queued\n", st["concurrency"], lenOf(st["running"]), lenOf(st["queued"]))
				if len(bakes) == 0 {
					fmt.Fprintln(e.stdout, "The queue is empty.")
					return nil
				}
				printBakes(e.stdout, bakes)
				return nil
			}
			rec, err := c.Record(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if f.json() {
				return printJSON(e, rec)
			}
			fmt.Fprintf(e.stdout, "Bake:    %v\nState:   %v/%v\nReason:  %v\n", rec["id"], rec["state"], orNull(rec["result"]), rec["reason"])
			if d, ok := rec["details"].(map[string]any); ok && d != nil {
				fmt.Fprintf(e.stdout, "Image:   %v\n", d["image_name"])
			}
			if s, _ := rec["error"].(string); s != "" {
				fmt.Fprintf(e.stdout, "Error:   %s\n", s)
			}
			if ph, ok := rec["phases"].([]any); ok {
				for _, p := range ph {
					if m, ok := p.(map[string]any); ok {
						fmt.Fprintf(e.stdout, "Phase:   %-13v %6.2fs\n", m["name"], m["seconds"])
					}
				}
			}
			return nil
		},
	}
	f.add(cmd, e)
	return cmd
}

func lenOf(v any) int { l, _ := v.([]any); return len(l) }

func orNull(v any) any {
	if v == nil {
		return "null"
	}
	return v
}

func logsCmd(e *env) *cobra.Command {
	var f clientFlags
	var follow bool
	cmd := &cobra.Command{
		Use:   "logs ID",
		Short: "Print a bake's log",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c := f.client()
			if follow {
				return c.FollowLogs(cmd.Context(), "global", args[0], e.stdout)
			}
			s, err := c.Logs(cmd.Context(), "global", args[0])
			if err != nil {
				return err
			}
			fmt.Fprint(e.stdout, s)
			return nil
		},
	}
	f.add(cmd, e)
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "follow the log until the bake ends")
	return cmd
}

func cancelCmd(e *env) *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{
		Use:   "cancel ID",
		Short: "Cancel a bake",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := f.client().Cancel(cmd.Context(), "global", args[0])
			if err != nil {
				return err
			}
			fmt.Fprintln(e.stdout, s)
			return nil
		},
	}
	f.add(cmd, e)
	return cmd
}

func optionsCmd(e *env) *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{
		Use:   "options",
		Short: "List providers and base OSes the server can bake",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c := f.client()
			o, err := c.Options(cmd.Context())
			if err != nil {
				return err
			}
			h, err := c.Health(cmd.Context())
			if err != nil {
				return err
			}
			if f.json() {
				return printJSON(e, map[string]any{"versions": h.Versions, "bakeOptions": o})
			}
			printOptions(e.stdout, h.Versions, o)
			return nil
		},
	}
	f.add(cmd, e)
	return cmd
}

// printOptions writes the versions in use and a table of providers and
// base OSes from /bakeOptions' answer (Rosco's BakeOptions list).
func printOptions(w io.Writer, v bhttp.Versions, options any) {
	fmt.Fprintf(w, "Packer         %s\nDocker engine  %s\n\n", v.Packer, orNone(v.Docker))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PROVIDER\tBASE OS\tPACKAGE TYPE\tDESCRIPTION")
	list, _ := options.([]any)
	for _, p := range list {
		p, _ := p.(map[string]any)
		images, _ := p["baseImages"].([]any)
		for _, b := range images {
			if b, ok := b.(map[string]any); ok {
				fmt.Fprintf(tw, "%v\t%v\t%v\t%v\n", p["cloudProvider"], b["id"], orNone(b["packageType"]), orNone(b["shortDescription"]))
			}
		}
	}
	tw.Flush()
}

// orNone shows a missing value as "-".
func orNone(v any) any {
	if v == nil || v == "" {
		return "-"
	}
	return v
}

func repoCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "repo", Short: "Manage the bakery's package repository"}
	var fa, fl clientFlags
	add := &cobra.Command{
		Use:   "add FILE...",
		Short: "Add package files to the bakery's repository",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c := fa.client()
			for _, p := range args {
				fh, err := os.Open(p)
				if err != nil {
					return err
				}
				info, err := c.AddPackage(cmd.Context(), filepath.Base(p), fh)
				fh.Close()
				if err != nil {
					return fmt.Errorf("%s: %w", p, err)
				}
				if fa.json() {
					printJSON(e, info)
				} else {
					fmt.Fprintf(e.stdout, "added %s %s %s\n", info.Name, info.Version, info.Arch)
				}
			}
			return nil
		},
	}
	fa.add(add, e)
	list := &cobra.Command{
		Use:   "list",
		Short: "List the bakery's packages",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ps, err := fl.client().Packages(cmd.Context())
			if err != nil {
				return err
			}
			if fl.json() {
				return printJSON(e, ps)
			}
			for _, p := range ps {
				fmt.Fprintf(e.stdout, "%s\t%s\t%s\t%s\n", p.Name, p.Version, p.Arch, p.Filename)
			}
			return nil
		},
	}
	fl.add(list, e)
	cmd.AddCommand(add, list)
	return cmd
}
