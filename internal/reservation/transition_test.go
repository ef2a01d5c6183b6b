package reservation_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/slotline/slotline/internal/reservation"
)

// ledger is an in-memory reservation.Ledger: counts by bucket, with a
// journal of the calls.
type ledger struct {
	used  map[time.Time]int
	calls []string
}

func newLedger() *ledger { return &ledger{used: map[time.Time]int{}} }

func (l *ledger) Take(_ context.Context, _ string, b time.Time, limit int) (bool, error) {
	l.calls = append(l.calls, "take "+b.Format("15:04"))
	if l.used[b] >= limit {
		return false, nil
	}
	l.used[b]++
	return true, nil
}

func (l *ledger) Release(_ context.Context, _ string, b time.Time) error {
	l.calls = append(l.calls, "release "+b.Format("15:04"))
	if l.used[b] > 0 {
		l.used[b]--
	}
	return nil
}

func (l *ledger) Force(_ context.Context, _ string, b time.Time, limit int) (bool, error) {
	l.calls = append(l.calls, "force "+b.Format("15:04"))
	l.used[b]++
	return l.used[b] > limit, nil
}

var (
	t0  = time.Date(2030, 6, 3, 14, 0, 0, 0, time.UTC)
	now = time.Date(2030, 6, 1, 9, 0, 0, 0, time.UTC)
	ctx = context.Background()
)

func at(slot int) time.Time { return t0.Add(time.Duration(slot) * 15 * time.Minute) }

func cand(slot, limit int) reservation.Candidate {
	return reservation.Candidate{Slot: reservation.Slot{Start: at(slot), End: at(slot + 1)}, Bucket: at(slot), Cap: limit}
}

// booked returns a reservation booked in slot 0 and its ledger.
func booked(t *testing.T) (*reservation.Reservation, *ledger) {
	t.Helper()
	l := newLedger()
	r := &reservation.Reservation{ID: "cb_1", QueueID: "q1", CallbackNumber: "+14155550199"}
	if _, _, err := reservation.Book(ctx, r, []reservation.Candidate{cand(0, 5)}, l, now); err != nil {
		t.Fatal(err)
	}
	l.calls = nil
	return r, l
}

// synced marks r synced to conversation c1 at its slot.
func synced(t *testing.T, r *reservation.Reservation) {
	t.Helper()
	if tr := reservation.MarkSynced(r, reservation.SyncResult{ConversationID: "c1", ScheduledAt: r.Slot.Start}); tr.Event != reservation.EventSynced {
		t.Fatalf("MarkSynced = %+v", tr)
	}
}

func TestBook(t *testing.T) {
	l := newLedger()
	l.used[at(0)] = 2 // full at cap 2
	r := &reservation.Reservation{QueueID: "q1"}
	i, tr, err := reservation.Book(ctx, r, []reservation.Candidate{cand(0, 2), cand(1, 0), cand(2, 3)}, l, now)
	if err != nil || i != 2 {
		t.Fatalf("Book = %d, %v; want candidate 2", i, err)
	}
	if want := []string{"take 14:00", "take 14:30"}; !cmp.Equal(l.calls, want) {
		t.Errorf("ledger calls %v, want %v (a cap of 0 is never asked)", l.calls, want)
	}
	if r.Slot != cand(2, 3).Slot || !r.Bucket.Equal(at(2)) || r.Status != reservation.StatusScheduled ||
		r.Sync.State != reservation.SyncPending || r.Version != 1 || !r.CreatedAt.Equal(now) || !r.UpdatedAt.Equal(now) {
		t.Errorf("booked reservation %+v", r)
	}
	if tr.Event != reservation.EventCreated || tr.Action != "reservation.create" || !tr.Changed {
		t.Errorf("transition %+v", tr)
	}
	full := &reservation.Reservation{QueueID: "q1"}
	if _, _, err := reservation.Book(ctx, full, []reservation.Candidate{cand(0, 2)}, l, now); !errors.Is(err, reservation.ErrFull) {
		t.Fatalf("Book into a full bucket: %v, want ErrFull", err)
	}
	if full.Status != "" || l.used[at(0)] != 2 {
		t.Errorf("a full answer changed something: %+v, used %d", full, l.used[at(0)])
	}
}

func TestUpdate(t *testing.T) {
	t.Run("Reschedule", func(t *testing.T) {
		r, l := booked(t)
		synced(t, r)
		i, tr, err := reservation.Update(ctx, r, reservation.Change{Candidates: []reservation.Candidate{cand(3, 5)},
			Matrix: []reservation.Slot{cand(3, 5).Slot}}, l, now.Add(time.Hour))
		if err != nil || i != 0 {
			t.Fatalf("Update = %d, %v", i, err)
		}
		// The new place is taken before the old one is released.
		if want := []string{"take 14:45", "release 14:00"}; !cmp.Equal(l.calls, want) {
			t.Errorf("ledger calls %v, want %v", l.calls, want)
		}
		if tr.Event != reservation.EventRescheduled || r.Version != 2 || r.Sync.State != reservation.SyncPending ||
			!r.Slot.Start.Equal(at(3)) || !r.UpdatedAt.Equal(now.Add(time.Hour)) {
			t.Errorf("after a reschedule: %+v, %+v", tr, r)
		}
	})
	t.Run("OwnBucket", func(t *testing.T) {
		r, l := booked(t)
		moved := reservation.Candidate{Slot: reservation.Slot{Start: at(0).Add(5 * time.Minute), End: at(1)}, Bucket: at(0), Cap: 1}
		if _, _, err := reservation.Update(ctx, r, reservation.Change{Candidates: []reservation.Candidate{moved}}, l, now); err != nil {
			t.Fatal(err)
		}
		if len(l.calls) != 0 {
			t.Errorf("a move within its own bucket asked the ledger %v", l.calls)
		}
	})
	t.Run("ErrFull", func(t *testing.T) {
		r, l := booked(t)
		l.used[at(4)] = 1
		before := *r
		if _, _, err := reservation.Update(ctx, r, reservation.Change{Candidates: []reservation.Candidate{cand(4, 1)}}, l, now); !errors.Is(err, reservation.ErrFull) {
			t.Fatalf("err = %v, want ErrFull", err)
		}
		if !cmp.Equal(before, *r) || l.used[at(0)] != 1 {
			t.Errorf("a full reschedule changed the reservation or released its place: %+v, used %v", r, l.used)
		}
	})
	t.Run("DetailsKeepSync", func(t *testing.T) {
		r, l := booked(t)
		synced(t, r)
		reason := "new reason"
		_, tr, err := reservation.Update(ctx, r, reservation.Change{Reason: &reason}, l, now)
		if err != nil || tr.Event != reservation.EventUpdated || r.Reason != reason || r.Sync.State != reservation.SyncSynced || r.Version != 2 {
			t.Errorf("details change: %+v, %v, %+v", tr, err, r)
		}
	})
	t.Run("ErrConflict", func(t *testing.T) {
		r, l := booked(t)
		r.Status = reservation.StatusInProgress
		if _, _, err := reservation.Update(ctx, r, reservation.Change{}, l, now); reservation.ErrorCode(err) != reservation.ECONFLICT {
			t.Errorf("update in progress: %v, want conflict", err)
		}
	})
}

// TestChangesKeepUnknownCreates: a change while a create's outcome is
// unknown (no conversation yet, attempts sent) keeps the attempts, so
// that the sync looks for the callback before creating or forgetting one;
// once the callback is known, a change starts its count afresh.
func TestChangesKeepUnknownCreates(t *testing.T) {
	for _, change := range []string{"reschedule", "cancel"} {
		t.Run(change, func(t *testing.T) {
			apply := func(r *reservation.Reservation, l *ledger) {
				t.Helper()
				var err error
				if change == "cancel" {
					_, err = reservation.Cancel(ctx, r, l, now)
				} else {
					_, _, err = reservation.Update(ctx, r, reservation.Change{Candidates: []reservation.Candidate{cand(3, 5)}}, l, now)
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			r, l := booked(t)
			r.Sync.Attempts, r.Sync.LastError = 2, "create sent, outcome not yet known"
			apply(r, l)
			if r.Sync.Attempts != 2 || r.Sync.State != reservation.SyncPending || r.Sync.LastError != "" {
				t.Errorf("unknown create, then %s: sync %+v; want the 2 attempts kept", change, r.Sync)
			}
			r, l = booked(t)
			synced(t, r)
			r.Sync.Attempts = 3
			apply(r, l)
			if r.Sync.Attempts != 0 {
				t.Errorf("known callback, then %s: attempts %d, want 0", change, r.Sync.Attempts)
			}
		})
	}
}

func TestCancel(t *testing.T) {
	for _, tt := range []struct {
		from     reservation.Status
		code     string
		released bool
	}{
		{reservation.StatusScheduled, "", true},
		{reservation.StatusInProgress, "", true},
		{reservation.StatusCompleted, reservation.ECONFLICT, false},
		{reservation.StatusMissed, reservation.ECONFLICT, false},
		{reservation.StatusFailed, reservation.ECONFLICT, false},
	} {
		t.Run(string(tt.from), func(t *testing.T) {
			r, l := booked(t)
			r.Status = tt.from
			tr, err := reservation.Cancel(ctx, r, l, now)
			if reservation.ErrorCode(err) != tt.code {
				t.Fatalf("err = %v, want code %q", err, tt.code)
			}
			if got := l.used[at(0)] == 0; got != tt.released {
				t.Errorf("released = %v, want %v", got, tt.released)
			}
			if tt.code == "" && (tr.Event != reservation.EventCanceled || r.Status != reservation.StatusCanceled ||
				r.Outcome != reservation.OutcomeCanceled || r.Sync.State != reservation.SyncPending || r.Version != 2) {
				t.Errorf("after cancel: %+v, %+v", tr, r)
			}
		})
	}
	r, l := booked(t)
	if _, err := reservation.Cancel(ctx, r, l, now); err != nil {
		t.Fatal(err)
	}
	if tr, err := reservation.Cancel(ctx, r, l, now); err != nil || tr.Changed || r.Version != 2 {
		t.Errorf("second cancel = %+v, %v; want no change", tr, err)
	}
}

func TestMarkSynced(t *testing.T) {
	r, _ := booked(t)
	tr := reservation.MarkSynced(r, reservation.SyncResult{ConversationID: "c1",
		CallbackIDs: []reservation.CallbackIdentifier{{Type: "ACD", ID: "a"}}, ScheduledAt: r.Slot.Start})
	if tr.Event != reservation.EventSynced || r.Sync.State != reservation.SyncSynced || r.Sync.ConversationID != "c1" ||
		len(r.Sync.CallbackIDs) != 1 || r.Version != 1 {
		t.Fatalf("first sync: %+v, %+v (the version counts booking changes only)", tr, r.Sync)
	}
	if tr := reservation.MarkSynced(r, reservation.SyncResult{ScheduledAt: r.Slot.Start}); tr.Changed {
		t.Errorf("the same result again changed %+v", tr)
	}
	// The reservation moved while the call was out: stays pending, no event.
	r.Slot = reservation.Slot{Start: at(5), End: at(6)}
	r.Sync.State = reservation.SyncPending
	if tr := reservation.MarkSynced(r, reservation.SyncResult{ScheduledAt: at(0)}); !tr.Changed || tr.Event != "" || r.Sync.State != reservation.SyncPending {
		t.Errorf("a stale result: %+v, state %s", tr, r.Sync.State)
	}
	// A canceled reservation is in sync once its callback is disconnected.
	r.Status = reservation.StatusCanceled
	if tr := reservation.MarkSynced(r, reservation.SyncResult{}); tr.Event != "" {
		t.Errorf("canceled, not disconnected: %+v", tr)
	}
	if tr := reservation.MarkSynced(r, reservation.SyncResult{Disconnected: true}); tr.Event != reservation.EventSynced {
		t.Errorf("canceled and disconnected: %+v", tr)
	}
}

func TestMarkSyncFailed(t *testing.T) {
	r, l := booked(t)
	tr, err := reservation.MarkSyncFailed(ctx, r, "genesys: 400 bad queue", false, l, now)
	if err != nil || tr.Event != reservation.EventSyncFailed || r.Status != reservation.StatusScheduled || l.used[at(0)] != 1 || r.Version != 1 {
		t.Fatalf("a refused reschedule: %+v, %v, %+v", tr, err, r)
	}
	if tr, _ := reservation.MarkSyncFailed(ctx, r, "genesys: 400 bad queue", false, l, now); tr.Changed {
		t.Errorf("the same refusal again changed %+v", tr)
	}
	tr, err = reservation.MarkSyncFailed(ctx, r, "genesys: 400 refused create", true, l, now)
	if err != nil || r.Status != reservation.StatusFailed || r.Outcome != reservation.OutcomeFailed || l.used[at(0)] != 0 || r.Version != 2 ||
		tr.Event != reservation.EventSyncFailed {
		t.Errorf("a refused create: %+v, %v, %+v, used %v", tr, err, r, l.used)
	}
	long := strings.Repeat("é", 400) // 800 bytes
	if _, err := reservation.MarkSyncFailed(ctx, r, long, false, l, now); err != nil {
		t.Fatal(err)
	}
	if n := len(r.Sync.LastError); n > reservation.MaxErrorBytes || !utf8.ValidString(r.Sync.LastError) || n < reservation.MaxErrorBytes-1 {
		t.Errorf("kept %d bytes (valid UTF-8 %v), want at most %d, cut at a character", n, utf8.ValidString(r.Sync.LastError), reservation.MaxErrorBytes)
	}
	if tr, _ := reservation.MarkSyncFailed(ctx, r, long, false, l, now); tr.Changed {
		t.Errorf("the same long refusal again changed %+v", tr)
	}
}

// TestApplyGenesysForwardOnly plays sequences of Genesys reports on a
// synced reservation: only forward moves change it, in any order of
// arrival, and each repeated or late report changes nothing.
func TestApplyGenesysForwardOnly(t *testing.T) {
	up := func(s reservation.Status) reservation.GenesysUpdate {
		return reservation.GenesysUpdate{Status: s, ScheduledAt: at(0)}
	}
	for _, tt := range []struct {
		name    string
		reports []reservation.Status
		want    reservation.Status
		events  []string
	}{
		{"answered", []reservation.Status{"scheduled", "in_progress", "completed"}, "completed",
			[]string{reservation.EventInProgress, reservation.EventCompleted}},
		{"repeated", []reservation.Status{"in_progress", "in_progress", "completed", "completed"}, "completed",
			[]string{reservation.EventInProgress, reservation.EventCompleted}},
		{"late in_progress", []reservation.Status{"completed", "in_progress", "scheduled"}, "completed",
			[]string{reservation.EventCompleted}},
		{"late scheduled", []reservation.Status{"in_progress", "scheduled"}, "in_progress",
			[]string{reservation.EventInProgress}},
		{"missed then completed", []reservation.Status{"missed", "completed"}, "missed", []string{reservation.EventMissed}},
		{"nothing implied", []reservation.Status{"", ""}, "scheduled", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r, l := booked(t)
			synced(t, r)
			var events []string
			for _, s := range tt.reports {
				tr, err := reservation.ApplyGenesys(ctx, r, up(s), l, now)
				if err != nil {
					t.Fatal(err)
				}
				if tr.Event != "" {
					events = append(events, tr.Event)
				}
			}
			if r.Status != tt.want || !cmp.Equal(events, tt.events) {
				t.Errorf("status %s, events %v; want %s, %v", r.Status, events, tt.want, tt.events)
			}
		})
	}
}

func TestApplyGenesys(t *testing.T) {
	t.Run("CanceledInGenesysFreesTheSlot", func(t *testing.T) {
		r, l := booked(t)
		synced(t, r)
		tr, err := reservation.ApplyGenesys(ctx, r, reservation.GenesysUpdate{Status: reservation.StatusCanceled, DisconnectType: "client"}, l, now)
		if err != nil || tr.Event != reservation.EventCanceled || l.used[at(0)] != 0 || r.DisconnectType != "client" || r.Version != 2 {
			t.Errorf("%+v, %v, %+v, used %v", tr, err, r, l.used)
		}
	})
	t.Run("FailedInGenesysFreesTheSlot", func(t *testing.T) {
		r, l := booked(t)
		synced(t, r)
		tr, err := reservation.ApplyGenesys(ctx, r, reservation.GenesysUpdate{Status: reservation.StatusFailed}, l, now)
		if err != nil || tr.Event != reservation.EventFailed || l.used[at(0)] != 0 || r.Status != reservation.StatusFailed {
			t.Errorf("%+v, %v, %+v, used %v", tr, err, r, l.used)
		}
	})
	t.Run("CompletedKeepsItsPlace", func(t *testing.T) {
		r, l := booked(t)
		synced(t, r)
		if _, err := reservation.ApplyGenesys(ctx, r, reservation.GenesysUpdate{Status: reservation.StatusCompleted}, l, now); err != nil {
			t.Fatal(err)
		}
		if l.used[at(0)] != 1 || len(l.calls) != 0 {
			t.Errorf("a completed callback changed the ledger: used %v, calls %v", l.used, l.calls)
		}
	})
	t.Run("OutcomeAndWhatTheCallSays", func(t *testing.T) {
		r, l := booked(t)
		synced(t, r)
		reasons := []reservation.DisconnectReason{{Type: "q850", Code: 19}}
		if _, err := reservation.ApplyGenesys(ctx, r, reservation.GenesysUpdate{Status: reservation.StatusInProgress, DialAttempts: 1, ScheduledAt: at(0)}, l, now); err != nil {
			t.Fatal(err)
		}
		if r.Outcome != "" || r.DialAttempts != 1 {
			t.Errorf("in progress: outcome %q, attempts %d", r.Outcome, r.DialAttempts)
		}
		tr, err := reservation.ApplyGenesys(ctx, r, reservation.GenesysUpdate{Status: reservation.StatusMissed, DisconnectType: "timeout",
			DisconnectReasons: reasons, WrapupCode: "wc-no-answer", DialAttempts: 1, ScheduledAt: at(0)}, l, now)
		if err != nil || tr.Event != reservation.EventMissed || r.Outcome != reservation.OutcomeNotReached || r.DisconnectType != "timeout" ||
			!cmp.Equal(r.DisconnectReasons, reasons) || r.WrapupCode != "wc-no-answer" || r.DialAttempts != 1 || l.used[at(0)] != 1 {
			t.Errorf("%+v, %v, %+v", tr, err, r)
		}
		// A wrap-up that came later changes nothing: missed is final.
		if tr, _ := reservation.ApplyGenesys(ctx, r, reservation.GenesysUpdate{Status: reservation.StatusCompleted, WrapupCode: "other"}, l, now); tr.Changed || r.WrapupCode != "wc-no-answer" {
			t.Errorf("a final outcome changed: %+v", r)
		}
	})
	t.Run("EveryEndHasItsOutcome", func(t *testing.T) {
		for st, want := range map[reservation.Status]reservation.Outcome{
			reservation.StatusCompleted: reservation.OutcomeReached, reservation.StatusMissed: reservation.OutcomeNotReached,
			reservation.StatusCanceled: reservation.OutcomeCanceled, reservation.StatusFailed: reservation.OutcomeFailed,
		} {
			r, l := booked(t)
			synced(t, r)
			if _, err := reservation.ApplyGenesys(ctx, r, reservation.GenesysUpdate{Status: st}, l, now); err != nil || r.Outcome != want {
				t.Errorf("%s: outcome %q, want %q (%v)", st, r.Outcome, want, err)
			}
		}
		// The outcome Genesys implies wins over the status's own: a call
		// answered but wrapped up as a voicemail is missed, not reached.
		r, l := booked(t)
		synced(t, r)
		if _, err := reservation.ApplyGenesys(ctx, r, reservation.GenesysUpdate{Status: reservation.StatusMissed, Outcome: reservation.OutcomeNotReached}, l, now); err != nil ||
			r.Outcome != reservation.OutcomeNotReached {
			t.Errorf("outcome %q, %v", r.Outcome, err)
		}
	})
	t.Run("RescheduledInGenesysAfterTheOffer", func(t *testing.T) {
		r, l := booked(t)
		synced(t, r)
		if _, err := reservation.ApplyGenesys(ctx, r, reservation.GenesysUpdate{Status: reservation.StatusInProgress, DialAttempts: 1, ScheduledAt: at(0)}, l, now); err != nil {
			t.Fatal(err)
		}
		// A late snapshot of the time it had changes nothing.
		if tr, _ := reservation.ApplyGenesys(ctx, r, reservation.GenesysUpdate{Status: reservation.StatusScheduled, ScheduledAt: at(0)}, l, now); tr.Changed {
			t.Errorf("a late scheduled snapshot moved it back: %+v", r)
		}
		l.used[at(8)] = 2
		tr, err := reservation.ApplyGenesys(ctx, r, reservation.GenesysUpdate{Status: reservation.StatusScheduled, ScheduledAt: at(8),
			Bucket: at(8), Cap: 2, DialAttempts: 1, WrapupCode: "wc-no-answer"}, l, now)
		if err != nil || tr.Event != reservation.EventRescheduled || r.Status != reservation.StatusScheduled || !r.Slot.Start.Equal(at(8)) ||
			!r.Overbooked || r.DialAttempts != 1 || r.Outcome != "" || l.used[at(0)] != 0 || l.used[at(8)] != 3 || !r.Sync.ScheduledAt.Equal(at(8)) {
			t.Errorf("%+v, %v, %+v, used %v", tr, err, r, l.used)
		}
		// Late snapshots from the first attempt (in progress, at the old
		// time, dialled no more often than recorded) change nothing.
		for _, st := range []reservation.Status{reservation.StatusInProgress, reservation.StatusMissed} {
			if tr, _ := reservation.ApplyGenesys(ctx, r, reservation.GenesysUpdate{Status: st, ScheduledAt: at(0), DialAttempts: 1}, l, now); tr.Changed {
				t.Errorf("a late %s snapshot of the first attempt applied: %+v", st, r)
			}
		}
		// The next attempt is reached.
		for _, st := range []reservation.Status{reservation.StatusInProgress, reservation.StatusCompleted} {
			if _, err := reservation.ApplyGenesys(ctx, r, reservation.GenesysUpdate{Status: st, ScheduledAt: at(8), DialAttempts: 2}, l, now); err != nil {
				t.Fatal(err)
			}
		}
		if r.Status != reservation.StatusCompleted || r.Outcome != reservation.OutcomeReached || r.DialAttempts != 2 {
			t.Errorf("after the second attempt: %+v", r)
		}
	})
	t.Run("MovedInGenesysEvenIntoAFullBucket", func(t *testing.T) {
		r, l := booked(t)
		synced(t, r)
		l.used[at(8)] = 2
		tr, err := reservation.ApplyGenesys(ctx, r, reservation.GenesysUpdate{Status: reservation.StatusScheduled, ScheduledAt: at(8),
			Bucket: at(8), Cap: 2}, l, now)
		if err != nil || tr.Event != reservation.EventRescheduled || !r.Slot.Start.Equal(at(8)) || r.Slot.End.Sub(r.Slot.Start) != 15*time.Minute ||
			!r.Overbooked || r.Sync.State != reservation.SyncSynced || l.used[at(0)] != 0 || l.used[at(8)] != 3 {
			t.Errorf("%+v, %v, %+v, used %v", tr, err, r, l.used)
		}
	})
	t.Run("EchoOfWhatWeSent", func(t *testing.T) {
		r, l := booked(t)
		synced(t, r)
		// We moved it; Genesys still reports the time we last sent.
		if _, _, err := reservation.Update(ctx, r, reservation.Change{Candidates: []reservation.Candidate{cand(2, 5)}}, l, now); err != nil {
			t.Fatal(err)
		}
		l.calls = nil
		tr, err := reservation.ApplyGenesys(ctx, r, reservation.GenesysUpdate{Status: reservation.StatusScheduled, ScheduledAt: at(0)}, l, now)
		if err != nil || tr.Changed || len(l.calls) != 0 {
			t.Errorf("an echo was taken as a change: %+v, %v, calls %v", tr, err, l.calls)
		}
		// Our reschedule lands.
		tr, err = reservation.ApplyGenesys(ctx, r, reservation.GenesysUpdate{Status: reservation.StatusScheduled, ScheduledAt: at(2)}, l, now)
		if err != nil || tr.Event != reservation.EventSynced || r.Sync.State != reservation.SyncSynced || !r.Sync.ScheduledAt.Equal(at(2)) {
			t.Errorf("the landed reschedule: %+v, %v, %+v", tr, err, r.Sync)
		}
	})
	t.Run("OurCancelLands", func(t *testing.T) {
		r, l := booked(t)
		synced(t, r)
		if _, err := reservation.Cancel(ctx, r, l, now); err != nil {
			t.Fatal(err)
		}
		if tr, _ := reservation.ApplyGenesys(ctx, r, reservation.GenesysUpdate{Status: reservation.StatusInProgress}, l, now); tr.Changed {
			t.Errorf("a canceled reservation moved: %+v", tr)
		}
		tr, err := reservation.ApplyGenesys(ctx, r, reservation.GenesysUpdate{Status: reservation.StatusCanceled}, l, now)
		if err != nil || tr.Event != reservation.EventSynced || r.Sync.State != reservation.SyncSynced || r.Status != reservation.StatusCanceled || l.used[at(0)] != 0 {
			t.Errorf("%+v, %v, %+v, used %v", tr, err, r, l.used)
		}
	})
}

func TestWriteCheck(t *testing.T) {
	r := &reservation.Reservation{ID: "cb_1", Version: 3}
	for _, tt := range []struct {
		ifMatch []int
		ok      bool
	}{{nil, true}, {[]int{3}, true}, {[]int{1, 3}, true}, {[]int{2}, false}} {
		w := reservation.Write{IfMatch: tt.ifMatch}
		err := w.Check(r)
		if (err == nil) != tt.ok {
			t.Errorf("IfMatch %v: %v", tt.ifMatch, err)
		}
		if err != nil && (reservation.ErrorCode(err) != reservation.EPRECONDITION || !strings.Contains(err.Error(), "version 3, not 2")) {
			t.Errorf("IfMatch %v: %v, want a precondition naming both versions", tt.ifMatch, err)
		}
	}
	r.ClientID = "website"
	for _, tt := range []struct {
		owner string
		ok    bool
	}{{"", true}, {"website", true}, {"other", false}} {
		w := reservation.Write{Owner: tt.owner, IfMatch: []int{2}}
		err := w.Check(r)
		if tt.ok && reservation.ErrorCode(err) != reservation.EPRECONDITION {
			t.Errorf("owner %q: %v, want the version checked", tt.owner, err)
		}
		if !tt.ok && err != reservation.ErrNotFound {
			t.Errorf("owner %q: %v, want not found (before the version is looked at)", tt.owner, err)
		}
	}
}
