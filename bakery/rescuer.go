package bakery

import (
	"context"
	"errors"
	"sync"
	"time"
)

// RescueInterval is how often the rescuer looks for stuck bakes by
// default: a stuck bake is reusable, so it should not stay for long.
const RescueInterval = 5 * time.Second

// Rescuer runs Service.Rescue every interval, so that a bake whose worker
// is gone ends without waiting for a restart. It is a Start/Stop service;
// Stop may be called more than once.
type Rescuer struct {
	svc      *Service
	interval time.Duration

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

// NewRescuer returns a rescuer for svc; interval <= 0 means RescueInterval.
func NewRescuer(svc *Service, interval time.Duration) *Rescuer {
	if interval <= 0 {
		interval = RescueInterval
	}
	return &Rescuer{svc: svc, interval: interval}
}

// Start starts rescuing in the background until Stop or ctx ends.
func (r *Rescuer) Start(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done != nil {
		return errors.New("rescuer: already started")
	}
	ctx, r.cancel = context.WithCancel(ctx)
	r.done = make(chan struct{})
	go r.loop(ctx, r.done)
	return nil
}

func (r *Rescuer) loop(ctx context.Context, done chan struct{}) {
	defer close(done)
	t := time.NewTicker(r.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := r.svc.Rescue(ctx); err != nil && ctx.Err() == nil {
			r.svc.log.Error("rescue stuck bakes", "err", err)
		}
	}
}

// Stop stops the rescuer and waits for a pass in progress to end. Stopping
// a rescuer that is stopped or was never started does nothing.
func (r *Rescuer) Stop() {
	r.mu.Lock()
	cancel, done := r.cancel, r.done
	r.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	<-done
}
