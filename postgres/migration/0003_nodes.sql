-- nodes: one row per bakery process sharing this database, with its last
-- heartbeat. A node whose heartbeat is older than bakehouse.NodeTimeout is
-- dead: the live nodes end the bakes it ran. Times are Unix milliseconds.
CREATE TABLE nodes (
	id          TEXT PRIMARY KEY,
	url         TEXT NOT NULL DEFAULT '',
	concurrency INTEGER NOT NULL DEFAULT 0,
	started_at  BIGINT NOT NULL,
	seen_at     BIGINT NOT NULL
);
-- queued_on is the node that accepted a bake, node the one that runs it
-- ('' while queued); sealed_argv the secret command line, encrypted with
-- the operator's key (NULL without secrets or key).
ALTER TABLE bakes ADD COLUMN queued_on TEXT NOT NULL DEFAULT '';
ALTER TABLE bakes ADD COLUMN node TEXT NOT NULL DEFAULT '';
ALTER TABLE bakes ADD COLUMN sealed_argv BYTEA;
