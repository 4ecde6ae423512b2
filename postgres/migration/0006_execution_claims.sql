-- fired_by: the Jenkins build that started a run (pipeline, master, job,
-- build number), unique, so that a build starts one run of a pipeline
-- even when its node died before it stored the job's cursor. driver: the
-- token of the node that drives the run now, taken with the run's lock;
-- a save by any other token writes nothing (a node that lost the run
-- stops). cancel_*: a cancel asked while the run was driven, kept for
-- whichever node drives it next.
ALTER TABLE executions ADD COLUMN fired_by TEXT;
ALTER TABLE executions ADD COLUMN driver TEXT NOT NULL DEFAULT '';
ALTER TABLE executions ADD COLUMN cancel_requested BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE executions ADD COLUMN cancel_user TEXT NOT NULL DEFAULT '';
ALTER TABLE executions ADD COLUMN cancel_reason TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX executions_fired_by ON executions (fired_by) WHERE fired_by IS NOT NULL;
