package genesys

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/slotline/slotline/internal/fakeclock"
)

// TestCountReachedPauses: a response whose inin-ratelimit-count has reached
// inin-ratelimit-allowed pauses the budget until inin-ratelimit-reset, so
// that the next call waits for Genesys' count to reset instead of drawing a
// 429; the headers reach the observer.
func TestCountReachedPauses(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(1_700_000_000, 0)
	clk := fakeclock.New(t0)
	var mu sync.Mutex
	var arrivals []time.Time
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		arrivals = append(arrivals, clk.Now())
		count := 10 // the first call uses up the minute
		if len(arrivals) > 1 {
			count = 1
		}
		mu.Unlock()
		h := w.Header()
		h.Set("inin-ratelimit-allowed", "10")
		h.Set("inin-ratelimit-count", strconv.Itoa(count))
		h.Set("inin-ratelimit-reset", "7")
		okJSON(queueJSON)(w, r)
	})
	obs := &recordingObserver{}
	c, _ := testClient(t, f, func(cfg *Config) {
		cfg.Budget = NewBucket(BucketConfig{RateLimit: 100, Burst: 10, Clock: clk, Observer: obs})
		cfg.Observer = obs
	})
	ctx := context.Background()
	if _, err := c.GetQueue(ctx, "q-1"); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := c.GetQueue(ctx, "q-1")
		done <- err
	}()
	if err := clk.WaitFor(ctx, func(n int) bool { return n == 1 }); err != nil {
		t.Fatal(err)
	}
	clk.AdvanceToNext()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(arrivals) != 2 || arrivals[1].Sub(arrivals[0]) != 7*time.Second {
		t.Errorf("arrivals %v, want the second 7 s after the first", arrivals)
	}
	limits, pauses, rates := obs.budgetSnapshot()
	if len(limits) != 2 || limits[0] != (observedLimit{10, 10, 7 * time.Second}) {
		t.Errorf("rate-limit headers observed: %v", limits)
	}
	if len(pauses) != 1 || pauses[0] != (observedPause{PauseCount, 7 * time.Second}) {
		t.Errorf("pauses observed: %v, want one for the count, 7 s", pauses)
	}
	// 6,000 a minute configured, then Genesys' 10.
	if len(rates) != 2 || rates[0] != 6000 || rates[1] != 10 {
		t.Errorf("budget rates observed: %v, want [6000 10]", rates)
	}
}

func TestResetIn(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_700_000_000, 0)
	for v, want := range map[string]time.Duration{
		"7": 7 * time.Second, " 2.5 ": 2500 * time.Millisecond, "0": 0, "-3": 0, "": 0, "soon": 0, "NaN": 0,
		"1700000030": 30 * time.Second, "1700000012000": 12 * time.Second, "1699999999": 0,
	} {
		if got := resetIn(v, now); got != want {
			t.Errorf("resetIn(%q) = %s, want %s", v, got, want)
		}
	}
}
