package postgres

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// lockWork is the advisory lock class of Locks: work one node at a time
// does (an execution it drives, the Jenkins poller's leadership, a job's
// poll), keyed by hashtext of a name.
const lockWork int32 = 0x62680004

// lockCheckInterval is how often Locks checks that its session is alive,
// so that a node whose session ended stops the work its locks guarded
// within seconds, before another node takes it over.
const lockCheckInterval = 2 * time.Second

// Locks shares work among the nodes on one database with PostgreSQL
// session advisory locks, held on one connection of their own: when a
// node dies, PostgreSQL ends its session and releases its locks, and
// another node can take the work over. Nothing else coordinates the
// nodes. It is the runner's runner.Locks on PostgreSQL.
type Locks struct {
	db *DB

	mu   sync.Mutex
	conn *pgx.Conn     // nil until the first TryLock, and after a session ended
	lost chan struct{} // closed when conn's session ended
	held map[string]bool

	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// NewLocks returns the locks of db; Close releases them.
func NewLocks(db *DB) *Locks {
	l := &Locks{db: db, held: map[string]bool{}, stop: make(chan struct{}), done: make(chan struct{})}
	go l.check()
	return l
}

// TryLock takes key's lock for this node unless another node holds it
// (ok false). lost is closed if the node loses the lock without Unlock
// (its session ended): the work it guards must stop then, for another
// node may take it. A key this node holds already is held once.
func (l *Locks) TryLock(ctx context.Context, key string) (lost <-chan struct{}, ok bool, err error) {
	ctx, cancel := sessionContext(ctx)
	defer cancel()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn == nil {
		cfg := l.db.pool.Config().ConnConfig.Copy()
		if l.conn, err = pgx.ConnectConfig(ctx, cfg); err != nil {
			l.conn = nil
			return nil, false, fmt.Errorf("lock %s: connect: %w", key, err)
		}
		l.lost = make(chan struct{})
	}
	if l.held[key] {
		return l.lost, true, nil
	}
	if err := l.conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1, hashtext($2))`, lockWork, key).Scan(&ok); err != nil {
		l.drop()
		return nil, false, fmt.Errorf("lock %s: %w", key, err)
	}
	if ok {
		l.held[key] = true
	}
	return l.lost, ok, nil
}

// Unlock releases key's lock (nothing when this node does not hold it).
func (l *Locks) Unlock(ctx context.Context, key string) error {
	ctx, cancel := sessionContext(ctx)
	defer cancel()
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.held[key] || l.conn == nil {
		return nil
	}
	delete(l.held, key)
	if _, err := l.conn.Exec(ctx, `SELECT pg_advisory_unlock($1, hashtext($2))`, lockWork, key); err != nil {
		// The lock may stay with the session: end it, so that
		// PostgreSQL releases every lock it holds.
		l.drop()
		return fmt.Errorf("unlock %s: %w", key, err)
	}
	return nil
}

// sessionContext is ctx for a statement on the locks' session, without
// ctx's cancel: a statement cancelled midway (a client that hung up on
// the request that starts a run) ends the session, and with it every lock
// the node holds. A timeout bounds it instead.
func sessionContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
}

// Lock waits until it holds key's lock, on a pooled connection of its
// own, for short work (a Jenkins job's poll); release frees it. The lock
// goes with the connection if the node dies.
func (l *Locks) Lock(ctx context.Context, key string) (release func(), err error) {
	conn, err := l.db.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", key, err)
	}
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1, hashtext($2))`, lockWork, key); err != nil {
		// Cancelled while waiting: the lock may have been granted.
		conn.Conn().Close(context.WithoutCancel(ctx))
		conn.Release()
		return nil, fmt.Errorf("lock %s: %w", key, err)
	}
	return func() {
		if _, err := conn.Exec(context.Background(), `SELECT pg_advisory_unlock($1, hashtext($2))`, lockWork, key); err != nil {
			conn.Conn().Close(context.Background())
		}
		conn.Release()
	}, nil
}

// Close releases every lock (their session ends). It may be called twice.
func (l *Locks) Close() error {
	l.once.Do(func() {
		close(l.stop)
		<-l.done
	})
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn != nil {
		l.drop()
	}
	return nil
}

// drop ends the session: its locks are gone. mu is held.
func (l *Locks) drop() {
	l.conn.Close(context.Background())
	l.conn = nil
	close(l.lost)
	l.held = map[string]bool{}
}

// check pings the session every lockCheckInterval and drops it when it
// does not answer, which closes the lost channel of every lock.
func (l *Locks) check() {
	defer close(l.done)
	t := time.NewTicker(lockCheckInterval)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
		}
		l.mu.Lock()
		if l.conn != nil {
			ctx, cancel := context.WithTimeout(context.Background(), lockCheckInterval)
			if _, err := l.conn.Exec(ctx, `SELECT 1`); err != nil {
				l.drop()
			}
			cancel()
		}
		l.mu.Unlock()
	}
}
