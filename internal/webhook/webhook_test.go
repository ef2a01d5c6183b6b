package webhook_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slotline/slotline/internal/booking"
	"github.com/slotline/slotline/internal/jobs"
	"github.com/slotline/slotline/internal/netguard"
	"github.com/slotline/slotline/internal/reservation"
	"github.com/slotline/slotline/internal/schedule"
	"github.com/slotline/slotline/internal/storage"
	"github.com/slotline/slotline/internal/storage/storagetest"
	"github.com/slotline/slotline/internal/webhook"
)

// signal is a counter whose changes wake waiters.
type signal struct {
	mu      sync.Mutex
	n       int64
	changed chan struct{} // closed and replaced by add
}

func newSignal() *signal { return &signal{changed: make(chan struct{})} }

func (s *signal) add(d int64) {
	s.mu.Lock()
	s.n += d
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
}

// await waits until cond holds for the count, until stop is closed, or
// until timeout passes; it reports whether cond held.
func (s *signal) await(timeout time.Duration, stop <-chan struct{}, cond func(n int64) bool) bool {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		s.mu.Lock()
		n, changed := s.n, s.changed
		s.mu.Unlock()
		if cond(n) {
			return true
		}
		select {
		case <-changed:
		case <-stop:
			return false
		case <-timer.C:
			return false
		}
	}
}

// clock is a controllable clock for the retry schedule.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// received is one request a test receiver got.
type received struct {
	id, ts, sig, ctype string
	body               []byte
	at                 time.Time
}

// receiver is a real HTTP server that records requests and answers with
// the status its answer func gives (default 204).
type receiver struct {
	srv     *httptest.Server
	mu      sync.Mutex
	got     []received
	arrived *signal // counts the requests
	answer  func(n int, w http.ResponseWriter, r *http.Request)
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{arrived: newSignal()}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		n := len(rc.got)
		rc.got = append(rc.got, received{r.Header.Get("webhook-id"), r.Header.Get("webhook-timestamp"),
			r.Header.Get("webhook-signature"), r.Header.Get("Content-Type"), body, time.Now()})
		answer := rc.answer
		rc.mu.Unlock()
		rc.arrived.add(1)
		if answer != nil {
			answer(n, w, r)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) requests() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...)
}

// waitFor waits, woken by each request, until the receiver has n.
func (rc *receiver) waitFor(t *testing.T, n int) []received {
	t.Helper()
	if !rc.arrived.await(20*time.Second, nil, func(got int64) bool { return got >= int64(n) }) {
		t.Fatalf("receiver got %d requests, want %d", len(rc.requests()), n)
	}
	return rc.requests()
}

// poll calls cond every 10 ms until it holds, for up to 20 s, and
// reports whether it did.
func poll(cond func() bool) bool {
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond) // poll interval
	}
	return true
}

// waitDelivered waits until the store records n deliveries of the endpoint
// as delivered.
func waitDelivered(t *testing.T, b *bundle, endpointID string, n int) {
	t.Helper()
	var ds []*storage.Delivery
	var err error
	if !poll(func() bool {
		ds, _, err = b.store.FindDeliveries(b.ctx, endpointID, storage.DeliveryDelivered, "", 500)
		return err == nil && len(ds) == n
	}) {
		t.Fatalf("delivered deliveries = %d (%v), want %d", len(ds), err, n)
	}
}

// openDeliverJobs counts the delivery jobs River has not finished
// (available, running, scheduled, retryable…).
func openDeliverJobs(t *testing.T, b *bundle) int {
	t.Helper()
	const q = "SELECT count(*) FROM river_job WHERE kind = 'webhook_deliver' AND state NOT IN ('completed', 'cancelled', 'discarded')"
	var n int
	var err error
	if pool := b.store.Pool(); pool != nil {
		err = pool.QueryRow(b.ctx, q).Scan(&n)
	} else {
		err = b.store.DB().QueryRowContext(b.ctx, q).Scan(&n)
	}
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// verify checks a Standard Webhooks signature independently of the
// sender's code: HMAC-SHA256 keyed with the base64-decoded secret over
// "id.timestamp.body", compared with every v1 signature in the header.
func verify(secret string, r received) bool {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%s.", r.id, r.ts)
	mac.Write(r.body)
	want := mac.Sum(nil)
	for _, part := range strings.Fields(r.sig) {
		v, sig, ok := strings.Cut(part, ",")
		if !ok || v != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(sig)
		if err == nil && hmac.Equal(got, want) {
			return true
		}
	}
	return false
}

type bundle struct {
	store  *storage.Store
	disp   *webhook.Dispatcher
	eps    *webhook.Endpoints
	book   *booking.Service
	clock  *clock
	ctx    context.Context
	n      int
	policy netguard.Policy
}

// setup runs the real dispatcher on River over backend, with a controllable
// clock; the guard allows loopback unless strict.
func setup(t *testing.T, backend string, strict bool, timeout time.Duration) *bundle {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "w.db")
	if backend == storage.Postgres {
		dsn = storagetest.PostgresDSN(t)
	}
	store, err := storage.Open(ctx, dsn, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: time.Now()}
	policy := netguard.Policy{AllowPrivate: !strict, LookupFunc: func(ctx context.Context, network, host string) ([]netip.Addr, error) {
		if host == "rebind.test" {
			return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
		}
		return net.DefaultResolver.LookupNetIP(ctx, network, host)
	}}
	js := jobs.New(store.JobDriver(), jobs.Config{FetchCooldown: time.Millisecond, RetryBase: 10 * time.Millisecond})
	disp := webhook.New(webhook.Config{Store: store, Jobs: js, Client: &http.Client{Transport: policy.Transport()}, Now: clk.Now,
		Timeout: timeout, QueueNames: map[string]string{"support": "Support"}})
	loc, _ := time.LoadLocation("America/New_York")
	q := &booking.Queue{ID: "support", Name: "Support", TimeZone: loc.String(),
		Calendar: &schedule.Calendar{Location: loc, SlotMinutes: 15, Capacity: 100, AlwaysOpen: true, Horizon: 30 * 24 * time.Hour}}
	store.OnEvents(disp.OnEvents)
	if err := js.Open(ctx); err != nil {
		t.Fatal(err)
	}
	waker := make(chan struct{})
	go func() { defer close(waker); _ = disp.Run(ctx) }()
	if err := js.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		<-waker
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer scancel()
		_ = js.Stop(sctx)
		store.Close()
	})
	eps := webhook.NewEndpoints(store, func(u string) string { return policy.CheckURL(u, true) }, []string{"support"})
	return &bundle{store: store, disp: disp, eps: eps, book: booking.New(store, []*booking.Queue{q}, booking.Options{}),
		clock: clk, ctx: ctx, policy: policy}
}

func (b *bundle) endpoint(t *testing.T, url string, mod func(r *webhook.EndpointRequest)) *storage.Endpoint {
	t.Helper()
	name := "test"
	r := &webhook.EndpointRequest{Name: &name, URL: &url}
	if mod != nil {
		mod(r)
	}
	e, err := b.eps.Create(b.ctx, apiWrite("r1"), r)
	if err != nil {
		t.Fatalf("create endpoint: %v", err)
	}
	return e
}

func (b *bundle) reserve(t *testing.T) *reservation.Reservation {
	t.Helper()
	b.n++
	start := time.Now().Add(time.Duration(b.n+1) * time.Hour).Truncate(15 * time.Minute)
	res, err := b.book.Create(b.ctx, booking.Caller{ClientID: "website"}, &reservation.CreateRequest{
		CallbackID: "w" + strconv.Itoa(b.n), CallbackNumber: "+14155550199", QueueID: "support", Reason: "Billing, question",
		Candidates: []reservation.Slot{{Start: start, End: start.Add(15 * time.Minute)}}, Channel: reservation.ChannelPreferences{Primary: "voice"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return res.Reservation
}

type body struct {
	Type      string            `json:"type"`
	Timestamp string            `json:"timestamp"`
	Data      reservation.Event `json:"data"`
}

func decode(t *testing.T, r received) body {
	t.Helper()
	var b body
	if err := json.Unmarshal(r.body, &b); err != nil {
		t.Fatalf("body %s: %v", r.body, err)
	}
	return b
}

func TestDeliveryInOrderSigned(t *testing.T) {
	t.Parallel()
	for _, backend := range []string{storage.SQLite, storage.Postgres} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			b := setup(t, backend, false, 0)
			rc := newReceiver(t)
			ep := b.endpoint(t, rc.srv.URL+"/hook", nil)
			var ids []string
			for range 12 {
				ids = append(ids, b.reserve(t).ID)
			}
			got := rc.waitFor(t, 12)
			seen := map[string]bool{}
			for i, r := range got {
				if !verify(ep.Secret, r) {
					t.Fatalf("request %d: signature %q does not verify", i, r.sig)
				}
				ts, err := strconv.ParseInt(r.ts, 10, 64)
				if err != nil || time.Since(time.Unix(ts, 0)).Abs() > time.Minute {
					t.Errorf("webhook-timestamp %q", r.ts)
				}
				if !strings.HasPrefix(r.id, "msg_") || seen[r.id] {
					t.Errorf("webhook-id %q is not a fresh message id", r.id)
				}
				seen[r.id] = true
				bd := decode(t, r)
				if bd.Type != reservation.EventCreated || bd.Data.Seq != int64(i+1) || bd.Data.ReservationID != ids[i] {
					t.Errorf("request %d: %s seq %d %s, want created seq %d %s", i, bd.Type, bd.Data.Seq, bd.Data.ReservationID, i+1, ids[i])
				}
				if bd.Data.Reservation.CallbackNumber == "+14155550199" || !strings.HasSuffix(bd.Data.Reservation.CallbackNumber, "99") {
					t.Errorf("number not masked: %q", bd.Data.Reservation.CallbackNumber)
				}
				if r.ctype != "application/json" {
					t.Errorf("content type %q", r.ctype)
				}
			}
			waitDelivered(t, b, ep.ID, 12)
		})
	}
}

// TestBurstDeliveredOnceInOrder: a burst of concurrent writes, with extra
// jobs kicked for the endpoint meanwhile, reaches the receiver once per
// event and in event order, well before the 30 s sweep could help (jobs
// that find the endpoint claimed finish at once; the holder carries on).
func TestBurstDeliveredOnceInOrder(t *testing.T) {
	t.Parallel()
	for _, backend := range []string{storage.SQLite, storage.Postgres} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			b := setup(t, backend, false, 0)
			// committed counts the events committed; writersDone ends the
			// waits on it once no more will come.
			committed, writersDone := newSignal(), make(chan struct{})
			b.store.OnEvents(func(_ context.Context, tx *storage.Tx, evs []reservation.Event) error {
				tx.AfterCommit(func() { committed.add(int64(len(evs))) })
				return nil
			})
			rc := newReceiver(t)
			rc.answer = func(n int, w http.ResponseWriter, r *http.Request) {
				if n%7 == 0 {
					// Let writes pile up behind the holder: answer once an
					// event after this one has committed.
					var bd body
					_ = json.Unmarshal(rc.requests()[n].body, &bd)
					committed.await(10*time.Second, writersDone, func(c int64) bool { return c > bd.Data.Seq })
				}
				w.WriteHeader(http.StatusNoContent)
			}
			ep := b.endpoint(t, rc.srv.URL, nil)
			const writers, each = 6, 25
			var wg, kicks sync.WaitGroup
			for w := range writers {
				wg.Go(func() {
					for i := range each {
						start := time.Now().Add(time.Duration(w*each+i+2) * time.Hour).Truncate(15 * time.Minute)
						_, err := b.book.Create(b.ctx, booking.Caller{ClientID: "website"}, &reservation.CreateRequest{
							CallbackID: fmt.Sprintf("burst-%d-%d", w, i), CallbackNumber: "+14155550199", QueueID: "support",
							Candidates: []reservation.Slot{{Start: start, End: start.Add(15 * time.Minute)}},
							Channel:    reservation.ChannelPreferences{Primary: "voice"},
						})
						if err != nil {
							t.Error(err)
							return
						}
					}
				})
			}
			// 20 extra jobs, one every 7 commits: spread over the burst.
			kicks.Go(func() {
				for i := range 20 {
					committed.await(20*time.Second, writersDone, func(c int64) bool { return c >= int64(7*(i+1)) })
					if err := b.disp.Kick(b.ctx, ep.ID); err != nil {
						t.Error(err)
					}
				}
			})
			wg.Wait()
			close(writersDone)
			kicks.Wait()
			rc.waitFor(t, writers*each)
			// Quiescent before counting: every delivery is recorded as
			// delivered and no delivery job is left to run, so nothing
			// more can be sent.
			waitDelivered(t, b, ep.ID, writers*each)
			if !poll(func() bool { return openDeliverJobs(t, b) == 0 }) {
				t.Fatalf("%d delivery jobs still open after every delivery was made", openDeliverJobs(t, b))
			}
			got := rc.requests()
			if len(got) != writers*each {
				t.Fatalf("receiver got %d requests, want %d (one per event)", len(got), writers*each)
			}
			var last int64
			for i, r := range got {
				seq := decode(t, r).Data.Seq
				if seq <= last {
					t.Fatalf("request %d carries seq %d after %d: out of order or repeated", i, seq, last)
				}
				last = seq
			}
		})
	}
}

// TestRetryScheduleAndExhaustion: a receiver that always fails gets the
// same webhook-id on every attempt, on the schedule, until the delivery is
// failed and a delivery.exhausted event is written.
func TestRetryScheduleAndExhaustion(t *testing.T) {
	t.Parallel()
	b := setup(t, storage.SQLite, false, 0)
	rc := newReceiver(t)
	rc.answer = func(n int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusInternalServerError) }
	ep := b.endpoint(t, rc.srv.URL, func(r *webhook.EndpointRequest) { r.Events = &[]string{reservation.EventCreated} })
	b.reserve(t)
	rc.waitFor(t, 1)
	for i := 1; i < len(webhook.DefaultSchedule); i++ {
		d := waitAttempts(t, b, ep.ID, i)
		if d.Status != storage.DeliveryPending || d.Attempts != i || d.LastStatus != 500 {
			t.Fatalf("after attempt %d: %+v", i, d)
		}
		wait := d.NextAttemptAt.Sub(b.clock.Now())
		want := webhook.DefaultSchedule[i]
		if wait < want-want/10-time.Second || wait > want+want/10+time.Second {
			t.Errorf("attempt %d: next in %v, want about %v", i+1, wait, want)
		}
		b.clock.Advance(wait)
		if err := b.disp.Kick(b.ctx, ep.ID); err != nil {
			t.Fatal(err)
		}
		rc.waitFor(t, i+1)
	}
	got := rc.requests()
	for _, r := range got {
		if r.id != got[0].id {
			t.Fatalf("retries used webhook-ids %q and %q", got[0].id, r.id)
		}
	}
	waitStatus(t, b, ep.ID, storage.DeliveryFailed)
	waitEvent(t, b, reservation.EventDeliveryExhausted, ep.ID)
}

// waitDelivery waits until the endpoint's latest delivery satisfies cond.
func waitDelivery(t *testing.T, b *bundle, endpointID, what string, cond func(d *storage.Delivery) bool) *storage.Delivery {
	t.Helper()
	var d *storage.Delivery
	if !poll(func() bool {
		ds, _, err := b.store.FindDeliveries(b.ctx, endpointID, "", "", 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) == 0 {
			return false
		}
		d = ds[0]
		return cond(d)
	}) {
		t.Fatalf("the delivery to %s is not %s: %+v", endpointID, what, d)
	}
	return d
}

// deliveryOf waits until the endpoint's latest delivery has an attempt
// recorded.
func deliveryOf(t *testing.T, b *bundle, endpointID string) *storage.Delivery {
	t.Helper()
	return waitAttempts(t, b, endpointID, 1)
}

// waitAttempts waits until the endpoint's delivery has n attempts recorded.
func waitAttempts(t *testing.T, b *bundle, endpointID string, n int) *storage.Delivery {
	t.Helper()
	return waitDelivery(t, b, endpointID, fmt.Sprintf("attempted %d times", n), func(d *storage.Delivery) bool { return d.Attempts >= n })
}

// waitFailedAttempt waits until the endpoint's delivery records an error.
func waitFailedAttempt(t *testing.T, b *bundle, endpointID string) *storage.Delivery {
	t.Helper()
	return waitDelivery(t, b, endpointID, "failed with an error", func(d *storage.Delivery) bool { return d.Attempts > 0 && d.LastError != "" })
}

func waitStatus(t *testing.T, b *bundle, endpointID, status string) *storage.Delivery {
	t.Helper()
	var ds []*storage.Delivery
	if !poll(func() bool {
		ds, _, _ = b.store.FindDeliveries(b.ctx, endpointID, status, "", 10)
		return len(ds) > 0
	}) {
		t.Fatalf("no %s delivery for %s", status, endpointID)
	}
	return ds[0]
}

// waitEvent waits for an event of type typ about the endpoint, looking
// again at every commit of events in the store.
func waitEvent(t *testing.T, b *bundle, typ, endpointID string) {
	t.Helper()
	deadline := time.NewTimer(20 * time.Second)
	defer deadline.Stop()
	for {
		committed := b.store.EventsCommitted() // before the look: no commit is missed
		evs, _ := b.store.FindEvents(b.ctx, 0, 1000)
		for _, ev := range evs {
			if ev.Type == typ && ev.Webhook != nil && ev.Webhook.EndpointID == endpointID {
				return
			}
		}
		select {
		case <-committed:
		case <-deadline.C:
			t.Fatalf("no %s event for %s", typ, endpointID)
		}
	}
}

func TestGoneDisablesAndRetryAfter(t *testing.T) {
	t.Parallel()
	b := setup(t, storage.SQLite, false, 0)
	gone := newReceiver(t)
	gone.answer = func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusGone) }
	busy := newReceiver(t)
	busy.answer = func(_ int, w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Retry-After", "120")
		w.WriteHeader(http.StatusTooManyRequests)
	}
	epGone := b.endpoint(t, gone.srv.URL, nil)
	epBusy := b.endpoint(t, busy.srv.URL, nil)
	b.reserve(t)
	gone.waitFor(t, 1)
	busy.waitFor(t, 1)
	waitEvent(t, b, reservation.EventWebhookDisabled, epGone.ID)
	e, _ := b.store.FindEndpoint(b.ctx, epGone.ID)
	if e.Enabled || !strings.Contains(e.DisabledReason, "410") {
		t.Errorf("after 410: enabled %v, reason %q", e.Enabled, e.DisabledReason)
	}
	// Nothing more goes to a disabled endpoint.
	b.reserve(t)
	busy.waitFor(t, 2)
	if n := len(gone.requests()); n != 1 {
		t.Errorf("the disabled endpoint got %d requests", n)
	}
	d := deliveryOf(t, b, epBusy.ID)
	if wait := d.NextAttemptAt.Sub(b.clock.Now()); wait < 119*time.Second {
		t.Errorf("after 429 with Retry-After 120 the next attempt is in %v", wait)
	}
}

func TestTimeoutsRedirectsAndFiveDays(t *testing.T) {
	t.Parallel()
	b := setup(t, storage.SQLite, false, 300*time.Millisecond)
	slow := newReceiver(t)
	slow.answer = func(_ int, w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(2 * time.Second):
		case <-r.Context().Done():
		}
	}
	redirect := newReceiver(t)
	target := newReceiver(t)
	redirect.answer = func(_ int, w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.srv.URL, http.StatusTemporaryRedirect)
	}
	epSlow := b.endpoint(t, slow.srv.URL, nil)
	epRedirect := b.endpoint(t, redirect.srv.URL, nil)
	b.reserve(t)
	slow.waitFor(t, 1)
	redirect.waitFor(t, 1)
	d := waitFailedAttempt(t, b, epSlow.ID)
	if d.Status != storage.DeliveryPending || !strings.Contains(d.LastError, "timed out") {
		t.Errorf("hung receiver: %+v", d)
	}
	r := deliveryOf(t, b, epRedirect.ID)
	if r.Status != storage.DeliveryPending || r.LastStatus != http.StatusTemporaryRedirect {
		t.Errorf("redirect: %+v", r)
	}
	if n := len(target.requests()); n != 0 {
		t.Errorf("the redirect was followed (%d requests)", n)
	}
	// Five days of failures disable the endpoint.
	b.clock.Advance(5*24*time.Hour + time.Minute)
	b.reserve(t)
	slow.waitFor(t, 2)
	waitEvent(t, b, reservation.EventWebhookDisabled, epSlow.ID)
}

// TestSSRF: internal targets are refused when the endpoint is saved, and at
// connect time for names that resolve to them.
func TestSSRF(t *testing.T) {
	t.Parallel()
	b := setup(t, storage.SQLite, true, 0)
	rc := newReceiver(t)
	port := rc.srv.URL[strings.LastIndex(rc.srv.URL, ":")+1:]
	for _, u := range []string{"http://127.0.0.1:" + port, "http://localhost:" + port, "http://[::ffff:127.0.0.1]:" + port,
		"http://169.254.169.254/latest/meta-data", "http://10.0.0.1/", "ftp://example.com/"} {
		name := "x"
		if _, err := b.eps.Create(b.ctx, apiWrite("r"), &webhook.EndpointRequest{Name: &name, URL: &u}); reservation.ErrorCode(err) != reservation.EINVALID {
			t.Errorf("%s: err = %v, want invalid", u, err)
		}
	}
	// A name that passes the URL check but resolves to loopback (DNS
	// rebinding) is refused when dialled.
	ep := b.endpoint(t, "http://rebind.test:"+port+"/hook", nil)
	b.reserve(t)
	d := waitFailedAttempt(t, b, ep.ID)
	if !strings.Contains(d.LastError, "loopback") || len(rc.requests()) != 0 {
		t.Errorf("rebinding: last error %q, receiver got %d requests", d.LastError, len(rc.requests()))
	}
}

func TestRotationSignsWithBoth(t *testing.T) {
	t.Parallel()
	b := setup(t, storage.SQLite, false, 0)
	rc := newReceiver(t)
	ep := b.endpoint(t, rc.srv.URL, nil)
	rotated, err := b.eps.Rotate(b.ctx, apiWrite("r"), ep.ID)
	if err != nil {
		t.Fatal(err)
	}
	if rotated.Secret == ep.Secret || rotated.PreviousSecret != ep.Secret {
		t.Fatalf("rotation: %+v", rotated)
	}
	b.reserve(t)
	r := rc.waitFor(t, 1)[0]
	if !verify(ep.Secret, r) || !verify(rotated.Secret, r) || len(strings.Fields(r.sig)) != 2 {
		t.Errorf("during the grace period both secrets must verify: %q", r.sig)
	}
	// After the grace period only the new secret signs.
	b.clock.Advance(25 * time.Hour)
	b.reserve(t)
	r = rc.waitFor(t, 2)[1]
	if verify(ep.Secret, r) || !verify(rotated.Secret, r) {
		t.Errorf("after the grace period: %q", r.sig)
	}
}

// TestCalendarDeliveries: a text/calendar endpoint gets REQUEST objects with
// a growing SEQUENCE, and CANCEL with STATUS:CANCELLED for a cancel; the
// reschedule crosses New York's DST change.
func TestCalendarDeliveries(t *testing.T) {
	t.Parallel()
	b := setup(t, storage.SQLite, false, 0)
	rc := newReceiver(t)
	ctype, events := webhook.ContentCalendar, []string{reservation.EventCreated, reservation.EventRescheduled, reservation.EventCanceled}
	b.endpoint(t, rc.srv.URL, func(r *webhook.EndpointRequest) { r.ContentType = &ctype; r.Events = &events })
	res := b.reserve(t)
	loc, _ := time.LoadLocation("America/New_York")
	// Move it to the Monday after the next spring-forward, 09:00 local.
	next := time.Date(time.Now().Year()+1, 3, 8, 12, 0, 0, 0, loc)
	for next.Weekday() != time.Sunday {
		next = next.AddDate(0, 0, 1)
	}
	monday := time.Date(next.Year(), next.Month(), next.Day()+1, 9, 0, 0, 0, loc)
	if _, _, err := b.store.UpdateReservation(b.ctx, res.ID, reservation.Change{
		Candidates: []reservation.Candidate{{Slot: reservation.Slot{Start: monday, End: monday.Add(15 * time.Minute)}, Bucket: monday, Cap: 10}},
		Matrix:     []reservation.Slot{{Start: monday, End: monday.Add(15 * time.Minute)}},
	}, reservation.Write{Actor: "website", Origin: "api"}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.book.Cancel(b.ctx, booking.Caller{ClientID: "website"}, res.ID, nil); err != nil {
		t.Fatal(err)
	}
	got := rc.waitFor(t, 3)
	var seqs []int
	for i, r := range got {
		text := string(r.body)
		if !strings.HasPrefix(text, "BEGIN:VCALENDAR\r\n") || !strings.HasSuffix(text, "END:VCALENDAR\r\n") {
			t.Fatalf("delivery %d is not a calendar: %q", i, text)
		}
		props := unfold(text)
		if props["UID"] != res.ID+"@slotline" {
			t.Errorf("UID = %q", props["UID"])
		}
		n, _ := strconv.Atoi(props["SEQUENCE"])
		seqs = append(seqs, n)
		wantMethod, wantStatus := "REQUEST", "CONFIRMED"
		if i == 2 {
			wantMethod, wantStatus = "CANCEL", "CANCELLED"
		}
		if props["METHOD"] != wantMethod || props["STATUS"] != wantStatus {
			t.Errorf("delivery %d: METHOD %q STATUS %q", i, props["METHOD"], props["STATUS"])
		}
		if !strings.Contains(r.ctype, "text/calendar") || !strings.Contains(r.ctype, "method="+wantMethod) {
			t.Errorf("delivery %d content type %q", i, r.ctype)
		}
		if i == 1 && props["DTSTART;TZID=America/New_York"] != monday.Format("20060102T150405") {
			t.Errorf("rescheduled DTSTART = %q, want %s", props["DTSTART;TZID=America/New_York"], monday.Format("20060102T150405"))
		}
		if strings.Contains(text, "+14155550199") {
			t.Error("the calendar shows the full number")
		}
	}
	if !(seqs[0] < seqs[1] && seqs[1] < seqs[2]) {
		t.Errorf("SEQUENCE did not grow: %v", seqs)
	}
}

// unfold parses the first value of each property of an iCalendar text.
func unfold(text string) map[string]string {
	text = strings.ReplaceAll(text, "\r\n ", "")
	out := map[string]string{}
	inEvent := false
	for _, line := range strings.Split(text, "\r\n") {
		switch line {
		case "BEGIN:VEVENT":
			inEvent = true
			continue
		case "END:VEVENT":
			inEvent = false
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		if k == "METHOD" || inEvent {
			if _, seen := out[k]; !seen {
				out[k] = v
			}
		}
	}
	return out
}

// TestPingAndManualRetry: the test endpoint sends a ping; a failed delivery
// can be replayed by hand.
func TestPingAndManualRetry(t *testing.T) {
	t.Parallel()
	b := setup(t, storage.SQLite, false, 0)
	rc := newReceiver(t)
	fail := true
	var mu sync.Mutex
	rc.answer = func(_ int, w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if fail {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		w.WriteHeader(http.StatusOK)
	}
	ep := b.endpoint(t, rc.srv.URL, nil)
	id, err := b.disp.Ping(b.ctx, ep, reservation.Write{Actor: "website", Origin: reservation.OriginAPI, RequestID: "req-ping"})
	if err != nil {
		t.Fatal(err)
	}
	r := rc.waitFor(t, 1)[0]
	if bd := decode(t, r); bd.Type != reservation.EventWebhookPing || r.id != id || bd.Data.Webhook.EndpointID != ep.ID ||
		bd.Data.Webhook.DeliveryID != id || bd.Data.Actor != "website" {
		t.Errorf("ping = %s %s", r.id, r.body)
	}
	mu.Lock()
	fail = false
	mu.Unlock()
	waitAttempts(t, b, ep.ID, 1)
	if _, err := b.disp.Retry(b.ctx, ep.ID, id, reservation.Write{Actor: "website"}); err != nil {
		t.Fatal(err)
	}
	rc.waitFor(t, 2)
	waitStatus(t, b, ep.ID, storage.DeliveryDelivered)
}

// TestDecodeEndpointRequest: the endpoint body is decoded as strictly as
// a reservation's, each refusal naming its field.
func TestDecodeEndpointRequest(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		body   string
		fields map[string]string // nil: decodes
	}{
		{`{"name":"crm","url":"https://x.example","enabled":false,"events":["reservation.created"],"include_numbers":true}`, nil},
		{`{"name":null}`, nil}, // null is absent
		{`not json`, map[string]string{"body": "is not valid JSON (at byte 2)"}},
		{`[1]`, map[string]string{"body": "must be a JSON object"}},
		{`{"nmae":"x","url":3}`, map[string]string{"nmae": "unknown field", "url": "must be a string"}},
		{`{"enabled":"yes","events":"all","queues":[1]}`, map[string]string{"enabled": "must be true or false",
			"events": "must be an array of event types", "queues": "must be an array of queue ids"}},
		// PostgreSQL refuses NUL and invalid UTF-8 in text: refused here, on both backends.
		{`{"name":"crm\u0000"}`, map[string]string{"name": "must not contain NUL characters (\\u0000)"}},
		{`{"queues":["support","x\u0000"]}`, map[string]string{"queues": "must not contain NUL characters (\\u0000)"}},
		{"{\"name\":\"crm\xff\"}", map[string]string{"name": "must be valid UTF-8"}},
		{"{\"na\xffme\":\"crm\"}", map[string]string{"body": "is not valid UTF-8 (at byte 4)"}},
	} {
		r, err := webhook.DecodeEndpointRequest([]byte(tt.body))
		if tt.fields == nil {
			if err != nil || r == nil {
				t.Errorf("%s: %v", tt.body, err)
			}
			continue
		}
		var e *reservation.Error
		if !errors.As(err, &e) || e.Code != reservation.EINVALID || !maps.Equal(e.Fields, tt.fields) {
			t.Errorf("%s: %v (fields %v), want %v", tt.body, err, e, tt.fields)
		}
	}
	r, _ := webhook.DecodeEndpointRequest([]byte(`{"name":"crm","enabled":false,"events":[]}`))
	if r.Name == nil || *r.Name != "crm" || r.Enabled == nil || *r.Enabled || r.Events == nil || len(*r.Events) != 0 || r.URL != nil {
		t.Errorf("decoded %+v", r)
	}
}

// TestEndpointChangesOrderedWithEvents: on PostgreSQL, another process
// disables an endpoint while a write is in flight here. The write's events
// are numbered after the disable committed, so the endpoint gets no
// delivery of them (nor a pending one that would wait for it to be
// re-enabled): the dispatcher reads the endpoints under the log-head lock,
// where the disable is ordered with the events.
func TestEndpointChangesOrderedWithEvents(t *testing.T) {
	t.Parallel()
	b := setup(t, storage.Postgres, false, time.Second)
	rc := newReceiver(t)
	ep := b.endpoint(t, rc.srv.URL, nil)
	hold, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	b.store.OnEvents(func(context.Context, *storage.Tx, []reservation.Event) error {
		once.Do(func() {
			close(hold)
			<-release
		})
		return nil
	})
	done := make(chan *reservation.Reservation, 1)
	go func() { done <- b.reserve(t) }()
	<-hold
	// The other process.
	other, err := storage.Open(b.ctx, b.store.DSN(), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.UpdateEndpoint(b.ctx, ep.ID, "webhook.update", func(e *storage.Endpoint) error {
		e.Enabled = false
		return nil
	}, reservation.Write{Actor: "website", Origin: reservation.OriginAPI}); err != nil {
		t.Fatal(err)
	}
	close(release)
	r := <-done
	ds, _, err := b.store.FindDeliveries(b.ctx, ep.ID, "", "", 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		t.Errorf("the disabled endpoint got delivery %s (%s, %s) of reservation %s's event", d.ID, d.EventType, d.Status, r.ID)
	}
}

// apiWrite is a write by the test's API client, website.
func apiWrite(requestID string) reservation.Write {
	return reservation.Write{Actor: "website", Origin: reservation.OriginAPI, RequestID: requestID}
}
