-- Outbound webhooks: endpoints, their deliveries (one per matching event,
-- written in the event's transaction), and calendar feed tokens.

CREATE TABLE webhook_endpoints (
    id               TEXT PRIMARY KEY,
    client_id        TEXT NOT NULL,
    name             TEXT NOT NULL,
    url              TEXT NOT NULL,
    content_type     TEXT NOT NULL,
    enabled          INTEGER NOT NULL,
    event_types      TEXT NOT NULL,
    queue_ids        TEXT NOT NULL,
    include_numbers  INTEGER NOT NULL,
    secret           TEXT NOT NULL,
    previous_secret  TEXT NOT NULL,
    previous_until   BIGINT NOT NULL,
    disabled_reason  TEXT NOT NULL,
    failing_since    BIGINT NOT NULL,
    claim            TEXT NOT NULL,
    claim_until      BIGINT NOT NULL,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);

CREATE TABLE webhook_deliveries (
    id              TEXT PRIMARY KEY,
    endpoint_id     TEXT NOT NULL,
    event_seq       BIGINT NOT NULL,
    event_type      TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    last_status     INTEGER NOT NULL,
    last_latency_ms INTEGER NOT NULL,
    last_error      TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    delivered_at    BIGINT NOT NULL
);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, status, event_seq);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);

-- A calendar app cannot send headers: a queue's feed is also reachable by
-- a long random token in the URL, kept as a digest.
CREATE TABLE feed_tokens (
    queue_id   TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
