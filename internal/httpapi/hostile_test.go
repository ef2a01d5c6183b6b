package httpapi_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slotline/slotline/internal/auth"
	"github.com/slotline/slotline/internal/booking"
	"github.com/slotline/slotline/internal/config"
	"github.com/slotline/slotline/internal/httpapi"
	"github.com/slotline/slotline/internal/jobs"
	"github.com/slotline/slotline/internal/netguard"
	"github.com/slotline/slotline/internal/schedule"
	"github.com/slotline/slotline/internal/storage"
	"github.com/slotline/slotline/internal/storage/storagetest"
	"github.com/slotline/slotline/internal/stream"
	"github.com/slotline/slotline/internal/webhook"
)

// ---------------------------------------------------------------------------
// Hostile input, over HTTP, on both backends. PostgreSQL refuses what SQLite
// keeps (NUL, invalid UTF-8): every input has to be judged at the edge, the
// same way on both, and never reach the database as a 500.

// logRecords is an slog.Handler that keeps the level and message of every
// record (and its err attribute), for tests that look at what was logged.
type logRecords struct {
	mu   sync.Mutex
	recs []logRecord
	// notify, when not nil, receives every record (without blocking).
	notify chan logRecord
}

type logRecord struct {
	level slog.Level
	msg   string
	err   string
}

func (h *logRecords) Enabled(context.Context, slog.Level) bool { return true }

func (h *logRecords) Handle(_ context.Context, r slog.Record) error {
	rec := logRecord{level: r.Level, msg: r.Message}
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "err" {
			rec.err = a.Value.String()
		}
		return true
	})
	h.mu.Lock()
	h.recs = append(h.recs, rec)
	h.mu.Unlock()
	if h.notify != nil {
		select {
		case h.notify <- rec:
		default:
		}
	}
	return nil
}

func (h *logRecords) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *logRecords) WithGroup(string) slog.Handler      { return h }

// atLeast returns the records of level or above.
func (h *logRecords) atLeast(level slog.Level) []logRecord {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []logRecord
	for _, r := range h.recs {
		if r.level >= level {
			out = append(out, r)
		}
	}
	return out
}

// hostileServer is the whole API (reservations, webhooks, the stream,
// calendars) on one database, with one queue (queue_12345, New York, open
// around the clock) and one client with every scope.
type hostileServer struct {
	srv     *httptest.Server
	store   *storage.Store
	logs    *logRecords
	token   string
	loc     *time.Location
	backend string
	n       int    // reservations made by create, one per bucket
	resID   string // a scheduled reservation
	epID    string // a webhook endpoint
	msgID   string // one of its deliveries
}

// newHostileServer starts the API on dsn ("" for a new SQLite file).
func newHostileServer(t *testing.T, dsn string) *hostileServer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	if dsn == "" {
		dsn = "sqlite:" + filepath.Join(t.TempDir(), "hostile.db")
	}
	store, err := storage.Open(ctx, dsn, storage.Options{})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	loc, _ := time.LoadLocation("America/New_York")
	queues := []*booking.Queue{{ID: "queue_12345", Name: "Support", TimeZone: loc.String(), Calendar: &schedule.Calendar{
		Location: loc, SlotMinutes: 15, Capacity: 50, AlwaysOpen: true, Horizon: 30 * 24 * time.Hour}}}
	// The job queue is open (deliveries and pings are queued) but never
	// started: nothing is sent anywhere.
	js := jobs.New(store.JobDriver(), jobs.Config{})
	disp := webhook.New(webhook.Config{Store: store, Jobs: js})
	store.OnEvents(disp.OnEvents)
	if err := js.Open(ctx); err != nil {
		cancel()
		store.Close()
		t.Fatal(err)
	}
	hub := stream.NewHub(store, nil, 0)
	var wg sync.WaitGroup
	wg.Go(func() { _ = hub.Run(ctx) })
	clients := []*auth.Client{auth.NewClient("website", websiteSecret, config.Scopes, 0, 0)}
	authSvc := auth.NewService(store, clients, time.Hour)
	logs := &logRecords{notify: make(chan logRecord, 256)}
	srv := httptest.NewUnstartedServer(httpapi.NewServer(httpapi.Deps{
		Booking: booking.New(store, queues, booking.Options{}), Auth: authSvc, Store: store, Version: "test",
		Logger: slog.New(logs), Stream: stream.NewServer(hub, store, nil),
		Webhooks:   webhook.NewEndpoints(store, func(u string) string { return netguard.Policy{}.CheckURL(u, false) }, []string{"queue_12345"}),
		Dispatcher: disp,
	}))
	srv.Config.BaseContext = func(net.Listener) context.Context { return ctx }
	srv.Start()
	t.Cleanup(func() {
		cancel()
		srv.CloseClientConnections()
		srv.Close()
		wg.Wait()
		store.Close()
	})
	c, _ := authSvc.Authenticate("website", websiteSecret)
	tok, _, err := authSvc.Issue(ctx, c, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := &hostileServer{srv: srv, store: store, logs: logs, token: tok, loc: loc, backend: store.Backend()}

	// The objects the cases aim at: an endpoint, then a reservation (whose
	// event gives the endpoint a delivery).
	r := h.send(t, "POST", "/api/v2/webhooks", `{"name":"crm","url":"https://hooks.example.com/in"}`, nil)
	if r.status != http.StatusCreated {
		t.Fatalf("create endpoint: %d %s", r.status, r.body)
	}
	h.epID = r.json(t)["id"].(string)
	h.resID = h.create(t)
	r = h.send(t, "GET", "/api/v2/webhooks/"+h.epID+"/deliveries", "", nil)
	items, _ := r.json(t)["items"].([]any)
	if r.status != http.StatusOK || len(items) == 0 {
		t.Fatalf("deliveries: %d %s", r.status, r.body)
	}
	h.msgID = items[0].(map[string]any)["id"].(string)
	return h
}

type hostileResponse struct {
	status int
	header http.Header
	body   []byte
}

// short is the body, cut for a message.
func (r hostileResponse) short() string {
	if len(r.body) > 400 {
		return string(r.body[:400]) + "…"
	}
	return string(r.body)
}

func (r hostileResponse) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body is not a JSON object (%v): %s", err, r.body)
	}
	return m
}

// send makes a request with the client's token; rawPath is sent as
// written (its escapes too). header holds name, value pairs; a body is
// application/json unless they say otherwise, and an Authorization of ""
// sends none.
func (h *hostileServer) send(t *testing.T, method, rawPath, body string, header []string) hostileResponse {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, h.srv.URL+rawPath, rd)
	if err != nil {
		t.Fatalf("request %s %s: %v", method, rawPath, err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+h.token)
	for i := 0; i+1 < len(header); i += 2 {
		if header[i+1] == "" {
			req.Header.Del(header[i])
		} else {
			req.Header.Set(header[i], header[i+1])
		}
	}
	res, err := h.srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, rawPath, err)
	}
	defer res.Body.Close()
	var data []byte
	if res.StatusCode != http.StatusSwitchingProtocols {
		if data, err = io.ReadAll(res.Body); err != nil {
			t.Fatalf("%s %s: read body: %v", method, rawPath, err)
		}
	}
	return hostileResponse{status: res.StatusCode, header: res.Header, body: data}
}

// slot is a 15-minute slot i buckets after the next full hour plus a day.
func (h *hostileServer) slot(i int) (start, end string) {
	s := time.Now().Add(24 * time.Hour).Truncate(time.Hour).Add(time.Duration(i) * 15 * time.Minute).In(h.loc)
	return s.Format(time.RFC3339), s.Add(15 * time.Minute).Format(time.RFC3339)
}

// createBody is a valid create body whose reason is reason, for slot i.
func (h *hostileServer) createBody(id string, i int, reason string) string {
	start, end := h.slot(i)
	cid := ""
	if id != "" {
		cid = `"callback_id":"` + id + `",`
	}
	return `{` + cid + `"callback_number":"+14155550199","queue_id":"queue_12345",` +
		`"time_slot_matrix":[{"start":"` + start + `","end":"` + end + `"}],"reason":"` + reason + `",` +
		`"customer_name":"Ada","concurrency_limit":10,"channel_preferences":{"primary":"voice","fallback":"sms","allow_sms":true}}`
}

// create makes a reservation in a bucket of its own and returns its id.
func (h *hostileServer) create(t *testing.T) string {
	t.Helper()
	h.n++
	r := h.send(t, "POST", "/api/v2/callbacks", h.createBody(fmt.Sprintf("healthy-%d", h.n), 1000+h.n, "Healthy"), nil)
	if r.status != http.StatusCreated {
		t.Fatalf("a normal create: %d %s", r.status, r.body)
	}
	return r.json(t)["id"].(string)
}

// hostileCase is one hostile request. path, body and header values may
// hold {res}, {ep} and {msg}: the server's reservation, endpoint and
// delivery.
type hostileCase struct {
	name   string
	method string
	path   string
	body   string
	header []string
	// want is the status, when the case pins one (0: any below 500).
	want int
	// field, when set, must be named in the problem's errors.
	field string
	// upgrade sends the request as a WebSocket handshake.
	upgrade bool
}

// deep is n nested JSON arrays.
func deep(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }

// hostileCases are the hostile requests: huge and nested bodies, bad
// encodings, extreme dates and offsets, DST gaps, odd numbers, injection
// strings, bad cursors and limits, on every route.
func hostileCases(h *hostileServer) []hostileCase {
	// Each body books a bucket of its own: the ones accepted must not
	// fill one up for the next.
	start, end := h.slot(1)
	next := 0
	newBody := func(reason string) (body, start, end string) {
		next++
		start, end = h.slot(100 + next)
		return h.createBody("", 100+next, reason), start, end
	}
	body := func(reason string) string { b, _, _ := newBody(reason); return b }
	withSlot := func(s, e string) string {
		b, bs, be := newBody("x")
		return strings.Replace(strings.Replace(b, bs, s, 1), be, e, 1)
	}
	swap := func(old, new string) string { return strings.Replace(body("x"), old, new, 1) }
	form := []string{"Content-Type", "application/x-www-form-urlencoded", "Authorization", ""}
	basic := func(id, secret string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+secret))
	}
	good := basic("website", websiteSecret)
	upgrade := func(query string, want int, extra ...string) hostileCase {
		return hostileCase{name: "stream " + query, method: "GET", path: "/api/v2/callbacks/websocket" + query,
			header: extra, want: want, upgrade: true}
	}
	cs := []hostileCase{
		// The token endpoint (OAuth errors, not problems).
		{name: "token NUL client_id", method: "POST", path: "/oauth/token", body: "grant_type=client_credentials&client_id=web%00site&client_secret=x", header: form, want: 401},
		{name: "token 0xff secret", method: "POST", path: "/oauth/token", body: "client_id=website&client_secret=%ff", header: form, want: 401},
		{name: "token 0xff scope", method: "POST", path: "/oauth/token", body: "scope=%ff", header: append(slices.Clone(form), "Authorization", good), want: 400},
		{name: "token broken escape", method: "POST", path: "/oauth/token", body: "grant_type=%zz", header: append(slices.Clone(form), "Authorization", good), want: 400},
		{name: "token broken query", method: "POST", path: "/oauth/token?x=%zz", body: "grant_type=client_credentials", header: append(slices.Clone(form), "Authorization", good), want: 400},
		{name: "token huge form", method: "POST", path: "/oauth/token", body: "scope=" + strings.Repeat("a", 9000), header: append(slices.Clone(form), "Authorization", good), want: 400},
		{name: "token JSON body", method: "POST", path: "/oauth/token", body: `{"grant_type":"client_credentials"}`, header: []string{"Authorization", good}, want: 400},
		{name: "token Basic not base64", method: "POST", path: "/oauth/token", header: []string{"Authorization", "Basic !!!"}, want: 401},
		{name: "token Basic 0xff", method: "POST", path: "/oauth/token", header: []string{"Authorization", basic("\xff", "\xff\x00")}, want: 401},
		{name: "token grant password", method: "POST", path: "/oauth/token", body: "grant_type=password", header: append(slices.Clone(form), "Authorization", good), want: 400},

		// Create: sizes and shapes.
		{name: "create huge body", method: "POST", path: "/api/v2/callbacks", body: body(strings.Repeat("a", httpapi.MaxBodyBytes)), want: 413},
		{name: "create nested 5000", method: "POST", path: "/api/v2/callbacks", body: swap(`"x"`, deep(5000)), want: 400, field: "reason"},
		{name: "create nested 12000", method: "POST", path: "/api/v2/callbacks", body: swap(`"x"`, deep(12000)), want: 400, field: "body"},
		{name: "create nested objects", method: "POST", path: "/api/v2/callbacks", body: strings.Repeat(`{"a":`, 6000) + "1" + strings.Repeat("}", 6000), want: 400},
		{name: "create empty body", method: "POST", path: "/api/v2/callbacks", body: " ", want: 400, field: "body"},
		{name: "create null", method: "POST", path: "/api/v2/callbacks", body: "null", want: 400, field: "body"},
		{name: "create array", method: "POST", path: "/api/v2/callbacks", body: "[" + body("x") + "]", want: 400, field: "body"},
		{name: "create trailing garbage", method: "POST", path: "/api/v2/callbacks", body: body("x") + "x", want: 400, field: "body"},
		{name: "create BOM", method: "POST", path: "/api/v2/callbacks", body: "\ufeff" + body("x"), want: 400, field: "body"},
		{name: "create duplicate keys", method: "POST", path: "/api/v2/callbacks", body: swap(`"reason":"x"`, `"reason":"x","reason":"y"`)},
		{name: "create 21 slots", method: "POST", path: "/api/v2/callbacks", body: swap(`"time_slot_matrix":[`, `"time_slot_matrix":[`+strings.Repeat(`{"start":"`+start+`","end":"`+end+`"},`, 20)), want: 400, field: "time_slot_matrix"},
		{name: "create 600 slots", method: "POST", path: "/api/v2/callbacks", body: swap(`"time_slot_matrix":[`, `"time_slot_matrix":[`+strings.Repeat(`{"start":"`+start+`","end":"`+end+`"},`, 599)), want: 400, field: "time_slot_matrix"},
		{name: "create unknown field", method: "POST", path: "/api/v2/callbacks", body: swap(`"reason"`, `"__proto__":{},"reason"`), want: 400, field: "__proto__"},

		// Create: encodings. PostgreSQL answered 500 (SQLSTATE 22021) to NUL.
		{name: "create reason 0xff", method: "POST", path: "/api/v2/callbacks", body: body("a\xffb"), want: 400, field: "reason"},
		{name: "create reason truncated UTF-8", method: "POST", path: "/api/v2/callbacks", body: body("a\xe2\x82"), want: 400, field: "reason"},
		{name: "create overlong UTF-8", method: "POST", path: "/api/v2/callbacks", body: body("\xc0\xaf"), want: 400, field: "reason"},
		{name: "create surrogate bytes", method: "POST", path: "/api/v2/callbacks", body: body("\xed\xa0\x80"), want: 400, field: "reason"},
		{name: "create name 0xff", method: "POST", path: "/api/v2/callbacks", body: swap(`"Ada"`, "\"Ad\xffa\""), want: 400, field: "customer_name"},
		{name: "create key 0xff", method: "POST", path: "/api/v2/callbacks", body: swap(`"reason"`, "\"rea\xffson\""), want: 400, field: "body"},
		{name: "create lone surrogate escape", method: "POST", path: "/api/v2/callbacks", body: body(`\ud800`)},
		{name: "create queue NUL", method: "POST", path: "/api/v2/callbacks", body: swap(`"queue_12345"`, `"queue_12345\u0000"`), want: 400, field: "queue_id"},
		{name: "create reason NUL", method: "POST", path: "/api/v2/callbacks", body: body(`a\u0000b`), want: 400, field: "reason"},
		{name: "create callback_id NUL", method: "POST", path: "/api/v2/callbacks", body: swap(`{`, `{"callback_id":"cb\u0000",`), want: 400, field: "callback_id"},
		{name: "create name NUL", method: "POST", path: "/api/v2/callbacks", body: swap(`"Ada"`, `"\u0000"`), want: 400, field: "customer_name"},
		{name: "create number NUL", method: "POST", path: "/api/v2/callbacks", body: swap(`"+14155550199"`, `"+14155550199\u0000"`), want: 400, field: "callback_number"},
		{name: "create primary NUL", method: "POST", path: "/api/v2/callbacks", body: swap(`"primary":"voice"`, `"primary":"voice\u0000"`), want: 400, field: "channel_preferences.primary"},
		{name: "create start NUL", method: "POST", path: "/api/v2/callbacks", body: withSlot(start+`\u0000`, end), want: 400, field: "time_slot_matrix[0].start"},
		{name: "create Idempotency-Key 0xff", method: "POST", path: "/api/v2/callbacks", body: body("x"), header: []string{"Idempotency-Key", "key-\xff"}, want: 400, field: "Idempotency-Key"},
		{name: "create Idempotency-Key latin-1", method: "POST", path: "/api/v2/callbacks", body: body("x"), header: []string{"Idempotency-Key", "cl\xe9"}, want: 400, field: "Idempotency-Key"},
		{name: "create Idempotency-Key 256", method: "POST", path: "/api/v2/callbacks", body: body("x"), header: []string{"Idempotency-Key", strings.Repeat("k", 256)}, want: 400, field: "Idempotency-Key"},
		{name: "create Idempotency-Key UTF-8", method: "POST", path: "/api/v2/callbacks", body: body("x"), header: []string{"Idempotency-Key", "clé-ünïcode"}},
		{name: "create X-Request-Id 0xff", method: "POST", path: "/api/v2/callbacks", body: body("x"), header: []string{"X-Request-Id", "\xff\xfe"}},

		// Create: dates, offsets, DST.
		{name: "create offset +24:00", method: "POST", path: "/api/v2/callbacks", body: withSlot(start[:19]+"+24:00", end[:19]+"+24:00"), want: 400, field: "time_slot_matrix[0].start"},
		{name: "create offset +10:60", method: "POST", path: "/api/v2/callbacks", body: withSlot(start[:19]+"+10:60", end), want: 400, field: "time_slot_matrix[0].start"},
		{name: "create offset -23:59", method: "POST", path: "/api/v2/callbacks", body: withSlot(start, end[:19]+"-23:59"), want: 400, field: "time_slot_matrix[0].end"},
		{name: "create offset +14:00", method: "POST", path: "/api/v2/callbacks", body: withSlot(start[:19]+"+14:00", end[:19]+"+14:00")},
		{name: "create offset -12:00", method: "POST", path: "/api/v2/callbacks", body: withSlot(start[:19]+"-12:00", end[:19]+"-12:00")},
		{name: "create offset +99:00", method: "POST", path: "/api/v2/callbacks", body: withSlot(start[:19]+"+99:00", end), want: 400, field: "time_slot_matrix[0].start"},
		{name: "create year 0000", method: "POST", path: "/api/v2/callbacks", body: withSlot("0000-01-01T00:00:00Z", "0000-01-01T00:15:00Z"), want: 400},
		{name: "create year 0001 zero", method: "POST", path: "/api/v2/callbacks", body: withSlot("0001-01-01T00:00:00Z", "0001-01-01T00:15:00Z"), want: 400},
		{name: "create year 9999", method: "POST", path: "/api/v2/callbacks", body: withSlot("9999-12-31T23:00:00Z", "9999-12-31T23:15:00Z"), want: 400},
		{name: "create year 10000", method: "POST", path: "/api/v2/callbacks", body: withSlot("10000-01-01T00:00:00Z", "10000-01-01T00:15:00Z"), want: 400, field: "time_slot_matrix[0].start"},
		{name: "create hour 24", method: "POST", path: "/api/v2/callbacks", body: withSlot(start[:11]+"24:00:00Z", end), want: 400, field: "time_slot_matrix[0].start"},
		{name: "create leap second", method: "POST", path: "/api/v2/callbacks", body: withSlot(start[:17]+"60"+start[19:], end), want: 400},
		{name: "create DST gap", method: "POST", path: "/api/v2/callbacks", body: withSlot("2027-03-14T02:30:00-05:00", "2027-03-14T02:45:00-05:00"), want: 400},
		{name: "create DST overlap", method: "POST", path: "/api/v2/callbacks", body: withSlot("2026-11-01T01:30:00-04:00", "2026-11-01T01:30:00-05:00"), want: 400},
		{name: "create nanoseconds", method: "POST", path: "/api/v2/callbacks", body: withSlot(start[:19]+".999999999"+start[19:], end)},
		{name: "create 4h01 slot", method: "POST", path: "/api/v2/callbacks", body: withSlot("2030-01-01T10:00:00Z", "2030-01-01T14:01:00Z"), want: 400, field: "time_slot_matrix[0].end"},

		// Create: odd numbers.
		{name: "create limit 1e400", method: "POST", path: "/api/v2/callbacks", body: swap(`"concurrency_limit":10`, `"concurrency_limit":1e400`), want: 400, field: "concurrency_limit"},
		{name: "create limit -0", method: "POST", path: "/api/v2/callbacks", body: swap(`"concurrency_limit":10`, `"concurrency_limit":-0`), want: 400, field: "concurrency_limit"},
		{name: "create limit 2^53+1", method: "POST", path: "/api/v2/callbacks", body: swap(`"concurrency_limit":10`, `"concurrency_limit":9007199254740993`), want: 400, field: "concurrency_limit"},
		{name: "create limit 1.0", method: "POST", path: "/api/v2/callbacks", body: swap(`"concurrency_limit":10`, `"concurrency_limit":1.0`), want: 400, field: "concurrency_limit"},
		{name: "create limit 1e1", method: "POST", path: "/api/v2/callbacks", body: swap(`"concurrency_limit":10`, `"concurrency_limit":1e1`)},
		{name: "create limit string", method: "POST", path: "/api/v2/callbacks", body: swap(`"concurrency_limit":10`, `"concurrency_limit":"10"`), want: 400, field: "concurrency_limit"},
		{name: "create limit hex", method: "POST", path: "/api/v2/callbacks", body: swap(`"concurrency_limit":10`, `"concurrency_limit":0x10`), want: 400, field: "body"},
		{name: "create number plus only", method: "POST", path: "/api/v2/callbacks", body: swap(`"+14155550199"`, `"+"`), want: 400, field: "callback_number"},
		{name: "create number 40 digits", method: "POST", path: "/api/v2/callbacks", body: swap(`"+14155550199"`, `"+`+strings.Repeat("9", 40)+`"`), want: 400, field: "callback_number"},
		{name: "create number Arabic digits", method: "POST", path: "/api/v2/callbacks", body: swap(`"+14155550199"`, `"+١٤١٥٥٥٥٠١٩٩"`), want: 400, field: "callback_number"},
		{name: "create number as number", method: "POST", path: "/api/v2/callbacks", body: swap(`"+14155550199"`, `14155550199`), want: 400, field: "callback_number"},

		// Create: injection strings.
		{name: "create SQL in reason", method: "POST", path: "/api/v2/callbacks", body: body(`'; DROP TABLE reservations; --`), want: 201},
		{name: "create SQL in queue", method: "POST", path: "/api/v2/callbacks", body: swap(`"queue_12345"`, `"queue_12345' OR '1'='1"`), want: 400},
		{name: "create SQL in callback_id", method: "POST", path: "/api/v2/callbacks", body: swap(`{`, `{"callback_id":"x' OR 1=1 --",`), want: 400, field: "callback_id"},
		{name: "create HTML in name", method: "POST", path: "/api/v2/callbacks", body: swap(`"Ada"`, `"<script>alert(1)</script>"`)},
		{name: "create RTL override", method: "POST", path: "/api/v2/callbacks", body: swap(`"Ada"`, `"\u202egnp.exe"`)},
		{name: "create reason 501", method: "POST", path: "/api/v2/callbacks", body: body(strings.Repeat("é", 501)), want: 400, field: "reason"},
		{name: "create reason 500 emoji", method: "POST", path: "/api/v2/callbacks", body: body(strings.Repeat("😀", 500)), want: 201},
		{name: "create text/plain", method: "POST", path: "/api/v2/callbacks", body: body("x"), header: []string{"Content-Type", "text/plain"}, want: 415},
		{name: "create bad media type", method: "POST", path: "/api/v2/callbacks", body: body("x"), header: []string{"Content-Type", "application/json; ;;"}, want: 415},
		{name: "create charset latin1", method: "POST", path: "/api/v2/callbacks", body: body("x"), header: []string{"Content-Type", "application/json; charset=latin1"}},

		// List: filters, cursors, limits.
		{name: "list queue_id NUL", method: "GET", path: "/api/v2/callbacks?queue_id=queue_12345%00", want: 400, field: "queue_id"},
		{name: "list queue_id 0xff", method: "GET", path: "/api/v2/callbacks?queue_id=%ff", want: 400, field: "queue_id"},
		{name: "list queue NUL", method: "GET", path: "/api/v2/callbacks?queue=%00", want: 400, field: "queue"},
		{name: "list number NUL", method: "GET", path: "/api/v2/callbacks?callback_number=%2B14155550199%00", want: 400, field: "callback_number"},
		{name: "list number 0xff", method: "GET", path: "/api/v2/callbacks?callback_number=%ff", want: 400, field: "callback_number"},
		{name: "list cursor broken escape", method: "GET", path: "/api/v2/callbacks?cursor=%zz", want: 400, field: "cursor"},
		{name: "list cursor trailing %", method: "GET", path: "/api/v2/callbacks?limit=1&cursor=abc%", want: 400, field: "cursor"},
		{name: "list cursor NUL", method: "GET", path: "/api/v2/callbacks?cursor=%00", want: 400, field: "cursor"},
		{name: "list cursor garbage", method: "GET", path: "/api/v2/callbacks?cursor=not-a-cursor", want: 400, field: "cursor"},
		{name: "list cursor forged", method: "GET", path: "/api/v2/callbacks?cursor=" + base64.RawURLEncoding.EncodeToString([]byte("-9223372036854775808.9223372036854775807"))},
		{name: "list cursor huge", method: "GET", path: "/api/v2/callbacks?cursor=" + strings.Repeat("A", 5000), want: 400, field: "cursor"},
		{name: "list semicolon", method: "GET", path: "/api/v2/callbacks?limit=1;cursor=x", want: 400, field: "limit"},
		{name: "list unknown param 0xff", method: "GET", path: "/api/v2/callbacks?x=%ff", want: 400, field: "x"},
		{name: "list param name 0xff", method: "GET", path: "/api/v2/callbacks?%ff=1", want: 400, field: "query"},
		{name: "list repeated, one bad", method: "GET", path: "/api/v2/callbacks?queue_id=queue_12345&queue_id=%00", want: 400, field: "queue_id"},
		{name: "list long value", method: "GET", path: "/api/v2/callbacks?queue_id=" + strings.Repeat("q", 100000), want: 200},
		{name: "list limit 0", method: "GET", path: "/api/v2/callbacks?limit=0", want: 400, field: "limit"},
		{name: "list limit -1", method: "GET", path: "/api/v2/callbacks?limit=-1", want: 400, field: "limit"},
		{name: "list limit 501", method: "GET", path: "/api/v2/callbacks?limit=501", want: 400, field: "limit"},
		{name: "list limit 2^64", method: "GET", path: "/api/v2/callbacks?limit=18446744073709551616", want: 400, field: "limit"},
		{name: "list limit 1e3", method: "GET", path: "/api/v2/callbacks?limit=1e3", want: 400, field: "limit"},
		{name: "list limit +1", method: "GET", path: "/api/v2/callbacks?limit=%2B1"},
		{name: "list status 0xff", method: "GET", path: "/api/v2/callbacks?status=%ff", want: 400, field: "status"},
		{name: "list status bogus", method: "GET", path: "/api/v2/callbacks?status=scheduled'--", want: 400, field: "status"},
		{name: "list from 0xff", method: "GET", path: "/api/v2/callbacks?from=%ff", want: 400, field: "from"},
		{name: "list from zero", method: "GET", path: "/api/v2/callbacks?from=0001-01-01T00:00:00Z", want: 200},
		{name: "list to zero", method: "GET", path: "/api/v2/callbacks?to=0001-01-01T00:00:00Z", want: 200},
		{name: "list year 0000", method: "GET", path: "/api/v2/callbacks?from=0000-01-01T00:00:00Z&to=0000-12-31T23:59:59.999999999Z", want: 200},
		{name: "list to 9999", method: "GET", path: "/api/v2/callbacks?to=9999-12-31T23:59:59Z", want: 200},
		{name: "list from +24:00", method: "GET", path: "/api/v2/callbacks?from=2030-01-01T00:00:00%2B24:00", want: 400, field: "from"},
		{name: "list to -10:60", method: "GET", path: "/api/v2/callbacks?to=2030-01-01T00:00:00-10:60", want: 400, field: "to"},
		{name: "list from unencoded +", method: "GET", path: "/api/v2/callbacks?from=2030-01-01T00:00:00+05:00", want: 400, field: "from"},
		{name: "list from month 13", method: "GET", path: "/api/v2/callbacks?queue_id=queue_12345&from=2030-13-45", want: 400, field: "from"},
		{name: "list from DST day", method: "GET", path: "/api/v2/callbacks?queue_id=queue_12345&from=2027-03-14&to=2027-03-15", want: 200},
		{name: "list date without queue", method: "GET", path: "/api/v2/callbacks?from=2027-03-14", want: 400, field: "from"},

		// One reservation.
		{name: "get id NUL", method: "GET", path: "/api/v2/callbacks/cb_%00", want: 404},
		{name: "get id 0xff", method: "GET", path: "/api/v2/callbacks/cb_%ff", want: 404},
		{name: "get id only NUL", method: "GET", path: "/api/v2/callbacks/%00", want: 404},
		{name: "get id newline", method: "GET", path: "/api/v2/callbacks/cb_%0A1", want: 404},
		{name: "get id 300 bytes", method: "GET", path: "/api/v2/callbacks/cb_" + strings.Repeat("a", 300), want: 404},
		{name: "get id space", method: "GET", path: "/api/v2/callbacks/cb%20x", want: 404},
		{name: "get id SQL", method: "GET", path: "/api/v2/callbacks/cb_x'%20OR%20'1'='1", want: 404},
		{name: "get id dot-dot", method: "GET", path: "/api/v2/callbacks/..%2F..%2Fhealthz", want: 404},
		{name: "get id unicode", method: "GET", path: "/api/v2/callbacks/cb_%C3%A9", want: 404},
		{name: "get ics id NUL", method: "GET", path: "/api/v2/callbacks/cb_%00.ics", want: 404},
		{name: "get ics id 0xff", method: "GET", path: "/api/v2/callbacks/%ff.ics", want: 404},
		{name: "get ics", method: "GET", path: "/api/v2/callbacks/{res}.ics", want: 200},
		{name: "get If-None-Match garbage", method: "GET", path: "/api/v2/callbacks/{res}", header: []string{"If-None-Match", `"abc", W/`}, want: 400, field: "If-None-Match"},
		{name: "get If-None-Match 2^64", method: "GET", path: "/api/v2/callbacks/{res}", header: []string{"If-None-Match", `"18446744073709551616"`}, want: 400, field: "If-None-Match"},

		// Changes.
		{name: "patch id NUL", method: "PATCH", path: "/api/v2/callbacks/cb_%00", body: `{"reason":"x"}`, want: 404},
		{name: "patch id 0xff", method: "PATCH", path: "/api/v2/callbacks/cb_%ff", body: `{"reason":"x"}`, header: []string{"Idempotency-Key", "k1"}, want: 404},
		{name: "patch reason NUL", method: "PATCH", path: "/api/v2/callbacks/{res}", body: `{"reason":"a\u0000"}`, want: 400, field: "reason"},
		{name: "patch reason 0xff", method: "PATCH", path: "/api/v2/callbacks/{res}", body: "{\"reason\":\"a\xff\"}", want: 400, field: "reason"},
		{name: "patch name NUL", method: "PATCH", path: "/api/v2/callbacks/{res}", body: `{"customer_name":"\u0000"}`, want: 400, field: "customer_name"},
		{name: "patch offset +24:00", method: "PATCH", path: "/api/v2/callbacks/{res}", body: `{"time_slot_matrix":[{"start":"` + start[:19] + `+24:00","end":"` + end + `"}]}`, want: 400, field: "time_slot_matrix[0].start"},
		{name: "patch If-Match 2^64", method: "PATCH", path: "/api/v2/callbacks/{res}", body: `{"reason":"x"}`, header: []string{"If-Match", `"18446744073709551616"`}, want: 400, field: "If-Match"},
		{name: "patch If-Match -1", method: "PATCH", path: "/api/v2/callbacks/{res}", body: `{"reason":"x"}`, header: []string{"If-Match", `"-1"`}, want: 400, field: "If-Match"},
		{name: "patch Idempotency-Key 0xff", method: "PATCH", path: "/api/v2/callbacks/{res}", body: `{"reason":"x"}`, header: []string{"Idempotency-Key", "\xff"}, want: 400, field: "Idempotency-Key"},
		{name: "patch huge", method: "PATCH", path: "/api/v2/callbacks/{res}", body: `{"reason":"` + strings.Repeat("a", httpapi.MaxBodyBytes) + `"}`, want: 413},
		{name: "patch nested", method: "PATCH", path: "/api/v2/callbacks/{res}", body: `{"reason":` + deep(11000) + `}`, want: 400, field: "body"},
		{name: "delete id NUL", method: "DELETE", path: "/api/v2/callbacks/cb_%00", want: 404},
		{name: "delete id 0xff with key", method: "DELETE", path: "/api/v2/callbacks/cb_%ff", header: []string{"Idempotency-Key", "del-x"}, want: 404},
		{name: "delete Idempotency-Key 0xff", method: "DELETE", path: "/api/v2/callbacks/{res}", header: []string{"Idempotency-Key", "del-\xff"}, want: 400, field: "Idempotency-Key"},
		{name: "delete If-Match garbage", method: "DELETE", path: "/api/v2/callbacks/{res}", header: []string{"If-Match", "W/\"\""}, want: 400, field: "If-Match"},
		{name: "put id NUL", method: "PUT", path: "/api/v2/callbacks/cb_%00", want: 405},

		// Webhooks. PostgreSQL answered 500 to a name with a NUL.
		{name: "webhook name NUL", method: "POST", path: "/api/v2/webhooks", body: `{"name":"crm\u0000","url":"https://hooks.example.com/a"}`, want: 400, field: "name"},
		{name: "webhook name 0xff", method: "POST", path: "/api/v2/webhooks", body: "{\"name\":\"crm\xff\",\"url\":\"https://hooks.example.com/a\"}", want: 400, field: "name"},
		{name: "webhook url NUL", method: "POST", path: "/api/v2/webhooks", body: `{"name":"crm","url":"https://hooks.example.com/\u0000"}`, want: 400, field: "url"},
		{name: "webhook url javascript", method: "POST", path: "/api/v2/webhooks", body: `{"name":"crm","url":"javascript:alert(1)"}`, want: 400, field: "url"},
		{name: "webhook url huge", method: "POST", path: "/api/v2/webhooks", body: `{"name":"crm","url":"https://hooks.example.com/` + strings.Repeat("a", 10000) + `"}`, want: 400, field: "url"},
		{name: "webhook events NUL", method: "POST", path: "/api/v2/webhooks", body: `{"name":"crm","url":"https://hooks.example.com/a","events":["reservation.created\u0000"]}`, want: 400, field: "events"},
		{name: "webhook queues 0xff", method: "POST", path: "/api/v2/webhooks", body: "{\"name\":\"crm\",\"url\":\"https://hooks.example.com/a\",\"queues\":[\"\xff\"]}", want: 400, field: "queues"},
		{name: "webhook content_type NUL", method: "POST", path: "/api/v2/webhooks", body: `{"name":"crm","url":"https://hooks.example.com/a","content_type":"application/json\u0000"}`, want: 400, field: "content_type"},
		{name: "webhook name 10000", method: "POST", path: "/api/v2/webhooks", body: `{"name":"` + strings.Repeat("n", 10000) + `","url":"https://hooks.example.com/a"}`, want: 400, field: "name"},
		{name: "webhook nested", method: "POST", path: "/api/v2/webhooks", body: `{"name":` + deep(11000) + `}`, want: 400, field: "body"},
		{name: "webhook list broken query", method: "GET", path: "/api/v2/webhooks?x=%zz", want: 200},
		{name: "webhook get NUL", method: "GET", path: "/api/v2/webhooks/we_%00", want: 404},
		{name: "webhook get 0xff", method: "GET", path: "/api/v2/webhooks/we_%ff", want: 404},
		{name: "webhook patch NUL id", method: "PATCH", path: "/api/v2/webhooks/we_%00", body: `{"name":"x"}`, want: 404},
		{name: "webhook patch name NUL", method: "PATCH", path: "/api/v2/webhooks/{ep}", body: `{"name":"\u0000"}`, want: 400, field: "name"},
		{name: "webhook delete 0xff", method: "DELETE", path: "/api/v2/webhooks/we_%ff", want: 404},
		{name: "webhook rotate NUL", method: "POST", path: "/api/v2/webhooks/we_%00/rotate-secret", want: 404},
		{name: "webhook test 0xff", method: "POST", path: "/api/v2/webhooks/%ff/test", want: 404},
		{name: "deliveries id NUL", method: "GET", path: "/api/v2/webhooks/we_%00/deliveries", want: 404},
		{name: "deliveries cursor broken", method: "GET", path: "/api/v2/webhooks/{ep}/deliveries?cursor=%zz", want: 400, field: "cursor"},
		{name: "deliveries cursor NUL", method: "GET", path: "/api/v2/webhooks/{ep}/deliveries?cursor=%00", want: 400, field: "cursor"},
		{name: "deliveries cursor 2^64", method: "GET", path: "/api/v2/webhooks/{ep}/deliveries?cursor=18446744073709551616", want: 400, field: "cursor"},
		{name: "deliveries cursor negative", method: "GET", path: "/api/v2/webhooks/{ep}/deliveries?cursor=-9223372036854775808"},
		{name: "deliveries status 0xff", method: "GET", path: "/api/v2/webhooks/{ep}/deliveries?status=%ff", want: 400, field: "status"},
		{name: "deliveries limit 0", method: "GET", path: "/api/v2/webhooks/{ep}/deliveries?limit=0", want: 400, field: "limit"},
		{name: "retry delivery NUL", method: "POST", path: "/api/v2/webhooks/{ep}/deliveries/msg_%00/retry", want: 404},
		{name: "retry delivery 0xff", method: "POST", path: "/api/v2/webhooks/{ep}/deliveries/%ff/retry", want: 404},
		{name: "retry endpoint NUL", method: "POST", path: "/api/v2/webhooks/we_%00/deliveries/{msg}/retry", want: 404},

		// Queues, availability, calendars.
		{name: "queue NUL", method: "GET", path: "/api/v2/queues/%00", want: 404},
		{name: "queue 0xff", method: "GET", path: "/api/v2/queues/queue_%ff", want: 404},
		{name: "availability id NUL", method: "GET", path: "/api/v2/queues/%00/availability", want: 404},
		{name: "availability from 0xff", method: "GET", path: "/api/v2/queues/queue_12345/availability?from=%ff", want: 400, field: "from"},
		{name: "availability from broken", method: "GET", path: "/api/v2/queues/queue_12345/availability?from=%zz", want: 400, field: "from"},
		{name: "availability from zero", method: "GET", path: "/api/v2/queues/queue_12345/availability?from=0001-01-01T00:00:00Z", want: 200},
		{name: "availability year 0000", method: "GET", path: "/api/v2/queues/queue_12345/availability?from=0000-01-01T00:00:00Z", want: 400, field: "from"},
		{name: "availability year 9999", method: "GET", path: "/api/v2/queues/queue_12345/availability?from=9999-12-31T00:00:00Z", want: 400, field: "from"},
		{name: "availability last day", method: "GET", path: "/api/v2/queues/queue_12345/availability?from=9999-12-29T00:00:00Z&to=9999-12-30T00:00:00Z", want: 200},
		{name: "availability to before from", method: "GET", path: "/api/v2/queues/queue_12345/availability?from=2030-01-02T00:00:00Z&to=2030-01-01T00:00:00Z", want: 400, field: "to"},
		{name: "availability 40 days", method: "GET", path: "/api/v2/queues/queue_12345/availability?from=2030-01-01T00:00:00Z&to=2030-02-10T00:00:00Z", want: 400, field: "to"},
		{name: "availability 0000 to 9999", method: "GET", path: "/api/v2/queues/queue_12345/availability?from=0000-01-01T00:00:00Z&to=9999-12-31T23:59:59Z", want: 400, field: "from"},
		{name: "availability from +24:00", method: "GET", path: "/api/v2/queues/queue_12345/availability?from=2030-01-01T00:00:00%2B24:00", want: 400, field: "from"},
		{name: "availability limit 0", method: "GET", path: "/api/v2/queues/queue_12345/availability?concurrency_limit=0", want: 400, field: "concurrency_limit"},
		{name: "availability limit NUL", method: "GET", path: "/api/v2/queues/queue_12345/availability?concurrency_limit=1%00", want: 400, field: "concurrency_limit"},
		{name: "availability limit 1e400", method: "GET", path: "/api/v2/queues/queue_12345/availability?concurrency_limit=1e400", want: 400, field: "concurrency_limit"},
		{name: "availability spring forward", method: "GET", path: "/api/v2/queues/queue_12345/availability?from=2027-03-14&to=2027-03-15", want: 200},
		{name: "availability fall back", method: "GET", path: "/api/v2/queues/queue_12345/availability?from=2026-11-01&to=2026-11-02", want: 200},
		{name: "availability in the gap", method: "GET", path: "/api/v2/queues/queue_12345/availability?from=2027-03-14T02:30:00-05:00", want: 200},
		{name: "calendar token for NUL queue", method: "GET", path: "/api/v2/queues/%00/calendar.ics?token=cal_x", header: []string{"Authorization", ""}, want: 401},
		{name: "calendar token 0xff", method: "GET", path: "/api/v2/queues/queue_12345/calendar.ics?token=%ff", header: []string{"Authorization", ""}, want: 400, field: "token"},
		{name: "calendar token broken", method: "GET", path: "/api/v2/queues/queue_12345/calendar.ics?token=%zz", header: []string{"Authorization", ""}, want: 400, field: "token"},
		{name: "calendar 0xff queue", method: "GET", path: "/api/v2/queues/%ff/calendar.ics", want: 404},
		{name: "calendar", method: "GET", path: "/api/v2/queues/queue_12345/calendar.ics", want: 200},
		{name: "calendar-token NUL queue", method: "POST", path: "/api/v2/queues/%00/calendar-token", want: 404},

		// The stream's handshake.
		upgrade("?after=-1", 400),
		upgrade("?after=9223372036854775808", 400),
		upgrade("?after=%00", 400),
		upgrade("?after=%zz", 400),
		upgrade("?subscription=%ff", 400),
		upgrade("?subscription="+strings.Repeat("s", 65), 400),
		upgrade("?subscription=a%00b", 400),
		upgrade("?format=%00", 400),
		upgrade("?window=0", 400),
		upgrade("?window=99999999999999999999", 400),
		upgrade("?queue=%00", 400),
		upgrade("?type=%ff", 400),
		upgrade("?queue=queue_12345,,%2C,&type=reservation.created", 101),
		upgrade("?subscription=hostile&after=9223372036854775807", 101),
		upgrade("", 101),
		upgrade("?access_token=%ff", 401, "Authorization", ""),
		upgrade("?x=1", 403, "Origin", "http://evil.example"),
		upgrade("?y=1", 403, "Origin", "http://%00"),

		// No route.
		{name: "no route NUL", method: "GET", path: "/api/v2/%00", want: 404},
		{name: "no route 0xff", method: "GET", path: "/%ff", want: 404},
	}
	return cs
}

// run sends c and checks the answer: below 500, documented by openapi.json
// for its operation, a problem (an OAuth error on the token endpoint) when
// it is a 4xx, and c's status and field when it pins them.
func (h *hostileServer) run(t *testing.T, doc *openapiDoc, c hostileCase) {
	t.Helper()
	r := strings.NewReplacer("{res}", h.resID, "{ep}", h.epID, "{msg}", h.msgID)
	header := slices.Clone(c.header)
	for i := 1; i < len(header); i += 2 {
		header[i] = r.Replace(header[i])
	}
	if c.upgrade {
		header = append([]string{"Connection", "Upgrade", "Upgrade", "websocket", "Sec-WebSocket-Version", "13",
			"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="}, header...)
	}
	path := r.Replace(c.path)
	res := h.send(t, c.method, path, r.Replace(c.body), header)
	if res.status >= 500 {
		t.Fatalf("status %d: %s", res.status, res.short())
	}
	if c.want != 0 && res.status != c.want {
		t.Errorf("status %d, want %d: %s", res.status, c.want, res.short())
	}
	// A documented operation's answer must be documented (a 101 has no
	// body to check; a path or method without an operation is the router's
	// 404 or 405).
	route, ok := doc.route(unescapedPath(t, strings.SplitN(path, "?", 2)[0]))
	if _, op := doc.lookup(ptr("paths", route, strings.ToLower(c.method))); ok && op && res.status != http.StatusSwitchingProtocols {
		doc.checkResponse(t, c.method, route, res.status, res.header, res.body)
	}
	if res.status < 400 {
		return
	}
	if c.path == "/oauth/token" || strings.HasPrefix(c.path, "/oauth/token?") {
		var e struct {
			Error string `json:"error"`
		}
		if err := json.Unmarshal(res.body, &e); err != nil || e.Error == "" {
			t.Errorf("an OAuth error should have an error member: %s", res.short())
		}
		return
	}
	mt, _, _ := mime.ParseMediaType(res.header.Get("Content-Type"))
	if mt != "application/problem+json" {
		t.Errorf("Content-Type %q, want application/problem+json: %s", res.header.Get("Content-Type"), res.short())
		return
	}
	var p struct {
		Status int               `json:"status"`
		Code   string            `json:"code"`
		Detail string            `json:"detail"`
		Errors map[string]string `json:"errors"`
	}
	if err := json.Unmarshal(res.body, &p); err != nil || p.Status != res.status || p.Code == "" || p.Detail == "" {
		t.Errorf("not a problem of status %d (%v): %s", res.status, err, res.short())
	}
	if c.field != "" && p.Errors[c.field] == "" {
		t.Errorf("errors %v do not name %s: %s", p.Errors, c.field, res.short())
	}
}

// unescapedPath is the path the server routes on.
func unescapedPath(t *testing.T, raw string) string {
	t.Helper()
	req, err := http.NewRequest("GET", "http://x"+raw, nil)
	if err != nil {
		t.Fatalf("path %q: %v", raw, err)
	}
	return req.URL.Path
}

// testHostile runs every hostile case against one server, each followed by
// a normal create, which must still work; and nothing may have been logged
// at Error (an internal error, an audit entry that could not be written).
func testHostile(t *testing.T, dsn string) {
	h := newHostileServer(t, dsn)
	doc := loadDoc(t)
	cases := hostileCases(h)
	if len(cases) < 100 {
		t.Fatalf("only %d cases", len(cases))
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h.run(t, doc, c)
			h.create(t)
			if r := h.send(t, "GET", "/readyz", "", nil); r.status != http.StatusOK {
				t.Fatalf("readyz after the case: %d %s", r.status, r.body)
			}
		})
	}
	for _, rec := range h.logs.atLeast(slog.LevelError) {
		t.Errorf("logged at %s: %s: %s", rec.level, rec.msg, rec.err)
	}
}

// TestHostileInputSQLite and TestHostileInputPostgres run the hostile
// requests on each backend.
func TestHostileInputSQLite(t *testing.T) {
	t.Parallel()
	testHostile(t, "")
}

func TestHostileInputPostgres(t *testing.T) {
	t.Parallel()
	testHostile(t, storagetest.PostgresDSN(t))
}
