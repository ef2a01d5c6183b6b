package storage_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/slotline/slotline/internal/reservation"
	"github.com/slotline/slotline/internal/storage"
)

// TestReservationPage runs on both backends: the console's filters and
// keyset pages forwards and backwards.
func TestReservationPage(t *testing.T) {
	t.Parallel()
	eachBackend(t, testReservationPage)
}

func testReservationPage(t *testing.T, s *storage.Store) {
	ctx := context.Background()
	base := time.Date(2030, 6, 3, 14, 0, 0, 0, time.UTC)
	var ids []string // q1's, in slot order
	for i := range 7 {
		for _, q := range []string{"q1", "q2"} {
			start := base.Add(time.Duration(i) * 15 * time.Minute)
			r := &reservation.Reservation{ClientID: "website", QueueID: q, TimeZone: "UTC",
				CallbackNumber: fmt.Sprintf("+1415555%04d", 100+i), Candidates: []reservation.Slot{{Start: start, End: start.Add(15 * time.Minute)}},
				Channel: reservation.ChannelPreferences{Primary: "voice"}}
			cand := reservation.Candidate{Slot: r.Candidates[0], Bucket: start, Cap: 5}
			if _, err := s.CreateReservation(ctx, r, []reservation.Candidate{cand}, reservation.Write{Actor: "website", Origin: reservation.OriginAPI}); err != nil {
				t.Fatal(err)
			}
			if q == "q1" {
				ids = append(ids, r.ID)
			}
		}
	}
	if _, _, err := s.CancelReservation(ctx, ids[2], reservation.Write{Actor: "website", Origin: reservation.OriginAPI}); err != nil {
		t.Fatal(err)
	}
	idsOf := func(p *storage.ReservationPage) []string {
		var out []string
		for _, r := range p.Items {
			out = append(out, r.ID)
		}
		return out
	}
	page := func(q storage.ReservationQuery) *storage.ReservationPage {
		t.Helper()
		p, err := s.FindReservationPage(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	eq := func(what string, got, want []string) {
		t.Helper()
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s = %v, want %v", what, got, want)
		}
	}
	q1 := storage.ReservationQuery{Queues: []string{"q1"}, Limit: 3}
	p1 := page(q1)
	eq("page 1", idsOf(p1), ids[:3])
	if p1.Prev != "" || p1.Next == "" {
		t.Fatalf("page 1: prev %q next %q", p1.Prev, p1.Next)
	}
	q1.After = p1.Next
	p2 := page(q1)
	eq("page 2", idsOf(p2), ids[3:6])
	q1.After = p2.Next
	p3 := page(q1)
	eq("page 3", idsOf(p3), ids[6:])
	if p3.Next != "" || p3.Prev == "" {
		t.Fatalf("page 3: prev %q next %q", p3.Prev, p3.Next)
	}
	q1.After, q1.Before = "", p3.Prev
	back := page(q1)
	eq("back to page 2", idsOf(back), ids[3:6])
	q1.Before = back.Prev
	back = page(q1)
	eq("back to page 1", idsOf(back), ids[:3])
	if back.Prev != "" || back.Next == "" {
		t.Errorf("back on page 1: prev %q next %q", back.Prev, back.Next)
	}
	if all := page(storage.ReservationQuery{}); len(all.Items) != 14 {
		t.Errorf("every queue: %d", len(all.Items))
	}
	eq("canceled", idsOf(page(storage.ReservationQuery{Queues: []string{"q1"}, Status: reservation.StatusCanceled})), ids[2:3])
	eq("outcome canceled", idsOf(page(storage.ReservationQuery{Queues: []string{"q1"}, Outcome: reservation.OutcomeCanceled})), ids[2:3])
	eq("suffix", idsOf(page(storage.ReservationQuery{Queues: []string{"q1"}, NumberSuffix: "0104"})), ids[4:5])
	eq("slot range", idsOf(page(storage.ReservationQuery{Queues: []string{"q1"}, From: base.Add(15 * time.Minute), To: base.Add(45 * time.Minute)})), ids[1:3])
	if _, err := s.FindReservationPage(ctx, storage.ReservationQuery{After: "nope!"}); reservation.ErrorCode(err) != reservation.EINVALID {
		t.Errorf("bad cursor: %v", err)
	}

	evs, err := s.FindReservationEvents(ctx, ids[2])
	if err != nil || len(evs) != 2 || evs[0].Type != reservation.EventCreated || evs[1].Type != reservation.EventCanceled {
		t.Errorf("events of the canceled reservation: %+v, %v", evs, err)
	}
	recent, err := s.FindRecentEvents(ctx, []string{"q1"}, []string{"reservation.cancel"}, 10)
	if err != nil || len(recent) != 0 {
		t.Errorf("a type without the dot is exact: %d, %v", len(recent), err)
	}
	recent, err = s.FindRecentEvents(ctx, []string{"q1"}, []string{"reservation."}, 3)
	if err != nil || len(recent) != 3 || recent[0].Type != reservation.EventCanceled || recent[0].Seq < recent[1].Seq {
		t.Errorf("recent events of q1: %+v, %v", recent, err)
	}
	if err := s.AddDelivery(ctx, &storage.Delivery{ID: "d1", EndpointID: "e1", EventSeq: evs[1].Seq, EventType: evs[1].Type,
		Status: storage.DeliveryPending, CreatedAt: base}); err != nil {
		t.Fatal(err)
	}
	ds, err := s.FindEventDeliveries(ctx, []int64{evs[0].Seq, evs[1].Seq})
	if err != nil || len(ds) != 1 || ds[0].ID != "d1" {
		t.Errorf("deliveries: %+v, %v", ds, err)
	}
}
