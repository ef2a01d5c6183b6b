package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/slotline/slotline/internal/app"
	"github.com/slotline/slotline/internal/genesys/gcsim"
	"github.com/slotline/slotline/internal/syncer"
)

// What the sync bench measures against, and how it loads the system.
const (
	benchSyncTargetRatio = 0.95 // creates landed per second (steady: see benchSyncSteadyFrom) as a fraction of the allowed rate
	// With several processes: the drain's floor, and the ceiling of the
	// calls in the busiest minute as a fraction of the minute's limit.
	benchSyncDeploymentDrain  = 0.90
	benchSyncDeploymentBudget = 1.00
	benchSyncMinute           = time.Minute

	// The steady drain is judged on the creates from the 5th to the 85th
	// percentile of their landing times: the burst's first attempts,
	// without the start (the budget's burst of 5 tokens) and without the
	// tail of creates sent again after a refusal or a lost answer, which
	// wait out the lost-create window (2 min) by design: that wait is
	// their latency (the synced lines), not the drain's rate.
	benchSyncSteadyFrom = 0.05
	benchSyncSteadyTo   = 0.85
	// benchSyncLostCreates is the default share of create answers lost
	// after the create committed: the case the duplicate check is for.
	benchSyncLostCreates = 0.02

	benchSyncWorkers    = 16                     // genesys.workers
	benchSyncPollEvery  = 100 * time.Millisecond // how often the bench looks for creates and syncs
	benchSyncFailedScan = 2 * time.Second        // how often it lists failed reservations
	benchSyncProgress   = 10 * time.Second
	benchSyncGetters    = 8 // concurrent GETs of reservations whose callback landed
	// benchSyncFlipEvery alternates the simulator's random failure status
	// between 429 and 503: gcsim holds one status at a time.
	benchSyncFlipEvery  = 50 * time.Millisecond
	benchSyncRetryAfter = time.Second // on the injected 429s

	// Reservations are spread over 15-minute slots from a day ahead to 29
	// days ahead, so that no callback falls due during the bench.
	benchSyncLeadDays = 1
	benchSyncBuckets  = 28 * 24 * 4

	benchSyncCreatePattern    = "POST /api/v2/conversations/callbacks"
	benchSyncAnalyticsPattern = "POST /api/v2/analytics/conversations/details/query"
	benchSyncReadPattern      = "GET /api/v2/conversations/callbacks/{conversationId}"
)

// benchSyncCmd runs "slotline-bench sync": a burst of reservations admitted
// at full local speed, then drained to a Genesys simulator (running in this
// process) that allows --rate requests per second and fails --fault-rate of
// them; it reports the admission rate, the drain rate as a fraction of the
// allowed rate, the time from admission to synced, and checks the
// simulator for duplicate and missing callbacks.
func benchSyncCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	opts, err := parseBenchSyncFlags(args, stderr)
	if err != nil {
		return err
	}
	return runBenchCommand(ctx, getenv, stdout, opts.db, "", opts.json, func(dbs *benchDBs, text io.Writer) (func(context.Context) error, any) {
		b := &benchSync{runOf[benchSyncOptions, benchSyncReport]{opts: opts, dbs: dbs, text: text, progress: stderr, rep: &benchSyncReport{
			benchEnv:     newBenchEnv(dbs),
			Reservations: opts.reservations, Clients: opts.clients, RatePerSec: opts.rate, FaultRate: opts.faultRate,
			Fault429: opts.fault429, RefusalsUseAllowance: opts.chargeRefusals, Processes: opts.processes, BudgetKind: opts.budget,
			LostCreates: opts.lostCreates, AnalyticsDelaySec: opts.analyticsDelay.Seconds(), LostCreateWindowSec: opts.lostCreateWindow.Seconds(),
			Workers: benchSyncWorkers, TimeoutSec: opts.timeout.Seconds(),
		}}}
		return b.run, b.rep
	})
}

// benchSyncOptions are the command's flags.
type benchSyncOptions struct {
	commonFlags
	reservations int
	rate         float64 // per second
	rateText     string  // as given, for genesys.rate_limit
	faultRate    float64
	fault429     bool // half the refusals are 429s
	processes    int
	budget       string // genesys.budget
	// chargeRefusals makes the simulator count refusals against N.
	chargeRefusals bool
	// lostCreates is the share of create answers the simulator loses after
	// committing the create.
	lostCreates float64
	// analyticsDelay is how long the simulator takes to show a new
	// callback in analytics.
	analyticsDelay time.Duration
	// lostCreateWindow is the server's genesys.lost_create_window (0: its
	// default).
	lostCreateWindow time.Duration
	clients          int
	serverBin        string
	timeout          time.Duration
}

func parseBenchSyncFlags(args []string, stderr io.Writer) (*benchSyncOptions, error) {
	o := &benchSyncOptions{}
	fs := flag.NewFlagSet("sync", flag.ContinueOnError)
	o.commonFlags.register(fs, "")
	fs.IntVar(&o.reservations, "reservations", 10_000, "reservations admitted in the burst")
	o.rate, o.rateText = 50, "50/s"
	fs.Func("rate", "Genesys API `requests` the simulator allows, N: per second (50 or 50/s) or per minute (250/min); the server's genesys.rate_limit is set to it (default 50/s)", o.setRate)
	fs.Float64Var(&o.faultRate, "fault-rate", -1, "fraction of API calls the simulator refuses with 503 (with --fault-429, half of them with 429, Retry-After 1 s); a refusal does not use the allowance N (default 0.10 with one process, 0 with several)")
	fs.BoolVar(&o.fault429, "fault-429", false, "make half of the refusals 429s with Retry-After 1 s (each pauses every Genesys call of the deployment for a second)")
	fs.StringVar(&o.budget, "budget", "shared", "the servers' genesys.budget: shared (one budget for the processes on the database) or process (each its own, for comparison)")
	fs.IntVar(&o.processes, "processes", 1, "`N` slotline serve processes on one PostgreSQL database (--db postgres://…) sharing the simulator and genesys.rate_limit; reports the calls in the busiest minute against the limit")
	fs.BoolVar(&o.chargeRefusals, "refusals-use-allowance", false, "count the refused calls against N, as a Genesys that counts every request it answers would (then no client can land more than (1 - fault-rate) × N creates)")
	fs.Float64Var(&o.lostCreates, "lost-creates", benchSyncLostCreates, "fraction of create answers the simulator loses after committing the create (the server must find and adopt those callbacks, never create them twice; 0 turns it off)")
	fs.DurationVar(&o.analyticsDelay, "analytics-delay", gcsim.DefaultAnalyticsDelay, "how long the simulator takes to show a new callback in analytics queries (0: at once)")
	fs.DurationVar(&o.lostCreateWindow, "lost-create-window", 0, "the server's genesys.lost_create_window: how long a create whose answer was lost is searched for before it is sent again (default: the server's, 2m); keep it above --analytics-delay")
	fs.IntVar(&o.clients, "clients", 16, "concurrent clients admitting the burst")
	fs.StringVar(&o.serverBin, "server-bin", "", "slotline `binary` to run as the server (default: this executable, as slotline-bench serve)")
	fs.DurationVar(&o.timeout, "timeout", 15*time.Minute, "how long to wait, from the first admission, for every reservation to be synced")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage of slotline-bench %s:\n", fs.Name())
		fs.PrintDefaults()
	}
	if err := app.ParseFlags(fs, args, stderr); err != nil {
		return nil, err
	}
	return o, o.validate()
}

// setRate reads --rate: requests per second (a bare number or N/s) or per
// minute (N/min).
func (o *benchSyncOptions) setRate(v string) error {
	num, unit, found := strings.Cut(strings.TrimSpace(v), "/")
	n, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if err != nil || math.IsNaN(n) || math.IsInf(n, 0) {
		return fmt.Errorf("%q is not a rate like 50, 50/s or 250/min", v)
	}
	switch strings.TrimSpace(unit) {
	case "s":
	case "min", "m":
		n /= 60
	default:
		if found {
			return fmt.Errorf("%q is not a rate like 50, 50/s or 250/min", v)
		}
		v += "/s"
	}
	o.rate, o.rateText = n, strings.ReplaceAll(v, " ", "")
	return nil
}

func (o *benchSyncOptions) validate() error {
	if o.faultRate < 0 {
		o.faultRate = 0.10
		if o.processes > 1 {
			o.faultRate = 0
		}
	}
	switch {
	case o.processes < 1 || o.processes > 16:
		return app.UsageError("--processes must be from 1 to 16")
	case o.budget != "shared" && o.budget != "process":
		return app.UsageError("--budget must be shared or process")
	case o.processes > 1 && !isPostgresDSN(o.db):
		return app.UsageError("--processes above 1 needs --db postgres://… (processes share one database)")
	case o.reservations < 1:
		return app.UsageError("--reservations must be at least 1")
	case !(o.rate > 0) || o.rate > 1e6:
		return app.UsageError("--rate must be more than 0 and at most 1e6")
	case !(o.faultRate >= 0 && o.faultRate < 1):
		return app.UsageError("--fault-rate must be from 0 to less than 1")
	case !(o.lostCreates >= 0 && o.lostCreates < 1):
		return app.UsageError("--lost-creates must be from 0 to less than 1")
	case o.analyticsDelay < 0:
		return app.UsageError("--analytics-delay must not be negative")
	case o.lostCreateWindow < 0:
		return app.UsageError("--lost-create-window must not be negative")
	case o.clients < 1:
		return app.UsageError("--clients must be at least 1")
	case o.timeout <= 0:
		return app.UsageError("--timeout must be positive")
	}
	return o.commonFlags.check("")
}

// benchSync is one run of the command.
type benchSync struct {
	runOf[benchSyncOptions, benchSyncReport]
}

// run starts the simulator and the server, admits the burst while
// watching the simulator and the server, then checks every reservation.
func (b *benchSync) run(ctx context.Context) (err error) {
	delay := b.opts.analyticsDelay
	if delay == 0 {
		delay = -1 // gcsim reads 0 as its default; the flag means at once
	}
	sim := gcsim.New(gcsim.Options{Clock: gcsim.NewClock(time.Now(), 1), Logger: slog.New(slog.DiscardHandler), RecordRequests: true, AnalyticsDelay: delay})
	defer sim.Close()
	simURL, err := sim.Start("127.0.0.1:0")
	if err != nil {
		return err
	}
	sim.SetRateLimit(b.opts.rate)
	sim.SetRefusalsUseAllowance(b.opts.chargeRefusals)

	dsn, err := b.dbs.fresh(ctx, "sync")
	if err != nil {
		return err
	}
	secret := benchRandomHex(16)
	// The client's rate limit at the simulator's, one 24/7 queue big
	// enough that nothing is refused.
	capacity := max(benchQueueCapacity, int(math.Ceil(float64(b.opts.reservations)*1.25/benchSyncBuckets)))
	g := map[string]any{"rate_limit": b.opts.rateText, "workers": benchSyncWorkers}
	if b.opts.budget != "shared" {
		g["budget"] = b.opts.budget // only when asked: a --server-bin of an older build has no such key
	}
	if w := b.opts.lostCreateWindow; w > 0 {
		g["lost_create_window"] = w.String()
	}
	cfgPath, err := writeBenchServerConfig(b.dbs.dir, secret, simURL, capacity, g)
	if err != nil {
		return err
	}
	hc := newBenchHTTPClient(4 * b.opts.clients)
	bin := b.opts.serverBin
	if bin == "" {
		if bin, err = os.Executable(); err != nil {
			return fmt.Errorf("find the slotline binary: %w", err)
		}
	}
	// Every process on the one database; the first takes the bench's
	// requests, and the sync jobs go to whichever process's workers take
	// them.
	var srvs []*benchServer
	defer func() {
		hc.CloseIdleConnections()
		for _, s := range srvs {
			err = errors.Join(err, s.stop())
		}
	}()
	for range b.opts.processes {
		addr, err := benchFreeAddr()
		if err != nil {
			return err
		}
		// The flags beat SLOTLINE_DB and SLOTLINE_ADDR in the environment.
		s, err := startChildServer(ctx, hc, bin, []string{"--config", cfgPath, "--db", dsn, "--addr", addr})
		if err != nil {
			return err
		}
		srvs = append(srvs, s)
	}
	srv := srvs[0]
	api := &benchSyncAPI{benchAPI: benchAPI{hc: hc, base: srv.base, run: benchRandomHex(4),
		grid: newBenchGrid(time.Now().Add(benchSyncLeadDays*24*time.Hour), benchSyncBuckets)}}
	if err := api.fetchToken(ctx, benchClientID, secret); err != nil {
		return err
	}
	b.printHeader()

	// The faults: refusals (429, 503) at the failure rate, answered before
	// the simulator's rate limit, so they do not use the allowance N; and
	// lost answers to creates, which commit.
	fctx, stopFaults := context.WithCancel(ctx)
	var faults sync.WaitGroup
	faults.Go(func() { benchSyncFlipFaults(fctx, sim, b.opts.faultRate, b.opts.fault429) })
	sim.SetLostResponseRate(http.MethodPost, "/api/v2/conversations/callbacks", b.opts.lostCreates)
	defer func() {
		stopFaults()
		faults.Wait()
		sim.SetLostResponseRate("", "", 0)
	}()

	w := newBenchSyncWatch(sim, api, b.opts.reservations)
	if err := b.admitAndWatch(ctx, api, w); err != nil {
		return err
	}
	stopFaults()
	faults.Wait()
	sim.SetLostResponseRate("", "", 0)
	if err := b.check(ctx, api, w); err != nil {
		return fmt.Errorf("check: %w", err)
	}
	b.printResults()
	for i, s := range srvs {
		if n := s.log.count(); n > 0 {
			b.rep.ServerLogLines += n
			fmt.Fprintf(b.progress, "server %d logged %d lines at level warn or above (the Genesys client warns once per retried call)%s\n",
				i+1, n, s.log.tail())
		}
	}
	return nil
}

// benchSyncFlipFaults makes rate of the API calls fail with 503 until ctx
// is done, then turns the failures off. With with429 it alternates the
// status between 429 (with Retry-After) and 503 every benchSyncFlipEvery:
// gcsim keeps one random-failure status at a time (SetFailureRate replaces
// the previous one), so alternating it is how the two are split evenly.
func benchSyncFlipFaults(ctx context.Context, sim *gcsim.Sim, rate float64, with429 bool) {
	defer sim.SetFailureRate(0, 0, 0)
	if rate == 0 {
		return
	}
	if !with429 {
		sim.SetFailureRate(http.StatusServiceUnavailable, rate, 0)
		<-ctx.Done()
		return
	}
	tick := time.NewTicker(benchSyncFlipEvery)
	defer tick.Stop()
	for i := 0; ; i++ {
		if i%2 == 0 {
			sim.SetFailureRate(http.StatusTooManyRequests, rate, benchSyncRetryAfter)
		} else {
			sim.SetFailureRate(http.StatusServiceUnavailable, rate, 0)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// benchLockedWriter lets several goroutines write to one writer, each
// Write whole.
type benchLockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *benchLockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// admitAndWatch runs phase 1 (the burst) and phase 2 (waiting until every
// reservation is synced) together, so that syncs during the burst are
// seen when they happen. It ends when every admitted reservation is synced
// or failed, or at --timeout from the first admission.
func (b *benchSync) admitAndWatch(ctx context.Context, api *benchSyncAPI, w *benchSyncWatch) error {
	dctx, cancel := context.WithTimeout(ctx, b.opts.timeout)
	defer cancel()
	w.before = w.sim.Stats()
	fmt.Fprintf(b.progress, "sync: admitting %s reservations with %d clients, then waiting until they are synced (at most %s)…\n",
		benchCommas(int64(b.opts.reservations)), b.opts.clients, b.opts.timeout)
	g, gctx := errgroup.WithContext(dctx)
	// Both goroutines report progress: one line at a time.
	progress := &benchLockedWriter{w: b.progress}
	var admit *benchLoadResult
	g.Go(func() error {
		res, err := benchLoad(gctx, b.opts.clients, benchUpTo(int64(b.opts.reservations)), api.admit(w))
		if err != nil {
			return err
		}
		admit = res
		w.admissionsDone()
		fmt.Fprintf(progress, "sync: admitted %s reservations in %.1f s\n", benchCommas(int64(res.ok)), res.elapsed.Seconds())
		return nil
	})
	g.Go(func() error { return w.run(gctx, progress) })
	err := g.Wait()
	if err != nil && admit != nil && dctx.Err() != nil && ctx.Err() == nil {
		err = nil // the timeout: report what was synced by then
		b.rep.TimedOut = true
		fmt.Fprintf(b.progress, "sync: timed out after %s\n", b.opts.timeout)
	}
	if err != nil {
		return err
	}
	w.after = w.sim.Stats()
	b.rep.Admit = admit.figures()
	return nil
}

// check reads every reservation back from the server and every callback
// from the simulator, and fills in the report.
func (b *benchSync) check(ctx context.Context, api *benchSyncAPI, w *benchSyncWatch) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	final, err := api.listAll(ctx, "")
	if err != nil {
		return err
	}
	cbs := w.sim.Callbacks()
	rep := b.rep
	w.mu.Lock()
	admitted := w.admitted
	w.mu.Unlock()

	// The simulator's side: callbacks per reservation, and strangers.
	convs := map[string][]string{}
	var created []time.Time
	firstCreated := map[string]time.Time{}
	c := &benchSyncCheck{Callbacks: len(cbs)}
	for _, cb := range cbs {
		id := cb.Data[syncer.DataKey]
		if _, ok := admitted[id]; !ok {
			c.Unknown++
			continue
		}
		convs[id] = append(convs[id], cb.ConversationID)
		created = append(created, cb.Created)
		if t, ok := firstCreated[id]; !ok || cb.Created.Before(t) {
			firstCreated[id] = cb.Created
		}
	}
	// The server's side: every admitted reservation synced to one of its
	// callbacks.
	for id := range admitted {
		if n := len(convs[id]); n > 1 {
			c.Duplicates++
			c.ExtraCallbacks += n - 1
		}
		r, ok := final[id]
		if !ok {
			r = &benchSyncReservation{} // not listed: lost
			r.Sync.State = "missing from the list"
		}
		if r.Sync.State == "synced" && slices.Contains(convs[id], r.Sync.ConversationID) {
			c.Synced++
			continue
		}
		c.Lost++
		if r.Sync.State == "failed" {
			c.Failed++
		}
		if c.FirstLost == "" {
			c.FirstLost = fmt.Sprintf("%s: sync %q, conversation %q, %d callbacks in the simulator, last error %q",
				id, r.Sync.State, r.Sync.ConversationID, len(convs[id]), r.Sync.LastError)
		}
	}
	c.Pass = c.Duplicates == 0 && c.Lost == 0 && c.Unknown == 0 && len(admitted) == b.opts.reservations
	rep.Check = c

	// The drain: creates landed over the time from the first to the last.
	d := &benchSyncDrain{Creates: len(created), TargetRatio: benchSyncTargetRatio}
	if b.opts.processes > 1 {
		d.TargetRatio = benchSyncDeploymentDrain
	}
	slices.SortFunc(created, func(a, b time.Time) int { return a.Compare(b) })
	if len(created) > 1 {
		span := created[len(created)-1].Sub(created[0])
		d.SpanSec = span.Seconds()
		// n creates make n-1 intervals.
		d.CreatesPerSec = float64(len(created)-1) / span.Seconds()
		// Without the tail: the retried creates wait behind the burst.
		if k := int(math.Ceil(0.9 * float64(len(created)))); k > 1 {
			if span90 := created[k-1].Sub(created[0]); span90 > 0 {
				d.First90PerSec = float64(k-1) / span90.Seconds()
			}
		}
		// The steady drain: neither the start nor the tail.
		from := int(benchSyncSteadyFrom * float64(len(created)))
		to := int(math.Ceil(benchSyncSteadyTo*float64(len(created)))) - 1
		if to > from {
			if span := created[to].Sub(created[from]); span > 0 {
				d.SteadyPerSec = float64(to-from) / span.Seconds()
				d.SteadySpanSec = span.Seconds()
			}
		}
	}
	d.CreatesRatio = d.CreatesPerSec / b.opts.rate
	d.SteadyRatio = d.SteadyPerSec / b.opts.rate
	d.Requests = benchSyncStatsDelta(w.before, w.after)
	calls := benchSyncCount(d.Requests)
	d.APIRequests, d.CreatesFailed, d.AnalyticsQueries = calls.all, calls.createsFailed, calls.analytics
	d.ConversationReads, d.OtherRequests, d.Injected503 = calls.reads, calls.other, calls.injected503
	d.LostAnswers = w.after.LostResponses - w.before.LostResponses
	faults := w.after.FaultsInjected - w.before.FaultsInjected - d.LostAnswers
	d.Injected429 = faults - d.Injected503
	d.RateLimited429 = w.after.TooManyRequests - w.before.TooManyRequests - d.Injected429
	if d.SpanSec > 0 {
		d.APIPerSec = float64(d.APIRequests) / d.SpanSec
	}
	d.APIRatio = d.APIPerSec / b.opts.rate
	if d.SpanSec > 0 {
		used := d.APIRequests - d.RateLimited429
		if !b.opts.chargeRefusals {
			used -= faults
		}
		d.ServedPerSec = float64(used) / d.SpanSec
	}
	d.ServedRatio = d.ServedPerSec / b.opts.rate
	d.Pass = d.SteadyRatio >= d.TargetRatio
	rep.Drain = d
	rep.Budget = b.budget(w.sim.Requests())

	// Latencies from the client-side admission time.
	l := &benchSyncLatency{PollMs: ms(benchSyncPollEvery)}
	var toSynced, toGenesys []time.Duration
	for id, at := range admitted {
		if t, ok := w.synced[id]; ok {
			toSynced = append(toSynced, t.Sub(at))
		}
		if t, ok := firstCreated[id]; ok {
			toGenesys = append(toGenesys, t.Sub(at))
		}
	}
	slices.Sort(toSynced)
	slices.Sort(toGenesys)
	l.SyncedCount = len(toSynced)
	l.SyncedP50Ms, l.SyncedP99Ms = ms(benchPercentile(toSynced, 0.50)), ms(benchPercentile(toSynced, 0.99))
	l.SyncedMaxMs = ms(benchPercentile(toSynced, 1))
	l.GenesysP50Ms, l.GenesysP99Ms = ms(benchPercentile(toGenesys, 0.50)), ms(benchPercentile(toGenesys, 0.99))
	rep.Latency = l
	return nil
}

// benchSyncStatsDelta returns the request counts of after less those of
// before, leaving out the ones that did not change.
func benchSyncStatsDelta(before, after gcsim.Stats) []gcsim.RequestCount {
	var out []gcsim.RequestCount
	for _, rc := range after.Requests {
		if n := rc.Count - before.Count(rc.Pattern, rc.Status); n > 0 {
			out = append(out, gcsim.RequestCount{Pattern: rc.Pattern, Status: rc.Status, Count: n})
		}
	}
	return out
}

// benchSyncWatch follows the burst: which reservations were admitted and
// when, which have a callback in the simulator, and when each was first
// seen synced on the server.
type benchSyncWatch struct {
	sim  *gcsim.Sim
	api  *benchSyncAPI
	want int

	mu       sync.Mutex
	admitted map[string]time.Time // reservation id → when its 201 came back
	done     bool                 // the burst is over

	// Owned by run.
	seen    int                  // callbacks of the simulator looked at
	waiting map[string]bool      // a callback landed; not yet seen synced
	synced  map[string]time.Time // first seen synced
	failed  map[string]bool      // sync failed

	before, after gcsim.Stats
}

func newBenchSyncWatch(sim *gcsim.Sim, api *benchSyncAPI, want int) *benchSyncWatch {
	return &benchSyncWatch{sim: sim, api: api, want: want, admitted: make(map[string]time.Time, want),
		waiting: map[string]bool{}, synced: make(map[string]time.Time, want), failed: map[string]bool{}}
}

func (w *benchSyncWatch) admit(id string, at time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.admitted[id] = at
}

func (w *benchSyncWatch) admissionsDone() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.done = true
}

// finished reports whether the burst is over and every reservation
// admitted is synced or failed.
func (w *benchSyncWatch) finished() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		return false
	}
	n := len(w.synced)
	for id := range w.failed {
		if _, ok := w.synced[id]; !ok {
			n++
		}
	}
	return n >= len(w.admitted)
}

func (w *benchSyncWatch) isAdmitted(id string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	_, ok := w.admitted[id]
	return ok
}

// run polls every benchSyncPollEvery until finished or ctx ends.
func (w *benchSyncWatch) run(ctx context.Context, progress io.Writer) error {
	tick := time.NewTicker(benchSyncPollEvery)
	defer tick.Stop()
	var lastScan, lastProgress time.Time
	start, last := time.Now(), w.before
	for {
		if err := w.poll(ctx); err != nil {
			return err
		}
		if time.Since(lastScan) >= benchSyncFailedScan {
			lastScan = time.Now()
			if err := w.scanFailed(ctx); err != nil {
				return err
			}
		}
		if w.finished() {
			return nil
		}
		if time.Since(lastProgress) >= benchSyncProgress {
			lastProgress = time.Now()
			st := w.sim.Stats()
			c := benchSyncCount(benchSyncStatsDelta(last, st))
			last = st
			fmt.Fprintf(progress, "sync: %5.0f s: %s of %s synced, %s callbacks in the simulator, %d failed; "+
				"API calls since the last line: %d creates, %d failed creates, %d analytics queries, %d conversation reads, %d other\n",
				time.Since(start).Seconds(), benchCommas(int64(len(w.synced))), benchCommas(int64(w.want)),
				benchCommas(int64(w.seen)), len(w.failed), c.creates, c.createsFailed, c.analytics, c.reads, c.other)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// benchSyncCalls sorts API calls by what they were for.
type benchSyncCalls struct {
	all, creates, createsFailed, analytics, reads, other int
	injected503                                          int
}

// benchSyncCount sorts the API calls (not the logins, sockets and
// unmatched paths) of reqs.
func benchSyncCount(reqs []gcsim.RequestCount) benchSyncCalls {
	var c benchSyncCalls
	for _, rc := range reqs {
		if !strings.Contains(rc.Pattern, " /api/") {
			continue
		}
		c.all += rc.Count
		switch {
		case rc.Pattern == benchSyncCreatePattern && rc.Status == http.StatusOK:
			c.creates += rc.Count
		case rc.Pattern == benchSyncCreatePattern:
			c.createsFailed += rc.Count
		case rc.Pattern == benchSyncAnalyticsPattern:
			c.analytics += rc.Count
		case rc.Pattern == benchSyncReadPattern:
			c.reads += rc.Count
		default:
			c.other += rc.Count
		}
		if rc.Status == http.StatusServiceUnavailable {
			c.injected503 += rc.Count
		}
	}
	return c
}

// poll reads the new callbacks from the simulator, then asks the server
// about each reservation whose callback has landed but that was not yet
// seen synced.
func (w *benchSyncWatch) poll(ctx context.Context) error {
	cbs := w.sim.Callbacks()
	for _, cb := range cbs[w.seen:] {
		w.waiting[cb.Data[syncer.DataKey]] = true
	}
	w.seen = len(cbs)
	var ids []string
	for id := range w.waiting {
		// A callback may land before its 201 has come back; the next poll
		// asks again.
		if w.isAdmitted(id) {
			ids = append(ids, id)
		}
	}
	states := make([]string, len(ids))
	at := make([]time.Time, len(ids))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(benchSyncGetters)
	for i, id := range ids {
		g.Go(func() error {
			r, err := w.api.get(gctx, id)
			if err != nil {
				return err
			}
			states[i], at[i] = r.Sync.State, time.Now()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for i, id := range ids {
		switch states[i] {
		case "synced":
			w.synced[id] = at[i]
			delete(w.waiting, id)
		case "failed":
			w.failed[id] = true
			delete(w.waiting, id)
		}
	}
	return nil
}

// scanFailed lists the reservations whose create Genesys refused: they
// never get a callback, so polling the simulator would not find them.
func (w *benchSyncWatch) scanFailed(ctx context.Context) error {
	failed, err := w.api.listAll(ctx, "failed")
	if err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for id := range failed {
		if _, ok := w.admitted[id]; ok {
			w.failed[id] = true
		}
	}
	return nil
}

// benchSyncAPI is the bench's client of the server's API.
type benchSyncAPI struct {
	benchAPI
}

// benchSyncReservation is the part of a reservation the bench reads.
type benchSyncReservation struct {
	ID   string `json:"id"`
	Sync struct {
		State          string `json:"state"`
		ConversationID string `json:"conversation_id"`
		LastError      string `json:"last_error"`
	} `json:"sync"`
}

// admit returns the burst's operation: book one reservation with its own
// callback id and phone number, and note its id and when the 201 came
// back.
func (a *benchSyncAPI) admit(w *benchSyncWatch) func(context.Context) error {
	return func(ctx context.Context) error {
		n := a.next.Add(1)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.base+"/api/v2/callbacks", bytes.NewReader(a.body(n)))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		var r benchSyncReservation
		if err := a.do(ctx, req, http.StatusCreated, &r); err != nil {
			return err
		}
		w.admit(r.ID, time.Now())
		a.created.Add(1)
		return nil
	}
}

// body is the n-th reservation: a unique callback id and a unique phone
// number (+1 415 200-0000 onwards: a retried create looks for its
// callback by number), a slot 1 to 29 days ahead.
func (a *benchSyncAPI) body(n int64) []byte {
	s := a.grid.slot(n)
	return fmt.Appendf(nil, `{"callback_id":"%s-%d","callback_number":"+1415%03d%04d","customer_name":"Bench Customer %d",`+
		`"time_slot_matrix":[{"start":"%s","end":"%s"}],"channel_preferences":{"primary":"voice","fallback":"sms","allow_sms":true},`+
		`"queue_id":"%s","reason":"Technical support escalation"}`,
		a.run, n, 200+n/10_000%800, n%10_000, n, s.Start.Format(time.RFC3339), s.End.Format(time.RFC3339), benchQueueID)
}

func (a *benchSyncAPI) get(ctx context.Context, id string) (*benchSyncReservation, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.base+"/api/v2/callbacks/"+url.PathEscape(id), nil)
	if err != nil {
		return nil, err
	}
	var r benchSyncReservation
	if err := a.do(ctx, req, http.StatusOK, &r); err != nil {
		return nil, fmt.Errorf("read reservation %s: %w", id, err)
	}
	return &r, nil
}

// listAll pages through GET /api/v2/callbacks (with the given status, or
// every status for "") and returns the reservations by id.
func (a *benchSyncAPI) listAll(ctx context.Context, status string) (map[string]*benchSyncReservation, error) {
	out := map[string]*benchSyncReservation{}
	q := url.Values{"limit": {"500"}}
	if status != "" {
		q.Set("status", status)
	}
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.base+"/api/v2/callbacks?"+q.Encode(), nil)
		if err != nil {
			return nil, err
		}
		var page struct {
			Items      []*benchSyncReservation `json:"items"`
			NextCursor string                  `json:"next_cursor"`
		}
		if err := a.do(ctx, req, http.StatusOK, &page); err != nil {
			return nil, fmt.Errorf("list reservations: %w", err)
		}
		for _, r := range page.Items {
			out[r.ID] = r
		}
		if page.NextCursor == "" {
			return out, nil
		}
		q.Set("cursor", page.NextCursor)
	}
}

// do sends req with the token and decodes the answer into out. A status
// other than want is a *benchFailure.
func (a *benchSyncAPI) do(ctx context.Context, req *http.Request, want int, out any) error {
	req.Header.Set("Authorization", "Bearer "+a.token)
	resp, err := a.hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &benchFailure{"transport error", err.Error()}
	}
	defer resp.Body.Close()
	if resp.StatusCode != want {
		detail, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
		return &benchFailure{fmt.Sprintf("HTTP %d", resp.StatusCode), string(detail)}
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &benchFailure{"bad response", err.Error()}
	}
	return nil
}

// benchSyncReport is every figure of a run; --json prints it.
type benchSyncReport struct {
	benchEnv
	Reservations int     `json:"reservations"`
	Clients      int     `json:"clients"`
	RatePerSec   float64 `json:"rate_per_s"` // N: what the simulator allows
	FaultRate    float64 `json:"fault_rate"`
	Fault429     bool    `json:"fault_429"` // half the refusals were 429s
	// RefusalsUseAllowance: the simulator counted refusals against N.
	RefusalsUseAllowance bool `json:"refusals_use_allowance"`
	// LostCreates is the share of create answers the simulator lost after
	// committing; AnalyticsDelaySec how long it took to show a callback in
	// analytics.
	LostCreates       float64 `json:"lost_creates"`
	AnalyticsDelaySec float64 `json:"analytics_delay_s"`
	// LostCreateWindowSec is the server's lost-create window when the
	// bench set it (0: the server's default).
	LostCreateWindowSec float64           `json:"lost_create_window_s,omitempty"`
	Processes           int               `json:"processes"`   // serve processes on the one database
	BudgetKind          string            `json:"budget_kind"` // genesys.budget
	Workers             int               `json:"workers"`     // per process
	TimeoutSec          float64           `json:"timeout_s"`
	TimedOut            bool              `json:"timed_out,omitempty"`
	ServerLogLines      int               `json:"server_log_lines,omitempty"` // at level warn or above
	Admit               *benchRateFigures `json:"admit"`
	Drain               *benchSyncDrain   `json:"drain"`
	Latency             *benchSyncLatency `json:"latency"`
	Check               *benchSyncCheck   `json:"check"`
	Budget              *benchSyncBudget  `json:"budget"`
}

// benchSyncBudget is how the deployment kept to N: every API call the
// simulator saw (refused ones included), in the busiest minute of the run
// against the minute's limit (60 × N), and by process.
type benchSyncBudget struct {
	LimitPerMin float64 `json:"limit_per_min"`
	// BusiestMinute is the most calls in any 60 s of the run, from
	// BusiestMinuteAtSec after the first call.
	BusiestMinute      int     `json:"busiest_minute"`
	BusiestMinuteAtSec float64 `json:"busiest_minute_at_s"`
	BusiestRatio       float64 `json:"busiest_ratio"` // ÷ LimitPerMin
	// RunSec is from the first API call to the last; a run shorter than a
	// minute has no full minute to judge.
	RunSec     float64 `json:"run_s"`
	DrainRatio float64 `json:"drain_ratio"` // creates landed ÷ N, as Drain.CreatesRatio
	// ByProcess counts the calls of each OAuth token (a process holds one
	// unless its token is refreshed), most first.
	ByProcess      []int   `json:"by_process"`
	RateLimited429 int     `json:"rate_limited_429"` // all 429s the simulator answered
	TargetMax      float64 `json:"target_max"`
	DrainTarget    float64 `json:"drain_target"`
	Pass           bool    `json:"pass"`
}

// budget measures the deployment's calls against N from the simulator's
// request log.
func (b *benchSync) budget(reqs []gcsim.APIRequest) *benchSyncBudget {
	g := &benchSyncBudget{LimitPerMin: b.opts.rate * 60, TargetMax: benchSyncDeploymentBudget, DrainTarget: benchSyncDeploymentDrain}
	if len(reqs) == 0 {
		return g
	}
	first, last := reqs[0].At, reqs[0].At
	byToken := map[int]int{}
	for _, r := range reqs {
		if r.At.Before(first) {
			first = r.At
		}
		if r.At.After(last) {
			last = r.At
		}
		byToken[r.Token]++
		if r.Status == http.StatusTooManyRequests {
			g.RateLimited429++
		}
	}
	for _, n := range byToken {
		g.ByProcess = append(g.ByProcess, n)
	}
	slices.SortFunc(g.ByProcess, func(a, b int) int { return b - a })
	most, at := gcsim.BusiestWindow(reqs, benchSyncMinute)
	g.BusiestMinute, g.BusiestMinuteAtSec = most, at.Sub(first).Seconds()
	g.BusiestRatio = float64(most) / g.LimitPerMin
	g.RunSec = last.Sub(first).Seconds()
	if b.rep.Drain != nil {
		g.DrainRatio = b.rep.Drain.CreatesRatio
	}
	g.Pass = g.RunSec >= benchSyncMinute.Seconds() && g.BusiestRatio <= g.TargetMax && g.DrainRatio >= g.DrainTarget
	return g
}

// benchSyncDrain is how fast the burst reached the simulator.
type benchSyncDrain struct {
	Creates       int     `json:"creates"` // callbacks created in the simulator
	SpanSec       float64 `json:"span_s"`  // from the first create landing to the last
	CreatesPerSec float64 `json:"creates_per_s"`
	CreatesRatio  float64 `json:"creates_ratio"`             // creates/s ÷ N
	First90PerSec float64 `json:"first_90pct_creates_per_s"` // over the first 90% of the creates
	// SteadyPerSec is the rate of the creates from the 5th to the 85th
	// percentile of their landing times (benchSyncSteadyFrom, To), over
	// SteadySpanSec; SteadyRatio (÷ N) is what Pass judges.
	SteadyPerSec  float64 `json:"steady_creates_per_s"`
	SteadySpanSec float64 `json:"steady_span_s"`
	SteadyRatio   float64 `json:"steady_ratio"`
	// Every API call the simulator answered while the burst drained, and
	// their rate as a fraction of N. Refusals (429, 503) do not use the
	// allowance, so this may exceed N by the refusals the client's bucket
	// gives back (genesys.RefusedShare).
	APIRequests int     `json:"api_requests"`
	APIPerSec   float64 `json:"api_per_s"`
	APIRatio    float64 `json:"api_ratio"`
	// ServedPerSec counts the calls that used the allowance (all but the
	// rate limit's 429s, and but the refusals unless they are charged):
	// at most N.
	ServedPerSec     float64 `json:"served_per_s"`
	ServedRatio      float64 `json:"served_ratio"`
	CreatesFailed    int     `json:"creates_failed"`
	AnalyticsQueries int     `json:"analytics_queries"` // a retried create first looks for its callback
	// ConversationReads are GETs of one callback conversation: the
	// reconciliation reads back every synced reservation's, and a retried
	// create reads each candidate its analytics query found.
	ConversationReads int                  `json:"conversation_reads"`
	OtherRequests     int                  `json:"other_requests"`
	Injected429       int                  `json:"injected_429"`
	Injected503       int                  `json:"injected_503"`
	RateLimited429    int                  `json:"rate_limited_429"` // refused by the simulator's rate limit
	LostAnswers       int                  `json:"lost_answers"`     // creates committed whose answer was lost
	Requests          []gcsim.RequestCount `json:"requests"`         // by route and status
	TargetRatio       float64              `json:"target_ratio"`
	Pass              bool                 `json:"pass"`
}

// benchSyncLatency is the time from admission (the 201) to synced, and to
// the callback's creation in the simulator.
type benchSyncLatency struct {
	PollMs       float64 `json:"poll_ms"` // synced is first seen by polling this often
	SyncedCount  int     `json:"synced_count"`
	SyncedP50Ms  float64 `json:"synced_p50_ms"`
	SyncedP99Ms  float64 `json:"synced_p99_ms"`
	SyncedMaxMs  float64 `json:"synced_max_ms"`
	GenesysP50Ms float64 `json:"genesys_p50_ms"` // to the callback's creation time in the simulator
	GenesysP99Ms float64 `json:"genesys_p99_ms"`
}

// benchSyncCheck compares the server's reservations with the simulator's
// callbacks.
type benchSyncCheck struct {
	Callbacks      int `json:"callbacks"`       // in the simulator
	Synced         int `json:"synced"`          // synced to one of their callbacks
	Duplicates     int `json:"duplicates"`      // reservations with more than one callback
	ExtraCallbacks int `json:"extra_callbacks"` // callbacks beyond the first of each
	// Lost counts reservations not synced to a callback of theirs in the
	// simulator (never synced, failed, or no callback); Failed those of
	// them whose sync failed.
	Lost      int    `json:"lost"`
	Failed    int    `json:"failed"`
	Unknown   int    `json:"unknown"` // callbacks naming no reservation of this run
	FirstLost string `json:"first_lost,omitempty"`
	Pass      bool   `json:"pass"`
}

func (b *benchSync) printHeader() {
	if b.text == nil {
		return
	}
	r := b.rep
	fmt.Fprintf(b.text, "slotline-bench sync — %s, %d CPUs, %s, %s reservations, %d clients, %d serve process(es)\n",
		r.Database, r.CPUs, r.GoVersion, benchCommas(int64(r.Reservations)), r.Clients, r.Processes)
	charged := "without using N"
	if r.RefusalsUseAllowance {
		charged = fmt.Sprintf("counted against N (--refusals-use-allowance: at most %.2f × N can be creates)", 1-r.FaultRate)
	}
	refusals := "503"
	if r.Fault429 {
		refusals = "429 (Retry-After 1 s) or 503, half each"
	}
	fmt.Fprintf(b.text, "genesys simulator allows N = %.4g requests/s (%.4g/min); %g%% of API calls refused with %s, %s; %d sync workers per process\n",
		r.RatePerSec, r.RatePerSec*60, 100*r.FaultRate, refusals, charged, r.Workers)
	window := "the server's default lost-create window"
	if r.LostCreateWindowSec > 0 {
		window = fmt.Sprintf("a lost-create window of %g s", r.LostCreateWindowSec)
	}
	fmt.Fprintf(b.text, "%g%% of create answers lost after the create commits; analytics shows a new callback after %g s; %s\n",
		100*r.LostCreates, r.AnalyticsDelaySec, window)
}

func (b *benchSync) printResults() {
	if b.text == nil {
		return
	}
	r := b.rep
	a := r.Admit
	fmt.Fprintf(b.text, "%-7s %-31s %8s /s    %s\n", "admit", "POST /api/v2/callbacks", benchCommas(int64(a.PerSec)), benchLatency(a))
	if len(a.Failures) > 0 {
		fmt.Fprintf(b.text, "%-7s failures: %v; first: %s\n", "", a.Failures, a.FirstFailure)
	}
	d := r.Drain
	fmt.Fprintf(b.text, "%-7s %-31s %8.2f /s    %.3f× N (target ≥ %.2f) %s  (N = %.4g/s = %.4g/min, the simulator's limit and the server's genesys.rate_limit; "+
		"creates from the 5th to the 85th percentile, over %.0f s)\n", "drain",
		"creates landed in Genesys", d.SteadyPerSec, d.SteadyRatio, d.TargetRatio, benchVerdict(d.Pass),
		r.RatePerSec, r.RatePerSec*60, d.SteadySpanSec)
	fmt.Fprintf(b.text, "%-7s %-31s %8.2f /s    %.3f× N  (first to last create, the tail of re-sent creates included; first 90%% of creates: %.2f /s, %.3f× N)\n", "",
		"whole run", d.CreatesPerSec, d.CreatesRatio, d.First90PerSec, d.First90PerSec/r.RatePerSec)
	fmt.Fprintf(b.text, "%-7s %-31s %8.1f /s    %.2f× N  (the allowance in use)\n", "drain",
		"Genesys API calls using N", d.ServedPerSec, d.ServedRatio)
	fmt.Fprintf(b.text, "%-7s %-31s %8.1f /s    %.2f× N  (refusals included)\n", "drain",
		"all Genesys API requests", d.APIPerSec, d.APIRatio)
	fmt.Fprintf(b.text, "%-7s %s creates in %.1f s; %s failed creates, %s answers lost, %s analytics queries, %s conversation reads, %s other calls; "+
		"429: %s injected, %s rate limit; 503: %s\n", "",
		benchCommas(int64(d.Creates)), d.SpanSec, benchCommas(int64(d.CreatesFailed)), benchCommas(int64(d.LostAnswers)),
		benchCommas(int64(d.AnalyticsQueries)), benchCommas(int64(d.ConversationReads)), benchCommas(int64(d.OtherRequests)),
		benchCommas(int64(d.Injected429)), benchCommas(int64(d.RateLimited429)), benchCommas(int64(d.Injected503)))
	l := r.Latency
	fmt.Fprintf(b.text, "%-7s %-31s p50 %.1f s  p99 %.1f s  max %.1f s  (time to synced is measured by polling every %g ms)\n",
		"synced", "admission → synced", l.SyncedP50Ms/1000, l.SyncedP99Ms/1000, l.SyncedMaxMs/1000, l.PollMs)
	fmt.Fprintf(b.text, "%-7s %-31s p50 %.1f s  p99 %.1f s  (the simulator's creation time)\n",
		"", "admission → callback in Genesys", l.GenesysP50Ms/1000, l.GenesysP99Ms/1000)
	c := r.Check
	fmt.Fprintf(b.text, "%-7s %s callbacks for %s reservations: %s synced, %d duplicates, %d lost, %d unknown callbacks  %s\n",
		"check", benchCommas(int64(c.Callbacks)), benchCommas(int64(a.Count)), benchCommas(int64(c.Synced)),
		c.Duplicates, c.Lost, c.Unknown, benchVerdict(c.Pass))
	if c.FirstLost != "" {
		fmt.Fprintf(b.text, "%-7s first lost: %s\n", "", c.FirstLost)
	}
	if r.TimedOut {
		fmt.Fprintf(b.text, "%-7s timed out after %g s\n", "", r.TimeoutSec)
	}
	if g := r.Budget; g != nil && r.Processes > 1 {
		verdict := benchVerdict(g.Pass)
		if g.RunSec < benchSyncMinute.Seconds() {
			verdict += " (the run is shorter than a minute)"
		}
		fmt.Fprintf(b.text, "%-7s %-31s %8d      %.3f× the minute's %.4g (target ≤ %.2f), drain %.2f× N (target ≥ %.2f) %s\n",
			"budget", "calls in the busiest minute", g.BusiestMinute, g.BusiestRatio, g.LimitPerMin, g.TargetMax,
			g.DrainRatio, g.DrainTarget, verdict)
		fmt.Fprintf(b.text, "%-7s %d processes, genesys.budget %s; calls by process %v over %.0f s; the busiest minute from %.0f s; %d 429s\n",
			"", r.Processes, r.BudgetKind, g.ByProcess, g.RunSec, g.BusiestMinuteAtSec, g.RateLimited429)
	}
}
