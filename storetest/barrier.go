package storetest

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/bakehouse/bakehouse"
)

// CreateBarrier is a BakeStore whose CreateBake calls wait until n of them
// have arrived, then go on to the store, which runs them one at a time.
// Racing-request tests wrap their store in it: every request has then
// looked for a reusable bake outside the transaction, and found none,
// before the first creating transaction opens, so only the check inside
// that transaction can keep them to one bake, in every run.
//
// The barrier is at the entry of CreateBake rather than inside Decide:
// on SQLite, reads and the transaction share one connection, so a request
// still reading outside the transaction would wait for the one held open.
type CreateBarrier struct {
	bakehouse.BakeStore
	n       int
	timeout time.Duration

	mu      sync.Mutex
	arrived int
	all     chan struct{}
}

// NewCreateBarrier wraps s; a CreateBake that waits longer than timeout
// for the others fails, naming how many arrived.
func NewCreateBarrier(s bakehouse.BakeStore, n int, timeout time.Duration) *CreateBarrier {
	return &CreateBarrier{BakeStore: s, n: n, timeout: timeout, all: make(chan struct{})}
}

// CreateBake waits for the others, then creates.
func (b *CreateBarrier) CreateBake(ctx context.Context, p bakehouse.CreateBakeParams) (bakehouse.CreateBakeResult, error) {
	b.mu.Lock()
	b.arrived++
	if b.arrived == b.n {
		close(b.all)
	}
	b.mu.Unlock()
	select {
	case <-b.all:
	case <-ctx.Done():
		return bakehouse.CreateBakeResult{}, ctx.Err()
	case <-time.After(b.timeout):
		b.mu.Lock()
		defer b.mu.Unlock()
		return bakehouse.CreateBakeResult{}, fmt.Errorf("create barrier: %d of %d creates arrived within %s", b.arrived, b.n, b.timeout)
	}
	return b.BakeStore.CreateBake(ctx, p)
}
