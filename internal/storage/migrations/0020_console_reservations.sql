-- The console's reservations page: its list of every queue's reservations
-- in slot order (keyset pages: ORDER BY slot_start, pk LIMIT n, forwards
-- and backwards) and, on a reservation's page, the webhook deliveries of
-- its events.
CREATE INDEX reservations_slot ON reservations (slot_start, pk);
CREATE INDEX webhook_deliveries_event ON webhook_deliveries (event_seq);
