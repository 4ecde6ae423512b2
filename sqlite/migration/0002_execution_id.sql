-- execution_id: the Spinnaker pipeline execution that asked for the bake
-- (X-SPINNAKER-EXECUTION-ID), so that POST /api/v1/bakes/delete-requests
-- can forget every bake of an execution.
ALTER TABLE bakes ADD COLUMN execution_id TEXT NOT NULL DEFAULT '';
CREATE INDEX bakes_execution_id ON bakes (execution_id) WHERE execution_id != '';
