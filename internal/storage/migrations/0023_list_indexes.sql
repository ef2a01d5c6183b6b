-- Every order a list on a request path asks for is served by an index, so
-- that a page costs its LIMIT and not the table (issue 18). The API's list
-- (GET /api/v2/callbacks, ORDER BY slot_start, pk, keyset pages) already had
-- reservations_slot (no filter), reservations_queue_slot (queue_id) and
-- reservations_client_slot (client_id: every caller without callback:admin).
--
-- A client's list of one queue gets its own index. The lists by status get
-- partial ones, over the statuses a walk of the slot order would not find
-- soon: the active reservations (scheduled, in progress), which sit at its
-- end, behind every past reservation, and the failed ones, which are few.
-- The other final statuses (completed, missed, canceled) fill the past
-- densely and are found by that walk. Partial, the indexes stay the size of
-- the bookings ahead rather than of the history: each costs a create one
-- small B-tree. (A partial index is used only by a query that implies its
-- condition: the lists name these statuses as literals, storage.statusWhere.)
CREATE INDEX reservations_client_queue_slot ON reservations (client_id, queue_id, slot_start, pk);
CREATE INDEX reservations_status_slot ON reservations (status, slot_start, pk)
    WHERE status IN ('scheduled', 'in_progress', 'failed');
CREATE INDEX reservations_queue_status_slot ON reservations (queue_id, status, slot_start, pk)
    WHERE status IN ('scheduled', 'in_progress', 'failed');
CREATE INDEX reservations_client_status_slot ON reservations (client_id, status, slot_start, pk)
    WHERE status IN ('scheduled', 'in_progress', 'failed');
-- An endpoint's deliveries, newest first, without a status filter.
CREATE INDEX webhook_deliveries_endpoint_seq ON webhook_deliveries (endpoint_id, event_seq);
