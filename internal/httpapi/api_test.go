package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/slotline/slotline/internal/audit"
	"github.com/slotline/slotline/internal/auth"
	"github.com/slotline/slotline/internal/booking"
	"github.com/slotline/slotline/internal/httpapi"
	"github.com/slotline/slotline/internal/metrics"
	"github.com/slotline/slotline/internal/schedule"
	"github.com/slotline/slotline/internal/storage"
)

// A secret with every character that form-urlencoding changes.
const trickySecret = "p@ss:w/rd+&=% é-0123456789"

type apiBundle struct {
	srv     *httptest.Server
	store   *storage.Store
	metrics *metrics.Metrics
	loc     *time.Location
}

func newAPI(t *testing.T) *apiBundle {
	t.Helper()
	return newAPIWith(t, nil)
}

// newAPIWith is newAPI with the server's dependencies changed by edit
// (nil: none) before the server is built.
func newAPIWith(t *testing.T, edit func(*httpapi.Deps)) *apiBundle {
	t.Helper()
	ctx := context.Background()
	store, err := storage.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "api.db"), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	loc, _ := time.LoadLocation("America/New_York")
	q := &booking.Queue{ID: "queue_12345", Name: "Support", TimeZone: loc.String(), Calendar: &schedule.Calendar{
		Location: loc, SlotMinutes: 15, Capacity: 3, AlwaysOpen: true, Horizon: 30 * 24 * time.Hour,
	}}
	m := metrics.New()
	all := []string{"callback:read", "callback:write", "webhook:read", "webhook:write"}
	authSvc := auth.NewService(store, []*auth.Client{
		auth.NewClient("website", trickySecret, all, 0, 0),
		auth.NewClient("reader", "reader-secret-0123456789", []string{"callback:read"}, 0, 0),
		auth.NewClient("slow", "slow-secret-0123456789", all, 0.01, 2),
	}, time.Hour)
	deps := httpapi.Deps{
		Booking: booking.New(store, []*booking.Queue{q}, booking.Options{Observer: m}),
		Auth:    authSvc, Store: store, Metrics: m, Version: "test",
	}
	if edit != nil {
		edit(&deps)
	}
	h := httpapi.NewServer(deps)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &apiBundle{srv: srv, store: store, metrics: m, loc: loc}
}

// token gets a token the way golang.org/x/oauth2 does (RFC 6749: id and
// secret form-urlencoded before base64).
func (b *apiBundle) token(t *testing.T, id, secret string, scopes ...string) string {
	t.Helper()
	cfg := clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: b.srv.URL + "/oauth/token", Scopes: scopes,
		AuthStyle: oauth2.AuthStyleInHeader}
	tok, err := cfg.Token(context.Background())
	if err != nil {
		t.Fatalf("token for %s: %v", id, err)
	}
	return tok.AccessToken
}

type response struct {
	status int
	header http.Header
	body   map[string]any
	raw    []byte
}

func (b *apiBundle) do(t *testing.T, method, path, token string, body any, headers ...string) response {
	t.Helper()
	var rd io.Reader
	switch v := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(v)
	default:
		j, _ := json.Marshal(v)
		rd = bytes.NewReader(j)
	}
	req, _ := http.NewRequest(method, b.srv.URL+path, rd)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := response{status: resp.StatusCode, header: resp.Header, raw: raw}
	_ = json.Unmarshal(raw, &r.body)
	return r
}

func (b *apiBundle) slot(hours int) map[string]string {
	s := time.Now().Add(time.Duration(hours) * time.Hour).Truncate(15 * time.Minute).In(b.loc)
	return map[string]string{"start": s.Format(time.RFC3339), "end": s.Add(15 * time.Minute).Format(time.RFC3339)}
}

func (b *apiBundle) create(id string, slots ...map[string]string) map[string]any {
	return map[string]any{
		"callback_id": id, "callback_number": "+14155550199", "queue_id": "queue_12345",
		"time_slot_matrix": slots, "reason": "Technical support escalation", "concurrency_limit": 10,
		"channel_preferences": map[string]any{"primary": "voice", "fallback": "sms", "allow_sms": true},
	}
}

func TestTokenEndpoint(t *testing.T) {
	t.Parallel()
	b := newAPI(t)
	// RFC 6749 form (x/oauth2) and the seed's raw Basic both work.
	b.token(t, "website", trickySecret)
	post := func(form url.Values, user, pass string, basic bool) response {
		req, _ := http.NewRequest(http.MethodPost, b.srv.URL+"/oauth/token", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if basic {
			req.SetBasicAuth(user, pass)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		r := response{status: resp.StatusCode, header: resp.Header}
		json.NewDecoder(resp.Body).Decode(&r.body)
		return r
	}
	gt := url.Values{"grant_type": {"client_credentials"}}
	if r := post(gt, "website", trickySecret, true); r.status != 200 || r.body["token_type"] != "Bearer" ||
		r.body["scope"] != "callback:read callback:write webhook:read webhook:write" || r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("raw Basic = %d %v", r.status, r.body)
	}
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {"website"}, "client_secret": {trickySecret}, "scope": {"callback:read"}}
	if r := post(form, "", "", false); r.status != 200 || r.body["scope"] != "callback:read" {
		t.Errorf("form credentials = %d %v", r.status, r.body)
	}
	for name, tc := range map[string]struct {
		form       url.Values
		user, pass string
		basic      bool
		status     int
		err        string
	}{
		"wrong secret":  {gt, "website", "nope", true, 401, "invalid_client"},
		"unknown":       {gt, "ghost", trickySecret, true, 401, "invalid_client"},
		"no creds":      {gt, "", "", false, 401, "invalid_client"},
		"bad grant":     {url.Values{"grant_type": {"password"}}, "website", trickySecret, true, 400, "unsupported_grant_type"},
		"scope too big": {url.Values{"scope": {"callback:read admin"}}, "reader", "reader-secret-0123456789", true, 400, "invalid_scope"},
	} {
		r := post(tc.form, tc.user, tc.pass, tc.basic)
		if r.status != tc.status || r.body["error"] != tc.err || r.body["error_description"] == nil {
			t.Errorf("%s: %d %v, want %d %s", name, r.status, r.body, tc.status, tc.err)
		}
		if tc.status == 401 && !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Basic") {
			t.Errorf("%s: WWW-Authenticate = %q", name, r.header.Get("WWW-Authenticate"))
		}
	}
	// Tokens are stored only as digests.
	tok := b.token(t, "reader", "reader-secret-0123456789")
	var n int
	if err := b.store.DB().QueryRow("SELECT count(*) FROM access_tokens WHERE token_hash = ? OR token_hash LIKE ?", tok, "%"+tok[4:12]+"%").Scan(&n); err != nil || n != 0 {
		t.Errorf("token found in clear in the database (%d rows, %v)", n, err)
	}
}

func TestAuthorization(t *testing.T) {
	t.Parallel()
	b := newAPI(t)
	r := b.do(t, "GET", "/api/v2/queues", "", nil)
	if r.status != 401 || !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") || r.header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("no token = %d %v", r.status, r.header)
	}
	r = b.do(t, "GET", "/api/v2/queues", "slt_forged", nil)
	if r.status != 401 || !strings.Contains(r.header.Get("WWW-Authenticate"), "invalid_token") {
		t.Errorf("forged token = %d %v", r.status, r.header)
	}
	reader := b.token(t, "reader", "reader-secret-0123456789")
	if r := b.do(t, "GET", "/api/v2/queues", reader, nil); r.status != 200 {
		t.Errorf("reader GET = %d", r.status)
	}
	if r := b.do(t, "GET", "/api/v2/queues", "", nil, "Authorization", "BEARER "+reader); r.status != 200 {
		t.Errorf("upper-case scheme = %d, want 200 (the scheme is case-insensitive)", r.status)
	}
	r = b.do(t, "POST", "/api/v2/callbacks", reader, b.create("x", b.slot(2)))
	if r.status != 403 || !strings.Contains(r.header.Get("WWW-Authenticate"), "insufficient_scope") {
		t.Errorf("reader POST = %d %s", r.status, r.raw)
	}
	// A token limited to callback:read by request cannot write either.
	narrow := b.token(t, "website", trickySecret, "callback:read")
	if r := b.do(t, "DELETE", "/api/v2/callbacks/x", narrow, nil); r.status != 403 {
		t.Errorf("narrow token DELETE = %d", r.status)
	}
	// Rate limit: burst 2, then 429 with Retry-After.
	slow := b.token(t, "slow", "slow-secret-0123456789")
	var last response
	for range 4 {
		last = b.do(t, "GET", "/api/v2/queues", slow, nil)
	}
	if last.status != 429 || last.header.Get("Retry-After") == "" || last.body["code"] != "rate_limited" {
		t.Errorf("over the limit = %d %v %s", last.status, last.header, last.raw)
	}
}

func TestCreateValidationAndLimits(t *testing.T) {
	t.Parallel()
	b := newAPI(t)
	tok := b.token(t, "website", trickySecret)
	r := b.do(t, "POST", "/api/v2/callbacks", tok, `{"callback_number": 1}`)
	if r.status != 400 || r.body["type"] != "/problems/invalid" || r.body["errors"].(map[string]any)["callback_number"] == nil {
		t.Errorf("bad type = %d %s", r.status, r.raw)
	}
	if !strings.HasPrefix(r.body["instance"].(string), "urn:slotline:request:") || r.header.Get("X-Request-Id") == "" {
		t.Errorf("problem lacks the request id: %s", r.raw)
	}
	r = b.do(t, "POST", "/api/v2/callbacks", tok, "x=1", "Content-Type", "application/x-www-form-urlencoded")
	if r.status != 415 {
		t.Errorf("form body = %d", r.status)
	}
	huge := `{"reason": "` + strings.Repeat("a", httpapi.MaxBodyBytes) + `"}`
	if r := b.do(t, "POST", "/api/v2/callbacks", tok, huge); r.status != 413 {
		t.Errorf("huge body = %d", r.status)
	}
	// Refused writes are audited; nothing else was written.
	n, err := b.store.VerifyAudit(context.Background())
	if err != nil || n != 3 {
		t.Errorf("audit has %d entries (%v), want 3 refusals", n, err)
	}
	entries, _ := b.store.FindAuditEntries(context.Background(), 0, 10)
	for _, e := range entries {
		if e.Outcome != audit.OutcomeRefused || e.Actor != "website" || e.Action != "reservation.create" {
			t.Errorf("audit entry = %+v", e)
		}
	}
}

func TestReservationLifecycleOverHTTP(t *testing.T) {
	t.Parallel()
	b := newAPI(t)
	tok := b.token(t, "website", trickySecret)
	r := b.do(t, "POST", "/api/v2/callbacks", tok, b.create("cb_1", b.slot(3)))
	if r.status != 201 || r.header.Get("ETag") != `"1"` || r.header.Get("Location") != "/api/v2/callbacks/"+r.body["id"].(string) {
		t.Fatalf("create = %d %v %s", r.status, r.header, r.raw)
	}
	id := r.body["id"].(string)
	if r := b.do(t, "POST", "/api/v2/callbacks", tok, b.create("cb_1", b.slot(3))); r.status != 201 || r.header.Get("Idempotent-Replayed") != "true" || r.body["id"] != id {
		t.Errorf("replay = %d %v", r.status, r.header)
	}
	if r := b.do(t, "POST", "/api/v2/callbacks", tok, b.create("cb_1", b.slot(4))); r.status != 409 || r.body["reservation_id"] != id {
		t.Errorf("reused callback_id = %d %s", r.status, r.raw)
	}
	for _, inm := range []string{`"1"`, `W/"1"`, `"5", "1"`, `*`} {
		if r := b.do(t, "GET", "/api/v2/callbacks/"+id, tok, nil, "If-None-Match", inm); r.status != 304 {
			t.Errorf("If-None-Match %s = %d, want 304", inm, r.status)
		}
	}
	if r := b.do(t, "GET", "/api/v2/callbacks/"+id, tok, nil, "If-None-Match", `"2"`); r.status != 200 {
		t.Errorf("If-None-Match of another version = %d, want 200", r.status)
	}
	// Reschedule with a stale If-Match, then the right one.
	patch := map[string]any{"time_slot_matrix": []map[string]string{b.slot(5)}, "reason": "moved"}
	if r := b.do(t, "PATCH", "/api/v2/callbacks/"+id, tok, patch, "If-Match", `"7"`); r.status != 412 {
		t.Errorf("stale If-Match = %d %s", r.status, r.raw)
	}
	r = b.do(t, "PATCH", "/api/v2/callbacks/"+id, tok, patch, "If-Match", `"1"`)
	if r.status != 200 || r.body["version"] != float64(2) || r.body["reason"] != "moved" || r.header.Get("ETag") != `"2"` {
		t.Fatalf("reschedule = %d %s", r.status, r.raw)
	}
	// Idempotency-Key on DELETE: the retry replays.
	r = b.do(t, "DELETE", "/api/v2/callbacks/"+id, tok, nil, "Idempotency-Key", "del-1")
	if r.status != 200 || r.body["status"] != "canceled" {
		t.Fatalf("cancel = %d %s", r.status, r.raw)
	}
	if r := b.do(t, "DELETE", "/api/v2/callbacks/"+id, tok, nil, "Idempotency-Key", "del-1"); r.status != 200 || r.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("cancel retry = %d %v", r.status, r.header)
	}
	if r := b.do(t, "PATCH", "/api/v2/callbacks/"+id, tok, patch); r.status != 409 {
		t.Errorf("reschedule canceled = %d", r.status)
	}
	if r := b.do(t, "GET", "/api/v2/callbacks/nope", tok, nil); r.status != 404 || r.body["code"] != "not_found" {
		t.Errorf("missing = %d %s", r.status, r.raw)
	}
}

func TestFullSlotAndList(t *testing.T) {
	t.Parallel()
	b := newAPI(t)
	tok := b.token(t, "website", trickySecret)
	s := b.slot(6)
	for i := range 3 {
		if r := b.do(t, "POST", "/api/v2/callbacks", tok, b.create(fmt.Sprintf("f%d", i), s)); r.status != 201 {
			t.Fatalf("fill = %d %s", r.status, r.raw)
		}
	}
	r := b.do(t, "POST", "/api/v2/callbacks", tok, b.create("f9", s))
	if r.status != 409 || r.body["code"] != "conflict" {
		t.Fatalf("full = %d %s", r.status, r.raw)
	}
	cands := r.body["candidates"].([]any)
	free := r.body["nearest_free_slots"].([]any)
	if cands[0].(map[string]any)["reason"] != "full" || len(free) != 3 {
		t.Errorf("full slot problem = %s", r.raw)
	}
	// Page through the list two at a time.
	var ids []string
	next := "/api/v2/callbacks?queue_id=queue_12345&status=scheduled&limit=2"
	for next != "" {
		r := b.do(t, "GET", next, tok, nil)
		if r.status != 200 {
			t.Fatalf("list = %d %s", r.status, r.raw)
		}
		for _, it := range r.body["items"].([]any) {
			ids = append(ids, it.(map[string]any)["id"].(string))
		}
		next = ""
		if link := r.header.Get("Link"); link != "" {
			next = strings.TrimSuffix(strings.TrimPrefix(link, "<"), `>; rel="next"`)
		}
	}
	if len(ids) != 3 {
		t.Errorf("listed %d reservations, want 3", len(ids))
	}
	if r := b.do(t, "GET", "/api/v2/callbacks?from=yesterday", tok, nil); r.status != 400 || r.body["errors"].(map[string]any)["from"] == nil {
		t.Errorf("bad from = %d %s", r.status, r.raw)
	}
	// Availability shows the full bucket.
	r = b.do(t, "GET", "/api/v2/queues/queue_12345/availability?from="+url.QueryEscape(s["start"])+"&to="+url.QueryEscape(s["end"]), tok, nil)
	slots := r.body["slots"].([]any)
	if r.status != 200 || len(slots) != 1 || slots[0].(map[string]any)["reason"] != "full" || slots[0].(map[string]any)["used"] != float64(3) {
		t.Errorf("availability = %d %s", r.status, r.raw)
	}
	// Metrics count admissions by outcome and reason, and requests by route.
	mr, _ := http.Get(b.srv.URL + "/metrics")
	text, _ := io.ReadAll(mr.Body)
	mr.Body.Close()
	for _, want := range []string{
		`slotline_admissions_total{outcome="admitted",reason=""} 3`,
		`slotline_admissions_total{outcome="rejected",reason="full"} 1`,
		`slotline_http_request_duration_seconds_count{method="POST",route="POST /api/v2/callbacks",status="409"} 1`,
	} {
		if !strings.Contains(string(text), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestHealthAndUnknownRoutes(t *testing.T) {
	t.Parallel()
	b := newAPI(t)
	if r := b.do(t, "GET", "/healthz", "", nil); r.status != 200 || r.body["status"] != "ok" {
		t.Errorf("healthz = %d %s", r.status, r.raw)
	}
	if r := b.do(t, "GET", "/readyz", "", nil); r.status != 200 || r.body["database"] != "sqlite" {
		t.Errorf("readyz = %d %s", r.status, r.raw)
	}
	if r := b.do(t, "GET", "/nope", "", nil); r.status != 404 || r.header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("unknown route = %d %v", r.status, r.header)
	}
	r := b.do(t, "PUT", "/api/v2/callbacks", "", nil)
	if r.status != 405 || r.header.Get("Allow") != "GET, POST, HEAD" || r.body["code"] != "method_not_allowed" {
		t.Errorf("PUT on a known path = %d %v %s", r.status, r.header.Get("Allow"), r.raw)
	}
	if r := b.do(t, "GET", "/problems/conflict", "", nil); r.status != 200 || !strings.Contains(string(r.raw), "409 Conflict") {
		t.Errorf("problem type page = %d %s", r.status, r.raw)
	}
	b.store.Close()
	if r := b.do(t, "GET", "/readyz", "", nil); r.status != 503 {
		t.Errorf("readyz with the database closed = %d", r.status)
	}
}
