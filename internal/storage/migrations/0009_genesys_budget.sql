-- The Genesys rate budget shared by every process on one database
-- (genesys.rate_limit is the deployment's, not each process's): one row per
-- OAuth client (key), holding a token bucket (tokens, as of updated_at), a
-- pause every process obeys (paused_until: a 429's Retry-After) and the
-- allowance Genesys states (allowed calls a minute, until allowed_until),
-- with what the last take granted. Times are Unix microseconds. SQLite has
-- one process, which keeps its budget in memory; the table is there so that
-- both schemas have the same versions.
CREATE TABLE genesys_budget (
	key           TEXT PRIMARY KEY,
	tokens        DOUBLE PRECISION NOT NULL,
	updated_at    BIGINT NOT NULL,
	paused_until  BIGINT NOT NULL DEFAULT 0,
	allowed       INTEGER NOT NULL DEFAULT 0,
	allowed_until BIGINT NOT NULL DEFAULT 0,
	granted       INTEGER NOT NULL DEFAULT 0
);
