package syncer_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/slotline/slotline/internal/booking"
	"github.com/slotline/slotline/internal/genesys"
	"github.com/slotline/slotline/internal/genesys/gcsim"
	"github.com/slotline/slotline/internal/jobs"
	"github.com/slotline/slotline/internal/reservation"
	"github.com/slotline/slotline/internal/schedule"
	"github.com/slotline/slotline/internal/storage"
	"github.com/slotline/slotline/internal/storage/storagetest"
	"github.com/slotline/slotline/internal/syncer"
)

const simQueue = gcsim.DefaultQueueID

type bundle struct {
	t      *testing.T
	store  *storage.Store
	sim    *gcsim.Sim
	gc     *genesys.Client
	runner *syncer.Runner
	book   *booking.Service
	queue  *booking.Queue
	ctx    context.Context
	obs    *observer
	dials  atomic.Int64 // notification sockets the listener has opened
}

// observer records the sync's metrics.
type observer struct {
	mu       sync.Mutex
	outcomes map[string]int // "op/outcome"
	repairs  map[string]int
	sms      map[string]int // "kind/reason"
}

func newObserver() *observer {
	return &observer{outcomes: map[string]int{}, repairs: map[string]int{}, sms: map[string]int{}}
}

func (o *observer) SyncOutcome(op, outcome string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.outcomes[op+"/"+outcome]++
}

func (o *observer) SyncLag(time.Duration)    {}
func (o *observer) NotificationEvent(string) {}
func (o *observer) ListenerConnected(bool)   {}

func (o *observer) ReconcileRepair(kind string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.repairs[kind]++
}

func (o *observer) SMSRefused(kind, reason string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.sms[kind+"/"+reason]++
}

// count returns how often op/outcome was observed.
func (o *observer) count(key string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.outcomes[key]
}

func (o *observer) smsCount(key string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.sms[key]
}

func (o *observer) repairCount(kind string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.repairs[kind]
}

// setup starts a simulator (clock stopped: tests move it), a store on the
// backend, a Genesys client and the sync with its workers; listen also
// starts the notification listener.
func setup(t *testing.T, backend string, listen bool) *bundle {
	t.Helper()
	return setupWith(t, backend, listen, nil)
}

// setupWith is setup with edit applied to the simulator's options and the
// sync's config first (the config's one queue is the
// bundle's booking queue: edit may set its NotReachedWrapups). The simulator applies a bulk disconnect 50 ms after
// its 202 and shows a new callback in analytics 5 s (of its clock) after
// its creation; the sync searches for a lost create for 20 s of that
// clock, reads a cancel back for at most 2 s, and tries a failed sync
// again as soon as reconciliation asks for it (a retry scheduled later
// waits for River's scheduler, which looks every few seconds; retryDelay
// has its own test).
func setupWith(t *testing.T, backend string, listen bool, edit func(*gcsim.Options, *syncer.Config)) *bundle {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var dsn string
	if backend == storage.Postgres {
		dsn = storagetest.PostgresDSN(t)
	} else {
		dsn = "sqlite:" + filepath.Join(t.TempDir(), "s.db")
	}
	store, err := storage.Open(ctx, dsn, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	clock := gcsim.NewClock(time.Now(), 0)
	simOpts := gcsim.Options{
		Clock: clock, Seed: 7, AnswerRate: 1, RingTime: 20 * time.Second, TalkTime: time.Minute,
		HeartbeatEvery: time.Second, DisconnectDelay: 50 * time.Millisecond,
		Queues: []gcsim.Queue{{ID: simQueue, Name: "Support", SMSAddress: "+18005550100"}},
	}
	loc, _ := time.LoadLocation("America/New_York")
	q := &booking.Queue{ID: "support", Name: "Support", GenesysQueueID: simQueue, TimeZone: loc.String(),
		Calendar: &schedule.Calendar{Location: loc, SlotMinutes: 15, Capacity: 2, AlwaysOpen: true, Horizon: 30 * 24 * time.Hour},
		SMSFrom:  "+18005550100"}
	obs := newObserver()
	syncCfg := syncer.Config{
		Queues: []*booking.Queue{q}, Now: clock.Now, Observer: obs,
		RetryBase: 20 * time.Millisecond, ReconcileEvery: time.Hour,
		CancelVerifyWindow: 2 * time.Second, FailedRetryBase: time.Nanosecond, FailedRetryMax: time.Nanosecond,
		LostCreateWindow: 20 * time.Second,
	}
	if edit != nil {
		edit(&simOpts, &syncCfg)
	}
	sim := gcsim.New(simOpts)
	url, err := sim.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gc, err := genesys.New(genesys.Config{
		APIURL: url, LoginURL: url, ClientID: gcsim.DefaultClientID, ClientSecret: gcsim.DefaultClientSecret,
		RateLimit: 1000, Burst: 100, BackoffBase: 20 * time.Millisecond, CallTimeout: 2 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	js := jobs.New(store.JobDriver(), jobs.Config{FetchCooldown: time.Millisecond, RetryBase: 20 * time.Millisecond,
		JobTimeout: 20 * time.Second})
	syncCfg.Store, syncCfg.Jobs, syncCfg.Genesys = store, js, gc
	runner := syncer.New(syncCfg)
	store.OnEvents(runner.OnEvents)
	if err := js.Open(ctx); err != nil {
		t.Fatal(err)
	}
	book := booking.New(store, []*booking.Queue{q}, booking.Options{})
	if err := js.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := runner.Resume(ctx); err != nil {
		t.Fatal(err)
	}
	b := &bundle{t: t, store: store, sim: sim, gc: gc, runner: runner, book: book, queue: q, ctx: ctx, obs: obs}
	var wg sync.WaitGroup
	if listen {
		l := runner.NewListener(syncer.ListenerOptions{LeaseTTL: 2 * time.Second, Silence: 3 * time.Second, PongWait: time.Second,
			Dial: func(ctx context.Context, uri string) (syncer.NotificationConn, error) {
				c, err := genesys.DialNotifications(ctx, uri)
				if err == nil {
					b.dials.Add(1) // the simulator has registered the socket
				}
				return c, err
			}})
		wg.Go(func() { _ = l.Run(ctx) })
	}
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer scancel()
		_ = js.Stop(sctx)
		sim.Close()
		store.Close()
	})
	return b
}

// waitUntil polls cond every 20 ms until it holds, and fails the test if
// it does not within timeout.
func waitUntil(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, timeout)
		}
		time.Sleep(20 * time.Millisecond) // poll interval
	}
}

func backends(t *testing.T, fn func(t *testing.T, backend string)) {
	for _, b := range []string{storage.SQLite, storage.Postgres} {
		t.Run(b, func(t *testing.T) {
			t.Parallel()
			fn(t, b)
		})
	}
}

func (b *bundle) reserve(id string, in time.Duration, prefs reservation.ChannelPreferences) *reservation.Reservation {
	b.t.Helper()
	return b.reserveNumber(id, in, prefs, "+14155550199")
}

func (b *bundle) reserveNumber(id string, in time.Duration, prefs reservation.ChannelPreferences, number string) *reservation.Reservation {
	b.t.Helper()
	start := time.Now().Add(in).Truncate(15 * time.Minute).Add(15 * time.Minute)
	res, err := b.book.Create(b.ctx, booking.Caller{ClientID: "website", RequestID: "r-" + id}, &reservation.CreateRequest{
		CallbackID: id, CallbackNumber: number, QueueID: "support", Reason: "billing",
		Channel: prefs, Candidates: []reservation.Slot{{Start: start, End: start.Add(15 * time.Minute)}},
	})
	if err != nil {
		b.t.Fatalf("create %s: %v", id, err)
	}
	return res.Reservation
}

// waitCommitted checks cond again at every commit of events in the store
// (every change of a reservation writes one), and every 200 ms for the
// writes that do not, until it holds or timeout passes.
func (b *bundle) waitCommitted(timeout time.Duration, cond func() bool) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		committed := b.store.EventsCommitted() // before the check: no commit is missed
		if cond() {
			return true
		}
		select {
		case <-committed:
		case <-tick.C:
		case <-deadline.C:
			return false
		}
	}
}

// waitFor waits until the reservation satisfies cond.
func (b *bundle) waitFor(id, what string, cond func(r *reservation.Reservation) bool) *reservation.Reservation {
	b.t.Helper()
	var r *reservation.Reservation
	if !b.waitCommitted(20*time.Second, func() bool {
		var err error
		r, err = b.store.FindReservationByID(b.ctx, id)
		if err != nil {
			b.t.Fatal(err)
		}
		return cond(r)
	}) {
		b.t.Fatalf("reservation %s never became %s: status %s, sync %+v", id, what, r.Status, r.Sync)
	}
	return r
}

func synced(r *reservation.Reservation) bool { return r.Sync.State == reservation.SyncSynced }

func (b *bundle) callbacksFor(id string) []gcsim.CallbackInfo {
	var out []gcsim.CallbackInfo
	for _, c := range b.sim.Callbacks() {
		if c.Data[syncer.DataKey] == id {
			out = append(out, c)
		}
	}
	return out
}

func (b *bundle) events(id string) []string {
	b.t.Helper()
	evs, err := b.store.FindEvents(b.ctx, 0, 10000)
	if err != nil {
		b.t.Fatal(err)
	}
	var out []string
	for _, ev := range evs {
		if ev.ReservationID == id {
			out = append(out, ev.Type+"/"+ev.Origin)
		}
	}
	return out
}

func voice() reservation.ChannelPreferences { return reservation.ChannelPreferences{Primary: "voice"} }

func TestCreateRescheduleCancel(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, backend string) {
		b := setup(t, backend, false)
		r := b.reserve("c1", 2*time.Hour, voice())
		got := b.waitFor(r.ID, "synced", synced)
		cbs := b.callbacksFor(r.ID)
		if len(cbs) != 1 || cbs[0].ConversationID != got.Sync.ConversationID || !cbs[0].ScheduledTime.Equal(r.Slot.Start) ||
			cbs[0].QueueID != simQueue || cbs[0].CallbackNumbers[0] != "+14155550199" {
			t.Fatalf("simulator callbacks = %+v, reservation sync %+v", cbs, got.Sync)
		}
		if len(got.Sync.CallbackIDs) == 0 || got.Version != 1 {
			t.Errorf("synced reservation = %+v (version %d)", got.Sync, got.Version)
		}
		// Reschedule: the callback moves in Genesys.
		later := r.Slot.Start.Add(time.Hour)
		if _, err := b.book.Update(b.ctx, booking.Caller{ClientID: "website"}, r.ID, nil, &reservation.UpdateRequest{
			Candidates: []reservation.Slot{{Start: later, End: later.Add(15 * time.Minute)}}}); err != nil {
			t.Fatal(err)
		}
		b.waitFor(r.ID, "rescheduled in Genesys", func(r *reservation.Reservation) bool { return synced(r) && r.Sync.ScheduledAt.Equal(later) })
		if cbs := b.callbacksFor(r.ID); len(cbs) != 1 || !cbs[0].ScheduledTime.Equal(later) {
			t.Errorf("after reschedule the simulator holds %+v", cbs)
		}
		// Cancel: the callback is disconnected.
		if _, err := b.book.Cancel(b.ctx, booking.Caller{ClientID: "website"}, r.ID, nil); err != nil {
			t.Fatal(err)
		}
		b.waitFor(r.ID, "canceled in Genesys", synced)
		if cbs := b.callbacksFor(r.ID); len(cbs) != 1 || cbs[0].State != "disconnected" {
			t.Errorf("after cancel the simulator holds %+v", cbs)
		}
		want := []string{"reservation.created/api", "reservation.synced/genesys", "reservation.rescheduled/api",
			"reservation.synced/genesys", "reservation.canceled/api", "reservation.synced/genesys"}
		if got := b.events(r.ID); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("events = %v\nwant %v", got, want)
		}
	})
}

// TestLostResponseNeverDuplicates: the simulator commits a create and the
// answer is lost; analytics shows the callback only 5 s (of the
// simulator's clock) later, and until then every search misses it. The
// searches go on, the index catches up, and the callback is adopted.
func TestLostResponseNeverDuplicates(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, backend string) {
		b := setup(t, backend, false)
		b.sim.FailNext(gcsim.Fault{Method: "POST", PathPrefix: "/api/v2/conversations/callbacks", LoseResponse: true, Count: 2})
		r := b.reserve("lost", 2*time.Hour, voice())
		b.waitIndexed(r.ID, 2)
		got := b.waitFor(r.ID, "synced", synced)
		cbs := b.callbacksFor(r.ID)
		if len(cbs) != 1 {
			t.Fatalf("%d callbacks in the simulator after a lost response, want exactly 1: %+v", len(cbs), cbs)
		}
		if cbs[0].ConversationID != got.Sync.ConversationID {
			t.Errorf("adopted %s, simulator has %s", got.Sync.ConversationID, cbs[0].ConversationID)
		}
		if st := b.sim.Stats(); st.LostResponses < 1 {
			t.Errorf("the fault did not fire: %+v", st)
		}
		if n := b.obs.count("adopt/searching"); n < 1 {
			t.Errorf("adopt/searching observed %d times, want the searches that missed the callback before the index caught up", n)
		}
	})
}

// queries returns the analytics queries the simulator has answered.
func (b *bundle) queries() int {
	return b.sim.Stats().Count("POST /api/v2/analytics/conversations/details/query", 0)
}

// waitIndexed waits until the simulator holds reservation id's callback
// (a lost create committed it) and the sync has searched for it at least
// searches times in all (each a miss: the index lags), then moves the
// simulator's clock past the analytics delay, so that the next search
// finds it.
func (b *bundle) waitIndexed(id string, searches int) {
	b.t.Helper()
	waitUntil(b.t, 20*time.Second, "the lost create committed and searched for", func() bool {
		return len(b.callbacksFor(id)) == 1 && b.queries() >= searches
	})
	if n := len(b.callbacksFor(id)); n != 1 {
		b.t.Fatalf("%d callbacks before the index caught up, want the one the lost create made", n)
	}
	b.sim.Clock().Advance(gcsim.DefaultAnalyticsDelay)
}

// TestAdoptReadsOnlyUnclaimedCallbacks: the customer has other callbacks
// in the queue; the lookup after a lost response finds them all, and reads
// only the one no reservation holds yet.
func TestAdoptReadsOnlyUnclaimedCallbacks(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, backend string) {
		b := setup(t, backend, false)
		for i := range 3 {
			r := b.reserve(fmt.Sprintf("earlier-%d", i), time.Duration(i+2)*time.Hour, voice())
			b.waitFor(r.ID, "synced", synced)
		}
		reads := func() int {
			n := 0
			for _, rc := range b.sim.Stats().Requests {
				if rc.Pattern == "GET /api/v2/conversations/callbacks/{conversationId}" {
					n += rc.Count
				}
			}
			return n
		}
		// The reconciliation at start reads every synced conversation:
		// let it finish before counting.
		waitUntil(t, 20*time.Second, "the reconciliation at start finishes", func() bool { return syncer.FullReconciled(b.runner) })
		before := reads()
		b.sim.FailNext(gcsim.Fault{Method: "POST", PathPrefix: "/api/v2/conversations/callbacks", LoseResponse: true})
		r := b.reserve("lost", 6*time.Hour, voice())
		b.waitIndexed(r.ID, b.queries()+1)
		got := b.waitFor(r.ID, "synced", synced)
		cbs := b.callbacksFor(r.ID)
		if len(cbs) != 1 || cbs[0].ConversationID != got.Sync.ConversationID {
			t.Fatalf("after a lost response the simulator holds %+v for %s (synced to %s), want exactly one", cbs, r.ID, got.Sync.ConversationID)
		}
		if n := reads() - before; n != 1 {
			t.Errorf("adopting read %d conversations, want 1: the callbacks of the other reservations need no read", n)
		}
	})
}

// TestLookupsShareOneQuery: several creates, to different numbers, are
// committed by the simulator and their answers lost; the searches for them
// share one analytics query, and each reservation adopts its own callback.
// Analytics indexes at once here, and the lookups wait 2 s for each other:
// the test is about the batching (the indexing delay is
// TestLostResponseNeverDuplicates').
func TestLookupsShareOneQuery(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, backend string) {
		b := setupWith(t, backend, false, func(o *gcsim.Options, c *syncer.Config) {
			o.AnalyticsDelay = -1
			c.LookupWindow = 2 * time.Second
		})
		const n = 6
		b.sim.FailNext(gcsim.Fault{Method: "POST", PathPrefix: "/api/v2/conversations/callbacks", LoseResponse: true, Count: n})
		var ids []string
		for i := range n {
			r := b.reserveNumber(fmt.Sprintf("unknown-%d", i), time.Duration(i+2)*time.Hour, voice(), fmt.Sprintf("+1415555010%d", i))
			ids = append(ids, r.ID)
		}
		for _, id := range ids {
			got := b.waitFor(id, "synced", synced)
			cbs := b.callbacksFor(id)
			if len(cbs) != 1 || cbs[0].ConversationID != got.Sync.ConversationID {
				t.Errorf("%s: synced to %s, simulator holds %+v; want its one callback adopted", id, got.Sync.ConversationID, cbs)
			}
		}
		if st := b.sim.Stats(); st.LostResponses != n {
			t.Errorf("%d responses lost, want %d", st.LostResponses, n)
		}
		queries := 0
		for _, rc := range b.sim.Stats().Requests {
			if rc.Pattern == "POST /api/v2/analytics/conversations/details/query" {
				queries += rc.Count
			}
		}
		// All six are lost within milliseconds, well inside the window; a
		// straggler on a slow machine may need a query of its own.
		if queries < 1 || queries > 2 {
			t.Errorf("%d analytics queries for %d unknown creates, want 1 (2 at most)", queries, n)
		}
	})
}

// TestRateLimitsAndOutages: 429s with Retry-After and 503s are waited out;
// every reservation is synced exactly once. A 503 on a create is an
// unknown outcome, searched for until the lost-create window has passed
// on the simulator's clock, which runs here at 120×.
func TestRateLimitsAndOutages(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, backend string) {
		b := setup(t, backend, false)
		b.sim.Clock().SetSpeed(120)
		b.sim.SetFailureRate(503, 0.3, 0)
		b.sim.FailNext(gcsim.Fault{Method: "POST", PathPrefix: "/api/v2/conversations/callbacks", Status: 429, RetryAfter: time.Second, Count: 3})
		var ids []string
		for i := range 12 {
			ids = append(ids, b.reserve(fmt.Sprintf("burst-%d", i), time.Duration(i+2)*time.Hour, voice()).ID)
		}
		for _, id := range ids {
			b.waitFor(id, "synced", synced)
			if n := len(b.callbacksFor(id)); n != 1 {
				t.Errorf("%s: %d callbacks, want 1", id, n)
			}
		}
		if b.sim.Stats().TooManyRequests < 3 {
			t.Errorf("the 429 fault did not fire")
		}
	})
}

func TestPermanentRefusalFailsTheReservation(t *testing.T) {
	t.Parallel()
	b := setup(t, storage.SQLite, false)
	b.queue.GenesysQueueID = "no-such-queue" // the simulator answers 400
	r := b.reserve("bad", 2*time.Hour, voice())
	got := b.waitFor(r.ID, "failed", func(r *reservation.Reservation) bool { return r.Sync.State == reservation.SyncFailed })
	if got.Status != reservation.StatusFailed || got.Sync.LastError == "" {
		t.Errorf("refused reservation = %+v", got)
	}
	slots, err := b.book.Availability(b.ctx, "support", r.Slot.Start, r.Slot.End, 0)
	if err != nil || slots[0].Used != 0 {
		t.Errorf("the failed reservation still holds its slot: %+v %v", slots, err)
	}
}

// TestLifecycleFromNotifications plays callbacks out on the simulator's
// clock and follows them through the listener (the conversations topic).
func TestLifecycleFromNotifications(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, backend string) {
		b := setup(t, backend, true)
		answered := b.reserve("answered", time.Hour, voice())
		b.waitFor(answered.ID, "synced", synced)
		waitListener(t, b)
		b.sim.Clock().Advance(answered.Slot.Start.Sub(b.sim.Clock().Now()) + time.Second)
		b.waitFor(answered.ID, "in progress", func(r *reservation.Reservation) bool { return r.Status == reservation.StatusInProgress })
		// The call ends after a minute; completed once the agent wraps up.
		b.sim.Clock().Advance(2 * time.Minute)
		done := b.waitFor(answered.ID, "completed", func(r *reservation.Reservation) bool { return r.Status == reservation.StatusCompleted })
		if done.Version != 3 || done.Outcome != reservation.OutcomeReached || done.WrapupCode != gcsim.WrapupReached.ID || done.DialAttempts != 1 {
			t.Errorf("completed = version %d, outcome %q, wrap-up %q, %d dial attempts; want 3 (created, in progress, completed), reached",
				done.Version, done.Outcome, done.WrapupCode, done.DialAttempts)
		}
		evs := b.events(answered.ID)
		if evs[len(evs)-2] != "reservation.in_progress/genesys" || evs[len(evs)-1] != "reservation.completed/genesys" {
			t.Errorf("events = %v", evs)
		}

		// Not answered, with the SMS fallback asked for: missed, one SMS.
		missed := b.reserve("missed", 2*time.Hour, reservation.ChannelPreferences{Primary: "voice", Fallback: "sms", AllowSMS: true})
		b.playNext(missed.ID, gcsim.Play{Customer: gcsim.CustomerNoAnswer})
		b.sim.Clock().Advance(missed.Slot.Start.Sub(b.sim.Clock().Now()) + time.Minute)
		got := b.waitFor(missed.ID, "missed", func(r *reservation.Reservation) bool { return r.Status == reservation.StatusMissed })
		if got.DisconnectType != "timeout" || got.Outcome != reservation.OutcomeNotReached {
			t.Errorf("missed reservation: disconnect type %q, outcome %q", got.DisconnectType, got.Outcome)
		}
		waitUntil(t, 20*time.Second, "an SMS is sent", func() bool { return len(b.sim.SMS()) > 0 })
		sms := b.sim.SMS()
		if len(sms) != 1 || sms[0].ToAddress != "+14155550199" || sms[0].FromAddress != "+18005550100" {
			t.Fatalf("SMS = %+v, want one to the customer from the queue's number", sms)
		}
		b.waitForEvent(missed.ID, "reservation.notified/genesys")
	})
}

// playNext waits until reservation id is synced and scripts how its
// callback plays.
func (b *bundle) playNext(id string, p gcsim.Play) string {
	b.t.Helper()
	r := b.waitFor(id, "synced", synced)
	if err := b.sim.SetPlay(r.Sync.ConversationID, p); err != nil {
		b.t.Fatal(err)
	}
	return r.Sync.ConversationID
}

func (b *bundle) waitForEvent(id, want string) {
	b.t.Helper()
	if !b.waitCommitted(20*time.Second, func() bool { return slices.Contains(b.events(id), want) }) {
		b.t.Fatalf("no %s event for %s: %v", want, id, b.events(id))
	}
}

// waitListener waits until the listener has a subscribed channel.
func waitListener(t *testing.T, b *bundle) {
	t.Helper()
	waitUntil(t, 20*time.Second, "the listener subscribes", func() bool { return len(b.sim.ConnectedChannels()) > 0 })
}

// TestChangesMadeInGenesys: a supervisor moves one callback (into a full
// bucket) and disconnects another.
func TestChangesMadeInGenesys(t *testing.T) {
	t.Parallel()
	b := setup(t, storage.SQLite, true)
	moved := b.reserve("moved", 2*time.Hour, voice())
	full1 := b.reserve("full1", 5*time.Hour, voice())
	b.reserve("full2", 5*time.Hour, voice()) // the 5-hour bucket is now full (capacity 2)
	dropped := b.reserve("dropped", 3*time.Hour, voice())
	for _, r := range []*reservation.Reservation{moved, full1, dropped} {
		b.waitFor(r.ID, "synced", synced)
	}
	waitListener(t, b)
	conv := b.callbacksFor(moved.ID)[0].ConversationID
	if err := b.sim.Reschedule(conv, full1.Slot.Start); err != nil {
		t.Fatal(err)
	}
	got := b.waitFor(moved.ID, "moved by Genesys", func(r *reservation.Reservation) bool { return r.Slot.Start.Equal(full1.Slot.Start) })
	if !got.Overbooked || got.Status != reservation.StatusScheduled {
		t.Errorf("moved into a full bucket: overbooked %v, status %s", got.Overbooked, got.Status)
	}
	if err := b.sim.Disconnect(b.callbacksFor(dropped.ID)[0].ConversationID); err != nil {
		t.Fatal(err)
	}
	b.waitFor(dropped.ID, "canceled by Genesys", func(r *reservation.Reservation) bool { return r.Status == reservation.StatusCanceled })
	b.waitForEvent(dropped.ID, "reservation.canceled/genesys")
	b.waitForEvent(moved.ID, "reservation.rescheduled/genesys")
}

// TestListenerSurvivesSocketTrouble: socket_closing, dropped sockets,
// an expired channel and revoked tokens all end with the listener
// following events again.
func TestListenerSurvivesSocketTrouble(t *testing.T) {
	t.Parallel()
	b := setup(t, storage.SQLite, true)
	waitListener(t, b)
	each := func(fn func(id string)) func() {
		return func() {
			for _, id := range b.sim.ConnectedChannels() {
				fn(id)
			}
		}
	}
	troubles := []struct {
		name string
		fn   func()
	}{
		{"socket_closing", each(b.sim.SocketClosing)},
		{"dropped sockets", b.sim.DropSockets},
		{"expired channel", each(b.sim.ExpireChannel)},
		{"revoked tokens", b.sim.RevokeTokens},
	}
	for i, tr := range troubles {
		before, dials := b.sim.ConnectedChannels(), b.dials.Load()
		tr.fn()
		// Wait until the listener is back on a new socket: it has dialed
		// again (the simulator registers a socket before the dial
		// returns), on a new channel unless the trouble keeps it.
		keeps := tr.name == "socket_closing" || tr.name == "dropped sockets"
		waitUntil(t, 20*time.Second, "the listener reconnects after "+tr.name, func() bool {
			now := b.sim.ConnectedChannels()
			return b.dials.Load() > dials && len(now) > 0 && (len(before) == 0 || now[0] != before[0] || keeps)
		})
		r := b.reserve(fmt.Sprintf("after-%d", i), time.Duration(i+1)*time.Hour, voice())
		b.waitFor(r.ID, "synced", synced)
		conv := b.callbacksFor(r.ID)[0].ConversationID
		if err := b.sim.Disconnect(conv); err != nil {
			t.Fatal(err)
		}
		b.waitFor(r.ID, "canceled by Genesys after "+tr.name, func(r *reservation.Reservation) bool { return r.Status == reservation.StatusCanceled })
	}
}

// TestReconcileRepairsMissedChanges: with no listener, a change made in
// Genesys is caught by reconciliation.
func TestReconcileRepairsMissedChanges(t *testing.T) {
	t.Parallel()
	b := setup(t, storage.SQLite, false)
	// Within two hours: a regular pass reads it back, not only the daily
	// full one (which the periodic job may already have run at start).
	r := b.reserve("quiet", time.Hour, voice())
	b.waitFor(r.ID, "synced", synced)
	if err := b.sim.Disconnect(b.callbacksFor(r.ID)[0].ConversationID); err != nil {
		t.Fatal(err)
	}
	if err := b.runner.Reconcile(b.ctx); err != nil {
		t.Fatal(err)
	}
	got, _ := b.store.FindReservationByID(b.ctx, r.ID)
	if got.Status != reservation.StatusCanceled {
		t.Fatalf("after reconciliation: %s, want canceled", got.Status)
	}
}

// nopGenesys answers nothing: enough for lease tests.
type nopGenesys struct{ syncer.Genesys }

func (nopGenesys) CreateChannel(context.Context) (*genesys.Channel, error) {
	return nil, fmt.Errorf("no Genesys here")
}

// leaseStore counts the listener lease's refusals: each is an attempt, by
// the process that does not lead, to take the lease, which the leader
// still held.
type leaseStore struct {
	syncer.Store
	refused *atomic.Int64
}

func (s leaseStore) HoldLease(ctx context.Context, name, holder string, ttl time.Duration) (*storage.Lease, error) {
	l, err := s.Store.HoldLease(ctx, name, holder, ttl)
	if l == nil && err == nil {
		s.refused.Add(1)
	}
	return l, err
}

// TestOneListenerAcrossProcesses: two runners on one PostgreSQL; exactly
// one leads, and the other takes over when the leader stops.
func TestOneListenerAcrossProcesses(t *testing.T) {
	t.Parallel()
	dsn := storagetest.PostgresDSN(t)
	ctx := context.Background()
	var listeners []*syncer.Listener
	var cancels []context.CancelFunc
	var refused atomic.Int64
	var wg sync.WaitGroup
	defer func() {
		for _, c := range cancels {
			c()
		}
		wg.Wait()
	}()
	for range 2 {
		s, err := storage.Open(ctx, dsn, storage.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		r := syncer.New(syncer.Config{Store: leaseStore{s, &refused}, Jobs: jobs.New(s.JobDriver(), jobs.Config{}), Genesys: nopGenesys{},
			ReconcileEvery: time.Hour})
		lctx, cancel := context.WithCancel(ctx)
		cancels = append(cancels, cancel)
		l := r.NewListener(syncer.ListenerOptions{LeaseTTL: time.Second})
		listeners = append(listeners, l)
		wg.Go(func() { _ = l.Run(lctx) })
	}
	leaders := func() []int {
		var out []int
		for i, l := range listeners {
			if l.Leading() {
				out = append(out, i)
			}
		}
		return out
	}
	waitUntil(t, 20*time.Second, "a listener leads", func() bool { return len(leaders()) > 0 })
	lead := leaders()
	if len(lead) != 1 {
		t.Fatalf("leaders = %v, want exactly one", lead)
	}
	// It stays exactly one while the other tries to take the lease, and
	// is refused, three more times (it tries every LeaseTTL/4).
	for seen, n := refused.Load(), 0; n < 3; {
		waitUntil(t, 20*time.Second, "the other listener tries the lease again", func() bool { return refused.Load() > seen })
		if got := leaders(); len(got) != 1 || got[0] != lead[0] {
			t.Fatalf("leaders = %v after a refusal, want only %d", got, lead[0])
		}
		seen, n = refused.Load(), n+1
	}
	cancels[lead[0]]()
	other := 1 - lead[0]
	// The takeover's time is asserted: LeaseTTL + a renew period, with
	// margin.
	waitUntil(t, 3*time.Second, "the other listener takes over", listeners[other].Leading)
}
