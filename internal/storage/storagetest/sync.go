package storagetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/slotline/slotline/internal/reservation"
	"github.com/slotline/slotline/internal/storage"
)

func syncTests() []struct {
	name string
	fn   func(t *testing.T, s *storage.Store)
} {
	return []struct {
		name string
		fn   func(t *testing.T, s *storage.Store)
	}{
		{"SyncLifecycle", testSyncLifecycle},
		{"SyncAfterReschedule", testSyncAfterReschedule},
		{"SyncFailed", testSyncFailed},
		{"GenesysForwardOnly", testGenesysForwardOnly},
		{"GenesysReschedule", testGenesysReschedule},
		{"GenesysBackToScheduled", testGenesysBackToScheduled},
		{"GenesysFailed", testGenesysFailed},
		{"GenesysCancelAndOurCancel", testGenesysCancel},
		{"Leases", testLeases},
		{"ScheduleImports", testScheduleImports},
		{"Unsettled", testUnsettled},
		{"SMSOnce", testSMSOnce},
		{"Notifications", testNotifications},
		{"SMSFailure", testSMSFailure},
		{"SyncClaim", testSyncClaim},
		{"HoldLease", testHoldLease},
	}
}

func genesysWrite() reservation.Write {
	return reservation.Write{Actor: "genesys", Origin: reservation.OriginGenesys}
}

func eventTypes(t *testing.T, s *storage.Store, id string) []string {
	t.Helper()
	evs, err := s.FindEvents(context.Background(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, ev := range evs {
		if ev.ReservationID == id {
			out = append(out, ev.Type)
		}
	}
	return out
}

func synced(t *testing.T, s *storage.Store, r *reservation.Reservation) *reservation.Reservation {
	t.Helper()
	got, err := s.MarkSynced(context.Background(), r.ID, reservation.SyncResult{
		ConversationID: "conv-" + r.ID, ScheduledAt: r.Slot.Start,
		CallbackIDs: []reservation.CallbackIdentifier{{Type: "ACD", ID: "acd-" + r.ID}},
	}, genesysWrite())
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func testSyncLifecycle(t *testing.T, s *storage.Store) {
	ctx := context.Background()
	r := create(t, s, "q1", cand(0, 5))
	n, err := s.RecordSyncAttempt(ctx, r.ID, "genesys: 503 service.unavailable", true)
	if err != nil || n != 1 {
		t.Fatalf("RecordSyncAttempt = %d, %v", n, err)
	}
	got := synced(t, s, r)
	if got.Sync.State != reservation.SyncSynced || got.Sync.ConversationID != "conv-"+r.ID || got.Sync.LastError != "" ||
		len(got.Sync.CallbackIDs) != 1 || got.Version != 1 {
		t.Errorf("after MarkSynced: %+v (version %d)", got.Sync, got.Version)
	}
	// A repeated MarkSynced changes nothing and records no second event.
	synced(t, s, r)
	if got := eventTypes(t, s, r.ID); len(got) != 2 || got[1] != reservation.EventSynced {
		t.Errorf("events = %v, want created, synced", got)
	}
	found, err := s.FindReservationByConversation(ctx, "conv-"+r.ID)
	if err != nil || found.ID != r.ID {
		t.Errorf("FindReservationByConversation = %v, %v", found, err)
	}
	// Genesys starts dialing, then the customer talks to an agent.
	for _, st := range []reservation.Status{reservation.StatusInProgress, reservation.StatusCompleted} {
		got, changed, err := s.ApplyGenesys(ctx, r.ID, reservation.GenesysUpdate{Status: st, ScheduledAt: r.Slot.Start}, genesysWrite())
		if err != nil || !changed || got.Status != st {
			t.Fatalf("ApplyGenesys(%s) = %+v, %v, %v", st, got, changed, err)
		}
	}
	want := []string{reservation.EventCreated, reservation.EventSynced, reservation.EventInProgress, reservation.EventCompleted}
	if got := eventTypes(t, s, r.ID); len(got) != len(want) || got[2] != want[2] || got[3] != want[3] {
		t.Errorf("events = %v, want %v", got, want)
	}
	evs, _ := s.FindEvents(ctx, 0, 100)
	if last := evs[len(evs)-1]; last.Origin != reservation.OriginGenesys || last.Actor != "genesys" {
		t.Errorf("last event origin %q actor %q", last.Origin, last.Actor)
	}
}

func testSyncAfterReschedule(t *testing.T, s *storage.Store) {
	ctx := context.Background()
	r := create(t, s, "q1", cand(0, 5))
	// The create was sent with the old time; meanwhile the client moved it.
	moved, _, err := s.UpdateReservation(ctx, r.ID, reservation.Change{Candidates: []reservation.Candidate{cand(2, 5)}, Matrix: []reservation.Slot{cand(2, 5).Slot}}, write())
	if err != nil {
		t.Fatal(err)
	}
	before, err := s.LastEventSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.MarkSynced(ctx, r.ID, reservation.SyncResult{ConversationID: "c1", ScheduledAt: r.Slot.Start}, genesysWrite())
	if err != nil {
		t.Fatal(err)
	}
	// It stays pending, with the moved slot and what Genesys holds, and
	// without an event: the reschedule's own event enqueued its sync.
	if got.Sync.State != reservation.SyncPending || !got.Slot.Start.Equal(moved.Slot.Start) ||
		got.Sync.ConversationID != "c1" || !got.Sync.ScheduledAt.Equal(r.Slot.Start) {
		t.Errorf("synced with a stale time: state %s, slot %v, sync %+v", got.Sync.State, got.Slot, got.Sync)
	}
	if after, _ := s.LastEventSeq(ctx); after != before {
		t.Errorf("a stale sync result appended events %d..%d", before+1, after)
	}
	if stored, err := s.FindReservationByID(ctx, r.ID); err != nil || stored.Sync.State != reservation.SyncPending || stored.Sync.ConversationID != "c1" {
		t.Errorf("stored after a stale sync: %+v, %v", stored, err)
	}
	// Genesys reports the old time (what we sent): not a supervisor change.
	if _, changed, _ := s.ApplyGenesys(ctx, r.ID, reservation.GenesysUpdate{Status: reservation.StatusScheduled, ScheduledAt: r.Slot.Start}, genesysWrite()); changed {
		t.Error("Genesys echoing what we sent was taken as a change")
	}
	// The reschedule lands.
	got, err = s.MarkSynced(ctx, r.ID, reservation.SyncResult{ScheduledAt: moved.Slot.Start}, genesysWrite())
	if err != nil || got.Sync.State != reservation.SyncSynced || got.Sync.ConversationID != "c1" {
		t.Errorf("after the reschedule landed: %+v, %v", got.Sync, err)
	}
}

func testSyncFailed(t *testing.T, s *storage.Store) {
	ctx := context.Background()
	r := create(t, s, "q1", cand(0, 1))
	got, err := s.MarkSyncFailed(ctx, r.ID, "genesys: 400 bad.request: queue not found", true, genesysWrite())
	if err != nil || got.Status != reservation.StatusFailed || got.Sync.State != reservation.SyncFailed || got.Version != 2 {
		t.Fatalf("MarkSyncFailed = %+v, %v", got, err)
	}
	if u := usage(t, s, "q1"); u[cand(0, 1).Bucket.UnixMicro()] != 0 {
		t.Errorf("failed reservation still holds its slot: %v", u)
	}
	if got := eventTypes(t, s, r.ID); got[len(got)-1] != reservation.EventSyncFailed {
		t.Errorf("events = %v", got)
	}
	create(t, s, "q1", cand(0, 1)) // the slot is free again
}

func testGenesysForwardOnly(t *testing.T, s *storage.Store) {
	ctx := context.Background()
	r := synced(t, s, create(t, s, "q1", cand(0, 5)))
	apply := func(st reservation.Status, dt string) (*reservation.Reservation, bool) {
		got, changed, err := s.ApplyGenesys(ctx, r.ID, reservation.GenesysUpdate{Status: st, DisconnectType: dt, ScheduledAt: r.Slot.Start}, genesysWrite())
		if err != nil {
			t.Fatal(err)
		}
		return got, changed
	}
	if _, changed := apply(reservation.StatusScheduled, ""); changed {
		t.Error("a repeated scheduled snapshot changed something")
	}
	apply(reservation.StatusInProgress, "")
	if _, changed := apply(reservation.StatusInProgress, ""); changed {
		t.Error("a duplicate in_progress changed something")
	}
	if _, changed := apply(reservation.StatusScheduled, ""); changed {
		t.Error("a late scheduled snapshot moved the status back")
	}
	reasons := []reservation.DisconnectReason{{Type: "q850", Code: 19, Phrase: "No answer from user (user alerted)"}}
	got, changed, err := s.ApplyGenesys(ctx, r.ID, reservation.GenesysUpdate{Status: reservation.StatusMissed, DisconnectType: "timeout",
		DisconnectReasons: reasons, WrapupCode: "wc-cust-unavailable", DialAttempts: 2, ScheduledAt: r.Slot.Start}, genesysWrite())
	if err != nil || !changed || got.Status != reservation.StatusMissed || got.Outcome != reservation.OutcomeNotReached ||
		got.DisconnectType != "timeout" || len(got.DisconnectReasons) != 1 || got.DisconnectReasons[0] != reasons[0] ||
		got.WrapupCode != "wc-cust-unavailable" || got.DialAttempts != 2 {
		t.Errorf("missed = %+v, %v", got, err)
	}
	// As stored, and in the event.
	if back, err := s.FindReservationByID(ctx, r.ID); err != nil || back.Outcome != reservation.OutcomeNotReached ||
		len(back.DisconnectReasons) != 1 || back.DisconnectReasons[0] != reasons[0] || back.WrapupCode != got.WrapupCode || back.DialAttempts != 2 {
		t.Errorf("read back = %+v, %v", back, err)
	}
	if evs := eventTypes(t, s, r.ID); evs[len(evs)-1] != reservation.EventMissed {
		t.Errorf("events = %v", evs)
	}
	if _, changed := apply(reservation.StatusCompleted, "client"); changed {
		t.Error("a final status was overwritten")
	}
}

func testGenesysReschedule(t *testing.T, s *storage.Store) {
	ctx := context.Background()
	// Bucket 3 is full (cap 1); a supervisor moves our reservation there.
	create(t, s, "q1", cand(3, 1))
	r := synced(t, s, create(t, s, "q1", cand(0, 1)))
	target := cand(3, 1)
	got, changed, err := s.ApplyGenesys(ctx, r.ID, reservation.GenesysUpdate{
		Status: reservation.StatusScheduled, ScheduledAt: target.Slot.Start, Bucket: target.Bucket, Cap: 1,
	}, genesysWrite())
	if err != nil || !changed {
		t.Fatalf("ApplyGenesys = %v, %v", changed, err)
	}
	if !got.Slot.Start.Equal(target.Slot.Start) || !got.Overbooked || got.Version != 2 || got.Sync.State != reservation.SyncSynced {
		t.Errorf("rescheduled in Genesys = %+v", got)
	}
	u := usage(t, s, "q1")
	if u[cand(0, 1).Bucket.UnixMicro()] != 0 || u[target.Bucket.UnixMicro()] != 2 {
		t.Errorf("usage = %v, want the old bucket freed and the new one at 2", u)
	}
	if evs := eventTypes(t, s, r.ID); evs[len(evs)-1] != reservation.EventRescheduled {
		t.Errorf("events = %v", evs)
	}
}

// testGenesysBackToScheduled: a callback in progress that Genesys puts
// back to scheduled at a new time (an agent's reschedule after nobody
// answered) is scheduled again, its capacity moved.
func testGenesysBackToScheduled(t *testing.T, s *storage.Store) {
	ctx := context.Background()
	r := synced(t, s, create(t, s, "q1", cand(0, 1)))
	if _, _, err := s.ApplyGenesys(ctx, r.ID, reservation.GenesysUpdate{Status: reservation.StatusInProgress, DialAttempts: 1,
		ScheduledAt: r.Slot.Start}, genesysWrite()); err != nil {
		t.Fatal(err)
	}
	target := cand(4, 1)
	got, changed, err := s.ApplyGenesys(ctx, r.ID, reservation.GenesysUpdate{Status: reservation.StatusScheduled, DialAttempts: 1,
		ScheduledAt: target.Slot.Start, Bucket: target.Bucket, Cap: 1}, genesysWrite())
	if err != nil || !changed || got.Status != reservation.StatusScheduled || !got.Slot.Start.Equal(target.Slot.Start) ||
		got.Overbooked || got.DialAttempts != 1 || got.Outcome != "" {
		t.Fatalf("back to scheduled = %+v, %v, %v", got, changed, err)
	}
	u := usage(t, s, "q1")
	if u[cand(0, 1).Bucket.UnixMicro()] != 0 || u[target.Bucket.UnixMicro()] != 1 {
		t.Errorf("usage = %v, want the capacity moved", u)
	}
	if evs := eventTypes(t, s, r.ID); evs[len(evs)-1] != reservation.EventRescheduled {
		t.Errorf("events = %v", evs)
	}
}

// testGenesysFailed: a callback Genesys could not place is failed, with
// its event, and frees its slot.
func testGenesysFailed(t *testing.T, s *storage.Store) {
	ctx := context.Background()
	r := synced(t, s, create(t, s, "q1", cand(0, 1)))
	got, changed, err := s.ApplyGenesys(ctx, r.ID, reservation.GenesysUpdate{Status: reservation.StatusFailed, DisconnectType: "uncallable",
		DialAttempts: 1}, genesysWrite())
	if err != nil || !changed || got.Status != reservation.StatusFailed || got.Outcome != reservation.OutcomeFailed {
		t.Fatalf("failed = %+v, %v, %v", got, changed, err)
	}
	if evs := eventTypes(t, s, r.ID); evs[len(evs)-1] != reservation.EventFailed {
		t.Errorf("events = %v, want reservation.failed last", evs)
	}
	if u := usage(t, s, "q1"); u[cand(0, 1).Bucket.UnixMicro()] != 0 {
		t.Errorf("slot not freed: %v", u)
	}
}

func testGenesysCancel(t *testing.T, s *storage.Store) {
	ctx := context.Background()
	// A supervisor disconnects a scheduled callback: canceled, slot freed.
	r := synced(t, s, create(t, s, "q1", cand(0, 1)))
	got, changed, err := s.ApplyGenesys(ctx, r.ID, reservation.GenesysUpdate{Status: reservation.StatusCanceled, DisconnectType: "client"}, genesysWrite())
	if err != nil || !changed || got.Status != reservation.StatusCanceled {
		t.Fatalf("ApplyGenesys cancel = %+v, %v, %v", got, changed, err)
	}
	if u := usage(t, s, "q1"); u[cand(0, 1).Bucket.UnixMicro()] != 0 {
		t.Errorf("slot not freed: %v", u)
	}
	// Our own cancel: pending until Genesys confirms the disconnect.
	r2 := synced(t, s, create(t, s, "q1", cand(1, 1)))
	c, _, err := s.CancelReservation(ctx, r2.ID, write())
	if err != nil || c.Sync.State != reservation.SyncPending {
		t.Fatalf("cancel = %+v, %v", c, err)
	}
	got, err = s.MarkSynced(ctx, r2.ID, reservation.SyncResult{Disconnected: true}, genesysWrite())
	if err != nil || got.Sync.State != reservation.SyncSynced || got.Status != reservation.StatusCanceled {
		t.Errorf("cancel carried = %+v, %v", got, err)
	}
}

func testLeases(t *testing.T, s *storage.Store) {
	ctx := context.Background()
	ok, err := s.AcquireLease(ctx, "listener", "a", time.Minute)
	if err != nil || !ok {
		t.Fatalf("first acquire = %v, %v", ok, err)
	}
	if ok, _ := s.AcquireLease(ctx, "listener", "b", time.Minute); ok {
		t.Error("b took a live lease held by a")
	}
	if ok, _ := s.AcquireLease(ctx, "listener", "a", time.Minute); !ok {
		t.Error("a could not renew its lease")
	}
	if ok, _ := s.AcquireLease(ctx, "other", "b", time.Minute); !ok {
		t.Error("leases are not independent by name")
	}
	if err := s.ReleaseLease(ctx, "listener", "a"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.AcquireLease(ctx, "listener", "b", 10*time.Millisecond); !ok {
		t.Error("b could not take a released lease")
	}
	waitPast(time.Now().Add(10 * time.Millisecond))
	if ok, _ := s.AcquireLease(ctx, "listener", "a", time.Minute); !ok {
		t.Error("a could not take an expired lease")
	}
}

func testScheduleImports(t *testing.T, s *storage.Store) {
	ctx := context.Background()
	if data, _, err := s.LoadScheduleImport(ctx, "q1"); err != nil || data != "" {
		t.Fatalf("empty load = %q, %v", data, err)
	}
	at := time.Now().UTC().Truncate(time.Microsecond)
	for _, v := range []string{`{"v":1}`, `{"v":2}`} {
		if err := s.SaveScheduleImport(ctx, "q1", v, at); err != nil {
			t.Fatal(err)
		}
	}
	data, got, err := s.LoadScheduleImport(ctx, "q1")
	if err != nil || data != `{"v":2}` || !got.Equal(at) {
		t.Errorf("load = %q %v %v", data, got, err)
	}
}

func testUnsettled(t *testing.T, s *storage.Store) {
	ctx := context.Background()
	a := create(t, s, "q1", cand(0, 5))
	b := synced(t, s, create(t, s, "q1", cand(1, 5)))
	c := create(t, s, "q1", cand(2, 5))
	d := synced(t, s, create(t, s, "q1", cand(3, 5)))
	e := synced(t, s, create(t, s, "q1", cand(4, 5)))
	if _, _, err := s.ApplyGenesys(ctx, b.ID, reservation.GenesysUpdate{Status: reservation.StatusCompleted}, genesysWrite()); err != nil {
		t.Fatal(err)
	}
	for _, r := range []*reservation.Reservation{c, d, e} {
		if _, _, err := s.CancelReservation(ctx, r.ID, write()); err != nil {
			t.Fatal(err)
		}
	}
	// d's cancel never landed in Genesys: its sync failed, and
	// reconciliation must still see it. e's cancel landed.
	if _, err := s.MarkSyncFailed(ctx, d.ID, "the cancel did not land", false, genesysWrite()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.MarkSynced(ctx, e.ID, reservation.SyncResult{Disconnected: true}, genesysWrite()); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for cursor := int64(0); ; {
		page, next, err := s.FindUnsettled(ctx, cursor, 1)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range page {
			ids = append(ids, r.ID)
		}
		if next == 0 {
			break
		}
		cursor = next
	}
	// a is scheduled; c was canceled before it reached Genesys, so its
	// cancel is pending too; d's cancel failed; b is finished, and so is e.
	if len(ids) != 3 || ids[0] != a.ID || ids[1] != c.ID || ids[2] != d.ID {
		t.Errorf("unsettled = %v, want %s, %s and %s", ids, a.ID, c.ID, d.ID)
	}
}

// testSMSFailure: an SMS that will not be sent is recorded once, as
// reservation.sms_refused (permanent) or reservation.sms_failed
// (transient), and not after an SMS event of any kind.
func testSMSFailure(t *testing.T, s *storage.Store) {
	ctx := context.Background()
	refused, failed, sent := create(t, s, "q1", cand(0, 5)), create(t, s, "q1", cand(1, 5)), create(t, s, "q1", cand(2, 5))
	for i, want := range []bool{true, false} {
		if got, err := s.RecordSMSFailure(ctx, refused.ID, true, "10dlc (status 400)", genesysWrite()); err != nil || got != want {
			t.Errorf("RecordSMSFailure(permanent) #%d = %v, %v; want %v", i, got, err, want)
		}
	}
	if got, err := s.RecordSMSFailure(ctx, failed.ID, false, "server (status 503)", genesysWrite()); err != nil || !got {
		t.Errorf("RecordSMSFailure(transient) = %v, %v", got, err)
	}
	if _, err := s.RecordSMS(ctx, sent.ID, genesysWrite()); err != nil {
		t.Fatal(err)
	}
	if got, err := s.RecordSMSFailure(ctx, sent.ID, true, "late", genesysWrite()); err != nil || got {
		t.Errorf("RecordSMSFailure after sms_sent = %v, %v; want nothing recorded", got, err)
	}
	for id, want := range map[string][]string{
		refused.ID: {reservation.EventCreated, reservation.EventSMSRefused},
		failed.ID:  {reservation.EventCreated, reservation.EventSMSFailed},
		sent.ID:    {reservation.EventCreated, reservation.EventSMSSent},
	} {
		if got := eventTypes(t, s, id); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("events of %s = %v, want %v", id, got, want)
		}
	}
	if r, err := s.FindReservationByID(ctx, refused.ID); err != nil || r.Version != refused.Version || r.Status != refused.Status {
		t.Errorf("the reservation changed: %+v, %v", r, err)
	}
}

func testSMSOnce(t *testing.T, s *storage.Store) {
	ctx := context.Background()
	r := create(t, s, "q1", cand(0, 5))
	for i, want := range []bool{true, false} {
		got, err := s.RecordSMS(ctx, r.ID, genesysWrite())
		if err != nil || got != want {
			t.Errorf("RecordSMS #%d = %v, %v; want %v", i, got, err, want)
		}
	}
	if sent, err := s.SMSSent(ctx, r.ID); err != nil || !sent {
		t.Errorf("SMSSent = %v, %v", sent, err)
	}
}

// testSyncClaim checks the lease that gives one sync worker at a time a
// reservation (storage.LeaseSync, the one lease API), and a refused
// reschedule.
func testSyncClaim(t *testing.T, s *storage.Store) {
	ctx := context.Background()
	r := create(t, s, "q1", cand(0, 5))
	name := storage.LeaseSync(r.ID)
	if ok, err := s.AcquireLease(ctx, name, "w1", time.Minute); err != nil || !ok {
		t.Fatalf("first claim = %v, %v", ok, err)
	}
	if ok, _ := s.AcquireLease(ctx, name, "w2", time.Minute); ok {
		t.Error("w2 claimed a reservation w1 holds")
	}
	if err := s.ReleaseLease(ctx, name, "w2"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.AcquireLease(ctx, name, "w2", time.Minute); ok {
		t.Error("w2's release freed w1's claim")
	}
	if ok, _ := s.AcquireLease(ctx, storage.LeaseSync("other"), "w2", time.Minute); !ok {
		t.Error("w2 could not claim another reservation")
	}
	if err := s.ReleaseLease(ctx, name, "w1"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.AcquireLease(ctx, name, "w2", 10*time.Millisecond); !ok {
		t.Error("w2 could not claim a released reservation")
	}
	waitPast(time.Now().Add(10 * time.Millisecond))
	if ok, _ := s.AcquireLease(ctx, name, "w3", time.Minute); !ok {
		t.Error("w3 could not take an expired claim (a killed worker)")
	}
	if n, err := s.DeleteExpiredLeases(ctx, time.Now().Add(2*time.Minute)); err != nil || n != 2 {
		t.Errorf("DeleteExpiredLeases = %d, %v; want the two held leases", n, err)
	}
	// A refused reschedule keeps the reservation scheduled.
	got, err := s.MarkSyncFailed(ctx, r.ID, "genesys: 400 already dialing", false, genesysWrite())
	if err != nil || got.Status != reservation.StatusScheduled || got.Sync.State != reservation.SyncFailed {
		t.Errorf("MarkSyncFailed without failing = %+v, %v", got, err)
	}
}

// waitPast returns once the clock has passed t: called with the time
// just after a lease was acquired plus its TTL, it waits for the lease's
// own expiry (the store reads the real clock; there is none to inject).
func waitPast(t time.Time) {
	for !time.Now().After(t) {
		time.Sleep(time.Until(t) + time.Microsecond) // the expiry itself, not a guess
	}
}

// testHoldLease holds a lease past its time to live (the renewals keep
// it), sees Lost when another holder takes it after a lapse, frees it on
// Release, and lets it lapse when the holder's context ends without a
// Release (a job that panicked).
func testHoldLease(t *testing.T, s *storage.Store) {
	ctx := context.Background()
	const ttl = time.Second
	l, err := s.HoldLease(ctx, "singleton", "p1", ttl)
	if err != nil || l == nil {
		t.Fatalf("HoldLease = %v, %v", l, err)
	}
	if other, err := s.HoldLease(ctx, "singleton", "p2", ttl); err != nil || other != nil {
		t.Fatalf("a second holder got the lease: %v, %v", other, err)
	}
	// Three times its TTL later, p1 still holds it: renewals ran.
	deadline := time.Now().Add(3 * ttl)
	for time.Now().Before(deadline) {
		if ok, err := s.AcquireLease(ctx, "singleton", "p2", ttl); err != nil || ok {
			t.Fatalf("p2 took a renewed lease: %v, %v", ok, err)
		}
		// Real time on purpose: the renewals run on the store's real
		// clock and the database, so the lease must outlive 3 TTLs of it.
		time.Sleep(ttl / 8)
	}
	select {
	case <-l.Lost():
		t.Fatalf("lease lost while renewed: %v", l.Err())
	default:
	}
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.AcquireLease(ctx, "singleton", "p2", time.Minute); err != nil || !ok {
		t.Fatalf("p2 could not take a released lease: %v, %v", ok, err)
	}
	// p3 holds it after p2's lapses; p2 taking it back is seen as lost.
	if err := s.ReleaseLease(ctx, "singleton", "p2"); err != nil {
		t.Fatal(err)
	}
	l3, err := s.HoldLease(ctx, "singleton", "p3", ttl)
	if err != nil || l3 == nil {
		t.Fatalf("HoldLease p3 = %v, %v", l3, err)
	}
	if err := s.ReleaseLease(ctx, "singleton", "p3"); err != nil { // as if it lapsed
		t.Fatal(err)
	}
	if ok, err := s.AcquireLease(ctx, "singleton", "p4", time.Minute); err != nil || !ok {
		t.Fatalf("p4 = %v, %v", ok, err)
	}
	select {
	case <-l3.Lost():
		if l3.Err() == nil {
			t.Error("Lost without Err")
		}
	case <-time.After(10 * ttl):
		t.Fatal("p3 never saw its lease lost")
	}
	if err := l3.Release(ctx); err == nil {
		t.Error("Release of a lost lease returned no error")
	}
	if ok, _ := s.AcquireLease(ctx, "singleton", "p5", time.Minute); ok {
		t.Error("p3's release freed p4's lease")
	}
	// A holder whose context ends stops renewing: the lease lapses.
	hctx, cancel := context.WithCancel(ctx)
	l6, err := s.HoldLease(hctx, "other", "p6", ttl)
	if err != nil || l6 == nil {
		t.Fatalf("HoldLease p6 = %v, %v", l6, err)
	}
	cancel()
	waitPast(time.Now().Add(ttl))
	if ok, err := s.AcquireLease(ctx, "other", "p7", time.Minute); err != nil || !ok {
		t.Errorf("the lease of a holder whose context ended did not lapse: %v, %v", ok, err)
	}
}
