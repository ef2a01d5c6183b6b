package app

import (
	"strings"
	"testing"
	"time"

	"github.com/slotline/slotline/internal/reservation"
)

// TestEventLine: watch prints every kind of event on one line, with what
// it carries: a reservation, a webhook note (webhook.ping,
// webhook.disabled, delivery.exhausted, which have no reservation), or
// neither (a type this version does not know).
func TestEventLine(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC)
	r := &reservation.Reservation{ID: "cb_1", QueueID: "queue_12345", Status: reservation.StatusScheduled,
		Slot: reservation.Slot{Start: at, End: at.Add(15 * time.Minute)}}
	r.Sync.State = reservation.SyncPending
	clock := at.Local().Format("15:04:05")
	for _, c := range []struct {
		ev   reservation.Event
		want string
	}{
		{reservation.Event{Seq: 1, Type: reservation.EventCreated, Origin: "api", ReservationID: "cb_1", Reservation: r},
			"#1 " + clock + " reservation.created cb_1 queue_12345 2026-12-01T14:00:00Z scheduled sync=pending (api)\n"},
		{reservation.Event{Seq: 2, Type: reservation.EventWebhookPing, Origin: "api", Webhook: &reservation.WebhookNote{EndpointID: "we_1"}},
			"#2 " + clock + " webhook.ping endpoint=we_1 (api)\n"},
		{reservation.Event{Seq: 3, Type: reservation.EventDeliveryExhausted, Origin: "system",
			Webhook: &reservation.WebhookNote{EndpointID: "we_1", DeliveryID: "msg_1", EventSeq: 1}},
			"#3 " + clock + " delivery.exhausted endpoint=we_1 delivery=msg_1 event=#1 (system)\n"},
		{reservation.Event{Seq: 4, Type: reservation.EventWebhookDisabled, Origin: "system",
			Webhook: &reservation.WebhookNote{EndpointID: "we_1", Reason: "410 Gone"}},
			"#4 " + clock + " webhook.disabled endpoint=we_1 reason=\"410 Gone\" (system)\n"},
		{reservation.Event{Seq: 5, Type: "something.new", Origin: "system", QueueID: "queue_12345"},
			"#5 " + clock + " something.new queue_12345 (system)\n"},
	} {
		c.ev.OccurredAt = at
		if got := eventLine(&c.ev); got != c.want {
			t.Errorf("%s:\n got %q\nwant %q", c.ev.Type, got, c.want)
		}
		if strings.Count(eventLine(&c.ev), "\n") != 1 {
			t.Errorf("%s: not one line", c.ev.Type)
		}
	}
}
