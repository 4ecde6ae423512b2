package main

import (
	"runtime/debug"
	"testing"
)

// TestServeGCPercent: serve sets the collector's target to serveGCPercent,
// and leaves it alone when the operator set GOGC.
func TestServeGCPercent(t *testing.T) {
	orig := debug.SetGCPercent(100)
	defer debug.SetGCPercent(orig)

	srv := startServer(t, t.TempDir(), "", map[string]string{"GOGC": ""})
	if got := debug.SetGCPercent(150); got != serveGCPercent {
		t.Errorf("GC percent while serving = %d, want %d", got, serveGCPercent)
	}
	srv.stop(t)

	srv = startServer(t, t.TempDir(), "", map[string]string{"GOGC": "150"})
	if got := debug.SetGCPercent(100); got != 150 {
		t.Errorf("GC percent with GOGC=150 = %d, want 150 (the operator's)", got)
	}
	srv.stop(t)
}
