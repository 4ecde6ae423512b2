package packer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

// maxLine bounds the partial line kept in memory: a longer run of output
// without a newline is passed on in pieces of this size.
const maxLine = 1 << 20

// Result is what a finished packer run produced.
type Result struct {
	// ExitCode is Packer's exit status, or -1 when it did not start or was
	// killed by a signal.
	ExitCode int
	// Output is the whole combined stdout and stderr, masked, with CR LF
	// line ends turned into LF. It is what the bakery scrapes and stores.
	Output string
	// Duration is the time from start to the end of the output.
	Duration time.Duration
}

// ExitError reports that Packer ran and exited with a non-zero status.
// Output is in the Result, not here, so that error messages stay short.
type ExitError struct {
	Code int
}

func (e *ExitError) Error() string {
	if e.Code < 0 {
		return "packer was killed by a signal"
	}
	return fmt.Sprintf("packer exited with status %d", e.Code)
}

// Run runs argv (see Command) to the end, streaming its output to
// opts.Stdout and collecting it into the Result, masked. A non-zero exit
// is an *ExitError. When ctx is done Packer gets SIGINT, then SIGKILL after
// the grace period, and the error satisfies errors.Is with ctx.Err()
// (context.Canceled or context.DeadlineExceeded) even after a kill.
func (p *Packer) Run(ctx context.Context, argv []string, opts RunOptions) (Result, error) {
	res := Result{ExitCode: -1}
	cmd, g, err := p.command(ctx, argv, opts)
	if err != nil {
		return res, err
	}
	// One writer for both streams: exec then gives the process a single
	// pipe for stdout and stderr, so lines keep the order Packer wrote
	// them in, and one goroutine copies it.
	w := &lineWriter{redactor: NewRedactor(opts.Mask), emit: opts.Stdout, ready: make(chan struct{})}
	cmd.Stdout = w
	cmd.Stderr = w

	if opts.Dir != "" {
		defer os.RemoveAll(tmpDir(opts.Dir))
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		close(w.ready)
		return res, fmt.Errorf("packer: start: %w", err)
	}
	if opts.OnStart != nil {
		opts.OnStart(cmd.Process.Pid)
	}
	close(w.ready)
	// Wait returns only after the copying goroutine has drained the pipe
	// (or WaitDelay gave up on it), so the writer is no longer in use.
	waitErr := cmd.Wait()
	res.Duration = time.Since(start)
	if ctx.Err() != nil || errors.Is(waitErr, exec.ErrWaitDelay) {
		g.kill()
	}
	g.disarm()
	w.flush()
	res.Output = w.out.String()
	res.ExitCode = cmd.ProcessState.ExitCode()

	var exitErr error
	if res.ExitCode != 0 {
		exitErr = &ExitError{Code: res.ExitCode}
	}
	switch {
	case ctx.Err() != nil && waitErr != nil:
		if exitErr != nil {
			return res, fmt.Errorf("packer interrupted: %w (%w)", ctx.Err(), exitErr)
		}
		return res, fmt.Errorf("packer interrupted: %w", ctx.Err())
	case exitErr != nil:
		return res, exitErr
	}
	// Exit 0, possibly with ErrWaitDelay: Packer finished but something
	// it started kept the output pipe open; that process was killed above.
	return res, nil
}

// lineWriter splits the output stream into lines, masks each one, passes it
// to emit and keeps it in out. Masking whole lines means a secret is never
// split across two writes.
type lineWriter struct {
	redactor *Redactor
	emit     func(string)
	ready    chan struct{} // closed once OnStart has returned; nil: no wait
	buf      []byte
	out      strings.Builder
}

func (w *lineWriter) Write(p []byte) (int, error) {
	if w.ready != nil {
		<-w.ready
	}
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			w.buf = append(w.buf, p...)
			if len(w.buf) >= maxLine {
				w.line(false)
			}
			break
		}
		w.buf = append(w.buf, p[:i]...)
		w.line(true)
		p = p[i+1:]
	}
	return n, nil
}

// line passes on the buffered text; newline says whether it ended a line.
func (w *lineWriter) line(newline bool) {
	s := string(w.buf)
	w.buf = w.buf[:0]
	if newline {
		s = strings.TrimSuffix(s, "\r")
	}
	s = w.redactor.Redact(s)
	w.out.WriteString(s)
	if newline {
		w.out.WriteByte('\n')
	}
	if w.emit != nil {
		w.emit(s)
	}
}

// flush passes on a last line that had no newline.
func (w *lineWriter) flush() {
	if len(w.buf) > 0 {
		w.line(false)
	}
}
