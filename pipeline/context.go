package pipeline

import "context"

type stageKey struct{}

// WithStage returns ctx carrying the execution and stage a task runs for,
// so that the bakery adapter can name them to the bakery as Orca does
// (X-SPINNAKER-EXECUTION-ID): the bakery then knows which run asked for a
// bake, for delete-requests and for the bake's lineage.
func WithStage(ctx context.Context, executionID, stageID string) context.Context {
	return context.WithValue(ctx, stageKey{}, [2]string{executionID, stageID})
}

// StageOf returns the execution and stage ids WithStage put in ctx.
func StageOf(ctx context.Context) (executionID, stageID string, ok bool) {
	v, ok := ctx.Value(stageKey{}).([2]string)
	return v[0], v[1], ok
}
