package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/bakehouse/bakehouse/postgres"
	"github.com/bakehouse/bakehouse/runner"
	"github.com/jackc/pgx/v5"
)

var _ runner.Locks = (*postgres.Locks)(nil)

// TestLocksOneNodeAtATime: two nodes' Locks on one database: a key one
// holds, the other cannot take until it is unlocked; when the holder's
// session ends (as when its node dies), its lost channel closes and the
// other node takes the key.
func TestLocksOneNodeAtATime(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := migratedURL(t)
	a, b := postgres.NewLocks(openAt(t, url)), postgres.NewLocks(openAt(t, url))
	t.Cleanup(func() { a.Close(); b.Close() })

	lost, ok, err := a.TryLock(ctx, "execution:1")
	if err != nil || !ok {
		t.Fatalf("a takes a free key: %v %v", ok, err)
	}
	if _, ok, err := b.TryLock(ctx, "execution:1"); err != nil || ok {
		t.Fatalf("b takes a's key: %v %v", ok, err)
	}
	if _, ok, err := b.TryLock(ctx, "execution:2"); err != nil || !ok {
		t.Fatalf("b takes another key: %v %v", ok, err)
	}
	if err := a.Unlock(ctx, "execution:1"); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := b.TryLock(ctx, "execution:1"); err != nil || !ok {
		t.Fatalf("b takes the key a released: %v %v", ok, err)
	}

	// b's session is ended from outside: its locks go with it.
	lostB, ok, err := b.TryLock(ctx, "leader")
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid <> pg_backend_pid()
		AND pid IN (SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objid = hashtext('leader')::oid)`); err != nil {
		t.Fatal(err)
	}
	select {
	case <-lostB:
	case <-time.After(10 * time.Second):
		t.Fatal("b's lost channel did not close when its session ended")
	}
	if _, ok, err := a.TryLock(ctx, "leader"); err != nil || !ok {
		t.Fatalf("a takes the key of b's ended session: %v %v", ok, err)
	}
	select {
	case <-lost:
		t.Fatal("a's lost channel closed though its session lives")
	default:
	}

	// Lock waits for the key.
	release, err := a.Lock(ctx, "jenkins:ci/job")
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() {
		r, err := b.Lock(ctx, "jenkins:ci/job")
		if err == nil {
			r()
		}
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("b's Lock returned while a held the key: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	release()
	if err := <-got; err != nil {
		t.Fatal(err)
	}
}
