-- Durable stream cursors: per API client and subscription name, the last
-- event sequence number the subscriber acknowledged (all below it too).

CREATE TABLE stream_cursors (
    client_id  TEXT NOT NULL,
    name       TEXT NOT NULL,
    seq        BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (client_id, name)
);
