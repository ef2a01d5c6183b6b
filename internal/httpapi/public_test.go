package httpapi_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/slotline/slotline/internal/auth"
	"github.com/slotline/slotline/internal/booking"
	"github.com/slotline/slotline/internal/config"
	"github.com/slotline/slotline/internal/httpapi"
	"github.com/slotline/slotline/internal/metrics"
	"github.com/slotline/slotline/internal/pow"
	"github.com/slotline/slotline/internal/reservation"
	"github.com/slotline/slotline/internal/schedule"
	"github.com/slotline/slotline/internal/selfservice"
	"github.com/slotline/slotline/internal/storage"
	"github.com/slotline/slotline/internal/storage/storagetest"
)

// The publishable keys of the public servers: shop books on queue_a from
// shopOrigin; blog on queue_b from blogOrigin, three requests per source
// address at most.
const (
	shopKey    = "pk_test_shop_0123456789abcdef"
	blogKey    = "pk_test_blog_0123456789abcdef"
	shopOrigin = "https://shop.example"
	blogOrigin = "https://blog.example"
	evilOrigin = "https://evil.example"
)

// powKey is the proof-of-work key every public server of a test shares,
// as the processes of one deployment do.
var powKey = []byte("the deployment's proof-of-work key")

// publicServer is a server over a real socket with publishable keys and
// the proof of work, on its own database or one it shares.
type publicServer struct {
	*specBundle
	ops     string // a token with callback:admin
	metrics *metrics.Metrics
}

type publicOptions struct {
	noProof        bool // proof of work off
	challengeBurst int  // challenges per address (default 1000)
}

func newPublicServer(t *testing.T, doc *openapiDoc, dsn string, o publicOptions) *publicServer {
	t.Helper()
	ctx := context.Background()
	store, err := storage.Open(ctx, dsn, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	var queues []*booking.Queue
	for _, id := range []string{"queue_a", "queue_b"} {
		queues = append(queues, &booking.Queue{ID: id, Name: id, TimeZone: "UTC", SelfService: config.DefaultSelfPolicy,
			Admission: reservation.Admission{Duplicates: reservation.DuplicatesLenient},
			Calendar:  &schedule.Calendar{Location: time.UTC, SlotMinutes: 15, Capacity: 100, AlwaysOpen: true, Horizon: 30 * 24 * time.Hour}})
	}
	clients := []*auth.Client{
		auth.NewClient("website", websiteSecret, config.Scopes[:4], 0, 0),
		auth.NewClient("ops", opsSecret, config.Scopes, 0, 0),
	}
	links := selfservice.NewLinks("a-self-service-secret", "", time.Hour)
	book := booking.New(store, queues, booking.Options{Seal: links.Seal})
	self := selfservice.New(selfservice.Config{Links: links, Booking: book, Store: store})
	keys := auth.NewPublishableKeys([]auth.KeyConfig{
		{ID: "shop", Key: shopKey, Queues: []string{"queue_a"}, Origins: []string{shopOrigin, "http://localhost:8080"}},
		{ID: "blog", Key: blogKey, Queues: []string{"queue_b"}, Origins: []string{blogOrigin}, PerAddress: 0.001, PerAddressBurst: 3},
	}, nil)
	m := metrics.New()
	deps := httpapi.Deps{Booking: book, Auth: auth.NewService(store, clients, time.Hour), Store: store, Version: "test",
		Self: self, Keys: keys, Metrics: m, PublicURL: "http://localhost:8080"}
	if !o.noProof {
		deps.Proof = pow.New(pow.Config{Key: powKey, MaxNumber: 2000, Spent: store})
	}
	if o.challengeBurst == 0 {
		o.challengeBurst = 1000
	}
	deps.ChallengeLimit = auth.NewThrottle(auth.ThrottleConfig{PerAddress: 0.001, PerAddressBurst: o.challengeBurst})
	srv := newTestServer(t, deps)
	if doc == nil {
		doc = loadDoc(t)
	}
	b := &specBundle{doc: doc, srv: srv, store: store, book: book, clients: clients, now: time.Now()}
	s := &publicServer{specBundle: b, metrics: m}
	s.website = b.token(t, "website", websiteSecret, "")
	s.ops = b.token(t, "ops", opsSecret, "")
	return s
}

// kdo is do with a publishable key from an origin ("" sends none), and
// checks what every answer must: no Access-Control-Allow-Credentials, and
// an Access-Control-Allow-Origin only for the origin itself.
func (s *publicServer) kdo(t testing.TB, want int, method, path, key, origin string, body any, header ...string) *specResponse {
	t.Helper()
	if origin != "" {
		header = append(header, "Origin", origin)
	}
	r := s.do(t, want, method, path, key, body, header...)
	checkCORS(t, r, origin)
	return r
}

func checkCORS(t testing.TB, r *specResponse, origin string) {
	t.Helper()
	if v := r.header.Values("Access-Control-Allow-Credentials"); len(v) > 0 {
		t.Errorf("Access-Control-Allow-Credentials: %v; it must never be sent", v)
	}
	if got := r.header.Get("Access-Control-Allow-Origin"); got != "" && got != origin {
		t.Errorf("Access-Control-Allow-Origin %q for origin %q", got, origin)
	}
}

// wantCORS fails t unless r allows origin (or, when origin is "", allows
// none).
func wantCORS(t testing.TB, r *specResponse, origin string) {
	t.Helper()
	if got := r.header.Get("Access-Control-Allow-Origin"); got != origin {
		t.Errorf("Access-Control-Allow-Origin = %q, want %q", got, origin)
	}
	if origin != "" {
		if got := r.header.Get("Access-Control-Expose-Headers"); got != "Slotline-Duplicate-Of, Retry-After, ETag" {
			t.Errorf("Access-Control-Expose-Headers = %q", got)
		}
		if !strings.Contains(strings.Join(r.header.Values("Vary"), ","), "Origin") {
			t.Errorf("Vary = %v, want Origin", r.header.Values("Vary"))
		}
	}
}

// challenge fetches a challenge as a page of origin would.
func (s *publicServer) challenge(t testing.TB, origin string) pow.Challenge {
	t.Helper()
	r := s.kdo(t, http.StatusOK, "GET", "/api/v2/challenge", "", origin, nil)
	if got := r.header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("challenge Cache-Control = %q, want no-store", got)
	}
	var c pow.Challenge
	r.decode(t, &c)
	return c
}

// solveChallenge solves c the way a browser does, written out here (not
// pow.Solve), and returns the Slotline-Proof value.
func solveChallenge(t testing.TB, c pow.Challenge) string {
	t.Helper()
	for n := 0; n <= c.MaxNumber; n++ {
		sum := sha256.Sum256([]byte(c.Salt + strconv.Itoa(n)))
		if hex.EncodeToString(sum[:]) == c.Challenge {
			raw, err := json.Marshal(map[string]any{"algorithm": c.Algorithm, "challenge": c.Challenge, "number": n,
				"salt": c.Salt, "signature": c.Signature})
			if err != nil {
				t.Fatal(err)
			}
			return base64.StdEncoding.EncodeToString(raw)
		}
	}
	t.Fatalf("no number up to %d solves the challenge", c.MaxNumber)
	return ""
}

// proof is a fresh Slotline-Proof.
func (s *publicServer) proof(t testing.TB) string {
	return solveChallenge(t, s.challenge(t, shopOrigin))
}

// keyCreate is a create body of queue for number at bucket i.
func (s *publicServer) keyCreate(number, queue string, i int) map[string]any {
	start := s.now.UTC().Truncate(time.Hour).Add(49*time.Hour + time.Duration(i)*15*time.Minute)
	return map[string]any{"callback_number": number, "queue_id": queue, "time_slot_matrix": []any{slotAt(start, 15*time.Minute, time.UTC)}}
}

// count is how many reservations the key's client has.
func (s *publicServer) count(t testing.TB, clientID string) int {
	t.Helper()
	var page struct {
		Items []json.RawMessage `json:"items"`
	}
	s.do(t, http.StatusOK, "GET", "/api/v2/callbacks?client_id="+clientID+"&limit=500", s.ops, nil).decode(t, &page)
	return len(page.Items)
}

func TestPublicKeysOnSQLite(t *testing.T) {
	t.Parallel()
	testPublicKeys(t, sqliteDSN(t))
}

func TestPublicKeysOnPostgres(t *testing.T) {
	t.Parallel()
	testPublicKeys(t, storagetest.PostgresDSN(t))
}

func testPublicKeys(t *testing.T, dsn string) {
	s := newPublicServer(t, nil, dsn, publicOptions{})
	avail := "/api/v2/queues/queue_a/availability"

	// Availability: from the key's origin, its queue only.
	r := s.kdo(t, http.StatusOK, "GET", avail, shopKey, shopOrigin, nil)
	wantCORS(t, r, shopOrigin)
	r = s.kdo(t, http.StatusOK, "GET", avail, shopKey, "http://localhost:8080", nil)
	wantCORS(t, r, "http://localhost:8080")
	if p := s.kdo(t, http.StatusForbidden, "GET", "/api/v2/queues/queue_b/availability", shopKey, shopOrigin, nil).problem(t); p.Code != "forbidden" {
		t.Errorf("another queue: %+v", p)
	}
	if p := s.kdo(t, http.StatusForbidden, "GET", "/api/v2/queues/nope/availability", shopKey, shopOrigin, nil).problem(t); p.Code != "forbidden" {
		t.Errorf("a queue that does not exist: %+v", p)
	}
	for _, origin := range []string{evilOrigin, blogOrigin, "https://shop.example.evil.example", "null", ""} {
		r := s.kdo(t, http.StatusForbidden, "GET", avail, shopKey, origin, nil)
		if p := r.problem(t); p.Code != "origin_not_allowed" {
			t.Errorf("origin %q: %+v", origin, p)
		}
		// Another key's origin may read why (a widget embedded with the
		// wrong key says so); any other origin gets no CORS answer.
		if origin == blogOrigin {
			wantCORS(t, r, blogOrigin)
		} else {
			wantCORS(t, r, "")
		}
	}
	// A page of this server (public_url http://localhost:8080, listed by
	// the key) reading availability sends no Origin on its same-origin
	// GET, only Sec-Fetch-Site; a cross-site request saying so is refused.
	s.kdo(t, http.StatusOK, "GET", avail, shopKey, "", nil, "Sec-Fetch-Site", "same-origin")
	if p := s.kdo(t, http.StatusForbidden, "GET", avail, shopKey, "", nil, "Sec-Fetch-Site", "cross-site").problem(t); p.Code != "origin_not_allowed" {
		t.Errorf("cross-site without Origin: %+v", p)
	}
	if p := s.kdo(t, http.StatusForbidden, "GET", avail, blogKey, "", nil, "Sec-Fetch-Site", "same-origin").problem(t); p.Code != "origin_not_allowed" {
		t.Errorf("same-origin with a key that does not list this server: %+v", p)
	}
	r = s.kdo(t, http.StatusUnauthorized, "GET", avail, "pk_test_unknown_0123456789ab", shopOrigin, nil)
	if !strings.Contains(r.header.Get("WWW-Authenticate"), "invalid_token") {
		t.Errorf("unknown key: WWW-Authenticate %q", r.header.Get("WWW-Authenticate"))
	}

	// A create from the key's origin with a solved proof: the key's
	// client, origin widget, and the manage link.
	first := s.keyCreate("+14155550100", "queue_a", 0)
	first["customer_name"], first["reason"] = "Jane Roe", "A private matter"
	r = s.kdo(t, http.StatusCreated, "POST", "/api/v2/callbacks", shopKey, shopOrigin, first,
		"Slotline-Proof", s.proof(t), "Idempotency-Key", "widget-0001")
	wantCORS(t, r, shopOrigin)
	var created struct {
		ID          string `json:"id"`
		ClientID    string `json:"client_id"`
		ManageURL   string `json:"manage_url"`
		ManageToken string `json:"manage_token"`
	}
	r.decode(t, &created)
	if created.ClientID != "shop" || created.ManageToken == "" || created.ManageURL == "" {
		t.Errorf("created %+v: want client_id shop and a manage link", created)
	}
	var got struct {
		ClientID string `json:"client_id"`
	}
	s.do(t, http.StatusOK, "GET", "/api/v2/callbacks/"+created.ID, s.ops, nil).decode(t, &got)
	if got.ClientID != "shop" {
		t.Errorf("stored client_id %q, want shop", got.ClientID)
	}
	events, err := s.store.FindEvents(context.Background(), 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	origins := 0
	for _, e := range events {
		if e.ReservationID == created.ID {
			origins++
			if e.Origin != reservation.OriginWidget {
				t.Errorf("event %s origin %q, want widget", e.Type, e.Origin)
			}
		}
	}
	if origins == 0 {
		t.Error("no event of the reservation")
	}
	// The website client does not see the key's reservation.
	s.do(t, http.StatusNotFound, "GET", "/api/v2/callbacks/"+created.ID, s.website, nil)

	// Refused proofs book nothing.
	body := func(i int) map[string]any { return s.keyCreate(fmt.Sprintf("+1415555%04d", 1000+i), "queue_a", i) }
	if p := s.kdo(t, http.StatusForbidden, "POST", "/api/v2/callbacks", shopKey, shopOrigin, body(1)).problem(t); p.Code != "proof_required" {
		t.Errorf("no proof: %+v", p)
	}
	good := s.proof(t)
	var sol pow.Solution
	raw, _ := base64.StdEncoding.DecodeString(good)
	_ = json.Unmarshal(raw, &sol)
	wrong := sol
	wrong.Number = (sol.Number + 1) % 2001
	tampered := sol
	tampered.Signature = strings.Repeat("ab", 32)
	for name, proof := range map[string]string{"wrong number": pow.Encode(wrong), "tampered signature": pow.Encode(tampered), "garbage": "%%%"} {
		if p := s.kdo(t, http.StatusForbidden, "POST", "/api/v2/callbacks", shopKey, shopOrigin, body(1), "Slotline-Proof", proof).problem(t); p.Code != "proof_required" {
			t.Errorf("%s: %+v", name, p)
		}
	}
	// From another origin, or for another queue, the proof is not even
	// looked at: it still books afterwards.
	if p := s.kdo(t, http.StatusForbidden, "POST", "/api/v2/callbacks", shopKey, evilOrigin, body(1), "Slotline-Proof", good).problem(t); p.Code != "origin_not_allowed" {
		t.Errorf("another origin: %+v", p)
	}
	if p := s.kdo(t, http.StatusForbidden, "POST", "/api/v2/callbacks", shopKey, shopOrigin, s.keyCreate("+14155550101", "queue_b", 1),
		"Slotline-Proof", good).problem(t); p.Code != "forbidden" {
		t.Errorf("another queue: %+v", p)
	}
	if n := s.count(t, "shop"); n != 1 {
		t.Fatalf("%d reservations after the refusals, want 1", n)
	}
	s.kdo(t, http.StatusCreated, "POST", "/api/v2/callbacks", shopKey, shopOrigin, body(1), "Slotline-Proof", good)
	// A proof is good for one create.
	if p := s.kdo(t, http.StatusForbidden, "POST", "/api/v2/callbacks", shopKey, shopOrigin, body(2), "Slotline-Proof", good).problem(t); p.Code != "proof_required" {
		t.Errorf("reused proof: %+v", p)
	}
	if n := s.count(t, "shop"); n != 2 {
		t.Errorf("%d reservations, want 2", n)
	}
	for reason, want := range map[string]float64{"proof_required": 5, "origin_not_allowed": 8, "unknown_key": 1, "forbidden": 3} {
		var v dto.Metric
		if err := s.metrics.KeyRefusals.WithLabelValues(reason).Write(&v); err != nil {
			t.Fatal(err)
		}
		if got := v.GetCounter().GetValue(); got != want {
			t.Errorf("slotline_publishable_key_refusals_total{reason=%q} = %g, want %g", reason, got, want)
		}
	}

	// A lenient duplicate shows the reservation the number already has:
	// its time, never its link, the customer's name, reason or full
	// number (whoever typed the number in need not be who booked).
	r = s.kdo(t, http.StatusOK, "POST", "/api/v2/callbacks", shopKey, shopOrigin, s.keyCreate("+14155550100", "queue_a", 3), "Slotline-Proof", s.proof(t))
	if r.header.Get("Slotline-Duplicate-Of") != created.ID {
		t.Errorf("duplicate: Slotline-Duplicate-Of %q", r.header.Get("Slotline-Duplicate-Of"))
	}
	for _, secret := range []string{"manage", "Jane", "private", "+14155550100"} {
		if strings.Contains(string(r.body), secret) {
			t.Errorf("duplicate answer shows %q: %s", secret, r.body)
		}
	}
	var dup struct {
		CallbackNumber string `json:"callback_number"`
		TimeSlot       struct {
			Start string `json:"start"`
		} `json:"time_slot"`
	}
	r.decode(t, &dup)
	if dup.CallbackNumber != reservation.MaskNumber("+14155550100") || dup.TimeSlot.Start == "" {
		t.Errorf("duplicate answer: %s", r.body)
	}
	// A replay through the key (every browser with the key shares its
	// idempotency keys) answers the reservation without its link.
	r = s.kdo(t, http.StatusCreated, "POST", "/api/v2/callbacks", shopKey, shopOrigin, first,
		"Slotline-Proof", s.proof(t), "Idempotency-Key", "widget-0001")
	if r.header.Get("Idempotent-Replayed") != "true" || strings.Contains(string(r.body), "manage") {
		t.Errorf("replay: %v %s", r.header, r.body)
	}
	// The queue's number rules and admission apply: a bad number is the
	// same 400 as for any client.
	s.kdo(t, http.StatusBadRequest, "POST", "/api/v2/callbacks", shopKey, shopOrigin, s.keyCreate("12345", "queue_a", 4), "Slotline-Proof", s.proof(t))

	// Every other route refuses the key, even from its origin.
	for _, rt := range []struct {
		method, path string
		body         any
	}{
		{"GET", "/api/v2/callbacks", nil},
		{"GET", "/api/v2/callbacks/" + created.ID, nil},
		{"PATCH", "/api/v2/callbacks/" + created.ID, map[string]any{"reason": "x"}},
		{"DELETE", "/api/v2/callbacks/" + created.ID, nil},
		{"GET", "/api/v2/queues", nil},
		{"GET", "/api/v2/queues/queue_a", nil},
		{"GET", "/api/v2/webhooks", nil},
		{"POST", "/api/v2/webhooks", map[string]any{"url": "https://hooks.example/x"}},
	} {
		if p := s.kdo(t, http.StatusForbidden, rt.method, rt.path, shopKey, shopOrigin, rt.body).problem(t); p.Code != "forbidden" {
			t.Errorf("%s %s: %+v", rt.method, rt.path, p)
		}
	}
	var res struct {
		Status string `json:"status"`
	}
	s.do(t, http.StatusOK, "GET", "/api/v2/callbacks/"+created.ID, s.ops, nil).decode(t, &res)
	if res.Status != "scheduled" {
		t.Errorf("after the refused cancel: status %q", res.Status)
	}
}

// preflight sends an OPTIONS request as a browser does before a
// cross-origin request.
func (s *publicServer) preflight(t testing.TB, path, origin, method string) *specResponse {
	t.Helper()
	return s.kdo(t, http.StatusNoContent, "OPTIONS", path, "", origin, nil,
		"Access-Control-Request-Method", method, "Access-Control-Request-Headers", "authorization, content-type, slotline-proof")
}

func TestPublicPreflight(t *testing.T) {
	t.Parallel()
	s := newPublicServer(t, nil, sqliteDSN(t), publicOptions{})
	allowed := func(r *specResponse, origin string) {
		t.Helper()
		wantCORS(t, r, origin)
		for h, want := range map[string]string{
			"Access-Control-Allow-Methods": "GET, POST",
			"Access-Control-Allow-Headers": "Authorization, Content-Type, Idempotency-Key, Slotline-Proof",
			"Access-Control-Max-Age":       "600",
		} {
			if got := r.header.Get(h); got != want {
				t.Errorf("%s = %q, want %q", h, got, want)
			}
		}
	}
	denied := func(r *specResponse) {
		t.Helper()
		for _, h := range []string{"Access-Control-Allow-Origin", "Access-Control-Allow-Methods", "Access-Control-Allow-Headers",
			"Access-Control-Max-Age", "Access-Control-Expose-Headers"} {
			if got := r.header.Get(h); got != "" {
				t.Errorf("denied preflight: %s = %q", h, got)
			}
		}
	}
	allowed(s.preflight(t, "/api/v2/callbacks", shopOrigin, "POST"), shopOrigin)
	allowed(s.preflight(t, "/api/v2/callbacks", blogOrigin, "POST"), blogOrigin)
	allowed(s.preflight(t, "/api/v2/challenge", blogOrigin, "GET"), blogOrigin)
	allowed(s.preflight(t, "/api/v2/queues/queue_a/availability", shopOrigin, "GET"), shopOrigin)
	// The blog's key does not book on queue_a, but its origin is a key's:
	// the preflight passes so that the request's refusal can be read.
	allowed(s.preflight(t, "/api/v2/queues/queue_a/availability", blogOrigin, "GET"), blogOrigin)
	allowed(s.preflight(t, "/api/v2/queues/nope/availability", shopOrigin, "GET"), shopOrigin)
	for _, path := range []string{"/api/v2/callbacks", "/api/v2/challenge", "/api/v2/queues/queue_b/availability"} {
		denied(s.preflight(t, path, evilOrigin, "GET"))
		denied(s.preflight(t, path, "", "GET"))
	}
	// The challenge answers the keys' origins only.
	r := s.kdo(t, http.StatusOK, "GET", "/api/v2/challenge", "", blogOrigin, nil)
	wantCORS(t, r, blogOrigin)
	r = s.kdo(t, http.StatusOK, "GET", "/api/v2/challenge", "", evilOrigin, nil)
	wantCORS(t, r, "")
	// An OAuth client's requests get no CORS headers.
	r = s.kdo(t, http.StatusOK, "GET", "/api/v2/queues/queue_a/availability", s.website, shopOrigin, nil)
	wantCORS(t, r, "")
}

// TestPublicProblemTypes: the new codes explain themselves.
func TestPublicProblemTypes(t *testing.T) {
	t.Parallel()
	s := newPublicServer(t, nil, sqliteDSN(t), publicOptions{})
	for code, want := range map[string]string{"origin_not_allowed": "Origin", "proof_required": "Slotline-Proof"} {
		r := s.do(t, http.StatusOK, "GET", "/problems/"+code, "", nil)
		if !strings.HasPrefix(string(r.body), "403 ") || !strings.Contains(string(r.body), want) {
			t.Errorf("/problems/%s: %s", code, r.body)
		}
	}
}

func TestPublicRateLimits(t *testing.T) {
	t.Parallel()
	s := newPublicServer(t, nil, sqliteDSN(t), publicOptions{challengeBurst: 2})
	avail := "/api/v2/queues/queue_b/availability"
	for range 3 {
		s.kdo(t, http.StatusOK, "GET", avail, blogKey, blogOrigin, nil)
	}
	r := s.kdo(t, http.StatusTooManyRequests, "GET", avail, blogKey, blogOrigin, nil)
	if secs, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || secs < 100 {
		t.Errorf("Retry-After = %q, want about 1000 s", r.header.Get("Retry-After"))
	}
	// The page can read the 429 and its Retry-After.
	wantCORS(t, r, blogOrigin)
	// Routes the key may not use count too (their refusals are audited:
	// the limit bounds them).
	s.kdo(t, http.StatusTooManyRequests, "DELETE", "/api/v2/callbacks/cb_00000000000000000000", blogKey, blogOrigin, nil)
	// The limit is the blog key's: the shop key is not held up.
	s.kdo(t, http.StatusOK, "GET", "/api/v2/queues/queue_a/availability", shopKey, shopOrigin, nil)
	// Challenges, per source address.
	s.challenge(t, shopOrigin)
	s.challenge(t, shopOrigin)
	r = s.kdo(t, http.StatusTooManyRequests, "GET", "/api/v2/challenge", "", shopOrigin, nil)
	if r.header.Get("Retry-After") == "" {
		t.Error("challenge 429 without Retry-After")
	}
}

// TestPublicProofAcrossProcessesOnPostgres: two servers on one PostgreSQL
// schema, one deployment: a proof spent on one is refused by the other,
// and of two creates racing with one proof, one books.
func TestPublicProofAcrossProcessesOnPostgres(t *testing.T) {
	t.Parallel()
	dsn := storagetest.PostgresDSN(t)
	one := newPublicServer(t, nil, dsn, publicOptions{})
	two := newPublicServer(t, nil, dsn, publicOptions{})
	proof := one.proof(t)
	one.kdo(t, http.StatusCreated, "POST", "/api/v2/callbacks", shopKey, shopOrigin, one.keyCreate("+14155550100", "queue_a", 0), "Slotline-Proof", proof)
	if p := two.kdo(t, http.StatusForbidden, "POST", "/api/v2/callbacks", shopKey, shopOrigin, two.keyCreate("+14155550101", "queue_a", 1),
		"Slotline-Proof", proof).problem(t); p.Code != "proof_required" {
		t.Errorf("reused on the other process: %+v", p)
	}
	// A challenge of one process is good on the other.
	two.kdo(t, http.StatusCreated, "POST", "/api/v2/callbacks", shopKey, shopOrigin, two.keyCreate("+14155550102", "queue_a", 2), "Slotline-Proof", one.proof(t))

	proof = two.proof(t)
	var wg sync.WaitGroup
	statuses := make([]int, 8)
	for i := range statuses {
		srv := []*publicServer{one, two}[i%2]
		wg.Go(func() {
			req, err := http.NewRequest("POST", srv.srv.URL+"/api/v2/callbacks",
				strings.NewReader(fmt.Sprintf(`{"callback_number":"+1415555%04d","queue_id":"queue_a","time_slot_matrix":[{"start":%q,"end":%q}]}`,
					2000+i, srv.now.UTC().Truncate(time.Hour).Add(49*time.Hour).Format(time.RFC3339),
					srv.now.UTC().Truncate(time.Hour).Add(49*time.Hour+15*time.Minute).Format(time.RFC3339))))
			if err != nil {
				t.Error(err)
				return
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+shopKey)
			req.Header.Set("Origin", shopOrigin)
			req.Header.Set("Slotline-Proof", proof)
			res, err := srv.srv.Client().Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			_ = res.Body.Close()
			statuses[i] = res.StatusCode
		})
	}
	wg.Wait()
	counts := map[int]int{}
	for _, st := range statuses {
		counts[st]++
	}
	if counts[http.StatusCreated] != 1 || counts[http.StatusForbidden] != 7 {
		t.Errorf("8 creates racing with one proof on two processes: %v, want 1 × 201 and 7 × 403", counts)
	}
}

// testPublicConformance (a TestOpenAPIConformance subtest) produces the
// answers of the challenge and the preflights against the document.
func testPublicConformance(t *testing.T, b *specBundle) {
	s := newPublicServer(t, b.doc, sqliteDSN(t), publicOptions{challengeBurst: 1})
	s.challenge(t, shopOrigin)
	s.kdo(t, http.StatusTooManyRequests, "GET", "/api/v2/challenge", "", shopOrigin, nil)
	off := newPublicServer(t, b.doc, sqliteDSN(t), publicOptions{noProof: true})
	off.kdo(t, http.StatusNotFound, "GET", "/api/v2/challenge", "", shopOrigin, nil)
	// Without the proof of work a key's create needs none.
	off.kdo(t, http.StatusCreated, "POST", "/api/v2/callbacks", shopKey, shopOrigin, off.keyCreate("+14155550100", "queue_a", 0))
	for _, path := range []string{"/api/v2/challenge", "/api/v2/callbacks", "/api/v2/queues/queue_a/availability"} {
		s.preflight(t, path, shopOrigin, "GET")
	}
}
