// Package pipeline holds pipelines and executions as Spinnaker shapes them
// (Front50's pipeline configs, Orca's executions, stages and statuses) and
// Orca's rules for them: the stage graph, the Bake stage's regions and
// children, package resolution (PackageInfo) and the expression subset.
// Like the root package it does no I/O: the runner package advances
// executions, adapters store them and talk to Jenkins and the clouds.
package pipeline
