package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bakehouse/bakehouse/postgres/pgtest"
	"github.com/jackc/pgx/v5"
)

// TestSecretsMaskedEverywhere configures AWS credentials as
// packer.additionalParameters in both forms Packer accepts, sends one as
// an extended attribute too, and makes Packer print its arguments: no
// secret value may reach the plan, the stored record, the log, the API,
// /metrics, any file of the data directory or any row of the PostgreSQL
// database (bakes, log lines, queue jobs), while Packer still gets them in
// clear.
func TestSecretsMaskedEverywhere(t *testing.T) {
	needBakeTools(t)
	t.Run("sqlite", func(t *testing.T) { testSecretsMasked(t, "") })
	t.Run("postgres", func(t *testing.T) { testSecretsMasked(t, pgtest.URL(t)) })
}

func testSecretsMasked(t *testing.T, dbURL string) {
	const (
		s   = "S-additional-secret-5521"
		k   = "K-additional-access-8832"
		ext = "E-extended-attribute-4410"
	)
	dir := t.TempDir()
	seen := filepath.Join(dir, "argv")
	real, err := exec.LookPath("packer")
	if err != nil {
		t.Fatal(err)
	}
	// The wrapper keeps the argv Packer got (outside the data directory)
	// and prints it, as a template that echoes its variables would.
	wrapper := filepath.Join(dir, "packer")
	script := fmt.Sprintf("#!/bin/sh\necho \"$*\" > %s\necho \"packer got: $*\"\nexec %s \"$@\"\n", seen, real)
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := "bakehouse:\n  packerPath: " + wrapper + "\n" +
		"packer:\n  additionalParameters: [\"-var=aws_secret_key=" + s + "\", \"-var\", \"aws_access_key=" + k + "\"]\n"
	if dbURL != "" {
		cfg = strings.Replace(cfg, "bakehouse:\n", "bakehouse:\n  database: "+dbURL+"\n", 1)
	}
	dataDir := t.TempDir()
	srv := startServer(t, dataDir, cfg, nil)
	upload(t, srv, sampleDeb(t, "0.5.0-h5.c4baff4"))
	req := with(helloRequest, "ami_name", "secrets-masked", "extended_attributes", map[string]string{"aws_access_key": ext})

	secrets := []string{s, k, ext}
	noSecret := func(where, text string) {
		t.Helper()
		for _, v := range secrets {
			if strings.Contains(text, v) {
				t.Errorf("secret %q in %s:\n%s", v, where, text)
			}
		}
	}
	code, plan, _ := call(t, "POST", srv.url+"/api/v1/global/bake/plan", req, nil)
	if code != 200 {
		t.Fatalf("plan: %d %s", code, plan)
	}
	noSecret("the plan answer", string(plan))
	for _, want := range []string{`"-var=aws_secret_key=******"`, `"aws_access_key=******"`} {
		if !strings.Contains(string(plan), want) {
			t.Errorf("plan argv lacks %s: %s", want, plan)
		}
	}

	var st status
	if code, body, _ := call(t, "POST", srv.url+"/api/v1/global/bake", req, &st); code != 200 {
		t.Fatalf("bake: %d %s", code, body)
	}
	if final := waitDone(t, srv, st.ID, 5*time.Minute); final.State != "COMPLETED" {
		t.Fatalf("bake ended %s\n%s", final, logsOf(t, srv, st.ID))
	}
	got, err := os.ReadFile(seen)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"-var=aws_secret_key=" + s, "aws_access_key=" + k, "aws_access_key=" + ext} {
		if !strings.Contains(string(got), want) {
			t.Errorf("packer did not get %s: %s", want, got)
		}
	}
	logs := logsOf(t, srv, st.ID)
	noSecret("the bake log", logs)
	if !strings.Contains(logs, "Running: ") || !strings.Contains(logs, "-var=aws_secret_key=******") || !strings.Contains(logs, "packer got: ") {
		t.Errorf("log lacks the masked command or Packer's own line:\n%s", logs)
	}
	for _, path := range []string{"/api/v1/bakes/" + st.ID, "/api/v1/global/bake/" + st.ID, "/api/v1/global/status/" + st.ID, "/status/all", "/metrics"} {
		code, body, _ := call(t, "GET", srv.url+path, nil, nil)
		if code != 200 {
			t.Errorf("GET %s: %d %s", path, code, body)
		}
		noSecret(path, string(body))
	}
	// Every file the bakery keeps: the database (with its WAL) and the logs.
	err = filepath.Walk(dataDir, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, v := range secrets {
			if strings.Contains(string(b), v) {
				t.Errorf("secret %q stored in %s", v, path)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if dbURL != "" {
		rows := databaseRows(t, dbURL)
		if !strings.Contains(rows, "packer got: ") {
			t.Errorf("the bake's log lines are not in the database:\n%s", rows)
		}
		noSecret("the PostgreSQL database", rows)
	}
}

// databaseRows is every row of every table of the database, as text.
func databaseRows(t *testing.T, dbURL string) string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT quote_ident(table_schema) || '.' || quote_ident(table_name) FROM information_schema.tables
WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')`)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(tables) < 3 {
		t.Fatalf("tables %v, %v", tables, err)
	}
	var all strings.Builder
	for _, table := range tables {
		var text *string
		if err := conn.QueryRow(ctx, `SELECT string_agg(t::text, E'\n') FROM `+table+` t`).Scan(&text); err != nil {
			t.Fatalf("%s: %v", table, err)
		}
		if text != nil {
			all.WriteString(table + ":\n" + *text + "\n")
		}
	}
	return all.String()
}
