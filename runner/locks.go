package runner

import (
	"context"
	"sync"
)

// Locks shares work among the nodes on one database: a node drives an
// execution only while it holds the execution's lock, so that no stage
// runs twice, and the Jenkins poller runs on the node that holds the
// leader's lock. On PostgreSQL they are session advisory locks
// (postgres.Locks), released by PostgreSQL when a node dies; one embedded
// node uses LocalLocks.
type Locks interface {
	// TryLock takes key's lock unless another node holds it (ok false).
	// lost is closed if the lock goes without Unlock (the node's database
	// session ended): the work it guards must stop, for another node may
	// take it over. A nil lost never closes.
	TryLock(ctx context.Context, key string) (lost <-chan struct{}, ok bool, err error)
	// Unlock releases key's lock.
	Unlock(ctx context.Context, key string) error
	// Lock waits for key's lock, for short work; release frees it.
	Lock(ctx context.Context, key string) (release func(), err error)
}

// LocalLocks are the locks of a single node (the embedded SQLite store):
// in-process, never lost.
type LocalLocks struct {
	mu   sync.Mutex
	held map[string]chan struct{} // closed by Unlock
}

var _ Locks = (*LocalLocks)(nil)

// TryLock implements Locks.
func (l *LocalLocks) TryLock(_ context.Context, key string) (<-chan struct{}, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.held[key]; ok {
		return nil, false, nil
	}
	if l.held == nil {
		l.held = map[string]chan struct{}{}
	}
	l.held[key] = make(chan struct{})
	return nil, true, nil
}

// Unlock implements Locks.
func (l *LocalLocks) Unlock(_ context.Context, key string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if ch, ok := l.held[key]; ok {
		delete(l.held, key)
		close(ch)
	}
	return nil
}

// Lock implements Locks.
func (l *LocalLocks) Lock(ctx context.Context, key string) (func(), error) {
	for {
		l.mu.Lock()
		ch, ok := l.held[key]
		l.mu.Unlock()
		if !ok {
			if _, ok, _ := l.TryLock(ctx, key); ok {
				return func() { l.Unlock(context.Background(), key) }, nil
			}
			continue
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// CancelRelay carries a cancel received by one node to the node that
// drives the execution (postgres.ExecutionCancels: NOTIFY and LISTEN);
// that node passes it to its Runner's Relayed.
type CancelRelay interface {
	Send(ctx context.Context, id, user, reason string) error
}

// executionLock is the lock key of execution id.
func executionLock(id string) string { return "execution:" + id }

// LeaderLock is the key of the lock the node that polls Jenkins holds.
const LeaderLock = "jenkins-poller"
