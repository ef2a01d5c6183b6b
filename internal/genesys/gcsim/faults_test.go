package gcsim_test

import (
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/slotline/slotline/internal/genesys/gcsim"
)

const callbacksPath = "/api/v2/conversations/callbacks"

func createBody() map[string]any {
	return map[string]any{"queueId": queueID, "callbackNumbers": []string{"+14155550101"}}
}

func TestFailNext(t *testing.T) {
	t.Parallel()

	t.Run("429", func(t *testing.T) {
		t.Parallel()
		b := setup(t, gcsim.Options{})
		b.sim.FailNext(gcsim.Fault{Method: "POST", PathPrefix: callbacksPath, Status: 429, RetryAfter: 1500 * time.Millisecond, Count: 2})
		// Another method or path is not affected.
		if res := b.call(t, "GET", "/api/v2/routing/queues/"+queueID, nil); res.status != 200 {
			t.Errorf("unrelated call: %d", res.status)
		}
		for range 2 {
			res := b.call(t, "POST", callbacksPath, createBody())
			eb := wantError(t, res, 429, "too.many.requests.retry.after")
			if got := res.header.Get("Retry-After"); got != "2" {
				t.Errorf("Retry-After = %q, want 2", got)
			}
			if eb.Message != "Rate limit exceeded the maximum. Retry the request in [2] seconds" {
				t.Errorf("message = %q", eb.Message)
			}
		}
		if res := b.call(t, "POST", callbacksPath, createBody()); res.status != 200 {
			t.Errorf("third call: %d", res.status)
		}
		if n := len(b.sim.Callbacks()); n != 1 {
			t.Errorf("%d callbacks, want 1", n)
		}
		st := b.sim.Stats()
		if st.TooManyRequests != 2 || st.Count("POST /api/v2/conversations/callbacks", 429) != 2 || st.Count("POST /api/v2/conversations/callbacks", 0) != 3 {
			t.Errorf("stats = %+v", st)
		}
	})

	t.Run("503", func(t *testing.T) {
		t.Parallel()
		b := setup(t, gcsim.Options{})
		b.sim.FailNext(gcsim.Fault{Status: 503})
		wantError(t, b.call(t, "GET", "/api/v2/routing/queues/"+queueID, nil), 503, "service.unavailable")
		if res := b.call(t, "GET", "/api/v2/routing/queues/"+queueID, nil); res.status != 200 {
			t.Errorf("next call: %d", res.status)
		}
	})

	t.Run("latency", func(t *testing.T) {
		t.Parallel()
		b := setup(t, gcsim.Options{})
		b.sim.FailNext(gcsim.Fault{PathPrefix: "/api/v2/routing/", Latency: 150 * time.Millisecond})
		start := time.Now()
		res := b.call(t, "GET", "/api/v2/routing/queues/"+queueID, nil)
		if d := time.Since(start); res.status != 200 || d < 150*time.Millisecond {
			t.Errorf("status %d after %v", res.status, d)
		}
	})

	t.Run("lose response", func(t *testing.T) {
		t.Parallel()
		b := setup(t, gcsim.Options{})
		b.sim.FailNext(gcsim.Fault{Method: "POST", PathPrefix: callbacksPath, LoseResponse: true})
		req := b.request(t, b.token, "POST", callbacksPath, createBody())
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			res.Body.Close()
			t.Fatalf("got a response (%d), want a connection error", res.StatusCode)
		}
		got := b.sim.Callbacks()
		if len(got) != 1 {
			t.Fatalf("%d callbacks after a lost response, want 1 (committed)", len(got))
		}
		if st := b.sim.Stats(); st.LostResponses != 1 {
			t.Errorf("LostResponses = %d", st.LostResponses)
		}
	})

	t.Run("login", func(t *testing.T) {
		t.Parallel()
		b := setup(t, gcsim.Options{})
		b.sim.FailNext(gcsim.Fault{PathPrefix: "/oauth/token", Status: 503, RetryAfter: time.Second})
		req, _ := http.NewRequest("POST", b.base+"/oauth/token", strings.NewReader("grant_type=client_credentials"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(gcsim.DefaultClientID, gcsim.DefaultClientSecret)
		res := send(t, req)
		if res.status != 503 || res.header.Get("Retry-After") != "1" {
			t.Errorf("login fault: %d %v", res.status, res.header)
		}
		b.login(t)
	})

	t.Run("socket connect", func(t *testing.T) {
		t.Parallel()
		b := setup(t, gcsim.Options{})
		_, uri := b.channel(t, topic(queueID))
		b.sim.FailNext(gcsim.Fault{PathPrefix: "/channels/", Status: 503})
		wantDialStatus(t, uri, 503)
		dial(t, uri)
	})
}

func TestFailureRate(t *testing.T) {
	t.Parallel()
	b := setup(t, gcsim.Options{})
	b.sim.SetFailureRate(503, 1, 0)
	wantError(t, b.call(t, "GET", "/api/v2/routing/queues/"+queueID, nil), 503, "service.unavailable")
	b.login(t) // login is exempt
	b.sim.SetFailureRate(429, 0.5, 0)
	var n429 int
	for range 40 {
		res := b.call(t, "GET", "/api/v2/routing/queues/"+queueID, nil)
		if res.status == 429 {
			n429++
			if res.header.Get("Retry-After") == "" {
				t.Error("429 without Retry-After")
			}
		}
	}
	if n429 == 0 || n429 == 40 {
		t.Errorf("%d of 40 failed at rate 0.5", n429)
	}
	b.sim.SetFailureRate(0, 0, 0)
	if res := b.call(t, "GET", "/api/v2/routing/queues/"+queueID, nil); res.status != 200 {
		t.Errorf("after turning off: %d", res.status)
	}
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	b := setup(t, gcsim.Options{})
	b.sim.SetRateLimit(5)
	var ok, limited int
	for range 20 {
		res := b.call(t, "GET", "/api/v2/routing/queues/"+queueID, nil)
		switch res.status {
		case 200:
			ok++
		case 429:
			limited++
			eb := wantError(t, res, 429, "too.many.requests.retry.after")
			if res.header.Get("Retry-After") != "1" || !strings.Contains(eb.Message, "[1]") {
				t.Errorf("429: Retry-After %q, %q", res.header.Get("Retry-After"), eb.Message)
			}
		}
	}
	if ok < 5 || ok > 7 || limited == 0 {
		t.Errorf("ok %d, limited %d", ok, limited)
	}
	b.sim.SetRateLimit(0)
	if res := b.call(t, "GET", "/api/v2/routing/queues/"+queueID, nil); res.status != 200 {
		t.Errorf("after removing the limit: %d", res.status)
	}
}

// TestRefusalsDoNotUseAllowance: requests answered with an injected status
// are not served, so they leave the rate limit's allowance to the others.
// TestRefusalsDoNotUseAllowance runs in a synctest bubble: the rate limit
// refills on real time, which there is fake time moved only by the sleeps
// below, so a refill is exact rather than hoped for.
func TestRefusalsDoNotUseAllowance(t *testing.T) {
	t.Parallel()
	synctest.Test(t, testRefusalsDoNotUseAllowance)
}

func testRefusalsDoNotUseAllowance(t *testing.T) {
	b := setupInBubble(t, gcsim.Options{})
	b.sim.SetRateLimit(5)
	b.sim.FailNext(gcsim.Fault{Status: 503, Count: 10})
	for i := range 10 {
		if res := b.call(t, "GET", "/api/v2/routing/queues/"+queueID, nil); res.status != 503 {
			t.Fatalf("call %d: %d, want the injected 503", i, res.status)
		}
	}
	for i := range 5 {
		if res := b.call(t, "GET", "/api/v2/routing/queues/"+queueID, nil); res.status != 200 {
			t.Fatalf("call %d after the refusals: %d, want 200 (the refusals used the allowance)", i, res.status)
		}
	}
	// A fault that serves the request (latency) waits for the allowance
	// and is kept for the next request when the limit refuses this one.
	b.sim.FailNext(gcsim.Fault{Latency: time.Millisecond})
	if res := b.call(t, "GET", "/api/v2/routing/queues/"+queueID, nil); res.status != 429 {
		t.Fatalf("over the limit: %d, want 429", res.status)
	}
	time.Sleep(300 * time.Millisecond) // fake time: 1.5 tokens at 5/s
	if res := b.call(t, "GET", "/api/v2/routing/queues/"+queueID, nil); res.status != 200 {
		t.Fatalf("after a wait: %d", res.status)
	}
	// Faults keep their order: a refusal scripted after a serving fault
	// does not overtake it.
	b.sim.FailNext(gcsim.Fault{Latency: time.Millisecond})
	b.sim.FailNext(gcsim.Fault{Status: 503})
	time.Sleep(300 * time.Millisecond) // fake time: a token for the serving fault
	for i, want := range []int{200, 503} {
		if res := b.call(t, "GET", "/api/v2/routing/queues/"+queueID, nil); res.status != want {
			t.Fatalf("scripted fault %d: %d, want %d", i, res.status, want)
		}
	}
	if st := b.sim.Stats(); st.FaultsInjected != 13 {
		t.Errorf("faults injected %d, want 13 (11 refusals and the latency twice)", st.FaultsInjected)
	}

	// Charged refusals use the allowance: over the limit, the limit's 429
	// comes first and the scripted 503 waits.
	b.sim.SetRefusalsUseAllowance(true)
	b.sim.SetRateLimit(1) // one token, refilled in a second
	b.sim.FailNext(gcsim.Fault{Status: 503})
	if res := b.call(t, "GET", "/api/v2/routing/queues/"+queueID, nil); res.status != 503 {
		t.Fatalf("charged refusal: %d, want 503", res.status)
	}
	if res := b.call(t, "GET", "/api/v2/routing/queues/"+queueID, nil); res.status != 429 {
		t.Fatalf("after a charged refusal: %d, want the limit's 429", res.status)
	}
}

// TestLostResponseRate: SetLostResponseRate loses the answer of some of the
// matching calls, each committed; the others and the calls not matching are
// answered.
func TestLostResponseRate(t *testing.T) {
	t.Parallel()
	b := setup(t, gcsim.Options{})
	b.sim.SetLostResponseRate("POST", callbacksPath, 0.5)
	lost := 0
	for range 40 {
		res, err := http.DefaultClient.Do(b.request(t, b.token, "POST", callbacksPath, createBody()))
		if err != nil {
			lost++
			continue
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Fatalf("create: %d", res.StatusCode)
		}
	}
	if lost == 0 || lost == 40 {
		t.Errorf("%d of 40 answers lost at rate 0.5", lost)
	}
	if st := b.sim.Stats(); st.LostResponses != lost || len(b.sim.Callbacks()) != 40 {
		t.Errorf("lost %d, stats %d, %d callbacks; want every create committed", lost, st.LostResponses, len(b.sim.Callbacks()))
	}
	if res := b.call(t, "GET", "/api/v2/routing/queues/"+queueID, nil); res.status != 200 {
		t.Errorf("a call not matching: %d", res.status)
	}
	b.sim.SetLostResponseRate("", "", 0)
	if res := b.call(t, "POST", callbacksPath, createBody()); res.status != 200 {
		t.Errorf("after turning off: %d", res.status)
	}
}
