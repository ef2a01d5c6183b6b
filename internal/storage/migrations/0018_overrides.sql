-- Capacity overrides made at runtime (PUT /api/v2/queues/{id}/overrides):
-- every bucket of the queue starting in [start_at, end_at) (Unix
-- microseconds) has capacity (0: closed) over the configuration's; where
-- overrides overlap, the one put last (updated_at, then id) wins.
-- start_local and end_local are the range as the operator wrote it. Every
-- create and reschedule reads this table in its own write transaction (on
-- PostgreSQL under the queue's shared advisory lock, which a change takes
-- exclusively), so a change holds for every process once it commits.
CREATE TABLE capacity_overrides (
    pk          {{PK}},
    id          TEXT NOT NULL UNIQUE,
    queue_id    TEXT NOT NULL,
    start_at    BIGINT NOT NULL,
    end_at      BIGINT NOT NULL,
    start_local TEXT NOT NULL,
    end_local   TEXT NOT NULL,
    capacity    INTEGER NOT NULL,
    reason      TEXT NOT NULL,
    actor       TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    UNIQUE (queue_id, start_at, end_at)
);
CREATE INDEX capacity_overrides_queue_end ON capacity_overrides (queue_id, end_at);
