-- bake_logs: one row per bake log, so that any node reads and follows the
-- log of a bake that runs on another. lines counts the lines appended so
-- far: an append takes this row's lock to number its lines, so a bake's
-- lines commit in seq order and a follower that reads "seq > its cursor"
-- never skips one. closed is set once the bake's run has ended.
-- No foreign key to bakes: the log of a bake is written after the bake's
-- row commits, and a missing bake must not lose Packer's lines.
CREATE TABLE bake_logs (
	bake_id TEXT PRIMARY KEY,
	lines   BIGINT NOT NULL DEFAULT 0,
	closed  BOOLEAN NOT NULL DEFAULT false
);
-- bake_log_lines: the lines, already masked by the bakery (as in the log
-- files of the SQLite store).
CREATE TABLE bake_log_lines (
	bake_id TEXT NOT NULL,
	seq     BIGINT NOT NULL,
	line    TEXT NOT NULL,
	PRIMARY KEY (bake_id, seq)
);
