-- The proofs of work spent (internal/pow): one row per challenge's salt,
-- kept until the challenge expires (Unix microseconds), so that a solved
-- challenge buys one create, whichever process of the deployment it is
-- shown to. Housekeeping deletes the expired rows.
CREATE TABLE pow_spent (
	salt       TEXT PRIMARY KEY,
	expires_at BIGINT NOT NULL
);
CREATE INDEX pow_spent_expires ON pow_spent (expires_at);
