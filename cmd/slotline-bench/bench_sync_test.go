package main

import (
	"math"
	"os"
	"testing"
)

// TestBenchSync runs "slotline-bench sync" briefly on SQLite, with 10% of
// create answers lost and analytics showing a callback 5 s late, and
// checks that every reservation reached the simulator exactly once and
// that the figures are there. It proves the command works; it says
// nothing about speed. The server searches for a create whose outcome is
// unknown (a 503) for 10 s instead of 2 min, which still outlasts the
// simulator's 5 s index delay.
func TestBenchSync(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the slotline binary and runs it as a server")
	}
	t.Parallel()
	bin := buildSlotline(t)
	var rep benchSyncReport
	out := runBenchJSON(t, &rep, "sync", "--reservations", "200", "--rate", "100", "--lost-creates", "0.1", "--analytics-delay", "5s",
		"--lost-create-window", "10s", "--json", "--server-bin", bin)
	if rep.Admit == nil || rep.Drain == nil || rep.Latency == nil || rep.Check == nil {
		t.Fatalf("a section is missing from the report:\n%s", out)
	}
	if rep.TimedOut {
		t.Errorf("timed out")
	}
	if a := rep.Admit; a.Count != 200 || a.PerSec <= 0 || len(a.Failures) > 0 {
		t.Errorf("admit: %d admitted at %.1f/s, failures %v (first: %s); want 200, a positive rate and no failures",
			a.Count, a.PerSec, a.Failures, a.FirstFailure)
	}
	if c := rep.Check; c.Duplicates != 0 || c.Lost != 0 || c.Unknown != 0 || c.Synced != 200 || c.Callbacks != 200 {
		t.Errorf("check: %+v; want 200 callbacks, 200 synced, 0 duplicates, 0 lost, 0 unknown", *c)
	}
	if d := rep.Drain; d.Creates != 200 || d.CreatesPerSec <= 0 || d.CreatesRatio <= 0 || d.APIRequests < d.Creates || d.APIPerSec <= 0 ||
		d.LostAnswers == 0 {
		t.Errorf("drain: %+v; want 200 creates, positive rates and lost answers", *d)
	}
	if l := rep.Latency; l.SyncedCount != 200 || l.SyncedP50Ms <= 0 || l.SyncedP99Ms < l.SyncedP50Ms || l.GenesysP99Ms <= 0 {
		t.Errorf("latency: %+v; want 200 synced and positive percentiles", *l)
	}
}

// TestBenchSyncCountsDuplicates proves that the bench's duplicate check
// can fail: the server is broken on purpose, its search for a lost create
// blinded (the simulator's analytics shows a callback only after 60 s,
// the server gives up searching after 2 s), so every create whose answer
// was lost is sent again as a new create, and the bench must report the
// reservations with two callbacks, and fail. TestBenchSync is the same
// bench with the search working: no duplicates.
func TestBenchSyncCountsDuplicates(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the slotline binary and runs it as a server")
	}
	t.Parallel()
	bin := buildSlotline(t)
	var rep benchSyncReport
	out := runBenchJSON(t, &rep, "sync", "--reservations", "100", "--rate", "100", "--fault-rate", "0", "--lost-creates", "0.3",
		"--analytics-delay", "60s", "--lost-create-window", "2s", "--json", "--server-bin", bin)
	c, d := rep.Check, rep.Drain
	if c == nil || d == nil {
		t.Fatalf("a section is missing from the report:\n%s", out)
	}
	if d.LostAnswers == 0 || c.Duplicates == 0 || c.ExtraCallbacks < c.Duplicates || c.Callbacks != 100+c.ExtraCallbacks || c.Pass {
		t.Errorf("check: %+v with %d answers lost; want duplicates reported (a reservation per callback beyond the first) and the check failed",
			*c, d.LostAnswers)
	}
}

// TestBenchSyncProcesses runs "slotline-bench sync --processes 2" briefly
// on PostgreSQL: two serve processes drain one burst, both make calls, and
// the budget section is there (too short a run to judge a minute).
func TestBenchSyncProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the slotline binary and runs it as two servers")
	}
	t.Parallel()
	dsn := os.Getenv("TEST_DATABASE_URL")
	if dsn == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("TEST_DATABASE_URL is not set; under CI the PostgreSQL tests must run")
		}
		t.Skip("TEST_DATABASE_URL is not set")
	}
	bin := buildSlotline(t)
	var rep benchSyncReport
	out := runBenchJSON(t, &rep, "sync", "--processes", "2", "--db", dsn, "--reservations", "300", "--rate", "3000/min",
		"--json", "--server-bin", bin)
	if c := rep.Check; c == nil || c.Synced != 300 || c.Duplicates != 0 || c.Lost != 0 {
		t.Fatalf("check: %+v; want 300 synced once\n%s", c, out)
	}
	g := rep.Budget
	if rep.Processes != 2 || rep.FaultRate != 0 || g == nil || g.LimitPerMin != 3000 || g.BusiestMinute < 300 || len(g.ByProcess) != 2 {
		t.Fatalf("budget: %+v (processes %d, fault rate %g); want 2 processes calling, no faults, at least the 300 creates\n%s",
			g, rep.Processes, rep.FaultRate, out)
	}
}

func TestBenchSyncRateFlag(t *testing.T) {
	t.Parallel()
	for v, want := range map[string]float64{"50": 50, "50/s": 50, "250/min": 250.0 / 60, " 120 / m ": 2} {
		var o benchSyncOptions
		if err := o.setRate(v); err != nil || math.Abs(o.rate-want) > 1e-9 {
			t.Errorf("--rate %q: %g, %v; want %g", v, o.rate, err, want)
		}
	}
	for _, v := range []string{"fast", "5/h", "NaN/s", ""} {
		var o benchSyncOptions
		if err := o.setRate(v); err == nil {
			t.Errorf("--rate %q accepted", v)
		}
	}
}
