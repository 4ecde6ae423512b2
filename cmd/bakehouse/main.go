// Command bakehouse is the Bakehouse server and its CLI: one binary, and
// the only place where the adapters are wired together.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/bakehouse/bakehouse"
	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "bakehouse:", err)
		os.Exit(1)
	}
}

// env is the process environment and standard streams, passed in so tests
// can run the whole program in-process.
type env struct {
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	// wrapStore, when set, wraps the bake store serve builds: tests hold
	// or break store calls through it (racing requests, a failing write).
	wrapStore func(bakehouse.BakeStore) bakehouse.BakeStore
}

// run runs the bakehouse command line.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	return (&env{getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}).run(ctx, args)
}

func (e *env) run(ctx context.Context, args []string) error {
	stdin, stdout, stderr := e.stdin, e.stdout, e.stderr
	root := &cobra.Command{
		Use:           "bakehouse",
		Short:         "Bakehouse bakes packages into machine images with Packer (a Rosco-compatible bakery)",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(serveCmd(e), bakeCmd(e, false), bakeCmd(e, true), statusCmd(e), listCmd(e), logsCmd(e), cancelCmd(e), optionsCmd(e), repoCmd(e), pipelineCmd(e))
	return root.ExecuteContext(ctx)
}
