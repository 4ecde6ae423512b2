package jenkins

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Defaults of PollerConfig.
const (
	// DefaultPollInterval is bakehouse.jenkinsPollInterval's default
	// (Igor polls every 60 s).
	DefaultPollInterval = 15 * time.Second
	// DefaultMaxPerPoll is the flood guard's default: builds of one job
	// fired by one poll.
	DefaultMaxPerPoll = 10
)

// Watch is a job a trigger polls.
type Watch struct {
	Master string
	Job    string // Igor's name
}

// CursorStore keeps each watched job's cursor (the number of the last
// build dealt with) across polls and restarts.
type CursorStore interface {
	// Cursor returns the job's cursor; ok is false when none was stored.
	Cursor(ctx context.Context, master, job string) (n int, ok bool, err error)
	SetCursor(ctx context.Context, master, job string, n int) error
}

// PollerConfig configures NewPoller.
type PollerConfig struct {
	// Clients are the configured masters by name.
	Clients map[string]*Client
	// Watched returns the jobs to poll; it is called on each tick, so
	// triggers saved or deleted take effect at the next one.
	Watched func(ctx context.Context) ([]Watch, error)
	Cursors CursorStore
	// Fire starts what a build triggers. It gets the build from
	// Client.Build (artifacts and SCM included). An error stops the job's
	// poll before the cursor passes the build, so it is tried again at
	// the next tick.
	Fire func(ctx context.Context, master, job string, b Build) error
	// Interval between polls; default DefaultPollInterval.
	Interval time.Duration
	// MaxPerPoll is the flood guard (see NewBuilds); default
	// DefaultMaxPerPoll, negative for no limit.
	MaxPerPoll int
	// Logger; default slog.Default().
	Logger *slog.Logger
	// Lock, when set, is held around each job's poll (cursor read, fire,
	// cursor write) under the key "jenkins:<master>/<job>", so that nodes
	// on one database that poll the same job at once (the leader's tick
	// and another node's webhook) fire a build once.
	Lock func(ctx context.Context, key string) (release func(), err error)
}

// Poller polls the watched Jenkins jobs and fires their new successful
// builds (NewBuilds' rules). Start and Stop may each be called twice.
type Poller struct {
	cfg PollerConfig

	pollMu sync.Mutex // one poll at a time, so a build fires once

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

// NewPoller checks cfg and returns a stopped Poller.
func NewPoller(cfg PollerConfig) (*Poller, error) {
	if cfg.Watched == nil || cfg.Cursors == nil || cfg.Fire == nil {
		return nil, errors.New("jenkins poller: Watched, Cursors and Fire are required")
	}
	cfg.Interval = cmp.Or(cfg.Interval, DefaultPollInterval)
	if cfg.Interval < 0 {
		return nil, fmt.Errorf("jenkins poller: interval %s is negative", cfg.Interval)
	}
	cfg.MaxPerPoll = cmp.Or(cfg.MaxPerPoll, DefaultMaxPerPoll)
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Poller{cfg: cfg}, nil
}

// Start polls at once and then every interval until Stop or ctx ends. A
// second Start while running does nothing.
func (p *Poller) Start(ctx context.Context) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cancel != nil {
		return
	}
	ctx, p.cancel = context.WithCancel(ctx)
	p.done = make(chan struct{})
	go func(done chan struct{}) {
		defer close(done)
		t := time.NewTicker(p.cfg.Interval)
		defer t.Stop()
		for {
			if err := p.Poll(ctx); err != nil && ctx.Err() == nil {
				p.cfg.Logger.Error("jenkins poll", "err", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}(p.done)
}

// Stop ends polling and waits for a poll under way to return. It may be
// called twice, or without Start.
func (p *Poller) Stop() {
	p.mu.Lock()
	cancel, done := p.cancel, p.done
	p.cancel, p.done = nil, nil
	p.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

// Poll polls every watched job once (each (master, job) once however many
// triggers watch it) and returns the jobs' errors joined.
func (p *Poller) Poll(ctx context.Context) error {
	watched, err := p.cfg.Watched(ctx)
	if err != nil {
		return fmt.Errorf("jenkins poll: list watched jobs: %w", err)
	}
	seen := map[Watch]bool{}
	var errs []error
	for _, w := range watched {
		if seen[w] {
			continue
		}
		seen[w] = true
		if err := p.PollJob(ctx, w.Master, w.Job); err != nil {
			errs = append(errs, err)
		}
		if ctx.Err() != nil {
			break
		}
	}
	return errors.Join(errs...)
}

// PollJob polls one job now, e.g. when the Notification plugin says a
// build completed, with the same rules and cursor as the ticks, so that a
// build fires once whichever way it is noticed.
func (p *Poller) PollJob(ctx context.Context, master, job string) error {
	p.pollMu.Lock()
	defer p.pollMu.Unlock()
	c := p.cfg.Clients[master]
	if c == nil {
		return fmt.Errorf("jenkins trigger: master %q is not configured (jenkins.masters[].name)", master)
	}
	if p.cfg.Lock != nil {
		release, err := p.cfg.Lock(ctx, "jenkins:"+master+"/"+job)
		if err != nil {
			return fmt.Errorf("jenkins poll %s %s: %w", master, job, err)
		}
		defer release()
	}
	cursor, ok, err := p.cfg.Cursors.Cursor(ctx, master, job)
	if err != nil {
		return fmt.Errorf("jenkins poll %s %s: read cursor: %w", master, job, err)
	}
	if !ok {
		cursor = NoCursor
	}
	builds, err := c.Builds(ctx, job)
	if err != nil {
		return fmt.Errorf("jenkins poll %s %s: %w", master, job, err)
	}
	fire, next, flooded := NewBuilds(cursor, builds, p.cfg.MaxPerPoll)
	log := p.cfg.Logger.With("master", master, "job", job)
	if ok && next < cursor {
		log.Warn("jenkins job's newest build is below its cursor (job made again?); cursor reset, nothing fires",
			"from", cursor, "to", next)
	}
	if flooded > 0 {
		log.Warn("jenkins flood guard: too many new successful builds in one poll; none fires, the cursor jumps past them",
			"builds", flooded, "max_per_poll", p.cfg.MaxPerPoll, "from", cursor, "to", next)
	}
	for _, b := range fire {
		full, err := c.Build(ctx, job, b.Number)
		if err != nil {
			return fmt.Errorf("jenkins poll %s %s: %w", master, job, err)
		}
		if err := p.cfg.Fire(ctx, master, job, full); err != nil {
			return fmt.Errorf("jenkins trigger %s %s #%d: %w", master, job, b.Number, err)
		}
		log.Info("jenkins build fired", "build", b.Number)
		if err := p.cfg.Cursors.SetCursor(ctx, master, job, b.Number); err != nil {
			return fmt.Errorf("jenkins poll %s %s: store cursor: %w", master, job, err)
		}
		cursor = b.Number
	}
	if next != cursor || !ok {
		if !ok {
			log.Info("jenkins job watched: builds up to the cursor will not fire", "cursor", next)
		}
		if err := p.cfg.Cursors.SetCursor(ctx, master, job, next); err != nil {
			return fmt.Errorf("jenkins poll %s %s: store cursor: %w", master, job, err)
		}
	}
	return nil
}
