package postgres

import (
	"context"
	"fmt"

	"github.com/bakehouse/bakehouse"
)

var _ bakehouse.NodeStore = (*BakeStore)(nil)

// Heartbeat records that node n is alive now. SeenAt is this node's clock,
// like every time the stores keep: the nodes' clocks must agree (NTP) to
// well within bakehouse.NodeTimeout.
func (s *BakeStore) Heartbeat(ctx context.Context, n bakehouse.Node) error {
	now := s.db.Now().UnixMilli()
	started := toMillis(n.StartedAt)
	if started == 0 {
		started = now
	}
	_, err := s.db.pool.Exec(ctx, `INSERT INTO nodes (id, url, concurrency, started_at, seen_at) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (id) DO UPDATE SET url = excluded.url, concurrency = excluded.concurrency, seen_at = excluded.seen_at`,
		n.ID, n.URL, n.Concurrency, started, now)
	if err != nil {
		return fmt.Errorf("heartbeat of node %s: %w", n.ID, err)
	}
	return nil
}

// Nodes returns every node, live or dead, ordered by id.
func (s *BakeStore) Nodes(ctx context.Context) ([]bakehouse.Node, error) {
	rows, err := s.db.pool.Query(ctx, `SELECT id, url, concurrency, started_at, seen_at FROM nodes ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("nodes: %w", err)
	}
	defer rows.Close()
	var out []bakehouse.Node
	for rows.Next() {
		var n bakehouse.Node
		var started, seen int64
		if err := rows.Scan(&n.ID, &n.URL, &n.Concurrency, &started, &seen); err != nil {
			return nil, fmt.Errorf("nodes: %w", err)
		}
		n.StartedAt, n.SeenAt = fromMillis(started), fromMillis(seen)
		out = append(out, n)
	}
	return out, rows.Err()
}

// RemoveNode forgets a node that stopped cleanly.
func (s *BakeStore) RemoveNode(ctx context.Context, id string) error {
	if _, err := s.db.pool.Exec(ctx, `DELETE FROM nodes WHERE id = $1`, id); err != nil {
		return fmt.Errorf("remove node %s: %w", id, err)
	}
	return nil
}
