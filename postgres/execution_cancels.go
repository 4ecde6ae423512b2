package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// cancelChannel is the NOTIFY channel that carries a pipeline run's
// cancel from the node that received it to the node that drives the run.
const cancelChannel = "bakehouse_execution_cancel"

// ExecutionCancels carries the cancel of a pipeline run to the node that
// drives it (it holds the run's lock in Locks, so no other node may write
// the run): NOTIFY on the node that received the cancel, LISTEN on every
// node. It is the runner's runner.CancelRelay on PostgreSQL.
type ExecutionCancels struct{ db *DB }

// NewExecutionCancels returns the cancel relay of db.
func NewExecutionCancels(db *DB) *ExecutionCancels { return &ExecutionCancels{db: db} }

type cancelNote struct {
	ID     string `json:"id"`
	User   string `json:"user,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// Send asks every node to cancel execution id; the one that drives it
// does.
func (c *ExecutionCancels) Send(ctx context.Context, id, user, reason string) error {
	// A NOTIFY payload is limited to 8000 bytes.
	if len(reason) > 2000 {
		reason = reason[:2000]
	}
	body, err := json.Marshal(cancelNote{id, user, reason})
	if err != nil {
		return err
	}
	if _, err := c.db.pool.Exec(ctx, `SELECT pg_notify($1, $2)`, cancelChannel, string(body)); err != nil {
		return fmt.Errorf("send cancel of execution %s: %w", id, err)
	}
	return nil
}

// Listen calls fn for every cancel any node sends, until ctx ends, on a
// connection of its own (connected again a second after it breaks).
func (c *ExecutionCancels) Listen(ctx context.Context, fn func(id, user, reason string)) {
	for ctx.Err() == nil {
		err := c.listen(ctx, fn)
		if ctx.Err() != nil {
			return
		}
		_ = err // the connection broke: listen again
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

func (c *ExecutionCancels) listen(ctx context.Context, fn func(id, user, reason string)) error {
	conn, err := pgx.ConnectConfig(ctx, c.db.pool.Config().ConnConfig.Copy())
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "LISTEN "+cancelChannel); err != nil {
		return err
	}
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		var note cancelNote
		if json.Unmarshal([]byte(n.Payload), &note) == nil && note.ID != "" {
			fn(note.ID, note.User, note.Reason)
		}
	}
}
