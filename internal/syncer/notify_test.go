package syncer_test

import (
	"strings"
	"testing"
	"time"

	"github.com/slotline/slotline/internal/booking"
	"github.com/slotline/slotline/internal/genesys/gcsim"
	"github.com/slotline/slotline/internal/notify"
	"github.com/slotline/slotline/internal/reservation"
	"github.com/slotline/slotline/internal/storage"
	"github.com/slotline/slotline/internal/syncer"
)

// The messages to customers over the simulator, whose clock stands still
// until a test moves it: a job due later looks again every 100 ms of real
// time (Until) until the simulator's clock reaches its time.

var textable = reservation.ChannelPreferences{Primary: "voice", AllowSMS: true}

// notifySetup is setup with the queue's notify policy p and a manage URL
// of every reservation.
func notifySetup(t *testing.T, backend string, p notify.Policy) *bundle {
	t.Helper()
	return setupWith(t, backend, false, func(o *gcsim.Options, c *syncer.Config) {
		clock := o.Clock
		c.Queues[0].Notify = &p
		c.Until = func(at time.Time) time.Duration {
			if !clock.Now().Before(at) {
				return 0
			}
			return 100 * time.Millisecond
		}
		c.ManageURL = func(r reservation.Reservation) string { return "https://cb.example/m/" + r.ID }
	})
}

// smsOf returns the simulator's messages to number whose text contains
// part.
func (b *bundle) smsOf(number, part string) []gcsim.SMSInfo {
	var out []gcsim.SMSInfo
	for _, m := range b.sim.SMS() {
		if m.ToAddress == number && strings.Contains(m.TextBody, part) {
			out = append(out, m)
		}
	}
	return out
}

// notifyEvents returns the kinds of the events of type typ of reservation
// id, in order.
func (b *bundle) notifyEvents(id, typ string) []string {
	b.t.Helper()
	evs, err := b.store.FindEvents(b.ctx, 0, 10000)
	if err != nil {
		b.t.Fatal(err)
	}
	var out []string
	for _, ev := range evs {
		if ev.ReservationID == id && ev.Type == typ {
			out = append(out, ev.Kind+":"+ev.Reason)
		}
	}
	return out
}

// waitOutcome waits until the sync has counted op/outcome more than n
// times.
func (b *bundle) waitOutcome(key string, n int) {
	b.t.Helper()
	waitUntil(b.t, notifyWait, key, func() bool { return b.obs.count(key) > n })
}

// advanceTo moves the simulator's clock to t.
func (b *bundle) advanceTo(t time.Time) { b.sim.Clock().Advance(t.Sub(b.sim.Clock().Now())) }

const customer = "+14155550199" // San Francisco: America/Los_Angeles

// TestNotifyConfirmAndRemind: a booking is confirmed once, at once, with
// its time in the customer's zone and its link; its reminder goes once,
// remind_before the slot, not earlier.
func TestNotifyConfirmAndRemind(t *testing.T) {
	t.Parallel()
	for _, backend := range []string{storage.SQLite, storage.Postgres} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			b := notifySetup(t, backend, notify.Policy{Confirm: true, RemindBefore: 15 * time.Minute})
			r := b.reserve("confirm", 2*time.Hour, textable)
			b.waitForEvent(r.ID, "reservation.notified/genesys")
			la, _ := time.LoadLocation("America/Los_Angeles")
			want := "Your callback from Support is booked for " + notify.FormatTime(r.Slot.Start.In(la), "en") +
				".\nChange or cancel: https://cb.example/m/" + r.ID
			if got := b.smsOf(customer, ""); len(got) != 1 || got[0].TextBody != want || got[0].IdempotencyKey == "" {
				t.Fatalf("SMS = %+v, want one: %q", got, want)
			}
			due := r.Slot.Start.Add(-15 * time.Minute)
			// A minute before it is due the reminder waits.
			waiting := b.obs.count("notify_remind/waiting")
			b.advanceTo(due.Add(-time.Minute))
			b.waitOutcome("notify_remind/waiting", waiting)
			if got := b.smsOf(customer, "Reminder"); len(got) != 0 {
				t.Fatalf("a reminder before it is due: %+v", got)
			}
			b.advanceTo(due)
			waitUntil(t, notifyWait, "the reminder", func() bool { return len(b.smsOf(customer, "Reminder")) > 0 })
			b.waitForEvent(r.ID, "reservation.notified/genesys")
			b.waitCommitted(notifyWait, func() bool { return len(b.notifyEvents(r.ID, reservation.EventNotified)) == 2 })
			if got := b.notifyEvents(r.ID, reservation.EventNotified); strings.Join(got, ",") != "confirm:,remind:" {
				t.Errorf("notified events %v, want confirm then remind", got)
			}
			rem := b.smsOf(customer, "Reminder")
			if len(rem) != 1 || !rem[0].Timestamp.Equal(due) || !strings.Contains(rem[0].TextBody, notify.FormatTime(r.Slot.Start.In(la), "en")) {
				t.Errorf("reminders %+v, want one at %v", rem, due)
			}
			// Later moves of the clock send nothing more.
			b.advanceTo(r.Slot.Start.Add(-time.Minute))
			if n := len(b.smsOf(customer, "")); n != 2 {
				t.Errorf("%d messages, want the confirmation and one reminder", n)
			}
		})
	}
}

// TestNotifyReschedule: a rescheduled reservation's reminder follows the
// new slot; none goes at the old time.
func TestNotifyReschedule(t *testing.T) {
	t.Parallel()
	for _, backend := range []string{storage.SQLite, storage.Postgres} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			b := notifySetup(t, backend, notify.Policy{RemindBefore: 15 * time.Minute})
			r := b.reserve("moved", time.Hour, textable)
			newStart := r.Slot.Start.Add(2 * time.Hour)
			b.move(r.ID, newStart)
			obsolete := b.obs.count("notify_remind/obsolete")
			b.advanceTo(r.Slot.Start.Add(-15 * time.Minute))
			b.waitOutcome("notify_remind/obsolete", obsolete) // the old slot's reminder looked, and did nothing
			if got := b.smsOf(customer, ""); len(got) != 0 {
				t.Fatalf("a reminder at the old time: %+v", got)
			}
			b.advanceTo(newStart.Add(-15 * time.Minute))
			waitUntil(t, notifyWait, "the reminder of the new slot", func() bool { return len(b.smsOf(customer, "Reminder")) > 0 })
			la, _ := time.LoadLocation("America/Los_Angeles")
			got := b.smsOf(customer, "")
			if len(got) != 1 || !strings.Contains(got[0].TextBody, notify.FormatTime(newStart.In(la), "en")) {
				t.Errorf("SMS = %+v, want one reminder of the new slot", got)
			}
		})
	}
}

// TestNotifyCancel: a canceled reservation gets its cancel message once
// and no reminder; a cancel because the customer got through sends
// nothing.
func TestNotifyCancel(t *testing.T) {
	t.Parallel()
	for _, backend := range []string{storage.SQLite, storage.Postgres} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			b := notifySetup(t, backend, notify.Policy{RemindBefore: 15 * time.Minute, OnCancel: true})
			r := b.reserve("canceled", time.Hour, textable)
			b.cancel(r.ID)
			b.waitForEvent(r.ID, "reservation.notified/genesys")
			if got := b.smsOf(customer, "is canceled"); len(got) != 1 {
				t.Fatalf("cancel messages %+v, want one", got)
			}
			obsolete := b.obs.count("notify_remind/obsolete")
			b.advanceTo(r.Slot.Start.Add(-15 * time.Minute))
			b.waitOutcome("notify_remind/obsolete", obsolete)
			if got := b.smsOf(customer, ""); len(got) != 1 {
				t.Errorf("SMS = %+v, want only the cancel message", got)
			}
		})
	}
}

// TestNotifyOptOut: a number that opted out gets nothing: not the
// reminder planned before (skipped, recorded, at send time), not the
// confirmation of a later booking.
func TestNotifyOptOut(t *testing.T) {
	t.Parallel()
	b := notifySetup(t, storage.SQLite, notify.Policy{Confirm: true, RemindBefore: 15 * time.Minute, OnCancel: true})
	r := b.reserve("opting-out", time.Hour, textable)
	b.waitForEvent(r.ID, "reservation.notified/genesys") // the confirmation
	if _, err := b.store.OptOutSMS(b.ctx, r.ID, reservation.Write{Actor: "customer", Origin: "customer"}); err != nil {
		t.Fatal(err)
	}
	later := b.reserve("after-opt-out", 3*time.Hour, textable)
	if !later.SMSOptOut {
		t.Fatalf("a later booking of the number is not opted out")
	}
	b.advanceTo(r.Slot.Start.Add(-15 * time.Minute))
	b.waitForEvent(r.ID, "reservation.notify_skipped/genesys")
	if got := b.notifyEvents(r.ID, reservation.EventNotifySkipped); len(got) != 1 || got[0] != "remind:opted_out" {
		t.Errorf("skipped %v, want the reminder, opted_out", got)
	}
	b.cancel(later.ID)
	b.advanceTo(later.Slot.Start)
	if got := b.smsOf(customer, ""); len(got) != 1 {
		t.Errorf("SMS = %+v, want the first confirmation only", got)
	}
	if got := b.notifyEvents(later.ID, reservation.EventNotified); len(got) != 0 {
		t.Errorf("the opted-out booking was notified: %v", got)
	}
}

// TestNotifyQuietHours: a reminder due in the customer's quiet hours goes
// at their end when that is before the slot, and is skipped (recorded)
// when it is not.
func TestNotifyQuietHours(t *testing.T) {
	t.Parallel()
	la, _ := time.LoadLocation("America/Los_Angeles")
	// Quiet hours around the reminder of a slot 3 hours ahead: from an
	// hour before it is due to 30 minutes after, in the customer's zone.
	start := time.Now().Add(3 * time.Hour).Truncate(15 * time.Minute).Add(15 * time.Minute)
	quiet := func(remind time.Duration) notify.QuietHours {
		due := start.Add(-remind).In(la)
		m := due.Hour()*60 + due.Minute()
		return notify.QuietHours{Start: (m - 60 + 1440) % 1440, End: (m + 30) % 1440}
	}
	t.Run("moved", func(t *testing.T) {
		t.Parallel()
		b := notifySetup(t, storage.SQLite, notify.Policy{RemindBefore: time.Hour, Quiet: quiet(time.Hour)})
		r := b.reserve("quiet-moved", 3*time.Hour, textable)
		if !r.Slot.Start.Equal(start) {
			t.Skipf("the slot %v is not the one planned (%v): the clock crossed a slot", r.Slot.Start, start)
		}
		due, end := start.Add(-time.Hour), start.Add(-30*time.Minute)
		waiting := b.obs.count("notify_remind/waiting")
		b.advanceTo(due)
		b.waitOutcome("notify_remind/waiting", waiting)
		if got := b.smsOf(customer, ""); len(got) != 0 {
			t.Fatalf("a reminder inside quiet hours: %+v", got)
		}
		b.advanceTo(end)
		waitUntil(t, notifyWait, "the reminder at the end of quiet hours", func() bool { return len(b.smsOf(customer, "")) > 0 })
		if got := b.smsOf(customer, ""); len(got) != 1 || !got[0].Timestamp.Equal(end) {
			t.Errorf("SMS = %+v, want one at %v", got, end)
		}
	})
	t.Run("skipped", func(t *testing.T) {
		t.Parallel()
		b := notifySetup(t, storage.SQLite, notify.Policy{RemindBefore: 15 * time.Minute, Quiet: quiet(15 * time.Minute)})
		r := b.reserve("quiet-skipped", 3*time.Hour, textable)
		if !r.Slot.Start.Equal(start) {
			t.Skipf("the slot %v is not the one planned (%v): the clock crossed a slot", r.Slot.Start, start)
		}
		b.waitForEvent(r.ID, "reservation.notify_skipped/genesys")
		if got := b.notifyEvents(r.ID, reservation.EventNotifySkipped); len(got) != 1 || got[0] != "remind:quiet_hours" {
			t.Errorf("skipped %v, want remind:quiet_hours", got)
		}
		b.advanceTo(start)
		if got := b.smsOf(customer, ""); len(got) != 0 {
			t.Errorf("SMS = %+v, want none", got)
		}
	})
}

// TestNotifyLocales: the confirmation in German, French and Spanish, with
// {time} in the customer's zone (from the number, not the queue's New
// York) and language; a regional locale falls back to its language, an
// unknown one to English.
func TestNotifyLocales(t *testing.T) {
	t.Parallel()
	b := notifySetup(t, storage.SQLite, notify.Policy{Confirm: true})
	start := time.Now().Add(2 * time.Hour).Truncate(15 * time.Minute).Add(15 * time.Minute)
	for i, c := range []struct{ locale, number, zone, lang, prefix string }{
		{"de", "+493012345678", "Europe/Berlin", "de", "Ihr Rückruf von Support ist für "},
		{"fr-CA", "+33123456789", "Europe/Paris", "fr", "Votre rappel par Support est prévu le "},
		{"es", "+34912345678", "Europe/Madrid", "es", "Su llamada de Support queda programada para el "},
		{"it", "+390612345678", "Europe/Rome", "en", "Your callback from Support is booked for "},
	} {
		loc, _ := time.LoadLocation(c.zone)
		if z := reservation.CustomerZone(c.number); z == nil || z.String() != c.zone {
			t.Fatalf("CustomerZone(%s) = %v, want %s", c.number, z, c.zone)
		}
		res, err := b.book.Create(b.ctx, booking.Caller{ClientID: "website", RequestID: "loc-" + c.locale}, &reservation.CreateRequest{
			CallbackID: "loc-" + c.locale, CallbackNumber: c.number, QueueID: "support", Locale: c.locale, Channel: textable,
			Candidates: []reservation.Slot{{Start: start.Add(time.Duration(i) * 15 * time.Minute), End: start.Add(time.Duration(i+1) * 15 * time.Minute)}},
		})
		if err != nil {
			t.Fatal(err)
		}
		r := res.Reservation
		b.waitForEvent(r.ID, "reservation.notified/genesys")
		want := c.prefix + notify.FormatTime(r.Slot.Start.In(loc), c.lang)
		if got := b.smsOf(c.number, ""); len(got) != 1 || !strings.HasPrefix(got[0].TextBody, want) {
			t.Errorf("%s: SMS %+v, want one starting %q", c.locale, got, want)
		}
	}
}

// TestNotifyResendIsIdempotent: a send whose answer is lost is sent again
// with the same idempotency key; the simulator sends one message.
func TestNotifyResendIsIdempotent(t *testing.T) {
	t.Parallel()
	b := notifySetup(t, storage.SQLite, notify.Policy{Confirm: true})
	b.sim.FailNext(gcsim.Fault{PathPrefix: "/api/v2/conversations/messages/agentless", LoseResponse: true})
	r := b.reserve("lost-answer", time.Hour, textable)
	b.waitForEvent(r.ID, "reservation.notified/genesys")
	if got := b.smsOf(customer, ""); len(got) != 1 || b.sim.SMSReplays() < 1 {
		t.Errorf("SMS = %+v, %d replays; want one message and the repeat answered from its key", got, b.sim.SMSReplays())
	}
}

// notifyWait bounds the waits for a message: a snoozed River job is picked
// up again only every few seconds, and the whole suite loads two cores.
const notifyWait = 90 * time.Second
