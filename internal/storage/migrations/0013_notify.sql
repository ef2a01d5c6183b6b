-- Messages to the customer (confirm, remind, cancel, missed). Each event
-- about one carries its kind and, when it was skipped, refused or failed,
-- its reason. notifications holds one row per message Slotline decided to
-- send, keyed by the reservation, the kind and slot_key (the slot start,
-- Unix microseconds, for a reminder; '' for the others, sent once per
-- reservation): state is sending (claimed: the send may have reached
-- Genesys), sent, refused, failed or skipped; idempotency_key, derived from
-- the key, goes with every send of the row, so that a send repeated after a
-- crash is the same request.
ALTER TABLE events ADD COLUMN kind TEXT NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN reason TEXT NOT NULL DEFAULT '';
CREATE TABLE notifications (
    reservation_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    slot_key TEXT NOT NULL,
    state TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    message_id TEXT NOT NULL DEFAULT '',
    reason TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    sent_at BIGINT,
    PRIMARY KEY (reservation_id, kind, slot_key)
);
CREATE INDEX notifications_sending ON notifications (state, updated_at);
