package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/slotline/slotline/internal/storage"
)

// The processes phase: POST /api/v2/callbacks spread over 1, 2, … N
// "slotline serve" processes on one PostgreSQL database (a fresh schema
// each count), the clients split evenly between them (or, with
// --clients-per-process, --clients for each process: the load a
// deployment adds processes for), with the throughput and the CPU spent
// per admission for each count. Its floor is the one
// process figure of the same run: more processes on one database should
// admit more, not fewer (target: N = 3 at 1.5 × one process, where the
// machine has the cores for it). With --process-cpus each process has a
// CPU limit of its own, as in a container, so that a machine with few
// cores can show whether throughput grows with the processes.

const (
	benchTargetProcessesRatio = 1.5 // the last count's rate ÷ one process's
	benchProcessesCapacity    = 100_000
	benchClockTicks           = 100 // USER_HZ: /proc/<pid>/stat counts CPU in 1/100 s on Linux
)

// benchProcessesFigures is the phase's report.
type benchProcessesFigures struct {
	Runs []benchProcessesRun `json:"runs"`
	// Runs are the runs of the median round (--rounds); Ratio is their
	// last run's rate ÷ the first's (one process).
	Ratio float64 `json:"ratio"`
	// Rounds is each round's ratio, in the order run (with --rounds > 1).
	Rounds      []float64 `json:"round_ratios,omitempty"`
	TargetRatio float64   `json:"target_ratio"`
	Pass        bool      `json:"pass"`
	// ProcessCPUs is each serve process's CPU limit (--process-cpus; 0:
	// none).
	ProcessCPUs float64 `json:"process_cpus,omitempty"`
}

// benchProcessesRun is one process count's figures.
type benchProcessesRun struct {
	Processes int `json:"processes"`
	Clients   int `json:"clients"`
	benchRateFigures
	// The CPU time per admission of the serve processes, of the database's
	// backends serving them (found by application_name), and of the whole
	// machine (which includes the load generator and whatever else runs).
	ServerCPUus   float64 `json:"server_cpu_us_per_admission"`
	DatabaseCPUus float64 `json:"database_cpu_us_per_admission"`
	MachineCPUus  float64 `json:"machine_cpu_us_per_admission"`
	// FloorRatio is the rate ÷ the one-process rate of this run.
	FloorRatio float64 `json:"floor_ratio"`
	// The servers' backends, sampled every 10 ms during the load: on
	// average how many waited for a lock (the log head's row, a slot's),
	// and how many sat idle in a transaction (waiting for the process's
	// next statement).
	LockWaiters  float64 `json:"lock_waiters"`
	IdleInTx     float64 `json:"idle_in_transaction"`
	BackendsSeen float64 `json:"backends"`
}

// runProcesses runs the phase (PostgreSQL only: serve processes share one
// SQLite file only one at a time): 1, 2, … N processes in each of
// --rounds rounds, so that the counts alternate in time; the figures are
// those of the round whose N ÷ 1 ratio is the median, so that a burst of
// load from elsewhere on the machine (or a checkpoint of the database)
// during one run moves the figure less.
func (b *bench) runProcesses(ctx context.Context) error {
	if b.dbs.backend != storage.Postgres {
		fmt.Fprintln(b.progress, "processes: needs --db postgres://…; skipped")
		return nil
	}
	var rounds []*benchProcessesFigures
	for i := range max(1, b.opts.rounds) {
		if b.opts.rounds > 1 {
			fmt.Fprintf(b.progress, "processes: round %d of %d\n", i+1, b.opts.rounds)
		}
		f, err := b.processesRound(ctx)
		if err != nil {
			return err
		}
		rounds = append(rounds, f)
	}
	var ratios []float64
	if len(rounds) > 1 {
		for _, f := range rounds {
			ratios = append(ratios, f.Ratio)
		}
	}
	slices.SortStableFunc(rounds, func(a, b *benchProcessesFigures) int { return cmp.Compare(a.Ratio, b.Ratio) })
	f := rounds[len(rounds)/2]
	f.Rounds = ratios
	b.rep.Processes = f
	b.printProcesses()
	return nil
}

// processesRound runs 1, 2, … N processes once each.
func (b *bench) processesRound(ctx context.Context) (*benchProcessesFigures, error) {
	f := &benchProcessesFigures{TargetRatio: benchTargetProcessesRatio, ProcessCPUs: b.opts.processCPUs}
	for n := 1; n <= b.opts.processes; n++ {
		run, err := b.processesRun(ctx, n)
		if err != nil {
			return nil, fmt.Errorf("%d processes: %w", n, err)
		}
		if len(f.Runs) > 0 && f.Runs[0].PerSec > 0 {
			run.FloorRatio = run.PerSec / f.Runs[0].PerSec
		} else {
			run.FloorRatio = 1
		}
		f.Runs = append(f.Runs, *run)
		b.printProcessesRun(run)
	}
	f.Ratio = f.Runs[len(f.Runs)-1].FloorRatio
	f.Pass = f.Ratio >= f.TargetRatio
	return f, nil
}

// processesRun starts n servers on a fresh schema and loads them for
// --duration with --clients clients, client i sending to server i mod n.
func (b *bench) processesRun(ctx context.Context, n int) (_ *benchProcessesRun, err error) {
	dsn, err := b.dbs.fresh(ctx, "processes")
	if err != nil {
		return nil, err
	}
	// The servers' database connections carry a name of this run, so that
	// their backends' CPU can be found.
	app := "slotline-bench-" + benchRandomHex(4)
	u, err := url.Parse(dsn)
	if err != nil {
		return nil, err
	}
	q := u.Query()
	q.Set("application_name", app)
	u.RawQuery = q.Encode()
	dsn = u.String()

	gs, err := startBenchServerSim(b.dbs.dir, benchProcessesCapacity)
	if gs != nil {
		defer gs.sim.Close()
	}
	if err != nil {
		return nil, err
	}
	secret, cfgPath := gs.secret, gs.config
	clients := b.opts.clients
	if b.opts.perProcess {
		clients *= n
	}
	hc := newBenchHTTPClient(4 * clients)
	var srvs []*benchServer
	var cgroups []*benchCgroup
	defer func() {
		hc.CloseIdleConnections()
		for _, s := range srvs {
			err = errors.Join(err, s.stop())
		}
		for _, c := range cgroups {
			err = errors.Join(err, c.remove())
		}
	}()
	var apis []*benchAPI
	grid := newBenchGrid(time.Now(), benchHTTPBuckets)
	for i := range n {
		// One at a time: the first migrates, the others find it done.
		s, err := b.startServer(ctx, hc, cfgPath, dsn)
		if err != nil {
			return nil, err
		}
		srvs = append(srvs, s)
		if cpus := b.opts.processCPUs; cpus > 0 {
			// Before the warm-up and the load; the Go runtime of the
			// process follows the limit with its GOMAXPROCS, as in a
			// container.
			c, err := benchLimitCPU(s.pid, cpus)
			if err != nil {
				return nil, fmt.Errorf("--process-cpus: limit serve process %d to %g CPUs (needs Linux's cgroup cpu controller, writable as root): %w", s.pid, cpus, err)
			}
			cgroups = append(cgroups, c)
		}
		api := &benchAPI{hc: hc, base: s.base, run: benchRandomHex(4), grid: grid}
		// Numbers apart, so that no two servers' creates wait on one
		// number's locks.
		api.next.Store(int64(i) * 2_000_000)
		if err := api.fetchToken(ctx, benchClientID, secret); err != nil {
			return nil, err
		}
		apis = append(apis, api)
	}
	// Warm up: a few creates through each server (connections, prepared
	// statements), not counted.
	for _, api := range apis {
		for range 20 {
			if err := api.create(ctx); err != nil {
				return nil, fmt.Errorf("warm-up: %w", err)
			}
		}
	}
	fmt.Fprintf(b.progress, "processes: %d serve process(es), %d clients, %s…\n", n, clients, b.opts.duration)
	cpu0, err := b.processesCPU(ctx, srvs, app)
	if err != nil {
		return nil, err
	}
	var worker atomic.Int64
	more := benchDuring(b.opts.duration)
	sctx, stopSampling := context.WithCancel(ctx)
	sampled := make(chan benchBackendSamples, 1)
	go func() { sampled <- b.sampleBackends(sctx, app) }()
	res, err := benchLoad(ctx, clients, more, func(ctx context.Context) error {
		return apis[int(worker.Add(1))%n].create(ctx)
	})
	stopSampling()
	samples := <-sampled
	if err != nil {
		return nil, err
	}
	cpu1, err := b.processesCPU(ctx, srvs, app)
	if err != nil {
		return nil, err
	}
	run := &benchProcessesRun{Processes: n, Clients: clients, benchRateFigures: *res.figures()}
	if samples.n > 0 {
		run.LockWaiters = float64(samples.lock) / float64(samples.n)
		run.IdleInTx = float64(samples.idle) / float64(samples.n)
		run.BackendsSeen = float64(samples.all) / float64(samples.n)
	}
	if res.ok > 0 {
		per := func(a, b time.Duration) float64 { return float64(b-a) / float64(time.Microsecond) / float64(res.ok) }
		run.ServerCPUus = per(cpu0.server, cpu1.server)
		run.MachineCPUus = per(cpu0.machine, cpu1.machine)
		var db time.Duration
		for pid, t := range cpu1.backends {
			db += t - cpu0.backends[pid] // a backend that started meanwhile: all of its time
		}
		run.DatabaseCPUus = float64(db) / float64(time.Microsecond) / float64(res.ok)
	}
	for i, s := range srvs {
		if c := s.log.count(); c > 0 {
			b.rep.ServerLogLines += c
			fmt.Fprintf(b.progress, "processes: server %d of %d logged %d lines at level warn or above%s\n", i+1, n, c, s.log.tail())
		}
	}
	return run, nil
}

// benchBackendSamples are the sums of sampleBackends' n samples.
type benchBackendSamples struct{ n, lock, idle, all int64 }

// sampleBackends reads, every 10 ms until ctx is done, how many of the
// backends whose application_name is app wait for a lock and how many are
// idle in a transaction. A failed read ends the sampling (the figures then
// cover what was read).
func (b *bench) sampleBackends(ctx context.Context, app string) benchBackendSamples {
	var s benchBackendSamples
	conn, err := pgx.Connect(ctx, b.dbs.pgURL.String())
	if err != nil {
		return s
	}
	defer conn.Close(context.WithoutCancel(ctx))
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return s
		case <-tick.C:
		}
		var lock, idle, all int64
		err := conn.QueryRow(ctx, `SELECT count(*) FILTER (WHERE wait_event_type = 'Lock'),
			count(*) FILTER (WHERE state = 'idle in transaction'), count(*)
			FROM pg_stat_activity WHERE application_name = $1`, app).Scan(&lock, &idle, &all)
		if err != nil {
			return s
		}
		s.n, s.lock, s.idle, s.all = s.n+1, s.lock+lock, s.idle+idle, s.all+all
	}
}

// benchProcsCPU is the processes phase's CPU time read at one moment.
type benchProcsCPU struct {
	server   time.Duration         // the serve processes'
	backends map[int]time.Duration // the database backends', by pid
	machine  time.Duration         // every CPU's busy time
}

// processesCPU reads the CPU time of the servers, of the backends whose
// application_name is app (the database must be on this machine for
// those to count: otherwise they are 0), and of the machine.
func (b *bench) processesCPU(ctx context.Context, srvs []*benchServer, app string) (benchProcsCPU, error) {
	c := benchProcsCPU{backends: map[int]time.Duration{}}
	for _, s := range srvs {
		t, err := benchCPUOf(s.pid)
		if err != nil {
			return c, err
		}
		c.server += t
	}
	conn, err := pgx.Connect(ctx, b.dbs.pgURL.String())
	if err != nil {
		return c, err
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, "SELECT pid FROM pg_stat_activity WHERE application_name = $1", app)
	if err != nil {
		return c, err
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return c, err
	}
	for _, pid := range pids {
		// Only PostgreSQL's processes: the pid may be another machine's
		// (or container's), or gone.
		if comm, err := os.ReadFile("/proc/" + strconv.Itoa(int(pid)) + "/comm"); err != nil || !strings.HasPrefix(string(comm), "postgres") {
			continue
		}
		if t, err := benchCPUOf(int(pid)); err == nil {
			c.backends[int(pid)] = t
		}
	}
	c.machine, err = benchMachineCPU()
	return c, err
}

// benchMachineCPU returns the machine's CPU time spent other than idle or
// waiting for I/O, over all CPUs.
func benchMachineCPU() (time.Duration, error) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal …
	if len(f) < 8 || f[0] != "cpu" {
		return 0, fmt.Errorf("/proc/stat: unexpected first line %q", line)
	}
	var busy int64
	for i, s := range f[1:] {
		if i == 3 || i == 4 || i >= 7 { // idle, iowait, steal; guest time is in user already
			continue
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/stat: %w", err)
		}
		busy += n
	}
	return time.Duration(busy) * time.Second / benchClockTicks, nil
}

func (b *bench) printProcessesRun(r *benchProcessesRun) {
	if b.text == nil {
		return
	}
	fmt.Fprintf(b.text, "%-7s %-43s %8s /s    %s  %.2f× one process; CPU per admission: servers %.0f µs, database %.0f µs, machine %.0f µs;"+
		" backends waiting on a lock %.2f, idle in transaction %.2f (of %.1f)\n",
		"procs", fmt.Sprintf("POST, %d serve process(es), %d clients", r.Processes, r.Clients), benchCommas(int64(r.PerSec)), benchLatency(&r.benchRateFigures),
		r.FloorRatio, r.ServerCPUus, r.DatabaseCPUus, r.MachineCPUus, r.LockWaiters, r.IdleInTx, r.BackendsSeen)
	b.printFailures(&r.benchRateFigures)
}

func (b *bench) printProcesses() {
	if b.text == nil {
		return
	}
	f := b.rep.Processes
	where := "where the machine has the cores"
	if f.ProcessCPUs > 0 {
		where = fmt.Sprintf("each serve process limited to %g CPUs", f.ProcessCPUs)
	}
	fmt.Fprintf(b.text, "%-7s %-43s %.2f× one process (target ≥ %.2f %s) %s\n", "procs",
		fmt.Sprintf("%d processes ÷ 1", len(f.Runs)), f.Ratio, f.TargetRatio, where, benchVerdict(f.Pass))
	if len(f.Rounds) > 1 {
		fmt.Fprintf(b.text, "%-7s %-43s %s (the median is the figure above)\n", "procs", "ratio of each round", benchRatios(f.Rounds))
	}
}
