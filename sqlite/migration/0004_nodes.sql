-- nodes: the bakery processes using this database (with SQLite, one) and
-- their last heartbeats, as in the PostgreSQL store, so that one bakery
-- serves both. Times are Unix milliseconds.
CREATE TABLE nodes (
	id          TEXT PRIMARY KEY,
	url         TEXT NOT NULL DEFAULT '',
	concurrency INTEGER NOT NULL DEFAULT 0,
	started_at  INTEGER NOT NULL,
	seen_at     INTEGER NOT NULL
);
-- queued_on is the node that accepted a bake, node the one that runs it
-- ('' while queued); sealed_argv the secret command line, encrypted with
-- the operator's key (NULL without secrets or key).
ALTER TABLE bakes ADD COLUMN queued_on TEXT NOT NULL DEFAULT '';
ALTER TABLE bakes ADD COLUMN node TEXT NOT NULL DEFAULT '';
ALTER TABLE bakes ADD COLUMN sealed_argv BLOB;
