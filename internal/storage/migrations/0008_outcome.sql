-- How a callback ended: the outcome of a final reservation (reached,
-- not_reached, canceled, failed), the Q.850/SIP causes of the last call to
-- the customer (JSON), the agent's wrap-up code and the calls placed.
ALTER TABLE reservations ADD COLUMN outcome TEXT NOT NULL DEFAULT '';
ALTER TABLE reservations ADD COLUMN disconnect_reasons TEXT NOT NULL DEFAULT '[]';
ALTER TABLE reservations ADD COLUMN wrapup_code TEXT NOT NULL DEFAULT '';
ALTER TABLE reservations ADD COLUMN dial_attempts INTEGER NOT NULL DEFAULT 0;
-- Reservations that ended before outcomes were recorded take the one their
-- status stands for.
UPDATE reservations SET outcome = CASE status
    WHEN 'completed' THEN 'reached' WHEN 'missed' THEN 'not_reached'
    WHEN 'canceled' THEN 'canceled' WHEN 'failed' THEN 'failed' ELSE '' END;
