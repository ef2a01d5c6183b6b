-- The console's health page counts, per queue, the reservations waiting for
-- a sync and those whose sync failed, and finds the oldest waiting one and
-- the latest failed ones: a partial index over the few rows not synced.
CREATE INDEX reservations_sync_open ON reservations (queue_id, sync_state, updated_at) WHERE sync_state <> 'synced';
