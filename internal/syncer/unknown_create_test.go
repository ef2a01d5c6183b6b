package syncer_test

import (
	"testing"
	"time"

	"github.com/slotline/slotline/internal/booking"
	"github.com/slotline/slotline/internal/genesys"
	"github.com/slotline/slotline/internal/genesys/gcsim"
	"github.com/slotline/slotline/internal/reservation"
	"github.com/slotline/slotline/internal/storage"
)

// TestChangeWhileCreateUnknown: the customer reschedules or cancels while
// the create is on its way and its answer is then lost (the simulator
// commits it). The sync must look for that callback before it creates
// again (no second callback) or settles the cancel (no callback left to
// dial a customer who canceled).
func TestChangeWhileCreateUnknown(t *testing.T) {
	t.Parallel()
	for _, change := range []string{"reschedule", "cancel"} {
		t.Run(change, func(t *testing.T) {
			t.Parallel()
			backends(t, func(t *testing.T, backend string) {
				b := setup(t, backend, false)
				b.sim.FailNext(gcsim.Fault{Method: "POST", PathPrefix: "/api/v2/conversations/callbacks",
					Latency: time.Second, LoseResponse: true})
				r := b.reserve("unknown-"+change, 2*time.Hour, voice())
				// The create is sent (its attempt is recorded first) and held.
				b.waitFor(r.ID, "the create sent", func(r *reservation.Reservation) bool { return r.Sync.Attempts >= 1 })
				later := r.Slot.Start.Add(time.Hour)
				var err error
				if change == "cancel" {
					_, err = b.book.Cancel(b.ctx, booking.Caller{ClientID: "website"}, r.ID, nil)
				} else {
					_, err = b.book.Update(b.ctx, booking.Caller{ClientID: "website"}, r.ID, nil, &reservation.UpdateRequest{
						Candidates: []reservation.Slot{{Start: later, End: later.Add(15 * time.Minute)}}})
				}
				if err != nil {
					t.Fatal(err)
				}
				// Analytics shows the callback 5 s (of the simulator's
				// clock) after the create committed it.
				b.waitIndexed(r.ID, 1)
				got := b.waitFor(r.ID, "synced", func(r *reservation.Reservation) bool {
					return synced(r) && (change == "cancel" || r.Sync.ScheduledAt.Equal(later))
				})
				if st := b.sim.Stats(); st.LostResponses < 1 {
					t.Fatalf("the fault did not fire: %+v", st)
				}
				cbs := b.callbacksFor(r.ID)
				if len(cbs) != 1 {
					t.Fatalf("%d callbacks in the simulator, want exactly the one the lost create made: %+v", len(cbs), cbs)
				}
				switch change {
				case "cancel":
					if cbs[0].State != "disconnected" {
						t.Errorf("the canceled reservation's callback is %q in Genesys, want disconnected: %+v", cbs[0].State, cbs[0])
					}
				default:
					if !cbs[0].ScheduledTime.Equal(later) || cbs[0].ConversationID != got.Sync.ConversationID {
						t.Errorf("the callback is at %v (%s), want the new time %v (%s)", cbs[0].ScheduledTime,
							cbs[0].ConversationID, later, got.Sync.ConversationID)
					}
				}
			})
		})
	}
}

// TestRefusedCreateNotSearched: a create Genesys refused (429s, which
// make nothing, until the client gives up) is sent again without an analytics search first and
// without waiting for the lost-create window: only a create whose outcome
// is unknown is looked for.
func TestRefusedCreateNotSearched(t *testing.T) {
	t.Parallel()
	b := setup(t, storage.SQLite, false)
	b.sim.FailNext(gcsim.Fault{Method: "POST", PathPrefix: "/api/v2/conversations/callbacks", Status: 429, RetryAfter: time.Second,
		Count: genesys.DefaultMaxAttempts})
	r := b.reserve("refused-once", 2*time.Hour, voice())
	got := b.waitFor(r.ID, "synced", synced)
	st := b.sim.Stats()
	if n := st.Count("POST /api/v2/conversations/callbacks", 429); n != genesys.DefaultMaxAttempts {
		t.Fatalf("%d creates refused with 429, want the %d scripted: %+v", n, genesys.DefaultMaxAttempts, st)
	}
	if n := st.Count("POST /api/v2/analytics/conversations/details/query", 0); n != 0 {
		t.Errorf("%d analytics searches for a create Genesys refused, want none", n)
	}
	if cbs := b.callbacksFor(r.ID); len(cbs) != 1 || cbs[0].ConversationID != got.Sync.ConversationID {
		t.Errorf("callbacks %+v, want one, the reservation's %s", cbs, got.Sync.ConversationID)
	}
}
