package storagetest

import (
	"context"
	"testing"

	"github.com/slotline/slotline/internal/notify"
	"github.com/slotline/slotline/internal/reservation"
	"github.com/slotline/slotline/internal/storage"
)

// testNotifications checks the record of messages to customers: a claim
// is made once per reservation, kind and slot key and keeps its
// idempotency key; the outcome is recorded once, from sending, with its
// event (kind and reason on it); a skip needs no claim; the messages left
// sending are found.
func testNotifications(t *testing.T, s *storage.Store) {
	ctx := context.Background()
	r := create(t, s, "q1", cand(0, 5))
	first, err := s.ClaimNotification(ctx, r.ID, notify.KindRemind, "100")
	if err != nil || first.State != notify.StateSending || first.IdempotencyKey != notify.IdempotencyKey(r.ID, notify.KindRemind, "100") {
		t.Fatalf("ClaimNotification = %+v, %v", first, err)
	}
	again, err := s.ClaimNotification(ctx, r.ID, notify.KindRemind, "100")
	if err != nil || again.State != notify.StateSending || again.IdempotencyKey != first.IdempotencyKey {
		t.Errorf("a second claim = %+v, %v; want the same record", again, err)
	}
	other, err := s.ClaimNotification(ctx, r.ID, notify.KindRemind, "200")
	if err != nil || other.IdempotencyKey == first.IdempotencyKey {
		t.Errorf("another slot's claim = %+v, %v; want a key of its own", other, err)
	}
	sending, err := s.FindSendingNotifications(ctx, 10)
	if err != nil || len(sending) != 2 {
		t.Errorf("FindSendingNotifications = %+v, %v; want the two claims", sending, err)
	}
	sent := storage.Outcome{State: notify.StateSent, Event: reservation.EventNotified, MessageID: "m1"}
	for i, want := range []bool{true, false} {
		if got, err := s.FinishNotification(ctx, r.ID, notify.KindRemind, "100", sent, genesysWrite()); err != nil || got != want {
			t.Errorf("FinishNotification #%d = %v, %v; want %v", i, got, err, want)
		}
	}
	skipped := storage.Outcome{State: notify.StateSkipped, Event: reservation.EventNotifySkipped, Reason: "quiet_hours"}
	if got, err := s.FinishNotification(ctx, r.ID, notify.KindRemind, "100", skipped, genesysWrite()); err != nil || got {
		t.Errorf("a skip after the send = %v, %v; want nothing recorded", got, err)
	}
	if got, err := s.FinishNotification(ctx, r.ID, notify.KindConfirm, "", skipped, genesysWrite()); err != nil || !got {
		t.Errorf("a skip without a claim = %v, %v; want it recorded", got, err)
	}
	rec, err := s.FindNotification(ctx, r.ID, notify.KindRemind, "100")
	if err != nil || rec.State != notify.StateSent || rec.MessageID != "m1" || rec.SentAt.IsZero() {
		t.Errorf("FindNotification = %+v, %v", rec, err)
	}
	if sending, _ := s.FindSendingNotifications(ctx, 10); len(sending) != 1 || sending[0].SlotKey != "200" {
		t.Errorf("still sending %+v, want the other slot's", sending)
	}
	evs, err := s.FindEvents(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ev := range evs {
		if ev.ReservationID == r.ID && ev.Kind != "" {
			got = append(got, ev.Type+"/"+ev.Kind+"/"+ev.Reason)
		}
	}
	want := []string{reservation.EventNotified + "/remind/", reservation.EventNotifySkipped + "/confirm/quiet_hours"}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("events %v, want %v", got, want)
	}
	if _, err := s.FinishNotification(ctx, "cb_00000000000000000000", notify.KindConfirm, "", sent, genesysWrite()); reservation.ErrorCode(err) != reservation.ENOTFOUND {
		t.Errorf("FinishNotification of no reservation: %v, want ENOTFOUND", err)
	}
}
