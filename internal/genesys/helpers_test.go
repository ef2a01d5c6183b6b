package genesys

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/slotline/slotline/internal/memnet"
)

const (
	testClientID     = "client-id-1"
	testClientSecret = "s3cret-VALUE_xyz"
)

// fakeGenesys is an httptest server speaking the OAuth token endpoint and
// whatever API handler a test gives it.
type fakeGenesys struct {
	t      testing.TB
	url    string
	client *http.Client // set by newFakeInBubble: the only way to reach it

	expiresIn   atomic.Int64 // seconds; default 3600
	tokenStatus atomic.Int64 // when non-zero, the token endpoint answers it
	tokens      atomic.Int64 // tokens issued
	apiRequests atomic.Int64

	mu       sync.Mutex
	api      http.HandlerFunc
	requests []recordedRequest
}

type recordedRequest struct {
	Method string
	Path   string
	Auth   string
	Body   []byte
	At     time.Time
}

// newFake starts a fake Genesys whose API is served by api.
func newFake(t testing.TB, api http.HandlerFunc) *fakeGenesys {
	t.Helper()
	f := &fakeGenesys{t: t, api: api}
	f.expiresIn.Store(3600)
	srv := httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(srv.Close)
	f.url = srv.URL
	return f
}

// newFakeInBubble is newFake for a test inside synctest.Test: the fake is
// served over an in-memory network (memNet), which the bubble can see, so
// that the client's real-time parts (token expiry, backoffs) run on the
// bubble's fake clock. Its clients must use f.client (testClient does).
func newFakeInBubble(t *testing.T, api http.HandlerFunc) *fakeGenesys {
	t.Helper()
	f := &fakeGenesys{t: t, api: api}
	f.expiresIn.Store(3600)
	mn := memnet.New("genesys.test:80")
	srv := &http.Server{Handler: http.HandlerFunc(f.serve)}
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(mn)
	}()
	tr := &http.Transport{DialContext: mn.DialContext}
	t.Cleanup(func() {
		srv.Close()
		<-served
		tr.CloseIdleConnections()
	})
	f.url, f.client = "http://genesys.test", &http.Client{Transport: tr}
	return f
}

func (f *fakeGenesys) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/oauth/token" {
		f.serveToken(w, r)
		return
	}
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	f.apiRequests.Add(1)
	f.mu.Lock()
	f.requests = append(f.requests, recordedRequest{Method: r.Method, Path: r.URL.RequestURI(), Auth: r.Header.Get("Authorization"), Body: body, At: time.Now()})
	api := f.api
	f.mu.Unlock()
	api(w, r)
}

func (f *fakeGenesys) serveToken(w http.ResponseWriter, r *http.Request) {
	want := "Basic " + base64.StdEncoding.EncodeToString([]byte(testClientID+":"+testClientSecret))
	if r.Method != http.MethodPost || r.Header.Get("Authorization") != want {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"error":"invalid_client","description":"bad credentials","error_description":"bad credentials"}`)
		return
	}
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "client_credentials" {
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"error":"unsupported_grant_type"}`)
		return
	}
	if st := f.tokenStatus.Load(); st != 0 {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(int(st))
		io.WriteString(w, `{"error":"temporarily_unavailable","error_description":"try later"}`)
		return
	}
	n := f.tokens.Add(1)
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"access_token":"tok-%d","token_type":"bearer","expires_in":%d}`, n, f.expiresIn.Load())
}

// setAPI replaces the API handler.
func (f *fakeGenesys) setAPI(h http.HandlerFunc) {
	f.mu.Lock()
	f.api = h
	f.mu.Unlock()
}

// recorded returns the API requests seen so far.
func (f *fakeGenesys) recorded() []recordedRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recordedRequest(nil), f.requests...)
}

// testClient returns a client of f with tiny backoffs and a generous rate
// limit, logging to t; edit adjusts the Config first.
func testClient(t testing.TB, f *fakeGenesys, edit func(*Config)) (*Client, *recordingObserver) {
	t.Helper()
	obs := &recordingObserver{}
	cfg := Config{
		APIURL:       f.url,
		LoginURL:     f.url,
		HTTPClient:   f.client,
		ClientID:     testClientID,
		ClientSecret: testClientSecret,
		RateLimit:    1000,
		Burst:        100,
		CallTimeout:  5 * time.Second,
		Logger:       slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Observer:     obs,
	}
	if edit != nil {
		edit(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	c.backoffBase = time.Millisecond
	c.backoffCap = 10 * time.Millisecond
	return c, obs
}

// testWriter sends log lines to t.Log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// recordingObserver records the Observer hooks.
type recordingObserver struct {
	mu       sync.Mutex
	calls    []observedCall
	retries  []string // op/reason
	refreshs int
	limits   []observedLimit
	pauses   []observedPause
	rates    []float64
	changed  chan struct{} // closed at the next record (see await)
	// onRetry, when set, runs in the client's goroutine as it records a
	// retry, before its backoff.
	onRetry func(op, reason string)
}

// notifyLocked wakes the awaits.
func (o *recordingObserver) notifyLocked() {
	if o.changed != nil {
		close(o.changed)
		o.changed = nil
	}
}

// await waits until cond holds for what has been recorded, woken by each
// record; it reports false if timeout passes first.
func (o *recordingObserver) await(timeout time.Duration, cond func(calls []observedCall, retries []string, refreshes int) bool) bool {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		o.mu.Lock()
		if cond(o.calls, o.retries, o.refreshs) {
			o.mu.Unlock()
			return true
		}
		if o.changed == nil {
			o.changed = make(chan struct{})
		}
		changed := o.changed
		o.mu.Unlock()
		select {
		case <-changed:
		case <-timer.C:
			return false
		}
	}
}

type observedCall struct {
	Op     string
	Status int
}

func (o *recordingObserver) Call(op string, status int, _ time.Duration) {
	o.mu.Lock()
	o.calls = append(o.calls, observedCall{op, status})
	o.notifyLocked()
	o.mu.Unlock()
}

func (o *recordingObserver) Retry(op, reason string) {
	o.mu.Lock()
	o.retries = append(o.retries, op+"/"+reason)
	o.notifyLocked()
	onRetry := o.onRetry
	o.mu.Unlock()
	if onRetry != nil {
		onRetry(op, reason)
	}
}

func (o *recordingObserver) TokenRefresh() {
	o.mu.Lock()
	o.refreshs++
	o.notifyLocked()
	o.mu.Unlock()
}

func (o *recordingObserver) RateLimit(allowed, count int, reset time.Duration) {
	o.mu.Lock()
	o.limits = append(o.limits, observedLimit{allowed, count, reset})
	o.notifyLocked()
	o.mu.Unlock()
}

func (o *recordingObserver) Paused(reason string, d time.Duration) {
	o.mu.Lock()
	o.pauses = append(o.pauses, observedPause{reason, d})
	o.notifyLocked()
	o.mu.Unlock()
}

func (o *recordingObserver) BudgetRate(perMinute float64) {
	o.mu.Lock()
	o.rates = append(o.rates, perMinute)
	o.notifyLocked()
	o.mu.Unlock()
}

type observedLimit struct {
	Allowed, Count int
	Reset          time.Duration
}

type observedPause struct {
	Reason string
	D      time.Duration
}

// budgetSnapshot returns the rate-limit headers, pauses and budget rates
// observed so far.
func (o *recordingObserver) budgetSnapshot() ([]observedLimit, []observedPause, []float64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]observedLimit(nil), o.limits...), append([]observedPause(nil), o.pauses...), append([]float64(nil), o.rates...)
}

func (o *recordingObserver) snapshot() (calls []observedCall, retries []string, refreshes int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]observedCall(nil), o.calls...), append([]string(nil), o.retries...), o.refreshs
}

// writeJSON answers status with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// writeError answers a Genesys ErrorBody.
func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("ININ-Correlation-Id", "corr-"+code)
	writeJSON(w, status, map[string]any{
		"message": msg, "code": code, "status": status, "contextId": "ctx-" + code, "details": []any{}, "errors": []any{},
	})
}

// write429 answers the normalized 429 with Retry-After secs.
func write429(w http.ResponseWriter, secs int) {
	w.Header().Set("Retry-After", fmt.Sprint(secs))
	writeError(w, http.StatusTooManyRequests, "too.many.requests.retry.after",
		fmt.Sprintf("Rate limit exceeded the maximum. Retry the request in [%d] seconds", secs))
}

// sequence returns a handler answering the i-th request with hs[i] (the
// last one repeating).
func sequence(hs ...http.HandlerFunc) http.HandlerFunc {
	var n atomic.Int64
	return func(w http.ResponseWriter, r *http.Request) {
		i := int(n.Add(1)) - 1
		if i >= len(hs) {
			i = len(hs) - 1
		}
		hs[i](w, r)
	}
}

// okJSON answers 200 with body.
func okJSON(body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, body)
	}
}

// status answers a Genesys error with status.
func status(code int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		writeError(w, code, strings.ToLower(strings.ReplaceAll(http.StatusText(code), " ", ".")), http.StatusText(code))
	}
}

// hijackClose reads the request and drops the connection without an
// answer: a response lost after the server got the request.
func hijackClose(w http.ResponseWriter, r *http.Request) {
	io.ReadAll(r.Body)
	conn, _, err := w.(http.Hijacker).Hijack()
	if err != nil {
		panic(err)
	}
	conn.Close()
}

const queueJSON = `{"id":"q-1","name":"Support","callingPartyNumber":"+18005550100",
 "outboundMessagingAddresses":{"smsAddress":{"id":"sms-1","name":"+18005550199"}},"memberCount":3}`
