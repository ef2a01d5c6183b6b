-- The per_number throttle counts a number's booked creates from the
-- reservations themselves (reservations_number: the number, the queue and
-- the creation time), and keeps rows in throttle_hits only for the creates
-- it refused. Before, every booked create also wrote a throttle_hits row
-- under a random key (a digest of the number): one more B-tree leaf
-- written per create. The same index finds a number's active reservations
-- for the duplicate rule (a number has few reservations) and serves every
-- lookup that the index on callback_number alone served, so it replaces
-- both: one B-tree on the number instead of two. The per_number rows
-- written before are dropped: they counted booked creates, which are now
-- counted from their reservations.
DROP INDEX reservations_active_number;
DROP INDEX reservations_number;
CREATE INDEX reservations_number ON reservations (callback_number, queue_id, created_at);
DELETE FROM throttle_hits WHERE key LIKE 'n:%';
