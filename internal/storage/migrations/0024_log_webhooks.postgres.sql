-- The generation of the webhook endpoints, moved in the log head by every
-- transaction that changes an endpoint (PostgreSQL; on SQLite the one
-- writer orders everything). A transaction whose events make deliveries
-- reads the endpoints (or uses those it read before) without the log-head
-- lock, and the statement that takes the lock checks that the generation
-- it read is still the head's: if another process changed an endpoint in
-- between, the transaction fails with a serialization failure and runs
-- again, so that deliveries follow endpoint changes in log order.
ALTER TABLE log_head ADD COLUMN webhook_gen BIGINT NOT NULL DEFAULT 0;

-- slotline_webhook_gen returns the head's next generation (cur + bump),
-- after checking that seen (-1: not read) is cur.
CREATE FUNCTION slotline_webhook_gen(cur BIGINT, bump BIGINT, seen BIGINT) RETURNS BIGINT LANGUAGE plpgsql AS $$BEGIN IF seen >= 0 AND seen <> cur THEN RAISE EXCEPTION 'slotline: webhook endpoints changed since they were read' USING ERRCODE = '40001'; END IF; RETURN cur + bump; END$$;
