package pipeline

import (
	"context"
	"strings"
)

// BakeEndReasons is a bakery that says why a bake ended: Bakehouse's
// GET /api/v1/bakes/{id} "error" (Rosco's BakeStatus has no room for it).
// With it, a Bake stage whose bake ended because the node that ran it died
// submits the bake again instead of failing.
type BakeEndReasons interface {
	EndReason(ctx context.Context, region, id string) (string, error)
}

// ContextResubmitted is the region child's context key that records the
// bake submitted again after its node died (the dead bake's id), so that
// it is done once.
const ContextResubmitted = "resubmittedAfterNodeDied"

// NodeDied reports whether a bake's error says it ended because the
// bakery process that ran it died, not because the bake failed: the
// bakery's words when a live node ends a dead node's bakes
// (bakery.Service.EndDeadNodesBakes), or when the node, back after it
// died, ends the bakes it left (bakery.Service.Recover).
func NodeDied(reason string) bool {
	return strings.Contains(reason, ", which ran this bake, ") ||
		strings.Contains(reason, "the bakery restarted while this bake was running")
}

// resubmitAfterNodeDied submits the bake of region child s again, once,
// when the bake it waited for (status) ended CANCELED or FAILURE because
// its node died: a run taken over from a node killed with kill -9 submits
// its bake again, and that request may join the dead node's RUNNING bake
// before the live nodes end it. It returns nil, nil when the bake's end
// stands.
func resubmitAfterNodeDied(ctx context.Context, b Bakery, e *Execution, s *Stage, set Settings, status map[string]any) (map[string]any, error) {
	r, ok := b.(BakeEndReasons)
	state := str(status["state"])
	failed := state == "CANCELED" || state == "CANCELLED" || state == "COMPLETED" && status["result"] != "SUCCESS"
	if !ok || !failed || s.Context[ContextResubmitted] != nil {
		return nil, nil
	}
	id := javaString(status["id"])
	reason, err := r.EndReason(ctx, str(s.Context["region"]), id)
	if err != nil || !NodeDied(reason) {
		return nil, nil // the bake's own end: it stands
	}
	update, err := createBake(ctx, b, e, s, set)
	if err != nil {
		return nil, err
	}
	update[ContextResubmitted] = id
	msgs, _ := s.Context["messages"].([]any)
	update["messages"] = append(msgs, "Bake "+id+" ended because the node that ran it died ("+reason+"); the bake was submitted again.")
	return update, nil
}
