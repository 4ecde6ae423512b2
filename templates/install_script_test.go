package templates_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bakehouse/bakehouse/templates"
)

// fakeApt stands in for apt-get: it records its arguments, and on update
// the apt sources the script wrote, to $FAKE_LOG; installing the package
// "bad" fails as apt does (exit 100).
const fakeApt = `#!/bin/sh
echo "apt-get $*" >>"$FAKE_LOG"
for a in "$@"; do
	if [ "$a" = update ] && [ -e "$etc_dir/apt/sources.list.d/bakehouse.list" ]; then
		sed 's/^/list: /' "$etc_dir/apt/sources.list.d/bakehouse.list" >>"$FAKE_LOG"
	fi
	if [ "$a" = bad ]; then
		exit 100
	fi
done
`

// fakeYum is fakeApt for yum (or dnf, named by $0): on its first call it
// records the repository files the script wrote.
const fakeYum = `#!/bin/sh
if ! grep -q '^yum\|^dnf' "$FAKE_LOG" 2>/dev/null; then
	for f in "$etc_dir"/yum.repos.d/*.repo; do
		[ -e "$f" ] && sed "s|^|$(basename "$f"): |" "$f" >>"$FAKE_LOG"
	done
fi
echo "$(basename "$0") $*" >>"$FAKE_LOG"
for a in "$@"; do
	if [ "$a" = bad ]; then
		exit 1
	fi
done
`

// fakeSudo runs its command without its options, for a test run as a
// user other than root.
const fakeSudo = `#!/bin/sh
while [ $# -gt 0 ]; do
	case "$1" in -*) shift ;; *) break ;; esac
done
exec "$@"
`

// scriptShells are the shells install_packages.sh must work under: sh
// (dash on Debian and Ubuntu, bash on RHEL-like hosts), bash, and busybox
// sh where it is installed.
func scriptShells(t *testing.T) [][]string {
	t.Helper()
	var shells [][]string
	for _, sh := range [][]string{{"sh"}, {"bash"}, {"bash", "--posix"}, {"busybox", "sh"}} {
		if _, err := exec.LookPath(sh[0]); err == nil {
			shells = append(shells, sh)
		}
	}
	if len(shells) < 2 {
		t.Fatalf("need at least sh and bash, found %v", shells)
	}
	return shells
}

type scriptRun struct {
	out   string   // what the script printed
	calls []string // the lines the fakes recorded
	code  int      // exit status
	etc   string   // the etc_dir it ran with
}

// script is one run of install_packages.sh.
type script struct {
	shell []string // the shell to run it with, e.g. {"sh"}
	env   []string // name=value inputs
	args  []string // argument inputs
	extra []string // more fake package managers, e.g. "dnf"
}

// run runs the installed install_packages.sh under s.shell with apt-get,
// yum and sudo replaced by the fakes and a PATH that holds only them and
// the few tools the script uses, so the host's own package managers are
// never reached. Configuration goes to a temporary etc_dir.
func (s script) run(t *testing.T) scriptRun {
	t.Helper()
	dir := t.TempDir()
	if err := templates.Install(filepath.Join(dir, "config")); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	fakes := map[string]string{"apt-get": fakeApt, "yum": fakeYum, "sudo": fakeSudo}
	for _, name := range s.extra {
		fakes[name] = fakeYum
	}
	for name, text := range fakes {
		mustWriteMode(t, filepath.Join(bin, name), text, 0o755)
	}
	for _, tool := range []string{"sed", "tr", "id", "wc", "mkdir", "rm", "chmod", "tee", "cat", "sleep", "grep", "basename", s.shell[0]} {
		p, err := exec.LookPath(tool)
		if err != nil {
			t.Fatalf("%s: %v", tool, err)
		}
		if err := os.Symlink(p, filepath.Join(bin, tool)); err != nil && !errors.Is(err, os.ErrExist) {
			t.Fatal(err)
		}
	}
	log := filepath.Join(dir, "calls")
	etc := filepath.Join(dir, "etc")
	args := append(append(slices.Clone(s.shell), filepath.Join(dir, "config", templates.InstallScript)), s.args...)
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append([]string{"PATH=" + bin, "FAKE_LOG=" + log, "etc_dir=" + etc, "HOME=" + dir}, s.env...)
	out, err := cmd.CombinedOutput()
	r := scriptRun{out: string(out), etc: etc}
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
	default:
		t.Fatalf("%v: %v\n%s", args, err, out)
	}
	if b, err := os.ReadFile(log); err == nil {
		r.calls = strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	}
	return r
}

// aptCalls returns the apt-get lines of calls without apt-get's options
// (-y, -o X=Y), e.g. "apt-get install foo".
func aptCalls(calls []string) []string {
	var out []string
	for _, c := range calls {
		f := strings.Fields(c)
		if len(f) == 0 || f[0] != "apt-get" {
			continue
		}
		words := []string{"apt-get"}
		for i := 1; i < len(f); i++ {
			switch {
			case f[i] == "-o":
				i++
			case strings.HasPrefix(f[i], "-"):
			default:
				words = append(words, f[i])
			}
		}
		out = append(out, strings.Join(words, " "))
	}
	return out
}

func prefixed(calls []string, prefix string) []string {
	var out []string
	for _, c := range calls {
		if rest, ok := strings.CutPrefix(c, prefix); ok {
			out = append(out, rest)
		}
	}
	return out
}

func TestInstallScriptDeb(t *testing.T) {
	for _, shell := range scriptShells(t) {
		t.Run(strings.Join(shell, " "), func(t *testing.T) {
			t.Parallel()
			r := script{shell: shell, env: []string{
				// Quoted as a template may quote it; ';' separates sources,
				// empty ones are skipped, an explicit "deb " is kept.
				`repository="https://builder:s3cret@repo.example/debian stable main; [trusted=yes] file:/bakehouse/repo ./ ;;deb http://other.example/debian trusty main"`,
				"package_type=deb",
				"packages=kato,nflx-djangobase-enhanced=0.1-h12.170cdbd mongodb*",
				"upgrade=true",
				"apt_retries=0",
			}}.run(t)
			if r.code != 0 {
				t.Fatalf("exit %d:\n%s", r.code, r.out)
			}
			want := []string{"apt-get update", "apt-get upgrade", "apt-get install kato",
				"apt-get install nflx-djangobase-enhanced=0.1-h12.170cdbd", "apt-get install mongodb*"}
			if got := aptCalls(r.calls); !slices.Equal(got, want) {
				t.Errorf("apt-get calls = %q\nwant %q", got, want)
			}
			// apt needs the credentials in its source line; the echo must not show them.
			wantList := []string{"deb https://builder:s3cret@repo.example/debian stable main",
				"deb [trusted=yes] file:/bakehouse/repo ./", "deb http://other.example/debian trusty main"}
			if got := prefixed(r.calls, "list: "); !slices.Equal(got, wantList) {
				t.Errorf("apt sources at update = %q\nwant %q", got, wantList)
			}
			for _, c := range r.calls {
				if strings.HasPrefix(c, "apt-get") && !strings.Contains(c, "-y") {
					t.Errorf("apt-get call without -y: %q", c)
				}
				if strings.HasPrefix(c, "apt-get") && !strings.Contains(c, "Acquire::Retries=0") {
					t.Errorf("apt-get call without apt_retries: %q", c)
				}
			}
			for _, want := range []string{
				"repository=https://repo.example/debian stable main; [trusted=yes] file:/bakehouse/repo ./ ;;deb http://other.example/debian trusty main\n",
				"packages=kato nflx-djangobase-enhanced=0.1-h12.170cdbd mongodb*\n",
				"package_type=deb\n", "upgrade=true\n",
			} {
				if !strings.Contains(r.out, want) {
					t.Errorf("output lacks %q:\n%s", want, r.out)
				}
			}
			if strings.Contains(r.out, "s3cret") || strings.Contains(r.out, "builder:") {
				t.Errorf("output leaks the credentials:\n%s", r.out)
			}
			if _, err := os.Stat(filepath.Join(r.etc, "apt", "sources.list.d", "bakehouse.list")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("bakehouse.list left in the image (stat: %v)", err)
			}
		})
	}
}

// A failed install stops the script with apt's status; the packages after
// it are not tried and the sources file is still removed.
func TestInstallScriptDebFailure(t *testing.T) {
	for _, shell := range scriptShells(t) {
		t.Run(strings.Join(shell, " "), func(t *testing.T) {
			t.Parallel()
			r := script{shell: shell, env: []string{"repository=http://repo.example/debian stable main",
				"package_type=deb", "packages=a bad c"}}.run(t)
			if r.code != 100 {
				t.Errorf("exit %d, want apt-get's 100:\n%s", r.code, r.out)
			}
			want := []string{"apt-get update", "apt-get install a", "apt-get install bad"}
			if got := aptCalls(r.calls); !slices.Equal(got, want) {
				t.Errorf("apt-get calls = %q\nwant %q", got, want)
			}
			if _, err := os.Stat(filepath.Join(r.etc, "apt", "sources.list.d", "bakehouse.list")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("bakehouse.list left after a failure (stat: %v)", err)
			}
		})
	}
}

// Without a repository no source file is written, and without upgrade
// there is no upgrade; arguments work as well as the environment.
func TestInstallScriptDebArguments(t *testing.T) {
	for _, shell := range scriptShells(t) {
		t.Run(strings.Join(shell, " "), func(t *testing.T) {
			t.Parallel()
			r := script{shell: shell, args: []string{"--package_type", "deb", "packages=one,two"}}.run(t)
			if r.code != 0 {
				t.Fatalf("exit %d:\n%s", r.code, r.out)
			}
			want := []string{"apt-get update", "apt-get install one", "apt-get install two"}
			if got := aptCalls(r.calls); !slices.Equal(got, want) {
				t.Errorf("apt-get calls = %q\nwant %q", got, want)
			}
			if got := prefixed(r.calls, "list: "); len(got) != 0 {
				t.Errorf("sources written without a repository: %q", got)
			}
		})
	}
}

func TestInstallScriptRPM(t *testing.T) {
	for _, shell := range scriptShells(t) {
		for _, pm := range []string{"yum", "dnf"} {
			t.Run(strings.Join(shell, " ")+"/"+pm, func(t *testing.T) {
				t.Parallel()
				var extra []string
				if pm == "dnf" {
					extra = []string{"dnf"} // dnf is preferred when present
				}
				r := script{shell: shell, extra: extra, env: []string{
					"repository=https://builder:s3cret@yum.example/el/7/x86_64;http://other.example/el",
					"package_type=rpm",
					"packages=kato, nflx-djangobase-enhanced-0.1-h12.170cdbd,mongodb",
					"upgrade=true",
				}}.run(t)
				if r.code != 0 {
					t.Fatalf("exit %d:\n%s", r.code, r.out)
				}
				want := []string{pm + " -y update", pm + " -y install kato",
					pm + " -y install nflx-djangobase-enhanced-0.1-h12.170cdbd", pm + " -y install mongodb"}
				var got []string
				for _, c := range r.calls {
					if strings.HasPrefix(c, "yum ") || strings.HasPrefix(c, "dnf ") {
						got = append(got, c)
					}
				}
				if !slices.Equal(got, want) {
					t.Errorf("%s calls = %q\nwant %q", pm, got, want)
				}
				repos := strings.Join(r.calls, "\n")
				for _, want := range []string{"bakehouse-1.repo: baseurl=https://builder:s3cret@yum.example/el/7/x86_64",
					"bakehouse-2.repo: baseurl=http://other.example/el", "bakehouse-2.repo: gpgcheck=0"} {
					if !strings.Contains(repos, want) {
						t.Errorf("repository files lack %q:\n%s", want, repos)
					}
				}
				if strings.Contains(r.out, "s3cret") {
					t.Errorf("output leaks the password:\n%s", r.out)
				}
				if !strings.Contains(r.out, "repository=https://yum.example/el/7/x86_64;http://other.example/el\n") {
					t.Errorf("output lacks the scrubbed repository:\n%s", r.out)
				}
				if m, _ := filepath.Glob(filepath.Join(r.etc, "yum.repos.d", "*.repo")); len(m) != 0 {
					t.Errorf("repository files left in the image: %v", m)
				}
			})
		}
	}
}

func TestInstallScriptRejectsPackageType(t *testing.T) {
	for _, shell := range scriptShells(t) {
		r := script{shell: shell, args: []string{"--package_type", "nupkg", "packages=a"}}.run(t)
		if r.code == 0 || !strings.Contains(r.out, "package_type must be deb or rpm, not 'nupkg'") || len(r.calls) != 0 {
			t.Errorf("%v: exit %d, calls %q:\n%s", shell, r.code, r.calls, r.out)
		}
	}
}
