package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bakehouse/bakehouse/docker/dockertest"
	"github.com/bakehouse/bakehouse/postgres/pgtest"
	"github.com/jackc/pgx/v5"
)

// TestServeOnPostgres serves with bakehouse.database set: a bake runs
// through PostgreSQL's store and queue (nothing goes to the embedded
// SQLite file), the same request reuses it, and a server started later on
// the same database, with another data dir, answers for it and its log.
// River UI at /riverui lists its job, behind the API token when one is set.
func TestServeOnPostgres(t *testing.T) {
	needBakeTools(t)
	dbURL := pgtest.URL(t)
	cfg, starts := countingPacker(t)
	dataDir := t.TempDir()
	srv := startServer(t, dataDir, cfg+"  database: "+dbURL+"\n", nil)
	upload(t, srv, sampleDeb(t, "0.5.0-h5.c4baff4"))

	var st status
	code, body, _ := call(t, "POST", srv.url+"/api/v1/global/bake", helloRequest, &st)
	if code != 200 || st.State != "RUNNING" || st.ID == "" {
		t.Fatalf("bake: %d %s", code, body)
	}
	final := waitDone(t, srv, st.ID, 5*time.Minute)
	if final.State != "COMPLETED" || final.Result == nil || *final.Result != "SUCCESS" {
		t.Fatalf("bake ended %s\n%s", final, logsOf(t, srv, st.ID))
	}
	var again status
	if code, _, _ := call(t, "POST", srv.url+"/api/v1/global/bake", helloRequest, &again); code != 200 || again.ID != st.ID {
		t.Fatalf("second request: %d %+v, want reuse of %s", code, again, st.ID)
	}
	if n := packerStarts(t, starts); n != 1 {
		t.Fatalf("packer started %d times for one bake", n)
	}

	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var state string
	var jobs int
	if err := conn.QueryRow(ctx, `SELECT state FROM bakes WHERE id = $1`, st.ID).Scan(&state); err != nil || state != "COMPLETED" {
		t.Fatalf("bake %s in PostgreSQL: state %q, %v", st.ID, state, err)
	}
	// River records a job's completion shortly after the worker returns.
	for deadline := time.Now().Add(30 * time.Second); ; {
		var completed int
		err := conn.QueryRow(ctx, `SELECT COUNT(*), COUNT(*) FILTER (WHERE state = 'completed') FROM river_job WHERE kind = 'bake'`).Scan(&jobs, &completed)
		if err != nil {
			t.Fatal(err)
		}
		if jobs == 1 && completed == 1 {
			break
		}
		if jobs != 1 || time.Now().After(deadline) {
			t.Fatalf("bake jobs in PostgreSQL: %d, %d completed; want 1, completed", jobs, completed)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, err := os.Stat(filepath.Join(dataDir, "bakehouse.db")); !os.IsNotExist(err) {
		t.Fatalf("serve on PostgreSQL made the SQLite file too (stat: %v)", err)
	}
	checkRiverUI(t, srv, "", st.ID)
	srv.stop(t)

	const token = "riverui-t0ken-4471"
	other := startServer(t, t.TempDir(), cfg, map[string]string{"BAKEHOUSE_DATABASE_URL": dbURL, "BAKEHOUSE_API_TOKEN": token})
	if got := waitDone(t, other, st.ID, time.Minute); got.State != "COMPLETED" {
		t.Fatalf("a server on the same database sees bake %s as %s", st.ID, got.State)
	}
	if log := logsOf(t, other, st.ID); !strings.Contains(log, "Committing the container") {
		t.Errorf("a server on the same database, with another data dir, lacks the bake's log:\n%s", log)
	}
	checkRiverUI(t, other, token, st.ID)
}

// TestServeDatabaseNotPostgres: a database setting that is not a postgres
// URL stops serve with an error naming the setting, before it listens.
func TestServeDatabaseNotPostgres(t *testing.T) {
	if _, err := exec.LookPath("packer"); err != nil {
		dockertest.SkipOrFail(t, "packer not installed")
	}
	var stdout, stderr strings.Builder
	e := &env{getenv: testEnv(map[string]string{"BAKEHOUSE_DATABASE_URL": "mysql://u:s3cret@db/bakes"}), stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := e.run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "BAKEHOUSE_DATABASE_URL") || !strings.Contains(err.Error(), "postgres://") {
		t.Fatalf("serve with a mysql URL: err %v, want one naming the setting and the postgres:// form", err)
	}
	if strings.Contains(err.Error()+stderr.String()+stdout.String(), "s3cret") {
		t.Fatalf("the database password was shown:\n%v\n%s", err, stderr.String())
	}
	if stdout.Len() != 0 {
		t.Fatalf("serve printed %q: it listened with a bad database", stdout.String())
	}
}
