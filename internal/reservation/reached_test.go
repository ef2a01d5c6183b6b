package reservation_test

import (
	"testing"
	"time"

	"github.com/slotline/slotline/internal/reservation"
)

// TestCancelReached: a call answered within the window before the slot
// cancels a scheduled reservation (customer_reached, slot freed, sync
// pending); on the slot's start or after it, too early, with the window
// off, or once the reservation is in progress or over, nothing changes.
func TestCancelReached(t *testing.T) {
	slot := at(0)
	const within = 4 * time.Hour
	for _, c := range []struct {
		name   string
		at     time.Time
		within time.Duration
		status reservation.Status
		want   bool
	}{
		{"within", slot.Add(-time.Hour), within, reservation.StatusScheduled, true},
		{"at the window's edge", slot.Add(-within), within, reservation.StatusScheduled, true},
		{"a minute before the slot", slot.Add(-time.Minute), within, reservation.StatusScheduled, true},
		{"before the window", slot.Add(-within - time.Second), within, reservation.StatusScheduled, false},
		{"at the slot's start", slot, within, reservation.StatusScheduled, false},
		{"after the slot started", slot.Add(time.Minute), within, reservation.StatusScheduled, false},
		{"window off", slot.Add(-time.Hour), 0, reservation.StatusScheduled, false},
		{"in progress", slot.Add(-time.Minute), within, reservation.StatusInProgress, false},
		{"completed", slot.Add(-time.Hour), within, reservation.StatusCompleted, false},
		{"canceled already", slot.Add(-time.Hour), within, reservation.StatusCanceled, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, l := booked(t)
			synced(t, r)
			r.Status = c.status
			version := r.Version
			tr, err := reservation.CancelReached(ctx, r, l, c.at, c.within, now)
			if err != nil {
				t.Fatal(err)
			}
			if tr.Changed != c.want {
				t.Fatalf("CancelReached changed = %v, want %v", tr.Changed, c.want)
			}
			if !c.want {
				if r.Status != c.status || r.CancelReason != "" || r.Version != version || len(l.calls) != 0 {
					t.Errorf("unchanged: %s, reason %q, version %d, ledger %v", r.Status, r.CancelReason, r.Version, l.calls)
				}
				return
			}
			if r.Status != reservation.StatusCanceled || r.Outcome != reservation.OutcomeCanceled ||
				r.CancelReason != reservation.CancelReasonCustomerReached || r.Sync.State != reservation.SyncPending ||
				tr.Event != reservation.EventCanceled || r.Version != version+1 || l.used[slot] != 0 {
				t.Errorf("canceled: %s/%s, reason %q, sync %s, event %q, version %d, used %d", r.Status, r.Outcome,
					r.CancelReason, r.Sync.State, tr.Event, r.Version, l.used[slot])
			}
		})
	}
}
