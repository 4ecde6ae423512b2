-- bakes: one row per bake. Rows are written whole in one transaction and
-- only change state RUNNING -> COMPLETED|CANCELED, never back.
CREATE TABLE bakes (
	id          TEXT PRIMARY KEY,
	bake_key    TEXT NOT NULL,
	rosco_key   TEXT NOT NULL,
	region      TEXT NOT NULL,
	provider    TEXT NOT NULL,
	state       TEXT NOT NULL CHECK (state IN ('RUNNING', 'COMPLETED', 'CANCELED')),
	result      TEXT CHECK (result IN ('SUCCESS', 'FAILURE')),
	request     TEXT NOT NULL,
	plan        TEXT NOT NULL,
	reason      TEXT NOT NULL DEFAULT '',
	details     TEXT,
	error       TEXT NOT NULL DEFAULT '',
	job_id      INTEGER NOT NULL DEFAULT 0,
	pid         INTEGER NOT NULL DEFAULT 0,
	phases      TEXT NOT NULL DEFAULT '[]',
	deleted     INTEGER NOT NULL DEFAULT 0,
	created_at  INTEGER NOT NULL,
	started_at  INTEGER NOT NULL DEFAULT 0,
	finished_at INTEGER NOT NULL DEFAULT 0,
	CHECK ((state = 'RUNNING') = (result IS NULL))
);
CREATE INDEX bakes_bake_key ON bakes (bake_key, created_at);
CREATE INDEX bakes_rosco_key ON bakes (rosco_key, created_at);
CREATE INDEX bakes_state ON bakes (state);
