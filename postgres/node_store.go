package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/bakehouse/bakehouse"
)

var _ bakehouse.NodeStore = (*BakeStore)(nil)

// dbNowMillis is the database server's clock in Unix milliseconds. The
// heartbeats are written and judged by it, not by the nodes' clocks, so
// that a node whose clock is off neither looks dead while it runs nor
// alive after it died. clock_timestamp, not now: now is the start of the
// transaction.
const dbNowMillis = `(extract(epoch FROM clock_timestamp()) * 1000)::bigint`

// Heartbeat records that node n is alive now, by the database's clock.
// StartedAt is the node's own (for operators only); without one it is the
// database's now.
func (s *BakeStore) Heartbeat(ctx context.Context, n bakehouse.Node) error {
	_, err := s.db.pool.Exec(ctx, `INSERT INTO nodes (id, url, concurrency, started_at, seen_at)
		VALUES ($1, $2, $3, COALESCE(NULLIF($4::bigint, 0), `+dbNowMillis+`), `+dbNowMillis+`)
		ON CONFLICT (id) DO UPDATE SET url = excluded.url, concurrency = excluded.concurrency, seen_at = excluded.seen_at`,
		n.ID, n.URL, n.Concurrency, toMillis(n.StartedAt))
	if err != nil {
		return fmt.Errorf("heartbeat of node %s: %w", n.ID, err)
	}
	return nil
}

// Nodes returns every node, live or dead, ordered by id, with its age by
// the database's clock.
func (s *BakeStore) Nodes(ctx context.Context) ([]bakehouse.Node, error) {
	rows, err := s.db.pool.Query(ctx, `SELECT id, url, concurrency, started_at, seen_at, `+dbNowMillis+` - seen_at FROM nodes ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("nodes: %w", err)
	}
	defer rows.Close()
	var out []bakehouse.Node
	for rows.Next() {
		var n bakehouse.Node
		var started, seen, age int64
		if err := rows.Scan(&n.ID, &n.URL, &n.Concurrency, &started, &seen, &age); err != nil {
			return nil, fmt.Errorf("nodes: %w", err)
		}
		n.StartedAt, n.SeenAt, n.Age = fromMillis(started), fromMillis(seen), time.Duration(age)*time.Millisecond
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

// PruneNodes forgets the nodes dead for longer than deadFor, by the
// database's clock, that no RUNNING bake names.
func (s *BakeStore) PruneNodes(ctx context.Context, deadFor time.Duration) (int, error) {
	tag, err := s.db.pool.Exec(ctx, `DELETE FROM nodes WHERE seen_at < `+dbNowMillis+` - $1
		AND NOT EXISTS (SELECT 1 FROM bakes WHERE bakes.state = 'RUNNING' AND (bakes.node = nodes.id OR bakes.queued_on = nodes.id))`,
		deadFor.Milliseconds())
	if err != nil {
		return 0, fmt.Errorf("prune nodes: %w", err)
	}
	return int(tag.RowsAffected()), nil
}
