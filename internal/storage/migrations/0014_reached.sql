-- Why a reservation was canceled, when the cancel had a reason of its own:
-- 'customer_reached' when the customer got through to an agent of the
-- queue on another call before the slot (cancel_if_reached_within); ''
-- for any other cancel and for reservations not canceled.
ALTER TABLE reservations ADD COLUMN cancel_reason TEXT NOT NULL DEFAULT '';
