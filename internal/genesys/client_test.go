package genesys

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/slotline/slotline/internal/fakeclock"
)

func TestRegionURLs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, api, login string
	}{
		{"mypurecloud.com", "https://api.mypurecloud.com", "https://login.mypurecloud.com"},
		{"us-east-1", "https://api.mypurecloud.com", "https://login.mypurecloud.com"},
		{"usw2.pure.cloud", "https://api.usw2.pure.cloud", "https://login.usw2.pure.cloud"},
		{"us-west-2", "https://api.usw2.pure.cloud", "https://login.usw2.pure.cloud"},
		{"eu-west-1", "https://api.mypurecloud.ie", "https://login.mypurecloud.ie"},
		{"mypurecloud.ie", "https://api.mypurecloud.ie", "https://login.mypurecloud.ie"},
		{"eu-central-1", "https://api.mypurecloud.de", "https://login.mypurecloud.de"},
		{"ap-southeast-2", "https://api.mypurecloud.com.au", "https://login.mypurecloud.com.au"},
		{"ap-northeast-1", "https://api.mypurecloud.jp", "https://login.mypurecloud.jp"},
		{"us-east-2", "https://api.use2.us-gov-pure.cloud", "https://login.use2.us-gov-pure.cloud"},
		{"mxc1.pure.cloud", "https://api.mxc1.pure.cloud", "https://login.mxc1.pure.cloud"},
		{" API.MyPureCloud.com ", "https://api.mypurecloud.com", "https://login.mypurecloud.com"},
		{"https://api.euw2.pure.cloud/", "https://api.euw2.pure.cloud", "https://login.euw2.pure.cloud"},
		{"login.cac1.pure.cloud", "https://api.cac1.pure.cloud", "https://login.cac1.pure.cloud"},
	}
	for _, tt := range tests {
		api, login, err := RegionURLs(tt.in)
		if err != nil {
			t.Errorf("RegionURLs(%q): %v", tt.in, err)
			continue
		}
		if api != tt.api || login != tt.login {
			t.Errorf("RegionURLs(%q) = %s, %s; want %s, %s", tt.in, api, login, tt.api, tt.login)
		}
	}
	for _, bad := range []string{"", "mars-1", "example.com", "pure.cloud"} {
		if _, _, err := RegionURLs(bad); err == nil {
			t.Errorf("RegionURLs(%q): no error", bad)
		}
	}
}

func TestNewConfig(t *testing.T) {
	t.Parallel()
	base := Config{ClientID: "id", ClientSecret: "secret"}
	bad := map[string]func(*Config){
		"nothing":         func(c *Config) {},
		"both":            func(c *Config) { c.Region = "us-east-1"; c.APIURL = "https://x"; c.LoginURL = "https://y" },
		"api only":        func(c *Config) { c.APIURL = "https://x" },
		"bad region":      func(c *Config) { c.Region = "nowhere" },
		"bad url":         func(c *Config) { c.APIURL = "ftp://x"; c.LoginURL = "https://y" },
		"no secret":       func(c *Config) { c.Region = "us-east-1"; c.ClientSecret = "" },
		"negative burst":  func(c *Config) { c.Region = "us-east-1"; c.Burst = -1 },
		"negative tmeout": func(c *Config) { c.Region = "us-east-1"; c.CallTimeout = -time.Second },
	}
	for name, edit := range bad {
		cfg := base
		edit(&cfg)
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: New accepted %+v", name, cfg)
		} else if strings.Contains(err.Error(), "secret") && cfg.ClientSecret != "" && strings.Contains(err.Error(), cfg.ClientSecret) {
			t.Errorf("%s: error leaks the secret: %v", name, err)
		}
	}
	cfg := base
	cfg.Region = "eu-west-1"
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if c.APIURL() != "https://api.mypurecloud.ie" || c.loginURL != "https://login.mypurecloud.ie" {
		t.Errorf("urls = %s %s", c.APIURL(), c.loginURL)
	}
	if c.maxAttempts != DefaultMaxAttempts || c.maxRetryAfter != DefaultMaxRetryAfter || c.callTimeout != DefaultCallTimeout ||
		c.budget.(*bucket).lim.Burst() != DefaultBurst || math.Abs(float64(c.budget.(*bucket).lim.Limit())-295.0/60) > 1e-9 {
		t.Errorf("defaults not applied: %+v", c)
	}
	cfg = base
	cfg.APIURL, cfg.LoginURL = "http://127.0.0.1:9/", "http://127.0.0.1:9"
	if c, err = New(cfg); err != nil || c.APIURL() != "http://127.0.0.1:9" {
		t.Errorf("explicit urls: %v %v", c, err)
	}
}

func TestToken(t *testing.T) {
	t.Parallel()

	// In a synctest bubble (newFakeInBubble): the token cache reads the
	// real clock, which there is fake and moves only by the sleeps, so the
	// early refresh is checked 1 ms either side of its moment.
	t.Run("CachedAndRefreshedEarly", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			f := newFakeInBubble(t, okJSON(queueJSON))
			f.expiresIn.Store(31) // usable for 1 s: refreshed 30 s before expiry
			c, obs := testClient(t, f, nil)
			ctx := context.Background()
			fetched := time.Now()
			for range 3 {
				if _, err := c.GetQueue(ctx, "q-1"); err != nil {
					t.Fatal(err)
				}
			}
			if got := f.tokens.Load(); got != 1 {
				t.Fatalf("tokens after 3 quick calls = %d, want 1", got)
			}
			time.Sleep(time.Second - time.Millisecond) // fake time
			if _, err := c.GetQueue(ctx, "q-1"); err != nil {
				t.Fatal(err)
			}
			if got := f.tokens.Load(); got != 1 {
				t.Fatalf("tokens %v after the fetch = %d, want 1 (refreshed too early)", time.Since(fetched), got)
			}
			time.Sleep(2 * time.Millisecond) // fake time: 1 ms past 30 s before expiry
			if _, err := c.GetQueue(ctx, "q-1"); err != nil {
				t.Fatal(err)
			}
			if got := f.tokens.Load(); got != 2 {
				t.Fatalf("tokens after early expiry = %d, want 2", got)
			}
			reqs := f.recorded()
			if reqs[0].Auth != "Bearer tok-1" || reqs[3].Auth != "Bearer tok-1" || reqs[4].Auth != "Bearer tok-2" {
				t.Errorf("auth headers = %q, %q, %q", reqs[0].Auth, reqs[3].Auth, reqs[4].Auth)
			}
			if _, _, refreshes := obs.snapshot(); refreshes != 2 {
				t.Errorf("observer refreshes = %d, want 2", refreshes)
			}
		})
	})

	t.Run("LongLivedTokenReused", func(t *testing.T) {
		t.Parallel()
		f := newFake(t, okJSON(queueJSON))
		c, _ := testClient(t, f, nil)
		for range 10 {
			if _, err := c.GetQueue(context.Background(), "q-1"); err != nil {
				t.Fatal(err)
			}
		}
		if got := f.tokens.Load(); got != 1 {
			t.Errorf("tokens = %d, want 1", got)
		}
	})

	t.Run("401RefreshesAndRetriesOnce", func(t *testing.T) {
		t.Parallel()
		f := newFake(t, nil)
		f.setAPI(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") == "Bearer tok-1" {
				writeError(w, http.StatusUnauthorized, "bad.credentials", "Invalid login credentials.")
				return
			}
			okJSON(queueJSON)(w, r)
		})
		c, obs := testClient(t, f, nil)
		q, err := c.GetQueue(context.Background(), "q-1")
		if err != nil {
			t.Fatal(err)
		}
		if q.Name != "Support" {
			t.Errorf("queue = %+v", q)
		}
		if got := f.tokens.Load(); got != 2 {
			t.Errorf("tokens = %d, want 2", got)
		}
		if _, retries, _ := obs.snapshot(); !cmp.Equal(retries, []string{"get_queue/401"}) {
			t.Errorf("retries = %v", retries)
		}
	})

	t.Run("401TwiceIsAnError", func(t *testing.T) {
		t.Parallel()
		f := newFake(t, status(http.StatusUnauthorized))
		c, _ := testClient(t, f, nil)
		_, err := c.GetQueue(context.Background(), "q-1")
		var ae *APIError
		if !errors.As(err, &ae) || ae.Status != http.StatusUnauthorized {
			t.Fatalf("err = %v, want a 401 APIError", err)
		}
		if !IsPermanent(err) {
			t.Error("401 after a refresh is not permanent")
		}
		if got := f.apiRequests.Load(); got != 2 {
			t.Errorf("API requests = %d, want 2", got)
		}
		if got := f.tokens.Load(); got != 2 {
			t.Errorf("tokens = %d, want 2", got)
		}
	})

	t.Run("Concurrent401sRefreshOnce", func(t *testing.T) {
		t.Parallel()
		f := newFake(t, nil)
		const n = 5
		var arrived atomic.Int64
		allIn, gate := make(chan struct{}), make(chan struct{})
		f.setAPI(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") == "Bearer tok-1" {
				if arrived.Add(1) == n {
					close(allIn)
				}
				<-gate // hold every tok-1 request until all have arrived
				writeError(w, http.StatusUnauthorized, "bad.credentials", "expired")
				return
			}
			okJSON(queueJSON)(w, r)
		})
		c, _ := testClient(t, f, nil)
		if _, err := c.tokens.tokenFromCache(); err != nil { // prime tok-1
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for range n {
			wg.Go(func() {
				_, err := c.GetQueue(context.Background(), "q-1")
				errs <- err
			})
		}
		select {
		case <-allIn:
		case <-time.After(20 * time.Second):
			close(gate)
			t.Fatalf("%d of %d tok-1 requests arrived", arrived.Load(), n)
		}
		close(gate)
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
		if got := f.tokens.Load(); got != 2 {
			t.Errorf("tokens = %d, want 2 (one refresh for %d concurrent 401s)", got, n)
		}
	})

	t.Run("TokenEndpointRefusal", func(t *testing.T) {
		t.Parallel()
		f := newFake(t, okJSON(queueJSON))
		c, _ := testClient(t, f, func(cfg *Config) { cfg.ClientSecret = "wrong" })
		_, err := c.GetQueue(context.Background(), "q-1")
		var ae *APIError
		if !errors.As(err, &ae) || ae.Op != "token" || ae.Status != http.StatusUnauthorized || ae.Code != "invalid_client" {
			t.Fatalf("err = %#v", err)
		}
		if !IsPermanent(err) || f.apiRequests.Load() != 0 {
			t.Errorf("permanent=%v api requests=%d", IsPermanent(err), f.apiRequests.Load())
		}
		if strings.Contains(err.Error(), "wrong") {
			t.Errorf("error leaks the secret: %v", err)
		}
	})

	t.Run("TokenEndpoint503Retried", func(t *testing.T) {
		t.Parallel()
		f := newFake(t, okJSON(queueJSON))
		f.tokenStatus.Store(http.StatusServiceUnavailable)
		c, obs := testClient(t, f, func(cfg *Config) { cfg.MaxAttempts = 20 })
		c.backoffBase, c.backoffCap = 20*time.Millisecond, 20*time.Millisecond
		// The token endpoint recovers once the client has seen a 503 and
		// decided to retry it.
		obs.onRetry = func(string, string) { f.tokenStatus.Store(0) }
		if _, err := c.GetQueue(context.Background(), "q-1"); err != nil {
			t.Fatal(err)
		}
		if _, retries, _ := obs.snapshot(); len(retries) == 0 || retries[0] != "get_queue/5xx" {
			t.Errorf("retries = %v", retries)
		}
	})
}

// tokenFromCache is a test helper fetching the cached token.
func (tc *tokenCache) tokenFromCache() (string, error) {
	t, _, err := tc.token()
	if err != nil {
		return "", err
	}
	return t.AccessToken, nil
}

func TestRetries(t *testing.T) {
	t.Parallel()

	t.Run("429HonoursRetryAfter", func(t *testing.T) {
		t.Parallel()
		f := newFake(t, sequence(func(w http.ResponseWriter, r *http.Request) { write429(w, 1) }, okJSON(queueJSON)))
		c, obs := testClient(t, f, nil)
		if _, err := c.GetQueue(context.Background(), "q-1"); err != nil {
			t.Fatal(err)
		}
		reqs := f.recorded()
		if len(reqs) != 2 {
			t.Fatalf("requests = %d, want 2", len(reqs))
		}
		if gap := reqs[1].At.Sub(reqs[0].At); gap < time.Second {
			t.Errorf("second attempt %s after the first, want ≥ 1s", gap)
		}
		calls, retries, _ := obs.snapshot()
		if want := []observedCall{{"get_queue", 429}, {"get_queue", 200}}; !cmp.Equal(calls, want) {
			t.Errorf("calls = %v, want %v", calls, want)
		}
		if !cmp.Equal(retries, []string{"get_queue/429"}) {
			t.Errorf("retries = %v", retries)
		}
	})

	t.Run("RetryAfterAboveMaxGivesUp", func(t *testing.T) {
		t.Parallel()
		f := newFake(t, func(w http.ResponseWriter, r *http.Request) { write429(w, 5) })
		c, _ := testClient(t, f, func(cfg *Config) { cfg.MaxRetryAfter = 2 * time.Second })
		start := time.Now()
		_, err := c.GetQueue(context.Background(), "q-1")
		var ae *APIError
		if !errors.As(err, &ae) || ae.Status != 429 || ae.RetryAfter != 5*time.Second || ae.Code != "too.many.requests.retry.after" {
			t.Fatalf("err = %#v", err)
		}
		if IsPermanent(err) {
			t.Error("429 is permanent")
		}
		if f.apiRequests.Load() != 1 || time.Since(start) > 2*time.Second {
			t.Errorf("requests = %d after %s", f.apiRequests.Load(), time.Since(start))
		}
	})

	t.Run("RetryAfterBeyondDeadlineReturnsAPIError", func(t *testing.T) {
		t.Parallel()
		f := newFake(t, func(w http.ResponseWriter, r *http.Request) { write429(w, 10) })
		c, _ := testClient(t, f, nil)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := c.GetQueue(ctx, "q-1")
		var ae *APIError
		if !errors.As(err, &ae) || ae.RetryAfter != 10*time.Second {
			t.Fatalf("err = %v", err)
		}
		if ctx.Err() != nil {
			t.Error("waited for the deadline instead of returning")
		}
	})

	t.Run("5xxBackoffThenSuccess", func(t *testing.T) {
		t.Parallel()
		f := newFake(t, sequence(status(503), status(500), status(502), okJSON(queueJSON)))
		c, obs := testClient(t, f, nil)
		if _, err := c.GetQueue(context.Background(), "q-1"); err != nil {
			t.Fatal(err)
		}
		if got := f.apiRequests.Load(); got != 4 {
			t.Errorf("requests = %d, want 4", got)
		}
		if _, retries, _ := obs.snapshot(); !cmp.Equal(retries, []string{"get_queue/5xx", "get_queue/5xx", "get_queue/5xx"}) {
			t.Errorf("retries = %v", retries)
		}
	})

	t.Run("MaxAttempts", func(t *testing.T) {
		t.Parallel()
		f := newFake(t, status(503))
		c, _ := testClient(t, f, func(cfg *Config) { cfg.MaxAttempts = 3 })
		_, err := c.GetQueue(context.Background(), "q-1")
		var ae *APIError
		if !errors.As(err, &ae) || ae.Status != 503 || IsPermanent(err) {
			t.Fatalf("err = %v", err)
		}
		if got := f.apiRequests.Load(); got != 3 {
			t.Errorf("requests = %d, want 3", got)
		}
	})

	t.Run("501NotRetried", func(t *testing.T) {
		t.Parallel()
		f := newFake(t, status(501))
		c, _ := testClient(t, f, nil)
		_, err := c.GetQueue(context.Background(), "q-1")
		var ae *APIError
		if !errors.As(err, &ae) || ae.Status != 501 {
			t.Fatalf("err = %v", err)
		}
		if got := f.apiRequests.Load(); got != 1 {
			t.Errorf("requests = %d, want 1", got)
		}
	})

	t.Run("400NotRetried", func(t *testing.T) {
		t.Parallel()
		f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("ININ-Correlation-Id", "9a1b-corr")
			writeJSON(w, 400, map[string]any{
				"message": "The request could not be understood by the server due to malformed syntax.",
				"code":    "bad.request", "status": 400, "contextId": "9a1b-ctx",
				"details": []map[string]string{{"errorCode": "invalid.value", "fieldName": "callbackNumbers"}},
				"errors":  []any{},
			})
		})
		c, _ := testClient(t, f, nil)
		_, err := c.GetQueue(context.Background(), "q-1")
		var ae *APIError
		if !errors.As(err, &ae) {
			t.Fatalf("err = %v", err)
		}
		want := &APIError{
			Op: "get_queue", Status: 400, Code: "bad.request",
			Message:   "The request could not be understood by the server due to malformed syntax.",
			ContextID: "9a1b-ctx", CorrelationID: "9a1b-corr",
			Details: []Detail{{ErrorCode: "invalid.value", FieldName: "callbackNumbers"}},
		}
		if diff := cmp.Diff(want, ae, cmp.AllowUnexported(APIError{})); diff != "" {
			t.Errorf("APIError (-want +got):\n%s", diff)
		}
		for _, s := range []string{"get_queue", "400", "bad.request", "malformed syntax", "9a1b-corr"} {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("Error() = %q lacks %q", err, s)
			}
		}
		if !IsPermanent(err) || IsNotFound(err) {
			t.Errorf("permanent=%v notfound=%v", IsPermanent(err), IsNotFound(err))
		}
		if got := f.apiRequests.Load(); got != 1 {
			t.Errorf("requests = %d, want 1", got)
		}
	})

	t.Run("NonJSONErrorBody", func(t *testing.T) {
		t.Parallel()
		f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusGatewayTimeout)
			w.Write([]byte("<html><body>upstream timed out: secret internals</body></html>"))
		})
		c, _ := testClient(t, f, func(cfg *Config) { cfg.MaxAttempts = 2 })
		_, err := c.GetQueue(context.Background(), "q-1")
		var ae *APIError
		if !errors.As(err, &ae) || ae.Status != 504 || ae.Message != "Gateway Timeout" {
			t.Fatalf("err = %#v", err)
		}
		if strings.Contains(err.Error(), "internals") {
			t.Errorf("error carries the body: %v", err)
		}
	})

	t.Run("LostResponseOfReadRetried", func(t *testing.T) {
		t.Parallel()
		f := newFake(t, sequence(hijackClose, okJSON(queueJSON)))
		c, _ := testClient(t, f, nil)
		if _, err := c.GetQueue(context.Background(), "q-1"); err != nil {
			t.Fatal(err)
		}
		// The transport may itself re-send a GET on a reused connection;
		// either way the read is repeated.
		if got := f.apiRequests.Load(); got != 2 {
			t.Errorf("requests = %d, want 2", got)
		}
	})

	t.Run("CallTimeoutPerAttempt", func(t *testing.T) {
		t.Parallel()
		slow := func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(2 * time.Second):
			}
		}
		f := newFake(t, sequence(slow, okJSON(queueJSON)))
		c, _ := testClient(t, f, func(cfg *Config) { cfg.CallTimeout = 200 * time.Millisecond })
		if _, err := c.GetQueue(context.Background(), "q-1"); err != nil {
			t.Fatal(err)
		}
		if got := f.apiRequests.Load(); got != 2 {
			t.Errorf("requests = %d, want 2", got)
		}
	})

	t.Run("ContextCancelledDuringBackoff", func(t *testing.T) {
		t.Parallel()
		f := newFake(t, func(w http.ResponseWriter, r *http.Request) { write429(w, 5) })
		c, obs := testClient(t, f, nil)
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			// Cancel once the client has recorded its retry of the first
			// 429: it is then in (or entering) its 5 s backoff.
			if !obs.await(20*time.Second, func(_ []observedCall, retries []string, _ int) bool { return len(retries) > 0 }) {
				t.Error("the client never retried the 429")
			}
			cancel()
		}()
		_, err := c.GetQueue(ctx, "q-1")
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
		var ae *APIError
		if !errors.As(err, &ae) || ae.Status != 429 {
			t.Errorf("err = %v, want the last APIError too", err)
		}
	})
}

func TestRateLimiter(t *testing.T) {
	t.Parallel()
	f := newFake(t, okJSON(queueJSON))
	c, _ := testClient(t, f, func(cfg *Config) { cfg.RateLimit, cfg.Burst = 20, 1 })
	start := time.Now()
	for range 10 {
		if _, err := c.GetQueue(context.Background(), "q-1"); err != nil {
			t.Fatal(err)
		}
	}
	// 1 immediate + 9 spaced 50 ms apart. Only a lower bound: the machine
	// may be slow, never fast.
	if d := time.Since(start); d < 440*time.Millisecond {
		t.Errorf("10 calls at 20/s took %s, want ≥ 0.45 s", d)
	}
}

// TestRefusedCallGivesTokenBack: a call Genesys refused with 503 gives its
// token back, so the retry does not wait for the bucket to refill.
func TestRefusedCallGivesTokenBack(t *testing.T) {
	t.Parallel()
	var calls atomic.Int64
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			writeError(w, http.StatusServiceUnavailable, "service.unavailable", "Service Unavailable")
			return
		}
		okJSON(queueJSON)(w, r)
	})
	// One token per 5 s: without the refund the retry would wait about 5 s.
	c, _ := testClient(t, f, func(cfg *Config) { cfg.RateLimit, cfg.Burst = 0.2, 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := c.GetQueue(ctx, "q-1"); err != nil {
		t.Fatalf("GetQueue after a 503: %v (the refused call kept its token)", err)
	}
	if n := calls.Load(); n != 2 {
		t.Errorf("%d API calls, want 2", n)
	}
}

// TestBucketRefundCap: refunds stay within RefusedShare of the rate.
func TestBucketRefundCap(t *testing.T) {
	t.Parallel()
	clk := fakeclock.New(time.Unix(1_700_000_000, 0))
	// 120/min with a burst of 1: 118/min (BudgetRate), refunds at a fifth
	// of that (one per 2.5 s), burst 1.
	b := newBucket(BucketConfig{RateLimit: 2, Burst: 1, Clock: clk})
	ctx := context.Background()
	if err := b.Take(ctx); err != nil {
		t.Fatalf("first token: %v", err)
	}
	b.Refund()
	if err := b.Take(ctx); err != nil {
		t.Fatalf("the refunded token: %v", err)
	}
	b.Refund() // a second refund at once: over a fifth of the rate
	got := make(chan error, 1)
	go func() { got <- b.Take(ctx) }()
	// The bucket is empty and no credit is left: the next token waits for
	// the bucket, about half a second.
	if err := clk.WaitFor(ctx, func(n int) bool { return n == 1 }); err != nil {
		t.Fatal(err)
	}
	clk.AdvanceToNext()
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	if d := clk.Now().Sub(time.Unix(1_700_000_000, 0)); d < 500*time.Millisecond {
		t.Errorf("the third token came after %s of fake time, want the bucket's ≥ 0.5 s (the second refund was given)", d)
	}
}

func TestLogsNoSecrets(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	var mu sync.Mutex
	f := newFake(t, sequence(status(401), status(503), func(w http.ResponseWriter, r *http.Request) { write429(w, 0) }, okJSON(queueJSON)))
	c, _ := testClient(t, f, func(cfg *Config) {
		cfg.Logger = slog.New(slog.NewJSONHandler(lockedWriter{&mu, &buf}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	if _, err := c.GetQueue(context.Background(), "q-1"); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	out := buf.String()
	mu.Unlock()
	if n := strings.Count(out, `"level":"WARN"`); n != 3 {
		t.Errorf("%d Warn records, want 3:\n%s", n, out)
	}
	for _, s := range []string{"tok-", testClientSecret, "Bearer"} {
		if strings.Contains(out, s) {
			t.Errorf("log contains %q:\n%s", s, out)
		}
	}
	for _, s := range []string{`"op":"get_queue"`, `"genesys_status":503`, `"correlation_id":"corr-service.unavailable"`, `"attempt":2`, `"genesys_code":"too.many.requests.retry.after"`} {
		if !strings.Contains(out, s) {
			t.Errorf("log lacks %s:\n%s", s, out)
		}
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestErrorHelpers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err           error
		permanent, nf bool
		description   string
	}{
		{&APIError{Status: 400}, true, false, "400"},
		{&APIError{Status: 404}, true, true, "404"},
		{&APIError{Status: 408}, false, false, "408"},
		{&APIError{Status: 409}, true, false, "409"},
		{&APIError{Status: 429}, false, false, "429"},
		{&APIError{Status: 500}, false, false, "500"},
		{&UnknownOutcomeError{Op: "create_callback", Err: &APIError{Status: 503}}, false, false, "unknown"},
		{invalidf("x"), true, false, "invalid"},
		{&TopicRejectedError{}, true, false, "rejected"},
		{context.DeadlineExceeded, false, false, "deadline"},
		{errors.Join(errors.New("x"), &APIError{Status: 404}), true, true, "wrapped 404"},
	}
	for _, tt := range tests {
		if got := IsPermanent(tt.err); got != tt.permanent {
			t.Errorf("%s: IsPermanent = %v", tt.description, got)
		}
		if got := IsNotFound(tt.err); got != tt.nf {
			t.Errorf("%s: IsNotFound = %v", tt.description, got)
		}
	}
	for in, want := range map[string]time.Duration{"1": time.Second, "0": 0, " 42 ": 42 * time.Second, "1.5": 1500 * time.Millisecond} {
		if got, ok := parseRetryAfter(in); !ok || got != want {
			t.Errorf("parseRetryAfter(%q) = %v, %v", in, got, ok)
		}
	}
	for _, in := range []string{"", "soon"} {
		if _, ok := parseRetryAfter(in); ok {
			t.Errorf("parseRetryAfter(%q) ok", in)
		}
	}
	if d, ok := parseRetryAfter(time.Now().Add(3 * time.Second).UTC().Format(http.TimeFormat)); !ok || d <= 0 || d > 3*time.Second {
		t.Errorf("http date: %v %v", d, ok)
	}
}
