package syncer

import (
	"context"
	"time"

	"github.com/slotline/slotline/internal/reservation"
	"github.com/slotline/slotline/internal/storage"
)

// Retryable reports whether an operator may retry res's sync at now: it
// failed on a reschedule or a cancel of a callback Genesys has (a create
// Genesys refused failed the reservation itself, which is settled), and its
// slot ended less than a day ago (later no callback is left to move or to
// stop).
func Retryable(res *reservation.Reservation, now time.Time) bool {
	return res.Sync.State == reservation.SyncFailed && res.Sync.ConversationID != "" && res.Status != reservation.StatusFailed &&
		!now.After(res.Slot.End.Add(retryGiveUp))
}

// EnqueueRetry enqueues in tx the retry of res's failed sync now, as an
// operator asked (storage.RetrySync calls it in the transaction that audits
// the request): the genesys_sync_retry job of its current attempt, run at
// once, beside any that reconciliation scheduled for later (which then
// finds the attempt passed). A second request before the job ran adds
// nothing. Errors: EINVALID when res is not Retryable.
func (r *Runner) EnqueueRetry(ctx context.Context, tx *storage.Tx, res *reservation.Reservation) error {
	if !Retryable(res, r.now()) {
		return reservation.Errorf(reservation.EINVALID, "the sync of reservation %s cannot be tried again", res.ID)
	}
	return r.jobs.InsertTx(ctx, tx, retryArgs{ReservationID: res.ID, Attempt: res.Sync.Attempts, Manual: true}, nil)
}
