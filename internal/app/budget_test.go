package app

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/slotline/slotline/internal/fakeclock"
	"github.com/slotline/slotline/internal/genesys"
	"github.com/slotline/slotline/internal/genesys/gcsim"
	"github.com/slotline/slotline/internal/metrics"
	"github.com/slotline/slotline/internal/storage"
	"github.com/slotline/slotline/internal/storage/storagetest"
)

// The shared budget's tests run three "processes" (a store, a budget and a
// Genesys client each) on one PostgreSQL database against one simulator
// over real HTTP, on a fake clock that moves only when every worker waits
// for it (fakeclock.Lockstep): minutes of budget in a fraction of a second,
// with no timing in the assertions.

var budgetT0 = time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)

// budgetDeployment is three processes sharing one database's budget.
type budgetDeployment struct {
	clk     *fakeclock.Clock
	sim     *gcsim.Sim
	clients []*genesys.Client
	metrics []*metrics.Metrics
}

// newBudgetDeployment opens three stores on one fresh PostgreSQL schema and
// gives each a client of one simulator, drawing from the shared budget at
// perSecond.
func newBudgetDeployment(t *testing.T, perSecond float64) *budgetDeployment {
	t.Helper()
	dsn := storagetest.PostgresDSN(t)
	clk := fakeclock.New(budgetT0)
	sim := gcsim.New(gcsim.Options{Clock: gcsim.NewClock(budgetT0, 0), Seed: 1, RateClock: clk.Now, RecordRequests: true})
	t.Cleanup(func() { sim.Close() })
	base, err := sim.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d := &budgetDeployment{clk: clk, sim: sim}
	for range 3 {
		st, err := storage.Open(context.Background(), dsn, storage.Options{MaxConns: 4})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		m := metrics.New()
		budget, err := genesys.NewSharedBudget(genesys.SharedBudgetConfig{
			Store: storeBudget{store: st, key: gcsim.DefaultClientID}, RateLimit: perSecond, Clock: clk, Observer: m,
		})
		if err != nil {
			t.Fatal(err)
		}
		c, err := genesys.New(genesys.Config{
			APIURL: base, LoginURL: base, ClientID: gcsim.DefaultClientID, ClientSecret: gcsim.DefaultClientSecret,
			Budget: budget, Observer: m, CallTimeout: 10 * time.Second, MaxRetryAfter: time.Hour,
			Logger: slog.New(slog.DiscardHandler),
		})
		if err != nil {
			t.Fatal(err)
		}
		d.clients = append(d.clients, c)
		d.metrics = append(d.metrics, m)
	}
	return d
}

// run has workers workers per process call Genesys as fast as the budget
// lets them until the fake clock reads t0 + span; before runs at the start
// of every call, with the fake time elapsed.
func (d *budgetDeployment) run(t *testing.T, workers int, span time.Duration, before func(elapsed time.Duration)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute) // real time, in case it never ends
	defer cancel()
	end := budgetT0.Add(span)
	err := d.clk.Lockstep(ctx, workers*len(d.clients), func(ctx context.Context, w int) bool {
		now := d.clk.Now()
		if !now.Before(end) {
			return false
		}
		if before != nil {
			before(now.Sub(budgetT0))
		}
		if _, err := d.clients[w%len(d.clients)].GetQueue(ctx, gcsim.DefaultQueueID); err != nil && ctx.Err() == nil {
			t.Errorf("process %d at %s: %v", w%len(d.clients), d.clk.Now().Sub(budgetT0), err)
			return false
		}
		return true
	})
	if err != nil {
		t.Fatalf("lockstep: %v (fake time %s)", err, d.clk.Now().Sub(budgetT0))
	}
}

// TestSharedBudgetOnPostgres: three processes on one database, four
// workers each, stay within the deployment's 120 calls a minute in every
// minute of three (each process's own bucket would send three times as
// many), and use at least 90% of it.
func TestSharedBudgetOnPostgres(t *testing.T) {
	t.Parallel()
	d := newBudgetDeployment(t, 2)
	d.sim.SetRateLimitPerMinute(120)
	d.run(t, 4, 3*time.Minute, nil)

	reqs := d.sim.Requests()
	if most, at := gcsim.BusiestWindow(reqs, time.Minute); most > 120 {
		t.Errorf("%d calls in the minute from %s, limit 120", most, at.Sub(budgetT0))
	}
	if len(reqs) < 324 {
		t.Errorf("%d calls in 3 minutes, want ≥ 324 (90%% of 360)", len(reqs))
	}
	byToken := map[int]int{}
	for _, r := range reqs {
		byToken[r.Token]++
		if r.Status == http.StatusTooManyRequests {
			t.Errorf("a 429 at %s", r.At.Sub(budgetT0))
		}
	}
	if len(byToken) != 3 {
		t.Errorf("calls by token %v, want three processes'", byToken)
	}
}

// TestSharedBudgetPauseOnPostgres: a 429 with Retry-After that one process
// gets pauses every process until then; the others count it as a pause of
// the deployment.
func TestSharedBudgetPauseOnPostgres(t *testing.T) {
	t.Parallel()
	d := newBudgetDeployment(t, 5)
	var once sync.Once
	d.run(t, 2, time.Minute, func(elapsed time.Duration) {
		if elapsed >= 20*time.Second {
			once.Do(func() { d.sim.FailNext(gcsim.Fault{Status: http.StatusTooManyRequests, RetryAfter: 30 * time.Second}) })
		}
	})

	reqs := d.sim.Requests()
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
	during, after := map[int]int{}, 0
	for _, r := range reqs {
		switch {
		case r.At.After(at) && r.At.Before(at.Add(30*time.Second)):
			during[r.Token]++
		case !r.At.Before(at.Add(30 * time.Second)):
			after++
		}
	}
	if len(during) > 0 {
		t.Errorf("calls during the 30 s Retry-After of the 429 at %s, by token: %v", at.Sub(budgetT0), during)
	}
	if after == 0 {
		t.Error("no calls after the pause")
	}
	var own, deployment float64
	for _, m := range d.metrics {
		own += counterValue(t, m, "slotline_genesys_pauses_total", "retry_after")
		deployment += counterValue(t, m, "slotline_genesys_pauses_total", "deployment")
	}
	if own != 1 || deployment != 2 {
		t.Errorf("pauses in the metrics: %g retry_after, %g deployment; want 1 and 2", own, deployment)
	}
}

// TestSharedBudgetAllowanceOnPostgres: Genesys' allowance (300 a minute,
// enforced at 5 a second) below the configured 600 lowers every process's
// rate once one has seen it: no 429 after the first instant, at most 300 in
// any minute; the metrics show the allowance, the count and the budget.
func TestSharedBudgetAllowanceOnPostgres(t *testing.T) {
	t.Parallel()
	d := newBudgetDeployment(t, 10)
	d.sim.SetRateLimit(5)
	d.run(t, 2, 3*time.Minute, nil)

	var later []gcsim.APIRequest
	for _, r := range d.sim.Requests() {
		if r.At.After(budgetT0) {
			later = append(later, r)
		}
	}
	for _, r := range later {
		if r.Status == http.StatusTooManyRequests {
			t.Errorf("a 429 at %s", r.At.Sub(budgetT0))
		}
	}
	if most, at := gcsim.BusiestWindow(later, time.Minute); most > 300 {
		t.Errorf("%d calls in the minute from %s, allowed 300", most, at.Sub(budgetT0))
	}
	for i, m := range d.metrics {
		if got := gaugeValue(t, m, "slotline_genesys_ratelimit_allowed"); got != 300 {
			t.Errorf("process %d: slotline_genesys_ratelimit_allowed %g, want 300", i, got)
		}
		if got := gaugeValue(t, m, "slotline_genesys_ratelimit_count"); got < 1 || got > 300 {
			t.Errorf("process %d: slotline_genesys_ratelimit_count %g, want 1 to 300", i, got)
		}
		if got := gaugeValue(t, m, "slotline_genesys_budget_per_minute"); got != 300 {
			t.Errorf("process %d: slotline_genesys_budget_per_minute %g, want 300", i, got)
		}
	}
}

// metricFamily returns the family name of m's registry.
func metricFamily(t *testing.T, m *metrics.Metrics, name string) *dto.MetricFamily {
	t.Helper()
	fams, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() == name {
			return f
		}
	}
	return nil
}

func gaugeValue(t *testing.T, m *metrics.Metrics, name string) float64 {
	t.Helper()
	f := metricFamily(t, m, name)
	if f == nil || len(f.GetMetric()) == 0 {
		t.Fatalf("no metric %s", name)
	}
	return f.GetMetric()[0].GetGauge().GetValue()
}

// counterValue returns the counter name{reason="reason"}, 0 when absent.
func counterValue(t *testing.T, m *metrics.Metrics, name, reason string) float64 {
	t.Helper()
	f := metricFamily(t, m, name)
	if f == nil {
		return 0
	}
	for _, mt := range f.GetMetric() {
		for _, l := range mt.GetLabel() {
			if l.GetName() == "reason" && l.GetValue() == reason {
				return mt.GetCounter().GetValue()
			}
		}
	}
	return 0
}
