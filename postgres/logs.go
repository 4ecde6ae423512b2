package postgres

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/bakehouse/bakehouse/bakery"
)

// logChannel is the NOTIFY channel on which a node announces that it
// appended to a bake's log (the payload is the bake's id), so that
// followers on every node read it at once instead of at their next poll.
const logChannel = "bakehouse_log"

// readLimit is the most lines a ReadFrom returns at once.
const readLimit = 5000

// LogStore keeps bake logs as rows, so that every node serves the log of
// every bake, and follows it while another node runs the bake.
type LogStore struct {
	db *DB
}

var _ bakery.LogBackend = (*LogStore)(nil)

// NewLogStore returns the log store of db.
func NewLogStore(db *DB) *LogStore { return &LogStore{db: db} }

// Append numbers and inserts lines and announces them, in one statement
// (one round trip, one transaction).
func (s *LogStore) Append(ctx context.Context, id string, lines []string) error {
	clean := make([]string, len(lines))
	for i, l := range lines {
		// PostgreSQL text holds neither NUL nor invalid UTF-8; Packer's
		// output (a provisioner's) may.
		clean[i] = strings.ToValidUTF8(strings.ReplaceAll(l, "\x00", ""), "\uFFFD")
	}
	_, err := s.db.pool.Exec(ctx, `
WITH h AS (
	INSERT INTO bake_logs (bake_id, lines) VALUES ($1, $2)
	ON CONFLICT (bake_id) DO UPDATE SET lines = bake_logs.lines + EXCLUDED.lines
	RETURNING lines
), ins AS (
	INSERT INTO bake_log_lines (bake_id, seq, line)
	SELECT $1, h.lines - $2 + l.n, l.line FROM h, unnest($3::text[]) WITH ORDINALITY AS l(line, n)
)
SELECT pg_notify($4, $1)`, id, int64(len(clean)), clean, logChannel)
	if err != nil {
		return fmt.Errorf("append log of bake %s: %w", id, err)
	}
	return nil
}

// ReadFrom returns the lines after seq cursor. One statement reads closed
// and the lines in one snapshot, so a closed chunk holds every line the
// run wrote.
func (s *LogStore) ReadFrom(ctx context.Context, id string, cursor int64) (bakery.LogChunk, error) {
	c := bakery.LogChunk{Next: cursor}
	rows, err := s.db.pool.Query(ctx, `
SELECT l.closed, x.seq, x.line FROM bake_logs l
LEFT JOIN LATERAL (
	SELECT seq, line FROM bake_log_lines WHERE bake_id = l.bake_id AND seq > $2 ORDER BY seq LIMIT $3
) x ON true
WHERE l.bake_id = $1
ORDER BY x.seq`, id, cursor, readLimit)
	if err != nil {
		return c, fmt.Errorf("read log of bake %s: %w", id, err)
	}
	defer rows.Close()
	var b strings.Builder
	n := 0
	for rows.Next() {
		var seq *int64
		var line *string
		if err := rows.Scan(&c.Closed, &seq, &line); err != nil {
			return bakery.LogChunk{Next: cursor}, fmt.Errorf("read log of bake %s: %w", id, err)
		}
		if seq == nil {
			continue
		}
		c.Next = *seq
		b.WriteString(*line)
		b.WriteByte('\n')
		n++
	}
	if err := rows.Err(); err != nil {
		return bakery.LogChunk{Next: cursor}, fmt.Errorf("read log of bake %s: %w", id, err)
	}
	c.Text, c.More = b.String(), n == readLimit
	return c, nil
}

// Close marks the log closed, and announces it.
func (s *LogStore) Close(ctx context.Context, id string) error {
	_, err := s.db.pool.Exec(ctx, `
WITH c AS (
	INSERT INTO bake_logs (bake_id, closed) VALUES ($1, true)
	ON CONFLICT (bake_id) DO UPDATE SET closed = true
)
SELECT pg_notify($2, $1)`, id, logChannel)
	if err != nil {
		return fmt.Errorf("close log of bake %s: %w", id, err)
	}
	return nil
}

// Listen calls wake with the id of each bake whose log a node (this one
// included) announces, and with "" (every bake) once it listens, after
// each (re)connection, until ctx ends. Followers poll as well, so a
// notification lost while it reconnects costs them at most their poll
// interval.
func (s *LogStore) Listen(ctx context.Context, wake func(id string), log *slog.Logger) {
	s.db.listen(ctx, logChannel, wake, log)
}
