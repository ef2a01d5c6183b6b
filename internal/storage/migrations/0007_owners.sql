-- Clients are isolated from each other: every event names the client whose
-- reservation or webhook endpoint it is about (owner), so that streams and
-- webhooks carry a client's own events only. Events of reservations that
-- retention already removed keep an empty owner: only a client holding
-- callback:admin sees them.
ALTER TABLE events ADD COLUMN owner TEXT NOT NULL DEFAULT '';
UPDATE events SET owner = COALESCE((SELECT r.client_id FROM reservations r WHERE r.id = events.reservation_id), '')
    WHERE reservation_id <> '';
CREATE INDEX reservations_client_slot ON reservations (client_id, slot_start, pk);

-- Calendar feed tokens belong to a client (a feed lists that client's
-- reservations of the queue, or every client's when the client holds
-- callback:admin). Tokens issued before were one per queue, shared by
-- every client: they are dropped and must be issued again.
DROP TABLE feed_tokens;
CREATE TABLE feed_tokens (
    client_id  TEXT NOT NULL,
    queue_id   TEXT NOT NULL,
    token_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (client_id, queue_id)
);
CREATE INDEX feed_tokens_hash ON feed_tokens (token_hash);
