// SPDX-License-Identifier: Apache-2.0

// Package storagetest is the conformance suite every storage backend must
// pass, in the manner of fstest.TestFS: storage's own tests run it on
// SQLite and on PostgreSQL.
package storagetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/slotline/slotline/internal/audit"
	"github.com/slotline/slotline/internal/notify"
	"github.com/slotline/slotline/internal/reservation"
	"github.com/slotline/slotline/internal/storage"
)

// NewStoreFunc returns a new, migrated, empty store; it is closed by the
// test's cleanup.
type NewStoreFunc func(t *testing.T) *storage.Store

// Run runs the whole suite.
func Run(t *testing.T, newStore NewStoreFunc) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s *storage.Store)
	}{
		{"CreateAndFind", testCreateAndFind},
		{"CandidatesInOrder", testCandidatesInOrder},
		{"CapacityRace", testCapacityRace},
		{"ConcurrencyLimitCapsBucket", testConcurrencyLimit},
		{"CallbackIDUnique", testCallbackIDUnique},
		{"Reschedule", testReschedule},
		{"RescheduleIntoFullBucket", testRescheduleFull},
		{"MixedRaceKeepsUsageExact", testMixedRace},
		{"Cancel", testCancel},
		{"IfVersion", testIfVersion},
		{"HookRollsBack", testHookRollsBack},
		{"HooksSeeEveryEventOnce", testHooksSeeEveryEventOnce},
		{"EventsInCommitOrder", testEventsInCommitOrder},
		{"AuditChain", testAuditChain},
		{"AuditTamper", testAuditTamper},
		{"Idempotency", testIdempotency},
		{"KeyTakenAheadOfRefusals", testKeyTakenAheadOfRefusals},
		{"FindReservations", testFindReservations},
		{"LoadReservations", testLoadReservations},
		{"Tokens", testTokens},
		{"EraseNumbers", testEraseNumbers},
		{"Migrate", testMigrate},
		{"WebhookStorage", testWebhookStorage},
		{"WebhookBatch", testWebhookBatch},
		{"SystemEventSeqs", testSystemEventSeqs},
		{"StoredEvents", testStoredEvents},
		{"Owners", testOwners},
		{"SpentProofs", testSpentProofs},
		{"OldNotifications", testOldNotifications},
		{"OutcomeFacts", testOutcomeFacts},
		{"ConsoleSessions", testConsoleSessions},
		{"Overrides", testOverrides},
		{"Retention", testRetention},
	}
	tests = append(tests, syncTests()...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, newStore(t))
		})
	}
}

var base = time.Date(2030, 6, 3, 14, 0, 0, 0, time.UTC)

func cand(slot int, cap int) reservation.Candidate {
	start := base.Add(time.Duration(slot) * 15 * time.Minute)
	return reservation.Candidate{
		Slot:   reservation.Slot{Start: start, End: start.Add(15 * time.Minute)},
		Bucket: start,
		Cap:    cap,
	}
}

func newRes(queue string) *reservation.Reservation {
	return &reservation.Reservation{
		ClientID:         "website",
		QueueID:          queue,
		TimeZone:         "America/New_York",
		CallbackNumber:   "+14155550199",
		Candidates:       []reservation.Slot{cand(0, 1).Slot},
		Channel:          reservation.ChannelPreferences{Primary: "voice", Fallback: "sms", AllowSMS: true},
		Reason:           "Technical support escalation",
		ConcurrencyLimit: 10,
	}
}

func write() reservation.Write {
	return reservation.Write{Actor: "website", Origin: reservation.OriginAPI, RequestID: "req-1"}
}

// keyed returns w with the idempotency record of r's callback_id, which
// every create of a reservation with one must carry.
func keyed(w reservation.Write, r *reservation.Reservation) reservation.Write {
	w.Idempotency = reservation.CreateIdempotency(reservation.CallbackIDKey(r.CallbackID), "")
	return w
}

func create(t *testing.T, s *storage.Store, queue string, cands ...reservation.Candidate) *reservation.Reservation {
	t.Helper()
	r := newRes(queue)
	if _, err := s.CreateReservation(context.Background(), r, cands, write()); err != nil {
		t.Fatalf("CreateReservation: %v", err)
	}
	return r
}

func usage(t *testing.T, s *storage.Store, queue string) map[int64]int {
	t.Helper()
	u, err := s.SlotUsage(context.Background(), queue, base.Add(-24*time.Hour), base.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func testCreateAndFind(t *testing.T, s *storage.Store) {
	ctx := context.Background()
	r := newRes("q1")
	r.CallbackID = "cb_1"
	r.CustomerName = "Jane Doe"
	now := time.Date(2030, 6, 1, 9, 0, 0, 123456000, time.UTC)
	w := keyed(write(), r)
	w.Now = now
	idx, err := s.CreateReservation(ctx, r, []reservation.Candidate{cand(4, 3)}, w)
	if err != nil || idx != 0 {
		t.Fatalf("CreateReservation = %d, %v", idx, err)
	}
	if r.ID == "" || r.Version != 1 || r.Status != reservation.StatusScheduled || r.Sync.State != reservation.SyncPending {
		t.Fatalf("created reservation not filled in: %+v", r)
	}
	got, err := s.FindReservationByID(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(r, got); diff != "" {
		t.Errorf("FindReservationByID mismatch (-created +found):\n%s", diff)
	}
	if !got.CreatedAt.Equal(now) {
		t.Errorf("CreatedAt = %v, want %v", got.CreatedAt, now)
	}
	if _, err := s.FindReservationByID(ctx, "cb_nope"); reservation.ErrorCode(err) != reservation.ENOTFOUND {
		t.Errorf("missing reservation: err = %v, want not_found", err)
	}
	evs, err := s.FindEvents(ctx, 0, 10)
	if err != nil || len(evs) != 1 {
		t.Fatalf("FindEvents = %v, %v", evs, err)
	}
	ev := evs[0]
	if ev.Seq != 1 || ev.Type != reservation.EventCreated || ev.ReservationID != r.ID || ev.Actor != "website" ||
		ev.Origin != reservation.OriginAPI || ev.Reservation.CallbackNumber != r.CallbackNumber {
		t.Errorf("event = %+v", ev)
	}
	if u := usage(t, s, "q1"); u[cand(4, 3).Bucket.UnixMicro()] != 1 {
		t.Errorf("usage = %v, want the bucket at 1", u)
	}
}

func testCandidatesInOrder(t *testing.T, s *storage.Store) {
	ctx := context.Background()
	create(t, s, "q1", cand(0, 1)) // fills slot 0
	r := newRes("q1")
	idx, err := s.CreateReservation(ctx, r, []reservation.Candidate{cand(0, 1), cand(1, 0), cand(2, 5), cand(3, 5)}, write())
	if err != nil || idx != 2 {
		t.Fatalf("CreateReservation = %d, %v; want candidate 2", idx, err)
	}
	if !r.Slot.Start.Equal(cand(2, 5).Slot.Start) {
		t.Errorf("slot = %v, want candidate 2's", r.Slot)
	}
	_, err = s.CreateReservation(ctx, newRes("q1"), []reservation.Candidate{cand(0, 1), cand(1, 0)}, write())
	if !errors.Is(err, reservation.ErrFull) {
		t.Fatalf("all full: err = %v, want ErrFull", err)
	}
	// The other queue's bucket is independent.
	create(t, s, "q2", cand(0, 1))
}

// testCapacityRace hammers one bucket from many goroutines: exactly the cap
// must be admitted.
func testCapacityRace(t *testing.T, s *storage.Store) {
	ctx := context.Background()
	const workers, cap = 40, 7
	var admitted, full atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			_, err := s.CreateReservation(ctx, newRes("race"), []reservation.Candidate{cand(0, cap)}, write())
			switch {
			case err == nil:
				admitted.Add(1)
			case errors.Is(err, reservation.ErrFull):
				full.Add(1)
			default:
				t.Errorf("CreateReservation: %v", err)
			}
		})
	}
	wg.Wait()
	if admitted.Load() != cap || full.Load() != workers-cap {
		t.Fatalf("admitted %d, full %d; want %d and %d", admitted.Load(), full.Load(), cap, workers-cap)
	}
	if u := usage(t, s, "race"); u[cand(0, cap).Bucket.UnixMicro()] != cap {
		t.Errorf("usage = %v, want %d", u, cap)
	}
	list, _, err := s.FindReservations(ctx, reservation.Filter{QueueID: "race", Limit: 500})
	if err != nil || len(list) != cap {
		t.Fatalf("stored %d reservations (%v), want %d", len(list), err, cap)
	}
}

func testConcurrencyLimit(t *testing.T, s *storage.Store) {
	// Three admitted under a queue capacity of 10; a request whose own
	// limit is 3 sees the bucket as full, one with limit 10 does not.
	for range 3 {
		create(t, s, "q1", cand(0, 10))
	}
	if _, err := s.CreateReservation(context.Background(), newRes("q1"), []reservation.Candidate{cand(0, 3)}, write()); !errors.Is(err, reservation.ErrFull) {
		t.Fatalf("err = %v, want ErrFull", err)
	}
	create(t, s, "q1", cand(0, 10))
}

func testCallbackIDUnique(t *testing.T, s *storage.Store) {
	ctx := context.Background()
	r := newRes("q1")
	r.CallbackID = "cb_same"
	// The key's record is what keeps the id unique: a create without it is
	// refused, and writes nothing.
	if _, err := s.CreateReservation(ctx, r, []reservation.Candidate{cand(0, 5)}, write()); err == nil {
		t.Fatal("a reservation with a callback_id was stored without its key")
	}
	if u := usage(t, s, "q1"); len(u) != 0 {
		t.Fatalf("usage after a refused create = %v", u)
	}
	if _, err := s.CreateReservation(ctx, r, []reservation.Candidate{cand(0, 5)}, keyed(write(), r)); err != nil {
		t.Fatal(err)
	}
	r2 := newRes("q1")
	r2.CallbackID = "cb_same"
	if _, err := s.CreateReservation(ctx, r2, []reservation.Candidate{cand(0, 5)}, keyed(write(), r2)); !errors.Is(err, reservation.ErrKeyTaken) {
		t.Fatalf("reused callback_id: err = %v, want ErrKeyTaken", err)
	}
	// Nothing of the refused write remains.
	if u := usage(t, s, "q1"); u[cand(0, 5).Bucket.UnixMicro()] != 1 {
		t.Errorf("usage = %v, want 1", u)
	}
	// Another client may use the same callback_id.
	r3 := newRes("q1")
	r3.CallbackID, r3.ClientID = "cb_same", "crm"
	crm := write()
	crm.Actor = "crm"
	if _, err := s.CreateReservation(ctx, r3, []reservation.Candidate{cand(0, 5)}, keyed(crm, r3)); err != nil {
		t.Fatalf("other client's callback_id: %v", err)
	}
}

func testReschedule(t *testing.T, s *storage.Store) {
	ctx := context.Background()
	r := create(t, s, "q1", cand(0, 2))
	matrix := []reservation.Slot{cand(3, 2).Slot}
	reason := "new reason"
	got, idx, err := s.UpdateReservation(ctx, r.ID, reservation.Change{
		Candidates: []reservation.Candidate{cand(3, 2)}, Matrix: matrix, Reason: &reason,
	}, write())
	if err != nil || idx != 0 {
		t.Fatalf("UpdateReservation = %d, %v", idx, err)
	}
	if got.Version != 2 || !got.Slot.Start.Equal(cand(3, 2).Slot.Start) || got.Reason != reason {
		t.Errorf("rescheduled = %+v", got)
	}
	u := usage(t, s, "q1")
	if u[cand(0, 2).Bucket.UnixMicro()] != 0 || u[cand(3, 2).Bucket.UnixMicro()] != 1 {
		t.Errorf("usage = %v, want old bucket freed and new one held", u)
	}
	evs, _ := s.FindEvents(ctx, 0, 10)
	if len(evs) != 2 || evs[1].Type != reservation.EventRescheduled || evs[1].Reservation.Version != 2 {
		t.Errorf("events = %+v", evs)
	}
	// A change of details alone is an update event and keeps the slot.
	name := "J. Doe"
	got, idx, err = s.UpdateReservation(ctx, r.ID, reservation.Change{CustomerName: &name}, write())
	if err != nil || idx != -1 || got.CustomerName != name || got.Version != 3 {
		t.Fatalf("update details = %+v, %d, %v", got, idx, err)
	}
	// Rescheduling into its own (full) bucket works: its own place is freed first.
	create(t, s, "q1", cand(3, 2))
	if _, _, err := s.UpdateReservation(ctx, r.ID, reservation.Change{Candidates: []reservation.Candidate{cand(3, 2)}, Matrix: matrix}, write()); err != nil {
		t.Fatalf("reschedule within a full bucket it holds: %v", err)
	}
}

func testRescheduleFull(t *testing.T, s *storage.Store) {
	ctx := context.Background()
	r := create(t, s, "q1", cand(0, 1))
	create(t, s, "q1", cand(1, 1))
	_, _, err := s.UpdateReservation(ctx, r.ID, reservation.Change{Candidates: []reservation.Candidate{cand(1, 1)}, Matrix: []reservation.Slot{cand(1, 1).Slot}}, write())
	if !errors.Is(err, reservation.ErrFull) {
		t.Fatalf("err = %v, want ErrFull", err)
	}
	got, _ := s.FindReservationByID(ctx, r.ID)
	if got.Version != 1 || !got.Slot.Start.Equal(cand(0, 1).Slot.Start) {
		t.Errorf("refused reschedule changed the reservation: %+v", got)
	}
	if u := usage(t, s, "q1"); u[cand(0, 1).Bucket.UnixMicro()] != 1 || u[cand(1, 1).Bucket.UnixMicro()] != 1 {
		t.Errorf("usage = %v", u)
	}
}

// testMixedRace runs creates, reschedules and cancels at once over a few
// buckets; at the end every bucket's usage equals the number of scheduled
// reservations in it, and none is over its cap.
func testMixedRace(t *testing.T, s *storage.Store) {
	ctx := context.Background()
	const cap, buckets = 3, 4
	var seed []*reservation.Reservation
	for b := range buckets {
		for range 2 {
			seed = append(seed, create(t, s, "mix", cand(b, cap)))
		}
	}
	var wg sync.WaitGroup
	for i := range 24 {
		wg.Go(func() {
			b := i % buckets
			switch i % 3 {
			case 0:
				_, err := s.CreateReservation(ctx, newRes("mix"), []reservation.Candidate{cand(b, cap), cand((b+1)%buckets, cap)}, write())
				if err != nil && !errors.Is(err, reservation.ErrFull) {
					t.Errorf("create: %v", err)
				}
			case 1:
				r := seed[i%len(seed)]
				_, _, err := s.UpdateReservation(ctx, r.ID, reservation.Change{Candidates: []reservation.Candidate{cand((b+2)%buckets, cap)}, Matrix: r.Candidates}, write())
				if err != nil && !errors.Is(err, reservation.ErrFull) && reservation.ErrorCode(err) != reservation.ECONFLICT {
					t.Errorf("reschedule: %v", err)
				}
			case 2:
				r := seed[(i+3)%len(seed)]
				if _, _, err := s.CancelReservation(ctx, r.ID, write()); err != nil {
					t.Errorf("cancel: %v", err)
				}
			}
		})
	}
	wg.Wait()
	list, _, err := s.FindReservations(ctx, reservation.Filter{QueueID: "mix", Status: reservation.StatusScheduled, Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	count := map[int64]int{}
	for _, r := range list {
		count[r.Bucket.UnixMicro()]++
	}
	u := usage(t, s, "mix")
	for b := range buckets {
		k := cand(b, cap).Bucket.UnixMicro()
		if u[k] != count[k] || u[k] > cap {
			t.Errorf("bucket %d: usage %d, scheduled %d, cap %d", b, u[k], count[k], cap)
		}
	}
}

func testCancel(t *testing.T, s *storage.Store) {
	ctx := context.Background()
	r := create(t, s, "q1", cand(0, 1))
	got, changed, err := s.CancelReservation(ctx, r.ID, write())
	if err != nil || !changed || got.Status != reservation.StatusCanceled || got.Version != 2 {
		t.Fatalf("CancelReservation = %+v, %v, %v", got, changed, err)
	}
	if u := usage(t, s, "q1"); u[cand(0, 1).Bucket.UnixMicro()] != 0 {
		t.Errorf("slot not freed: %v", u)
	}
	got, changed, err = s.CancelReservation(ctx, r.ID, write())
	if err != nil || changed || got.Version != 2 {
		t.Fatalf("second cancel = %+v, %v, %v; want unchanged", got, changed, err)
	}
	evs, _ := s.FindEvents(ctx, 0, 10)
	if len(evs) != 2 || evs[1].Type != reservation.EventCanceled {
		t.Errorf("events = %+v", evs)
	}
	// The freed slot can be booked again; the canceled one cannot be changed.
	create(t, s, "q1", cand(0, 1))
	if _, _, err := s.UpdateReservation(ctx, r.ID, reservation.Change{Candidates: []reservation.Candidate{cand(2, 1)}}, write()); reservation.ErrorCode(err) != reservation.ECONFLICT {
		t.Errorf("reschedule canceled: err = %v, want conflict", err)
	}
	if _, _, err := s.CancelReservation(ctx, "cb_missing", write()); reservation.ErrorCode(err) != reservation.ENOTFOUND {
		t.Errorf("cancel missing: err = %v", err)
	}
}

func testIfVersion(t *testing.T, s *storage.Store) {
	ctx := context.Background()
	r := create(t, s, "q1", cand(0, 1))
	w := write()
	w.IfMatch = []int{7}
	if _, _, err := s.CancelReservation(ctx, r.ID, w); reservation.ErrorCode(err) != reservation.EPRECONDITION {
		t.Fatalf("err = %v, want precondition", err)
	}
	reason := "x"
	if _, _, err := s.UpdateReservation(ctx, r.ID, reservation.Change{Reason: &reason}, w); reservation.ErrorCode(err) != reservation.EPRECONDITION {
		t.Fatalf("err = %v, want precondition", err)
	}
	w.IfMatch = []int{3, 1}
	if _, _, err := s.UpdateReservation(ctx, r.ID, reservation.Change{Reason: &reason}, w); err != nil {
		t.Fatalf("matching version: %v", err)
	}
}

// testHookRollsBack has an event hook fail: the write fails with the
// hook's error and leaves nothing behind (no slot taken, no event, no audit
// entry); the hook saw the driver's transaction.
func testHookRollsBack(t *testing.T, s *storage.Store) {
	ctx := context.Background()
	boom := errors.New("boom")
	var sawDriver any
	s.OnEvents(func(ctx context.Context, tx *storage.Tx, _ []reservation.Event) error {
		sawDriver = tx.Driver()
		return boom
	})
	if _, err := s.CreateReservation(ctx, newRes("q1"), []reservation.Candidate{cand(0, 1)}, write()); !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
	if sawDriver == nil {
		t.Error("the hook got no driver transaction")
	}
	if u := usage(t, s, "q1"); len(u) != 0 {
		t.Errorf("usage after rollback = %v", u)
	}
	if evs, _ := s.FindEvents(ctx, 0, 10); len(evs) != 0 {
		t.Errorf("events after rollback = %v", evs)
	}
	if n, err := s.VerifyAudit(ctx); err != nil || n != 0 {
		t.Errorf("audit after rollback: %d entries, %v", n, err)
	}
}

// noErrors closes errs and fails the test at the first error in it.
func noErrors(t *testing.T, errs chan error) {
	t.Helper()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

// testHooksSeeEveryEventOnce has concurrent writes commit while two hooks
// are registered: both run, in order, in every transaction, and every
// committed event reaches them once (counted after the commit: a batch
// that is rolled back and retried runs its hooks again, and only the
// committed run counts); a failing hook fails the writes whose events it
// held, and leaves no event behind.
func testHooksSeeEveryEventOnce(t *testing.T, s *storage.Store) {
	ctx := context.Background()
	const n = 48
	boom := errors.New("boom")
	var mu sync.Mutex
	seen := map[string]int{}
	var order []string
	s.OnEvents(func(_ context.Context, tx *storage.Tx, evs []reservation.Event) error {
		for _, ev := range evs {
			if ev.Reservation != nil && ev.Reservation.Reason == "boom" {
				return boom
			}
		}
		tx.AfterCommit(func() {
			mu.Lock()
			defer mu.Unlock()
			for _, ev := range evs {
				seen[ev.ReservationID]++
			}
			order = append(order, "first")
		})
		return nil
	}, func(_ context.Context, tx *storage.Tx, _ []reservation.Event) error {
		tx.AfterCommit(func() {
			mu.Lock()
			defer mu.Unlock()
			order = append(order, "second")
		})
		return nil
	})
	var wg sync.WaitGroup
	errs := make(chan error, n)
	ids := make([]string, n)
	for i := range n {
		wg.Go(func() {
			r := newRes("q1")
			_, err := s.CreateReservation(ctx, r, []reservation.Candidate{cand(i%4, n)}, write())
			ids[i] = r.ID // given by the store
			errs <- err
		})
	}
	wg.Wait()
	noErrors(t, errs)
	mu.Lock()
	for _, id := range ids {
		if seen[id] != 1 {
			t.Errorf("the event of reservation %s reached the hook %d times, want once", id, seen[id])
		}
	}
	for i := 0; i+1 < len(order); i += 2 {
		if order[i] != "first" || order[i+1] != "second" {
			t.Fatalf("hooks ran in the order %v, want first then second in each transaction", order)
		}
	}
	mu.Unlock()
	before, err := s.LastEventSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	bad := newRes("q1")
	bad.Reason = "boom"
	if _, err := s.CreateReservation(ctx, bad, []reservation.Candidate{cand(5, 1)}, write()); !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
	if after, _ := s.LastEventSeq(ctx); after != before {
		t.Errorf("a failed hook left events %d..%d", before+1, after)
	}
}

// testEventsInCommitOrder holds one write open while others commit: a
// reader that has seen event N must never later find a new event below N.
func testEventsInCommitOrder(t *testing.T, s *storage.Store) {
	ctx := context.Background()
	hold, release := make(chan struct{}), make(chan struct{})
	var releaseOnce sync.Once
	letGo := func() { releaseOnce.Do(func() { close(release) }) }
	defer letGo()
	s.OnEvents(func(ctx context.Context, tx *storage.Tx, _ []reservation.Event) error {
		close(hold)
		<-release
		return nil
	})
	var wg sync.WaitGroup
	wg.Go(func() {
		if _, err := s.CreateReservation(ctx, newRes("q1"), []reservation.Candidate{cand(0, 10)}, write()); err != nil {
			t.Errorf("held write: %v", err)
		}
	})
	<-hold
	// The other writes come from a second store on the same database, as
	// another process would. On SQLite they wait for the held one (one
	// writer at a time); on PostgreSQL they commit first. Either way the
	// reader must never see a sequence number go backwards.
	other, err := storage.Connect(ctx, s.DSN(), storage.Options{})
	if err != nil {
		letGo()
		t.Fatal(err)
	}
	defer other.Close()
	var others sync.WaitGroup
	for i := range 3 {
		others.Go(func() {
			// Another customer each: creates of one number are serialised
			// (its SMS opt-out, its duplicates), which is not what this
			// test is about.
			r := newRes("q1")
			r.CallbackNumber = fmt.Sprintf("+1415555020%d", i)
			if _, err := other.CreateReservation(ctx, r, []reservation.Candidate{cand(i+1, 10)}, write()); err != nil {
				t.Errorf("write %d: %v", i, err)
			}
		})
	}
	var seen int64
	read := func() {
		evs, err := s.FindEvents(ctx, seen, 100)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range evs {
			if ev.Seq != seen+1 {
				t.Fatalf("reader after %d got %d: an event was skipped", seen, ev.Seq)
			}
			seen = ev.Seq
		}
	}
	if s.Backend() == storage.Postgres {
		// The other writes commit while the held one waits: the reader
		// sees them (3) before the held event.
		deadline := time.Now().Add(20 * time.Second)
		for read(); seen != 3; read() {
			if time.Now().After(deadline) {
				letGo()
				t.Fatalf("the reader saw %d events while one write was held, want the other 3", seen)
			}
			time.Sleep(20 * time.Millisecond) // poll interval
		}
	} else {
		// SQLite: the other writes wait on its write lock, which shows
		// nowhere; read for 2 s, in which they could (wrongly) commit.
		deadline := time.Now().Add(2 * time.Second)
		for time.Now().Before(deadline) {
			read()
			time.Sleep(20 * time.Millisecond) // a window of real time, on purpose
		}
	}
	letGo()
	wg.Wait()
	others.Wait()
	read()
	if seen != 4 {
		t.Fatalf("reader saw %d events, want 4", seen)
	}
	// Every event was seen exactly once, in order.
	all, _ := s.FindEvents(ctx, 0, 100)
	for i, ev := range all {
		if ev.Seq != int64(i+1) {
			t.Fatalf("event %d has seq %d", i, ev.Seq)
		}
	}
}

func testAuditChain(t *testing.T, s *storage.Store) {
	ctx := context.Background()
	r := create(t, s, "q1", cand(0, 1))
	if _, _, err := s.CancelReservation(ctx, r.ID, write()); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordAudit(ctx, &audit.Entry{At: time.Now(), Actor: "website", Action: "reservation.create",
		Target: "q1", Outcome: audit.OutcomeRefused, Detail: `{"reason":"full"}`}); err != nil {
		t.Fatal(err)
	}
	n, err := s.VerifyAudit(ctx)
	if err != nil || n != 3 {
		t.Fatalf("VerifyAudit = %d, %v; want 3 entries and no error", n, err)
	}
	head, _ := s.AuditHead(ctx)
	if head.Seq != 3 || len(head.Hash) != 64 {
		t.Errorf("head = %+v", head)
	}
}

func testAuditTamper(t *testing.T, s *storage.Store) {
	ctx := context.Background()
	for i := range 5 {
		create(t, s, "q1", cand(i, 1))
	}
	type tamper struct {
		name    string
		sql     []string
		wantSeq int64
	}
	for _, tc := range []tamper{
		{"edit", []string{"UPDATE audit_log SET actor = 'mallory' WHERE seq = 3"}, 3},
		{"delete middle", []string{"DELETE FROM audit_log WHERE seq = 2"}, 2},
		{"delete last", []string{"DELETE FROM audit_log WHERE seq = 5"}, 5},
		{"reorder", []string{
			"UPDATE audit_log SET seq = -3 WHERE seq = 3",
			"UPDATE audit_log SET seq = 3 WHERE seq = 4",
			"UPDATE audit_log SET seq = 4 WHERE seq = -3",
		}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			saved, err := s.FindAuditEntries(ctx, 0, 100)
			if err != nil {
				t.Fatal(err)
			}
			defer restoreAudit(t, s, saved)
			Exec(t, s, tc.sql...)
			_, err = s.VerifyAudit(ctx)
			var be *audit.BrokenError
			if !errors.As(err, &be) {
				t.Fatalf("VerifyAudit after %s: err = %v, want a BrokenError", tc.name, err)
			}
			if be.Seq != tc.wantSeq {
				t.Errorf("broken at %d (%s), want %d", be.Seq, be.Reason, tc.wantSeq)
			}
		})
	}
	if _, err := s.VerifyAudit(ctx); err != nil {
		t.Fatalf("chain not restored after the tamper cases: %v", err)
	}
}

func testIdempotency(t *testing.T, s *storage.Store) {
	ctx := context.Background()
	w := write()
	w.Idempotency = &reservation.Idempotency{Key: "callback_id:cb_7", Method: "POST", Target: "/api/v2/callbacks", RequestHash: "h1", Status: 201}
	r := newRes("q1")
	if _, err := s.CreateReservation(ctx, r, []reservation.Candidate{cand(0, 2)}, w); err != nil {
		t.Fatal(err)
	}
	rec, err := s.FindIdempotency(ctx, "website", "callback_id:cb_7")
	if err != nil || rec == nil {
		t.Fatalf("FindIdempotency = %v, %v", rec, err)
	}
	if rec.RequestHash != "h1" || rec.Status != 201 || rec.Reservation.ID != r.ID || rec.Reservation.Version != 1 {
		t.Errorf("record = %+v", rec)
	}
	// The stored response does not follow later changes.
	reason := "changed"
	if _, _, err := s.UpdateReservation(ctx, r.ID, reservation.Change{Reason: &reason}, write()); err != nil {
		t.Fatal(err)
	}
	rec, _ = s.FindIdempotency(ctx, "website", "callback_id:cb_7")
	if rec.Reservation.Reason == reason {
		t.Error("stored response changed with the reservation")
	}
	// A second write under the same key is refused and rolled back.
	if _, err := s.CreateReservation(ctx, newRes("q1"), []reservation.Candidate{cand(0, 2)}, w); !errors.Is(err, reservation.ErrKeyTaken) {
		t.Fatalf("reused key: err = %v", err)
	}
	if u := usage(t, s, "q1"); u[cand(0, 2).Bucket.UnixMicro()] != 1 {
		t.Errorf("usage = %v", u)
	}
	if rec, _ := s.FindIdempotency(ctx, "crm", "callback_id:cb_7"); rec != nil {
		t.Error("keys leak across clients")
	}
	// Idempotency-Key records expire; callback_id records do not.
	w2 := write()
	w2.Now = time.Now().Add(-48 * time.Hour)
	w2.Idempotency = &reservation.Idempotency{Key: "hdr-1", Method: "DELETE", Target: "/x", RequestHash: "h", Status: 200}
	if _, _, err := s.CancelReservation(ctx, r.ID, w2); err != nil {
		t.Fatal(err)
	}
	if n, err := s.DeleteIdempotencyKeys(ctx, time.Now().Add(-24*time.Hour)); err != nil || n != 1 {
		t.Errorf("DeleteIdempotencyKeys = %d, %v; want 1", n, err)
	}
	if rec, _ := s.FindIdempotency(ctx, "website", "callback_id:cb_7"); rec == nil {
		t.Error("callback_id record was deleted")
	}
}

// testKeyTakenAheadOfRefusals: a create whose key was stored before gets
// ErrKeyTaken (the caller replays it) even where the create itself would
// be refused, by a full slot or by the queue's admission rules, and such a
// replay counts nothing: the caller does not look keys up before a create.
func testKeyTakenAheadOfRefusals(t *testing.T, s *storage.Store) {
	ctx := context.Background()
	adm := &reservation.Admission{Duplicates: reservation.DuplicatesStrict, PerNumber: reservation.Limit{N: 3, Window: time.Hour}}
	keyedWrite := func(key string, adm *reservation.Admission) reservation.Write {
		w := write()
		w.Now = time.Now()
		w.Admission = adm
		w.Idempotency = reservation.CreateIdempotency("key:"+key, "h-"+key)
		return w
	}
	first := newRes("q1")
	if _, err := s.CreateReservation(ctx, first, []reservation.Candidate{cand(0, 1)}, keyedWrite("k1", adm)); err != nil {
		t.Fatal(err)
	}
	// The slot is full (cap 1) and the number has an active reservation
	// (strict): each would refuse the create, but the key comes first.
	for i := range 3 {
		if _, err := s.CreateReservation(ctx, newRes("q1"), []reservation.Candidate{cand(0, 1)}, keyedWrite("k1", adm)); !errors.Is(err, reservation.ErrKeyTaken) {
			t.Fatalf("replay %d under strict duplicates: err = %v, want ErrKeyTaken", i, err)
		}
		if _, err := s.CreateReservation(ctx, newRes("q1"), []reservation.Candidate{cand(0, 1)}, keyedWrite("k1", nil)); !errors.Is(err, reservation.ErrKeyTaken) {
			t.Fatalf("replay %d into a full slot: err = %v, want ErrKeyTaken", i, err)
		}
	}
	// Without a stored key the same refusals stand.
	var de *reservation.DuplicateError
	if _, err := s.CreateReservation(ctx, newRes("q1"), []reservation.Candidate{cand(1, 5)}, keyedWrite("k2", adm)); !errors.As(err, &de) || de.Existing.ID != first.ID {
		t.Fatalf("new key, same number under strict: err = %v, want a duplicate of %s", err, first.ID)
	}
	if _, err := s.CreateReservation(ctx, newRes("q1"), []reservation.Candidate{cand(0, 1)}, keyedWrite("k3", nil)); !errors.Is(err, reservation.ErrFull) {
		t.Fatalf("new key into the full slot: err = %v, want ErrFull", err)
	}
	if u := usage(t, s, "q1"); u[cand(0, 1).Bucket.UnixMicro()] != 1 || u[cand(1, 5).Bucket.UnixMicro()] != 0 {
		t.Errorf("usage = %v, want only the first create's", u)
	}
	// per_number 3/h has counted the first create and the refused
	// duplicate (k2), not the replays refused ahead of the rule: once the
	// first is canceled, a third create of the number is admitted.
	if _, _, err := s.CancelReservation(ctx, first.ID, write()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateReservation(ctx, newRes("q1"), []reservation.Candidate{cand(2, 5)}, keyedWrite("k4", adm)); err != nil {
		t.Fatalf("third count of the number: err = %v, want it admitted", err)
	}
	var te *reservation.ThrottledError
	if _, err := s.CreateReservation(ctx, newRes("q1"), []reservation.Candidate{cand(3, 5)}, keyedWrite("k5", adm)); !errors.As(err, &te) {
		t.Fatalf("fourth count of the number: err = %v, want throttled", err)
	}
	rec, err := s.FindIdempotency(ctx, "website", "key:k1")
	if err != nil || rec == nil || rec.Reservation.ID != first.ID {
		t.Fatalf("FindIdempotency(k1) = %+v, %v; want the first create's response", rec, err)
	}
	for _, k := range []string{"key:k2", "key:k3", "key:k5"} {
		if rec, err := s.FindIdempotency(ctx, "website", k); err != nil || rec != nil {
			t.Errorf("FindIdempotency(%s) of a refused create = %+v, %v; want none", k, rec, err)
		}
	}
}

func testFindReservations(t *testing.T, s *storage.Store) {
	ctx := context.Background()
	var ids []string
	for i := range 7 {
		q := "qa"
		if i%2 == 1 {
			q = "qb"
		}
		r := create(t, s, q, cand(i, 5))
		ids = append(ids, r.ID)
	}
	if _, _, err := s.CancelReservation(ctx, ids[0], write()); err != nil {
		t.Fatal(err)
	}
	// Paging in order of callback time.
	var got []string
	cursor := ""
	for pages := 0; ; pages++ {
		page, next, err := s.FindReservations(ctx, reservation.Filter{Limit: 3, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range page {
			got = append(got, r.ID)
		}
		if next == "" {
			break
		}
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		cursor = next
	}
	if diff := cmp.Diff(ids, got); diff != "" {
		t.Errorf("paged ids (-want +got):\n%s", diff)
	}
	for _, tc := range []struct {
		name string
		f    reservation.Filter
		want int
	}{
		{"queue", reservation.Filter{QueueID: "qa"}, 4},
		{"status", reservation.Filter{Status: reservation.StatusCanceled}, 1},
		{"queue and status", reservation.Filter{QueueID: "qa", Status: reservation.StatusScheduled}, 3},
		{"from", reservation.Filter{From: cand(5, 1).Slot.Start}, 2},
		{"to", reservation.Filter{To: cand(2, 1).Slot.Start}, 2},
		{"number", reservation.Filter{CallbackNumber: "+14155550199"}, 7},
		{"other number", reservation.Filter{CallbackNumber: "+442071838750"}, 0},
	} {
		list, _, err := s.FindReservations(ctx, tc.f)
		if err != nil || len(list) != tc.want {
			t.Errorf("%s: %d results (%v), want %d", tc.name, len(list), err, tc.want)
		}
	}
	if _, _, err := s.FindReservations(ctx, reservation.Filter{Cursor: "!!"}); reservation.ErrorCode(err) != reservation.EINVALID {
		t.Errorf("bad cursor: err = %v", err)
	}
}

func testTokens(t *testing.T, s *storage.Store) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	tok := storage.Token{Hash: "abc", ClientID: "website", Scopes: []string{"callback:read", "callback:write"}, ExpiresAt: now.Add(time.Hour), CreatedAt: now}
	if err := s.CreateToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	got, err := s.FindToken(ctx, "abc")
	if err != nil || got == nil {
		t.Fatalf("FindToken = %v, %v", got, err)
	}
	if diff := cmp.Diff(&tok, got); diff != "" {
		t.Errorf("token (-want +got):\n%s", diff)
	}
	if got, _ := s.FindToken(ctx, "nope"); got != nil {
		t.Error("found a token that was never issued")
	}
	old := tok
	old.Hash, old.ExpiresAt = "old", now.Add(-time.Minute)
	if err := s.CreateToken(ctx, old); err != nil {
		t.Fatal(err)
	}
	if n, err := s.DeleteExpiredTokens(ctx, now); err != nil || n != 1 {
		t.Errorf("DeleteExpiredTokens = %d, %v", n, err)
	}
}

// testSpentProofs: a salt is fresh once, also when many spend it at the
// same time, and expired ones are deleted.
func testSpentProofs(t *testing.T, s *storage.Store) {
	ctx := context.Background()
	now := time.Now()
	if fresh, err := s.SpendProof(ctx, "salt-a?expires=1", now.Add(time.Minute)); err != nil || !fresh {
		t.Fatalf("first SpendProof = %v, %v; want fresh", fresh, err)
	}
	if fresh, err := s.SpendProof(ctx, "salt-a?expires=1", now.Add(time.Minute)); err != nil || fresh {
		t.Errorf("second SpendProof = %v, %v; want spent", fresh, err)
	}
	var wg sync.WaitGroup
	var freshCount atomic.Int32
	for range 8 {
		wg.Go(func() {
			fresh, err := s.SpendProof(ctx, "salt-b?expires=1", now.Add(-time.Minute))
			if err != nil {
				t.Error(err)
			}
			if fresh {
				freshCount.Add(1)
			}
		})
	}
	wg.Wait()
	if n := freshCount.Load(); n != 1 {
		t.Errorf("8 spends of one salt at once: %d fresh, want 1", n)
	}
	if n, err := s.DeleteSpentProofs(ctx, now); err != nil || n != 1 {
		t.Errorf("DeleteSpentProofs = %d, %v; want the expired one", n, err)
	}
	if fresh, err := s.SpendProof(ctx, "salt-a?expires=1", now.Add(time.Minute)); err != nil || fresh {
		t.Errorf("SpendProof of a live salt after the prune = %v, %v; want spent", fresh, err)
	}
}

func testEraseNumbers(t *testing.T, s *storage.Store) {
	ctx := context.Background()
	w := write()
	w.Idempotency = &reservation.Idempotency{Key: "callback_id:x", Method: "POST", Target: "/", RequestHash: "h", Status: 201}
	old := newRes("q1")
	old.CustomerName = "Jane"
	if _, err := s.CreateReservation(ctx, old, []reservation.Candidate{cand(0, 5)}, w); err != nil {
		t.Fatal(err)
	}
	cw := write()
	cw.Now = time.Now().Add(-100 * 24 * time.Hour)
	if _, _, err := s.CancelReservation(ctx, old.ID, cw); err != nil {
		t.Fatal(err)
	}
	active := create(t, s, "q1", cand(1, 5))
	n, err := s.EraseNumbers(ctx, time.Now().Add(-90*24*time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("EraseNumbers = %d, %v; want 1", n, err)
	}
	got, _ := s.FindReservationByID(ctx, old.ID)
	if got.CallbackNumber != "" || got.CustomerName != "" {
		t.Errorf("finished reservation keeps %q %q", got.CallbackNumber, got.CustomerName)
	}
	if got, _ := s.FindReservationByID(ctx, active.ID); got.CallbackNumber == "" {
		t.Error("active reservation lost its number")
	}
	evs, _ := s.FindEvents(ctx, 0, 10)
	for _, ev := range evs {
		if ev.ReservationID == old.ID && (ev.Reservation.CallbackNumber != "" || ev.Reservation.CustomerName != "") {
			t.Errorf("event %d keeps the number", ev.Seq)
		}
	}
	rec, _ := s.FindIdempotency(ctx, "website", "callback_id:x")
	if rec.Reservation.CallbackNumber != "" {
		t.Error("idempotent response keeps the number")
	}
	if _, err := s.VerifyAudit(ctx); err != nil {
		t.Errorf("erasing broke the audit chain: %v", err)
	}
}

func testMigrate(t *testing.T, s *storage.Store) {
	ctx := context.Background()
	applied, err := s.Migrate(ctx)
	if err != nil || len(applied) != 0 {
		t.Errorf("second Migrate = %v, %v; want nothing to do", applied, err)
	}
	pending, err := s.PendingMigrations(ctx)
	if err != nil || len(pending) != 0 {
		t.Errorf("PendingMigrations = %v, %v", pending, err)
	}
}

// Exec runs raw SQL statements against the store's database, committed,
// for tests that tamper with what storage wrote.
func Exec(t *testing.T, s *storage.Store, stmts ...string) {
	t.Helper()
	ctx := context.Background()
	for _, q := range stmts {
		var err error
		if pool := s.Pool(); pool != nil {
			_, err = pool.Exec(ctx, q)
		} else {
			_, err = s.DB().ExecContext(ctx, q)
		}
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// restoreAudit puts the audit log back as it was.
func restoreAudit(t *testing.T, s *storage.Store, entries []audit.Entry) {
	t.Helper()
	stmts := []string{"DELETE FROM audit_log"}
	for _, e := range entries {
		stmts = append(stmts, fmt.Sprintf(
			"INSERT INTO audit_log (seq, at, actor, action, target, outcome, detail, prev_hash, hash) VALUES (%d, %d, '%s', '%s', '%s', '%s', '%s', '%s', '%s')",
			e.Seq, e.At.UnixMicro(), e.Actor, e.Action, e.Target, e.Outcome, strings.ReplaceAll(e.Detail, "'", "''"), e.PrevHash, e.Hash))
	}
	Exec(t, s, stmts...)
}

func testWebhookStorage(t *testing.T, s *storage.Store) {
	ctx := context.Background()
	ep := &storage.Endpoint{ID: "we_1", ClientID: "website", Name: "crm", URL: "https://crm.example.com", ContentType: "application/json",
		Enabled: true, EventTypes: []string{reservation.EventCreated}, Secret: "whsec_x"}
	if err := s.CreateEndpoint(ctx, ep, write()); err != nil {
		t.Fatal(err)
	}
	// The test's hook changes as it goes; the store's hooks stay.
	var hookMu sync.Mutex
	var hook storage.EventHook
	setHook := func(h storage.EventHook) {
		hookMu.Lock()
		defer hookMu.Unlock()
		hook = h
	}
	s.OnEvents(func(ctx context.Context, tx *storage.Tx, events []reservation.Event) error {
		hookMu.Lock()
		h := hook
		hookMu.Unlock()
		if h == nil {
			return nil
		}
		return h(ctx, tx, events)
	})
	var hooked []string      // the event ids the hook saw, in order
	var numbered []int64     // the sequence numbers its OnNumbered step saw
	var early bool           // whether the hook itself saw a sequence number
	var afterCommit []string // what AfterCommit saw, from another connection
	setHook(func(ctx context.Context, tx *storage.Tx, events []reservation.Event) error {
		for _, ev := range events {
			hooked = append(hooked, ev.ID)
			early = early || ev.Seq != 0
		}
		tx.OnNumbered(func(ctx context.Context, events []reservation.Event) error {
			eps, err := s.EnabledEndpoints(ctx, tx)
			if err != nil {
				return err
			}
			last := events[len(events)-1].Seq
			tx.AfterCommit(func() {
				evs, err := s.FindEvents(ctx, last-1, 10)
				afterCommit = append(afterCommit, fmt.Sprintf("%d:%d:%v", last, len(evs), err))
			})
			var ds []*storage.Delivery
			for _, ev := range events {
				numbered = append(numbered, ev.Seq)
				for _, e := range eps {
					if e.Wants(ev.Type, ev.QueueID) {
						ds = append(ds, &storage.Delivery{ID: fmt.Sprintf("msg_%d", ev.Seq), EndpointID: e.ID, EventSeq: ev.Seq,
							EventType: ev.Type, NextAttemptAt: time.Now(), CreatedAt: time.Now().Add(-40 * 24 * time.Hour)})
					}
				}
			}
			return s.InsertDeliveries(ctx, tx, ds)
		})
		return nil
	})
	defer setHook(nil)
	r := create(t, s, "q1", cand(0, 5))
	if _, _, err := s.CancelReservation(ctx, r.ID, write()); err != nil {
		t.Fatal(err)
	}
	logged, err := s.FindEvents(ctx, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(hooked) != 2 || len(logged) != 2 || hooked[0] != logged[0].ID || hooked[1] != logged[1].ID || early {
		t.Fatalf("the hook saw events %v (numbered already: %v), the log holds %+v; want the two, not yet numbered", hooked, early, logged)
	}
	if len(numbered) != 2 || numbered[0] != 1 || numbered[1] != 2 {
		t.Fatalf("the OnNumbered step saw seqs %v, want [1 2]", numbered)
	}
	// AfterCommit runs once per committed transaction, when its event is
	// already visible to readers.
	if want := []string{"1:1:<nil>", "2:1:<nil>"}; !slices.Equal(afterCommit, want) {
		t.Fatalf("AfterCommit saw %v, want %v", afterCommit, want)
	}
	due, err := s.DueDeliveries(ctx, "we_1", time.Now(), 10)
	if err != nil || len(due) != 1 || due[0].EventSeq != 1 {
		t.Fatalf("due = %+v, %v; want the created event only (the endpoint filters)", due, err)
	}
	// A hook failure rolls the write back with its event.
	setHook(func(_ context.Context, tx *storage.Tx, _ []reservation.Event) error {
		tx.AfterCommit(func() { afterCommit = append(afterCommit, "rolled back") })
		return fmt.Errorf("boom")
	})
	if _, err := s.CreateReservation(ctx, newRes("q1"), []reservation.Candidate{cand(1, 5)}, write()); err == nil {
		t.Fatal("a failing hook did not fail the write")
	}
	if len(afterCommit) != 2 {
		t.Errorf("AfterCommit ran for a rolled-back transaction: %v", afterCommit)
	}
	if evs, _ := s.FindEvents(ctx, 2, 10); len(evs) != 0 {
		t.Errorf("events after a failed hook: %v", evs)
	}
	setHook(nil)
	d := due[0]
	d.Status, d.Attempts, d.DeliveredAt = storage.DeliveryDelivered, 1, time.Now()
	if err := s.RecordAttempt(ctx, d, nil); err != nil {
		t.Fatal(err)
	}
	if n, err := s.DeleteOldDeliveries(ctx, time.Now().Add(-30*24*time.Hour)); err != nil || n != 1 {
		t.Errorf("DeleteOldDeliveries = %d, %v", n, err)
	}
	// Disabling cancels what is pending; deleting too.
	if _, err := s.UpdateEndpoint(ctx, "we_1", "webhook.update", func(e *storage.Endpoint) error { e.Enabled = false; return nil }, write()); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteEndpoint(ctx, "we_1", write()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.FindEndpoint(ctx, "we_1"); reservation.ErrorCode(err) != reservation.ENOTFOUND {
		t.Errorf("deleted endpoint: %v", err)
	}
}

// testSystemEventSeqs records system events from many goroutines at once,
// so that group commit puts several (and reservation writes) in one
// transaction, and checks that each caller gets its own event's seq.
func testSystemEventSeqs(t *testing.T, s *storage.Store) {
	ctx := context.Background()
	const n = 64
	seqs := make([]int64, n)
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for i := range n {
		wg.Go(func() {
			note := &reservation.WebhookNote{EndpointID: fmt.Sprintf("we_%d", i)}
			ev := reservation.Event{Type: reservation.EventWebhookPing, OccurredAt: time.Now(), Origin: reservation.OriginAPI,
				Actor: "api", Webhook: note}
			seq, err := s.RecordSystemEvent(ctx, ev, &audit.Entry{At: time.Now(), Actor: "api", Action: "webhook.ping",
				Target: note.EndpointID, Outcome: audit.OutcomeOK, Detail: "{}"})
			seqs[i] = seq
			errs <- err
		})
		wg.Go(func() {
			_, err := s.CreateReservation(ctx, newRes("q1"), []reservation.Candidate{cand(i%8, n)}, write())
			errs <- err
		})
	}
	wg.Wait()
	noErrors(t, errs)
	evs, err := s.FindEventsBySeqs(ctx, seqs)
	if err != nil {
		t.Fatal(err)
	}
	bySeq := map[int64]reservation.Event{}
	for _, ev := range evs {
		bySeq[ev.Seq] = ev
	}
	for i, seq := range seqs {
		ev, ok := bySeq[seq]
		if !ok || ev.Type != reservation.EventWebhookPing || ev.Webhook == nil || ev.Webhook.EndpointID != fmt.Sprintf("we_%d", i) {
			t.Errorf("RecordSystemEvent %d returned seq %d, which holds %+v", i, seq, ev)
		}
	}
}

func testWebhookBatch(t *testing.T, s *storage.Store) {
	ctx := context.Background()
	ep := &storage.Endpoint{ID: "we_b", ClientID: "website", Name: "crm", URL: "https://crm.example.com", ContentType: "application/json",
		Enabled: true, Secret: "whsec_x"}
	if err := s.CreateEndpoint(ctx, ep, write()); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := range 3 {
		ids = append(ids, create(t, s, "q1", cand(i, 5)).ID)
	}
	evs, err := s.FindEventsBySeqs(ctx, []int64{3, 1, 99})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || evs[0].Seq != 1 || evs[1].Seq != 3 || evs[0].ReservationID != ids[0] || evs[1].ReservationID != ids[2] ||
		evs[1].Reservation == nil || evs[1].Reservation.ID != ids[2] {
		t.Fatalf("FindEventsBySeqs(3, 1, 99) = %+v; want events 1 and 3 in order, 99 left out", evs)
	}
	if evs, err := s.FindEventsBySeqs(ctx, nil); err != nil || len(evs) != 0 {
		t.Errorf("FindEventsBySeqs(nil) = %v, %v", evs, err)
	}
	now := time.Now().Truncate(time.Microsecond)
	ds := []*storage.Delivery{
		{ID: "msg_b1", EndpointID: "we_b", EventSeq: 1, EventType: reservation.EventCreated, NextAttemptAt: now, CreatedAt: now},
		{ID: "msg_b2", EndpointID: "we_b", EventSeq: 2, EventType: reservation.EventCreated, NextAttemptAt: now, CreatedAt: now},
	}
	for _, d := range ds {
		if err := s.AddDelivery(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	ds[0].Status, ds[0].Attempts, ds[0].DeliveredAt, ds[0].LastStatus = storage.DeliveryDelivered, 1, now, 204
	ds[1].Status, ds[1].Attempts, ds[1].NextAttemptAt, ds[1].LastStatus = storage.DeliveryPending, 1, now.Add(time.Hour), 500
	failing := now.Add(-time.Minute)
	if err := s.RecordAttempts(ctx, ds, &failing); err != nil {
		t.Fatal(err)
	}
	for _, want := range ds {
		got, err := s.FindDelivery(ctx, "we_b", want.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != want.Status || got.Attempts != 1 || got.LastStatus != want.LastStatus || !got.NextAttemptAt.Equal(want.NextAttemptAt) {
			t.Errorf("delivery %s after RecordAttempts = %+v, want %+v", want.ID, got, want)
		}
	}
	got, err := s.FindEndpoint(ctx, "we_b")
	if err != nil || !got.FailingSince.Equal(failing) {
		t.Errorf("endpoint failing since %v (%v), want %v", got.FailingSince, err, failing)
	}
	if due, err := s.DueDeliveries(ctx, "we_b", now.Add(time.Minute), 10); err != nil || len(due) != 0 {
		t.Errorf("due after recording = %+v, %v; want none (one delivered, one an hour out)", due, err)
	}
}

// The stream builds event JSON from the stored subject; it must be what
// json.Marshal makes of the decoded event, for every kind of event.
func testStoredEvents(t *testing.T, s *storage.Store) {
	ctx := context.Background()
	r := newRes("q1")
	r.CustomerName = "Zoë <O'Brien> & \"Co\"\u2028"
	r.Reason = "line\tbreak"
	if _, err := s.CreateReservation(ctx, r, []reservation.Candidate{cand(1, 5)}, write()); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.UpdateReservation(ctx, r.ID, reservation.Change{Candidates: []reservation.Candidate{cand(2, 5)},
		Matrix: []reservation.Slot{cand(2, 5).Slot}}, write()); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.CancelReservation(ctx, r.ID, write()); err != nil {
		t.Fatal(err)
	}
	note := &reservation.WebhookNote{EndpointID: "we_1", DeliveryID: "wd_1", EventSeq: 2, Reason: "gave up <after> 5 tries"}
	if _, err := s.RecordSystemEvent(ctx, reservation.Event{Type: reservation.EventWebhookDisabled, OccurredAt: time.Now(),
		Origin: reservation.OriginAPI, Actor: "system", Webhook: note}, nil); err != nil {
		t.Fatal(err)
	}
	evs, err := s.FindEvents(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := s.FindStoredEvents(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 4 || len(stored) != len(evs) {
		t.Fatalf("FindEvents found %d events, FindStoredEvents %d; want 4 each", len(evs), len(stored))
	}
	for i := range evs {
		want, err := json.Marshal(evs[i])
		if err != nil {
			t.Fatal(err)
		}
		if got := stored[i].AppendJSONWithSubject(nil, stored[i].Subject); string(got) != string(want) {
			t.Errorf("event %d (%s):\n stored %s\ndecoded %s", evs[i].Seq, evs[i].Type, got, want)
		}
	}
}

// testOwners: a write limited to one client (Write.Owner) finds another
// client's reservation or endpoint as missing and changes nothing; a filter
// by client lists only its reservations; every event names the client it
// is about.
func testOwners(t *testing.T, s *storage.Store) {
	ctx := context.Background()
	r := create(t, s, "q1", cand(0, 5))
	other := newRes("q1")
	other.ClientID = "partner"
	if _, err := s.CreateReservation(ctx, other, []reservation.Candidate{cand(1, 5)}, write()); err != nil {
		t.Fatal(err)
	}
	w := write()
	w.Actor, w.Owner = "partner", "partner"
	reason := "hijacked"
	if _, _, err := s.UpdateReservation(ctx, r.ID, reservation.Change{Reason: &reason}, w); err != reservation.ErrNotFound {
		t.Fatalf("another client's update: %v, want ErrNotFound", err)
	}
	if _, _, err := s.CancelReservation(ctx, r.ID, w); err != reservation.ErrNotFound {
		t.Fatalf("another client's cancel: %v, want ErrNotFound", err)
	}
	if got, _ := s.FindReservationByID(ctx, r.ID); got.Version != 1 || got.Status != reservation.StatusScheduled {
		t.Fatalf("after another client's writes: %+v, want untouched", got)
	}
	if u := usage(t, s, "q1"); u[cand(0, 5).Bucket.UnixMicro()] != 1 {
		t.Fatalf("usage after another client's cancel = %v, want the slot still held", u)
	}
	if _, _, err := s.UpdateReservation(ctx, other.ID, reservation.Change{Reason: &reason}, w); err != nil {
		t.Fatalf("the owner's update: %v", err)
	}
	for _, tt := range []struct {
		client string
		want   string
	}{{"website", r.ID}, {"partner", other.ID}} {
		list, _, err := s.FindReservations(ctx, reservation.Filter{ClientID: tt.client, QueueID: "q1"})
		if err != nil || len(list) != 1 || list[0].ID != tt.want {
			t.Fatalf("FindReservations of %s = %v, %v; want only %s", tt.client, list, err, tt.want)
		}
	}
	evs, err := s.FindStoredEvents(ctx, 0, 10)
	if err != nil || len(evs) != 3 {
		t.Fatalf("FindStoredEvents = %d, %v; want 3", len(evs), err)
	}
	for i, want := range []string{"website", "partner", "partner"} {
		if evs[i].Owner != want {
			t.Errorf("event %d (%s of %s) has owner %q, want %q", evs[i].Seq, evs[i].Type, evs[i].ReservationID, evs[i].Owner, want)
		}
	}

	e := &storage.Endpoint{ID: "we_owned", ClientID: "website", Name: "CRM", URL: "https://hooks.example.com/", ContentType: "application/json",
		Enabled: true, Secret: "whsec_x"}
	if err := s.CreateEndpoint(ctx, e, write()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateEndpoint(ctx, e.ID, "webhook.update", func(e *storage.Endpoint) error {
		e.URL = "https://evil.example.com/"
		return nil
	}, w); reservation.ErrorCode(err) != reservation.ENOTFOUND {
		t.Fatalf("another client's endpoint update: %v, want not found", err)
	}
	if err := s.DeleteEndpoint(ctx, e.ID, w); reservation.ErrorCode(err) != reservation.ENOTFOUND {
		t.Fatalf("another client's endpoint delete: %v, want not found", err)
	}
	if got, err := s.FindEndpoint(ctx, e.ID); err != nil || got.URL != "https://hooks.example.com/" {
		t.Fatalf("after another client's writes: %+v, %v; want untouched", got, err)
	}
	admin := write()
	admin.Actor = "ops"
	if err := s.DeleteEndpoint(ctx, e.ID, admin); err != nil {
		t.Fatalf("an unlimited write (webhook:admin): %v", err)
	}
}

// testOldNotifications: the records of messages dealt with are deleted once
// old, for reservations that are over; a reservation still scheduled, or a
// message still being sent, keeps its record.
func testOldNotifications(t *testing.T, s *storage.Store) {
	ctx := context.Background()
	over := create(t, s, "q1", cand(0, 5))
	live := create(t, s, "q1", cand(1, 5))
	sent := storage.Outcome{State: notify.StateSent, Event: reservation.EventNotified}
	for _, r := range []*reservation.Reservation{over, live} {
		if _, err := s.ClaimNotification(ctx, r.ID, "confirm", ""); err != nil {
			t.Fatal(err)
		}
		if _, err := s.FinishNotification(ctx, r.ID, "confirm", "", sent, write()); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.ClaimNotification(ctx, over.ID, "cancel", ""); err != nil { // still sending
		t.Fatal(err)
	}
	if _, _, err := s.CancelReservation(ctx, over.ID, write()); err != nil {
		t.Fatal(err)
	}
	if n, err := s.DeleteOldNotifications(ctx, time.Now().Add(-time.Hour)); err != nil || n != 0 {
		t.Errorf("DeleteOldNotifications of records an hour old = %d, %v; want 0 (they are new)", n, err)
	}
	if n, err := s.DeleteOldNotifications(ctx, time.Now().Add(time.Hour)); err != nil || n != 1 {
		t.Errorf("DeleteOldNotifications = %d, %v; want 1 (the canceled reservation's confirmation)", n, err)
	}
	if _, err := s.FindNotification(ctx, over.ID, "confirm", ""); !errors.Is(err, reservation.ErrNotFound) {
		t.Errorf("the deleted record: %v", err)
	}
	for _, k := range []struct{ id, kind string }{{over.ID, "cancel"}, {live.ID, "confirm"}} {
		if _, err := s.FindNotification(ctx, k.id, k.kind, ""); err != nil {
			t.Errorf("record %s of %s: %v, want it kept", k.kind, k.id, err)
		}
	}
}

// testOutcomeFacts: the report's facts of each reservation of a queue in a
// window: where it ended, who canceled it, when Genesys first worked on
// it, and the messages sent; another queue's, another window's and, with
// a client, another client's are left out.
func testOutcomeFacts(t *testing.T, s *storage.Store) {
	ctx := context.Background()
	reached := create(t, s, "q1", cand(0, 5))
	missed := create(t, s, "q1", cand(1, 5))
	canceled := create(t, s, "q1", cand(2, 5))
	create(t, s, "q2", cand(0, 5))  // another queue
	create(t, s, "q1", cand(40, 5)) // past the window
	started := base.Add(2 * time.Minute)
	at := func(tm time.Time) reservation.Write {
		w := write()
		w.Origin = reservation.OriginGenesys
		w.Now = tm
		return w
	}
	for _, step := range []struct {
		id string
		u  reservation.GenesysUpdate
		w  reservation.Write
	}{
		{reached.ID, reservation.GenesysUpdate{Status: reservation.StatusInProgress}, at(started)},
		{reached.ID, reservation.GenesysUpdate{Status: reservation.StatusCompleted, Outcome: reservation.OutcomeReached}, at(started.Add(5 * time.Minute))},
		{missed.ID, reservation.GenesysUpdate{Status: reservation.StatusInProgress}, at(base.Add(25 * time.Minute))},
		{missed.ID, reservation.GenesysUpdate{Status: reservation.StatusMissed, Outcome: reservation.OutcomeNotReached}, at(base.Add(30 * time.Minute))},
	} {
		if _, _, err := s.ApplyGenesys(ctx, step.id, step.u, step.w); err != nil {
			t.Fatalf("ApplyGenesys %s: %v", step.u.Status, err)
		}
	}
	cw := write()
	cw.Origin = reservation.OriginCustomer
	if _, _, err := s.CancelReservation(ctx, canceled.ID, cw); err != nil {
		t.Fatal(err)
	}
	sent := storage.Outcome{State: notify.StateSent, Event: reservation.EventNotified}
	for _, kind := range []string{notify.KindConfirm, notify.KindRemind} {
		if _, err := s.FinishNotification(ctx, reached.ID, kind, "", sent, write()); err != nil {
			t.Fatal(err)
		}
	}
	facts, err := s.OutcomeFacts(ctx, "q1", "", base.Add(-time.Hour), base.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(facts) != 3 || facts[0].ID != reached.ID || facts[1].ID != missed.ID || facts[2].ID != canceled.ID {
		t.Fatalf("facts %+v, want the three reservations of q1 in the window, in slot order", facts)
	}
	if f := facts[0]; f.Outcome != reservation.OutcomeReached || !f.StartedAt.Equal(started) || f.Messages != 2 || f.Reminders != 1 ||
		!f.SlotStart.Equal(base) {
		t.Errorf("reached: %+v", f)
	}
	if f := facts[1]; f.Outcome != reservation.OutcomeNotReached || !f.StartedAt.Equal(base.Add(25*time.Minute)) || f.Messages != 0 {
		t.Errorf("missed: %+v", f)
	}
	if f := facts[2]; f.Status != reservation.StatusCanceled || f.CanceledBy != reservation.OriginCustomer || !f.StartedAt.IsZero() {
		t.Errorf("canceled: %+v", f)
	}
	if facts, err := s.OutcomeFacts(ctx, "q1", "another-client", base.Add(-time.Hour), base.Add(time.Hour)); err != nil || len(facts) != 0 {
		t.Errorf("another client's facts: %+v, %v", facts, err)
	}
}

// testRetention fills the event and audit logs, prunes them as retention
// does, and checks what stays: events a live durable cursor has not
// acknowledged or a pending delivery still needs, and an audit chain that
// verifies from its signed checkpoint, and breaks when the checkpoint or
// what follows it is tampered with.
func testRetention(t *testing.T, s *storage.Store) {
	ctx := context.Background()
	for i := range 12 {
		create(t, s, "q1", cand(i, 1))
	}
	future := time.Now().Add(time.Hour)
	// A live cursor that acknowledged event 4 holds the rest back.
	if err := s.SaveStreamCursor(ctx, "website", "main", 4, false); err != nil {
		t.Fatal(err)
	}
	n, upTo, err := s.PruneEvents(ctx, future, time.Now().Add(-time.Hour))
	if err != nil || n != 4 || upTo != 4 {
		t.Fatalf("PruneEvents with a live cursor at 4 = %d, %d, %v; want 4 deleted up to 4", n, upTo, err)
	}
	evs, err := s.FindStoredEvents(ctx, 0, 100)
	if err != nil || len(evs) != 8 || evs[0].Seq != 5 {
		t.Fatalf("after pruning: %d events from %v (%v), want 8 from 5", len(evs), evs, err)
	}
	// Abandoned (not moved since cursorsSince), the cursor holds nothing;
	// a pending delivery of event 9 does.
	Exec(t, s, `INSERT INTO webhook_deliveries (id, endpoint_id, event_seq, event_type, status, attempts, next_attempt_at,
		last_status, last_latency_ms, last_error, created_at, delivered_at) VALUES ('msg_1', 'wh_1', 9, 'reservation.created', 'pending', 0, 0, 0, 0, '', 0, 0)`)
	if n, upTo, err = s.PruneEvents(ctx, future, future); err != nil || n != 4 || upTo != 8 {
		t.Fatalf("PruneEvents with a pending delivery of 9 = %d, %d, %v; want 4 deleted up to 8", n, upTo, err)
	}
	Exec(t, s, "DELETE FROM webhook_deliveries")
	if n, _, err = s.PruneEvents(ctx, time.Now().Add(-time.Hour), future); err != nil || n != 0 {
		t.Fatalf("PruneEvents of nothing old enough = %d, %v", n, err)
	}
	if n, _, err = s.PruneEvents(ctx, future, future); err != nil || n != 4 {
		t.Fatalf("PruneEvents of the rest = %d, %v; want 4", n, err)
	}
	if last, err := s.LastEventSeq(ctx); err != nil || last != 12 {
		t.Errorf("the log's head after pruning = %d, %v; want 12 still", last, err)
	}
	// New events go on numbering from the head.
	create(t, s, "q1", cand(20, 1))
	if evs, err := s.FindStoredEvents(ctx, 0, 100); err != nil || len(evs) != 1 || evs[0].Seq != 13 {
		t.Fatalf("after pruning everything and one create: %v, %v", evs, err)
	}

	// The audit log: without the deployment's key nothing is pruned.
	if _, err := s.PruneAudit(ctx, future, time.Now()); err == nil {
		t.Fatal("PruneAudit without a key pruned")
	}
	s.SetAuditKey([]byte("retention test key"))
	pruned, err := s.PruneAudit(ctx, future, time.Now())
	if err != nil || pruned != 13 {
		t.Fatalf("PruneAudit = %d, %v; want the 13 entries", pruned, err)
	}
	if cp, err := s.AuditCheckpoint(ctx); err != nil || cp == nil || cp.Seq != 13 || cp.Pruned != 13 {
		t.Fatalf("checkpoint = %+v, %v", cp, err)
	}
	for i := range 3 {
		create(t, s, "q1", cand(30+i, 1))
	}
	if n, err := s.VerifyAudit(ctx); err != nil || n != 3 {
		t.Fatalf("VerifyAudit after pruning = %d, %v; want the 3 new entries from the checkpoint", n, err)
	}
	// Pruning again with nothing older is a no-op.
	if pruned, err := s.PruneAudit(ctx, time.Now().Add(-time.Hour), time.Now()); err != nil || pruned != 0 {
		t.Errorf("second PruneAudit = %d, %v", pruned, err)
	}
	var be *audit.BrokenError
	// Another deployment's key (or a forged checkpoint) does not verify.
	s.SetAuditKey([]byte("another key"))
	if _, err := s.VerifyAudit(ctx); !errors.As(err, &be) || be.Seq != 13 {
		t.Errorf("VerifyAudit with another key: %v", err)
	}
	s.SetAuditKey([]byte("retention test key"))
	// The first entry after the checkpoint deleted: the chain breaks there.
	saved, err := s.FindAuditEntries(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	Exec(t, s, "DELETE FROM audit_log WHERE seq = 14")
	if _, err := s.VerifyAudit(ctx); !errors.As(err, &be) || be.Seq != 14 {
		t.Errorf("VerifyAudit after deleting the entry after the checkpoint: %v", err)
	}
	restoreAudit(t, s, saved)
	// The checkpoint moved forward by hand (hiding entries): refused.
	Exec(t, s, "UPDATE audit_checkpoints SET seq = 14")
	if _, err := s.VerifyAudit(ctx); !errors.As(err, &be) {
		t.Errorf("VerifyAudit with an edited checkpoint: %v", err)
	}
	Exec(t, s, "UPDATE audit_checkpoints SET seq = 13")
	if _, err := s.VerifyAudit(ctx); err != nil {
		t.Errorf("VerifyAudit after the repairs: %v", err)
	}
}

// testLoadReservations: the benchmarks' bulk load stores reservations as
// given and counts those not final in their buckets.
func testLoadReservations(t *testing.T, s *storage.Store) {
	ctx := context.Background()
	var rs []*reservation.Reservation
	for i, st := range []reservation.Status{reservation.StatusScheduled, reservation.StatusCompleted, reservation.StatusScheduled} {
		r := newRes("load")
		r.Slot = cand(i%2, 5).Slot
		r.Status, r.Sync.State = st, reservation.SyncSynced
		rs = append(rs, r)
	}
	if err := s.LoadReservations(ctx, rs); err != nil {
		t.Fatal(err)
	}
	list, _, err := s.FindReservations(ctx, reservation.Filter{QueueID: "load"})
	if err != nil || len(list) != 3 {
		t.Fatalf("FindReservations = %d, %v; want 3", len(list), err)
	}
	var got []string
	for _, r := range list {
		got = append(got, r.ID+" "+string(r.Status))
	}
	want := []string{rs[0].ID + " scheduled", rs[2].ID + " scheduled", rs[1].ID + " completed"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("loaded, in slot order (-want +got):\n%s", diff)
	}
	// Pages of one, across the two reservations of one instant (the
	// cursor's slot_start and pk).
	got = nil
	for f := (reservation.Filter{QueueID: "load", Limit: 1}); ; {
		page, next, err := s.FindReservations(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range page {
			got = append(got, r.ID+" "+string(r.Status))
		}
		if next == "" || len(got) > 3 {
			break
		}
		f.Cursor = next
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("paged one by one (-want +got):\n%s", diff)
	}
	if u := usage(t, s, "load"); u[cand(0, 5).Bucket.UnixMicro()] != 2 || len(u) != 1 {
		t.Errorf("slot usage = %v, want 2 in the first bucket only", u)
	}
}
