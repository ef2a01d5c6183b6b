package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.yaml.in/yaml/v3"
	"golang.org/x/sync/errgroup"
	_ "modernc.org/sqlite" // database/sql driver "sqlite", for the floor

	"github.com/slotline/slotline/internal/app"
	"github.com/slotline/slotline/internal/config"
	"github.com/slotline/slotline/internal/genesys/gcsim"
	"github.com/slotline/slotline/internal/reservation"
	"github.com/slotline/slotline/internal/storage"
	"github.com/slotline/slotline/internal/streamclient"
)

// What the bench measures against, and how it loads the system.
const (
	benchAllPhases = "floor,store,admission,admission-http,processes,http,memory"

	benchTargetStoreRatio = 0.35 // store admissions/s as a fraction of the floor's tx/s
	benchTargetHTTPRate   = 2500 // POST /api/v2/callbacks per second, on SQLite
	benchTargetHTTPP99    = 25 * time.Millisecond
	benchTargetRSSMiB     = 60
	benchMemorySettle     = 5 * time.Second // quiet before the memory phase reads the RSS it judges

	benchFloorWriters  = 8
	benchFloorValue    = "a single-row insert of about the size of a short text column"
	benchStoreBuckets  = 2000
	benchStoreCap      = 100_000 // per bucket: the store phase must never be refused
	benchHTTPBuckets   = 29 * 24 * 4
	benchQueueCapacity = 50
	benchSlot          = 15 * time.Minute

	benchClientID = "bench"
	benchQueueID  = "bench"
	benchTimeZone = "America/New_York"
)

// benchAdmitCmd runs "slotline-bench admit": admissions per second through
// the store and through the HTTP API, each printed with its ratio to a
// floor measured in the same run, and the server's memory after many
// reservations.
func benchAdmitCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	opts, err := parseBenchFlags(args, stderr)
	if err != nil {
		return err
	}
	return runBenchCommand(ctx, getenv, stdout, opts.db, opts.cpuProfile, opts.json, func(dbs *benchDBs, text io.Writer) (func(context.Context) error, any) {
		b := &bench{runOf[benchOptions, benchReport]{opts: opts, dbs: dbs, text: text, progress: stderr, rep: &benchReport{
			benchEnv:    newBenchEnv(dbs),
			DurationSec: opts.duration.Seconds(), Clients: opts.clients, InProcessServer: opts.cpuProfile != "" || opts.memProfile != "",
		}}}
		return b.run, b.rep
	})
}

// runBenchCommand is what every bench command does around its run: the
// optional CPU profile, the databases, and the output (a table written to
// text as the run goes, or one JSON object of the report at the end).
// start builds the run once the databases are open.
func runBenchCommand(ctx context.Context, getenv func(string) string, stdout io.Writer, db, cpuProfile string, asJSON bool,
	start func(dbs *benchDBs, text io.Writer) (run func(context.Context) error, report any)) error {
	if cpuProfile != "" {
		stop, err := startCPUProfile(cpuProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	dbs, err := openBenchDBs(ctx, db, getenv("TMPDIR"))
	if err != nil {
		return err
	}
	var text io.Writer
	if !asJSON {
		text = stdout
	}
	run, report := start(dbs, text)
	if err := errors.Join(run(ctx), dbs.close(ctx)); err != nil {
		return err
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(report)
	}
	return nil
}

// benchOptions are the command's flags.
type benchOptions struct {
	commonFlags
	duration     time.Duration
	clients      int
	rounds       int
	reservations int
	subscribers  int
	processes    int
	// perProcess gives each serve process of the processes phase --clients
	// clients of its own (the load grows with the processes).
	perProcess bool
	// processCPUs, when positive, limits each serve process of the
	// processes phase to that many CPUs (bench_cgroup.go).
	processCPUs float64
	serverBin   string
	cpuProfile  string
	memProfile  string
}

func parseBenchFlags(args []string, stderr io.Writer) (*benchOptions, error) {
	o := &benchOptions{}
	fs := flag.NewFlagSet("admit", flag.ContinueOnError)
	o.commonFlags.register(fs, benchAllPhases)
	fs.DurationVar(&o.duration, "duration", 5*time.Second, "how long each timed phase runs")
	fs.IntVar(&o.clients, "clients", 16, "concurrent clients of the store and http phases")
	fs.IntVar(&o.rounds, "rounds", 1, "rounds of the admission phases (each runs rules off then on) and of the processes phase (each runs 1, 2, … N processes), on fresh databases; the figure is the median round's ratio (on a busy machine, more rounds)")
	fs.IntVar(&o.reservations, "reservations", 100_000, "reservations the server holds when the memory phase reads its RSS")
	fs.IntVar(&o.subscribers, "subscribers", 1, "event-stream subscribers following (and acking) every event during the memory phase")
	fs.IntVar(&o.processes, "processes", 3, "the processes phase (PostgreSQL) runs 1, 2, … `N` serve processes on one database, the clients split between them")
	fs.BoolVar(&o.perProcess, "clients-per-process", false, "the processes phase gives each serve process --clients clients of its own, so that the load grows with the processes (default: the --clients split between them)")
	fs.Float64Var(&o.processCPUs, "process-cpus", 0, "the processes phase runs each serve process in a cgroup of its own limited to `F` CPUs, as a container's CPU limit does, so that the processes rather than the machine's cores bound the servers (Linux, as root; 0: no limit)")
	fs.StringVar(&o.serverBin, "server-bin", "", "slotline `binary` to run as the server (default: this executable, as slotline-bench serve)")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile to `file`; the server then runs in this process so the profile covers it")
	fs.StringVar(&o.memProfile, "memprofile", "", "write a heap profile to `file` after the memory phase; the server then runs in this process")
	hideFlags(fs, "cpuprofile", "memprofile")
	if err := app.ParseFlags(fs, args, stderr); err != nil {
		return nil, err
	}
	return o, o.validate()
}

func (o *benchOptions) validate() error {
	switch {
	case o.duration <= 0:
		return app.UsageError("--duration must be positive")
	case o.clients < 1:
		return app.UsageError("--clients must be at least 1")
	case o.reservations < 0:
		return app.UsageError("--reservations must not be negative")
	case o.subscribers < 0:
		return app.UsageError("--subscribers must not be negative")
	case o.processes < 1 || o.processes > 8:
		return app.UsageError("--processes must be from 1 to 8")
	case o.processCPUs < 0:
		return app.UsageError("--process-cpus must not be negative")
	case o.processCPUs > 0 && (o.cpuProfile != "" || o.memProfile != ""):
		return app.UsageError("--process-cpus limits serve processes of their own: not with --cpuprofile or --memprofile, which run the server in this process")
	}
	return o.commonFlags.check(benchAllPhases)
}

func isPostgresDSN(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// hideFlags leaves the named flags out of fs's usage message.
func hideFlags(fs *flag.FlagSet, names ...string) {
	fs.Usage = func() {
		shown := flag.NewFlagSet(fs.Name(), flag.ContinueOnError)
		shown.SetOutput(fs.Output())
		fs.VisitAll(func(f *flag.Flag) {
			if !slices.Contains(names, f.Name) {
				shown.Var(f.Value, f.Name, f.Usage)
				shown.Lookup(f.Name).DefValue = f.DefValue
			}
		})
		fmt.Fprintf(fs.Output(), "Usage of slotline-bench %s:\n", fs.Name())
		shown.PrintDefaults()
	}
}

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("heap profile: %w", err)
	}
	runtime.GC()
	return errors.Join(pprof.WriteHeapProfile(f), f.Close())
}

func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// bench is one run of the command.
type bench struct {
	runOf[benchOptions, benchReport]
}

func (b *bench) run(ctx context.Context) error {
	b.printHeader()
	if err := runPhases(ctx, b.opts.phases, phase{"floor", b.runFloor}, phase{"store", b.runStore},
		phase{"admission", b.runAdmission}, phase{"admission-http", b.runAdmissionHTTP}, phase{"processes", b.runProcesses}); err != nil {
		return err
	}
	if b.opts.phases["http"] || b.opts.phases["memory"] {
		return b.runServerPhases(ctx)
	}
	return nil
}

// runFloor measures single-row insert transactions on the same backend,
// opened with the same settings as the store, then the group-commit floor:
// the same single-row inserts from as many clients as the store phase
// has, committed together as the store's writer commits its writes
// (bench_floors.go).
func (b *bench) runFloor(ctx context.Context) error {
	dsn, err := b.dbs.fresh(ctx, "floor")
	if err != nil {
		return err
	}
	insert, closeDB, err := benchFloorOp(ctx, dsn)
	if err != nil {
		return err
	}
	defer closeDB()
	fmt.Fprintf(b.progress, "floor: %d writers, %s…\n", benchFloorWriters, b.opts.duration)
	res, err := benchLoad(ctx, benchFloorWriters, benchDuring(b.opts.duration), insert)
	if err != nil {
		return err
	}
	b.rep.Floor = res.figures()

	gdsn, err := b.dbs.fresh(ctx, "group-floor")
	if err != nil {
		return err
	}
	g, err := startBenchGroupFloor(ctx, gdsn)
	if err != nil {
		return err
	}
	defer g.stop()
	fmt.Fprintf(b.progress, "group-commit floor: %d clients, %s…\n", b.opts.clients, b.opts.duration)
	gres, err := benchLoad(ctx, b.opts.clients, benchDuring(b.opts.duration), g.insert)
	if err != nil {
		return err
	}
	gf := &benchGroupFloorFigures{benchRateFigures: *gres.figures(), Clients: b.opts.clients, MaxRows: benchGroupMax, Commits: g.commits.Load()}
	if gf.Commits > 0 {
		gf.RowsPerCommit = float64(g.rows.Load()) / float64(gf.Commits)
	}
	b.rep.GroupFloor = gf
	b.printFloor()
	return nil
}

// runStore measures admissions through storage.Store.CreateReservation.
func (b *bench) runStore(ctx context.Context) error {
	dsn, err := b.dbs.fresh(ctx, "store")
	if err != nil {
		return err
	}
	st, err := openBenchStore(ctx, dsn)
	if err != nil {
		return err
	}
	defer st.Close()
	grid := newBenchGrid(time.Now(), benchStoreBuckets)
	prefix := benchRandomHex(4)
	var n atomic.Int64
	fmt.Fprintf(b.progress, "store: %d clients, %s…\n", b.opts.clients, b.opts.duration)
	res, err := benchLoad(ctx, b.opts.clients, benchDuring(b.opts.duration), func(ctx context.Context) error {
		r, cands, w := benchStoreRequest(prefix, n.Add(1), grid)
		_, err := st.CreateReservation(ctx, r, cands, w)
		if errors.Is(err, reservation.ErrFull) {
			return &benchFailure{"full", err.Error()}
		}
		return err
	})
	if err != nil {
		return err
	}
	b.rep.Store = &benchStoreFigures{benchRateFigures: *res.figures(), TargetFloorRatio: benchTargetStoreRatio}
	if b.rep.Store.SyncJobs, err = st.syncJobs(ctx); err != nil {
		return err
	}
	if f := b.rep.Floor; f != nil && f.PerSec > 0 {
		ratio := b.rep.Store.PerSec / f.PerSec
		pass := ratio >= benchTargetStoreRatio
		b.rep.Store.FloorRatio, b.rep.Store.Pass = &ratio, &pass
	}
	if g := b.rep.GroupFloor; g != nil && g.PerSec > 0 {
		ratio := b.rep.Store.PerSec / g.PerSec
		b.rep.Store.GroupFloorRatio = &ratio
	}
	b.printStore()
	return nil
}

// benchStoreRequest is what the booking layer hands the store for the n-th
// reservation of a run: one candidate, a callback id and its idempotency
// record.
func benchStoreRequest(prefix string, n int64, grid benchGrid) (*reservation.Reservation, []reservation.Candidate, reservation.Write) {
	slot := grid.slot(n)
	callbackID := fmt.Sprintf("%s-%d", prefix, n)
	r := &reservation.Reservation{
		ClientID:       benchClientID,
		CallbackID:     callbackID,
		QueueID:        benchQueueID,
		TimeZone:       benchTimeZone,
		CallbackNumber: benchPhone(n),
		CustomerName:   fmt.Sprintf("Bench Customer %d", n),
		Candidates:     []reservation.Slot{slot},
		Channel:        reservation.ChannelPreferences{Primary: "voice", Fallback: "sms", AllowSMS: true},
		Reason:         "Technical support escalation",
	}
	hash := sha256.Sum256([]byte(callbackID))
	w := reservation.Write{
		Actor: benchClientID, Origin: reservation.OriginAPI, RequestID: fmt.Sprintf("%016x", n), Now: time.Now(),
		Idempotency: &reservation.Idempotency{
			Key: "callback_id:" + callbackID, Method: "POST", Target: "/api/v2/callbacks",
			RequestHash: hex.EncodeToString(hash[:]), Status: http.StatusCreated,
		},
	}
	return r, []reservation.Candidate{{Slot: slot, Bucket: slot.Start, Cap: benchStoreCap}}, w
}

// runServerPhases starts a server on a fresh database and runs the http
// and memory phases against it.
func (b *bench) runServerPhases(ctx context.Context) (err error) {
	dsn, err := b.dbs.fresh(ctx, "http")
	if err != nil {
		return err
	}
	// The server syncs to a Genesys simulator run here, as it would to a
	// real org: at its default rate limit, over HTTP, from another process.
	// (With no Genesys configured it would run the simulator in-process at
	// full speed, and count the simulator's memory as its own.)
	gs, err := startBenchServerSim(b.dbs.dir, benchCapacityFor(b.opts.reservations))
	if gs != nil {
		defer gs.sim.Close()
	}
	if err != nil {
		return err
	}
	secret, cfgPath := gs.secret, gs.config
	hc := newBenchHTTPClient(4 * b.opts.clients)
	srv, err := b.startServer(ctx, hc, cfgPath, dsn)
	if err != nil {
		return err
	}
	defer func() {
		hc.CloseIdleConnections()
		err = errors.Join(err, srv.stop())
	}()
	api := &benchAPI{hc: hc, base: srv.base, run: benchRandomHex(4), grid: newBenchGrid(time.Now(), benchHTTPBuckets)}
	if err := api.fetchToken(ctx, benchClientID, secret); err != nil {
		return err
	}
	if b.opts.phases["http"] {
		if err := b.runHTTP(ctx, api, srv); err != nil {
			return fmt.Errorf("http phase: %w", err)
		}
	}
	if b.opts.phases["memory"] {
		if err := b.runMemory(ctx, srv, api); err != nil {
			return fmt.Errorf("memory phase: %w", err)
		}
	}
	if n := srv.log.count(); n > 0 {
		b.rep.ServerLogLines = n
		fmt.Fprintf(b.progress, "the server logged %d lines at level warn or above%s\n", n, srv.log.tail())
	}
	return nil
}

func (b *bench) startServer(ctx context.Context, hc *http.Client, cfgPath, dsn string) (*benchServer, error) {
	addr, err := benchFreeAddr()
	if err != nil {
		return nil, err
	}
	// The flags beat SLOTLINE_DB and SLOTLINE_ADDR in the environment.
	args := []string{"--config", cfgPath, "--db", dsn, "--addr", addr}
	if b.rep.InProcessServer {
		return startInProcessServer(ctx, hc, args)
	}
	bin := b.opts.serverBin
	if bin == "" {
		if bin, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("find the slotline binary: %w", err)
		}
	}
	return startChildServer(ctx, hc, bin, args)
}

// runHTTP measures the trivial server's floor (the same creates, over
// the same loopback from the same clients, to a handler that only reads
// and answers), GET /healthz and then POST /api/v2/callbacks, with the
// same clients for the same time.
func (b *bench) runHTTP(ctx context.Context, api *benchAPI, srv *benchServer) error {
	ts, err := startBenchTrivialServer(ctx, api.hc)
	if err != nil {
		return err
	}
	trivialAPI := &benchAPI{hc: api.hc, base: ts.base, token: api.token, run: benchRandomHex(4), grid: api.grid}
	fmt.Fprintf(b.progress, "http: trivial server floor, %d clients, %s…\n", b.opts.clients, b.opts.duration)
	var trivialCPU time.Duration
	trivial, err := benchLoad(ctx, b.opts.clients, benchDuring(b.opts.duration), trivialAPI.create)
	if err == nil {
		trivialCPU, err = benchCPUOf(ts.pid)
	}
	if err = errors.Join(err, ts.stop()); err != nil {
		return err
	}
	fmt.Fprintf(b.progress, "http: GET /healthz, %d clients, %s…\n", b.opts.clients, b.opts.duration)
	health, err := benchLoad(ctx, b.opts.clients, benchDuring(b.opts.duration), api.health)
	if err != nil {
		return err
	}
	fmt.Fprintf(b.progress, "http: POST /api/v2/callbacks, %d clients, %s…\n", b.opts.clients, b.opts.duration)
	cpu0, err := benchCPUOf(srv.pid)
	if err != nil {
		return err
	}
	post, err := benchLoad(ctx, b.opts.clients, benchDuring(b.opts.duration), api.create)
	if err != nil {
		return err
	}
	cpu1, err := benchCPUOf(srv.pid)
	if err != nil {
		return err
	}
	h := &benchHTTPFigures{Post: *post.figures(), Health: *health.figures(), Trivial: *trivial.figures()}
	if h.Health.PerSec > 0 {
		h.PostGetRatio = h.Post.PerSec / h.Health.PerSec
	}
	if h.Trivial.PerSec > 0 {
		h.PostTrivialRatio = h.Post.PerSec / h.Trivial.PerSec
	}
	// The server's CPU per create; not when it runs in this process,
	// whose CPU is the load generator's too.
	if !b.rep.InProcessServer && h.Post.Count > 0 && h.Trivial.Count > 0 {
		h.PostCPUUs = float64((cpu1-cpu0)/time.Microsecond) / float64(h.Post.Count)
		h.TrivialCPUUs = float64(trivialCPU/time.Microsecond) / float64(h.Trivial.Count)
	}
	if b.dbs.backend == storage.SQLite {
		pass := h.Post.PerSec >= benchTargetHTTPRate && h.Post.P99Ms < ms(benchTargetHTTPP99)
		h.TargetPerSec, h.TargetP99Ms, h.Pass = benchTargetHTTPRate, ms(benchTargetHTTPP99), &pass
	}
	b.rep.HTTP = h
	b.printHTTP()
	return nil
}

// runMemory books reservations until the server's database holds
// --reservations, then reads the server's resident memory.
func (b *bench) runMemory(ctx context.Context, srv *benchServer, api *benchAPI) error {
	need := int64(b.opts.reservations) - api.created.Load()
	workers := 4 * b.opts.clients
	fmt.Fprintf(b.progress, "memory: booking %s more reservations with %d clients, %d stream subscribers…\n",
		benchCommas(max(need, 0)), workers, b.opts.subscribers)
	subs, err := startBenchSubscribers(ctx, api, b.opts.subscribers)
	if err != nil {
		return err
	}
	fill, err := benchLoad(ctx, workers, benchUpTo(need), api.create)
	if err != nil {
		return errors.Join(err, subs.stop())
	}
	// The resident set right after the burst still holds heap the Go
	// runtime returns to the system within seconds; the figure judged is
	// the one after benchMemorySettle of quiet (with the subscriber still
	// connected), and both are reported.
	busy, _, err := benchMemoryOf(srv.pid)
	if err != nil {
		return errors.Join(err, subs.stop())
	}
	select {
	case <-ctx.Done():
		return errors.Join(ctx.Err(), subs.stop())
	case <-time.After(benchMemorySettle):
	}
	rss, peak, err := benchMemoryOf(srv.pid)
	if err = errors.Join(err, subs.stop()); err != nil {
		return err
	}
	if b.opts.memProfile != "" {
		if err := writeHeapProfile(b.opts.memProfile); err != nil {
			return err
		}
	}
	m := &benchMemoryFigures{
		Reservations: int(api.created.Load()), RSSMiB: rss, BusyRSSMiB: busy, PeakMiB: peak, Fill: fill.figures(),
		Subscribers: b.opts.subscribers, StreamEvents: subs.events.Load(),
	}
	if !b.rep.InProcessServer {
		pass := rss < benchTargetRSSMiB
		m.TargetMiB, m.Pass = benchTargetRSSMiB, &pass
	}
	b.rep.Memory = m
	b.printMemory()
	return nil
}

// benchSubscribers follow the server's event stream during the memory
// phase, as a calendar sync or a CRM would: the server then keeps its ring
// of recent events, which a server nobody subscribes to does not.
type benchSubscribers struct {
	cancel context.CancelFunc
	g      *errgroup.Group
	events atomic.Int64
}

func startBenchSubscribers(ctx context.Context, api *benchAPI, n int) (*benchSubscribers, error) {
	ctx, cancel := context.WithCancel(ctx)
	g, gctx := errgroup.WithContext(ctx)
	s := &benchSubscribers{cancel: cancel, g: g}
	for range n {
		c, err := streamclient.Dial(ctx, streamclient.Options{
			URL: api.base, After: -1, HTTPClient: api.hc,
			Token: func(context.Context) (string, error) { return api.token, nil },
		})
		if err != nil {
			cancel()
			return nil, errors.Join(fmt.Errorf("subscribe to the event stream: %w", err), g.Wait())
		}
		g.Go(func() error {
			defer c.Close()
			for got := 1; ; {
				m, err := c.Next(gctx)
				if err != nil {
					if gctx.Err() != nil {
						return nil
					}
					return fmt.Errorf("event stream: %w", err)
				}
				if m.Event == nil {
					continue
				}
				s.events.Add(1)
				// Each connection acks every 50 of its own events, well
				// inside the server's window.
				if got++; got%50 == 0 {
					if err := c.AckUpTo(gctx, m.Event.Seq); err != nil && gctx.Err() == nil {
						return fmt.Errorf("event stream ack: %w", err)
					}
				}
			}
		})
	}
	return s, nil
}

// stop closes the subscriptions and returns the first failure of one.
func (s *benchSubscribers) stop() error {
	s.cancel()
	return s.g.Wait()
}

// benchCPUOf reads a process's CPU time so far, user and system, all
// threads (/proc/PID/stat, in the kernel's USER_HZ ticks: benchClockTicks
// a second).
func benchCPUOf(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("read the CPU time of process %d: %w", pid, err)
	}
	// The command name, in parentheses, may hold spaces: the fields
	// counted are those after it (utime and stime are the 14th and 15th).
	rest := string(data)
	if i := strings.LastIndexByte(rest, ')'); i >= 0 {
		rest = rest[i+1:]
	}
	f := strings.Fields(rest)
	if len(f) < 13 {
		return 0, fmt.Errorf("read the CPU time of process %d: short /proc/%d/stat", pid, pid)
	}
	var ticks int64
	for _, v := range f[11:13] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("read the CPU time of process %d: %q", pid, v)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / benchClockTicks, nil
}

// benchMemoryOf reads a process's resident set size and its peak, in MiB.
func benchMemoryOf(pid int) (rss, peak float64, err error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, fmt.Errorf("read the server's memory: %w", err)
	}
	found := 0
	for line := range strings.Lines(string(data)) {
		key, val, _ := strings.Cut(line, ":")
		var dst *float64
		switch key {
		case "VmRSS":
			dst = &rss
		case "VmHWM":
			dst = &peak
		default:
			continue
		}
		kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(val), " kB"), 64)
		if err != nil {
			return 0, 0, fmt.Errorf("read the server's memory: %s: %q", key, val)
		}
		*dst = kb / 1024
		found++
	}
	if found != 2 {
		return 0, 0, fmt.Errorf("read the server's memory: no VmRSS and VmHWM in /proc/%d/status", pid)
	}
	return rss, peak, nil
}

// benchCapacityFor returns the bench queue's capacity per slot: 50, or
// enough that n reservations spread over the grid fill no bucket.
func benchCapacityFor(n int) int {
	return max(benchQueueCapacity, int(math.Ceil(float64(n)*1.25/benchHTTPBuckets)))
}

// benchServerConfig is the server's configuration file, in config's YAML.
type benchServerConfig struct {
	Log      map[string]string `yaml:"log"`
	HTTP     map[string]any    `yaml:"http"`
	Stream   map[string]any    `yaml:"stream"`
	TokenTTL string            `yaml:"token_ttl"`
	Clients  []map[string]any  `yaml:"clients"`
	Genesys  map[string]any    `yaml:"genesys"`
	Queues   []map[string]any  `yaml:"queues"`
}

// writeBenchServerConfig writes the server's config file and its secrets
// to dir: live mode against the simulator at simURL (at the default rate
// limit unless genesys says otherwise: its keys are added to the genesys
// block), one 24/7 queue of capacity per slot, log level warn so that
// requests are not logged, and no caps on connections or on the one
// client's stream subscriptions (the bench sets the load it wants).
// benchServerSim is a Genesys simulator run in the bench's process for a
// server the bench starts as another process (so that the simulator's
// memory and CPU are not counted as the server's), with the server's
// configuration.
type benchServerSim struct {
	sim    *gcsim.Sim
	url    string // the simulator's base URL
	secret string // the server's API client secret
	config string // the server's configuration file
}

// startBenchServerSim starts a simulator on loopback, on the real clock,
// and writes into dir the configuration of a server that syncs to it, its
// queue with capacity per slot and the keys of queue. The caller closes
// the simulator, also when it returns an error with it.
func startBenchServerSim(dir string, capacity int, queue ...map[string]any) (*benchServerSim, error) {
	sim := gcsim.New(gcsim.Options{Clock: gcsim.NewClock(time.Now(), 1), Logger: slog.New(slog.DiscardHandler)})
	u, err := sim.Start("127.0.0.1:0")
	if err != nil {
		sim.Close()
		return nil, err
	}
	s := &benchServerSim{sim: sim, url: u, secret: benchRandomHex(16)}
	s.config, err = writeBenchServerConfig(dir, s.secret, u, capacity, nil, queue...)
	return s, err
}

func writeBenchServerConfig(dir, secret, simURL string, capacity int, genesys map[string]any, queue ...map[string]any) (string, error) {
	secretPath := filepath.Join(dir, "bench.secret")
	if err := os.WriteFile(secretPath, []byte(secret), 0o600); err != nil {
		return "", fmt.Errorf("write the server's secret: %w", err)
	}
	simSecretPath := filepath.Join(dir, "genesys.secret")
	if err := os.WriteFile(simSecretPath, []byte(gcsim.DefaultClientSecret), 0o600); err != nil {
		return "", fmt.Errorf("write the simulator's secret: %w", err)
	}
	g := map[string]any{"mode": "live", "api_url": simURL, "login_url": simURL,
		"client_id": gcsim.DefaultClientID, "client_secret_file": simSecretPath}
	maps.Copy(g, genesys)
	// The queue, with the keys of queue added (the admission rules).
	q := map[string]any{
		"id": benchQueueID, "genesys_queue_id": gcsim.DefaultQueueID, "timezone": benchTimeZone, "hours": "24/7",
		"slot_minutes": int(benchSlot / time.Minute), "capacity": capacity, "horizon": "30d",
	}
	for _, extra := range queue {
		maps.Copy(q, extra)
	}
	data, err := yaml.Marshal(benchServerConfig{
		Log:      map[string]string{"level": "warn", "format": "json"},
		HTTP:     map[string]any{"max_connections": 0},
		Stream:   map[string]any{"max_subscriptions_per_client": 0},
		TokenTTL: "24h",
		Clients:  []map[string]any{{"id": benchClientID, "secret_file": secretPath, "scopes": config.Scopes}},
		Genesys:  g,
		Queues:   []map[string]any{q},
	})
	if err != nil {
		return "", fmt.Errorf("encode the server's config: %w", err)
	}
	path := filepath.Join(dir, "bench.yaml")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return "", fmt.Errorf("write the server's config: %w", err)
	}
	return path, nil
}

// benchFreeAddr returns a loopback address whose port was free a moment
// ago. The server announces its address only at log level info, which the
// bench turns off, so the bench picks the port.
func benchFreeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	addr := ln.Addr().String()
	return addr, ln.Close()
}

// benchServer is a running slotline server: a child process, or (when
// profiling) serve running in this process.
type benchServer struct {
	base   string // http://127.0.0.1:PORT
	pid    int
	log    *benchTail
	cancel context.CancelFunc // stops it: SIGTERM for a child, then SIGKILL after 10 s
	done   chan struct{}      // closed when it has stopped
	err    error              // why it stopped; set before done is closed
}

func startChildServer(ctx context.Context, hc *http.Client, bin string, args []string) (*benchServer, error) {
	return startChildCommand(ctx, hc, bin, "serve", args)
}

// startChildCommand runs "bin command args…" as a server that answers
// GET /healthz on args' --addr.
func startChildCommand(ctx context.Context, hc *http.Client, bin, command string, args []string) (*benchServer, error) {
	sctx, cancel := context.WithCancel(ctx)
	cmd := exec.CommandContext(sctx, bin, append([]string{command}, args...)...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	s := &benchServer{log: &benchTail{}, cancel: cancel, done: make(chan struct{})}
	cmd.Stderr = s.log
	if err := cmd.Start(); err != nil {
		cancel()
		return nil, fmt.Errorf("start the server %s: %w", bin, err)
	}
	s.pid = cmd.Process.Pid
	go func() {
		defer close(s.done)
		err := cmd.Wait()
		if cmd.ProcessState == nil || !cmd.ProcessState.Success() {
			s.err = fmt.Errorf("server exited: %w", err)
		}
	}()
	return s.ready(ctx, hc, args)
}

func startInProcessServer(ctx context.Context, hc *http.Client, args []string) (*benchServer, error) {
	sctx, cancel := context.WithCancel(ctx)
	s := &benchServer{pid: os.Getpid(), log: &benchTail{}, cancel: cancel, done: make(chan struct{})}
	noEnv := func(string) string { return "" }
	go func() {
		defer close(s.done)
		s.err = app.Serve(sctx, args, noEnv, io.Discard, s.log)
	}()
	return s.ready(ctx, hc, args)
}

// ready waits until the server answers /healthz; on failure it stops it.
func (s *benchServer) ready(ctx context.Context, hc *http.Client, args []string) (*benchServer, error) {
	s.base = "http://" + args[slices.Index(args, "--addr")+1]
	if err := s.waitHealthy(ctx, hc); err != nil {
		s.cancel()
		<-s.done
		return nil, err
	}
	return s, nil
}

func (s *benchServer) waitHealthy(ctx context.Context, hc *http.Client) error {
	timeout := time.NewTimer(time.Minute)
	defer timeout.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		rctx, cancel := context.WithTimeout(ctx, time.Second)
		err := benchGet(rctx, hc, s.base+"/healthz")
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.done:
			return fmt.Errorf("the server stopped before it was ready: %v%s", s.err, s.log.tail())
		case <-timeout.C:
			return fmt.Errorf("the server was not ready after a minute: %v%s", err, s.log.tail())
		case <-tick.C:
		}
	}
}

// stop stops the server and waits until it has.
func (s *benchServer) stop() error {
	s.cancel()
	<-s.done
	if s.err != nil {
		return fmt.Errorf("%w%s", s.err, s.log.tail())
	}
	return nil
}

// benchTail keeps the last lines of the server's log, for error messages.
type benchTail struct {
	mu    sync.Mutex
	lines []string
	part  []byte
	total int
}

func (t *benchTail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.part = append(t.part, p...)
	for {
		line, rest, ok := bytes.Cut(t.part, []byte("\n"))
		if !ok {
			break
		}
		t.total++
		t.lines = append(t.lines, string(line))
		if len(t.lines) > 20 {
			t.lines = t.lines[1:]
		}
		t.part = append(t.part[:0], rest...)
	}
	return len(p), nil
}

// count returns how many lines have been written.
func (t *benchTail) count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.total
}

// tail returns the kept lines, indented under a heading, or "".
func (t *benchTail) tail() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.lines) == 0 {
		return ""
	}
	return "\nserver log (last lines):\n  " + strings.Join(t.lines, "\n  ")
}

func newBenchHTTPClient(conns int) *http.Client {
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			MaxIdleConns:        conns,
			MaxIdleConnsPerHost: conns,
			IdleConnTimeout:     time.Minute,
			DisableCompression:  true,
		},
	}
}

// benchAPI is the bench's client of the server's API.
type benchAPI struct {
	hc      *http.Client
	base    string
	token   string
	run     string // a random prefix of this run's callback ids
	grid    benchGrid
	next    atomic.Int64 // numbers the requests
	created atomic.Int64 // 201s so far
}

func (a *benchAPI) fetchToken(ctx context.Context, id, secret string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.base+"/oauth/token", strings.NewReader("grant_type=client_credentials"))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(id, secret)
	resp, err := a.hc.Do(req)
	if err != nil {
		return fmt.Errorf("get a token: %w", err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusOK || body.AccessToken == "" {
		return fmt.Errorf("get a token: status %d, %v", resp.StatusCode, err)
	}
	a.token = body.AccessToken
	return nil
}

// create books one reservation in the next bucket of the grid.
func (a *benchAPI) create(ctx context.Context) error {
	n := a.next.Add(1)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.base+"/api/v2/callbacks", bytes.NewReader(a.body(n)))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	req.Header.Set("Content-Type", "application/json")
	if err := benchDo(ctx, a.hc, req, http.StatusCreated); err != nil {
		return err
	}
	a.created.Add(1)
	return nil
}

func (a *benchAPI) body(n int64) []byte {
	s := a.grid.slot(n)
	return fmt.Appendf(nil, `{"callback_id":"%s-%d","callback_number":"%s","customer_name":"Bench Customer %d",`+
		`"time_slot_matrix":[{"start":"%s","end":"%s"}],"channel_preferences":{"primary":"voice","fallback":"sms","allow_sms":true},`+
		`"queue_id":"%s","reason":"Technical support escalation"}`,
		a.run, n, benchPhone(n), n, s.Start.Format(time.RFC3339), s.End.Format(time.RFC3339), benchQueueID)
}

func (a *benchAPI) health(ctx context.Context) error { return benchGet(ctx, a.hc, a.base+"/healthz") }

func benchGet(ctx context.Context, hc *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	return benchDo(ctx, hc, req, http.StatusOK)
}

// benchDo sends req and reads the whole response. Another status than want
// and a transport error are counted failures; ctx's end is an error.
func benchDo(ctx context.Context, hc *http.Client, req *http.Request, want int) error {
	resp, err := hc.Do(req)
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
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &benchFailure{"transport error", err.Error()}
	}
	return nil
}

// benchGrid is a run of 15-minute buckets, the first at least an hour
// from now; request n books bucket n mod size.
type benchGrid struct {
	first time.Time
	size  int64
}

func newBenchGrid(now time.Time, size int) benchGrid {
	return benchGrid{first: now.Add(time.Hour).Truncate(benchSlot).Add(benchSlot).UTC(), size: int64(size)}
}

func (g benchGrid) slot(n int64) reservation.Slot {
	start := g.first.Add(time.Duration(n%g.size) * benchSlot)
	return reservation.Slot{Start: start, End: start.Add(benchSlot)}
}

// benchPhone returns one of the 100 numbers +14155550100…+14155550199.
func benchPhone(n int64) string {
	// Every number of a run differs (up to 8 million), as real customers'
	// mostly do: a queue's duplicate rule then refuses none.
	return fmt.Sprintf("+1415%03d%04d", 200+(n/10000)%800, n%10000)
}

func benchRandomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}

// benchFloorOp opens the floor's database and returns its operation, one
// single-row insert transaction, and a function that closes the database.
func benchFloorOp(ctx context.Context, dsn string) (insert func(context.Context) error, closeDB func(), err error) {
	if isPostgresDSN(dsn) {
		return benchPostgresFloor(ctx, dsn)
	}
	return benchSQLiteFloor(ctx, strings.TrimPrefix(dsn, "sqlite:"))
}

// benchSQLiteFloor opens SQLite exactly as the storage package opens its
// writer (storage.SQLiteURL: WAL, busy_timeout, synchronous NORMAL, the
// same page size and checkpoint interval, BEGIN IMMEDIATE).
func benchSQLiteFloor(ctx context.Context, path string) (func(context.Context) error, func(), error) {
	db, err := sql.Open("sqlite", storage.SQLiteURL(path, ""))
	if err != nil {
		return nil, nil, err
	}
	db.SetMaxOpenConns(benchFloorWriters)
	db.SetMaxIdleConns(benchFloorWriters)
	if _, err := db.ExecContext(ctx, "CREATE TABLE bench_floor (id INTEGER PRIMARY KEY, v TEXT)"); err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("create the floor table: %w", err)
	}
	insert := func(ctx context.Context) error {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		if _, err := tx.ExecContext(ctx, "INSERT INTO bench_floor (v) VALUES (?)", benchFloorValue); err != nil {
			return err
		}
		return tx.Commit()
	}
	return insert, func() { db.Close() }, nil
}

func benchPostgresFloor(ctx context.Context, dsn string) (func(context.Context) error, func(), error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, nil, fmt.Errorf("database %s: %w", storage.RedactDSN(dsn), err)
	}
	cfg.MaxConns = benchFloorWriters
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("connect %s: %w", storage.RedactDSN(dsn), err)
	}
	if _, err := pool.Exec(ctx, "CREATE TABLE bench_floor (id BIGSERIAL PRIMARY KEY, v TEXT)"); err != nil {
		pool.Close()
		return nil, nil, fmt.Errorf("create the floor table: %w", err)
	}
	insert := func(ctx context.Context) error {
		return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, "INSERT INTO bench_floor (v) VALUES ($1)", benchFloorValue)
			return err
		})
	}
	return insert, pool.Close, nil
}

// benchDBs hands out fresh, empty databases on one backend, one per phase,
// and removes them all at the end.
type benchDBs struct {
	backend string   // storage.SQLite or storage.Postgres
	about   string   // for the report's header
	dir     string   // a temporary directory: SQLite files, the server's config
	pgURL   *url.URL // the PostgreSQL server, as given
	schemas []string // created on it
}

// openBenchDBs prepares databases on dsn ("" for SQLite in a temporary
// directory under tmpdir).
func openBenchDBs(ctx context.Context, dsn, tmpdir string) (*benchDBs, error) {
	b := &benchDBs{backend: storage.SQLite, about: "sqlite (synchronous=NORMAL)"}
	if path, ok := strings.CutPrefix(dsn, "sqlite:"); ok {
		file, _, _ := strings.Cut(path, "?")
		tmpdir = filepath.Dir(file)
	}
	if isPostgresDSN(dsn) {
		u, err := url.Parse(dsn)
		if err != nil {
			return nil, app.UsageError(fmt.Sprintf("--db: %v", err))
		}
		version, err := benchPostgresVersion(ctx, dsn)
		if err != nil {
			return nil, err
		}
		b.backend, b.pgURL = storage.Postgres, u
		b.about = fmt.Sprintf("postgres %s at %s", version, u.Host)
	}
	dir, err := os.MkdirTemp(tmpdir, "slotline-bench-")
	if err != nil {
		return nil, fmt.Errorf("make the bench's directory: %w", err)
	}
	b.dir = dir
	return b, nil
}

func benchPostgresVersion(ctx context.Context, dsn string) (string, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return "", fmt.Errorf("connect %s: %w", storage.RedactDSN(dsn), err)
	}
	defer conn.Close(ctx)
	var v string
	if err := conn.QueryRow(ctx, "SHOW server_version").Scan(&v); err != nil {
		return "", fmt.Errorf("postgres version: %w", err)
	}
	v, _, _ = strings.Cut(v, " ")
	return v, nil
}

// fresh returns the DSN of a new, empty database: a SQLite file, or a
// PostgreSQL schema named slotline_bench_<random> chosen by search_path.
func (b *benchDBs) fresh(ctx context.Context, name string) (string, error) {
	if b.backend == storage.SQLite {
		return "sqlite:" + filepath.Join(b.dir, name+".db"), nil
	}
	conn, err := pgx.Connect(ctx, b.pgURL.String())
	if err != nil {
		return "", fmt.Errorf("connect %s: %w", storage.RedactDSN(b.pgURL.String()), err)
	}
	defer conn.Close(ctx)
	schema := "slotline_bench_" + benchRandomHex(6)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil {
		return "", fmt.Errorf("create schema %s: %w", schema, err)
	}
	b.schemas = append(b.schemas, schema)
	u := *b.pgURL
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// close drops the schemas and removes the directory, even after ctx ends.
func (b *benchDBs) close(ctx context.Context) error {
	var errs []error
	if len(b.schemas) > 0 {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, b.pgURL.String())
		if err != nil {
			errs = append(errs, fmt.Errorf("drop schemas %s: %w", strings.Join(b.schemas, ", "), err))
		} else {
			for _, s := range b.schemas {
				if _, err := conn.Exec(ctx, "DROP SCHEMA "+pgx.Identifier{s}.Sanitize()+" CASCADE"); err != nil {
					errs = append(errs, fmt.Errorf("drop schema %s: %w", s, err))
				}
			}
			conn.Close(ctx)
		}
	}
	if err := os.RemoveAll(b.dir); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// benchFailure is an outcome that is counted, not fatal: an HTTP status
// other than the one wanted, a full bucket.
type benchFailure struct{ label, detail string }

func (f *benchFailure) Error() string { return f.label + ": " + f.detail }

// benchLoadResult is what one load run measured.
type benchLoadResult struct {
	ok       int
	failures map[string]int
	first    string          // the first failure, in full
	elapsed  time.Duration   // from the start until the last operation ended
	lat      []time.Duration // of the successes, sorted
}

// benchLoad runs op from the given number of goroutines for as long as
// more says so, timing every call. A *benchFailure is counted; any other
// error stops the run and is returned.
func benchLoad(ctx context.Context, workers int, more func() bool, op func(context.Context) error) (*benchLoadResult, error) {
	type tally struct {
		lat      []time.Duration
		failures map[string]int
		first    string
	}
	tallies := make([]tally, workers)
	g, gctx := errgroup.WithContext(ctx)
	start := time.Now()
	for i := range tallies {
		t := &tallies[i]
		t.failures = map[string]int{}
		g.Go(func() error {
			for more() {
				t0 := time.Now()
				err := op(gctx)
				d := time.Since(t0)
				var f *benchFailure
				switch {
				case err == nil:
					t.lat = append(t.lat, d)
				case errors.As(err, &f):
					t.failures[f.label]++
					if t.first == "" {
						t.first = f.Error()
					}
				default:
					return err
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	res := &benchLoadResult{elapsed: time.Since(start), failures: map[string]int{}}
	for _, t := range tallies {
		res.lat = append(res.lat, t.lat...)
		for k, v := range t.failures {
			res.failures[k] += v
		}
		if res.first == "" {
			res.first = t.first
		}
	}
	res.ok = len(res.lat)
	slices.Sort(res.lat)
	return res, nil
}

// benchDuring keeps a load running for d.
func benchDuring(d time.Duration) func() bool {
	deadline := time.Now().Add(d)
	return func() bool { return time.Now().Before(deadline) }
}

// benchUpTo lets a load run n operations in all.
func benchUpTo(n int64) func() bool {
	var claimed atomic.Int64
	return func() bool { return claimed.Add(1) <= n }
}

// benchPercentile returns the nearest-rank p-quantile (0 < p ≤ 1) of
// sorted durations, or 0 when there are none.
func benchPercentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func (r *benchLoadResult) figures() *benchRateFigures {
	f := &benchRateFigures{
		Count: r.ok, P50Ms: ms(benchPercentile(r.lat, 0.50)), P99Ms: ms(benchPercentile(r.lat, 0.99)),
		FirstFailure: r.first,
	}
	if r.elapsed > 0 {
		f.PerSec = float64(r.ok) / r.elapsed.Seconds()
	}
	if len(r.failures) > 0 {
		f.Failures = r.failures
	}
	return f
}

// benchReport is every figure of a run; --json prints it.
type benchReport struct {
	benchEnv
	DurationSec     float64             `json:"duration_s"`
	Clients         int                 `json:"clients"`
	InProcessServer bool                `json:"in_process_server,omitempty"`
	ServerLogLines  int                 `json:"server_log_lines,omitempty"` // at level warn or above
	Floor           *benchRateFigures   `json:"floor,omitempty"`
	Store           *benchStoreFigures  `json:"store,omitempty"`
	HTTP            *benchHTTPFigures   `json:"http,omitempty"`
	Memory          *benchMemoryFigures `json:"memory,omitempty"`
	// Admission is the admission phase (bench_admission.go), and
	// AdmissionHTTP the same through the API.
	Admission     *benchAdmissionFigures `json:"admission,omitempty"`
	AdmissionHTTP *benchAdmissionFigures `json:"admission_http,omitempty"`
	// Processes is the processes phase (bench_processes.go).
	Processes *benchProcessesFigures `json:"processes,omitempty"`
	// GroupFloor is the group-commit floor (bench_floors.go).
	GroupFloor *benchGroupFloorFigures `json:"group_floor,omitempty"`
}

// benchRateFigures are a load run's throughput and latency.
type benchRateFigures struct {
	Count        int            `json:"count"`
	PerSec       float64        `json:"per_s"`
	P50Ms        float64        `json:"p50_ms"`
	P99Ms        float64        `json:"p99_ms"`
	Failures     map[string]int `json:"failures,omitempty"`
	FirstFailure string         `json:"first_failure,omitempty"`
}

type benchStoreFigures struct {
	benchRateFigures
	// FloorRatio is to the one-row-per-transaction floor, which the
	// target was set against; GroupFloorRatio to the group-commit floor.
	// Both are nil without the floor phase.
	FloorRatio       *float64 `json:"floor_ratio,omitempty"`
	GroupFloorRatio  *float64 `json:"group_floor_ratio,omitempty"`
	TargetFloorRatio float64  `json:"target_floor_ratio"`
	Pass             *bool    `json:"pass,omitempty"`
	// SyncJobs is how many sync jobs the creates inserted (one each).
	SyncJobs int64 `json:"sync_jobs"`
}

// benchGroupFloorFigures are the group-commit floor's: rows per second
// from Clients clients, each row a single-row INSERT, committed MaxRows
// at most together; Commits transactions, RowsPerCommit rows in each on
// average.
type benchGroupFloorFigures struct {
	benchRateFigures
	Clients       int     `json:"clients"`
	MaxRows       int     `json:"max_rows_per_commit"`
	Commits       int64   `json:"commits"`
	RowsPerCommit float64 `json:"rows_per_commit"`
}

type benchHTTPFigures struct {
	Post         benchRateFigures `json:"post"`
	Health       benchRateFigures `json:"healthz"`
	PostGetRatio float64          `json:"post_get_ratio"`
	// Trivial is the trivial server's floor: the same POSTs answered by
	// a handler that reads the body and returns 201 (bench_floors.go).
	Trivial          benchRateFigures `json:"trivial"`
	PostTrivialRatio float64          `json:"post_trivial_ratio"`
	// PostCPUUs is the server process's CPU time (user and system)
	// during the POSTs ÷ the creates, in µs; TrivialCPUUs the trivial
	// server's over its whole life ÷ its POSTs. Both 0 when the server
	// runs in this process.
	PostCPUUs    float64 `json:"post_cpu_us,omitempty"`
	TrivialCPUUs float64 `json:"trivial_cpu_us,omitempty"`
	// The targets are for SQLite; on PostgreSQL they are absent.
	TargetPerSec float64 `json:"target_per_s,omitempty"`
	TargetP99Ms  float64 `json:"target_p99_ms,omitempty"`
	Pass         *bool   `json:"pass,omitempty"`
}

type benchMemoryFigures struct {
	Reservations int     `json:"reservations"`
	RSSMiB       float64 `json:"rss_mib"`      // after benchMemorySettle of quiet
	BusyRSSMiB   float64 `json:"busy_rss_mib"` // right after the last reservation
	PeakMiB      float64 `json:"peak_mib"`
	// Subscribers followed the event stream during the fill; they received
	// StreamEvents events in all.
	Subscribers  int   `json:"subscribers"`
	StreamEvents int64 `json:"stream_events"`
	// The target is absent when the server ran in this process.
	TargetMiB float64           `json:"target_mib,omitempty"`
	Pass      *bool             `json:"pass,omitempty"`
	Fill      *benchRateFigures `json:"fill"`
}

func (b *bench) printHeader() {
	if b.text == nil {
		return
	}
	r := b.rep
	fmt.Fprintf(b.text, "slotline-bench admit — %s, %d CPUs, %s, %s per phase, %d clients\n",
		r.Database, r.CPUs, r.GoVersion, b.opts.duration, r.Clients)
	if r.InProcessServer {
		fmt.Fprintln(b.text, "(profiling: the server runs in this process; its memory includes the bench's)")
	}
}

func (b *bench) printFloor() {
	if b.text == nil {
		return
	}
	f := b.rep.Floor
	fmt.Fprintf(b.text, "%-7s %-31s %8s tx/s  (%d writers, one row per transaction)\n", "floor", "single-row insert tx", benchCommas(int64(f.PerSec)), benchFloorWriters)
	b.printFailures(f)
	if g := b.rep.GroupFloor; g != nil {
		fmt.Fprintf(b.text, "%-7s %-31s %8s rows/s  (%d clients; single-row INSERTs, up to %d per group commit: %.1f on average, %s commits)\n",
			"floor", "group-commit inserts", benchCommas(int64(g.PerSec)), g.Clients, g.MaxRows, g.RowsPerCommit, benchCommas(g.Commits))
		b.printFailures(&g.benchRateFigures)
	}
}

func (b *bench) printStore() {
	if b.text == nil {
		return
	}
	s := b.rep.Store
	line := fmt.Sprintf("%-7s %-31s %8s /s    %s", "store", "admissions", benchCommas(int64(s.PerSec)), benchLatency(&s.benchRateFigures))
	if s.GroupFloorRatio != nil {
		line += fmt.Sprintf("  %.2f× group-commit floor (no target yet)", *s.GroupFloorRatio)
	}
	if s.FloorRatio != nil {
		line += fmt.Sprintf("  %.2f× one-row-tx floor (target ≥ %.2f, set against it) %s", *s.FloorRatio, s.TargetFloorRatio, benchVerdict(*s.Pass))
	}
	fmt.Fprintln(b.text, line)
	fmt.Fprintf(b.text, "%-7s %-31s %8s sync jobs inserted in the creates' transactions (serve's event hooks)\n", "store", "", benchCommas(s.SyncJobs))
	b.printFailures(&s.benchRateFigures)
}

func (b *bench) printHTTP() {
	if b.text == nil {
		return
	}
	h := b.rep.HTTP
	line := fmt.Sprintf("%-7s %-31s %8s /s    %s", "http", "POST /api/v2/callbacks", benchCommas(int64(h.Post.PerSec)), benchLatency(&h.Post))
	if h.Pass != nil {
		line += fmt.Sprintf("  (target ≥ %s/s, p99 < %g ms) %s", benchCommas(int64(h.TargetPerSec)), h.TargetP99Ms, benchVerdict(*h.Pass))
	}
	if h.PostCPUUs > 0 {
		line += fmt.Sprintf("  server CPU %.0f µs a create", h.PostCPUUs)
	}
	fmt.Fprintln(b.text, line)
	b.printFailures(&h.Post)
	fmt.Fprintf(b.text, "%-7s %-31s %8s /s    %s  POST/GET ratio %.2f\n", "http", "GET /healthz floor",
		benchCommas(int64(h.Health.PerSec)), benchLatency(&h.Health), h.PostGetRatio)
	b.printFailures(&h.Health)
	cpu := ""
	if h.TrivialCPUUs > 0 {
		cpu = fmt.Sprintf("  (its CPU %.0f µs a POST)", h.TrivialCPUUs)
	}
	fmt.Fprintf(b.text, "%-7s %-31s %8s /s    %s  POST ÷ trivial %.2f%s\n", "http", "trivial server floor (same POSTs)",
		benchCommas(int64(h.Trivial.PerSec)), benchLatency(&h.Trivial), h.PostTrivialRatio, cpu)
	b.printFailures(&h.Trivial)
}

func (b *bench) printMemory() {
	if b.text == nil {
		return
	}
	m := b.rep.Memory
	line := fmt.Sprintf("%-7s %-31s %5.1f MiB %s later (%.1f MiB at the last, peak %.1f MiB; %d subscriber(s) got %s events)", "memory",
		"RSS after "+benchCommas(int64(m.Reservations))+" reservations", m.RSSMiB, benchMemorySettle, m.BusyRSSMiB, m.PeakMiB,
		m.Subscribers, benchCommas(m.StreamEvents))
	if m.Pass != nil {
		line += fmt.Sprintf("  (target < %g MiB) %s", m.TargetMiB, benchVerdict(*m.Pass))
	}
	fmt.Fprintln(b.text, line)
	b.printFailures(m.Fill)
}

func (b *bench) printFailures(f *benchRateFigures) {
	if len(f.Failures) == 0 {
		return
	}
	labels := make([]string, 0, len(f.Failures))
	for l := range f.Failures {
		labels = append(labels, l)
	}
	sort.Strings(labels)
	parts := make([]string, len(labels))
	for i, l := range labels {
		parts[i] = fmt.Sprintf("%s× %s", benchCommas(int64(f.Failures[l])), l)
	}
	fmt.Fprintf(b.text, "%-7s failures: %s; first: %s\n", "", strings.Join(parts, ", "), f.FirstFailure)
}

func benchLatency(f *benchRateFigures) string {
	return fmt.Sprintf("p50 %.1f ms  p99 %.1f ms", f.P50Ms, f.P99Ms)
}

func benchVerdict(pass bool) string {
	if pass {
		return "PASS"
	}
	return "MISS"
}

// benchCommas formats n with thousands separators: 16912 → "16,912".
func benchCommas(n int64) string {
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
