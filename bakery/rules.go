package bakery

import (
	"context"
	"fmt"

	"github.com/bakehouse/bakehouse"
)

// The bake rules live here, over the store's primitives (BakesByKey and
// the CreateBake transaction), so that every store applies the same ones.

// reusable reports whether a request with the same key may get b back
// instead of a new bake: Rosco reuses a RUNNING bake (the request joins
// it) and a COMPLETED/SUCCESS one, unless it was deleted.
func reusable(b *bakehouse.BakeRecord) bool {
	if b.Deleted {
		return false
	}
	if b.State == bakehouse.StateRunning {
		return true
	}
	return b.State == bakehouse.StateCompleted && b.Result != nil && *b.Result == bakehouse.ResultSuccess
}

// newestReusable returns the bake a request gets back among bakes (newest
// first), or nil.
func newestReusable(bakes []*bakehouse.BakeRecord) *bakehouse.BakeRecord {
	for _, b := range bakes {
		if reusable(b) {
			return b
		}
	}
	return nil
}

// lookup reads the bakes with key, newest first, as far as the first
// reusable one: it returns that one (nil when none) and the newest bake
// with the key (nil when none), which says why a new bake is needed.
func (s *Service) lookup(ctx context.Context, key string) (reuse, newest *bakehouse.BakeRecord, err error) {
	err = s.store.BakesByKey(ctx, key, func(b *bakehouse.BakeRecord) bool {
		if newest == nil {
			newest = b
		}
		if reusable(b) {
			reuse = b
			return false
		}
		return true
	})
	return reuse, newest, err
}

// decide is the rule CreateBake applies inside its transaction for rec:
// without rebake, the newest reusable bake is reused; with rebake, rec is
// created and ends every bake with its key still RUNNING (deleted ones
// too: a rebake leaves one Packer per key), CANCELED/FAILURE, so that two
// builds of the same inputs do not race to publish.
func decide(rec *bakehouse.BakeRecord, rebake bool) func([]*bakehouse.BakeRecord) bakehouse.CreateDecision {
	return func(existing []*bakehouse.BakeRecord) bakehouse.CreateDecision {
		if !rebake {
			return bakehouse.CreateDecision{Reuse: newestReusable(existing)}
		}
		var d bakehouse.CreateDecision
		for _, b := range existing {
			if b.State == bakehouse.StateRunning {
				d.Supersede = append(d.Supersede, bakehouse.FinishBakeParams{
					ID: b.ID, State: bakehouse.StateCanceled, Result: bakehouse.ResultFailure,
					Error: supersededBy(rec.ID), Phases: b.Phases,
				})
			}
		}
		return d
	}
}

func supersededBy(id string) string { return "superseded by rebake " + id }

// previousReason says why a request that reuses nothing gets a new bake,
// from the newest bake with its key; "" when there is none.
func previousReason(prev *bakehouse.BakeRecord) string {
	if prev == nil {
		return ""
	}
	if prev.Deleted && reusable(&bakehouse.BakeRecord{State: prev.State, Result: prev.Result}) {
		return fmt.Sprintf("previous bake %s with the same inputs was deleted", prev.ID)
	}
	return fmt.Sprintf("previous bake %s with the same inputs ended %s/%s", prev.ID, prev.State, deref(prev.Result))
}

// FindReusable returns the bake a request with key would get back, or nil.
func (s *Service) FindReusable(ctx context.Context, key string) (*bakehouse.BakeRecord, error) {
	reuse, _, err := s.lookup(ctx, key)
	return reuse, err
}
