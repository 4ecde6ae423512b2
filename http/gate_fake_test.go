package http_test

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/bakehouse/bakehouse"
	"github.com/bakehouse/bakehouse/pipeline"
)

// memPipelines is an in-memory pipeline.Service standing in for the
// runner until it lands: configs by id, executions in start order. A
// started execution stays RUNNING until cancelled.
type memPipelines struct {
	mu    sync.Mutex
	cfgs  map[string]*pipeline.Config
	exs   []*pipeline.Execution
	seq   int
	clock int64
}

func newMemPipelines() *memPipelines { return &memPipelines{cfgs: map[string]*pipeline.Config{}} }

var _ pipeline.Service = (*memPipelines)(nil)

func notFound(format string, args ...any) error {
	return bakehouse.Errorf(bakehouse.ENOTFOUND, format, args...)
}

func (m *memPipelines) SavePipeline(_ context.Context, cfg *pipeline.Config) (*pipeline.Config, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	id := cfg.ID()
	if id == "" {
		for _, c := range m.cfgs {
			if c.Application() == cfg.Application() && c.Name() == cfg.Name() {
				id = c.ID()
			}
		}
	}
	if id == "" {
		m.seq++
		id = fmt.Sprintf("cfg-%d", m.seq)
	}
	f := map[string]any{}
	for k, v := range cfg.Fields {
		f[k] = v
	}
	f["id"] = id
	c := &pipeline.Config{Fields: f}
	m.cfgs[id] = c
	return c, nil
}

func (m *memPipelines) find(app, name string) *pipeline.Config {
	for _, c := range m.cfgs {
		if c.Application() == app && c.Name() == name {
			return c
		}
	}
	return nil
}

func (m *memPipelines) Pipeline(_ context.Context, app, name string) (*pipeline.Config, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if c := m.find(app, name); c != nil {
		return c, nil
	}
	return nil, notFound("no pipeline %s in %s", name, app)
}

func (m *memPipelines) Pipelines(_ context.Context, app string) ([]*pipeline.Config, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*pipeline.Config
	for _, c := range m.cfgs {
		if c.Application() == app {
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out, nil
}

func (m *memPipelines) DeletePipeline(_ context.Context, app, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.find(app, name)
	if c == nil {
		return notFound("no pipeline %s in %s", name, app)
	}
	delete(m.cfgs, c.ID())
	return nil
}

func (m *memPipelines) Applications(context.Context) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	seen := map[string]bool{}
	var out []string
	for _, c := range m.cfgs {
		if !seen[c.Application()] {
			seen[c.Application()] = true
			out = append(out, c.Application())
		}
	}
	sort.Strings(out)
	return out, nil
}

func (m *memPipelines) Start(_ context.Context, app, name string, trigger map[string]any) (*pipeline.Execution, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.find(app, name)
	if c == nil {
		return nil, notFound("no pipeline %s in %s", name, app)
	}
	m.seq++
	m.clock++
	now := time.Now().UnixMilli() + m.clock
	ex := &pipeline.Execution{Type: "PIPELINE", ID: fmt.Sprintf("ex-%d", m.seq), Application: app, Name: name,
		PipelineConfigID: c.ID(), Status: pipeline.Running, BuildTime: now, StartTime: &now, Trigger: trigger,
		Stages: []*pipeline.Stage{}}
	m.exs = append(m.exs, ex)
	return ex, nil
}

func (m *memPipelines) Execution(_ context.Context, id string) (*pipeline.Execution, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, ex := range m.exs {
		if ex.ID == id {
			return ex, nil
		}
	}
	return nil, notFound("no execution %s", id)
}

func contains[T comparable](l []T, v T) bool {
	for _, e := range l {
		if e == v {
			return true
		}
	}
	return false
}

func (m *memPipelines) Executions(_ context.Context, f pipeline.ExecutionFilter) ([]*pipeline.Execution, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	limit := f.Limit
	if limit == 0 {
		limit = 25
	}
	var out []*pipeline.Execution
	for i := len(m.exs) - 1; i >= 0 && len(out) < limit; i-- {
		ex := m.exs[i]
		if (f.Application == "" || ex.Application == f.Application) &&
			(len(f.IDs) == 0 || contains(f.IDs, ex.ID)) &&
			(len(f.PipelineConfigIDs) == 0 || contains(f.PipelineConfigIDs, ex.PipelineConfigID)) &&
			(len(f.Statuses) == 0 || contains(f.Statuses, ex.Status)) {
			out = append(out, ex)
		}
	}
	return out, nil
}

func (m *memPipelines) Cancel(_ context.Context, id, user, reason string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, ex := range m.exs {
		if ex.ID == id {
			ex.Status, ex.Canceled, ex.CanceledBy, ex.CancelReason = pipeline.Canceled, true, user, reason
			return nil
		}
	}
	return notFound("no execution %s", id)
}
