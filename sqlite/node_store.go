package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/bakehouse/bakehouse"
)

var _ bakehouse.NodeStore = (*BakeStore)(nil)

// Heartbeat records that node n is alive now. SQLite is one node's
// database, so the node's clock is the store's.
func (s *BakeStore) Heartbeat(ctx context.Context, n bakehouse.Node) error {
	now := s.db.Now().UnixMilli()
	started := toMillis(n.StartedAt)
	if started == 0 {
		started = now
	}
	_, err := s.db.db.ExecContext(ctx, `INSERT INTO nodes (id, url, concurrency, started_at, seen_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET url = excluded.url, concurrency = excluded.concurrency, seen_at = excluded.seen_at`,
		n.ID, n.URL, n.Concurrency, started, now)
	if err != nil {
		return fmt.Errorf("heartbeat of node %s: %w", n.ID, err)
	}
	return nil
}

// Nodes returns every node, live or dead, ordered by id, with its age by
// the store's clock.
func (s *BakeStore) Nodes(ctx context.Context) ([]bakehouse.Node, error) {
	rows, err := s.db.read.QueryContext(ctx, `SELECT id, url, concurrency, started_at, seen_at FROM nodes ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("nodes: %w", err)
	}
	defer rows.Close()
	var out []bakehouse.Node
	now := s.db.Now()
	for rows.Next() {
		var n bakehouse.Node
		var started, seen int64
		if err := rows.Scan(&n.ID, &n.URL, &n.Concurrency, &started, &seen); err != nil {
			return nil, fmt.Errorf("nodes: %w", err)
		}
		n.StartedAt, n.SeenAt = fromMillis(started), fromMillis(seen)
		n.Age = now.Sub(n.SeenAt)
		out = append(out, n)
	}
	return out, rows.Err()
}

// RemoveNode forgets a node that stopped cleanly.
func (s *BakeStore) RemoveNode(ctx context.Context, id string) error {
	if _, err := s.db.db.ExecContext(ctx, `DELETE FROM nodes WHERE id = ?`, id); err != nil {
		return fmt.Errorf("remove node %s: %w", id, err)
	}
	return nil
}

// PruneNodes forgets the nodes dead for longer than deadFor that no
// RUNNING bake names.
func (s *BakeStore) PruneNodes(ctx context.Context, deadFor time.Duration) (int, error) {
	res, err := s.db.db.ExecContext(ctx, `DELETE FROM nodes WHERE seen_at < ?
		AND NOT EXISTS (SELECT 1 FROM bakes WHERE bakes.state = 'RUNNING' AND (bakes.node = nodes.id OR bakes.queued_on = nodes.id))`,
		s.db.Now().Add(-deadFor).UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("prune nodes: %w", err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}
