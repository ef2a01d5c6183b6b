package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/slotline/slotline/internal/auth"
	"github.com/slotline/slotline/internal/booking"
	"github.com/slotline/slotline/internal/config"
	"github.com/slotline/slotline/internal/fakeclock"
	"github.com/slotline/slotline/internal/httpapi"
	"github.com/slotline/slotline/internal/metrics"
	"github.com/slotline/slotline/internal/reservation"
	"github.com/slotline/slotline/internal/schedule"
	"github.com/slotline/slotline/internal/storage"
	"github.com/slotline/slotline/internal/storage/storagetest"
)

// admissionServer is a server over a real socket whose two queues,
// queue_a and queue_b (UTC, open 24/7, capacity 100), both have the
// admission and number rules given; its booking clock is clock.
type admissionServer struct {
	*specBundle
	clock   *fakeclock.Clock
	metrics *metrics.Metrics
	dsn     string
	partner string // a token of another website, isolated from website
	ops     string // a token with callback:admin
}

func newAdmissionServer(t *testing.T, doc *openapiDoc, dsn string, clock *fakeclock.Clock, adm reservation.Admission, rules *reservation.NumberRules) *admissionServer {
	t.Helper()
	ctx := context.Background()
	store, err := storage.Open(ctx, dsn, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	var queues []*booking.Queue
	for _, id := range []string{"queue_a", "queue_b"} {
		queues = append(queues, &booking.Queue{ID: id, Name: id, TimeZone: "UTC", NumberRules: rules, Admission: adm,
			Calendar: &schedule.Calendar{Location: time.UTC, SlotMinutes: 15, Capacity: 100, AlwaysOpen: true, Horizon: 30 * 24 * time.Hour}})
	}
	clients := []*auth.Client{
		auth.NewClient("website", websiteSecret, config.Scopes[:4], 0, 0),
		auth.NewClient("partner", partnerSecret, config.Scopes[:4], 0, 0),
		auth.NewClient("ops", opsSecret, config.Scopes, 0, 0),
	}
	m := metrics.New()
	book := booking.New(store, queues, booking.Options{Now: clock.Now, Observer: m})
	srv := newTestServer(t, httpapi.Deps{Booking: book, Auth: auth.NewService(store, clients, time.Hour), Store: store,
		Metrics: m, Version: "test"})
	if doc == nil {
		doc = loadDoc(t)
	}
	b := &specBundle{doc: doc, srv: srv, store: store, book: book, clients: clients, now: clock.Now()}
	s := &admissionServer{specBundle: b, clock: clock, metrics: m, dsn: dsn}
	s.website = b.token(t, "website", websiteSecret, "")
	s.partner = b.token(t, "partner", partnerSecret, "")
	s.ops = b.token(t, "ops", opsSecret, "")
	return s
}

// sqliteDSN is a fresh SQLite database of the test.
func sqliteDSN(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "admission.db") }

// body is a create of number on queue at the i-th bucket two days after
// the clock's start.
func (s *admissionServer) body(number, queue string, i int, extra ...any) map[string]any {
	start := s.now.UTC().Truncate(time.Hour).Add(49*time.Hour + time.Duration(i)*15*time.Minute)
	b := map[string]any{"callback_number": number, "queue_id": queue, "time_slot_matrix": []any{slotAt(start, 15*time.Minute, time.UTC)}}
	for j := 0; j+1 < len(extra); j += 2 {
		b[extra[j].(string)] = extra[j+1]
	}
	return b
}

// postJSON creates as token without checking the answer (for many
// goroutines at once).
func postJSON(srv *httptest.Server, token string, body map[string]any) (*specResponse, error) {
	raw, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequest("POST", srv.URL+"/api/v2/callbacks", bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := srv.Client().Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	return &specResponse{status: res.StatusCode, header: res.Header, body: data}, nil
}

// newTestServer serves the API over a real socket until the test ends.
func newTestServer(t *testing.T, deps httpapi.Deps) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(httpapi.NewServer(deps))
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
	})
	return srv
}

// admissionProblem is the part of an admission refusal the tests read.
type admissionProblem struct {
	Code        string            `json:"code"`
	Errors      map[string]string `json:"errors"`
	DuplicateOf *string           `json:"duplicate_of"`
	RetryAfter  int               `json:"retry_after"`
}

func (r *specResponse) admission(t testing.TB) admissionProblem {
	t.Helper()
	var p admissionProblem
	r.decode(t, &p)
	return p
}

func TestAdmissionOnSQLite(t *testing.T) {
	t.Parallel()
	testAdmission(t, sqliteDSN)
}

func TestAdmissionOnPostgres(t *testing.T) {
	t.Parallel()
	testAdmission(t, func(t *testing.T) string { return storagetest.PostgresDSN(t) })
}

func testAdmission(t *testing.T, dsn func(t *testing.T) string) {
	start := time.Now().UTC().Truncate(time.Minute)
	lenient := reservation.Admission{Duplicates: reservation.DuplicatesLenient}
	strict := reservation.Admission{Duplicates: reservation.DuplicatesStrict}
	t.Run("NumberRules", func(t *testing.T) {
		t.Parallel()
		rules := &reservation.NumberRules{Countries: []string{"US", "GB"}, Block: []string{"+1212"}, RefuseTypes: []string{"premium_rate", "shared_cost", "toll_free"}}
		s := newAdmissionServer(t, nil, dsn(t), fakeclock.New(start), reservation.Admission{}, rules)
		for _, tt := range []struct{ number, why string }{
			{"+33142685300", "country FR is not allowed"},
			{"+19002345678", "premium rate numbers are refused"},
			{"+18002345678", "toll free numbers are refused"},
			{"+12125550100", "blocked prefix +1212"},
		} {
			r := s.do(t, http.StatusBadRequest, "POST", "/api/v2/callbacks", s.website, s.body(tt.number, "queue_a", 0))
			p := r.admission(t)
			if p.Code != reservation.ENOTALLOWED || p.Errors["callback_number"] != tt.why {
				t.Errorf("%s: code %q, errors %v; want number_not_allowed, callback_number %q", tt.number, p.Code, p.Errors, tt.why)
			}
		}
		s.do(t, http.StatusCreated, "POST", "/api/v2/callbacks", s.website, s.body("+14155550100", "queue_a", 0))
		s.do(t, http.StatusCreated, "POST", "/api/v2/callbacks", s.website, s.body("+442079460000", "queue_a", 0))
		// Availability is what the two admitted creates left.
		var avail struct {
			Slots []struct {
				Used int `json:"used"`
			} `json:"slots"`
		}
		from := s.now.UTC().Truncate(time.Hour).Add(49 * time.Hour).Format(time.RFC3339)
		s.do(t, http.StatusOK, "GET", "/api/v2/queues/queue_a/availability?from="+from+"&to="+
			s.now.UTC().Truncate(time.Hour).Add(50*time.Hour).Format(time.RFC3339), s.website, nil).decode(t, &avail)
		if len(avail.Slots) == 0 || avail.Slots[0].Used != 2 {
			t.Errorf("availability %+v, want 2 used in the first slot", avail.Slots)
		}
		if got := counter(t, s.metrics, "rejected", reservation.ENOTALLOWED); got != 4 {
			t.Errorf("admissions rejected number_not_allowed = %v, want 4", got)
		}
	})
	t.Run("Lenient", func(t *testing.T) {
		t.Parallel()
		s := newAdmissionServer(t, nil, dsn(t), fakeclock.New(start), lenient, nil)
		first := s.do(t, http.StatusCreated, "POST", "/api/v2/callbacks", s.website, s.body("+14155550100", "queue_a", 0, "callback_id", "first")).reservation(t)
		dup := s.do(t, http.StatusOK, "POST", "/api/v2/callbacks", s.website, s.body("+14155550100", "queue_a", 3, "callback_id", "second"))
		if got := dup.header.Get("Slotline-Duplicate-Of"); got != first.ID || dup.reservation(t).ID != first.ID {
			t.Errorf("duplicate: header %q, body id %q; want %s", got, dup.reservation(t).ID, first.ID)
		}
		// The replay of the first create answers as before.
		replay := s.do(t, http.StatusCreated, "POST", "/api/v2/callbacks", s.website, s.body("+14155550100", "queue_a", 0, "callback_id", "first"))
		if replay.header.Get("Idempotent-Replayed") != "true" || replay.header.Get("Slotline-Duplicate-Of") != "" {
			t.Errorf("replay headers %v", replay.header)
		}
		// Another queue is another scope.
		s.do(t, http.StatusCreated, "POST", "/api/v2/callbacks", s.website, s.body("+14155550100", "queue_b", 0))
		// Another client's active reservation is not shown: a 409 without its id.
		p := s.do(t, http.StatusConflict, "POST", "/api/v2/callbacks", s.partner, s.body("+14155550100", "queue_a", 0)).admission(t)
		if p.Code != reservation.EDUPLICATE || p.DuplicateOf != nil {
			t.Errorf("partner's duplicate: %+v, want duplicate without duplicate_of", p)
		}
		var list struct {
			Items []reservationView `json:"items"`
		}
		s.do(t, http.StatusOK, "GET", "/api/v2/callbacks?queue_id=queue_a", s.website, nil).decode(t, &list)
		if len(list.Items) != 1 {
			t.Errorf("queue_a holds %d reservations, want 1", len(list.Items))
		}
		// Once canceled it is no longer active.
		s.do(t, http.StatusOK, "DELETE", "/api/v2/callbacks/"+first.ID, s.website, nil)
		s.do(t, http.StatusCreated, "POST", "/api/v2/callbacks", s.website, s.body("+14155550100", "queue_a", 3, "callback_id", "second"))
		if got := counter(t, s.metrics, "duplicate", ""); got != 1 {
			t.Errorf("admissions duplicate = %v, want 1", got)
		}
	})
	t.Run("ScopeAll", func(t *testing.T) {
		t.Parallel()
		s := newAdmissionServer(t, nil, dsn(t), fakeclock.New(start), reservation.Admission{Duplicates: reservation.DuplicatesLenient, Scope: reservation.ScopeAll}, nil)
		first := s.do(t, http.StatusCreated, "POST", "/api/v2/callbacks", s.website, s.body("+14155550100", "queue_a", 0)).reservation(t)
		dup := s.do(t, http.StatusOK, "POST", "/api/v2/callbacks", s.website, s.body("+14155550100", "queue_b", 0))
		if dup.header.Get("Slotline-Duplicate-Of") != first.ID {
			t.Errorf("Slotline-Duplicate-Of %q, want %s", dup.header.Get("Slotline-Duplicate-Of"), first.ID)
		}
	})
	t.Run("Strict", func(t *testing.T) {
		t.Parallel()
		s := newAdmissionServer(t, nil, dsn(t), fakeclock.New(start), strict, nil)
		first := s.do(t, http.StatusCreated, "POST", "/api/v2/callbacks", s.website, s.body("+14155550100", "queue_a", 0, "callback_id", "first")).reservation(t)
		p := s.do(t, http.StatusConflict, "POST", "/api/v2/callbacks", s.website, s.body("+14155550100", "queue_a", 1)).admission(t)
		if p.Code != reservation.EDUPLICATE || p.DuplicateOf == nil || *p.DuplicateOf != first.ID {
			t.Errorf("strict duplicate: %+v, want duplicate_of %s", p, first.ID)
		}
		if p := s.do(t, http.StatusConflict, "POST", "/api/v2/callbacks", s.ops, s.body("+14155550100", "queue_a", 1)).admission(t); p.DuplicateOf == nil {
			t.Errorf("callback:admin's duplicate: %+v, want duplicate_of", p)
		}
		if p := s.do(t, http.StatusConflict, "POST", "/api/v2/callbacks", s.partner, s.body("+14155550100", "queue_a", 1)).admission(t); p.DuplicateOf != nil {
			t.Errorf("partner's duplicate: %+v, want no duplicate_of", p)
		}
		s.do(t, http.StatusCreated, "POST", "/api/v2/callbacks", s.website, s.body("+14155550100", "queue_a", 0, "callback_id", "first"))
		// 50 concurrent creates of another number: exactly one admitted.
		counts := s.hammer(t, 50, func(i int) map[string]any { return s.body("+14155550111", "queue_a", i%5) })
		if counts[http.StatusCreated] != 1 || counts[http.StatusConflict] != 49 {
			t.Errorf("50 concurrent creates under strict: %v, want 1 × 201 and 49 × 409", counts)
		}
	})
	t.Run("Off", func(t *testing.T) {
		t.Parallel()
		s := newAdmissionServer(t, nil, dsn(t), fakeclock.New(start), reservation.Admission{Duplicates: reservation.DuplicatesOff}, nil)
		s.do(t, http.StatusCreated, "POST", "/api/v2/callbacks", s.website, s.body("+14155550100", "queue_a", 0))
		s.do(t, http.StatusCreated, "POST", "/api/v2/callbacks", s.website, s.body("+14155550100", "queue_a", 0))
	})
	t.Run("PerNumber", func(t *testing.T) {
		t.Parallel()
		clock := fakeclock.New(start)
		s := newAdmissionServer(t, nil, dsn(t), clock, reservation.Admission{PerNumber: reservation.Limit{N: 3, Window: time.Hour}}, nil)
		counts := s.hammer(t, 20, func(i int) map[string]any { return s.body("+14155550100", "queue_a", i%4) })
		if counts[http.StatusCreated] != 3 || counts[http.StatusTooManyRequests] != 17 {
			t.Fatalf("20 concurrent creates under per_number 3/1h: %v, want 3 × 201 and 17 × 429", counts)
		}
		// Another number has its own count.
		s.do(t, http.StatusCreated, "POST", "/api/v2/callbacks", s.website, s.body("+14155550101", "queue_a", 0))
		clock.Advance(30 * time.Minute)
		r := s.do(t, http.StatusTooManyRequests, "POST", "/api/v2/callbacks", s.website, s.body("+14155550100", "queue_a", 0))
		if got := r.header.Get("Retry-After"); got != "1800" || r.admission(t).Code != reservation.ETHROTTLED || r.admission(t).RetryAfter != 1800 {
			t.Errorf("throttled after 30 min: Retry-After %q, %+v; want 1800", got, r.admission(t))
		}
		// The window rolls: the 20 counts of the start are out, the
		// refused one of 30 minutes later is in, so two more get in.
		clock.Advance(30*time.Minute + time.Second)
		s.do(t, http.StatusCreated, "POST", "/api/v2/callbacks", s.website, s.body("+14155550100", "queue_a", 0))
		s.do(t, http.StatusCreated, "POST", "/api/v2/callbacks", s.website, s.body("+14155550100", "queue_a", 0))
		s.do(t, http.StatusTooManyRequests, "POST", "/api/v2/callbacks", s.website, s.body("+14155550100", "queue_a", 0))
		if got := counter(t, s.metrics, "rejected", reservation.ETHROTTLED); got != 19 {
			t.Errorf("admissions rejected throttled = %v, want 19", got)
		}
	})
	t.Run("Replays", func(t *testing.T) {
		// A create's key is not looked up before its write: a replay must
		// still answer the stored response ahead of every refusal the
		// create itself would meet (a full slot, strict duplicates, a
		// candidate now in the past), count nothing for per_number, and a
		// key used with another body must still be refused.
		t.Parallel()
		clock := fakeclock.New(start)
		s := newAdmissionServer(t, nil, dsn(t), clock, reservation.Admission{Duplicates: reservation.DuplicatesStrict,
			PerNumber: reservation.Limit{N: 2, Window: 24 * time.Hour}}, nil)
		body := s.body("+14155550100", "queue_a", 0, "concurrency_limit", 1)
		first := s.do(t, http.StatusCreated, "POST", "/api/v2/callbacks", s.website, body, "Idempotency-Key", "k1").reservation(t)
		replays := func(what string) {
			t.Helper()
			for range 3 {
				r := s.do(t, http.StatusCreated, "POST", "/api/v2/callbacks", s.website, body, "Idempotency-Key", "k1")
				if r.header.Get("Idempotent-Replayed") != "true" || r.reservation(t).ID != first.ID {
					t.Fatalf("replay %s: Idempotent-Replayed %q, id %s; want true, %s", what, r.header.Get("Idempotent-Replayed"), r.reservation(t).ID, first.ID)
				}
			}
		}
		replays("into its full slot, under strict duplicates")
		other := s.body("+14155550100", "queue_a", 1)
		if p := s.do(t, http.StatusConflict, "POST", "/api/v2/callbacks", s.website, other, "Idempotency-Key", "k1").problem(t); p.Code != reservation.ECONFLICT || p.ReservationID != first.ID {
			t.Errorf("key reused with another body: %+v, want conflict naming %s", p, first.ID)
		}
		// Refused before its write (a number the rules refuse is not
		// configured here; an invalid slot is): the key is still found.
		past := s.body("+14155550100", "queue_a", -200)
		if p := s.do(t, http.StatusConflict, "POST", "/api/v2/callbacks", s.website, past, "Idempotency-Key", "k1").problem(t); p.Code != reservation.ECONFLICT {
			t.Errorf("key reused with a past slot: %+v, want conflict", p)
		}
		// per_number 2/24h counted the first create alone: once it is
		// canceled, the number gets a second one.
		s.do(t, http.StatusOK, "DELETE", "/api/v2/callbacks/"+first.ID, s.website, nil)
		s.do(t, http.StatusCreated, "POST", "/api/v2/callbacks", s.website, s.body("+14155550100", "queue_a", 2), "Idempotency-Key", "k2")
		// The first one's slot is now in the past: its replay still
		// answers the stored response.
		clock.Advance(50 * time.Hour)
		replays("of a slot now past")
		// Concurrent creates of one key: one reservation, every answer its.
		race := s.body("+14155550177", "queue_a", 12, "callback_id", "race") // after the clock's 50 h
		counts := s.hammer(t, 20, func(int) map[string]any { return race })
		var list struct {
			Items []reservationView `json:"items"`
		}
		s.do(t, http.StatusOK, "GET", "/api/v2/callbacks?queue_id=queue_a&limit=100", s.website, nil).decode(t, &list)
		n := 0
		for _, it := range list.Items {
			if it.CallbackID == "race" {
				n++
			}
		}
		if counts[http.StatusCreated] != 20 || n != 1 {
			t.Errorf("20 concurrent creates of one callback_id: %v and %d reservations, want 20 × 201 and 1", counts, n)
		}
	})
	t.Run("PerQueue", func(t *testing.T) {
		t.Parallel()
		clock := fakeclock.New(start)
		s := newAdmissionServer(t, nil, dsn(t), clock, reservation.Admission{PerQueue: reservation.Limit{N: 5, Window: time.Hour}}, nil)
		counts := s.hammer(t, 8, func(i int) map[string]any { return s.body(fmt.Sprintf("+1415555%04d", 200+i), "queue_a", 0) })
		if counts[http.StatusCreated] != 5 || counts[http.StatusTooManyRequests] != 3 {
			t.Fatalf("8 creates under per_queue 5/1h: %v", counts)
		}
		s.do(t, http.StatusCreated, "POST", "/api/v2/callbacks", s.website, s.body("+14155550300", "queue_b", 0))
		clock.Advance(30 * time.Minute)
		for i := range 3 {
			s.do(t, http.StatusTooManyRequests, "POST", "/api/v2/callbacks", s.website, s.body(fmt.Sprintf("+1415555%04d", 400+i), "queue_a", 0))
		}
		// Refused creates do not count for per_queue: five fit once the
		// first five are out of the window.
		clock.Advance(30*time.Minute + time.Second)
		for i := range 5 {
			s.do(t, http.StatusCreated, "POST", "/api/v2/callbacks", s.website, s.body(fmt.Sprintf("+1415555%04d", 500+i), "queue_a", 0))
		}
		s.do(t, http.StatusTooManyRequests, "POST", "/api/v2/callbacks", s.website, s.body("+14155550600", "queue_a", 0))
	})
}

// hammer sends n creates at once (body(i)) and counts the statuses.
func (s *admissionServer) hammer(t *testing.T, n int, body func(i int) map[string]any) map[int]int {
	t.Helper()
	return hammerServers(t, []*admissionServer{s}, n, body)
}

// hammerServers sends n creates at once, spread over the servers, and
// counts the statuses.
func hammerServers(t *testing.T, servers []*admissionServer, n int, body func(i int) map[string]any) map[int]int {
	t.Helper()
	var mu sync.Mutex
	counts := map[int]int{}
	var wg sync.WaitGroup
	gate := make(chan struct{})
	for i := range n {
		s := servers[i%len(servers)]
		wg.Go(func() {
			<-gate
			res, err := postJSON(s.srv, s.website, body(i))
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				t.Error(err)
				return
			}
			counts[res.status]++
		})
	}
	close(gate)
	wg.Wait()
	return counts
}

// TestAdmissionAcrossProcessesOnPostgres: two servers on one PostgreSQL
// schema share the duplicate rule's view and the throttles' counts.
func TestAdmissionAcrossProcessesOnPostgres(t *testing.T) {
	t.Parallel()
	dsn := storagetest.PostgresDSN(t)
	clock := fakeclock.New(time.Now().UTC().Truncate(time.Minute))
	adm := reservation.Admission{Duplicates: reservation.DuplicatesStrict, PerNumber: reservation.Limit{N: 3, Window: time.Hour},
		PerQueue: reservation.Limit{N: 10, Window: time.Hour}}
	servers := []*admissionServer{newAdmissionServer(t, nil, dsn, clock, adm, nil), newAdmissionServer(t, nil, dsn, clock, adm, nil)}
	counts := hammerServers(t, servers, 50, func(i int) map[string]any { return servers[0].body("+14155550100", "queue_a", i%5) })
	if counts[http.StatusCreated] != 1 || counts[http.StatusConflict] != 2 || counts[http.StatusTooManyRequests] != 47 {
		t.Errorf("50 creates of one number through two processes: %v, want 1 × 201, 2 × 409 (then per_number) and 47 × 429", counts)
	}
	counts = hammerServers(t, servers, 20, func(i int) map[string]any {
		return servers[0].body(fmt.Sprintf("+1415555%04d", 1000+i), "queue_a", i%5)
	})
	if counts[http.StatusCreated] != 9 || counts[http.StatusTooManyRequests] != 11 {
		t.Errorf("20 creates of new numbers through two processes, per_queue 10/1h with 1 used: %v, want 9 × 201", counts)
	}
}

// counter is the value of slotline_admissions_total{outcome, reason}.
func counter(t *testing.T, m *metrics.Metrics, outcome, reason string) float64 {
	t.Helper()
	var v dto.Metric
	if err := m.Admissions.WithLabelValues(outcome, reason).Write(&v); err != nil {
		t.Fatal(err)
	}
	return v.GetCounter().GetValue()
}

// testAdmissionConformance (a TestOpenAPIConformance subtest) produces
// each admission answer of POST /api/v2/callbacks against the document.
func testAdmissionConformance(t *testing.T, b *specBundle) {
	clock := fakeclock.New(b.now)
	rules := &reservation.NumberRules{Countries: []string{"US"}}
	lenient := newAdmissionServer(t, b.doc, sqliteDSN(t), clock, reservation.Admission{Duplicates: reservation.DuplicatesLenient}, rules)
	first := lenient.do(t, http.StatusCreated, "POST", "/api/v2/callbacks", lenient.website, lenient.body("+14155550100", "queue_a", 0)).reservation(t)
	if r := lenient.do(t, http.StatusOK, "POST", "/api/v2/callbacks", lenient.website, lenient.body("+14155550100", "queue_a", 1)); r.header.Get("Slotline-Duplicate-Of") != first.ID {
		t.Errorf("Slotline-Duplicate-Of = %q, want %s", r.header.Get("Slotline-Duplicate-Of"), first.ID)
	}
	lenient.do(t, http.StatusBadRequest, "POST", "/api/v2/callbacks", lenient.website, lenient.body("+442079460000", "queue_a", 0))
	strict := newAdmissionServer(t, b.doc, sqliteDSN(t), clock, reservation.Admission{Duplicates: reservation.DuplicatesStrict,
		PerNumber: reservation.Limit{N: 2, Window: time.Hour}}, nil)
	strict.do(t, http.StatusCreated, "POST", "/api/v2/callbacks", strict.website, strict.body("+14155550100", "queue_a", 0))
	strict.do(t, http.StatusConflict, "POST", "/api/v2/callbacks", strict.website, strict.body("+14155550100", "queue_a", 1))
	r := strict.do(t, http.StatusTooManyRequests, "POST", "/api/v2/callbacks", strict.website, strict.body("+14155550100", "queue_a", 2))
	if r.header.Get("Retry-After") != "3600" {
		t.Errorf("Retry-After = %q, want 3600", r.header.Get("Retry-After"))
	}
}
