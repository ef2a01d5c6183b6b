package syncer_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/slotline/slotline/internal/booking"
	"github.com/slotline/slotline/internal/genesys/gcsim"
	"github.com/slotline/slotline/internal/reservation"
	"github.com/slotline/slotline/internal/storage"
	"github.com/slotline/slotline/internal/syncer"
)

// cancel cancels reservation id through the booking service.
func (b *bundle) cancel(id string) {
	b.t.Helper()
	if _, err := b.book.Cancel(b.ctx, booking.Caller{ClientID: "website"}, id, nil); err != nil {
		b.t.Fatal(err)
	}
}

// move reschedules reservation id to start.
func (b *bundle) move(id string, start time.Time) {
	b.t.Helper()
	if _, err := b.book.Update(b.ctx, booking.Caller{ClientID: "website"}, id, nil, &reservation.UpdateRequest{
		Candidates: []reservation.Slot{{Start: start, End: start.Add(15 * time.Minute)}}}); err != nil {
		b.t.Fatal(err)
	}
}

// reconcile runs a reconciliation pass once any pass already running (the
// one at start, which yields to syncs under load) is over: Reconcile does
// nothing while another runs.
func (b *bundle) reconcile() error {
	b.t.Helper()
	waitUntil(b.t, 20*time.Second, "the running reconciliation ends", func() bool { return !syncer.Reconciling(b.runner) })
	return b.runner.Reconcile(b.ctx)
}

func syncFailed(r *reservation.Reservation) bool { return r.Sync.State == reservation.SyncFailed }

// TestCancelThatNeverLands: Genesys accepts the bulk disconnect (202) and
// the fallback disconnect of the conversation, and applies neither. The
// sync reads the callback back, falls back, reads again, and records the
// sync as failed with the reason; reconciliation tries it again, and this
// time the disconnect lands.
func TestCancelThatNeverLands(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, backend string) {
		b := setup(t, backend, false)
		r := b.reserve("never-lands", 2*time.Hour, voice())
		b.waitFor(r.ID, "synced", synced)
		b.sim.DropDisconnects(2)
		b.cancel(r.ID)
		got := b.waitFor(r.ID, "sync failed", syncFailed)
		if got.Status != reservation.StatusCanceled || !strings.Contains(got.Sync.LastError, "the cancel did not land") ||
			!strings.Contains(got.Sync.LastError, "still none") { // the callback view's state for a waiting callback
			t.Errorf("after the cancel: %s, sync %+v; want canceled, failed with the reason", got.Status, got.Sync)
		}
		if cbs := b.callbacksFor(r.ID); len(cbs) != 1 || cbs[0].State != "scheduled" {
			t.Fatalf("the simulator holds %+v, want the callback still scheduled", cbs)
		}
		st := b.sim.Stats()
		if n := st.Count("POST /api/v2/conversations/callbacks/bulk/disconnect", 202); n != 1 {
			t.Errorf("%d bulk disconnects, want 1", n)
		}
		if n := st.Count("PATCH /api/v2/conversations/callbacks/{conversationId}", 200); n != 1 {
			t.Errorf("%d conversation disconnects, want the one fallback", n)
		}
		if n := st.Count("GET /api/v2/conversations/callbacks/{conversationId}", 200); n < 2 {
			t.Errorf("%d reads of the conversation, want it read back after each disconnect", n)
		}
		if n := b.obs.count("cancel/unverified"); n != 1 {
			t.Errorf("cancel/unverified observed %d times, want 1", n)
		}

		// Reconciliation retries it (the simulator applies disconnects
		// again).
		if err := b.reconcile(); err != nil {
			t.Fatal(err)
		}
		got = b.waitFor(r.ID, "canceled in Genesys on the retry", synced)
		// The outcome is observed just after the sync is recorded.
		waitUntil(t, 20*time.Second, "cancel/ok observed", func() bool { return b.obs.count("cancel/ok") >= 1 })
		if cbs := b.callbacksFor(r.ID); len(cbs) != 1 || cbs[0].State != "disconnected" {
			t.Errorf("after the retry the simulator holds %+v", cbs)
		}
		if got.Sync.Attempts < 1 || b.obs.repairCount("retry") != 1 || b.obs.count("cancel/ok") != 1 {
			t.Errorf("attempts %d, retries %d, cancel/ok %d; want the one retry counted", got.Sync.Attempts,
				b.obs.repairCount("retry"), b.obs.count("cancel/ok"))
		}
		want := []string{"reservation.created/api", "reservation.synced/genesys", "reservation.canceled/api",
			"reservation.sync_failed/genesys", "reservation.synced/genesys"}
		if got := b.events(r.ID); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("events = %v\nwant %v", got, want)
		}
	})
}

// TestCancelFallsBackToConversationDisconnect: the bulk disconnect is
// accepted and never applied; the disconnect of the conversation lands.
func TestCancelFallsBackToConversationDisconnect(t *testing.T) {
	t.Parallel()
	b := setup(t, storage.SQLite, false)
	r := b.reserve("fallback", 2*time.Hour, voice())
	b.waitFor(r.ID, "synced", synced)
	b.sim.DropDisconnects(1)
	b.cancel(r.ID)
	b.waitFor(r.ID, "canceled in Genesys", synced)
	if cbs := b.callbacksFor(r.ID); len(cbs) != 1 || cbs[0].State != "disconnected" {
		t.Errorf("the simulator holds %+v", cbs)
	}
	// The outcome is observed just after the sync is recorded.
	waitUntil(t, 20*time.Second, "cancel/fallback observed", func() bool { return b.obs.count("cancel/fallback") >= 1 })
	if n := b.obs.count("cancel/fallback"); n != 1 {
		t.Errorf("cancel/fallback observed %d times, want 1", n)
	}
}

// TestCancelLandingLate: the bulk disconnect lands only after the sync
// has given up reading it back (the simulator would apply it an hour
// later: here the test disconnects it, as Genesys would), and the fallback
// disconnect is refused. The retry reads first, finds it disconnected, and
// sends nothing more.
func TestCancelLandingLate(t *testing.T) {
	t.Parallel()
	b := setupWith(t, storage.SQLite, false, func(o *gcsim.Options, c *syncer.Config) {
		o.DisconnectDelay = time.Hour
		c.CancelVerifyWindow = 200 * time.Millisecond
	})
	r := b.reserve("late", 2*time.Hour, voice())
	b.waitFor(r.ID, "synced", synced)
	b.sim.FailNext(gcsim.Fault{Method: "PATCH", PathPrefix: "/api/v2/conversations/callbacks/", Status: 403})
	b.cancel(r.ID)
	got := b.waitFor(r.ID, "sync failed", syncFailed)
	if !strings.Contains(got.Sync.LastError, "the disconnect of its conversation failed") || !strings.Contains(got.Sync.LastError, "403") {
		t.Errorf("reason = %q, want the refused fallback", got.Sync.LastError)
	}
	if err := b.sim.Disconnect(b.callbacksFor(r.ID)[0].ConversationID); err != nil { // the late landing
		t.Fatal(err)
	}
	disconnects := b.sim.Stats().Count("POST /api/v2/conversations/callbacks/bulk/disconnect", 0)
	if err := b.reconcile(); err != nil {
		t.Fatal(err)
	}
	b.waitFor(r.ID, "synced after the retry read it", synced)
	if n := b.sim.Stats().Count("POST /api/v2/conversations/callbacks/bulk/disconnect", 0); n != disconnects {
		t.Errorf("%d bulk disconnects after the retry, want none more than %d", n, disconnects)
	}
}

// TestRescheduleAgentRequired: Genesys requires agentId on a reschedule.
// An agent-owned callback is rescheduled with its owner as agentId; one
// with no owner is refused, recorded as a failed sync that says Genesys
// keeps the old time, and tried again by reconciliation, which succeeds
// once the callback has an owner.
func TestRescheduleAgentRequired(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, backend string) {
		b := setupWith(t, backend, false, func(o *gcsim.Options, _ *syncer.Config) { o.RequireAgentID = true })
		agents := b.sim.AgentIDs()
		owned := b.reserve("owned", 2*time.Hour, voice())
		queued := b.reserve("queued", 3*time.Hour, voice())
		for _, r := range []*reservation.Reservation{owned, queued} {
			b.waitFor(r.ID, "synced", synced)
		}
		if err := b.sim.SetOwner(b.callbacksFor(owned.ID)[0].ConversationID, agents[1]); err != nil {
			t.Fatal(err)
		}

		later := owned.Slot.Start.Add(time.Hour)
		b.move(owned.ID, later)
		b.waitFor(owned.ID, "rescheduled in Genesys", func(r *reservation.Reservation) bool { return synced(r) && r.Sync.ScheduledAt.Equal(later) })
		cb := b.callbacksFor(owned.ID)[0]
		if !cb.ScheduledTime.Equal(later) || fmt.Sprint(cb.PatchAgentIDs) != fmt.Sprint([]string{agents[1]}) {
			t.Errorf("owned callback = %+v; want it at %v, patched once with agentId %s", cb, later, agents[1])
		}

		queuedLater := queued.Slot.Start.Add(time.Hour)
		b.move(queued.ID, queuedLater)
		got := b.waitFor(queued.ID, "sync failed", syncFailed)
		if got.Status != reservation.StatusScheduled || !got.Slot.Start.Equal(queuedLater) || !got.Sync.ScheduledAt.Equal(queued.Slot.Start) ||
			!strings.Contains(got.Sync.LastError, "requires an agentId") || !strings.Contains(got.Sync.LastError, "no owning agent") {
			t.Errorf("refused reschedule: %s at %v, sync %+v; want scheduled at the new slot, Genesys still at %v, with the reason",
				got.Status, got.Slot.Start, got.Sync, queued.Slot.Start)
		}
		if cb := b.callbacksFor(queued.ID)[0]; !cb.ScheduledTime.Equal(queued.Slot.Start) {
			t.Errorf("the refused callback moved in the simulator: %+v", cb)
		}
		if n := b.obs.count("reschedule/agent_required"); n != 1 {
			t.Errorf("reschedule/agent_required observed %d times, want 1", n)
		}

		// An agent takes the callback; reconciliation tries again.
		if err := b.sim.SetOwner(b.callbacksFor(queued.ID)[0].ConversationID, agents[2]); err != nil {
			t.Fatal(err)
		}
		if err := b.reconcile(); err != nil {
			t.Fatal(err)
		}
		b.waitFor(queued.ID, "rescheduled on the retry", func(r *reservation.Reservation) bool {
			return synced(r) && r.Sync.ScheduledAt.Equal(queuedLater)
		})
		if cb := b.callbacksFor(queued.ID)[0]; !cb.ScheduledTime.Equal(queuedLater) || !slices.Contains(cb.PatchAgentIDs, agents[2]) {
			t.Errorf("retried callback = %+v", cb)
		}
	})
}

// TestFailedSyncRetriedWithBackoff: a reschedule Genesys keeps refusing
// (agentId required, no owner) is tried again by reconciliation, once per
// attempt however many passes find it failed while its retry waits (1 s
// here), and records its reservation.sync_failed once.
func TestFailedSyncRetriedWithBackoff(t *testing.T) {
	t.Parallel()
	b := setupWith(t, storage.SQLite, false, func(o *gcsim.Options, c *syncer.Config) {
		o.RequireAgentID = true
		c.FailedRetryBase, c.FailedRetryMax = time.Second, time.Second
	})
	r := b.reserve("refused-again", 2*time.Hour, voice())
	b.waitFor(r.ID, "synced", synced)
	b.move(r.ID, r.Slot.Start.Add(time.Hour))
	b.waitFor(r.ID, "sync failed", syncFailed)
	patches := func() int { return b.sim.Stats().Count("PATCH /api/v2/conversations/callbacks", 400) }
	// The simulator counts a request after its answer is written: wait
	// for the count of the sync's own refused PATCH.
	waitUntil(t, 20*time.Second, "the first reschedule counted", func() bool { return patches() == 1 })
	before := patches()
	for attempt := 1; attempt <= 2; attempt++ {
		// Two passes while the retry of this attempt waits: one job.
		for range 2 {
			if err := b.reconcile(); err != nil {
				t.Fatal(err)
			}
		}
		waitUntil(t, 20*time.Second, fmt.Sprintf("the retry of attempt %d refused", attempt), func() bool { return patches() == before+attempt })
		got, err := b.store.FindReservationByID(b.ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !syncFailed(got) || got.Sync.Attempts != attempt {
			t.Fatalf("after retry %d: sync %+v; want still failed, %d attempts", attempt, got.Sync, attempt)
		}
	}
	if n := b.obs.repairCount("retry"); n != 2 {
		t.Errorf("%d retries, want 2 (one per attempt)", n)
	}
	var failures int
	for _, ev := range b.events(r.ID) {
		if ev == "reservation.sync_failed/genesys" {
			failures++
		}
	}
	if failures != 1 {
		t.Errorf("events %v: want one reservation.sync_failed however often the retry is refused", b.events(r.ID))
	}
}

// TestLostCreateWaitsForTheWindow: a create refused with a 503 (nothing
// created, but the sync cannot know) is searched for again and again while
// the lost-create window runs on the simulator's clock, and created only
// once it has passed: one callback.
func TestLostCreateWaitsForTheWindow(t *testing.T) {
	t.Parallel()
	b := setupWith(t, storage.SQLite, false, func(_ *gcsim.Options, c *syncer.Config) { c.LookupWindow = 200 * time.Millisecond })
	b.sim.FailNext(gcsim.Fault{Method: "POST", PathPrefix: "/api/v2/conversations/callbacks", Status: 503})
	r := b.reserve("unknown", 2*time.Hour, voice())
	waitUntil(t, 20*time.Second, "three searches", func() bool { return b.queries() >= 3 })
	if n := len(b.sim.Callbacks()); n != 0 {
		t.Fatalf("%d callbacks while the window runs, want none (no second create yet)", n)
	}
	if got, _ := b.store.FindReservationByID(b.ctx, r.ID); got.Sync.State != reservation.SyncPending || got.Sync.Attempts != 1 {
		t.Errorf("while searching: sync %+v, want pending after one create", got.Sync)
	}
	b.sim.Clock().Advance(syncer.DefaultLostCreateWindow) // more than the 20 s of setup
	b.waitFor(r.ID, "synced", synced)
	if cbs := b.callbacksFor(r.ID); len(cbs) != 1 {
		t.Errorf("%d callbacks, want 1", len(cbs))
	}
}

// TestLostCreateFoundByTelNumber: analytics holds the numbers as
// "tel:+1…"; the search, which asks for both forms, finds the callback.
func TestLostCreateFoundByTelNumber(t *testing.T) {
	t.Parallel()
	b := setupWith(t, storage.SQLite, false, func(o *gcsim.Options, _ *syncer.Config) { o.AnalyticsTelNumbers = true })
	b.sim.FailNext(gcsim.Fault{Method: "POST", PathPrefix: "/api/v2/conversations/callbacks", LoseResponse: true})
	r := b.reserve("tel", 2*time.Hour, voice())
	b.waitIndexed(r.ID, 1)
	got := b.waitFor(r.ID, "synced", synced)
	if cbs := b.callbacksFor(r.ID); len(cbs) != 1 || cbs[0].ConversationID != got.Sync.ConversationID {
		t.Errorf("the simulator holds %+v, synced to %s", cbs, got.Sync.ConversationID)
	}
}

// TestNoDuplicatesUnderLostAnswers: 60 reservations while 10% of create
// answers are lost (each create committed) and analytics shows a callback
// 5 s after its creation; the simulator's clock runs at real speed, so
// the first searches for a lost create miss it. Every reservation ends
// with exactly one callback.
func TestNoDuplicatesUnderLostAnswers(t *testing.T) {
	t.Parallel()
	b := setup(t, storage.SQLite, false)
	b.sim.Clock().SetSpeed(1)
	b.sim.SetLostResponseRate("POST", "/api/v2/conversations/callbacks", 0.1)
	const n = 60
	var ids []string
	for i := range n {
		ids = append(ids, b.reserveNumber(fmt.Sprintf("burst-%d", i), 2*time.Hour+time.Duration(i)*15*time.Minute, voice(),
			fmt.Sprintf("+141555502%02d", i)).ID)
	}
	for _, id := range ids {
		got := b.waitFor(id, "synced", synced)
		if cbs := b.callbacksFor(id); len(cbs) != 1 || cbs[0].ConversationID != got.Sync.ConversationID {
			t.Errorf("%s: %d callbacks (synced to %s), want exactly 1", id, len(cbs), got.Sync.ConversationID)
		}
	}
	if st := b.sim.Stats(); st.LostResponses == 0 {
		t.Errorf("no answer was lost: %+v", st)
	}
	t.Logf("%d answers lost, %d adopted, %d searches that missed", b.sim.Stats().LostResponses, b.obs.count("adopt/ok"), b.obs.count("adopt/searching"))
}

// TestSMSIntoActiveConversation: the customer replied to an earlier SMS,
// so they have an active SMS conversation with the queue's number; the
// missed-callback SMS goes into it.
func TestSMSIntoActiveConversation(t *testing.T) {
	t.Parallel()
	b := setup(t, storage.SQLite, true)
	waitListener(t, b)
	active := b.sim.OpenSMSConversation("+18005550100", "+14155550199")
	r := b.reserve("replied", time.Hour, reservation.ChannelPreferences{Primary: "voice", Fallback: "sms", AllowSMS: true})
	b.playNext(r.ID, gcsim.Play{Customer: gcsim.CustomerNoAnswer}) // not reached (an answer rate below 0 may draw a voicemail)
	b.sim.Clock().Advance(r.Slot.Start.Sub(b.sim.Clock().Now()) + time.Minute)
	b.waitForEvent(r.ID, "reservation.notified/genesys")
	if sms := b.sim.SMS(); len(sms) != 1 || sms[0].ConversationID != active || !sms[0].ExistingConversation {
		t.Errorf("SMS = %+v, want one, in the active conversation %s", sms, active)
	}
}

// TestSMSRefusals: a 10DLC block and a number not provisioned are
// permanent refusals (reservation.sms_refused, one send, not retried);
// 503s on every attempt are transient failures (retried, then
// reservation.sms_failed). Metrics tell them apart.
func TestSMSRefusals(t *testing.T) {
	t.Parallel()
	sms := reservation.ChannelPreferences{Primary: "voice", Fallback: "sms", AllowSMS: true}
	const agentless = "POST /api/v2/conversations/messages/agentless"
	missed := func(b *bundle, id string, in time.Duration) *reservation.Reservation {
		t.Helper()
		r := b.reserve(id, in, sms)
		b.playNext(r.ID, gcsim.Play{Customer: gcsim.CustomerNoAnswer}) // not reached
		b.sim.Clock().Advance(r.Slot.Start.Sub(b.sim.Clock().Now()) + time.Minute)
		b.waitFor(r.ID, "missed", func(r *reservation.Reservation) bool { return r.Status == reservation.StatusMissed })
		return r
	}

	t.Run("10DLC", func(t *testing.T) {
		t.Parallel()
		b := setup(t, storage.SQLite, true)
		waitListener(t, b)
		b.sim.RefuseSMS("+18005550100", gcsim.SMSRefusal10DLC)
		r := missed(b, "10dlc", time.Hour)
		b.waitForEvent(r.ID, "reservation.sms_refused/genesys")
		if n := b.sim.Stats().Count(agentless, 0); n != 1 {
			t.Errorf("%d sends, want 1 (a permanent refusal is not retried)", n)
		}
		if b.obs.smsCount("permanent/10dlc") != 1 || b.obs.count("sms/refused") != 1 {
			t.Errorf("metrics: sms %v, outcomes sms/refused %d", b.obs.sms, b.obs.count("sms/refused"))
		}
	})

	t.Run("not provisioned", func(t *testing.T) {
		t.Parallel()
		b := setup(t, storage.SQLite, true)
		b.queue.SMSFrom = "+18005550111" // not an SMS number of the simulator's org
		waitListener(t, b)
		r := missed(b, "unprovisioned", time.Hour)
		b.waitForEvent(r.ID, "reservation.sms_refused/genesys")
		if b.obs.smsCount("permanent/from_address") != 1 {
			t.Errorf("metrics: sms %v", b.obs.sms)
		}
	})

	t.Run("transient", func(t *testing.T) {
		t.Parallel()
		b := setupWith(t, storage.SQLite, true, func(_ *gcsim.Options, c *syncer.Config) { c.SMSAttempts = 2 })
		waitListener(t, b)
		b.sim.FailNext(gcsim.Fault{PathPrefix: "/api/v2/conversations/messages/agentless", Status: 503, Count: 1000})
		r := missed(b, "transient", time.Hour)
		b.waitForEvent(r.ID, "reservation.sms_failed/genesys")
		if n := b.sim.Stats().Count(agentless, 503); n < 2 {
			t.Errorf("%d sends, want the job's two attempts (each retried by the client)", n)
		}
		if b.obs.smsCount("transient/server") != 2 || b.obs.count("sms/retry") != 1 || b.obs.count("sms/failed") != 1 {
			t.Errorf("metrics: sms %v, outcomes sms/retry %d sms/failed %d", b.obs.sms, b.obs.count("sms/retry"), b.obs.count("sms/failed"))
		}
		if slices.Contains(b.events(r.ID), "reservation.sms_refused/genesys") {
			t.Errorf("a transient failure recorded as a refusal: %v", b.events(r.ID))
		}
	})
}
