-- The operators' "Keep" decisions on the console's over-capacity list
-- (internal/console/capacity.go): reservation_id stays in the bucket
-- starting at bucket_start (Unix microseconds) although an override left
-- it above capacity. A decision holds for that bucket only (a reservation
-- moved elsewhere is judged again) and only until an override covering the
-- bucket is put after kept_at; actor is the operator ("operator:NAME"),
-- whose audit entry (capacity.over_capacity_keep) was written with it.
CREATE TABLE capacity_kept (
    reservation_id TEXT NOT NULL,
    bucket_start   BIGINT NOT NULL,
    queue_id       TEXT NOT NULL,
    actor          TEXT NOT NULL,
    kept_at        BIGINT NOT NULL,
    PRIMARY KEY (reservation_id, bucket_start)
);
CREATE INDEX capacity_kept_queue_bucket ON capacity_kept (queue_id, bucket_start);
