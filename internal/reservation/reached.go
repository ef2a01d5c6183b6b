package reservation

import (
	"context"
	"time"
)

// CancelReasonCustomerReached is the CancelReason of a reservation
// canceled because its customer got through to an agent of its queue on
// another call shortly before the slot (the queue's
// cancel_if_reached_within).
const CancelReasonCustomerReached = "customer_reached"

// CancelReached cancels r because its customer reached an agent of its
// queue at instant at, on another interaction: only while r is still
// scheduled, its slot starts after at and no later than within after it.
// An in-progress reservation is left alone (its callback is being placed:
// an agent may be on it), and so is one whose slot started before at. It
// changes nothing, without error, when r does not qualify (any more): the
// caller found it by a read that a concurrent write may have overtaken.
func CancelReached(ctx context.Context, r *Reservation, l Ledger, at time.Time, within time.Duration, now time.Time) (Transition, error) {
	if within <= 0 || r.Status != StatusScheduled || !r.Slot.Start.After(at) || r.Slot.Start.Sub(at) > within {
		return Transition{}, nil
	}
	t, err := Cancel(ctx, r, l, now)
	if err != nil || !t.Changed {
		return t, err
	}
	r.CancelReason = CancelReasonCustomerReached
	t.Detail = append(t.Detail, "reason", CancelReasonCustomerReached)
	return t, nil
}
