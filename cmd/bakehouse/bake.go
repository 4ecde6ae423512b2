package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/bakehouse/bakehouse"
	bhttp "github.com/bakehouse/bakehouse/http"
	"github.com/spf13/cobra"
)

// clientFlags are the flags every client command shares.
type clientFlags struct {
	server string
	output string
	token  string
}

func (f *clientFlags) add(cmd *cobra.Command, e *env) {
	cmd.Flags().StringVar(&f.server, "server", envOr(e, "BAKEHOUSE_SERVER", "http://127.0.0.1:8087"), "Bakehouse server URL")
	cmd.Flags().StringVarP(&f.output, "output", "o", "text", "output format: text or json")
	// The token comes from the environment only: a flag would show it in
	// the process list and shell history.
	f.token = e.getenv("BAKEHOUSE_TOKEN")
}

func (f *clientFlags) client() *bhttp.Client {
	c := bhttp.NewClient(f.server)
	c.Token = f.token
	return c
}

func (f *clientFlags) json() bool { return f.output == "json" }

func printJSON(e *env, v any) error {
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// bakeCmd is `bakehouse bake` (follows the bake) or `bakehouse plan`.
func bakeCmd(e *env, plan bool) *cobra.Command {
	var (
		f       clientFlags
		pkgs    []string
		regions []string
		attrs   []string
		req     bakehouse.BakeRequest
		rebake  bool
		detach  bool
	)
	use, short := "bake", "Bake packages into an image and follow the bake"
	if plan {
		use, short = "plan", "Show what a bake would run, and whether it would reuse an existing bake"
	}
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			c := f.client()
			var names []string
			for _, p := range pkgs {
				name, err := localPackage(ctx, e, c, p)
				if err != nil {
					return err
				}
				names = append(names, name)
			}
			req.Package = strings.Join(names, " ")
			if len(attrs) > 0 {
				req.ExtendedAttributes = map[string]string{}
				for _, a := range attrs {
					k, v, ok := strings.Cut(a, "=")
					if !ok || k == "" {
						return fmt.Errorf("--extended-attribute %q: want key=value", a)
					}
					req.ExtendedAttributes[k] = v
				}
			}
			if len(regions) == 0 {
				regions = []string{"global"}
			}
			if plan {
				p, err := c.Plan(ctx, regions[0], req, rebake)
				if err != nil {
					return err
				}
				if f.json() {
					return printJSON(e, p)
				}
				printPlan(e, p)
				return nil
			}
			if len(regions) > 1 {
				return runMultiRegion(ctx, e, c, &f, regions, req, rebake)
			}
			return runBake(ctx, e, c, &f, regions[0], req, rebake, detach)
		},
	}
	f.add(cmd, e)
	fl := cmd.Flags()
	fl.StringArrayVar(&pkgs, "package", nil, "package to install (name, name_version-release_arch, or a local .deb file to add to the bakery's repository first); repeatable")
	fl.StringVar(&req.BaseOS, "base-os", "", "base OS (see `bakehouse options`)")
	fl.StringVar(&req.CloudProviderType, "provider", "", "cloud provider (docker, aws); default from the server's config")
	fl.StringArrayVar(&regions, "region", nil, "region (default global)")
	fl.BoolVar(&rebake, "rebake", false, "bake anew even if an identical bake exists")
	fl.StringVar(&req.AMIName, "ami-name", "", "image name instead of the package name")
	fl.StringVar(&req.AMISuffix, "ami-suffix", "", "image name suffix instead of a timestamp")
	fl.StringVar(&req.BaseAMI, "base-ami", "", "explicit base image")
	fl.StringVar(&req.Organization, "organization", "", "docker organization")
	fl.StringVar(&req.CommitHash, "commit-hash", "", "commit hash (docker tag, appversion)")
	fl.StringVar(&req.BuildNumber, "build-number", "", "CI build number (appversion)")
	fl.StringVar(&req.TemplateFileName, "template-file-name", "", "Packer template in the bakery's template directory")
	fl.StringVar(&req.VarFileName, "var-file-name", "", "Packer var file in the bakery's template directory")
	fl.StringArrayVar(&attrs, "extended-attribute", nil, "extra Packer variable key=value; repeatable")
	if !plan {
		fl.BoolVar(&detach, "detach", false, "print the bake's status and return without following it")
	}
	return cmd
}

// localPackage uploads p if it names a local package file and returns the
// name to request.
func localPackage(ctx context.Context, e *env, c *bhttp.Client, p string) (string, error) {
	if !strings.HasSuffix(p, ".deb") && !strings.HasSuffix(p, ".rpm") {
		return p, nil
	}
	fh, err := os.Open(p)
	if os.IsNotExist(err) {
		// Not a local file: a package file name in the repository.
		return strings.TrimSuffix(strings.TrimSuffix(p, ".deb"), ".rpm"), nil
	}
	if err != nil {
		return "", err
	}
	defer fh.Close()
	info, err := c.AddPackage(ctx, filepath.Base(p), fh)
	if err != nil {
		return "", fmt.Errorf("add %s to the bakery's repository: %w", p, err)
	}
	fmt.Fprintf(e.stderr, "Added %s %s to the bakery's repository\n", info.Name, info.Version)
	base := filepath.Base(p)
	return strings.TrimSuffix(strings.TrimSuffix(base, ".deb"), ".rpm"), nil
}

func printPlan(e *env, p bakehouse.Plan) {
	w := e.stdout
	fmt.Fprintf(w, "Image:      %s\n", p.ImageName)
	fmt.Fprintf(w, "Bake key:   %s\n", p.BakeKey)
	fmt.Fprintf(w, "Appversion: %s\n", p.AppVersion)
	for _, pk := range p.Packages {
		fmt.Fprintf(w, "Package:    %s %s-%s %s\n", pk.Name, pk.Version, pk.Release, pk.Arch)
	}
	if p.BaseImage != "" {
		fmt.Fprintf(w, "Base image: %s\n", p.BaseImage)
	}
	fmt.Fprintf(w, "Packer:     %s\n", strings.Join(p.Packer.Argv, " "))
	for _, warn := range p.Warnings {
		fmt.Fprintf(w, "Warning:    %s\n", warn)
	}
	if p.Reuse != nil {
		fmt.Fprintf(w, "Reuse:      %s (%s)\n", p.Reuse.Reason, p.Reuse.State)
	} else {
		fmt.Fprintf(w, "Reuse:      none, a new bake would run\n")
	}
}

// runBake posts a bake, follows its log until it ends and prints the image.
func runBake(ctx context.Context, e *env, c *bhttp.Client, f *clientFlags, region string, req bakehouse.BakeRequest, rebake, detach bool) error {
	res, err := c.Bake(ctx, region, req, rebake)
	if err != nil {
		return err
	}
	st := res.Status
	if !f.json() {
		if res.Reused {
			fmt.Fprintf(e.stderr, "%s\n", res.Reason)
		} else {
			fmt.Fprintf(e.stderr, "Bake %s started: %s\n", st.ID, res.Reason)
		}
	}
	if detach {
		if f.json() {
			return printJSON(e, st)
		}
		fmt.Fprintf(e.stdout, "%s %s\n", st.ID, st.State)
		return nil
	}
	if st.State == bakehouse.StateRunning && !f.json() {
		if err := c.FollowLogs(ctx, region, st.ID, e.stderr); err != nil {
			return err
		}
	}
	for st.State == bakehouse.StateRunning {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
		if st, err = c.Status(ctx, region, st.ID); err != nil {
			return err
		}
	}
	if st.Result == nil || *st.Result != bakehouse.ResultSuccess {
		rec, _ := c.Record(ctx, st.ID)
		msg := ""
		if rec != nil {
			msg, _ = rec["error"].(string)
		}
		if f.json() {
			printJSON(e, map[string]any{"status": st, "error": msg})
		}
		return fmt.Errorf("bake %s ended %s/%s: %s (see `bakehouse logs %s`)", st.ID, st.State, resultOf(st), msg, st.ID)
	}
	d, err := c.Details(ctx, region, st.ID)
	if err != nil {
		return err
	}
	if f.json() {
		return printJSON(e, map[string]any{"status": st, "reused": res.Reused, "details": d})
	}
	name, _ := d["image_name"].(string)
	if ami, _ := d["ami"].(string); ami != "" {
		name += " (" + ami + ")"
	}
	fmt.Fprintf(e.stdout, "%s\n", name)
	return nil
}

func resultOf(st bakehouse.BakeStatus) string {
	if st.Result == nil {
		return "null"
	}
	return string(*st.Result)
}

// runMultiRegion bakes in every region in parallel, one independent request
// per region as Orca's bake stage does, with one shared ami_suffix so the
// image has the same name everywhere, and shows every region's progress.
func runMultiRegion(ctx context.Context, e *env, c *bhttp.Client, f *clientFlags, regions []string, req bakehouse.BakeRequest, rebake bool) error {
	if req.AMISuffix == "" {
		req.AMISuffix = time.Now().UTC().Format("20060102150405")
	}
	type result struct {
		region, image string
		err           error
	}
	results := make([]result, len(regions))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i, region := range regions {
		wg.Add(1)
		go func(i int, region string) {
			defer wg.Done()
			var out strings.Builder
			sub := &env{getenv: e.getenv, stdin: e.stdin, stdout: &out,
				stderr: &prefixWriter{prefix: "[" + region + "] ", w: e.stderr, mu: &mu}}
			err := runBake(ctx, sub, c, f, region, req, rebake, false)
			results[i] = result{region: region, image: strings.TrimSpace(out.String()), err: err}
		}(i, region)
	}
	wg.Wait()
	var failed []string
	for _, r := range results {
		if r.err != nil {
			fmt.Fprintf(e.stdout, "%s: FAILED: %v\n", r.region, r.err)
			failed = append(failed, r.region)
			continue
		}
		fmt.Fprintf(e.stdout, "%s: %s\n", r.region, r.image)
	}
	if len(failed) > 0 {
		return fmt.Errorf("bake failed in %s", strings.Join(failed, ", "))
	}
	return nil
}

// prefixWriter writes each line with a prefix, one whole line at a time,
// so the progress of parallel bakes stays readable.
type prefixWriter struct {
	prefix string
	w      io.Writer
	mu     *sync.Mutex
	buf    []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.buf = append(p.buf, b...)
	for {
		i := bytes.IndexByte(p.buf, '\n')
		if i < 0 {
			return len(b), nil
		}
		p.mu.Lock()
		_, err := fmt.Fprintf(p.w, "%s%s\n", p.prefix, p.buf[:i])
		p.mu.Unlock()
		p.buf = p.buf[i+1:]
		if err != nil {
			return len(b), err
		}
	}
}
