-- PostgreSQL: the partial index of the statuses that sit at the end of the
-- slot order or are rare (migration 0023) leads with the status and then
-- the queue, so that a queue's list of them (GET /api/v2/callbacks with
-- queue_id and status, a client's too; a bucket's scheduled reservations) is
-- one range of it in slot order, read for its LIMIT however many bookings
-- ahead the other queues hold. With 0023's (status, slot_start, pk) a
-- client's list by queue and status read every reservation of the status:
-- PostgreSQL estimated the rows its filters would leave at one or two,
-- fewer than the LIMIT, so it fetched them all through a bitmap and sorted
-- them (30 ms a page at 1,000,000 reservations). This index has the width
-- of the one it replaces, so a create pays what it paid. A list of the
-- status over several queues, or every one, reads each queue's page from
-- its range and merges them (storage.pageSQL), after finding the queues
-- that hold the status on this index too, one probe each
-- (storage.statusQueues). SQLite keeps 0023's index: it keeps no
-- statistics, walks the status's slot order and checks the queue there.
DROP INDEX reservations_status_slot;
CREATE INDEX reservations_status_queue_slot ON reservations (status, queue_id, slot_start, pk)
    WHERE status IN ('scheduled', 'in_progress', 'failed');
