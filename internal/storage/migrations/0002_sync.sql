-- Genesys sync: what was sent, the callback's identifiers, Genesys-side
-- outcomes, and a lease table for singletons (the notification listener).

ALTER TABLE reservations ADD COLUMN sync_callback_ids TEXT NOT NULL DEFAULT '[]';
ALTER TABLE reservations ADD COLUMN sync_scheduled_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE reservations ADD COLUMN disconnect_type TEXT NOT NULL DEFAULT '';
ALTER TABLE reservations ADD COLUMN overbooked INTEGER NOT NULL DEFAULT 0;
-- One sync worker at a time per reservation: a claim with an expiry.
ALTER TABLE reservations ADD COLUMN sync_claim TEXT NOT NULL DEFAULT '';
ALTER TABLE reservations ADD COLUMN sync_claim_until BIGINT NOT NULL DEFAULT 0;
CREATE INDEX reservations_conversation ON reservations (sync_conversation_id) WHERE sync_conversation_id <> '';

-- A lease names the one process that runs a singleton until expires_at.
CREATE TABLE leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);

-- Opening hours imported from Genesys schedule groups, kept so that
-- validation goes on when Genesys is unreachable.
CREATE TABLE schedule_imports (
    queue_id   TEXT PRIMARY KEY,
    data       TEXT NOT NULL,
    fetched_at BIGINT NOT NULL
);
