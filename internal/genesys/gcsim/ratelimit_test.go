package gcsim_test

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/slotline/slotline/internal/fakeclock"
	"github.com/slotline/slotline/internal/genesys/gcsim"
)

// limitHeaders reads the inin-ratelimit-* headers of res, failing the test
// when one is missing.
func limitHeaders(t *testing.T, res result) (allowed, count, reset int) {
	t.Helper()
	read := func(name string) int {
		v := res.header.Get(name)
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatalf("status %d: header %s = %q, want a number", res.status, name, v)
		}
		return n
	}
	return read("inin-ratelimit-allowed"), read("inin-ratelimit-count"), read("inin-ratelimit-reset")
}

// TestRateLimitHeaders: every API response to an authenticated request
// carries the client's allowance, its count in the current minute and the
// seconds until that minute ends, errors and refusals included.
func TestRateLimitHeaders(t *testing.T) {
	t.Parallel()
	clk := fakeclock.New(time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC))
	b := setup(t, gcsim.Options{RateClock: clk.Now})
	get := func() result { return b.call(t, "GET", "/api/v2/routing/queues/"+queueID, nil) }

	// No limit set: a count all the same, and an allowance nobody reaches.
	if a, c, r := limitHeaders(t, get()); a != 1_000_000 || c != 1 || r != 60 {
		t.Errorf("without a limit: allowed %d, count %d, reset %d; want 1000000, 1, 60", a, c, r)
	}

	b.sim.SetRateLimitPerMinute(3)
	clk.Advance(20 * time.Second)
	if a, c, r := limitHeaders(t, get()); a != 3 || c != 2 || r != 40 {
		t.Errorf("second call: allowed %d, count %d, reset %d; want 3, 2, 40", a, c, r)
	}
	// A 404 counts too: it was served.
	if res := b.call(t, "GET", "/api/v2/routing/queues/nope", nil); res.status != 404 {
		t.Fatalf("unknown queue: %d", res.status)
	} else if _, c, _ := limitHeaders(t, res); c != 3 {
		t.Errorf("a 404: count %d, want 3", c)
	}
	// A refusal carries the headers but is not counted.
	b.sim.FailNext(gcsim.Fault{Status: 503})
	if res := get(); res.status != 503 {
		t.Fatalf("scripted 503: %d", res.status)
	} else if _, c, _ := limitHeaders(t, res); c != 3 {
		t.Errorf("a refusal: count %d, want 3 (not counted)", c)
	}
	// Over the allowance: 429 until the minute ends, Retry-After = reset.
	clk.Advance(10 * time.Second)
	res := get()
	wantError(t, res, http.StatusTooManyRequests, "too.many.requests.retry.after")
	if a, c, r := limitHeaders(t, res); a != 3 || c != 3 || r != 30 || res.header.Get("Retry-After") != "30" {
		t.Errorf("over the allowance: allowed %d, count %d, reset %d, Retry-After %q; want 3, 3, 30, 30",
			a, c, r, res.header.Get("Retry-After"))
	}
	// The next minute starts with the next request after this one ended.
	clk.Advance(30 * time.Second)
	if res := get(); res.status != 200 {
		t.Fatalf("next minute: %d", res.status)
	} else if a, c, r := limitHeaders(t, res); a != 3 || c != 1 || r != 60 {
		t.Errorf("next minute: allowed %d, count %d, reset %d; want 3, 1, 60", a, c, r)
	}

	// SetRateLimit's allowance is its rate per minute.
	b.sim.SetRateLimit(5)
	if a, _, _ := limitHeaders(t, get()); a != 300 {
		t.Errorf("SetRateLimit(5): allowed %d, want 300", a)
	}
}

// TestRateLimitPerClient: the limit is per OAuth client, shared by all of
// its tokens; another client has an allowance of its own.
func TestRateLimitPerClient(t *testing.T) {
	t.Parallel()
	clk := fakeclock.New(time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC))
	b := setup(t, gcsim.Options{RateClock: clk.Now, Clients: map[string]string{"other-client": "other-secret"}, RecordRequests: true})
	b.sim.SetRateLimitPerMinute(2)
	second := b.login(t) // a second token of the same client
	other := &bundle{sim: b.sim, base: b.base, id: "other-client", secret: "other-secret"}
	other.token = other.login(t)
	path := "/api/v2/routing/queues/" + queueID

	if res := b.call(t, "GET", path, nil); res.status != 200 {
		t.Fatalf("first token: %d", res.status)
	}
	if res := b.callWith(t, second, "GET", path, nil); res.status != 200 {
		t.Fatalf("second token: %d", res.status)
	} else if _, c, _ := limitHeaders(t, res); c != 2 {
		t.Errorf("second token's count %d, want 2 (the client's)", c)
	}
	for i, tok := range []string{b.token, second} {
		if res := b.callWith(t, tok, "GET", path, nil); res.status != 429 {
			t.Errorf("token %d over the client's allowance: %d, want 429", i+1, res.status)
		}
	}
	for i := range 2 {
		if res := other.call(t, "GET", path, nil); res.status != 200 {
			t.Errorf("other client, call %d: %d, want 200 (an allowance of its own)", i+1, res.status)
		} else if _, c, _ := limitHeaders(t, res); c != i+1 {
			t.Errorf("other client, call %d: count %d", i+1, c)
		}
	}

	reqs := b.sim.Requests()
	if len(reqs) != 6 {
		t.Fatalf("%d requests recorded, want 6: %+v", len(reqs), reqs)
	}
	want := []struct {
		client string
		token  int
		status int
	}{{gcsim.DefaultClientID, 1, 200}, {gcsim.DefaultClientID, 2, 200}, {gcsim.DefaultClientID, 1, 429},
		{gcsim.DefaultClientID, 2, 429}, {"other-client", 3, 200}, {"other-client", 3, 200}}
	for i, w := range want {
		r := reqs[i]
		if r.ClientID != w.client || r.Token != w.token || r.Status != w.status || r.Pattern != "GET /api/v2/routing/queues/{queueId}" || !r.At.Equal(clk.Now()) {
			t.Errorf("request %d = %+v, want client %s, token %d, status %d", i, r, w.client, w.token, w.status)
		}
	}
}
