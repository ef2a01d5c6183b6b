package selfservice_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/slotline/slotline/internal/auth"
	"github.com/slotline/slotline/internal/booking"
	"github.com/slotline/slotline/internal/httpapi"
	"github.com/slotline/slotline/internal/reservation"
	"github.com/slotline/slotline/internal/schedule"
	"github.com/slotline/slotline/internal/selfservice"
	"github.com/slotline/slotline/internal/storage"
	"github.com/slotline/slotline/internal/storage/storagetest"
)

const secret = "website-secret-0123456789"

// syncBuffer is a log sink shared by the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// bundle is one server over a real socket with its own database, a queue
// of capacity 1 open 24/7 in New York and a clock the test moves.
type bundle struct {
	srv   *httptest.Server
	store *storage.Store
	logs  *syncBuffer
	clock atomic.Int64 // Unix microseconds
	base  time.Time    // the start of a slot two days ahead
	token string       // the website's access token
}

func (b *bundle) now() time.Time { return time.UnixMicro(b.clock.Load()).UTC() }

func (b *bundle) set(t time.Time) { b.clock.Store(t.UnixMicro()) }

type options struct {
	publicURL string
	policy    reservation.SelfPolicy
	limits    selfservice.Limits
	admission reservation.Admission
}

func backends(t *testing.T, fn func(t *testing.T, dsn string)) {
	for _, backend := range []string{storage.SQLite, storage.Postgres} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			dsn := "sqlite:" + filepath.Join(t.TempDir(), "self.db")
			if backend == storage.Postgres {
				dsn = storagetest.PostgresDSN(t)
			}
			fn(t, dsn)
		})
	}
}

func setup(t *testing.T, dsn string, o options) *bundle {
	t.Helper()
	ctx := context.Background()
	store, err := storage.Connect(ctx, dsn, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	if _, err := store.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	b := &bundle{store: store, logs: &syncBuffer{}}
	b.base = time.Now().Add(48 * time.Hour).Truncate(time.Hour).UTC()
	b.set(time.Now())
	logger := slog.New(slog.NewJSONHandler(b.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	loc, _ := time.LoadLocation("America/New_York")
	q := &booking.Queue{ID: "q1", Name: "Support", TimeZone: loc.String(), Calendar: &schedule.Calendar{
		Location: loc, SlotMinutes: 15, Capacity: 1, AlwaysOpen: true, Horizon: 30 * 24 * time.Hour,
	}, SelfService: o.policy, Admission: o.admission}
	sec, err := store.SelfServiceSecret(ctx, selfservice.NewSecret())
	if err != nil {
		t.Fatal(err)
	}
	links := selfservice.NewLinks(sec, o.publicURL, time.Hour)
	book := booking.New(store, []*booking.Queue{q}, booking.Options{Now: b.now, Logger: logger, Seal: links.Seal})
	self := selfservice.New(selfservice.Config{Links: links, Booking: book, Store: store, Limits: o.limits, Logger: logger})
	authn := auth.NewService(store, []*auth.Client{
		auth.NewClient("website", secret, []string{"callback:read", "callback:write"}, 0, 0)}, time.Hour)
	b.srv = httptest.NewServer(httpapi.NewServer(httpapi.Deps{Booking: book, Auth: authn, Store: store, Logger: logger, Self: self}))
	t.Cleanup(b.srv.Close)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	req, _ := http.NewRequest("POST", b.srv.URL+"/oauth/token", strings.NewReader("grant_type=client_credentials"))
	req.SetBasicAuth("website", secret)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil {
		t.Fatal(err)
	}
	b.token = tok.AccessToken
	return b
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// do sends a request (with the website's token when auth is true).
func (b *bundle) do(t testing.TB, method, path string, auth bool, body any) response {
	t.Helper()
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, b.srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if auth {
		req.Header.Set("Authorization", "Bearer "+b.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{resp.StatusCode, resp.Header, raw}
}

func (b *bundle) slot(i int) map[string]string {
	s := b.base.Add(time.Duration(i) * 15 * time.Minute)
	return map[string]string{"start": s.Format(time.RFC3339), "end": s.Add(15 * time.Minute).Format(time.RFC3339)}
}

type created struct {
	ID          string `json:"id"`
	ManageURL   string `json:"manage_url"`
	ManageToken string `json:"manage_token"`
	SMSOptOut   bool   `json:"sms_opt_out"`
}

// api is the path of c's self-service routes on the API; manage_url is the
// manage page's.
func (c created) api() string { return selfservice.ManagePath + c.ManageToken }

func (b *bundle) create(t testing.TB, number string, i int, extra ...any) created {
	t.Helper()
	body := map[string]any{"callback_number": number, "queue_id": "q1", "reason": "billing",
		"time_slot_matrix":    []any{b.slot(i)},
		"channel_preferences": map[string]any{"primary": "voice", "fallback": "sms", "allow_sms": true}}
	for j := 0; j+1 < len(extra); j += 2 {
		body[extra[j].(string)] = extra[j+1]
	}
	r := b.do(t, "POST", "/api/v2/callbacks", true, body)
	if r.status != http.StatusCreated && r.status != http.StatusOK {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	var c created
	r.decode(t, &c)
	return c
}

type view struct {
	Status           string            `json:"status"`
	QueueName        string            `json:"queue_name"`
	CallbackNumber   string            `json:"callback_number"`
	TimeSlot         map[string]string `json:"time_slot"`
	TimeZone         string            `json:"timezone"`
	CustomerTimeSlot map[string]string `json:"customer_time_slot"`
	CustomerTimeZone string            `json:"customer_timezone"`
	MayReschedule    bool              `json:"may_reschedule"`
	MayCancel        bool              `json:"may_cancel"`
	ReschedulesLeft  int               `json:"reschedules_left"`
	ChangeCutoff     string            `json:"change_cutoff"`
	SMSOptOut        bool              `json:"sms_opt_out"`
}

type problem struct {
	Status int    `json:"status"`
	Code   string `json:"code"`
	Detail string `json:"detail"`
	Reason string `json:"reason"`
}

func wantStatus(t testing.TB, r response, want int) {
	t.Helper()
	if r.status != want {
		t.Fatalf("status %d, want %d: %s", r.status, want, r.body)
	}
}

// withoutInstance returns a problem body without its instance (the
// request's id, different on every request).
func withoutInstance(t testing.TB, r response) string {
	t.Helper()
	var m map[string]any
	r.decode(t, &m)
	delete(m, "instance")
	out, _ := json.Marshal(m)
	return string(out)
}

// TestSelfServiceJourney walks a customer's link through every route:
// the create's manage_url and manage_token, the reservation as the
// customer sees it, the queue's availability, a reschedule (held to the
// queue's capacity), the opt-out carried to the number's other and later
// reservations, and the cancel; every change an event of origin customer,
// and the token nowhere in the logs, the events or the operators' reads.
func TestSelfServiceJourney(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, dsn string) {
		b := setup(t, dsn, options{policy: reservation.SelfPolicy{MaxReschedules: 3, Cutoff: 15 * time.Minute}})
		const number = "+442079460123" // London
		c := b.create(t, number, 0)
		if c.ManageToken == "" || c.ManageURL != "/manage/"+c.ManageToken {
			t.Fatalf("create answered manage_url %q, manage_token %q; want the relative path of the manage page (no public_url)", c.ManageURL, c.ManageToken)
		}
		if len(c.ManageToken) < 22 {
			t.Fatalf("token %q is shorter than 128 bits", c.ManageToken)
		}
		other := b.create(t, number, 4)
		link := c.api()
		// An idempotent replay answers the same link.
		first := b.create(t, "+14155550177", 6, "callback_id", "web-1")
		if again := b.create(t, "+14155550177", 6, "callback_id", "web-1"); again.ManageToken != first.ManageToken || first.ManageToken == "" ||
			again.ID != first.ID {
			t.Fatalf("replay answered %+v, the create %+v", again, first)
		}

		r := b.do(t, "GET", link, false, nil)
		wantStatus(t, r, 200)
		var v view
		r.decode(t, &v)
		if v.Status != "scheduled" || v.QueueName != "Support" || v.CallbackNumber == number || !strings.HasSuffix(v.CallbackNumber, "23") ||
			v.TimeZone != "America/New_York" || v.CustomerTimeZone != "Europe/London" || !v.MayReschedule || !v.MayCancel ||
			v.ReschedulesLeft != 3 || v.SMSOptOut {
			t.Fatalf("GET = %s", r.body)
		}
		start, _ := time.Parse(time.RFC3339, v.CustomerTimeSlot["start"])
		if !start.Equal(b.base) || !strings.HasSuffix(v.CustomerTimeSlot["start"], "Z") && !strings.Contains(v.CustomerTimeSlot["start"], "+") {
			t.Fatalf("customer_time_slot = %v, want the slot in London", v.CustomerTimeSlot)
		}
		if r.header.Get("Cache-Control") != "no-store" {
			t.Errorf("Cache-Control = %q", r.header.Get("Cache-Control"))
		}

		// The operators' reads never show the token.
		for _, p := range []string{"/api/v2/callbacks/" + c.ID, "/api/v2/callbacks?queue_id=q1"} {
			r := b.do(t, "GET", p, true, nil)
			wantStatus(t, r, 200)
			if bytes.Contains(r.body, []byte(c.ManageToken)) || bytes.Contains(r.body, []byte("manage_")) {
				t.Fatalf("GET %s shows the link: %s", p, r.body)
			}
		}

		// Availability: the queue's, with the customer's own bucket used.
		from := url.QueryEscape(b.base.Format(time.RFC3339))
		to := url.QueryEscape(b.base.Add(time.Hour).Format(time.RFC3339))
		r = b.do(t, "GET", link+"/availability?from="+from+"&to="+to, false, nil)
		wantStatus(t, r, 200)
		var avail struct {
			QueueID string `json:"queue_id"`
			Slots   []struct {
				Used      int  `json:"used"`
				Available bool `json:"available"`
			} `json:"slots"`
		}
		r.decode(t, &avail)
		if avail.QueueID != "q1" || len(avail.Slots) != 4 || avail.Slots[0].Used != 1 || avail.Slots[0].Available || !avail.Slots[1].Available {
			t.Fatalf("availability = %s", r.body)
		}

		// A reschedule into a full slot is refused (capacity 1, the other
		// reservation holds slot 4); into a free one it moves.
		r = b.do(t, "PATCH", link, false, map[string]any{"time_slot_matrix": []any{b.slot(4)}})
		wantStatus(t, r, 409)
		var p problem
		r.decode(t, &p)
		if p.Code != "conflict" {
			t.Fatalf("full slot: %s", r.body)
		}
		r = b.do(t, "PATCH", link, false, map[string]any{"reason": "x", "time_slot_matrix": []any{b.slot(2)}})
		wantStatus(t, r, 400)
		r = b.do(t, "PATCH", link, false, map[string]any{"time_slot_matrix": []any{b.slot(2)}})
		wantStatus(t, r, 200)
		r.decode(t, &v)
		if v.ReschedulesLeft != 2 || v.TimeSlot["start"] != b.base.Add(30*time.Minute).In(mustLoc("America/New_York")).Format(time.RFC3339) {
			t.Fatalf("rescheduled = %s", r.body)
		}
		got, err := b.store.FindReservationByID(context.Background(), c.ID)
		if err != nil || !got.Slot.Start.Equal(b.base.Add(30*time.Minute)) || got.SelfReschedules != 1 {
			t.Fatalf("stored after reschedule: %+v, %v", got, err)
		}
		usage, _ := b.store.SlotUsage(context.Background(), "q1", b.base, b.base.Add(2*time.Hour))
		if usage[b.base.UnixMicro()] != 0 || usage[b.base.Add(30*time.Minute).UnixMicro()] != 1 {
			t.Fatalf("slot usage after the reschedule: %v", usage)
		}

		// Opt-out: this reservation, the number's other one and its next.
		r = b.do(t, "POST", link+"/opt-out", false, nil)
		wantStatus(t, r, 200)
		r.decode(t, &v)
		if !v.SMSOptOut {
			t.Fatalf("opt-out = %s", r.body)
		}
		o, err := b.store.FindReservationByID(context.Background(), other.ID)
		if err != nil || !o.SMSOptOut {
			t.Fatalf("the number's other reservation after the opt-out: %+v, %v", o, err)
		}
		if later := b.create(t, number, 8); !later.SMSOptOut {
			t.Fatalf("a later create of the opted-out number is not opted out")
		}
		if fresh := b.create(t, "+14155550188", 9); fresh.SMSOptOut {
			t.Fatalf("another number's create is opted out")
		}

		r = b.do(t, "DELETE", link, false, nil)
		wantStatus(t, r, 200)
		r.decode(t, &v)
		if v.Status != "canceled" || v.MayCancel || v.MayReschedule {
			t.Fatalf("canceled = %s", r.body)
		}

		// Every change through the link is an event of origin customer;
		// no event, log line or audit entry holds the token or its digest.
		evs, err := b.store.FindStoredEvents(context.Background(), 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		var customer []string
		for _, e := range evs {
			if e.ReservationID == c.ID && e.Origin == reservation.OriginCustomer {
				customer = append(customer, e.Type)
			}
			raw := e.AppendJSONWithSubject(nil, e.Subject)
			for _, secret := range []string{c.ManageToken, selfservice.Digest(c.ManageToken), other.ManageToken} {
				if bytes.Contains(raw, []byte(secret)) {
					t.Fatalf("event %d holds a link's token or digest: %s", e.Seq, raw)
				}
			}
		}
		want := []string{reservation.EventRescheduled, reservation.EventUpdated, reservation.EventCanceled}
		if fmt.Sprint(customer) != fmt.Sprint(want) {
			t.Fatalf("customer events = %v, want %v", customer, want)
		}
		audits, err := b.store.FindAuditEntries(context.Background(), 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		logs := b.logs.String()
		for _, a := range audits {
			logs += a.Detail + a.Target + a.Actor
		}
		if !strings.Contains(logs, "reservation rescheduled by the customer") {
			t.Fatalf("no log of the customer's reschedule captured: %s", logs)
		}
		for _, secret := range []string{c.ManageToken, other.ManageToken, selfservice.Digest(c.ManageToken), number} {
			if strings.Contains(logs, secret) {
				t.Fatalf("the logs or the audit log hold %q", secret)
			}
		}
	})
}

func mustLoc(name string) *time.Location {
	l, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return l
}

// TestSelfServicePolicy: past max_reschedules and past the cutoff the
// customer's changes answer 409 change_not_allowed saying which; past the
// slot's end plus the link's lifetime the link answers 410.
func TestSelfServicePolicy(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, dsn string) {
		b := setup(t, dsn, options{policy: reservation.SelfPolicy{MaxReschedules: 1, Cutoff: 30 * time.Minute}})
		c := b.create(t, "+14155550100", 0)
		r := b.do(t, "PATCH", c.api(), false, map[string]any{"time_slot_matrix": []any{b.slot(1)}})
		wantStatus(t, r, 200)
		r = b.do(t, "PATCH", c.api(), false, map[string]any{"time_slot_matrix": []any{b.slot(2)}})
		wantStatus(t, r, 409)
		var p problem
		r.decode(t, &p)
		if p.Code != "change_not_allowed" || p.Reason != "max_reschedules" || !strings.Contains(p.Detail, "max_reschedules") {
			t.Fatalf("past max_reschedules: %s", r.body)
		}
		if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
			t.Errorf("Content-Type %q", ct)
		}
		var v view
		r = b.do(t, "GET", c.api(), false, nil)
		r.decode(t, &v)
		if v.MayReschedule || !v.MayCancel || v.ReschedulesLeft != 0 {
			t.Fatalf("after the last reschedule: %s", r.body)
		}

		// The slot is now base+15m; the cutoff 30 minutes before it.
		slot := b.base.Add(15 * time.Minute)
		b.set(slot.Add(-29 * time.Minute))
		r = b.do(t, "DELETE", c.api(), false, nil)
		wantStatus(t, r, 409)
		r.decode(t, &p)
		if p.Code != "change_not_allowed" || p.Reason != "cutoff" || !strings.Contains(p.Detail, "cutoff") {
			t.Fatalf("past the cutoff: %s", r.body)
		}
		r = b.do(t, "GET", c.api(), false, nil)
		wantStatus(t, r, 200)
		r.decode(t, &v)
		if v.MayCancel || v.MayReschedule {
			t.Fatalf("past the cutoff: %s", r.body)
		}
		got, _ := b.store.FindReservationByID(context.Background(), c.ID)
		if got.Status != reservation.StatusScheduled {
			t.Fatalf("a refused cancel changed the reservation: %s", got.Status)
		}

		// The link lives until the slot's end plus link_ttl (1h here).
		b.set(slot.Add(15*time.Minute + time.Hour - time.Second))
		wantStatus(t, b.do(t, "GET", c.api(), false, nil), 200)
		b.set(slot.Add(15*time.Minute + time.Hour))
		r = b.do(t, "GET", c.api(), false, nil)
		wantStatus(t, r, 410)
		r.decode(t, &p)
		if p.Code != "gone" {
			t.Fatalf("expired: %s", r.body)
		}
		wantStatus(t, b.do(t, "POST", c.api()+"/opt-out", false, nil), 410)
	})
}

// TestSelfServiceBadLinks: an unknown token, a tampered one, one of a
// reservation erased by retention and one of another shape answer the
// same 404 body (but for the request's id), on every route.
func TestSelfServiceBadLinks(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, dsn string) {
		b := setup(t, dsn, options{publicURL: "https://callbacks.example.com", policy: reservation.SelfPolicy{MaxReschedules: 3}})
		c := b.create(t, "+14155550100", 0)
		if want := "https://callbacks.example.com/manage/" + c.ManageToken; c.ManageURL != want {
			t.Fatalf("manage_url = %q, want %q", c.ManageURL, want)
		}
		erased := b.create(t, "+14155550102", 1)
		wantStatus(t, b.do(t, "DELETE", "/api/v2/callbacks/"+erased.ID, true, nil), 200)
		if n, err := b.store.EraseNumbers(context.Background(), time.Now().Add(time.Hour)); err != nil || n != 1 {
			t.Fatalf("erase: %d, %v", n, err)
		}
		tok := []byte(c.ManageToken)
		tok[len(tok)-1] ^= 1 // still base64url, another token
		tampered := string(tok)
		tok = []byte(c.ManageToken)
		tok[0], tok[1] = tok[1], tok[0]
		swapped := string(tok)
		links := map[string]string{
			"unknown":  strings.Repeat("A", 43),
			"tampered": tampered,
			"swapped":  swapped,
			"erased":   erased.ManageToken,
			"short":    "abc",
			"long":     c.ManageToken + "A",
		}
		var first string
		for name, token := range links {
			for _, route := range []struct{ method, suffix string }{{"GET", ""}, {"GET", "/availability"}, {"DELETE", ""}, {"POST", "/opt-out"}} {
				r := b.do(t, route.method, "/api/v2/self/"+token+route.suffix, false, nil)
				wantStatus(t, r, 404)
				body := withoutInstance(t, r)
				if first == "" {
					first = body
				}
				if body != first {
					t.Fatalf("%s %s (%s) answered %s, another 404 answered %s", route.method, route.suffix, name, body, first)
				}
			}
			r := b.do(t, "PATCH", "/api/v2/self/"+token, false, map[string]any{"time_slot_matrix": []any{b.slot(2)}})
			wantStatus(t, r, 404)
			if body := withoutInstance(t, r); body != first {
				t.Fatalf("PATCH (%s) answered %s, want %s", name, body, first)
			}
		}
		if strings.Contains(first, "reservation") && !strings.Contains(first, "does not open any reservation") {
			t.Fatalf("404 body hints: %s", first)
		}
		// The real one still opens.
		wantStatus(t, b.do(t, "GET", c.api(), false, nil), 200)
	})
}

// TestSelfServiceRateLimit: a link's requests beyond its burst, and a
// source address's beyond its own, answer 429 with Retry-After.
func TestSelfServiceRateLimit(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, dsn string) {
		b := setup(t, dsn, options{policy: reservation.SelfPolicy{MaxReschedules: 3},
			limits: selfservice.Limits{PerToken: 1.0 / 60, PerTokenBurst: 3, PerAddress: 1.0 / 60, PerAddressBurst: 5}})
		c := b.create(t, "+14155550100", 0)
		for range 3 {
			wantStatus(t, b.do(t, "GET", c.api(), false, nil), 200)
		}
		r := b.do(t, "GET", c.api(), false, nil)
		wantStatus(t, r, 429)
		var p problem
		r.decode(t, &p)
		if p.Code != "rate_limited" || r.header.Get("Retry-After") == "" {
			t.Fatalf("over the per-token limit: %v %s", r.header, r.body)
		}
		// Other tokens from the same address: two more, then the
		// address's burst (5, of which the four above took four... and
		// the refused one) is spent.
		unknown := "/api/v2/self/" + strings.Repeat("B", 43)
		wantStatus(t, b.do(t, "GET", unknown, false, nil), 404)
		r = b.do(t, "GET", "/api/v2/self/"+strings.Repeat("C", 43), false, nil)
		wantStatus(t, r, 429)
		if r.header.Get("Retry-After") == "" {
			t.Fatal("no Retry-After")
		}
		// A minute later the link has one request again.
		b.set(b.now().Add(61 * time.Second))
		wantStatus(t, b.do(t, "GET", c.api(), false, nil), 200)
	})
}

// TestSelfServiceRace: concurrent reschedules through one link under
// max_reschedules 2 move it exactly twice.
func TestSelfServiceRace(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, dsn string) {
		b := setup(t, dsn, options{policy: reservation.SelfPolicy{MaxReschedules: 2}})
		c := b.create(t, "+14155550100", 0)
		var wg sync.WaitGroup
		var ok, refused atomic.Int32
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := b.do(t, "PATCH", c.api(), false, map[string]any{"time_slot_matrix": []any{b.slot(1 + i)}})
				switch r.status {
				case 200:
					ok.Add(1)
				case 409:
					refused.Add(1)
				default:
					t.Errorf("PATCH: %d %s", r.status, r.body)
				}
			}()
		}
		wg.Wait()
		got, _ := b.store.FindReservationByID(context.Background(), c.ID)
		if got.SelfReschedules != 2 || ok.Load() != 2 || refused.Load() != 6 {
			t.Fatalf("%d reschedules succeeded, %d refused; stored count %d (max 2)", ok.Load(), refused.Load(), got.SelfReschedules)
		}
	})
}

// TestSecretShared: with no self_service.secret, the first process's
// generated secret is the one every later process (or restart) gets, so a
// link made by one opens on the others.
func TestSecretShared(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		var got []string
		for _, generated := range []string{"first-secret", "second-secret"} {
			s, err := storage.Connect(ctx, dsn, storage.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			sec, err := s.SelfServiceSecret(ctx, generated)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, sec)
			_ = s.Close()
		}
		if got[0] != "first-secret" || got[1] != "first-secret" {
			t.Fatalf("secrets %q, want the first process's twice", got)
		}
		r := reservation.Reservation{ID: "cb_1"}
		a := selfservice.NewLinks(got[0], "https://x.example", 0)
		a.Seal(&r)
		if b := selfservice.NewLinks(got[1], "https://x.example", 0); b.URL(r) != a.URL(r) || a.URL(r) == "" ||
			selfservice.Digest(b.Token(r)) != r.SelfDigest {
			t.Fatalf("two processes disagree on the link: %q, %q", a.URL(r), b.URL(r))
		}
		if selfservice.NewLinks(got[0], "", 0).URL(r) != "" {
			t.Fatal("URL without public_url is not empty")
		}
	})
}

// TestOptOutRace: an opt-out racing creates of the same number in another
// process (a second store on the database) leaves no reservation of the
// number opted in.
func TestOptOutRace(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, dsn string) {
		b := setup(t, dsn, options{policy: reservation.SelfPolicy{MaxReschedules: 3}})
		other, err := storage.Connect(context.Background(), dsn, storage.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = other.Close() })
		const number = "+14155550166"
		c := b.create(t, number, 0)
		var wg sync.WaitGroup
		wg.Go(func() { wantStatus(t, b.do(t, "POST", c.api()+"/opt-out", false, nil), 200) })
		for i := range 12 {
			wg.Go(func() {
				start := b.base.Add(time.Duration(1+i) * 15 * time.Minute)
				r := &reservation.Reservation{ClientID: "website", QueueID: "q1", TimeZone: "UTC", CallbackNumber: number,
					Channel: reservation.ChannelPreferences{Primary: "voice"}}
				cand := reservation.Candidate{Slot: reservation.Slot{Start: start, End: start.Add(15 * time.Minute)}, Bucket: start, Cap: 1}
				if _, err := other.CreateReservation(context.Background(), r, []reservation.Candidate{cand},
					reservation.Write{Actor: "website", Origin: reservation.OriginAPI}); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		rs, _, err := b.store.FindReservations(context.Background(), reservation.Filter{CallbackNumber: number, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		if len(rs) != 13 {
			t.Fatalf("%d reservations, want 13", len(rs))
		}
		for _, r := range rs {
			if !r.SMSOptOut {
				t.Fatalf("reservation %s of the opted-out number is not opted out", r.ID)
			}
		}
	})
}

// TestDuplicateAnswerHasNoLink: a lenient duplicate answers with the
// reservation the number already has, but never with its link: whoever
// typed the number in need not be the customer who booked.
func TestDuplicateAnswerHasNoLink(t *testing.T) {
	backends(t, func(t *testing.T, dsn string) {
		b := setup(t, dsn, options{publicURL: "https://callbacks.example.com", policy: reservation.SelfPolicy{MaxReschedules: 3},
			admission: reservation.Admission{Duplicates: reservation.DuplicatesLenient}})
		first := b.create(t, "+14155550100", 0)
		if first.ManageToken == "" {
			t.Fatal("the first create has no manage_token")
		}
		body := map[string]any{"callback_number": "+14155550100", "queue_id": "q1", "reason": "billing",
			"time_slot_matrix":    []any{b.slot(2)},
			"channel_preferences": map[string]any{"primary": "voice", "fallback": "sms", "allow_sms": true}}
		r := b.do(t, "POST", "/api/v2/callbacks", true, body)
		wantStatus(t, r, http.StatusOK)
		if got := r.header.Get("Slotline-Duplicate-Of"); got == "" {
			t.Errorf("no Slotline-Duplicate-Of header: %v", r.header)
		}
		if bytes.Contains(r.body, []byte("manage_")) || bytes.Contains(r.body, []byte(first.ManageToken)) {
			t.Errorf("the duplicate's answer carries the link: %s", r.body)
		}
	})
}
