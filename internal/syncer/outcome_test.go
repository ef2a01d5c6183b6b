package syncer_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/slotline/slotline/internal/genesys/gcsim"
	"github.com/slotline/slotline/internal/reservation"
	"github.com/slotline/slotline/internal/storage"
	"github.com/slotline/slotline/internal/syncer"
)

// smsTo counts the SMS the simulator accepted for number.
func (b *bundle) smsTo(number string) int {
	n := 0
	for _, m := range b.sim.SMS() {
		if m.ToAddress == number {
			n++
		}
	}
	return n
}

// playTo moves the simulator's clock to d after r's slot starts.
func (b *bundle) playTo(r *reservation.Reservation, d time.Duration) {
	b.sim.Clock().Advance(r.Slot.Start.Add(d).Sub(b.sim.Clock().Now()))
}

func (b *bundle) callback(conversationID string) gcsim.CallbackInfo {
	b.t.Helper()
	for _, c := range b.sim.Callbacks() {
		if c.ConversationID == conversationID {
			return c
		}
	}
	b.t.Fatalf("no callback %s in the simulator", conversationID)
	return gcsim.CallbackInfo{}
}

func final(r *reservation.Reservation) bool { return r.Status.Final() }

// TestOutcomes plays, in each callback mode and on each backend, over the
// simulator's HTTP API and notification socket: a customer reached; one
// who never answers (missed, exactly one SMS); a voicemail whose wrap-up
// code the queue lists as not reached (missed); an agent who lets the
// alert time out, the callback offered to the next and reached
// (completed); a supervisor's disconnect before the time (canceled); and a
// callback rescheduled inside Genesys after it was offered (scheduled at
// its new time, then reached on the second attempt).
func TestOutcomes(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{gcsim.AgentFirst, gcsim.CustomerFirst} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			backends(t, func(t *testing.T, backend string) { testOutcomes(t, backend, mode) })
		})
	}
}

func testOutcomes(t *testing.T, backend, mode string) {
	b := setupWith(t, backend, true, func(o *gcsim.Options, c *syncer.Config) {
		o.Queues[0].CallbackMode = mode
		c.Queues[0].NotReachedWrapups = []string{gcsim.WrapupVoicemail.ID}
	})
	sms := reservation.ChannelPreferences{Primary: "voice", Fallback: "sms", AllowSMS: true}
	number := func(i int) string { return fmt.Sprintf("+1415555011%d", i) }
	reached := b.reserveNumber("reached", time.Hour, sms, number(1))
	noAnswer := b.reserveNumber("no-answer", 2*time.Hour, sms, number(2))
	voicemail := b.reserveNumber("voicemail", 3*time.Hour, sms, number(3))
	reoffered := b.reserveNumber("reoffered", 4*time.Hour, sms, number(4))
	dropped := b.reserveNumber("dropped", 5*time.Hour, sms, number(5))
	moved := b.reserveNumber("moved", 6*time.Hour, sms, number(6))
	waitListener(t, b)
	b.playNext(reached.ID, gcsim.Play{})
	b.playNext(noAnswer.ID, gcsim.Play{Customer: gcsim.CustomerNoAnswer})
	b.playNext(voicemail.ID, gcsim.Play{Customer: gcsim.CustomerVoicemail})
	reofferedConv := b.playNext(reoffered.ID, gcsim.Play{AgentMisses: 1})
	droppedConv := b.playNext(dropped.ID, gcsim.Play{})
	movedConv := b.playNext(moved.ID, gcsim.Play{Customer: gcsim.CustomerNoAnswer, Reschedule: 3 * time.Hour, Retry: &gcsim.Play{}})

	// A supervisor's disconnect before the time: canceled, the slot freed.
	if err := b.sim.Disconnect(droppedConv); err != nil {
		t.Fatal(err)
	}
	got := b.waitFor(dropped.ID, "canceled", final)
	if got.Status != reservation.StatusCanceled || got.Outcome != reservation.OutcomeCanceled || got.DialAttempts != 0 {
		t.Errorf("dropped: %s / %s, %d dial attempts; want canceled / canceled", got.Status, got.Outcome, got.DialAttempts)
	}

	b.playTo(reached, 10*time.Minute)
	got = b.waitFor(reached.ID, "ended", final)
	if got.Status != reservation.StatusCompleted || got.Outcome != reservation.OutcomeReached ||
		got.WrapupCode != gcsim.WrapupReached.ID || got.DialAttempts != 1 || got.DisconnectType != "endpoint" {
		t.Errorf("reached: %s / %s, wrap-up %q, %d dial attempts, %q; want completed / reached", got.Status, got.Outcome,
			got.WrapupCode, got.DialAttempts, got.DisconnectType)
	}

	// Nobody answers: not reached, with the call's disconnect type and
	// reasons, and one SMS.
	b.playTo(noAnswer, 10*time.Minute)
	got = b.waitFor(noAnswer.ID, "ended", final)
	wantCode := gcsim.WrapupNoAnswer.ID // the agent's wrap-up
	if mode == gcsim.CustomerFirst {
		wantCode = "" // no agent was involved
	}
	if got.Status != reservation.StatusMissed || got.Outcome != reservation.OutcomeNotReached || got.DisconnectType != "timeout" ||
		len(got.DisconnectReasons) != 1 || got.DisconnectReasons[0].Code != 19 || got.WrapupCode != wantCode || got.DialAttempts != 1 {
		t.Errorf("no answer: %s / %s, %q %+v, wrap-up %q, %d dial attempts; want missed / not_reached, timeout, Q.850 19, %q",
			got.Status, got.Outcome, got.DisconnectType, got.DisconnectReasons, got.WrapupCode, got.DialAttempts, wantCode)
	}
	waitUntil(t, 20*time.Second, "the missed callback's SMS", func() bool { return b.smsTo(number(2)) > 0 })
	b.waitForEvent(noAnswer.ID, "reservation.notified/genesys")

	// A voicemail answers: the call was connected, but the wrap-up code
	// says not reached.
	b.playTo(voicemail, 10*time.Minute)
	got = b.waitFor(voicemail.ID, "ended", final)
	if got.Status != reservation.StatusMissed || got.Outcome != reservation.OutcomeNotReached || got.WrapupCode != gcsim.WrapupVoicemail.ID {
		t.Errorf("voicemail: %s / %s, wrap-up %q; want missed / not_reached, %s", got.Status, got.Outcome, got.WrapupCode, gcsim.WrapupVoicemail.ID)
	}

	// The first agent lets the alert time out; the next one takes it.
	b.playTo(reoffered, 10*time.Minute)
	got = b.waitFor(reoffered.ID, "ended", final)
	if got.Status != reservation.StatusCompleted || got.Outcome != reservation.OutcomeReached {
		t.Errorf("re-offered: %s / %s; want completed / reached", got.Status, got.Outcome)
	}
	if cb := b.callback(reofferedConv); cb.AgentsOffered != 2 {
		t.Errorf("re-offered to %d agents, want 2", cb.AgentsOffered)
	}

	// Nobody answers, and the callback goes back to scheduled inside
	// Genesys (the agent's reschedule, the CustomerFirst retry).
	b.playTo(moved, 10*time.Minute)
	back := b.waitFor(moved.ID, "scheduled again", func(r *reservation.Reservation) bool {
		return r.Status == reservation.StatusScheduled && !r.Slot.Start.Equal(moved.Slot.Start)
	})
	if cb := b.callback(movedConv); !back.Slot.Start.Equal(cb.ScheduledTime) || back.DialAttempts != 1 || back.Outcome != "" ||
		back.Sync.State != reservation.SyncSynced || (back.Version != 3 && back.Version != 2) {
		t.Errorf("scheduled again at %v (version %d, %d dial attempts, outcome %q, sync %s), Genesys holds %v",
			back.Slot.Start, back.Version, back.DialAttempts, back.Outcome, back.Sync.State, cb.ScheduledTime)
	}
	// The attempt's own report (in progress) may be missed when the
	// simulator drops a slow socket: the read of the conversation as it is
	// now still counts its call. Nothing after the move takes it back.
	evs := b.events(moved.ID)
	if evs[len(evs)-1] != "reservation.rescheduled/genesys" ||
		(len(evs) > 3 && evs[len(evs)-2] != "reservation.in_progress/genesys") {
		t.Errorf("events = %v", evs)
	}
	b.playTo(back, 10*time.Minute)
	got = b.waitFor(moved.ID, "ended", final)
	if got.Status != reservation.StatusCompleted || got.Outcome != reservation.OutcomeReached || got.DialAttempts != 2 {
		t.Errorf("second attempt: %s / %s, %d dial attempts; want completed / reached, 2", got.Status, got.Outcome, got.DialAttempts)
	}

	// Exactly one SMS in all: the callback nobody answered. (The voicemail
	// is not_reached too, and asked for an SMS: it gets its own.)
	waitUntil(t, 20*time.Second, "the voicemail's SMS", func() bool { return b.smsTo(number(3)) > 0 })
	for i, want := range []int{1: 0, 2: 1, 3: 1, 4: 0, 5: 0, 6: 0} {
		if i > 0 && b.smsTo(number(i)) != want {
			t.Errorf("%d SMS to %s, want %d", b.smsTo(number(i)), number(i), want)
		}
	}
}

// TestOutcomeWaitsForWrapup: a call nobody answered whose agent never
// wraps up stays in progress until outcome_wait after the call ended,
// then is missed. The sync reads the conversation again by itself (its
// outcome job; here the Genesys-side clock maps to no real delay, so the
// job checks again each second until the simulator's clock has moved
// past the wait).
func TestOutcomeWaitsForWrapup(t *testing.T) {
	t.Parallel()
	b := setupWith(t, storage.SQLite, true, func(_ *gcsim.Options, c *syncer.Config) {
		c.OutcomeWait = 2 * time.Minute
		c.Until = func(time.Time) time.Duration { return 0 }
	})
	r := b.reserve("no-wrapup", time.Hour, reservation.ChannelPreferences{Primary: "voice", Fallback: "sms", AllowSMS: true})
	waitListener(t, b)
	conv := b.playNext(r.ID, gcsim.Play{Customer: gcsim.CustomerNoAnswer, NoWrapup: true})
	b.playTo(r, time.Minute) // offered, accepted, dialled, not answered: ended at +24 s
	waitUntil(t, 20*time.Second, "the callback ends in the simulator", func() bool { return !b.callback(conv).Ended.IsZero() })
	if err := b.runner.Reconcile(b.ctx); err != nil {
		t.Fatal(err)
	}
	if got, _ := b.store.FindReservationByID(b.ctx, r.ID); got.Status != reservation.StatusInProgress {
		t.Fatalf("before the wait is over: %s, want in_progress (waiting for the wrap-up)", got.Status)
	}
	b.playTo(r, 3*time.Minute) // past +24 s + 2 min
	got := b.waitFor(r.ID, "missed", final)
	if got.Status != reservation.StatusMissed || got.Outcome != reservation.OutcomeNotReached || got.WrapupCode != "" {
		t.Errorf("after the wait: %s / %s, wrap-up %q; want missed / not_reached, none", got.Status, got.Outcome, got.WrapupCode)
	}
	waitUntil(t, 20*time.Second, "the SMS", func() bool { return b.smsTo("+14155550199") == 1 })
}
