package syncer_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/slotline/slotline/internal/booking"
	"github.com/slotline/slotline/internal/genesys/gcsim"
	"github.com/slotline/slotline/internal/reservation"
	"github.com/slotline/slotline/internal/schedule"
	"github.com/slotline/slotline/internal/syncer"
)

// Two more Genesys queues for TestCustomerReached.
const (
	salesQueue = "7f1c9a2e-0000-4000-8000-0000000000a2"
	offQueue   = "7f1c9a2e-0000-4000-8000-0000000000a3"
)

// reachedObserver is the tests' observer with the customer_reached count.
type reachedObserver struct {
	*observer
	mu      sync.Mutex
	reached map[string]int
}

func (o *reachedObserver) CustomerReachedCancel(queue string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.reached[queue]++
}

func (o *reachedObserver) reachedCount(queue string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.reached[queue]
}

// playInbound plays an inbound call through the simulator's admin API
// (POST /sim/inbound-calls) and returns its conversation id.
func (b *bundle) playInbound(queueID, from string, answered bool) string {
	b.t.Helper()
	body, _ := json.Marshal(gcsim.InboundCall{QueueID: queueID, From: from, Answered: answered})
	resp, err := http.Post(b.sim.URL()+"/sim/inbound-calls", "application/json", bytes.NewReader(body))
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		ConversationID string `json:"conversationId"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusCreated || out.ConversationID == "" {
		b.t.Fatalf("POST /sim/inbound-calls: %d, %+v, %v", resp.StatusCode, out, err)
	}
	return out.ConversationID
}

// TestCustomerReached plays inbound calls over the simulator's HTTP API
// and notification socket, on each backend. A call of a reservation's
// number answered by an agent of its queue within cancel_if_reached_within
// before the slot cancels it (reason customer_reached, origin genesys):
// its callback is disconnected in Genesys, and no SMS is sent. Left
// untouched: a call answered on another queue, one nobody answered, one
// from another number, one answered outside the window (1h on that
// queue), one on a queue with the window off (0), and the callback's own
// conversation (its agent and its call to the customer) for another
// reservation of the same number later on.
func TestCustomerReached(t *testing.T) {
	t.Parallel()
	backends(t, testCustomerReached)
}

func testCustomerReached(t *testing.T, backend string) {
	loc, _ := time.LoadLocation("America/New_York")
	cal := func() *schedule.Calendar {
		return &schedule.Calendar{Location: loc, SlotMinutes: 15, Capacity: 2, AlwaysOpen: true, Horizon: 30 * 24 * time.Hour}
	}
	sales := &booking.Queue{ID: "sales", Name: "Sales", GenesysQueueID: salesQueue, TimeZone: loc.String(), Calendar: cal(),
		CancelIfReachedWithin: time.Hour}
	off := &booking.Queue{ID: "off", Name: "Off", GenesysQueueID: offQueue, TimeZone: loc.String(), Calendar: cal()}
	var obs *reachedObserver
	b := setupWith(t, backend, true, func(o *gcsim.Options, c *syncer.Config) {
		o.Queues = append(o.Queues, gcsim.Queue{ID: salesQueue, Name: "Sales"}, gcsim.Queue{ID: offQueue, Name: "Off"})
		c.Queues[0].CancelIfReachedWithin = 4 * time.Hour
		c.Queues = append(c.Queues, sales, off)
		obs = &reachedObserver{observer: c.Observer.(*observer), reached: map[string]int{}}
		c.Observer = obs
	})
	book := booking.New(b.store, []*booking.Queue{b.queue, sales, off}, booking.Options{})
	sms := reservation.ChannelPreferences{Primary: "voice", Fallback: "sms", AllowSMS: true}
	number := func(i int) string { return fmt.Sprintf("+1415555012%d", i) }
	reserveOn := func(queue, id string, in time.Duration, n string) *reservation.Reservation {
		t.Helper()
		start := time.Now().Add(in).Truncate(15 * time.Minute).Add(15 * time.Minute)
		res, err := book.Create(b.ctx, booking.Caller{ClientID: "website", RequestID: "r-" + id}, &reservation.CreateRequest{
			CallbackID: id, CallbackNumber: n, QueueID: queue, Reason: "billing", Channel: sms,
			Candidates: []reservation.Slot{{Start: start, End: start.Add(15 * time.Minute)}},
		})
		if err != nil {
			t.Fatalf("create %s: %v", id, err)
		}
		return res.Reservation
	}
	reached := reserveOn("support", "reached", 2*time.Hour, number(1))
	otherQueue := reserveOn("support", "other-queue", 90*time.Minute, number(2))
	unanswered := reserveOn("support", "unanswered", 150*time.Minute, number(3))
	otherNumber := reserveOn("support", "other-number", time.Hour, number(4))
	outside := reserveOn("sales", "outside", 3*time.Hour, number(6))
	turnedOff := reserveOn("off", "off", 2*time.Hour, number(7))
	own := reserveOn("support", "own", 0, number(8))
	ownLater := reserveOn("support", "own-later", 3*time.Hour, number(8))
	control := reserveOn("support", "control", 200*time.Minute, number(9))
	all := []*reservation.Reservation{reached, otherQueue, unanswered, otherNumber, outside, turnedOff, own, ownLater, control}
	for _, r := range all {
		b.waitFor(r.ID, "synced", synced)
	}
	waitListener(t, b)

	// What must change nothing, then the call that cancels: the events
	// come in order on one socket, so once it has, the others were read.
	b.playInbound(salesQueue, number(2), true)      // answered on another queue
	b.playInbound(simQueue, number(3), false)       // nobody answered
	b.playInbound(simQueue, number(5), true)        // another number
	b.playInbound(salesQueue, number(6), true)      // 3h ahead, the window is 1h
	b.playInbound(offQueue, number(7), true)        // cancel_if_reached_within: 0
	b.playInbound(simQueue, "tel:"+number(1), true) // the "tel:" form is the same number
	got := b.waitFor(reached.ID, "canceled, customer reached", func(r *reservation.Reservation) bool {
		return r.Status == reservation.StatusCanceled && synced(r)
	})
	if got.CancelReason != reservation.CancelReasonCustomerReached || got.Outcome != reservation.OutcomeCanceled {
		t.Errorf("reached: cancel reason %q, outcome %q; want customer_reached, canceled", got.CancelReason, got.Outcome)
	}
	if cb := b.callback(got.Sync.ConversationID); cb.State != "disconnected" {
		t.Errorf("reached: the callback in Genesys is %q, want disconnected", cb.State)
	}
	if evs := b.events(reached.ID); !slices.Contains(evs, reservation.EventCanceled+"/"+reservation.OriginGenesys) {
		t.Errorf("reached: events %v, want a reservation.canceled from genesys", evs)
	}
	evs, err := b.store.FindEvents(b.ctx, 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		if ev.ReservationID == reached.ID && ev.Type == reservation.EventCanceled &&
			(ev.Reservation == nil || ev.Reservation.CancelReason != reservation.CancelReasonCustomerReached) {
			t.Errorf("reached: the cancel event's reservation has no cancel_reason customer_reached: %+v", ev.Reservation)
		}
	}
	// The count follows the commit.
	waitUntil(t, 10*time.Second, "one customer_reached cancel counted", func() bool { return obs.reachedCount("support") == 1 })
	for _, r := range []*reservation.Reservation{otherQueue, unanswered, otherNumber, outside, turnedOff} {
		now, err := b.store.FindReservationByID(b.ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if now.Status != reservation.StatusScheduled || now.CancelReason != "" || now.Version != r.Version {
			t.Errorf("%s: %s (reason %q, version %d); want scheduled, untouched", r.CallbackID, now.Status, now.CancelReason, now.Version)
		}
	}

	// The callback's own conversation: its agent connects and calls the
	// customer; the same number's later reservation stays.
	b.playTo(own, 10*time.Minute)
	if got := b.waitFor(own.ID, "ended", final); got.Status != reservation.StatusCompleted {
		t.Errorf("own: %s, want completed", got.Status)
	}
	b.playInbound(simQueue, number(9), true)
	b.waitFor(control.ID, "canceled, customer reached", func(r *reservation.Reservation) bool {
		return r.Status == reservation.StatusCanceled && r.CancelReason == reservation.CancelReasonCustomerReached
	})
	if now, err := b.store.FindReservationByID(b.ctx, ownLater.ID); err != nil || now.Status != reservation.StatusScheduled || now.CancelReason != "" {
		t.Errorf("own-later after its number's callback was answered: %+v, %v; want scheduled", now, err)
	}
	// Nothing was missed, so no SMS went out (every reservation allowed one).
	for i := 1; i <= 9; i++ {
		if n := b.smsTo(number(i)); n != 0 {
			t.Errorf("%d SMS to %s, want none", n, reservation.MaskNumber(number(i)))
		}
	}
	waitUntil(t, 10*time.Second, "two customer_reached cancels counted", func() bool { return obs.reachedCount("support") == 2 })
}

// TestReconcileFindsCustomerReached: with no listener, an inbound call
// answered within the window is found by reconciliation (an analytics
// query for the numbers of the reservations due within the window, then
// a read of each call) and cancels its reservation; one nobody answered
// does not.
func TestReconcileFindsCustomerReached(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, backend string) {
		b := setupWith(t, backend, false, func(o *gcsim.Options, c *syncer.Config) {
			c.Queues[0].CancelIfReachedWithin = 4 * time.Hour
		})
		sms := reservation.ChannelPreferences{Primary: "voice", Fallback: "sms", AllowSMS: true}
		reached := b.reserveNumber("reached", time.Hour, sms, "+14155550131")
		unanswered := b.reserveNumber("unanswered", 2*time.Hour, sms, "+14155550132")
		b.waitFor(reached.ID, "synced", synced)
		b.waitFor(unanswered.ID, "synced", synced)
		b.playInbound(simQueue, "+14155550131", true)
		b.playInbound(simQueue, "+14155550132", false)
		b.sim.Clock().Advance(10 * time.Second) // past the analytics delay (5 s)
		if err := b.runner.Reconcile(b.ctx); err != nil {
			t.Fatal(err)
		}
		got, err := b.store.FindReservationByID(b.ctx, reached.ID)
		if err != nil || got.Status != reservation.StatusCanceled || got.CancelReason != reservation.CancelReasonCustomerReached {
			t.Fatalf("reached after reconciliation: %+v, %v; want canceled, customer_reached", got, err)
		}
		b.waitFor(reached.ID, "disconnected in Genesys", synced)
		if cb := b.callback(got.Sync.ConversationID); cb.State != "disconnected" {
			t.Errorf("reached: the callback in Genesys is %q, want disconnected", cb.State)
		}
		if got, err := b.store.FindReservationByID(b.ctx, unanswered.ID); err != nil || got.Status != reservation.StatusScheduled {
			t.Errorf("unanswered after reconciliation: %+v, %v; want scheduled", got, err)
		}
	})
}
