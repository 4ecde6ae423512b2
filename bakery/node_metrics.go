package bakery

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// NodeCollector exports this node's figures, read from the database at
// each scrape (several nodes share one queue, so no in-memory counter of
// one node can tell): the bakes its workers run and the bakes it accepted
// that wait for a worker, labelled with its node id, and how many nodes
// are alive.
type NodeCollector struct {
	svc   *Service
	bakes *prometheus.Desc
	live  *prometheus.Desc
}

// NewNodeCollector returns the collector of svc's node; register it with
// the metrics registry.
func NewNodeCollector(svc *Service) *NodeCollector {
	return &NodeCollector{
		svc: svc,
		bakes: prometheus.NewDesc("bakehouse_node_bakes", "Bakes of this node by state: running (its workers run them) or queued (it accepted them; no worker has taken them yet).",
			[]string{"node", "state"}, nil),
		live: prometheus.NewDesc("bakehouse_nodes_live", "Nodes whose heartbeat is recent, this one included.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *NodeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.bakes
	ch <- c.live
}

// Collect implements prometheus.Collector. A database that does not
// answer within seconds leaves the figures out of this scrape.
func (c *NodeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	nodes, err := c.svc.Cluster(ctx)
	if err != nil {
		c.svc.log.Warn("node metrics", "err", err)
		return
	}
	self := nodes[0]
	ch <- prometheus.MustNewConstMetric(c.bakes, prometheus.GaugeValue, float64(len(self.Running)), self.Node.ID, "running")
	ch <- prometheus.MustNewConstMetric(c.bakes, prometheus.GaugeValue, float64(len(self.Queued)), self.Node.ID, "queued")
	ch <- prometheus.MustNewConstMetric(c.live, prometheus.GaugeValue, float64(len(nodes)))
}
