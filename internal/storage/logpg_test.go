package storage_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/slotline/slotline/internal/audit"
	"github.com/slotline/slotline/internal/reservation"
	"github.com/slotline/slotline/internal/storage"
	"github.com/slotline/slotline/internal/storage/storagetest"
)

// TestTwoWritersOneTailingReader: two Stores on one PostgreSQL schema (two
// processes) write concurrently, in group commits of many writes and in
// transactions with and without OnNumbered steps, while a reader tails the
// events by sequence number as the stream hub does. The reader sees every
// event, in order, with no number skipped: a later number never becomes
// visible before an earlier one. The numbers have no gaps and the audit
// chain the database extended verifies.
func TestTwoWritersOneTailingReader(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := storagetest.PostgresDSN(t)
	var stores []*storage.Store
	for i := range 2 {
		open := storage.Open
		if i > 0 {
			open = storage.Connect // the schema is migrated
		}
		s, err := open(ctx, dsn, storage.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		stores = append(stores, s)
	}
	// The second store's transactions also have an OnNumbered step, which
	// checks that it sees its events numbered.
	var badNumbers atomic.Int64
	stores[1].OnEvents(func(_ context.Context, tx *storage.Tx, _ []reservation.Event) error {
		tx.OnNumbered(func(_ context.Context, evs []reservation.Event) error {
			for _, ev := range evs {
				if ev.Seq <= 0 {
					badNumbers.Add(1)
				}
			}
			return nil
		})
		return nil
	})

	const perWriter, writers = 150, 8
	var wg sync.WaitGroup
	done := make(chan struct{})
	for w := range writers {
		s := stores[w%2]
		wg.Go(func() {
			for i := range perWriter {
				if i%10 == 0 {
					// An audit entry alone, with fields JSON escapes.
					if err := s.RecordAudit(ctx, &audit.Entry{At: time.Now(), Actor: fmt.Sprintf("writer \"%d\" <&>", w),
						Action: "test.audit", Target: "é\u2028", Outcome: audit.OutcomeRefused, Detail: `{"i":` + fmt.Sprint(i) + `}`}); err != nil {
						t.Errorf("writer %d: audit: %v", w, err)
						return
					}
					continue
				}
				r := &reservation.Reservation{ClientID: "client-a", QueueID: "q1", TimeZone: "UTC",
					CallbackNumber: fmt.Sprintf("+1415555%02d%02d", w, i%100), CustomerName: "Tail Test"}
				slot := reservation.Slot{Start: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(w*perWriter+i) * 15 * time.Minute)}
				slot.End = slot.Start.Add(15 * time.Minute)
				r.Candidates = []reservation.Slot{slot}
				cands := []reservation.Candidate{{Slot: slot, Bucket: slot.Start, Cap: 10}}
				if _, err := s.CreateReservation(ctx, r, cands, reservation.Write{Actor: "client-a", Origin: reservation.OriginAPI, Now: time.Now()}); err != nil {
					t.Errorf("writer %d: create %d: %v", w, i, err)
					return
				}
			}
		})
	}
	go func() { wg.Wait(); close(done) }()

	// The reader, on the first store's pool, as the hub reads.
	var seen int64
	read := func() {
		evs, err := stores[0].FindEvents(ctx, seen, 500)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range evs {
			if ev.Seq != seen+1 {
				t.Fatalf("the reader after event %d got %d: an event was skipped", seen, ev.Seq)
			}
			seen = ev.Seq
		}
	}
	for finished := false; !finished; {
		select {
		case <-done:
			finished = true
		default:
		}
		read() // as fast as it can: the closer it follows the commits, the likelier a skip shows
	}
	read()
	want := int64(writers * (perWriter - perWriter/10))
	if seen != want {
		t.Fatalf("the reader saw %d events, want %d", seen, want)
	}
	if n := badNumbers.Load(); n > 0 {
		t.Errorf("OnNumbered saw %d events without their number", n)
	}
	if last, err := stores[1].LastEventSeq(ctx); err != nil || last != want {
		t.Errorf("LastEventSeq = %d, %v; want %d", last, err, want)
	}
	n, err := stores[1].VerifyAudit(ctx)
	if err != nil || n != int64(writers*perWriter) {
		t.Errorf("VerifyAudit = %d, %v; want %d entries and no error", n, err, writers*perWriter)
	}
}

// TestLogEndpointsFollowOtherProcesses: a Store that made its deliveries
// from the endpoints it read earlier (LogEndpoints keeps them) still
// follows endpoint changes another process commits: the first event
// after another Store creates an endpoint is delivered to it, and the
// first after it deletes it is not, each numbered after the change.
func TestLogEndpointsFollowOtherProcesses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := storagetest.PostgresDSN(t)
	a, err := storage.Open(ctx, dsn, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	b, err := storage.Connect(ctx, dsn, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	var n atomic.Int64
	a.OnEvents(func(ctx context.Context, tx *storage.Tx, events []reservation.Event) error {
		eps, err := a.LogEndpoints(ctx, tx)
		if err != nil {
			return err
		}
		var ds []*storage.Delivery
		var places []int
		for i, ev := range events {
			for _, ep := range eps {
				if ep.Wants(ev.Type, ev.QueueID) {
					ds = append(ds, &storage.Delivery{ID: fmt.Sprintf("msg_%d", n.Add(1)), EndpointID: ep.ID, EventType: ev.Type,
						NextAttemptAt: time.Now(), CreatedAt: time.Now()})
					places = append(places, i)
				}
			}
		}
		return a.InsertEventDeliveries(ctx, tx, ds, places)
	})
	slot := 0
	createOn := func(s *storage.Store) {
		t.Helper()
		slot++
		start := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(slot) * 15 * time.Minute)
		sl := reservation.Slot{Start: start, End: start.Add(15 * time.Minute)}
		r := &reservation.Reservation{ClientID: "website", QueueID: "q1", TimeZone: "UTC", CallbackNumber: fmt.Sprintf("+14155550%03d", slot),
			Candidates: []reservation.Slot{sl}}
		if _, err := s.CreateReservation(ctx, r, []reservation.Candidate{{Slot: sl, Bucket: start, Cap: 10}},
			reservation.Write{Actor: "website", Origin: reservation.OriginAPI, Now: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	deliveries := func(id string) []*storage.Delivery {
		t.Helper()
		ds, _, err := a.FindDeliveries(ctx, id, "", "", 100)
		if err != nil {
			t.Fatal(err)
		}
		return ds
	}
	createOn(a) // a reads (and keeps) the endpoints: none
	w := reservation.Write{Actor: "website", Origin: reservation.OriginAPI, Now: time.Now()}
	ep := &storage.Endpoint{ID: "we_1", ClientID: "website", Name: "crm", URL: "https://crm.example.com", ContentType: "application/json",
		Enabled: true, EventTypes: []string{reservation.EventCreated}, Secret: "whsec_x"}
	if err := b.CreateEndpoint(ctx, ep, w); err != nil {
		t.Fatal(err)
	}
	createOn(a)
	ds := deliveries("we_1")
	if len(ds) != 1 || ds[0].EventSeq != 2 {
		t.Fatalf("after another store created the endpoint, its deliveries are %+v; want one, of event 2", ds)
	}
	createOn(a)
	if ds := deliveries("we_1"); len(ds) != 2 {
		t.Fatalf("deliveries %d, want 2", len(ds))
	}
	if err := b.DeleteEndpoint(ctx, "we_1", w); err != nil {
		t.Fatal(err)
	}
	createOn(a)
	if ds := deliveries("we_1"); len(ds) != 2 {
		t.Fatalf("after another store deleted the endpoint, %d deliveries; want still 2", len(ds))
	}
	if last, _ := a.LastEventSeq(ctx); last != 4 {
		t.Errorf("last event %d, want 4", last)
	}
}

// TestListenEventsIgnoresOtherSchemas: the NOTIFY channel is the
// database's, so the commits of a deployment in another schema reach this
// one's listener too; it ignores them, and hands on its own with their
// last event number.
func TestListenEventsIgnoresOtherSchemas(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stores []*storage.Store
	for range 2 {
		s, err := storage.Open(ctx, storagetest.PostgresDSN(t), storage.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		stores = append(stores, s)
	}
	woken := make(chan int64, 64)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = stores[0].ListenEvents(ctx, func(seq int64) { woken <- seq })
	}()
	defer func() { cancel(); <-done }()
	ev := func(s *storage.Store) int64 {
		seq, err := s.RecordSystemEvent(ctx, reservation.Event{Type: reservation.EventWebhookPing, Origin: reservation.OriginAPI,
			Actor: "t", OccurredAt: time.Now()}, &audit.Entry{At: time.Now(), Actor: "t", Action: "test.event", Target: "x",
			Outcome: audit.OutcomeOK, Detail: "{}"})
		if err != nil {
			t.Fatal(err)
		}
		return seq
	}
	// heard waits for the wake of this schema's event seq, and reports the
	// wakes before it.
	heard := func(seq int64, within time.Duration) ([]int64, bool) {
		var before []int64
		timeout := time.After(within)
		for {
			select {
			case got := <-woken:
				if got == seq {
					return before, true
				}
				before = append(before, got)
			case <-timeout:
				return before, false
			}
		}
	}
	// The listener is up once it hears a commit of its own; notifications
	// come in commit order, so none of the earlier ones is left after it.
	for deadline := time.Now().Add(10 * time.Second); ; {
		if _, ok := heard(ev(stores[0]), 200*time.Millisecond); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the listener never heard this schema's commits")
		}
	}
	for i := range 5 {
		other := ev(stores[1]) // committed, and notified, first
		own := ev(stores[0])
		before, ok := heard(own, 10*time.Second)
		if !ok || len(before) > 0 {
			t.Fatalf("round %d: woken with %v before this schema's %d (heard: %v); the other schema's event was %d", i, before, own, ok, other)
		}
	}
}
