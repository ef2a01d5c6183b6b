-- Every order a list on a request path asks for is served by an index, so
-- that a page costs its LIMIT and not the table (issue 18). The API's list
-- (GET /api/v2/callbacks, ORDER BY slot_start, pk, keyset pages) already had
-- reservations_slot (no filter), reservations_queue_slot (queue_id) and
-- reservations_client_slot (client_id: every caller without callback:admin);
-- these add the filters by status, alone, in a queue and for one client, and
-- a client's list of one queue. An endpoint's deliveries without a status
-- filter (newest first) get their own order.
CREATE INDEX reservations_status_slot ON reservations (status, slot_start, pk);
CREATE INDEX reservations_queue_status_slot ON reservations (queue_id, status, slot_start, pk);
CREATE INDEX reservations_client_queue_slot ON reservations (client_id, queue_id, slot_start, pk);
CREATE INDEX reservations_client_status_slot ON reservations (client_id, status, slot_start, pk);
CREATE INDEX webhook_deliveries_endpoint_seq ON webhook_deliveries (endpoint_id, event_seq);
