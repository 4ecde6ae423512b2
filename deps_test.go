package bakehouse_test

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

const module = "github.com/bakehouse/bakehouse"

// adapters are the packages that talk to the outside world. Domain
// packages reach them only through interfaces wired in cmd/bakehouse.
var adapters = []string{"sqlite", "postgres", "packer", "docker", "repo", "http", "templates", "aws", "cmd", "bench", "jenkins", "bakequeue", "ui"}

// importRule says what a package may not reach, directly or through any
// package it imports (go list -deps).
type importRule struct {
	dir       string
	forbidden []string // standard library packages
	adapters  []string // module packages (prefixes under the module)
	// via lists the third-party packages through which a forbidden
	// standard package may still arrive (the metrics library serves
	// /metrics with net/http; the bakery only registers collectors).
	via map[string][]string
}

var importRules = []importRule{
	{dir: ".", forbidden: []string{"database/sql", "net/http", "os/exec"}, adapters: append(adapters, "bakery", "storetest")},
	{dir: "./bakery", forbidden: []string{"database/sql", "net/http", "os/exec"}, adapters: append(adapters, "storetest"),
		via: map[string][]string{"net/http": {"github.com/prometheus/"}}},
	{dir: "./storetest", forbidden: []string{"net/http", "os/exec"}, adapters: append(adapters, "bakery")},
	// pipeline holds Orca's rules as pure functions: it may import only the
	// root package and the standard library (no bakery, runner or adapter).
	{dir: "./pipeline", forbidden: []string{"database/sql", "net/http", "os/exec"}, adapters: append(adapters, "bakery", "storetest", "runner", "jenkins")},
	// runner drives executions through interfaces: no I/O of its own.
	{dir: "./runner", forbidden: []string{"database/sql", "net/http", "os/exec"}, adapters: append(adapters, "storetest"),
		via: map[string][]string{"net/http": {"github.com/prometheus/"}}},
	// aws is an adapter: it may use the network, but not another adapter
	// or the bakery, and never its own test double.
	{dir: "./aws", adapters: []string{"sqlite", "postgres", "packer", "docker", "repo", "http", "templates", "cmd", "bakery", "storetest", "aws/ec2test"}},
	// jenkins is an adapter too: the network, but no other adapter, no
	// bakery or pipeline, and never its own test double.
	{dir: "./jenkins", adapters: []string{"sqlite", "postgres", "packer", "docker", "repo", "http", "templates", "aws", "cmd", "bench", "bakery", "pipeline", "storetest", "jenkins/jenkinstest"}},
}

// TestImports keeps the domain packages free of I/O and of adapters, counting
// every package they pull in, not only their own import lines.
func TestImports(t *testing.T) {
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := exec.LookPath(gobin); err != nil {
		gobin = "go"
	}
	for _, r := range importRules {
		out, err := exec.Command(gobin, "list", "-deps", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, r.dir).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", r.dir, err, out)
		}
		importers := map[string][]string{} // package -> packages that import it
		var deps []string
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			f := strings.Fields(line)
			deps = append(deps, f[0])
			for _, imp := range f[1:] {
				importers[imp] = append(importers[imp], f[0])
			}
		}
		for _, dep := range deps {
			for _, f := range r.forbidden {
				if dep != f {
					continue
				}
				for _, by := range importers[dep] {
					if !allowedVia(by, r.via[f]) {
						t.Errorf("%s reaches %s (imported by %s)", r.dir, f, by)
					}
				}
			}
			for _, a := range r.adapters {
				p := module + "/" + a
				if dep == p || strings.HasPrefix(dep, p+"/") {
					t.Errorf("%s reaches %s (imported by %s)", r.dir, dep, strings.Join(importers[dep], ", "))
				}
			}
		}
	}
}

// allowedVia reports whether importer is a third-party package allowed to
// bring in a forbidden standard package, or is itself standard library.
func allowedVia(importer string, prefixes []string) bool {
	if !strings.Contains(strings.SplitN(importer, "/", 2)[0], ".") {
		return true // standard library (net/http/httputil importing net/http, ...)
	}
	for _, p := range prefixes {
		if strings.HasPrefix(importer, p) {
			return true
		}
	}
	return false
}
