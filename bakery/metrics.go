package bakery

import (
	"github.com/bakehouse/bakehouse"
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the bakery's Prometheus metrics: Rosco's counters (bakes
// requested by flavor, completed by result, active) plus phase timings.
type Metrics struct {
	Requested *prometheus.CounterVec
	Completed *prometheus.CounterVec
	active    prometheus.Gauge
	Phase     *prometheus.HistogramVec
	Duration  prometheus.Histogram
	// KeyCache counts bake requests by what the key cache had for them:
	// hit (the key, its inputs unchanged), stale (a key whose inputs
	// changed since) or miss.
	KeyCache                                 *prometheus.CounterVec
	keyCacheHit, keyCacheStale, keyCacheMiss prometheus.Counter
}

// NewMetrics registers the metrics with reg (nil: not registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Requested: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bakehouse_bakes_requested_total", Help: "Bake requests by flavor: plain (new bake), duplicate (reused), rebake.",
		}, []string{"flavor"}),
		Completed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bakehouse_bakes_completed_total", Help: "Bakes that ended, by result.",
		}, []string{"result"}),
		active: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "bakehouse_bakes_active", Help: "Bakes queued or running on this instance.",
		}),
		Phase: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "bakehouse_bake_phase_seconds", Help: "Wall time of each bake phase.",
			Buckets: []float64{0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800},
		}, []string{"phase"}),
		Duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "bakehouse_bake_duration_seconds", Help: "Wall time of whole bakes, from request to end.",
			Buckets: []float64{1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600},
		}),
		KeyCache: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bakehouse_bake_key_cache_total", Help: "Bake requests (without rebake) by what the bake key cache had: hit, stale (inputs changed since) or miss.",
		}, []string{"result"}),
	}
	m.keyCacheHit = m.KeyCache.WithLabelValues("hit")
	m.keyCacheStale = m.KeyCache.WithLabelValues("stale")
	m.keyCacheMiss = m.KeyCache.WithLabelValues("miss")
	if reg != nil {
		reg.MustRegister(m.Requested, m.Completed, m.active, m.Phase, m.Duration, m.KeyCache)
	}
	return m
}

func (m *Metrics) requested(flavor string) { m.Requested.WithLabelValues(flavor).Inc() }

// finished counts a bake that left RUNNING.
func (m *Metrics) finished(r bakehouse.BakeResult) {
	m.active.Dec()
	m.Completed.WithLabelValues(string(r)).Inc()
}
