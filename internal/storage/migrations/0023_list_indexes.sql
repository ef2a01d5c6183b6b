-- Every order a list on a request path asks for is served by an index, so
-- that a page costs its LIMIT and not the table (issue 18). The API's list
-- (GET /api/v2/callbacks, ORDER BY slot_start, pk, keyset pages) already had
-- reservations_slot (no filter), reservations_queue_slot (queue_id) and
-- reservations_client_slot (client_id: every caller without callback:admin);
-- a filter these leave is checked on the rows they walk.
--
-- The lists by status get one partial index, over the statuses a walk of
-- the slot order would find late or rarely: the active reservations
-- (scheduled, in progress), which sit at its end, behind every past one, and
-- the failed ones, which are few. It holds the bookings ahead, not the
-- history, so a list of those statuses walks it (filtering a client or a
-- queue there) in time that does not grow with the history, and a create
-- pays one small B-tree. The other final statuses (completed, missed,
-- canceled) fill the past densely and are found by the slot order's walk. A
-- partial index is used only by a query that implies its condition: the lists
-- name these statuses as literals (storage.statusWhere).
CREATE INDEX reservations_status_slot ON reservations (status, slot_start, pk)
    WHERE status IN ('scheduled', 'in_progress', 'failed');
-- An endpoint's deliveries, newest first, without a status filter.
CREATE INDEX webhook_deliveries_endpoint_seq ON webhook_deliveries (endpoint_id, event_seq);
