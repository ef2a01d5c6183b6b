package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/slotline/slotline/internal/auth"
	"github.com/slotline/slotline/internal/httpapi"
)

// fakeClock is a clock the test moves.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// clientFrom returns an HTTP client whose connections come from the
// loopback address ip (any of 127.0.0.0/8), so that one test can be
// several source addresses.
func clientFrom(t *testing.T, ip string) *http.Client {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	tr := &http.Transport{DialContext: d.DialContext}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// login asks for a token as id with secret (HTTP Basic, as x/oauth2
// sends it), through hc.
func (b *apiBundle) login(t *testing.T, hc *http.Client, id, secret string) response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, b.srv.URL+"/oauth/token", strings.NewReader("grant_type=client_credentials"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	r := response{status: resp.StatusCode, header: resp.Header}
	if err := json.NewDecoder(resp.Body).Decode(&r.body); err != nil {
		t.Fatalf("login as %s: %d with a body that is not JSON: %v", id, r.status, err)
	}
	return r
}

// TestLoginThrottle: over HTTP, from two source addresses, with the
// throttle's clock in the test's hands.
func TestLoginThrottle(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{now: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	throttle := auth.NewThrottle(auth.ThrottleConfig{
		PerClient: 10.0 / 60, PerClientBurst: 5, // a token every 6 s
		PerAddress: 30.0 / 60, PerAddressBurst: 12, // a token every 2 s
		Now: clock.Now,
	})
	b := newAPIWith(t, func(d *httpapi.Deps) { d.LoginThrottle = throttle })
	a, other := clientFrom(t, "127.0.0.1"), clientFrom(t, "127.0.0.2")
	const readerSecret = "reader-secret-0123456789"

	// Wrong secrets for website from a: the burst is answered 401, then
	// 429 with Retry-After, as a problem document with the OAuth members.
	for i := range 5 {
		if r := b.login(t, a, "website", fmt.Sprintf("wrong-%d", i)); r.status != http.StatusUnauthorized {
			t.Fatalf("wrong secret %d = %d %v, want 401", i, r.status, r.body)
		}
	}
	r := b.login(t, a, "website", "wrong-5")
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") != "6" {
		t.Fatalf("sixth wrong secret = %d, Retry-After %q, %v; want 429 after 6 s", r.status, r.header.Get("Retry-After"), r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" || r.body["code"] != "rate_limited" ||
		r.body["error"] != "slow_down" || r.body["error_description"] != r.body["detail"] {
		t.Errorf("429 = %s %v, want a rate_limited problem with error slow_down", ct, r.body)
	}
	// Over the limit the secret is not checked: the right one is refused
	// too (otherwise a guesser would still learn which guess was right).
	if r := b.login(t, a, "website", trickySecret); r.status != http.StatusTooManyRequests {
		t.Errorf("right secret from the throttled address = %d, want 429", r.status)
	}
	// So is x/oauth2, which reads the OAuth members.
	cc := clientcredentials.Config{ClientID: "website", ClientSecret: trickySecret, TokenURL: b.srv.URL + "/oauth/token",
		AuthStyle: oauth2.AuthStyleInHeader}
	_, err := cc.Token(context.WithValue(context.Background(), oauth2.HTTPClient, a))
	if re := (*oauth2.RetrieveError)(nil); !errors.As(err, &re) || re.ErrorCode != "slow_down" {
		t.Errorf("x/oauth2 from the throttled address: %v, want a RetrieveError slow_down", err)
	}

	// The real client, from its own address, is not held up by failures
	// from another: its token comes at once, and its own failures have
	// their own budget.
	if r := b.login(t, other, "website", trickySecret); r.status != http.StatusOK || r.body["access_token"] == nil {
		t.Fatalf("right secret from another address = %d %v, want a token", r.status, r.body)
	}
	if r := b.login(t, other, "website", "wrong"); r.status != http.StatusUnauthorized {
		t.Errorf("one wrong secret from another address = %d, want 401", r.status)
	}

	// Ids that name no client share one budget per address: varying the
	// id buys nothing and adds nothing to remember.
	for i := range 5 {
		if r := b.login(t, a, fmt.Sprintf("nobody-%d", i), "wrong"); r.status != http.StatusUnauthorized {
			t.Fatalf("unknown id %d = %d, want 401", i, r.status)
		}
	}
	for i := range 50 {
		if r := b.login(t, a, fmt.Sprintf("nobody-more-%d", i), "wrong"); r.status != http.StatusTooManyRequests {
			t.Fatalf("unknown id %d past the burst = %d, want 429", 5+i, r.status)
		}
	}
	if clients, _ := throttle.Len(); clients != 3 { // website from a and from other, unknown ids from a
		t.Errorf("client table holds %d entries, want 3", clients)
	}

	// The address's own limit: a has failed 10 times of its 12, so the
	// reader, with a fresh per-client budget, fails twice more, then is
	// refused; from the other address it still logs in.
	for i := range 2 {
		if r := b.login(t, a, "reader", "wrong"); r.status != http.StatusUnauthorized {
			t.Fatalf("reader wrong secret %d = %d, want 401", i, r.status)
		}
	}
	if r := b.login(t, a, "reader", readerSecret); r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") != "2" {
		t.Errorf("reader from an address over its limit = %d, Retry-After %q; want 429 after 2 s", r.status, r.header.Get("Retry-After"))
	}
	if r := b.login(t, other, "reader", readerSecret); r.status != http.StatusOK {
		t.Errorf("reader from another address = %d, want 200", r.status)
	}

	// Once the window has passed, a logs in again, and may fail again.
	clock.Advance(time.Minute)
	if r := b.login(t, a, "website", trickySecret); r.status != http.StatusOK {
		t.Errorf("right secret a minute later = %d %v, want 200", r.status, r.body)
	}
	if r := b.login(t, a, "website", "wrong"); r.status != http.StatusUnauthorized {
		t.Errorf("wrong secret a minute later = %d, want 401", r.status)
	}
	// Successes took nothing: logging in many times is not throttled.
	for i := range 20 {
		if r := b.login(t, a, "reader", readerSecret); r.status != http.StatusOK {
			t.Fatalf("reader login %d = %d, want 200", i, r.status)
		}
	}

	if got := metricValue(b.metrics.TokenRefusals.WithLabelValues("throttled")); got != 54 {
		t.Errorf("throttled refusals = %g, want 54", got)
	}
	if got := metricValue(b.metrics.TokenRefusals.WithLabelValues("bad_credentials")); got != 14 {
		t.Errorf("bad_credentials refusals = %g, want 14", got)
	}
}

// TestLoginThrottleFlood: wrong secrets sent all at once are counted
// before any secret is checked, so no more than the burst get through
// to be checked, however many race; the real client, elsewhere, logs in.
func TestLoginThrottleFlood(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{now: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	throttle := auth.NewThrottle(auth.ThrottleConfig{PerClient: 10.0 / 60, PerClientBurst: 5,
		PerAddress: 30.0 / 60, PerAddressBurst: 20, Now: clock.Now})
	b := newAPIWith(t, func(d *httpapi.Deps) { d.LoginThrottle = throttle })
	flood := clientFrom(t, "127.0.0.1")
	flood.Transport.(*http.Transport).MaxIdleConnsPerHost = 50
	const n = 300
	statuses := make([]int, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 50)
	for i := range n {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			req, _ := http.NewRequest(http.MethodPost, b.srv.URL+"/oauth/token", nil)
			req.SetBasicAuth("website", fmt.Sprintf("guess-%d", i))
			resp, err := flood.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			statuses[i] = resp.StatusCode
		})
	}
	wg.Wait()
	count := map[int]int{}
	for _, s := range statuses {
		count[s]++
	}
	if count[http.StatusUnauthorized] != 5 || count[http.StatusTooManyRequests] != n-5 {
		t.Errorf("statuses = %v, want 5 × 401 and the rest 429", count)
	}
	if r := b.login(t, clientFrom(t, "127.0.0.2"), "website", trickySecret); r.status != http.StatusOK {
		t.Errorf("right secret from another address during the flood = %d, want 200", r.status)
	}
}
