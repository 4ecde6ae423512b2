-- packages: the cluster's package repository. An upload to any node is
-- inserted here in one transaction, and every node copies the file into
-- its own repository directory (checking sha256 and size) and indexes it.
-- A row is never changed: a file name keeps its content. content is a
-- large object, so that a package is streamed in and out in chunks.
-- name, version and arch are empty for files apt does not index (.rpm,
-- .nupkg); uploaded_at is Unix milliseconds.
CREATE TABLE packages (
	file_name   TEXT PRIMARY KEY,
	name        TEXT NOT NULL DEFAULT '',
	version     TEXT NOT NULL DEFAULT '',
	arch        TEXT NOT NULL DEFAULT '',
	sha256      TEXT NOT NULL,
	size        BIGINT NOT NULL,
	content     OID NOT NULL,
	node        TEXT NOT NULL DEFAULT '',
	uploaded_at BIGINT NOT NULL
);
