package packer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// DefaultGracePeriod is how long a canceled Packer gets between SIGINT and
// SIGKILL: long enough for it to terminate instances and delete temporary
// security groups and key pairs, short enough that a stuck bake ends.
const DefaultGracePeriod = 10 * time.Second

// killMargin is added to the grace period for exec's own WaitDelay, so
// that the group-wide SIGKILL comes first and exec's leader-only kill and
// pipe closing are only a backstop.
const killMargin = 2 * time.Second

// ErrArgv is wrapped by Command's error when argv does not start with
// "packer" or "sudo packer": the bakery always computes one of those, so
// anything else is a programming error that must not run.
var ErrArgv = errors.New("packer: argv must start with packer or sudo packer")

// ManagedEnvError reports a RunOptions.Env entry for a variable this
// package sets itself, as terraform-exec does: a silent override would
// break isolation or colorless output in ways that are hard to see.
type ManagedEnvError struct {
	Name string
}

func (e *ManagedEnvError) Error() string {
	return fmt.Sprintf("packer: environment variable %s is managed by the packer package", e.Name)
}

// RunOptions configures one packer run.
type RunOptions struct {
	// Dir is the working directory. When set, Packer's cache and temporary
	// files go to Dir/.packer_cache and Dir/.packer_tmp (PACKER_CACHE_DIR,
	// PACKER_TMP_DIR, TMPDIR), so concurrent bakes do not share state and
	// removing Dir removes everything a bake left behind.
	Dir string
	// Env is added to the minimal environment inherited from this process
	// (PATH, HOME, USER, LOGNAME, locale, TZ, TMPDIR, SSL_CERT_*, proxy and
	// DOCKER_* variables; nothing else, so that the server's own secrets do
	// not reach templates). Entries are KEY=VALUE and replace inherited ones.
	// Setting CHECKPOINT_DISABLE or PACKER_NO_COLOR, or, with Dir set,
	// PACKER_CACHE_DIR, PACKER_TMP_DIR or TMPDIR, is a *ManagedEnvError.
	Env []string
	// Stdout receives each line of Packer's combined stdout and stderr,
	// without the line end and with masked values replaced, as it arrives.
	// It is called from one goroutine at a time and never after Run
	// returns; a slow callback slows Packer down rather than losing lines.
	Stdout func(line string)
	// OnStart, if set, gets the process id as soon as Packer runs, before
	// any line reaches Stdout. It is also the process group id, so that a
	// bakery restarted after a crash can find and kill an orphaned build.
	OnStart func(pid int)
	// Mask lists secret values to replace with "******" in every line.
	Mask []string
	// GracePeriod is the time between SIGINT and SIGKILL on cancel;
	// DefaultGracePeriod when zero.
	GracePeriod time.Duration
}

// inheritedEnv lists the variables a packer process inherits from this
// one: what Packer, its provisioners and the docker CLI need to work on a
// plain machine, and no credentials.
var inheritedEnv = []string{
	"PATH", "HOME", "USER", "LOGNAME",
	"LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR",
	"SSL_CERT_FILE", "SSL_CERT_DIR",
	"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
	"DOCKER_HOST", "DOCKER_CERT_PATH", "DOCKER_TLS_VERIFY", "DOCKER_CONFIG",
}

// command builds the exec.Cmd for argv, the full argument list as the
// bakery computed it (["packer", "build", ...] or ["sudo", "packer", ...]),
// with the "packer" token replaced by p's path. It is separate from Run so
// that argv, environment and process settings can be checked without
// running anything. With opts.Dir set it creates the cache and temporary
// directories.
//
// The command runs in its own process group. When ctx is done, SIGINT goes
// to the whole group (Packer then cancels the build and cleans up), and
// SIGKILL follows to the whole group after the grace period. The group
// signaler is returned so that Run can disarm the pending SIGKILL once the
// process has been reaped.
func (p *Packer) command(ctx context.Context, argv []string, opts RunOptions) (*exec.Cmd, *groupSignaler, error) {
	args, err := p.args(argv)
	if err != nil {
		return nil, nil, err
	}
	dir := opts.Dir
	if dir != "" {
		if dir, err = filepath.Abs(dir); err != nil {
			return nil, nil, fmt.Errorf("packer: dir: %w", err)
		}
	}
	env, err := buildEnv(os.Getenv, opts.Env, dir)
	if err != nil {
		return nil, nil, err
	}
	if dir != "" {
		for _, d := range []string{cacheDir(dir), tmpDir(dir)} {
			if err := os.MkdirAll(d, 0o700); err != nil {
				return nil, nil, fmt.Errorf("packer: %w", err)
			}
		}
	}
	grace := opts.GracePeriod
	if grace <= 0 {
		grace = DefaultGracePeriod
	}

	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	if cmd.Err != nil { // "sudo" not found in PATH
		return nil, nil, fmt.Errorf("packer: %w", cmd.Err)
	}
	cmd.Dir = dir
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	g := &groupSignaler{cmd: cmd, grace: grace}
	cmd.Cancel = g.interrupt
	cmd.WaitDelay = grace + killMargin
	return cmd, g, nil
}

// args returns argv with the packer token replaced by p's path.
func (p *Packer) args(argv []string) ([]string, error) {
	i := -1
	switch {
	case len(argv) > 0 && argv[0] == "packer":
		i = 0
	case len(argv) > 1 && argv[0] == "sudo" && argv[1] == "packer":
		i = 1
	}
	if i < 0 {
		return nil, fmt.Errorf("%w: got %q", ErrArgv, argv)
	}
	args := append([]string(nil), argv...)
	args[i] = p.path
	return args, nil
}

// cacheDir and tmpDir are the per-run Packer directories under dir.
func cacheDir(dir string) string { return filepath.Join(dir, ".packer_cache") }

// tmpDir is where Packer puts its plugin sockets. A Unix socket path is
// limited to 108 bytes, so when dir is deep the directory moves to a short
// path in the system temporary directory, named after dir so that each
// run keeps its own; Run removes it when Packer ends.
func tmpDir(dir string) string {
	t := filepath.Join(dir, ".packer_tmp")
	if len(t) <= maxTmpDirLen {
		return t
	}
	sum := sha256.Sum256([]byte(dir))
	return filepath.Join(os.TempDir(), "bakehouse-packer-"+hex.EncodeToString(sum[:8]))
}

// maxTmpDirLen leaves room for Packer's "/packer-plugin1234567890" socket
// names within the 108-byte limit.
const maxTmpDirLen = 72

// buildEnv returns the environment for a run: the inherited minimum, then
// extra, then the variables this package manages. getenv is os.Getenv,
// a parameter for tests.
func buildEnv(getenv func(string) string, extra []string, dir string) ([]string, error) {
	managed := [][2]string{
		{"CHECKPOINT_DISABLE", "1"}, // no phone-home from CI or air-gapped hosts
		{"PACKER_NO_COLOR", "1"},    // plain text for scraping and logs
	}
	if dir != "" {
		managed = append(managed,
			[2]string{"PACKER_CACHE_DIR", cacheDir(dir)},
			[2]string{"PACKER_TMP_DIR", tmpDir(dir)},
			[2]string{"TMPDIR", tmpDir(dir)},
		)
	}

	var keys []string
	vals := map[string]string{}
	set := func(k, v string) {
		if _, ok := vals[k]; !ok {
			keys = append(keys, k)
		}
		vals[k] = v
	}
	for _, k := range inheritedEnv {
		if v := getenv(k); v != "" {
			set(k, v)
		}
	}
	for _, kv := range extra {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("packer: environment entry %q is not KEY=VALUE", kv)
		}
		for _, m := range managed {
			if k == m[0] {
				return nil, &ManagedEnvError{Name: k}
			}
		}
		set(k, v)
	}
	for _, m := range managed {
		set(m[0], m[1])
	}
	env := make([]string, len(keys))
	for i, k := range keys {
		env[i] = k + "=" + vals[k]
	}
	return env, nil
}

// groupSignaler delivers cancel signals to a command's process group:
// SIGINT at once, SIGKILL after the grace period. Signalling the group
// rather than the leader reaches Packer's plugin processes and the
// provisioners they run, which would otherwise outlive a kill.
type groupSignaler struct {
	cmd   *exec.Cmd
	grace time.Duration

	mu       sync.Mutex
	timer    *time.Timer
	disarmed bool
}

// interrupt is the Cmd's Cancel function.
func (g *groupSignaler) interrupt() error {
	err := syscall.Kill(-g.cmd.Process.Pid, syscall.SIGINT)
	if errors.Is(err, syscall.ESRCH) {
		// Nothing left to interrupt: tell exec the process is done so it
		// reports the real exit status.
		return fmt.Errorf("%w: %w", os.ErrProcessDone, err)
	}
	g.mu.Lock()
	if !g.disarmed && g.timer == nil {
		g.timer = time.AfterFunc(g.grace, g.kill)
	}
	g.mu.Unlock()
	return err
}

// kill sends SIGKILL to the group unless disarmed. It is the grace
// timer's action, and Run calls it directly to remove processes left
// behind after a cancel or after Packer exited with its pipes still held.
func (g *groupSignaler) kill() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.disarmed {
		_ = syscall.Kill(-g.cmd.Process.Pid, syscall.SIGKILL)
	}
}

// disarm cancels a pending SIGKILL. Run calls it after Wait: once the
// leader is reaped and the group is empty, the id may be reused by an
// unrelated process.
func (g *groupSignaler) disarm() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.disarmed = true
	if g.timer != nil {
		g.timer.Stop()
	}
}
