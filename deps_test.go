package bakehouse_test

import (
	"go/build"
	"strings"
	"testing"
)

// TestImports keeps the domain packages free of I/O and of adapters: the
// root package and the bakery must not import database/sql, net/http,
// os/exec or any adapter package (they reach adapters through interfaces).
func TestImports(t *testing.T) {
	forbidden := []string{"database/sql", "net/http", "os/exec"}
	adapters := []string{"sqlite", "packer", "docker", "repo", "http", "templates", "cmd"}
	for _, dir := range []string{".", "bakery"} {
		pkg, err := build.ImportDir(dir, 0)
		if err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		for _, imp := range pkg.Imports {
			for _, f := range forbidden {
				if imp == f {
					t.Errorf("%s imports %s", dir, imp)
				}
			}
			for _, a := range adapters {
				if strings.HasPrefix(imp, "github.com/bakehouse/bakehouse/"+a) {
					t.Errorf("%s imports adapter %s", dir, imp)
				}
			}
		}
	}
}
