-- Admission control: throttle_hits records each create counted by a
-- queue's throttles (key "n:<queue>:<number>" for per_number, "q:<queue>"
-- for per_queue; at in microseconds), read over a rolling window and
-- pruned by retention; the partial index finds a number's active
-- reservations for the duplicate rule.
CREATE TABLE throttle_hits (
    key TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX throttle_hits_key_at ON throttle_hits (key, at);
CREATE INDEX throttle_hits_at ON throttle_hits (at);
CREATE INDEX reservations_active_number ON reservations (callback_number, queue_id)
    WHERE status IN ('scheduled', 'in_progress');
