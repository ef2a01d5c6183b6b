-- The customer's side of a reservation: the language of the messages sent
-- to them (a BCP 47 tag, '' for the queue's) and whether their number
-- opted out of SMS; sms_opt_outs lists the numbers that did, so that a
-- later reservation of the same number is opted out from the start.
ALTER TABLE reservations ADD COLUMN locale TEXT NOT NULL DEFAULT '';
ALTER TABLE reservations ADD COLUMN sms_opt_out INTEGER NOT NULL DEFAULT 0;
CREATE TABLE sms_opt_outs (
    callback_number TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL
);
