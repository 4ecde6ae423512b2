-- bakes: one row per bake, as in the SQLite store (same columns, same
-- rules): rows are written whole in one transaction and only change state
-- RUNNING -> COMPLETED|CANCELED, never back. Times are Unix milliseconds
-- (0 for "not yet"), as in SQLite, so both stores read the same way.
-- seq orders bakes created in the same millisecond (SQLite's rowid).
-- details is jsonb because BakeByImage searches it; request, plan and
-- phases are only ever read whole, so they stay text.
CREATE TABLE bakes (
	seq          BIGINT GENERATED ALWAYS AS IDENTITY,
	id           TEXT PRIMARY KEY,
	bake_key     TEXT NOT NULL,
	rosco_key    TEXT NOT NULL,
	region       TEXT NOT NULL,
	provider     TEXT NOT NULL,
	state        TEXT NOT NULL CHECK (state IN ('RUNNING', 'COMPLETED', 'CANCELED')),
	result       TEXT CHECK (result IN ('SUCCESS', 'FAILURE')),
	request      TEXT NOT NULL,
	plan         TEXT NOT NULL,
	reason       TEXT NOT NULL DEFAULT '',
	details      JSONB,
	error        TEXT NOT NULL DEFAULT '',
	job_id       BIGINT NOT NULL DEFAULT 0,
	pid          INTEGER NOT NULL DEFAULT 0,
	phases       TEXT NOT NULL DEFAULT '[]',
	deleted      BOOLEAN NOT NULL DEFAULT false,
	execution_id TEXT NOT NULL DEFAULT '',
	created_at   BIGINT NOT NULL,
	started_at   BIGINT NOT NULL DEFAULT 0,
	finished_at  BIGINT NOT NULL DEFAULT 0,
	CHECK ((state = 'RUNNING') = (result IS NULL))
);
CREATE INDEX bakes_bake_key ON bakes (bake_key, created_at DESC, seq DESC);
CREATE INDEX bakes_rosco_key ON bakes (rosco_key, created_at DESC, seq DESC);
CREATE INDEX bakes_state ON bakes (state);
CREATE INDEX bakes_execution_id ON bakes (execution_id) WHERE execution_id != '';
