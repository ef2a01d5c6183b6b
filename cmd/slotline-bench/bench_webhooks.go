package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/slotline/slotline/internal/app"
	"github.com/slotline/slotline/internal/jobs"
	"github.com/slotline/slotline/internal/netguard"
	"github.com/slotline/slotline/internal/reservation"
	"github.com/slotline/slotline/internal/storage"
	"github.com/slotline/slotline/internal/webhook"
)

// What the webhooks bench measures against, and how it loads the system.
const (
	benchWebhooksAllPhases = "floor,deliver,drain,loss"

	benchWebhooksTargetSQLite   = 500  // deliveries/s
	benchWebhooksTargetPostgres = 1500 // deliveries/s

	// benchWebhooksPoll is how often the bench looks at what the receiver
	// has got.
	benchWebhooksPoll = 10 * time.Millisecond
)

// benchWebhooksLossSchedule is the loss phase's retry schedule: ten
// attempts like the default's, shrunk to about four seconds in all so that
// retries run within the bench.
func benchWebhooksLossSchedule() []time.Duration {
	return []time.Duration{0, 10 * time.Millisecond, 20 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond,
		200 * time.Millisecond, 500 * time.Millisecond, time.Second, time.Second, time.Second}
}

// benchWebhooksCmd runs "slotline-bench webhooks": deliveries per second
// from event commit to a local receiver and the commit-to-arrival latency,
// against the raw loopback POST rate of the same receiver measured in the
// same run; then the rate at which a backlog drains (the delivery side on
// its own, with no commits competing); then the loss check, against a receiver that fails a share of
// the requests. The store, River, the dispatcher and the receivers all run
// in this process, on the same CPUs.
func benchWebhooksCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	opts, err := parseBenchWebhooksFlags(args, stderr)
	if err != nil {
		return err
	}
	return runBenchCommand(ctx, getenv, stdout, opts.db, opts.cpuProfile, opts.json, func(dbs *benchDBs, text io.Writer) (func(context.Context) error, any) {
		b := &benchWebhooks{runOf[benchWebhooksOptions, benchWebhooksReport]{opts: opts, dbs: dbs, text: text, progress: stderr, rep: &benchWebhooksReport{
			benchEnv:  newBenchEnv(dbs),
			Endpoints: opts.endpoints, Workers: opts.workers, Committers: opts.committers, SharedCPUs: true,
		}}}
		return b.run, b.rep
	})
}

// benchWebhooksOptions are the command's flags.
type benchWebhooksOptions struct {
	commonFlags
	events        int
	lossEvents    int
	endpoints     int
	failRate      float64
	workers       int
	committers    int
	seed          uint64
	floorDuration time.Duration
	timeout       time.Duration
	cpuProfile    string
}

func parseBenchWebhooksFlags(args []string, stderr io.Writer) (*benchWebhooksOptions, error) {
	o := &benchWebhooksOptions{}
	fs := flag.NewFlagSet("webhooks", flag.ContinueOnError)
	o.commonFlags.register(fs, benchWebhooksAllPhases)
	fs.IntVar(&o.events, "events", 5000, "events committed in the deliver phase")
	fs.IntVar(&o.lossEvents, "loss-events", 2000, "events committed in the loss phase")
	fs.IntVar(&o.endpoints, "endpoints", 1, "endpoints registered, each taking every event")
	fs.Float64Var(&o.failRate, "fail-rate", 0.3, "share of requests the loss phase's receiver answers with 500")
	fs.IntVar(&o.workers, "workers", 16, "River workers of the webhooks queue (and the floor's concurrency)")
	fs.IntVar(&o.committers, "committers", 16, "goroutines committing the events (the admit bench's --clients)")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the loss phase's failures")
	fs.DurationVar(&o.floorDuration, "floor-duration", 3*time.Second, "how long each floor run posts")
	fs.DurationVar(&o.timeout, "timeout", 5*time.Minute, "how long a phase waits for its deliveries after the first commit")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run to `file`")
	hideFlags(fs, "cpuprofile")
	if err := app.ParseFlags(fs, args, stderr); err != nil {
		return nil, err
	}
	return o, o.validate()
}

func (o *benchWebhooksOptions) validate() error {
	switch {
	case o.events < 1:
		return app.UsageError("--events must be at least 1")
	case o.lossEvents < 1:
		return app.UsageError("--loss-events must be at least 1")
	case o.endpoints < 1 || o.endpoints > 100:
		return app.UsageError("--endpoints must be from 1 to 100")
	case !(o.failRate >= 0 && o.failRate < 1):
		return app.UsageError("--fail-rate must be at least 0 and below 1")
	case o.workers < 1:
		return app.UsageError("--workers must be at least 1")
	case o.committers < 1:
		return app.UsageError("--committers must be at least 1")
	case o.floorDuration <= 0:
		return app.UsageError("--floor-duration must be positive")
	case o.timeout <= 0:
		return app.UsageError("--timeout must be positive")
	}
	return o.commonFlags.check(benchWebhooksAllPhases)
}

// benchWebhooksReport is every figure of a run; --json prints it.
type benchWebhooksReport struct {
	benchEnv
	Endpoints  int `json:"endpoints"`
	Workers    int `json:"workers"`
	Committers int `json:"committers"`
	// SharedCPUs: the store, River, the dispatcher, the receiver and the
	// committers share the machine's CPUs (they all run in this process).
	SharedCPUs bool                  `json:"shared_cpus"`
	Floor      *benchWebhooksFloor   `json:"floor,omitempty"`
	Deliver    *benchWebhooksDeliver `json:"deliver,omitempty"`
	Drain      *benchWebhooksDrain   `json:"drain,omitempty"`
	Loss       *benchWebhooksLoss    `json:"loss,omitempty"`
	LogLines   int                   `json:"log_lines,omitempty"` // at level warn or above, all phases
}

// benchWebhooksFloor is the receiver's raw loopback POST rate: a plain
// http.Client posting delivery-sized bodies as fast as it can, at the
// dispatcher's concurrency (--workers) and at the concurrency it uses for
// --endpoints endpoints (one request at a time per endpoint).
type benchWebhooksFloor struct {
	Concurrency int              `json:"concurrency"`
	BodyBytes   int              `json:"body_bytes"`
	Full        benchRateFigures `json:"full"`
	// PerEndpoint is at min(--endpoints, --workers) connections: what the
	// dispatcher, delivering to each endpoint in order, can have in flight.
	PerEndpointConcurrency int               `json:"per_endpoint_concurrency,omitempty"`
	PerEndpoint            *benchRateFigures `json:"per_endpoint,omitempty"`
}

// benchWebhooksDelivery is what the receiver saw of a phase's events.
type benchWebhooksDelivery struct {
	Events     int `json:"events"`     // committed
	Deliveries int `json:"deliveries"` // wanted: events × endpoints
	Delivered  int `json:"delivered"`  // (endpoint, event seq) pairs answered 2xx at least once
	Duplicates int `json:"duplicates"` // 2xx answers beyond the first per pair
	Lost       int `json:"lost"`       // pairs never answered 2xx
	Requests   int `json:"requests"`   // every POST the receiver got
	Failed     int `json:"failed"`     // answered 500 on purpose
	// Unreadable counts requests whose body carried no event seq;
	// IDConflicts, webhook-ids seen with two different event seqs.
	Unreadable  int `json:"unreadable,omitempty"`
	IDConflicts int `json:"id_conflicts,omitempty"`
	// Complete: every pair delivered before --timeout.
	Complete   bool    `json:"complete"`
	ElapsedSec float64 `json:"elapsed_s"` // from the first commit to the last first delivery (or the timeout)
	// CommitPerSec is the rate at which the committers stored the events.
	CommitPerSec float64 `json:"commit_per_s"`
	// Store is the dispatcher's own record at the end: deliveries still
	// pending and failed for good (retries exhausted).
	StorePending int `json:"store_pending"`
	StoreFailed  int `json:"store_failed"`
	// Jobs counts River's jobs of the webhooks queue by kind and state,
	// with the snoozes they took (a job snoozes while another holds its
	// endpoint).
	Jobs map[string]benchJobTally `json:"jobs,omitempty"`
}

type benchJobTally struct {
	States  map[string]int `json:"states"`
	Snoozes int            `json:"snoozes"`
}

type benchWebhooksDeliver struct {
	benchWebhooksDelivery
	PerSec float64 `json:"per_s"`
	// Commit to arrival: from the return of the committing call to the
	// receiver reading the first 2xx-answered request of that delivery.
	P50Ms        float64  `json:"p50_ms"`
	P99Ms        float64  `json:"p99_ms"`
	MaxMs        float64  `json:"max_ms"`
	FloorRatio   *float64 `json:"floor_ratio,omitempty"`              // per_s ÷ the floor's full rate
	EndpointRate *float64 `json:"per_endpoint_floor_ratio,omitempty"` // per_s ÷ the floor's per-endpoint rate
	TargetPerSec float64  `json:"target_per_s"`
	Pass         bool     `json:"pass"`
}

// benchWebhooksDrain is the drain phase: the events are all committed
// while the receiver holds the first request, then it lets go and the
// backlog is timed from that moment to its last first arrival.
type benchWebhooksDrain struct {
	benchWebhooksDelivery
	PerSec       float64  `json:"per_s"`
	FloorRatio   *float64 `json:"floor_ratio,omitempty"`
	EndpointRate *float64 `json:"per_endpoint_floor_ratio,omitempty"`
	TargetPerSec float64  `json:"target_per_s"`
	Pass         bool     `json:"pass"`
}

type benchWebhooksLoss struct {
	benchWebhooksDelivery
	FailRate float64 `json:"fail_rate"`
	Seed     uint64  `json:"seed"`
	// ScheduleMs is the retry schedule the dispatcher ran with.
	ScheduleMs []float64 `json:"schedule_ms"`
	// Retry gaps: from a 500 to the next request with the same
	// webhook-id, against the schedule's waits (10 ms to 1 s).
	Retries       int     `json:"retries"`
	RetryGapP50Ms float64 `json:"retry_gap_p50_ms"`
	RetryGapP99Ms float64 `json:"retry_gap_p99_ms"`
	RetryGapMaxMs float64 `json:"retry_gap_max_ms"`
	Pass          bool    `json:"pass"`
}

// benchWebhooks is one run of the command.
type benchWebhooks struct {
	runOf[benchWebhooksOptions, benchWebhooksReport]
}

func (b *benchWebhooks) run(ctx context.Context) error {
	b.printHeader()
	return runPhases(ctx, b.opts.phases, phase{"floor", b.runFloor}, phase{"deliver", b.runDeliver},
		phase{"drain", b.runDrain}, phase{"loss", b.runLoss})
}

// runFloor posts delivery-sized bodies to a fresh receiver with a plain
// client, first at --workers connections, then at one per endpoint.
func (b *benchWebhooks) runFloor(ctx context.Context) error {
	body := benchWebhooksSampleBody()
	f := &benchWebhooksFloor{Concurrency: b.opts.workers, BodyBytes: len(body)}
	full, err := b.floorAt(ctx, b.opts.workers, body)
	if err != nil {
		return err
	}
	f.Full = *full
	if n := min(b.opts.endpoints, b.opts.workers); n < b.opts.workers {
		if f.PerEndpoint, err = b.floorAt(ctx, n, body); err != nil {
			return err
		}
		f.PerEndpointConcurrency = n
	}
	b.rep.Floor = f
	b.printFloor()
	return nil
}

func (b *benchWebhooks) floorAt(ctx context.Context, conns int, body []byte) (*benchRateFigures, error) {
	rc := newBenchReceiver(0, 0)
	defer rc.close()
	hc := newBenchHTTPClient(conns)
	defer hc.CloseIdleConnections()
	url := rc.url(0)
	var n atomic.Int64
	fmt.Fprintf(b.progress, "floor: POST %s, %d connections, %s…\n", url, conns, b.opts.floorDuration)
	res, err := benchLoad(ctx, conns, benchDuring(b.opts.floorDuration), func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", webhook.ContentJSON)
		req.Header.Set("webhook-id", "floor_"+strconv.FormatInt(n.Add(1), 10))
		return benchDo(ctx, hc, req, http.StatusNoContent)
	})
	if err != nil {
		return nil, err
	}
	return res.figures(), nil
}

// benchWebhooksSampleBody is a delivery's JSON body for a freshly booked
// reservation, as the dispatcher renders it, for the floor to post.
func benchWebhooksSampleBody() []byte {
	r, cands, w := benchStoreRequest("floor", 1, newBenchGrid(time.Now(), benchStoreBuckets))
	r.ID, r.Slot, r.Bucket = "cb_floor0000000", cands[0].Slot, cands[0].Bucket
	r.Status, r.Sync, r.Version = reservation.StatusScheduled, reservation.Sync{State: reservation.SyncPending}, 1
	r.CreatedAt, r.UpdatedAt = w.Now, w.Now
	r.CallbackNumber = reservation.MaskNumber(r.CallbackNumber)
	ev := &reservation.Event{Seq: 1, ID: "evt_floor0000000000", Type: reservation.EventCreated, OccurredAt: w.Now,
		Origin: w.Origin, Actor: w.Actor, ReservationID: r.ID, QueueID: r.QueueID, Reservation: r}
	body, _ := json.Marshal(struct {
		Type      string             `json:"type"`
		Timestamp string             `json:"timestamp"`
		Data      *reservation.Event `json:"data"`
	}{ev.Type, ev.OccurredAt.UTC().Format(time.RFC3339Nano), ev})
	return body
}

// runDeliver commits --events events as fast as the committers can and
// times each delivery from its commit to its arrival.
func (b *benchWebhooks) runDeliver(ctx context.Context) (err error) {
	rc := newBenchReceiver(0, 0)
	defer rc.close()
	rig, err := b.startRig(ctx, "deliver", rc, nil)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, rig.close()) }()
	fmt.Fprintf(b.progress, "deliver: committing %s events for %d endpoint(s)…\n", benchCommas(int64(b.opts.events)), b.opts.endpoints)
	out, err := b.commitAndWait(ctx, "deliver", rig, rc, b.opts.events)
	if err != nil {
		return err
	}
	d := &benchWebhooksDeliver{benchWebhooksDelivery: out.delivery}
	if d.ElapsedSec > 0 {
		d.PerSec = float64(d.Delivered) / d.ElapsedSec
	}
	d.P50Ms, d.P99Ms = ms(benchPercentile(out.latencies, 0.50)), ms(benchPercentile(out.latencies, 0.99))
	if len(out.latencies) > 0 {
		d.MaxMs = ms(out.latencies[len(out.latencies)-1])
	}
	d.FloorRatio, d.EndpointRate = b.floorRatios(d.PerSec)
	d.TargetPerSec = b.target()
	d.Pass = d.Complete && d.Lost == 0 && d.Duplicates == 0 && d.PerSec >= d.TargetPerSec
	b.rep.Deliver = d
	b.printDeliver()
	return nil
}

// floorRatios returns a rate as a share of the floor's full and
// per-endpoint rates (nil without a floor phase).
func (b *benchWebhooks) floorRatios(perSec float64) (full, perEndpoint *float64) {
	f := b.rep.Floor
	if f == nil {
		return nil, nil
	}
	if f.Full.PerSec > 0 {
		r := perSec / f.Full.PerSec
		full = &r
	}
	if f.PerEndpoint != nil && f.PerEndpoint.PerSec > 0 {
		r := perSec / f.PerEndpoint.PerSec
		perEndpoint = &r
	}
	return full, perEndpoint
}

// target is the deliveries per second to reach on this backend.
func (b *benchWebhooks) target() float64 {
	if b.dbs.backend == storage.Postgres {
		return benchWebhooksTargetPostgres
	}
	return benchWebhooksTargetSQLite
}

// runDrain commits --events events while the receiver holds the first
// request, then lets go and times the backlog's delivery: the rate of the
// delivery side (claim, load, sign, POST, record) with no commits
// competing for the CPUs and the database.
func (b *benchWebhooks) runDrain(ctx context.Context) (err error) {
	rc := newBenchReceiver(0, 0)
	rc.hold()
	defer rc.close()
	// Short retries, in case the held request outlasts the attempt timeout.
	rig, err := b.startRig(ctx, "drain", rc, benchWebhooksLossSchedule())
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, rig.close()) }()
	fmt.Fprintf(b.progress, "drain: committing %s events with the receiver holding the first request…\n", benchCommas(int64(b.opts.events)))
	out, err := b.commitAndWait(ctx, "drain", rig, rc, b.opts.events)
	if err != nil {
		return err
	}
	d := &benchWebhooksDrain{benchWebhooksDelivery: out.delivery}
	if d.ElapsedSec > 0 {
		d.PerSec = float64(d.Delivered) / d.ElapsedSec
	}
	d.FloorRatio, d.EndpointRate = b.floorRatios(d.PerSec)
	d.TargetPerSec = b.target()
	d.Pass = d.Complete && d.Lost == 0 && d.Duplicates == 0 && d.PerSec >= d.TargetPerSec
	b.rep.Drain = d
	b.printDrain()
	return nil
}

// runLoss commits --loss-events events while the receiver fails
// --fail-rate of the requests, and checks that every event arrives, once.
func (b *benchWebhooks) runLoss(ctx context.Context) (err error) {
	rc := newBenchReceiver(b.opts.failRate, b.opts.seed)
	defer rc.close()
	schedule := benchWebhooksLossSchedule()
	rig, err := b.startRig(ctx, "loss", rc, schedule)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, rig.close()) }()
	fmt.Fprintf(b.progress, "loss: committing %s events, the receiver failing %.0f%% of requests…\n",
		benchCommas(int64(b.opts.lossEvents)), 100*b.opts.failRate)
	out, err := b.commitAndWait(ctx, "loss", rig, rc, b.opts.lossEvents)
	if err != nil {
		return err
	}
	l := &benchWebhooksLoss{benchWebhooksDelivery: out.delivery, FailRate: b.opts.failRate, Seed: b.opts.seed}
	for _, s := range schedule {
		l.ScheduleMs = append(l.ScheduleMs, ms(s))
	}
	rc.mu.Lock()
	gaps := slices.Sorted(slices.Values(rc.retryGaps))
	rc.mu.Unlock()
	l.Retries = len(gaps)
	l.RetryGapP50Ms, l.RetryGapP99Ms = ms(benchPercentile(gaps, 0.50)), ms(benchPercentile(gaps, 0.99))
	if len(gaps) > 0 {
		l.RetryGapMaxMs = ms(gaps[len(gaps)-1])
	}
	l.Pass = l.Complete && l.Lost == 0 && l.Duplicates == 0 && l.Delivered == l.Deliveries
	b.rep.Loss = l
	b.printLoss()
	return nil
}

// benchWebhooksRig is the system under test on a fresh database: the
// store, the job queue, the dispatcher (the store's one event hook: the
// bench's reservations are written to the store directly and never go to
// Genesys) and the endpoints, registered on a receiver.
type benchWebhooksRig struct {
	store     *storage.Store
	jobs      *jobs.Client
	endpoints []string // ids, in the receiver's /hook/{i} order
	cancel    context.CancelFunc
	waker     chan struct{} // closed when the dispatcher's Run returns
	log       *benchTail
	report    *benchWebhooksReport
}

// startRig wires the webhooks as serve does (SSRF guard transport, the
// job queue on the store's database) and registers --endpoints endpoints on rc. A nil
// schedule is the dispatcher's default.
func (b *benchWebhooks) startRig(ctx context.Context, name string, rc *benchReceiver, schedule []time.Duration) (*benchWebhooksRig, error) {
	dsn, err := b.dbs.fresh(ctx, name)
	if err != nil {
		return nil, err
	}
	tail := &benchTail{}
	logger := slog.New(slog.NewTextHandler(tail, &slog.HandlerOptions{Level: slog.LevelWarn}))
	st, err := storage.Open(ctx, dsn, storage.Options{Logger: logger.With("component", "storage")})
	if err != nil {
		return nil, err
	}
	guard := netguard.Policy{AllowPrivate: true}
	js := jobs.New(st.JobDriver(), jobs.Config{Logger: logger.With("component", "jobs")})
	disp := webhook.New(webhook.Config{Store: st, Jobs: js, Logger: logger.With("component", "webhooks"),
		Client: &http.Client{Transport: guard.Transport()}, Schedule: schedule, Workers: b.opts.workers})
	st.OnEvents(disp.OnEvents)
	if err := js.Open(ctx); err != nil {
		st.Close()
		return nil, fmt.Errorf("open the job queue: %w", err)
	}
	rctx, cancel := context.WithCancel(ctx)
	rig := &benchWebhooksRig{store: st, jobs: js, cancel: cancel, waker: make(chan struct{}), log: tail, report: b.rep}
	go func() { defer close(rig.waker); _ = disp.Run(rctx) }()
	if err := js.Start(rctx); err != nil {
		cancel()
		<-rig.waker
		st.Close()
		return nil, fmt.Errorf("start River: %w", err)
	}
	eps := webhook.NewEndpoints(st, func(u string) string { return guard.CheckURL(u, true) }, []string{benchQueueID})
	for i := range b.opts.endpoints {
		epName, url := fmt.Sprintf("bench %d", i), rc.url(i)
		ep, err := eps.Create(ctx, reservation.Write{Actor: benchClientID, Origin: reservation.OriginAPI, RequestID: fmt.Sprintf("bench-endpoint-%d", i)}, &webhook.EndpointRequest{Name: &epName, URL: &url})
		if err != nil {
			return nil, errors.Join(fmt.Errorf("register endpoint %s: %w", url, err), rig.close())
		}
		rig.endpoints = append(rig.endpoints, ep.ID)
	}
	return rig, nil
}

// close stops River (cancelling what still runs) and the store, and
// reports what the system logged at level warn or above.
func (r *benchWebhooksRig) close() error {
	r.cancel()
	<-r.waker
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := r.jobs.Stop(ctx)
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	r.report.LogLines += r.log.count()
	return errors.Join(err, r.store.Close())
}

// benchWebhooksOutcome is what commitAndWait measured.
type benchWebhooksOutcome struct {
	delivery  benchWebhooksDelivery
	latencies []time.Duration // commit to first 2xx arrival, sorted
}

// commitAndWait commits n events through the store (one reservation each,
// as the booking service would store it) from the committers, then waits
// until the receiver has answered 2xx to every (endpoint, event) pair or
// the timeout passes, and tallies what arrived.
func (b *benchWebhooks) commitAndWait(ctx context.Context, phase string, rig *benchWebhooksRig, rc *benchReceiver, n int) (*benchWebhooksOutcome, error) {
	grid := newBenchGrid(time.Now(), benchStoreBuckets)
	prefix := benchRandomHex(4)
	var next atomic.Int64
	var mu sync.Mutex
	committed := make(map[string]time.Time, n) // reservation id → commit
	start := time.Now()
	deadline := start.Add(b.opts.timeout)
	res, err := benchLoad(ctx, b.opts.committers, benchUpTo(int64(n)), func(ctx context.Context) error {
		r, cands, w := benchStoreRequest(prefix, next.Add(1), grid)
		if _, err := rig.store.CreateReservation(ctx, r, cands, w); err != nil {
			if errors.Is(err, reservation.ErrFull) {
				return &benchFailure{"full", err.Error()}
			}
			return err
		}
		at := time.Now()
		mu.Lock()
		committed[r.ID] = at
		mu.Unlock()
		return nil
	})
	if err != nil {
		return nil, err
	}
	if res.ok != n {
		return nil, fmt.Errorf("committed %d of %d events; first failure: %s", res.ok, n, res.first)
	}
	commitRate := float64(res.ok) / res.elapsed.Seconds()
	fmt.Fprintf(b.progress, "%s: committed %s events at %s/s; waiting for the deliveries…\n", phase,
		benchCommas(int64(res.ok)), benchCommas(int64(commitRate)))
	if rc.release() {
		// A held receiver: the phase times the backlog from now.
		start = time.Now()
		deadline = start.Add(b.opts.timeout)
	}

	// The store's log is the truth of what was committed: each
	// reservation's reservation.created event, by seq.
	commitAt := make(map[int64]time.Time, n) // event seq → commit
	for after := int64(0); ; {
		evs, err := rig.store.FindEvents(ctx, after, 1000)
		if err != nil {
			return nil, err
		}
		if len(evs) == 0 {
			break
		}
		for _, ev := range evs {
			if at, ok := committed[ev.ReservationID]; ok && ev.Type == reservation.EventCreated {
				commitAt[ev.Seq] = at
			}
		}
		after = evs[len(evs)-1].Seq
	}
	if len(commitAt) != n {
		return nil, fmt.Errorf("the event log holds %d reservation.created events of the %d committed", len(commitAt), n)
	}
	seqs := make([]int64, 0, n)
	for s := range commitAt {
		seqs = append(seqs, s)
	}
	slices.Sort(seqs)
	want := n * len(rig.endpoints)

	complete := false
	lastReport := time.Now()
	for {
		got := rc.deliveredOf(seqs, len(rig.endpoints))
		if got == want {
			complete = true
			break
		}
		if time.Now().After(deadline) {
			fmt.Fprintf(b.progress, "%s: timed out after %s with %s of %s deliveries\n", phase, b.opts.timeout,
				benchCommas(int64(got)), benchCommas(int64(want)))
			break
		}
		if time.Since(lastReport) >= 5*time.Second {
			lastReport = time.Now()
			fmt.Fprintf(b.progress, "%s: %s of %s delivered after %.0f s…\n", phase, benchCommas(int64(got)),
				benchCommas(int64(want)), time.Since(start).Seconds())
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(benchWebhooksPoll):
		}
	}
	end := time.Now()
	if complete {
		// Stragglers: a duplicate would come within a retry's wait.
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}

	out := &benchWebhooksOutcome{}
	d := &out.delivery
	d.Events, d.Deliveries, d.Complete, d.CommitPerSec = n, want, complete, commitRate
	var last time.Time
	rc.mu.Lock()
	for _, s := range seqs {
		for ep := range rig.endpoints {
			a, ok := rc.got[benchDeliveryKey{ep, s}]
			if !ok {
				d.Lost++
				continue
			}
			d.Delivered++
			d.Duplicates += a.n - 1
			out.latencies = append(out.latencies, max(a.first.Sub(commitAt[s]), 0))
			if a.first.After(last) {
				last = a.first
			}
		}
	}
	d.Requests, d.Failed, d.Unreadable, d.IDConflicts = rc.requests, rc.failed, rc.unreadable, rc.idConflicts
	rc.mu.Unlock()
	slices.Sort(out.latencies)
	if complete {
		end = last
	}
	d.ElapsedSec = end.Sub(start).Seconds()
	for _, id := range rig.endpoints {
		p, f, err := benchCountDeliveries(ctx, rig.store, id)
		if err != nil {
			return nil, err
		}
		d.StorePending += p
		d.StoreFailed += f
	}
	if d.Jobs, err = benchRiverJobs(ctx, rig.store); err != nil {
		fmt.Fprintf(b.progress, "%s: count River's jobs: %v\n", phase, err)
	}
	if n := rig.log.count(); n > 0 {
		fmt.Fprintf(b.progress, "%s: the system logged %d lines at level warn or above%s\n", phase, n, rig.log.tail())
	}
	return out, nil
}

// benchCountDeliveries returns how many of an endpoint's deliveries are
// still pending and how many failed for good, as the store has them.
func benchCountDeliveries(ctx context.Context, st *storage.Store, endpointID string) (pending, failed int, err error) {
	for _, s := range []struct {
		status string
		n      *int
	}{{storage.DeliveryPending, &pending}, {storage.DeliveryFailed, &failed}} {
		for cursor := ""; ; {
			ds, next, err := st.FindDeliveries(ctx, endpointID, s.status, cursor, 500)
			if err != nil {
				return 0, 0, err
			}
			*s.n += len(ds)
			if next == "" {
				break
			}
			cursor = next
		}
	}
	return pending, failed, nil
}

// benchRiverJobs counts River's jobs of the webhooks queue by kind and
// state, with their snoozes.
func benchRiverJobs(ctx context.Context, st *storage.Store) (map[string]benchJobTally, error) {
	const q = `SELECT kind, state, COUNT(*), COALESCE(SUM(%s), 0) FROM river_job WHERE queue = '` + webhook.Queue + `' GROUP BY kind, state`
	out := map[string]benchJobTally{}
	add := func(kind, state string, n, snoozes int64) {
		t, ok := out[kind]
		if !ok {
			t.States = map[string]int{}
		}
		t.States[state] += int(n)
		t.Snoozes += int(snoozes)
		out[kind] = t
	}
	var rows rowScanner
	if pool := st.Pool(); pool != nil {
		r, err := pool.Query(ctx, fmt.Sprintf(q, "(metadata->>'snoozes')::bigint"))
		if err != nil {
			return nil, err
		}
		defer r.Close()
		rows = r
	} else {
		r, err := st.DB().QueryContext(ctx, fmt.Sprintf(q, "json_extract(metadata, '$.snoozes')"))
		if err != nil {
			return nil, err
		}
		defer r.Close()
		rows = r
	}
	for rows.Next() {
		var kind, state string
		var n, snoozes int64
		if err := rows.Scan(&kind, &state, &n, &snoozes); err != nil {
			return nil, err
		}
		add(kind, state, n, snoozes)
	}
	return out, rows.Err()
}

// rowScanner is what *sql.Rows and pgx.Rows share.
type rowScanner interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// benchReceiver is every phase's webhook receiver: an HTTP server on
// 127.0.0.1 that reads each POST /hook/{endpoint}, takes the event's seq
// from the body's data.seq and answers 204, or 500 to a seeded random
// share of the requests. It records the first 2xx arrival of each
// (endpoint, seq) and counts the later ones.
type benchReceiver struct {
	srv      *httptest.Server
	failRate float64
	// gate, when set by hold, holds each request until it is closed.
	gate        chan struct{}
	releaseOnce sync.Once

	mu          sync.Mutex
	rng         *mrand.Rand
	requests    int
	failed      int
	unreadable  int
	idConflicts int
	ids         map[string]int64 // webhook-id → event seq
	got         map[benchDeliveryKey]*benchArrival
	failedAt    map[string]time.Time // webhook-id → its last 500
	retryGaps   []time.Duration      // from a 500 to the next request of that webhook-id
}

type benchDeliveryKey struct {
	endpoint int
	seq      int64
}

type benchArrival struct {
	first time.Time // of the first 2xx-answered request
	n     int       // 2xx-answered requests
}

func newBenchReceiver(failRate float64, seed uint64) *benchReceiver {
	rc := &benchReceiver{failRate: failRate, rng: mrand.New(mrand.NewPCG(seed, seed^0x5eed)),
		ids: map[string]int64{}, got: map[benchDeliveryKey]*benchArrival{}, failedAt: map[string]time.Time{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /hook/{endpoint}", rc.serve)
	rc.srv = httptest.NewUnstartedServer(mux)
	rc.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	rc.srv.Start()
	return rc
}

func (rc *benchReceiver) url(endpoint int) string {
	return rc.srv.URL + "/hook/" + strconv.Itoa(endpoint)
}

// close lets a held request go, then stops the server.
func (rc *benchReceiver) close() {
	rc.release()
	rc.srv.Close()
}

// hold makes the receiver hold every request until release; call it
// before any request arrives.
func (rc *benchReceiver) hold() { rc.gate = make(chan struct{}) }

// release lets held requests go; it reports whether the receiver was
// holding them.
func (rc *benchReceiver) release() bool {
	if rc.gate == nil {
		return false
	}
	released := false
	rc.releaseOnce.Do(func() { close(rc.gate); released = true })
	return released
}

func (rc *benchReceiver) serve(w http.ResponseWriter, r *http.Request) {
	if rc.gate != nil {
		select {
		case <-rc.gate:
		case <-r.Context().Done():
			http.Error(w, "gave up", http.StatusServiceUnavailable)
			return
		}
	}
	ep, epErr := strconv.Atoi(r.PathValue("endpoint"))
	body, err := io.ReadAll(r.Body)
	var p struct {
		Data struct {
			Seq int64 `json:"seq"`
		} `json:"data"`
	}
	if err == nil {
		err = json.Unmarshal(body, &p)
	}
	at := time.Now()
	id := r.Header.Get("webhook-id")
	rc.mu.Lock()
	rc.requests++
	if err != nil || epErr != nil || p.Data.Seq <= 0 {
		rc.unreadable++
		rc.mu.Unlock()
		http.Error(w, "no event seq in the body", http.StatusBadRequest)
		return
	}
	seq := p.Data.Seq
	if prev, ok := rc.ids[id]; !ok {
		rc.ids[id] = seq
	} else if prev != seq {
		rc.idConflicts++
	}
	if prev, ok := rc.failedAt[id]; ok {
		rc.retryGaps = append(rc.retryGaps, at.Sub(prev))
		delete(rc.failedAt, id)
	}
	fail := rc.failRate > 0 && rc.rng.Float64() < rc.failRate
	if fail {
		rc.failed++
		rc.failedAt[id] = at
	} else {
		k := benchDeliveryKey{ep, seq}
		a := rc.got[k]
		if a == nil {
			a = &benchArrival{first: at}
			rc.got[k] = a
		}
		a.n++
	}
	rc.mu.Unlock()
	if fail {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// deliveredOf counts the (endpoint, seq) pairs among seqs × endpoints
// answered 2xx at least once.
func (rc *benchReceiver) deliveredOf(seqs []int64, endpoints int) int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	n := 0
	for _, s := range seqs {
		for ep := range endpoints {
			if _, ok := rc.got[benchDeliveryKey{ep, s}]; ok {
				n++
			}
		}
	}
	return n
}

func (b *benchWebhooks) printHeader() {
	if b.text == nil {
		return
	}
	r := b.rep
	fmt.Fprintf(b.text, "slotline-bench webhooks — %s, %d CPUs, %s, %d endpoint(s), %d River workers, %d committers\n",
		r.Database, r.CPUs, r.GoVersion, r.Endpoints, r.Workers, r.Committers)
}

func (b *benchWebhooks) printFloor() {
	if b.text == nil {
		return
	}
	f := b.rep.Floor
	fmt.Fprintf(b.text, "%-8s %-38s %8s /s    %s  (%d B bodies)\n", "floor",
		fmt.Sprintf("loopback POST → 204, %d conns", f.Concurrency), benchCommas(int64(f.Full.PerSec)), benchLatency(&f.Full), f.BodyBytes)
	b.printFailures(&f.Full)
	if p := f.PerEndpoint; p != nil {
		fmt.Fprintf(b.text, "%-8s %-38s %8s /s    %s\n", "floor",
			fmt.Sprintf("loopback POST → 204, %d conn(s)", f.PerEndpointConcurrency), benchCommas(int64(p.PerSec)), benchLatency(p))
		b.printFailures(p)
	}
}

func (b *benchWebhooks) printFailures(f *benchRateFigures) {
	(&bench{runOf[benchOptions, benchReport]{text: b.text}}).printFailures(f)
}

func (b *benchWebhooks) printDeliver() {
	if b.text == nil {
		return
	}
	d := b.rep.Deliver
	line := fmt.Sprintf("%-8s %-38s %8s /s    commit→arrival p50 %.1f ms  p99 %.1f ms  max %.1f ms", "deliver",
		fmt.Sprintf("%s events → %d endpoint(s)", benchCommas(int64(d.Events)), b.rep.Endpoints), benchCommas(int64(d.PerSec)),
		d.P50Ms, d.P99Ms, d.MaxMs)
	b.printRate(line, d.FloorRatio, d.EndpointRate, d.TargetPerSec, d.Pass, &d.benchWebhooksDelivery)
}

func (b *benchWebhooks) printDrain() {
	if b.text == nil {
		return
	}
	d := b.rep.Drain
	line := fmt.Sprintf("%-8s %-38s %8s /s    in %.1f s", "drain",
		fmt.Sprintf("%s queued → %d endpoint(s)", benchCommas(int64(d.Events)), b.rep.Endpoints), benchCommas(int64(d.PerSec)), d.ElapsedSec)
	b.printRate(line, d.FloorRatio, d.EndpointRate, d.TargetPerSec, d.Pass, &d.benchWebhooksDelivery)
}

// printRate ends a rate line with its ratios to the floor and its verdict,
// then prints the phase's delivery line.
func (b *benchWebhooks) printRate(line string, full, perEndpoint *float64, target float64, pass bool, d *benchWebhooksDelivery) {
	if full != nil {
		line += fmt.Sprintf("  %.3f× floor", *full)
	}
	if perEndpoint != nil {
		line += fmt.Sprintf(" (%.3f× the per-endpoint floor)", *perEndpoint)
	}
	line += fmt.Sprintf("  (target ≥ %s/s) %s", benchCommas(int64(target)), benchVerdict(pass))
	fmt.Fprintln(b.text, line)
	b.printDelivery(d)
}

func (b *benchWebhooks) printLoss() {
	if b.text == nil {
		return
	}
	l := b.rep.Loss
	fmt.Fprintf(b.text, "%-8s %-38s delivered %s of %s  lost %s  duplicates %s  in %.1f s  %s\n", "loss",
		fmt.Sprintf("%s events, %.0f%% of requests fail", benchCommas(int64(l.Events)), 100*l.FailRate),
		benchCommas(int64(l.Delivered)), benchCommas(int64(l.Deliveries)), benchCommas(int64(l.Lost)),
		benchCommas(int64(l.Duplicates)), l.ElapsedSec, benchVerdict(l.Pass))
	b.printDelivery(&l.benchWebhooksDelivery)
	fmt.Fprintf(b.text, "%-8s %s retries, 500 → retry p50 %.0f ms  p99 %.0f ms  max %.0f ms (schedule's waits: 10 ms … 1 s)\n", "",
		benchCommas(int64(l.Retries)), l.RetryGapP50Ms, l.RetryGapP99Ms, l.RetryGapMaxMs)
}

// printDelivery prints a phase's second line: how the events were
// committed and what the receiver and the store saw.
func (b *benchWebhooks) printDelivery(d *benchWebhooksDelivery) {
	line := fmt.Sprintf("%-8s committed at %s/s; %s requests (%s answered 500); delivered %s, lost %s, duplicates %s",
		"", benchCommas(int64(d.CommitPerSec)), benchCommas(int64(d.Requests)), benchCommas(int64(d.Failed)),
		benchCommas(int64(d.Delivered)), benchCommas(int64(d.Lost)), benchCommas(int64(d.Duplicates)))
	if !d.Complete {
		line += "; INCOMPLETE at the timeout"
	}
	if d.StorePending > 0 || d.StoreFailed > 0 {
		line += fmt.Sprintf("; store: %d pending, %d failed", d.StorePending, d.StoreFailed)
	}
	if d.Unreadable > 0 || d.IDConflicts > 0 {
		line += fmt.Sprintf("; %d unreadable bodies, %d webhook-ids reused for another event", d.Unreadable, d.IDConflicts)
	}
	fmt.Fprintln(b.text, line)
	if j, ok := d.Jobs["webhook_deliver"]; ok {
		states := make([]string, 0, len(j.States))
		for s, n := range j.States {
			states = append(states, fmt.Sprintf("%s %s", benchCommas(int64(n)), s))
		}
		sort.Strings(states)
		fmt.Fprintf(b.text, "%-8s River webhook_deliver jobs: %s; %s snoozes\n", "", strings.Join(states, ", "), benchCommas(int64(j.Snoozes)))
	}
}
