-- Customer self-service: each reservation's link is a token the server
-- derives again (HMAC of the reservation's id and self_nonce under the
-- server's secret) and finds by its SHA-256 digest, self_digest, never
-- stored itself; self_reschedules counts the reschedules made through the
-- link (the queue's self_service.max_reschedules). The server's secret,
-- when the configuration gives none, is generated once and kept in
-- self_service_secret, so that restarts and other processes agree.
ALTER TABLE reservations ADD COLUMN self_nonce TEXT NOT NULL DEFAULT '';
ALTER TABLE reservations ADD COLUMN self_digest TEXT NOT NULL DEFAULT '';
ALTER TABLE reservations ADD COLUMN self_reschedules INTEGER NOT NULL DEFAULT 0;
CREATE UNIQUE INDEX reservations_self_digest ON reservations (self_digest) WHERE self_digest <> '';
CREATE TABLE self_service_secret (
    id INTEGER PRIMARY KEY,
    secret TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
