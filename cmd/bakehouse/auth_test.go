package main

import (
	"bytes"
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bhttp "github.com/bakehouse/bakehouse/http"
)

// cliWithEnv runs a client command of the whole program against srv with
// environment overrides.
func cliWithEnv(t *testing.T, srv *server, over map[string]string, args ...string) (string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	full := append(append([]string{}, args...), "--server", srv.url)
	err := run(context.Background(), full, testEnv(over), strings.NewReader(""), &stdout, &stderr)
	return stdout.String(), err
}

// TestAPIToken runs the whole program with an API token: the CLI's
// mutating commands fail without $BAKEHOUSE_TOKEN, saying which header and
// variable to set, and pass with it; reads need none; the environment's
// token wins over the file's; no token shows in the log or /metrics.
func TestAPIToken(t *testing.T) {
	const fileToken, envToken = "file-token-1f2e3d4c5b6a", "env-token-9a8b7c6d5e4f"
	srv := startServer(t, t.TempDir(), "bakehouse:\n  apiToken: "+fileToken+"\n  trustedNetworks: [10.0.0.0/8]\n",
		map[string]string{"BAKEHOUSE_API_TOKEN": envToken, "BAKEHOUSE_TOKEN": ""})
	junk := filepath.Join(t.TempDir(), "junk_1.0_all.deb")
	os.WriteFile(junk, []byte("not a deb"), 0o644)

	for _, args := range [][]string{{"cancel", "no-such-bake"}, {"repo", "add", junk}} {
		_, err := cliWithEnv(t, srv, map[string]string{"BAKEHOUSE_TOKEN": ""}, args...)
		if err == nil || !strings.Contains(err.Error(), "Authorization: Bearer <token>") || !strings.Contains(err.Error(), "BAKEHOUSE_TOKEN") {
			t.Errorf("%v without a token: err = %v, want one naming the header and BAKEHOUSE_TOKEN", args, err)
		}
		// The environment's token wins: the file's is refused.
		_, err = cliWithEnv(t, srv, map[string]string{"BAKEHOUSE_TOKEN": fileToken}, args...)
		if err == nil || !strings.Contains(err.Error(), "Authorization: Bearer <token>") {
			t.Errorf("%v with the file's token: err = %v, want a 401", args, err)
		}
		_, err = cliWithEnv(t, srv, map[string]string{"BAKEHOUSE_TOKEN": envToken}, args...)
		if err == nil || strings.Contains(err.Error(), "Authorization") {
			t.Errorf("%v with the token: err = %v, want the command's own error", args, err)
		}
	}
	if _, err := cliWithEnv(t, srv, map[string]string{"BAKEHOUSE_TOKEN": envToken}, "cancel", "no-such-bake"); err == nil || !strings.Contains(err.Error(), "Unable to locate incomplete bake") {
		t.Errorf("cancel with the token: %v", err)
	}
	if out, err := cliWithEnv(t, srv, map[string]string{"BAKEHOUSE_TOKEN": ""}, "options"); err != nil || !strings.Contains(out, "bookworm") {
		t.Errorf("options (a read) without a token: %v\n%s", err, out)
	}

	_, metrics, _ := call(t, "GET", srv.url+"/metrics", nil, nil)
	for _, where := range []struct{ name, text string }{{"log", srv.stderr.String()}, {"/metrics", string(metrics)}} {
		for _, tok := range []string{fileToken, envToken} {
			if strings.Contains(where.text, tok) {
				t.Errorf("the %s shows the API token", where.name)
			}
		}
	}
	// Bound to loopback: no warning about an open bakery.
	if strings.Contains(srv.stderr.String(), "non-loopback") {
		t.Errorf("loopback server warned:\n%s", srv.stderr.String())
	}
}

// TestExposureWarning is serve's warning for a bakery that anyone on the
// network can change. (Tests bind loopback only, so the non-loopback case
// is decided here rather than by binding a public address.)
func TestExposureWarning(t *testing.T) {
	nets := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	for _, tt := range []struct {
		auth     bhttp.Auth
		loopback bool
		want     string
	}{
		{bhttp.Auth{}, true, ""},
		{bhttp.Auth{Token: "t"}, false, ""},
		{bhttp.Auth{}, false, "anyone who reaches it can bake"},
		{bhttp.Auth{TrustedNetworks: nets}, false, "only clients in bakehouse.trustedNetworks"},
	} {
		got := exposureWarning(tt.auth, tt.loopback)
		if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
			t.Errorf("exposureWarning(%+v, loopback=%v) = %q, want %q", tt.auth, tt.loopback, got, tt.want)
		}
	}
}

// TestTrustedNetworksConfig reads CIDRs and single addresses, and names
// the entry at fault.
func TestTrustedNetworksConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yml")
	os.WriteFile(path, []byte("bakehouse:\n  trustedNetworks: [10.1.2.3/8, 192.168.1.5, \"::1/128\"]\n"), 0o644)
	c, err := loadConfig(path, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range c.Bakehouse.trusted {
		got = append(got, p.String())
	}
	if strings.Join(got, " ") != "10.0.0.0/8 192.168.1.5/32 ::1/128" {
		t.Errorf("trusted = %v", got)
	}
	os.WriteFile(path, []byte("bakehouse:\n  trustedNetworks: [10.0.0.0/8, 10.0.0/33]\n"), 0o644)
	if _, err := loadConfig(path, t.TempDir()); err == nil || !strings.Contains(err.Error(), "bakehouse.trustedNetworks[1]") {
		t.Errorf("bad CIDR: err = %v, want one naming bakehouse.trustedNetworks[1]", err)
	}
}
