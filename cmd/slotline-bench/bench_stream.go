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
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/sync/errgroup"

	"github.com/slotline/slotline/internal/app"
	"github.com/slotline/slotline/internal/auth"
	"github.com/slotline/slotline/internal/booking"
	"github.com/slotline/slotline/internal/frame"
	"github.com/slotline/slotline/internal/httpapi"
	"github.com/slotline/slotline/internal/metrics"
	"github.com/slotline/slotline/internal/schedule"
	"github.com/slotline/slotline/internal/storage"
	"github.com/slotline/slotline/internal/stream"
	"github.com/slotline/slotline/internal/streamclient"
)

// What the stream bench measures against, and how it loads the system.
const (
	benchStreamTargetRatio = 0.5 // fan-out frames/s as a fraction of the bare broadcast's
	benchStreamPhases      = "fanout,latency,memory"

	benchStreamProducers = 64                 // goroutines committing events: enough to fill a group commit (storage batches up to 64 writes)
	benchStreamHubSize   = stream.DefaultRing // the hub's ring, as serve sizes it by default
	benchStreamDialers   = 8                  // subscribers dialing at once
	// benchStreamTimeout bounds each phase, from its first commit (or the
	// floor's first message) to the last delivery.
	benchStreamTimeout = 10 * time.Minute
	// benchStreamLatencyGrace is how long the latency phase waits for the
	// last deliveries once the producer has committed everything.
	benchStreamLatencyGrace = 30 * time.Second
)

// benchStreamCmd runs "slotline-bench stream": events per second fanned
// out to subscribers that acknowledge every frame, as a fraction of a bare
// coder/websocket broadcast of same-sized messages to as many clients in
// the same run, and the time from commit to delivery at a steady rate.
// The server, the subscribers and the producer all run in this process, on
// the same CPUs, so the subscribers' own work counts against the fan-out:
// each reads a message into a reused buffer, decodes the frame, finds seq
// and event_id with a scan of the payload's first bytes (the JSON decoder
// only when they are not first), and writes one Type 2 frame per event,
// as streamclient does. The floor's clients only read.
//
// The hub keeps the last stream.DefaultRing events in memory, as serve's
// does by default; subscribers that fall further behind (a fan-out run
// commits --events faster than they read) read from the database.
func benchStreamCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	opts, err := parseBenchStreamFlags(args, stderr)
	if err != nil {
		return err
	}
	return runBenchCommand(ctx, getenv, stdout, opts.db, opts.cpuProfile, opts.json, func(dbs *benchDBs, text io.Writer) (func(context.Context) error, any) {
		b := &benchStream{runOf[benchStreamOptions, benchStreamReport]{opts: opts, dbs: dbs, text: text, progress: stderr, rep: &benchStreamReport{
			benchEnv: newBenchEnv(dbs),
			Events:   opts.events, Window: opts.window, AckEvery: opts.ackEvery, SharedCPUs: true,
		}}}
		return b.run, b.rep
	})
}

// benchStreamOptions are the command's flags.
type benchStreamOptions struct {
	commonFlags
	subList     string
	subscribers []int
	events      int
	rate        float64
	duration    time.Duration
	window      int
	ackEvery    int
	cpuProfile  string
	// The memory phase: subscribers of a slotline server run as a child
	// process, how long it waits after they leave, and
	// the binary.
	memSubscribers int
	settle         time.Duration
	serverBin      string
}

func parseBenchStreamFlags(args []string, stderr io.Writer) (*benchStreamOptions, error) {
	o := &benchStreamOptions{}
	fs := flag.NewFlagSet("stream", flag.ContinueOnError)
	o.commonFlags.register(fs, benchStreamPhases)
	fs.StringVar(&o.subList, "subscribers", "100,1000", "comma-separated subscriber `counts` of the fan-out phase; the latency phase uses the smallest")
	fs.IntVar(&o.events, "events", 5000, "events committed in each fan-out run (and messages in each floor run)")
	fs.Float64Var(&o.rate, "rate", 500, "events per second committed in the latency phase")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "how long the latency phase commits events")
	fs.IntVar(&o.window, "window", 100, "the server's window: frames in flight without an ack, per subscriber")
	fs.IntVar(&o.ackEvery, "ack-every", 1, "subscribers acknowledge each event (1, the seed's way) or, when more, every `n` events at once with a cumulative ack (up_to)")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run to `file`")
	fs.IntVar(&o.memSubscribers, "memory-subscribers", 1000, "subscribers of the memory phase, which fans --events out from a slotline server run as a child process and reads its RSS")
	fs.DurationVar(&o.settle, "settle", time.Minute, "how long after the memory phase's subscribers leave it reads the server's RSS it judges (the target is for 1m)")
	fs.StringVar(&o.serverBin, "server-bin", "", "slotline `binary` to run as the memory phase's server (default: this executable, as slotline-bench serve)")
	hideFlags(fs, "cpuprofile")
	if err := app.ParseFlags(fs, args, stderr); err != nil {
		return nil, err
	}
	return o, o.validate()
}

func (o *benchStreamOptions) validate() error {
	o.subscribers = nil
	for s := range strings.SplitSeq(o.subList, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 || n > 5000 {
			return app.UsageError(fmt.Sprintf("--subscribers: %q is not a count from 1 to 5000", s))
		}
		o.subscribers = append(o.subscribers, n)
	}
	switch {
	case o.events < 1:
		return app.UsageError("--events must be at least 1")
	case !(o.rate > 0) || o.rate > 100_000:
		return app.UsageError("--rate must be more than 0 and at most 100000")
	case o.duration <= 0:
		return app.UsageError("--duration must be positive")
	case o.rate*o.duration.Seconds() < 1:
		return app.UsageError("--rate × --duration must be at least one event")
	case o.window < 1 || o.window > 10000:
		return app.UsageError("--window must be from 1 to 10000")
	case o.ackEvery < 1 || o.ackEvery > o.window:
		return app.UsageError("--ack-every must be from 1 to --window")
	case o.memSubscribers < 1 || o.memSubscribers > 5000:
		return app.UsageError("--memory-subscribers must be from 1 to 5000")
	case o.settle <= 0:
		return app.UsageError("--settle must be positive")
	}
	return o.commonFlags.check(benchStreamPhases)
}

// benchStreamReport is every figure of a run; --json prints it.
type benchStreamReport struct {
	benchEnv
	Events int `json:"events"`
	Window int `json:"window"`
	// AckEvery: subscribers ack each event (1) or every AckEvery events
	// with one cumulative ack.
	AckEvery int `json:"ack_every"`
	// SharedCPUs: the server, the subscribers and the producer share the
	// machine's CPUs (they all run in this process).
	SharedCPUs bool                       `json:"shared_cpus"`
	FanOut     []*benchFanOutFigures      `json:"fan_out,omitempty"`
	Latency    *benchStreamLatencyFigures `json:"latency,omitempty"`
	Memory     *benchStreamMemoryFigures  `json:"memory,omitempty"`
}

// benchFanOutFigures are one fan-out run and its floor.
type benchFanOutFigures struct {
	Subscribers int `json:"subscribers"`
	Events      int `json:"events"`
	// Delivered counts the events received by all subscribers; Complete
	// says each received every event once, in sequence order.
	Delivered  int64   `json:"delivered"`
	Complete   bool    `json:"complete"`
	ElapsedSec float64 `json:"elapsed_s"` // from the first commit to the last delivery
	PerSec     float64 `json:"per_s"`     // delivered / elapsed
	FrameBytes int     `json:"frame_bytes"`
	// ProducerPerSec is the rate at which the events were committed,
	// CommitSec the time from the first commit to the last, and DrainSec
	// from the last commit to the last delivery: when it is short, the
	// subscribers kept up and the producer set the pace.
	ProducerPerSec float64 `json:"producer_per_s"`
	CommitSec      float64 `json:"commit_s"`
	DrainSec       float64 `json:"drain_s"`
	// CPUBusy is the fraction of the machine's CPU time that was busy
	// during the run (1: every CPU, throughout), kernel work included;
	// other processes count too. CPUSelf is the part this process used,
	// loopback TCP's softirq work excluded. Both absent off Linux.
	CPUBusy float64 `json:"cpu_busy,omitempty"`
	CPUSelf float64 `json:"cpu_self,omitempty"`

	Floor            *benchStreamFloorFigures `json:"floor,omitempty"`
	FloorRatio       *float64                 `json:"floor_ratio,omitempty"`
	TargetFloorRatio float64                  `json:"target_floor_ratio"`
	Pass             *bool                    `json:"pass,omitempty"`
}

// benchStreamFloorFigures are a bare broadcast: messages of the fan-out's
// mean frame size, written to every client, read without acks.
type benchStreamFloorFigures struct {
	Clients      int     `json:"clients"`
	Messages     int     `json:"messages"`
	MessageBytes int     `json:"message_bytes"`
	Delivered    int64   `json:"delivered"`
	ElapsedSec   float64 `json:"elapsed_s"`
	PerSec       float64 `json:"per_s"`
	CPUBusy      float64 `json:"cpu_busy,omitempty"`
	CPUSelf      float64 `json:"cpu_self,omitempty"`
}

// benchStreamLatencyFigures are commit-to-delivery times at a steady rate.
type benchStreamLatencyFigures struct {
	Subscribers    int     `json:"subscribers"`
	RatePerSec     float64 `json:"rate_per_s"`     // asked for
	AchievedPerSec float64 `json:"achieved_per_s"` // committed
	DurationSec    float64 `json:"duration_s"`
	Events         int     `json:"events"`
	Deliveries     int     `json:"deliveries"`
	Complete       bool    `json:"complete"`
	P50Ms          float64 `json:"p50_ms"`
	P99Ms          float64 `json:"p99_ms"`
	MaxMs          float64 `json:"max_ms"`
}

// benchStream is one run of the command.
type benchStream struct {
	runOf[benchStreamOptions, benchStreamReport]
}

func (b *benchStream) run(ctx context.Context) error {
	b.printHeader()
	return runPhases(ctx, b.opts.phases,
		phase{"fanout", b.runFanOuts},
		phase{"latency", func(ctx context.Context) error {
			l, err := b.runLatency(ctx, slices.Min(b.opts.subscribers))
			if err != nil {
				return err
			}
			b.rep.Latency = l
			b.printLatency()
			return nil
		}},
		phase{"memory", b.runMemory},
	)
}

// runFanOuts runs a fan-out and its floor for each --subscribers count.
func (b *benchStream) runFanOuts(ctx context.Context) error {
	for _, n := range b.opts.subscribers {
		f, err := b.runFanOut(ctx, n)
		if err != nil {
			return fmt.Errorf("fan-out to %d subscribers: %w", n, err)
		}
		b.rep.FanOut = append(b.rep.FanOut, f)
		fl, err := b.runFloor(ctx, n, f.FrameBytes)
		if err != nil {
			return fmt.Errorf("floor with %d clients: %w", n, err)
		}
		f.Floor, f.TargetFloorRatio = fl, benchStreamTargetRatio
		if fl.PerSec > 0 {
			ratio := f.PerSec / fl.PerSec
			pass := ratio >= benchStreamTargetRatio && f.Complete
			f.FloorRatio, f.Pass = &ratio, &pass
		}
		b.printFanOut(f)
	}
	return nil
}

// runFanOut subscribes n clients, commits --events events from several
// goroutines, and times their delivery to every subscriber.
func (b *benchStream) runFanOut(ctx context.Context, n int) (*benchFanOutFigures, error) {
	srv, err := b.startServer(ctx, fmt.Sprintf("fanout%d", n))
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	fmt.Fprintf(b.progress, "fan-out: subscribing %d clients…\n", n)
	subs, err := srv.subscribe(ctx, n)
	if err != nil {
		return nil, err
	}
	epoch := time.Now()
	want := b.opts.events
	pctx, cancel := context.WithTimeout(ctx, benchStreamTimeout)
	defer cancel()
	g, gctx := errgroup.WithContext(pctx)
	for _, s := range subs {
		g.Go(func() error { return s.follow(gctx, want, epoch, nil) })
	}
	fmt.Fprintf(b.progress, "fan-out: %s events to %d subscribers…\n", benchCommas(int64(want)), n)
	var firstCommit, lastCommit atomic.Int64 // since epoch; 0 until the first commit
	cpu0 := benchCPUNow()
	grid := newBenchGrid(time.Now(), benchStoreBuckets)
	prefix := benchRandomHex(4)
	var next atomic.Int64
	prod, err := benchLoad(gctx, benchStreamProducers, benchUpTo(int64(want)), func(ctx context.Context) error {
		r, cands, w := benchStoreRequest(prefix, next.Add(1), grid)
		if _, err := srv.store.CreateReservation(ctx, r, cands, w); err != nil {
			return err // a full bucket too: every event must be committed
		}
		at := int64(time.Since(epoch))
		firstCommit.CompareAndSwap(0, at)
		for {
			if old := lastCommit.Load(); old >= at || lastCommit.CompareAndSwap(old, at) {
				return nil
			}
		}
	})
	if err != nil {
		cancel()
		return nil, errors.Join(fmt.Errorf("commit the events: %w", err), g.Wait())
	}
	if err := g.Wait(); err != nil {
		return nil, benchStreamShortfall(err, subs, want)
	}
	busy, self := benchCPUNow().since(cpu0)
	f := &benchFanOutFigures{Subscribers: n, Events: want, Complete: true, TargetFloorRatio: benchStreamTargetRatio,
		CommitSec: time.Duration(lastCommit.Load() - firstCommit.Load()).Seconds()}
	var last time.Duration
	var frameBytes int64
	for _, s := range subs {
		f.Delivered += int64(s.got)
		frameBytes += s.bytes
		last = max(last, s.last)
		if s.misordered > 0 || s.got != want {
			f.Complete = false
		}
	}
	elapsed := last - time.Duration(firstCommit.Load())
	if elapsed > 0 {
		f.ElapsedSec = elapsed.Seconds()
		f.DrainSec = (last - time.Duration(lastCommit.Load())).Seconds()
		f.PerSec = float64(f.Delivered) / elapsed.Seconds()
		f.CPUBusy, f.CPUSelf = busy, self
	}
	if f.Delivered > 0 {
		f.FrameBytes = int(frameBytes / f.Delivered)
	}
	if prod.elapsed > 0 {
		f.ProducerPerSec = float64(prod.ok) / prod.elapsed.Seconds()
	}
	return f, nil
}

// runFloor broadcasts --events messages of size bytes to n bare
// coder/websocket clients: one writer goroutine per client on the server
// side (as the stream has), clients reading into a reused buffer; no
// framing, no acks, no database.
func (b *benchStream) runFloor(ctx context.Context, n, size int) (*benchStreamFloorFigures, error) {
	fmt.Fprintf(b.progress, "floor: %s messages of %d bytes to %d clients…\n", benchCommas(int64(b.opts.events)), size, n)
	conns := make(chan *websocket.Conn, n)
	var handlers sync.WaitGroup
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		conns <- ws
	}), ErrorLog: benchQuietLog()}
	handlers.Go(func() { _ = srv.Serve(ln) })
	defer func() {
		srv.Close()
		handlers.Wait()
	}()
	url := "ws://" + ln.Addr().String() + "/"
	hc := &http.Client{Transport: &http.Transport{}}
	defer hc.CloseIdleConnections()
	clients := make([]*websocket.Conn, n)
	servers := make([]*websocket.Conn, 0, n)
	defer func() {
		for _, c := range clients {
			if c != nil {
				c.CloseNow()
			}
		}
		for _, c := range servers {
			c.CloseNow()
		}
	}()
	dg, dctx := errgroup.WithContext(ctx)
	dg.SetLimit(benchStreamDialers)
	for i := range clients {
		dg.Go(func() error {
			ws, _, err := websocket.Dial(dctx, url, &websocket.DialOptions{HTTPClient: hc})
			if err != nil {
				return fmt.Errorf("dial client %d: %w", i, err)
			}
			ws.SetReadLimit(1 << 20)
			clients[i] = ws
			return nil
		})
	}
	if err := dg.Wait(); err != nil {
		return nil, err
	}
	for range n {
		servers = append(servers, <-conns)
	}

	msg := bytes.Repeat([]byte{0xa5}, max(size, 1))
	messages := b.opts.events
	pctx, cancel := context.WithTimeout(ctx, benchStreamTimeout)
	defer cancel()
	g, gctx := errgroup.WithContext(pctx)
	cpu0 := benchCPUNow()
	start := time.Now()
	lasts := make([]time.Duration, n)
	for i, c := range clients {
		g.Go(func() error {
			var buf []byte
			for range messages {
				var err error
				if _, buf, err = benchReadMessage(gctx, c, buf); err != nil {
					return fmt.Errorf("floor client %d: %w", i, err)
				}
			}
			lasts[i] = time.Since(start)
			return nil
		})
	}
	// The server writes without a deadline (the cheapest write there is);
	// a failure anywhere closes every connection, which unblocks them.
	stop := context.AfterFunc(gctx, func() {
		for _, c := range servers {
			c.CloseNow()
		}
	})
	defer stop()
	for i, s := range servers {
		g.Go(func() error {
			for range messages {
				if err := s.Write(context.Background(), websocket.MessageBinary, msg); err != nil {
					return fmt.Errorf("floor server conn %d: %w", i, err)
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	elapsed := slices.Max(lasts)
	f := &benchStreamFloorFigures{Clients: n, Messages: messages, MessageBytes: len(msg),
		Delivered: int64(messages) * int64(n), ElapsedSec: elapsed.Seconds()}
	if elapsed > 0 {
		f.PerSec = float64(f.Delivered) / elapsed.Seconds()
		f.CPUBusy, f.CPUSelf = benchCPUNow().since(cpu0)
	}
	return f, nil
}

// runLatency commits --rate events per second for --duration, paced by
// a schedule and committed by several goroutines (so that one slow commit
// does not hold back the next), noting when each commit returned, and
// measures when each subscriber received each event.
func (b *benchStream) runLatency(ctx context.Context, n int) (*benchStreamLatencyFigures, error) {
	srv, err := b.startServer(ctx, "latency")
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	fmt.Fprintf(b.progress, "latency: subscribing %d clients…\n", n)
	subs, err := srv.subscribe(ctx, n)
	if err != nil {
		return nil, err
	}
	count := max(1, int(b.opts.rate*b.opts.duration.Seconds()+0.5))
	epoch := time.Now()
	pctx, cancel := context.WithTimeout(ctx, b.opts.duration+benchStreamTimeout)
	defer cancel()
	g, gctx := errgroup.WithContext(pctx)
	for _, s := range subs {
		s.recv = make([]time.Duration, count)
		g.Go(func() error { return s.follow(gctx, count, epoch, s.recv) })
	}
	fmt.Fprintf(b.progress, "latency: %g events/s to %d subscribers for %s…\n", b.opts.rate, n, b.opts.duration)
	commits := make([]time.Duration, count) // since epoch, by the order they were due
	ids := make([]string, count)
	grid := newBenchGrid(time.Now(), benchStoreBuckets)
	prefix := benchRandomHex(4)
	period := time.Duration(float64(time.Second) / b.opts.rate)
	due := make(chan int, count)
	pg, pgctx := errgroup.WithContext(gctx)
	pg.Go(func() error {
		defer close(due)
		begin := time.Now()
		for i := range count {
			if d := time.Until(begin.Add(time.Duration(i) * period)); d > 0 {
				t := time.NewTimer(d)
				select {
				case <-pgctx.Done():
					t.Stop()
					return nil
				case <-t.C:
				}
			}
			due <- i
		}
		return nil
	})
	begin := time.Now()
	for range benchStreamProducers {
		pg.Go(func() error {
			for i := range due {
				r, cands, w := benchStoreRequest(prefix, int64(i+1), grid)
				if _, err := srv.store.CreateReservation(pgctx, r, cands, w); err != nil {
					return fmt.Errorf("commit event %d: %w", i+1, err)
				}
				commits[i] = time.Since(epoch)
				ids[i] = r.ID
			}
			return nil
		})
	}
	if err := pg.Wait(); err != nil {
		cancel()
		return nil, errors.Join(err, g.Wait())
	}
	committed := time.Since(begin)
	wait := time.AfterFunc(benchStreamLatencyGrace, cancel)
	err = g.Wait()
	wait.Stop()
	if err != nil {
		return nil, benchStreamShortfall(err, subs, count)
	}
	// Event seq start+1+k is the k-th in the log; which commit it came
	// from, the log says by its reservation id.
	order, err := srv.commitOrder(ctx, subs[0].after, ids)
	if err != nil {
		return nil, err
	}
	l := &benchStreamLatencyFigures{Subscribers: n, RatePerSec: b.opts.rate, DurationSec: b.opts.duration.Seconds(),
		Events: count, Complete: true}
	if committed > 0 {
		l.AchievedPerSec = float64(count) / committed.Seconds()
	}
	lat := make([]time.Duration, 0, count*n)
	for _, s := range subs {
		if s.misordered > 0 || s.got != count {
			l.Complete = false
		}
		for k, at := range s.recv {
			if at != 0 {
				lat = append(lat, at-commits[order[k]])
			}
		}
	}
	slices.Sort(lat)
	l.Deliveries = len(lat)
	l.P50Ms, l.P99Ms = ms(benchPercentile(lat, 0.50)), ms(benchPercentile(lat, 0.99))
	if len(lat) > 0 {
		l.MaxMs = ms(lat[len(lat)-1])
	}
	return l, nil
}

// benchStreamShortfall adds to a phase's error how far the subscribers got.
func benchStreamShortfall(err error, subs []*benchStreamSub, want int) error {
	short := 0
	least := want
	for _, s := range subs {
		if s.got < want {
			short++
			least = min(least, s.got)
		}
	}
	if short == 0 {
		return err
	}
	return fmt.Errorf("%d of %d subscribers missed events (the furthest behind got %d of %d): %w", short, len(subs), least, want, err)
}

// benchStreamServer is the API with a running hub on a fresh database,
// served on loopback in this process.
type benchStreamServer struct {
	base     string // ws://127.0.0.1:PORT
	token    string
	store    *storage.Store
	hc       *http.Client
	srv      *http.Server
	cancel   context.CancelFunc
	hubDone  chan struct{}
	handlers sync.WaitGroup
	serving  sync.WaitGroup
	subs     []*benchStreamSub
	ackEvery int
}

func (b *benchStream) startServer(ctx context.Context, name string) (*benchStreamServer, error) {
	dsn, err := b.dbs.fresh(ctx, name)
	if err != nil {
		return nil, err
	}
	store, err := storage.Open(ctx, dsn, storage.Options{})
	if err != nil {
		return nil, err
	}
	secret := benchRandomHex(16)
	authSvc := auth.NewService(store, []*auth.Client{
		auth.NewClient(benchClientID, secret, []string{"callback:read", "callback:write"}, 0, 0),
	}, time.Hour)
	client, _ := authSvc.Authenticate(benchClientID, secret)
	token, _, err := authSvc.Issue(ctx, client, nil)
	if err != nil {
		store.Close()
		return nil, fmt.Errorf("issue a token: %w", err)
	}
	loc, err := time.LoadLocation(benchTimeZone)
	if err != nil {
		store.Close()
		return nil, err
	}
	queues := []*booking.Queue{{ID: benchQueueID, Name: "Bench", TimeZone: benchTimeZone, Calendar: &schedule.Calendar{
		Location: loc, SlotMinutes: int(benchSlot / time.Minute), Capacity: benchStoreCap, AlwaysOpen: true, Horizon: 30 * 24 * time.Hour}}}
	m := metrics.New()
	hub := stream.NewHub(store, nil, benchStreamHubSize)
	api := httpapi.NewServer(httpapi.Deps{
		Booking: booking.New(store, queues, booking.Options{}), Auth: authSvc, Store: store, Metrics: m,
		Stream: stream.NewServer(hub, store, m), StreamOptions: stream.Options{Window: b.opts.window},
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		store.Close()
		return nil, err
	}
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s := &benchStreamServer{base: "ws://" + ln.Addr().String(), token: token, store: store, cancel: cancel, ackEvery: b.opts.ackEvery,
		hubDone: make(chan struct{}), hc: &http.Client{Transport: &http.Transport{}}}
	s.srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s.handlers.Add(1)
			defer s.handlers.Done()
			api.ServeHTTP(w, r)
		}),
		BaseContext: func(net.Listener) context.Context { return sctx },
		ErrorLog:    benchQuietLog(),
	}
	go func() {
		defer close(s.hubDone)
		_ = hub.Run(sctx)
	}()
	s.serving.Go(func() { _ = s.srv.Serve(ln) })
	hctx, hcancel := context.WithCancel(ctx)
	defer hcancel()
	go func() {
		select {
		case <-s.hubDone: // Run failed before it was ready
		case <-hctx.Done():
		}
		hcancel()
	}()
	if _, err := hub.Head(hctx); err != nil {
		s.stop()
		return nil, fmt.Errorf("start the hub: %w", err)
	}
	return s, nil
}

// stop closes the subscribers, then the server, the hub and the store.
func (s *benchStreamServer) stop() {
	for _, sub := range s.subs {
		sub.ws.CloseNow()
	}
	s.cancel()
	s.srv.Close()
	s.serving.Wait()
	done := make(chan struct{})
	go func() {
		s.handlers.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
	}
	<-s.hubDone
	s.hc.CloseIdleConnections()
	s.store.Close()
}

// subscribe dials n subscribers (new events only) and reads each one's
// first notice.
func (s *benchStreamServer) subscribe(ctx context.Context, n int) ([]*benchStreamSub, error) {
	subs := make([]*benchStreamSub, n)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(benchStreamDialers)
	for i := range subs {
		g.Go(func() error {
			sub, err := s.dial(gctx)
			if err != nil {
				return fmt.Errorf("subscriber %d: %w", i, err)
			}
			subs[i] = sub
			return nil
		})
	}
	err := g.Wait()
	for _, sub := range subs {
		if sub != nil {
			s.subs = append(s.subs, sub)
		}
	}
	if err != nil {
		return nil, err
	}
	// Every subscriber must start at the same point: the empty log's head.
	for i, sub := range subs {
		if sub.after != subs[0].after {
			return nil, fmt.Errorf("subscriber %d starts after %d, subscriber 0 after %d", i, sub.after, subs[0].after)
		}
	}
	return subs, nil
}

func (s *benchStreamServer) dial(ctx context.Context) (*benchStreamSub, error) {
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(dctx, s.base+"/api/v2/callbacks/websocket", &websocket.DialOptions{
		HTTPClient: s.hc, HTTPHeader: http.Header{"Authorization": {"Bearer " + s.token}},
	})
	if err != nil {
		return nil, err
	}
	ws.SetReadLimit(1 << 20)
	sub := &benchStreamSub{ws: ws, ackEvery: s.ackEvery}
	_, msg, err := benchReadMessage(dctx, ws, nil)
	if err != nil {
		ws.CloseNow()
		return nil, fmt.Errorf("read the subscribed notice: %w", err)
	}
	f, err := frame.Decode(msg, 0)
	var n streamclient.Notice
	if err == nil && f.Type == frame.TypeNotice {
		err = json.Unmarshal(f.Payload, &n)
	}
	if err != nil || n.Notice != stream.NoticeSubscribed || n.After == nil {
		ws.CloseNow()
		return nil, fmt.Errorf("first frame is not the subscribed notice (type %d, %q): %v", f.Type, f.Payload, err)
	}
	sub.after = *n.After
	return sub, nil
}

// commitOrder returns, for the k-th event after seq after, the index in
// ids of the reservation it is for. Every event must be for one of ids,
// and each id must have exactly one.
func (s *benchStreamServer) commitOrder(ctx context.Context, after int64, ids []string) ([]int, error) {
	index := make(map[string]int, len(ids))
	for i, id := range ids {
		index[id] = i
	}
	order := make([]int, 0, len(ids))
	for len(order) < len(ids) {
		evs, err := s.store.FindEvents(ctx, after+int64(len(order)), 1000)
		if err != nil {
			return nil, err
		}
		if len(evs) == 0 {
			return nil, fmt.Errorf("the log holds %d of the %d events committed", len(order), len(ids))
		}
		for _, ev := range evs {
			i, ok := index[ev.ReservationID]
			if !ok || len(order) == len(ids) {
				return nil, fmt.Errorf("event %d is for reservation %q, not one the bench committed", ev.Seq, ev.ReservationID)
			}
			delete(index, ev.ReservationID)
			order = append(order, i)
		}
	}
	return order, nil
}

// benchStreamSub is one subscriber: it reads frames, decodes them, checks
// the sequence numbers and acknowledges every event at once.
type benchStreamSub struct {
	ws         *websocket.Conn
	after      int64 // where the stream started (the subscribed notice)
	buf, ack   []byte
	ackEvery   int           // ack each event (1) or every ackEvery at once
	got        int           // events received
	misordered int           // events that were not the next sequence number
	bytes      int64         // size of the event messages
	last       time.Duration // since the epoch, when the last event came
	// recv (latency phase) is when event start+1+i came, since the epoch.
	recv []time.Duration
}

// follow reads until want events have come, recording each arrival.
func (s *benchStreamSub) follow(ctx context.Context, want int, epoch time.Time, recv []time.Duration) error {
	for s.got < want {
		var msg []byte
		var err error
		if _, msg, err = benchReadMessage(ctx, s.ws, s.buf); err != nil {
			return fmt.Errorf("read after %d of %d events: %w", s.got, want, err)
		}
		s.buf = msg
		f, err := frame.Decode(msg, 0)
		if err != nil {
			return err
		}
		if f.Type != frame.TypeUpdate {
			continue // a notice: a close follows if it matters
		}
		now := time.Since(epoch)
		seq, id, err := benchEventKey(f.Payload)
		if err != nil {
			return err
		}
		if i := seq - s.after - 1; i != int64(s.got) {
			s.misordered++
		} else if recv != nil && i < int64(len(recv)) {
			recv[i] = now
		}
		s.got++
		s.bytes += int64(len(msg))
		s.last = now
		if s.ackEvery > 1 {
			// One cumulative ack for every ackEvery events (and the last).
			if s.got%s.ackEvery != 0 && s.got != want {
				continue
			}
			s.ack = strconv.AppendInt(append(s.ack[:0], `{"status":"ack","up_to":`...), seq, 10)
			s.ack = append(s.ack, '}')
		} else {
			s.ack = append(append(append(s.ack[:0], `{"status":"ack","correlation_id":"`...), id...), `"}`...)
		}
		s.buf = frame.Append(s.buf[:0], frame.Frame{Type: frame.TypeAck, Payload: s.ack, Timestamp: time.Now().UnixMilli()})
		if err := s.ws.Write(ctx, websocket.MessageBinary, s.buf); err != nil {
			return fmt.Errorf("ack: %w", err)
		}
	}
	return nil
}

// benchEventKey returns an event's seq and event_id. The stream writes
// them first ({"seq":N,"event_id":"…",…}), which a scan finds without
// decoding the rest; anything else is decoded in full.
func benchEventKey(p []byte) (int64, []byte, error) {
	const seqKey, idKey = `{"seq":`, `,"event_id":"`
	if rest, ok := bytes.CutPrefix(p, []byte(seqKey)); ok {
		end := bytes.IndexByte(rest, ',')
		if end > 0 {
			seq, err := strconv.ParseInt(string(rest[:end]), 10, 64)
			if after, ok := bytes.CutPrefix(rest[end:], []byte(idKey)); ok && err == nil {
				if q := bytes.IndexByte(after, '"'); q > 0 && bytes.IndexByte(after[:q], '\\') < 0 {
					return seq, after[:q], nil
				}
			}
		}
	}
	var ev struct {
		Seq int64  `json:"seq"`
		ID  string `json:"event_id"`
	}
	if err := json.Unmarshal(p, &ev); err != nil {
		return 0, nil, fmt.Errorf("event payload: %w", err)
	}
	id, _ := json.Marshal(ev.ID)
	return ev.Seq, id[1 : len(id)-1], nil
}

// benchReadMessage reads one message into buf, reused.
func benchReadMessage(ctx context.Context, ws *websocket.Conn, buf []byte) (websocket.MessageType, []byte, error) {
	typ, r, err := ws.Reader(ctx)
	if err != nil {
		return 0, buf, err
	}
	buf = buf[:0]
	for {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, max(512, cap(buf)))
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return typ, buf, nil
		}
		if err != nil {
			return 0, buf, err
		}
	}
}

// benchCPU is a reading of the machine's CPU time counters (/proc/stat),
// in ticks: busy counts everything but idle and I/O wait, including the
// kernel's softirq work, where loopback TCP spends much of its time and
// which the process's own CPU time leaves out.
type benchCPU struct{ busy, total, self int64 }

// benchCPUNow reads the counters; the zero value where it cannot.
func benchCPUNow() benchCPU {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return benchCPU{}
	}
	line, _, _ := strings.Cut(string(data), "\n")
	fields := strings.Fields(line)
	if len(fields) < 9 || fields[0] != "cpu" {
		return benchCPU{}
	}
	var c benchCPU
	for i, f := range fields[1:9] { // user nice system idle iowait irq softirq steal
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return benchCPU{}
		}
		c.total += n
		if i != 3 && i != 4 {
			c.busy += n
		}
	}
	c.self = benchSelfTicks()
	return c
}

// benchSelfTicks returns this process's CPU time (user and system) in
// ticks, from /proc/self/stat, or 0.
func benchSelfTicks() int64 {
	data, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0
	}
	// After the command name (which may hold spaces) come the state and
	// then the fields from the 4th on: utime and stime are the 14th and
	// 15th.
	_, rest, ok := bytes.Cut(data, []byte(") "))
	fields := strings.Fields(string(rest))
	if !ok || len(fields) < 13 {
		return 0
	}
	var ticks int64
	for _, f := range fields[11:13] {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0
		}
		ticks += n
	}
	return ticks
}

// since returns the fractions of the machine's CPU time since c0 that
// were busy, and that this process used (both 0 when unknown). The
// difference is the kernel's softirq work and other processes.
func (c benchCPU) since(c0 benchCPU) (machine, self float64) {
	if c0.total == 0 || c.total <= c0.total {
		return 0, 0
	}
	d := float64(c.total - c0.total)
	return float64(c.busy-c0.busy) / d, float64(c.self-c0.self) / d
}

// benchQuietLog drops the HTTP servers' own log lines (connections the
// bench closes abruptly on purpose).
func benchQuietLog() *log.Logger {
	return slog.NewLogLogger(slog.DiscardHandler, slog.LevelError)
}

func (b *benchStream) printHeader() {
	if b.text == nil {
		return
	}
	r := b.rep
	fmt.Fprintf(b.text, "slotline-bench stream — %s, %d CPUs, %s, %s events per fan-out, window %d\n",
		r.Database, r.CPUs, r.GoVersion, benchCommas(int64(r.Events)), r.Window)
	if b.opts.phases["fanout"] || b.opts.phases["latency"] {
		fmt.Fprintf(b.text, "(fan-out and latency: server, subscribers and producer run in this process and share its %d CPUs)\n", r.CPUs)
	}
	if b.opts.phases["memory"] {
		fmt.Fprintf(b.text, "(memory: the server is a slotline serve child process; its subscribers and clients run in this one)\n")
	}
}

func (b *benchStream) printFanOut(f *benchFanOutFigures) {
	if b.text == nil {
		return
	}
	fl := f.Floor
	fmt.Fprintf(b.text, "%-7s %-31s %9s frames/s  %s × %d B messages to %d clients in %.2f s%s\n", "floor",
		"bare coder/websocket broadcast", benchCommas(int64(fl.PerSec)), benchCommas(int64(fl.Messages)), fl.MessageBytes,
		fl.Clients, fl.ElapsedSec, benchBusy(fl.CPUBusy, fl.CPUSelf))
	acked := "acked"
	if b.rep.AckEvery > 1 {
		acked = fmt.Sprintf("ack per %d", b.rep.AckEvery)
	}
	line := fmt.Sprintf("%-7s %-31s %9s frames/s", "fan-out", fmt.Sprintf("%d subscribers, %s", f.Subscribers, acked), benchCommas(int64(f.PerSec)))
	if f.FloorRatio != nil {
		line += fmt.Sprintf("  %.2f× floor (target ≥ %.2f) %s", *f.FloorRatio, f.TargetFloorRatio, benchVerdict(*f.Pass))
	}
	fmt.Fprintln(b.text, line)
	fmt.Fprintf(b.text, "%-7s %s events × %d in %.2f s, %d B frames; committed at %s/s in %.2f s, last delivery %.2f s after the last commit%s\n",
		"", benchCommas(int64(f.Events)), f.Subscribers, f.ElapsedSec, f.FrameBytes, benchCommas(int64(f.ProducerPerSec)),
		f.CommitSec, f.DrainSec, benchBusy(f.CPUBusy, f.CPUSelf))
	if !f.Complete {
		fmt.Fprintf(b.text, "%-7s not every subscriber got every event once, in order: %s of %s delivered\n", "",
			benchCommas(f.Delivered), benchCommas(int64(f.Events)*int64(f.Subscribers)))
	}
}

// benchBusy describes how busy the CPUs were, or says nothing.
func benchBusy(busy, self float64) string {
	if busy <= 0 {
		return ""
	}
	return fmt.Sprintf("; CPUs %.0f%% busy (this process %.0f%%)", 100*busy, 100*self)
}

func (b *benchStream) printLatency() {
	if b.text == nil {
		return
	}
	l := b.rep.Latency
	fmt.Fprintf(b.text, "%-7s %-31s p50 %.1f ms  p99 %.1f ms  max %.1f ms  (%s deliveries; %s events at %.0f/s)\n", "latency",
		fmt.Sprintf("commit → %d subscribers", l.Subscribers), l.P50Ms, l.P99Ms, l.MaxMs,
		benchCommas(int64(l.Deliveries)), benchCommas(int64(l.Events)), l.AchievedPerSec)
	if !l.Complete {
		fmt.Fprintf(b.text, "%-7s not every subscriber got every event once, in order\n", "")
	}
}
