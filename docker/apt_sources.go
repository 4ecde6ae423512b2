package docker

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// hostMirror returns the URI of the first enabled "deb" source in the apt
// configuration under root (/etc/apt/sources.list, then sources.list.d/*.list
// and *.sources in name order) that serves suite, or "" if none does.
func hostMirror(suite, root string) string {
	dir := filepath.Join(root, "etc", "apt")
	files := []string{filepath.Join(dir, "sources.list")}
	parts, _ := filepath.Glob(filepath.Join(dir, "sources.list.d", "*"))
	sort.Strings(parts)
	files = append(files, parts...)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var uri string
		switch {
		case strings.HasSuffix(f, ".sources"):
			uri = deb822Mirror(string(b), suite)
		case strings.HasSuffix(f, ".list"):
			uri = oneLineMirror(string(b), suite)
		}
		if uri != "" {
			return uri
		}
	}
	return ""
}

// oneLineMirror scans one-line-style sources ("deb [opts] URI SUITE COMP...").
func oneLineMirror(text, suite string) string {
	for _, line := range strings.Split(text, "\n") {
		line, _, _ = strings.Cut(line, "#")
		f := strings.Fields(line)
		if len(f) < 3 || f[0] != "deb" {
			continue
		}
		f = f[1:]
		if strings.HasPrefix(f[0], "[") { // options, possibly several words
			for len(f) > 0 && !strings.HasSuffix(f[0], "]") {
				f = f[1:]
			}
			if len(f) == 0 {
				continue
			}
			f = f[1:]
		}
		if len(f) >= 2 && f[1] == suite {
			return f[0]
		}
	}
	return ""
}

// deb822Mirror scans deb822-style sources (paragraphs of Types/URIs/Suites).
func deb822Mirror(text, suite string) string {
	for _, para := range strings.Split(text, "\n\n") {
		fields := map[string]string{}
		for _, line := range strings.Split(para, "\n") {
			if strings.HasPrefix(line, "#") || strings.HasPrefix(line, " ") {
				continue
			}
			if k, v, ok := strings.Cut(line, ":"); ok {
				fields[strings.ToLower(k)] = strings.TrimSpace(v)
			}
		}
		if strings.EqualFold(fields["enabled"], "no") ||
			!contains(strings.Fields(fields["types"]), "deb") ||
			!contains(strings.Fields(fields["suites"]), suite) {
			continue
		}
		if uris := strings.Fields(fields["uris"]); len(uris) > 0 {
			return uris[0]
		}
	}
	return ""
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// passedAptOptions are the host apt settings mmdebstrap's apt needs to reach
// the same mirror as the host's: proxies and, for snapshot mirrors whose
// Release files have expired, the validity checks.
var passedAptOptions = []string{
	"Acquire::http::Proxy",
	"Acquire::https::Proxy",
	"Acquire::Check-Valid-Until",
	"Acquire::Check-Date",
}

// hostAptOptions returns passedAptOptions as set on the host, in apt.conf
// syntax (`Acquire::http::Proxy "http://...";`), read with apt-config dump.
func hostAptOptions(ctx context.Context) []string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "apt-config", "dump").Output()
	if err != nil {
		return nil
	}
	return pickAptOptions(out)
}

// pickAptOptions keeps the lines of an apt-config dump that set one of
// passedAptOptions.
func pickAptOptions(dump []byte) []string {
	var opts []string
	for _, line := range bytes.Split(dump, []byte("\n")) {
		key, _, ok := strings.Cut(string(line), " ")
		if !ok {
			continue
		}
		for _, k := range passedAptOptions {
			if strings.EqualFold(key, k) {
				opts = append(opts, string(line))
			}
		}
	}
	return opts
}
