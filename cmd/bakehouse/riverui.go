package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/bakehouse/bakehouse/postgres"
	"riverqueue.com/riverui"
)

// startRiverUI starts River UI (riverqueue.com/riverui) over the bake
// queue's River client, to be served at /riverui: operators see the bake
// jobs of every node, and why one failed or waits. It runs until ctx ends.
func startRiverUI(ctx context.Context, queue *postgres.Queue, log *slog.Logger) (http.Handler, error) {
	h, err := riverui.NewHandler(&riverui.HandlerOpts{
		Endpoints: riverui.NewEndpoints(queue.Client(), nil),
		Logger:    log,
		Prefix:    "/riverui",
	})
	if err != nil {
		return nil, fmt.Errorf("river ui: %w", err)
	}
	if err := h.Start(ctx); err != nil {
		return nil, fmt.Errorf("start river ui: %w", err)
	}
	return h, nil
}
