-- Slotline schema, version 1. Instants are Unix microseconds (BIGINT) on
-- both backends; {{PK}} is the dialect's auto-increment primary key.

-- One row that orders all writers: the last event sequence number and the
-- audit chain's head. Locking it last in every write transaction makes
-- sequence numbers follow commit order.
CREATE TABLE log_head (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    event_seq   BIGINT NOT NULL,
    audit_seq   BIGINT NOT NULL,
    audit_hash  TEXT NOT NULL
);
INSERT INTO log_head (id, event_seq, audit_seq, audit_hash) VALUES (1, 0, 0, '');

CREATE TABLE reservations (
    pk                   {{PK}},
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
    updated_at           BIGINT NOT NULL
);
CREATE INDEX reservations_queue_slot ON reservations (queue_id, slot_start, pk);
CREATE INDEX reservations_number ON reservations (callback_number);
CREATE INDEX reservations_status_updated ON reservations (status, updated_at);

-- How many reservations hold each capacity bucket.
CREATE TABLE slot_usage (
    queue_id     TEXT NOT NULL,
    bucket_start BIGINT NOT NULL,
    used         INTEGER NOT NULL,
    PRIMARY KEY (queue_id, bucket_start)
);

CREATE TABLE events (
    seq            BIGINT PRIMARY KEY,
    event_id       TEXT NOT NULL UNIQUE,
    type           TEXT NOT NULL,
    reservation_id TEXT NOT NULL,
    queue_id       TEXT NOT NULL,
    origin         TEXT NOT NULL,
    actor          TEXT NOT NULL,
    occurred_at    BIGINT NOT NULL,
    data           TEXT NOT NULL
);
CREATE INDEX events_reservation ON events (reservation_id, seq);

CREATE TABLE audit_log (
    seq       BIGINT PRIMARY KEY,
    at        BIGINT NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    target    TEXT NOT NULL,
    outcome   TEXT NOT NULL,
    detail    TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);

-- Responses kept for idempotent replays (callback_id and Idempotency-Key;
-- the key callback_id:<id> also makes a client's callback_id unique):
-- the response is the data of the write's event (event_id), or body when
-- the write made no event.
CREATE TABLE idempotency_keys (
    client_id      TEXT NOT NULL,
    idem_key       TEXT NOT NULL,
    method         TEXT NOT NULL,
    target         TEXT NOT NULL,
    request_hash   TEXT NOT NULL,
    status         INTEGER NOT NULL,
    reservation_id TEXT NOT NULL,
    event_id       TEXT NOT NULL,
    body           TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    PRIMARY KEY (client_id, idem_key)
);
CREATE INDEX idempotency_keys_reservation ON idempotency_keys (reservation_id);

-- Access tokens are kept only as SHA-256 digests.
CREATE TABLE access_tokens (
    token_hash TEXT PRIMARY KEY,
    client_id  TEXT NOT NULL,
    scopes     TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX access_tokens_expiry ON access_tokens (expires_at);
