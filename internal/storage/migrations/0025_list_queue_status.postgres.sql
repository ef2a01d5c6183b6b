-- PostgreSQL: the partial index of the statuses that sit at the end of the
-- slot order or are rare (migration 0023) leads with the status and then
-- the queue, so that a queue's list of them (GET /api/v2/callbacks with
-- queue_id and status, a client's too; a bucket's scheduled reservations) is
-- one range of it in slot order, read for its LIMIT, however many bookings
-- ahead the other queues hold. With (status, slot_start, pk) PostgreSQL
-- walked every reservation of the status to find the queue's and, with its
-- estimate of that share too low for the LIMIT to end the walk early, read
-- them all and sorted them (68 ms a page at 1,000,000 reservations). The
-- index has the same width as the one it replaces, so a create pays what
-- it paid. A list of the status over several queues (or every one) reads
-- each queue's page from its range and merges them (storage.pageSQL); the
-- queues holding the status are found on this index too, one probe each
-- (storage.statusQueues). SQLite keeps 0023's index: with no statistics, it
-- walks the status's slot order and checks the queue there.
DROP INDEX reservations_status_slot;
CREATE INDEX reservations_status_queue_slot ON reservations (status, queue_id, slot_start, pk)
    WHERE status IN ('scheduled', 'in_progress', 'failed');
