package main

import (
	"fmt"
	"io"
	"net/url"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

// listCmd is `bakehouse list`: the Bakery view as a table.
func listCmd(e *env) *cobra.Command {
	var f clientFlags
	var state, provider, region, pkg, image string
	var limit int
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List recent bakes, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			q := url.Values{}
			for k, v := range map[string]string{"state": state, "provider": provider, "region": region, "package": pkg, "image": image} {
				if v != "" {
					q.Set(k, v)
				}
			}
			q.Set("limit", strconv.Itoa(limit))
			bakes, err := f.client().ListBakes(cmd.Context(), q)
			if err != nil {
				return err
			}
			if f.json() {
				return printJSON(e, bakes)
			}
			switch {
			case len(bakes) == 0 && len(q) > 1:
				fmt.Fprintln(e.stdout, "No bakes match.")
				return nil
			case len(bakes) == 0:
				fmt.Fprintln(e.stdout, "No bakes yet. Bake one with: bakehouse bake --package ./PACKAGE.deb --base-os bookworm")
				return nil
			}
			printBakes(e.stdout, bakes)
			return nil
		},
	}
	f.add(cmd, e)
	cmd.Flags().StringVar(&state, "state", "", "RUNNING, COMPLETED or CANCELED")
	cmd.Flags().StringVar(&provider, "provider", "", "docker, aws, ...")
	cmd.Flags().StringVar(&region, "region", "", "region")
	cmd.Flags().StringVar(&pkg, "package", "", "bakes whose package contains this")
	cmd.Flags().StringVar(&image, "image", "", "bakes whose image name or id contains this")
	cmd.Flags().IntVar(&limit, "limit", 20, "at most this many bakes (1-1000)")
	return cmd
}

// printBakes writes bakes (GET /api/v1/bakes rows) as a table; a state
// is a word, never only a colour.
func printBakes(w io.Writer, bakes []map[string]any) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tPROVIDER\tREGION\tPACKAGE\tIMAGE\tSTARTED\tDURATION\tREASON")
	for _, b := range bakes {
		st := str(b["state"])
		if r := str(b["result"]); r != "" {
			st += "/" + r
		}
		started := "queued"
		if t, err := time.Parse(time.RFC3339Nano, str(b["started_at"])); err == nil {
			started = t.Local().Format("2006-01-02 15:04:05")
		}
		dur := ""
		if s, ok := b["duration_seconds"].(float64); ok && s > 0 {
			dur = (time.Duration(s * float64(time.Second))).Round(100 * time.Millisecond).String()
		}
		reason := str(b["reason"])
		if e := str(b["error"]); e != "" {
			reason = e
		}
		if len(reason) > 60 {
			reason = reason[:57] + "..."
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", b["id"], st, b["provider"], b["region"], b["package"], str(b["image_name"]), started, dur, reason)
	}
	tw.Flush()
}

func str(v any) string { s, _ := v.(string); return s }
