-- Sync workers and webhook delivery workers hold their reservation or
-- endpoint through the leases table (names sync:<id> and webhook:<id>), as
-- the notification listener does: the claim columns go.
ALTER TABLE reservations DROP COLUMN sync_claim;
ALTER TABLE reservations DROP COLUMN sync_claim_until;
ALTER TABLE webhook_endpoints DROP COLUMN claim;
ALTER TABLE webhook_endpoints DROP COLUMN claim_until;
