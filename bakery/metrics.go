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
	}
	if reg != nil {
		reg.MustRegister(m.Requested, m.Completed, m.active, m.Phase, m.Duration)
	}
	return m
}

func (m *Metrics) requested(flavor string) { m.Requested.WithLabelValues(flavor).Inc() }

// finished counts a bake that left RUNNING.
func (m *Metrics) finished(r bakehouse.BakeResult) {
	m.active.Dec()
	m.Completed.WithLabelValues(string(r)).Inc()
}
