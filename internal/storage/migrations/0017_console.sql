-- The operators' console sessions (internal/console). A session's id is
-- random (256 bits) and lives only in the operator's cookie; the table
-- keeps its SHA-256 digest (hex), so that a copy of the database opens no
-- session. queues is a JSON array of queue ids ([] = all queues); source
-- says how the operator signed in (local, later genesys); csrf is the
-- session's CSRF secret. Times are Unix microseconds; housekeeping deletes
-- the sessions past their idle or absolute timeout.
CREATE TABLE console_sessions (
	digest       TEXT PRIMARY KEY,
	operator     TEXT NOT NULL,
	role         TEXT NOT NULL,
	queues       TEXT NOT NULL,
	source       TEXT NOT NULL,
	csrf         TEXT NOT NULL,
	created_at   BIGINT NOT NULL,
	last_seen_at BIGINT NOT NULL
);
CREATE INDEX console_sessions_last_seen ON console_sessions (last_seen_at);
CREATE INDEX console_sessions_created ON console_sessions (created_at);
