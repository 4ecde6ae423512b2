// Package pipeline holds pipelines and executions as Spinnaker shapes them
// (Front50's pipeline configs, Orca's executions, stages and statuses) and
// Orca's rules for them: the stage graph, the Bake stage's regions and
// children, package resolution (PackageInfo) and the expression subset.
// Like the root package it does no I/O: the runner package advances
// executions, adapters store them and talk to Jenkins and the clouds.
//
// A Bake stage runs as Orca runs it. When the top-level stage starts,
// BakeChildren gives its "Bake in <region>" children (they go before it
// in the execution) and BakeStageTasks its one task. Each child runs
// createBake (CreateBake), monitorBake (MonitorBake, again every backoff
// of TaskTiming while it answers RUNNING), completedBake (CompletedBake)
// and bindProducedArtifacts (nothing to bind without expectedArtifacts);
// each task's map is merged into the stage's context, as Orca merges a
// TaskResult's context. Once every child succeeded, the parent's
// completeParallel (CompleteParallelBake) gives its outputs. A Find Image
// from Tags stage runs FindImageFromTags (its update into the context,
// its outputs into the outputs). A task's error fails the stage TERMINAL
// with context.exception = ExceptionContext(err, now); a *UserError's
// text is meant for the user as it is.
package pipeline
