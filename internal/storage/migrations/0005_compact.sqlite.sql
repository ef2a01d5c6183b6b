-- SQLite: fewer B-trees written per reservation (each is at least one page
-- written to the WAL at every commit). The event and audit sequence numbers
-- become the tables' rowids instead of a separate index each; events lose
-- the unique index on event_id (a replayed response finds its event through
-- events_reservation); slot usage lives in its primary key's B-tree (one
-- B-tree searched and written per admission instead of two); reservations
-- stop rewriting sqlite_sequence on every insert (rows are never deleted,
-- so the largest pk is never reused).

CREATE TABLE events_new (
    seq            INTEGER PRIMARY KEY,
    event_id       TEXT NOT NULL,
    type           TEXT NOT NULL,
    reservation_id TEXT NOT NULL,
    queue_id       TEXT NOT NULL,
    origin         TEXT NOT NULL,
    actor          TEXT NOT NULL,
    occurred_at    BIGINT NOT NULL,
    data           TEXT NOT NULL
);
INSERT INTO events_new (seq, event_id, type, reservation_id, queue_id, origin, actor, occurred_at, data)
    SELECT seq, event_id, type, reservation_id, queue_id, origin, actor, occurred_at, data FROM events;
DROP TABLE events;
ALTER TABLE events_new RENAME TO events;
CREATE INDEX events_reservation ON events (reservation_id, seq);

CREATE TABLE audit_log_new (
    seq       INTEGER PRIMARY KEY,
    at        BIGINT NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    target    TEXT NOT NULL,
    outcome   TEXT NOT NULL,
    detail    TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);
INSERT INTO audit_log_new (seq, at, actor, action, target, outcome, detail, prev_hash, hash)
    SELECT seq, at, actor, action, target, outcome, detail, prev_hash, hash FROM audit_log;
DROP TABLE audit_log;
ALTER TABLE audit_log_new RENAME TO audit_log;

CREATE TABLE slot_usage_new (
    queue_id     TEXT NOT NULL,
    bucket_start BIGINT NOT NULL,
    used         INTEGER NOT NULL,
    PRIMARY KEY (queue_id, bucket_start)
) WITHOUT ROWID;
INSERT INTO slot_usage_new (queue_id, bucket_start, used) SELECT queue_id, bucket_start, used FROM slot_usage;
DROP TABLE slot_usage;
ALTER TABLE slot_usage_new RENAME TO slot_usage;

CREATE TABLE reservations_new (
    pk                   INTEGER PRIMARY KEY,
    id                   TEXT NOT NULL UNIQUE,
    client_id            TEXT NOT NULL,
    callback_id          TEXT,
    queue_id             TEXT NOT NULL,
    timezone             TEXT NOT NULL,
    callback_number      TEXT NOT NULL,
    customer_name        TEXT NOT NULL,
    candidates           TEXT NOT NULL,
    slot_start           BIGINT NOT NULL,
    slot_end             BIGINT NOT NULL,
    bucket_start         BIGINT NOT NULL,
    channel              TEXT NOT NULL,
    reason               TEXT NOT NULL,
    concurrency_limit    INTEGER NOT NULL,
    status               TEXT NOT NULL,
    sync_state           TEXT NOT NULL,
    sync_conversation_id TEXT NOT NULL,
    sync_attempts        INTEGER NOT NULL,
    sync_error           TEXT NOT NULL,
    version              INTEGER NOT NULL,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL,
    sync_callback_ids    TEXT NOT NULL DEFAULT '[]',
    sync_scheduled_at    BIGINT NOT NULL DEFAULT 0,
    disconnect_type      TEXT NOT NULL DEFAULT '',
    overbooked           INTEGER NOT NULL DEFAULT 0,
    sync_claim           TEXT NOT NULL DEFAULT '',
    sync_claim_until     BIGINT NOT NULL DEFAULT 0
);
INSERT INTO reservations_new (pk, id, client_id, callback_id, queue_id, timezone, callback_number, customer_name,
    candidates, slot_start, slot_end, bucket_start, channel, reason, concurrency_limit, status, sync_state,
    sync_conversation_id, sync_attempts, sync_error, version, created_at, updated_at, sync_callback_ids,
    sync_scheduled_at, disconnect_type, overbooked, sync_claim, sync_claim_until)
    SELECT pk, id, client_id, callback_id, queue_id, timezone, callback_number, customer_name,
    candidates, slot_start, slot_end, bucket_start, channel, reason, concurrency_limit, status, sync_state,
    sync_conversation_id, sync_attempts, sync_error, version, created_at, updated_at, sync_callback_ids,
    sync_scheduled_at, disconnect_type, overbooked, sync_claim, sync_claim_until FROM reservations;
DROP TABLE reservations;
ALTER TABLE reservations_new RENAME TO reservations;
CREATE INDEX reservations_queue_slot ON reservations (queue_id, slot_start, pk);
CREATE INDEX reservations_number ON reservations (callback_number);
CREATE INDEX reservations_status_updated ON reservations (status, updated_at);
CREATE INDEX reservations_conversation ON reservations (sync_conversation_id) WHERE sync_conversation_id <> '';
