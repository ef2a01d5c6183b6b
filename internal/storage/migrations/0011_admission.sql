-- Admission control: throttle_hits records each create counted by a
-- queue's throttles (key "n:<queue>:<digest of the number>" for
-- per_number, "q:<queue>" for per_queue; at in microseconds), numbered per
-- key so that the N-th newest is one index lookup; pruned by retention.
-- The partial index finds a number's active reservations for the
-- duplicate rule.
CREATE TABLE throttle_hits (
    key TEXT NOT NULL,
    seq BIGINT NOT NULL,
    at BIGINT NOT NULL,
    PRIMARY KEY (key, seq)
);
CREATE INDEX throttle_hits_at ON throttle_hits (at);
CREATE INDEX reservations_active_number ON reservations (callback_number, queue_id)
    WHERE status IN ('scheduled', 'in_progress');
