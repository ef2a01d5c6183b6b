package genesys_test

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/slotline/slotline/internal/fakeclock"
	"github.com/slotline/slotline/internal/genesys"
	"github.com/slotline/slotline/internal/genesys/gcsim"
)

// budgetT0 is where the budget tests' fake clocks start.
var budgetT0 = time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)

// budgetSim starts a simulator whose rate limits run on clk, recording
// every API request.
func budgetSim(t *testing.T, clk *fakeclock.Clock) (*gcsim.Sim, string) {
	t.Helper()
	sim := gcsim.New(gcsim.Options{Clock: gcsim.NewClock(simT0, 0), Seed: 1, RateClock: clk.Now, RecordRequests: true})
	t.Cleanup(func() { sim.Close() })
	base, err := sim.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return sim, base
}

// budgetClient is a client of the simulator at base drawing from budget.
func budgetClient(t *testing.T, base string, budget genesys.Budget, obs genesys.Observer) *genesys.Client {
	t.Helper()
	c, err := genesys.New(genesys.Config{
		APIURL: base, LoginURL: base, ClientID: gcsim.DefaultClientID, ClientSecret: gcsim.DefaultClientSecret,
		Budget: budget, Observer: obs, CallTimeout: 10 * time.Second, MaxRetryAfter: time.Hour,
		Logger: slog.New(slog.NewTextHandler(simLog{t}, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// callUntil returns a Lockstep op: GetQueue through c until clk reads end.
func callUntil(t *testing.T, clk *fakeclock.Clock, end time.Time, c *genesys.Client) func(context.Context, int) bool {
	return func(ctx context.Context, _ int) bool {
		if !clk.Now().Before(end) {
			return false
		}
		if _, err := c.GetQueue(ctx, simQueue); err != nil && ctx.Err() == nil {
			t.Errorf("GetQueue at %s: %v", clk.Now().Sub(budgetT0), err)
			return false
		}
		return true
	}
}

// lockstep runs op in n workers on clk (see fakeclock.Lockstep), with a
// real-time bound in case the budget never lets them through.
func lockstep(t *testing.T, clk *fakeclock.Clock, n int, op func(context.Context, int) bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := clk.Lockstep(ctx, n, op); err != nil {
		t.Fatalf("lockstep: %v (fake time %s)", err, clk.Now().Sub(budgetT0))
	}
}

// count429 counts the simulator's 429s among reqs.
func count429(reqs []gcsim.APIRequest) int {
	n := 0
	for _, r := range reqs {
		if r.Status == http.StatusTooManyRequests {
			n++
		}
	}
	return n
}

// TestBucketAllowanceLowersRate: a Genesys that states an allowance below
// the configured limit (inin-ratelimit-allowed: 600 a minute against 3,000,
// enforced at 10 a second) gets no more than it allows in any minute, and
// no 429, from four workers sending as fast as the budget lets them for
// three minutes.
func TestBucketAllowanceLowersRate(t *testing.T) {
	t.Parallel()
	clk := fakeclock.New(budgetT0)
	sim, base := budgetSim(t, clk)
	sim.SetRateLimit(10)
	obs := &budgetObserver{}
	budget := genesys.NewBucket(genesys.BucketConfig{RateLimit: 50, Burst: 5, Clock: clk, Observer: obs})
	c := budgetClient(t, base, budget, obs)

	lockstep(t, clk, 4, callUntil(t, clk, budgetT0.Add(3*time.Minute), c))

	reqs := sim.Requests()
	if n := count429(reqs); n > 0 {
		t.Errorf("%d calls of %d were refused with 429: the client did not slow to Genesys' allowance", n, len(reqs))
	}
	if most, at := gcsim.BusiestWindow(reqs, time.Minute); most > 600 {
		t.Errorf("%d calls in the minute from %s, allowed 600", most, at.Sub(budgetT0))
	}
	// And it used the allowance: 600 a minute, less a burst per minute.
	if len(reqs) < 3*590 {
		t.Errorf("%d calls in 3 minutes, want ≥ 1,770 (600 a minute less the burst)", len(reqs))
	}
	if got := obs.lastRate(); got != 600 {
		t.Errorf("budget rate reported %g/min, want 600", got)
	}
	if a, _ := obs.lastLimit(); a != 600 {
		t.Errorf("allowance reported %d, want 600", a)
	}
}

// TestBucketPausesEveryWorker: a 429 with Retry-After stops every worker of
// the process until then, not only the call that got it.
func TestBucketPausesEveryWorker(t *testing.T) {
	t.Parallel()
	clk := fakeclock.New(budgetT0)
	sim, base := budgetSim(t, clk)
	obs := &budgetObserver{}
	budget := genesys.NewBucket(genesys.BucketConfig{RateLimit: 5, Burst: 5, Clock: clk, Observer: obs})
	c := budgetClient(t, base, budget, obs)
	refused := budgetT0.Add(20 * time.Second)
	var once sync.Once
	op := callUntil(t, clk, budgetT0.Add(time.Minute), c)

	lockstep(t, clk, 4, func(ctx context.Context, w int) bool {
		if !clk.Now().Before(refused) {
			once.Do(func() { sim.FailNext(gcsim.Fault{Status: http.StatusTooManyRequests, RetryAfter: 30 * time.Second}) })
		}
		return op(ctx, w)
	})

	reqs := sim.Requests()
	var at time.Time
	for _, r := range reqs {
		if r.Status == http.StatusTooManyRequests {
			at = r.At
			break
		}
	}
	if at.IsZero() {
		t.Fatal("no 429 was served")
	}
	var during, after int
	for _, r := range reqs {
		switch {
		case r.At.After(at) && r.At.Before(at.Add(30*time.Second)):
			during++
		case !r.At.Before(at.Add(30 * time.Second)):
			after++
		}
	}
	if during > 0 {
		t.Errorf("%d calls during the 30 s Retry-After of the 429 at %s", during, at.Sub(budgetT0))
	}
	if after == 0 {
		t.Error("no call after the pause")
	}
	if p := obs.pausesOf(genesys.PauseRetryAfter); len(p) != 1 || p[0] != 30*time.Second {
		t.Errorf("pauses for Retry-After = %v, want one of 30 s", p)
	}
}

// TestSharedBudgetNeverExceedsLimit: three processes (three clients, each
// with its own token and its own budget over one store) with four workers
// each stay within the deployment's limit in every minute, and together
// use most of it.
func TestSharedBudgetNeverExceedsLimit(t *testing.T) {
	t.Parallel()
	clk := fakeclock.New(budgetT0)
	sim, base := budgetSim(t, clk)
	store := &memBudgetStore{}
	const perMinute = 120
	var clients []*genesys.Client
	for range 3 {
		b, err := genesys.NewSharedBudget(genesys.SharedBudgetConfig{Store: store, RateLimit: perMinute / 60.0, Clock: clk})
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, budgetClient(t, base, b, nil))
	}
	end := budgetT0.Add(3 * time.Minute)
	lockstep(t, clk, 12, func(ctx context.Context, w int) bool { return callUntil(t, clk, end, clients[w%3])(ctx, w) })

	reqs := sim.Requests()
	if most, at := gcsim.BusiestWindow(reqs, time.Minute); most > perMinute {
		t.Errorf("%d calls in the minute from %s, limit %d", most, at.Sub(budgetT0), perMinute)
	}
	if len(reqs) < 3*perMinute*9/10 {
		t.Errorf("%d calls in 3 minutes, want ≥ 90%% of %d", len(reqs), 3*perMinute)
	}
	tokens := map[int]int{}
	for _, r := range reqs {
		tokens[r.Token]++
	}
	if len(tokens) != 3 {
		t.Errorf("calls by token: %v, want three processes' tokens", tokens)
	}
}

// TestSharedBudgetPausesEveryProcess: a 429 with Retry-After that one
// process gets stops the others too, until then.
func TestSharedBudgetPausesEveryProcess(t *testing.T) {
	t.Parallel()
	clk := fakeclock.New(budgetT0)
	sim, base := budgetSim(t, clk)
	store := &memBudgetStore{}
	var clients []*genesys.Client
	obs := make([]*budgetObserver, 3)
	for i := range 3 {
		obs[i] = &budgetObserver{}
		b, err := genesys.NewSharedBudget(genesys.SharedBudgetConfig{Store: store, RateLimit: 5, Clock: clk, Observer: obs[i]})
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, budgetClient(t, base, b, obs[i]))
	}
	refused := budgetT0.Add(20 * time.Second)
	var once sync.Once
	end := budgetT0.Add(time.Minute)
	lockstep(t, clk, 6, func(ctx context.Context, w int) bool {
		if !clk.Now().Before(refused) {
			once.Do(func() { sim.FailNext(gcsim.Fault{Status: http.StatusTooManyRequests, RetryAfter: 30 * time.Second}) })
		}
		return callUntil(t, clk, end, clients[w%3])(ctx, w)
	})

	reqs := sim.Requests()
	var at time.Time
	for _, r := range reqs {
		if r.Status == http.StatusTooManyRequests {
			at = r.At
			break
		}
	}
	if at.IsZero() {
		t.Fatal("no 429 was served")
	}
	perToken := map[int]int{}
	for _, r := range reqs {
		if r.At.After(at) && r.At.Before(at.Add(30*time.Second)) {
			perToken[r.Token]++
		}
	}
	if len(perToken) > 0 {
		t.Errorf("calls during the 30 s Retry-After of the 429 at %s, by token: %v", at.Sub(budgetT0), perToken)
	}
	var deployment int
	for _, o := range obs {
		deployment += len(o.pausesOf(genesys.PauseDeployment))
	}
	if deployment != 2 {
		t.Errorf("%d processes saw the deployment's pause, want the 2 that did not get the 429", deployment)
	}
}

// TestSharedBudgetAllowance: an allowance one process sees (300 a minute,
// enforced at 5 a second, against 600 configured) lowers every process's
// rate.
func TestSharedBudgetAllowance(t *testing.T) {
	t.Parallel()
	clk := fakeclock.New(budgetT0)
	sim, base := budgetSim(t, clk)
	sim.SetRateLimit(5)
	store := &memBudgetStore{}
	var clients []*genesys.Client
	for range 3 {
		b, err := genesys.NewSharedBudget(genesys.SharedBudgetConfig{Store: store, RateLimit: 10, Clock: clk})
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, budgetClient(t, base, b, nil))
	}
	end := budgetT0.Add(3 * time.Minute)
	lockstep(t, clk, 6, func(ctx context.Context, w int) bool { return callUntil(t, clk, end, clients[w%3])(ctx, w) })
	reqs := sim.Requests()
	// The first calls learn the allowance; from then on the deployment
	// keeps to it.
	var later []gcsim.APIRequest
	for _, r := range reqs {
		if r.At.After(budgetT0) {
			later = append(later, r)
		}
	}
	if n := count429(later); n > 0 {
		t.Errorf("%d calls refused with 429 after the first instant", n)
	}
	if most, at := gcsim.BusiestWindow(later, time.Minute); most > 300 {
		t.Errorf("%d calls in the minute from %s, allowed 300", most, at.Sub(budgetT0))
	}
}

// TestBudgetDeadline: a call whose deadline falls within a pause fails at
// once with a *PausedError instead of waiting in vain.
func TestBudgetDeadline(t *testing.T) {
	t.Parallel()
	clk := fakeclock.New(budgetT0)
	for name, b := range map[string]genesys.Budget{
		"bucket": genesys.NewBucket(genesys.BucketConfig{Clock: clk}),
		"shared": mustShared(t, genesys.SharedBudgetConfig{Store: &memBudgetStore{}, Clock: clk}),
	} {
		b.Pause(context.Background(), time.Hour, genesys.PauseRetryAfter)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		err := b.Take(ctx)
		cancel()
		var pe *genesys.PausedError
		if !errors.As(err, &pe) || !pe.Until.Equal(budgetT0.Add(time.Hour)) {
			t.Errorf("%s: Take = %v, want a *PausedError until %s", name, err, budgetT0.Add(time.Hour))
		}
	}
}

func mustShared(t *testing.T, cfg genesys.SharedBudgetConfig) genesys.Budget {
	t.Helper()
	b, err := genesys.NewSharedBudget(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// memBudgetStore is a BudgetStore in memory, with the semantics storage
// gives it in SQL.
type memBudgetStore struct {
	mu           sync.Mutex
	exists       bool
	tokens       float64
	updated      time.Time
	pausedUntil  time.Time
	allowed      int
	allowedUntil time.Time
}

func (m *memBudgetStore) TakeBudget(_ context.Context, t genesys.BudgetTake) (genesys.BudgetState, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	st := genesys.BudgetState{PausedUntil: m.pausedUntil, Allowed: m.allowed, AllowedUntil: m.allowedUntil}
	if !m.exists {
		m.exists, m.tokens, m.updated = true, float64(t.Size), t.Now
	}
	if t.Now.After(m.updated) {
		rate := genesys.BudgetRate(t.Limit(st), t.Burst)
		m.tokens = math.Min(float64(t.Size), m.tokens+t.Now.Sub(m.updated).Seconds()*rate)
		m.updated = t.Now
	}
	if !t.Now.Before(m.pausedUntil) {
		st.Granted = min(t.Want, int(math.Floor(m.tokens)))
		m.tokens -= float64(st.Granted)
	}
	st.Tokens = m.tokens
	return st, nil
}

func (m *memBudgetStore) PauseBudget(_ context.Context, _, until time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if until.After(m.pausedUntil) {
		m.pausedUntil = until
	}
	return nil
}

func (m *memBudgetStore) AllowBudget(_ context.Context, perMinute int, now, until time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.allowed == 0 || !now.Before(m.allowedUntil) || perMinute <= m.allowed {
		m.allowed, m.allowedUntil = perMinute, until
	}
	return nil
}

// budgetObserver records what budgets and clients report about the rate
// limit.
type budgetObserver struct {
	mu     sync.Mutex
	limits [][2]int
	pauses map[string][]time.Duration
	rates  []float64
}

func (o *budgetObserver) Call(string, int, time.Duration) {}
func (o *budgetObserver) Retry(string, string)            {}
func (o *budgetObserver) TokenRefresh()                   {}

func (o *budgetObserver) RateLimit(allowed, count int, _ time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.limits = append(o.limits, [2]int{allowed, count})
}

func (o *budgetObserver) Paused(reason string, d time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.pauses == nil {
		o.pauses = map[string][]time.Duration{}
	}
	o.pauses[reason] = append(o.pauses[reason], d)
}

func (o *budgetObserver) BudgetRate(perMinute float64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.rates = append(o.rates, perMinute)
}

func (o *budgetObserver) lastRate() float64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.rates) == 0 {
		return 0
	}
	return o.rates[len(o.rates)-1]
}

func (o *budgetObserver) lastLimit() (allowed, count int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.limits) == 0 {
		return 0, 0
	}
	l := o.limits[len(o.limits)-1]
	return l[0], l[1]
}

func (o *budgetObserver) pausesOf(reason string) []time.Duration {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]time.Duration(nil), o.pauses[reason]...)
}
