-- Pipelines (Spinnaker's configs, stored whole as Front50 does) and their
-- executions (Orca's execution JSON, rewritten as they progress), plus the
-- Jenkins trigger's per-job build cursor. Bodies are text, kept byte for
-- byte as written (numbers included); seq orders executions with the same
-- build time (SQLite's rowid).
CREATE TABLE pipeline_configs (
	id          TEXT PRIMARY KEY,
	application TEXT NOT NULL,
	name        TEXT NOT NULL,
	body        TEXT NOT NULL,
	updated_at  BIGINT NOT NULL,
	UNIQUE (application, name)
);
CREATE TABLE executions (
	seq                BIGINT GENERATED ALWAYS AS IDENTITY,
	id                 TEXT PRIMARY KEY,
	application        TEXT NOT NULL,
	pipeline_config_id TEXT NOT NULL,
	status             TEXT NOT NULL,
	build_time         BIGINT NOT NULL,
	body               TEXT NOT NULL
);
CREATE INDEX executions_application ON executions (application, build_time DESC);
CREATE INDEX executions_config ON executions (pipeline_config_id, build_time DESC);
CREATE INDEX executions_status ON executions (status);
CREATE TABLE jenkins_cursors (
	master     TEXT NOT NULL,
	job        TEXT NOT NULL,
	last_build INTEGER NOT NULL,
	PRIMARY KEY (master, job)
);
