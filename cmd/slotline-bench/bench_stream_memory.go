package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"
)

// What the stream bench's memory phase judges.
const (
	benchStreamTargetRSSMiB = 100             // the server's RSS a minute after the fan-out's subscribers left
	benchStreamTargetSettle = time.Minute     // the wait the target is for: shorter --settle runs are not judged
	benchStreamEarlyRead    = 5 * time.Second // the first reading after the subscribers left
)

// benchStreamMemoryFigures are the memory phase: the resident memory of a
// slotline server (a child process) that fanned --events out to
// Subscribers subscribers, at the peak, when the last delivery came, and
// after the subscribers left.
type benchStreamMemoryFigures struct {
	Subscribers int   `json:"subscribers"`
	Events      int   `json:"events"`
	Delivered   int64 `json:"delivered"`
	// BeforeMiB: subscribed, before the first event.
	BeforeMiB float64 `json:"before_mib"`
	// PeakMiB is the server's highest RSS (VmHWM) at the end of the
	// fan-out, and BusyMiB its RSS when the last delivery came.
	PeakMiB    float64 `json:"peak_mib"`
	BusyMiB    float64 `json:"busy_mib"`
	ElapsedSec float64 `json:"elapsed_s"` // from the first create to the last delivery
	// Gone is how long the server took to count no subscriber after they
	// closed; After are the readings from then on, the last SettleSec
	// after.
	GoneSec   float64                    `json:"gone_s"`
	After     []benchStreamMemoryReading `json:"after"`
	SettleSec float64                    `json:"settle_s"`
	// The heap figures at the end of the fan-out (from the server's
	// /metrics), to tell live heap from memory held but free.
	Busy *benchGoMemory `json:"busy_go,omitempty"`
	// The target is judged on the last reading when the run waited
	// benchStreamTargetSettle or longer.
	TargetMiB float64 `json:"target_mib"`
	Pass      *bool   `json:"pass,omitempty"`
}

// benchStreamMemoryReading is the server's memory some time after the
// fan-out's subscribers left.
type benchStreamMemoryReading struct {
	AfterSec float64        `json:"after_s"`
	RSSMiB   float64        `json:"rss_mib"`
	Go       *benchGoMemory `json:"go,omitempty"`
}

// benchGoMemory are the Go runtime's memory figures of the server, from
// its Prometheus go_memstats_* and go_goroutines, in MiB.
type benchGoMemory struct {
	HeapInuseMiB    float64 `json:"heap_inuse_mib"`
	HeapIdleMiB     float64 `json:"heap_idle_mib"`     // free spans, returned or not
	HeapReleasedMiB float64 `json:"heap_released_mib"` // of the idle, returned to the OS
	NextGCMiB       float64 `json:"next_gc_mib"`
	StackMiB        float64 `json:"stack_mib"`
	SysMiB          float64 `json:"sys_mib"`
	Goroutines      int     `json:"goroutines"`
	// Subscribers is slotline_stream_subscribers: subscriptions open.
	Subscribers int `json:"subscribers"`
}

// runMemory starts a slotline server as a child process, subscribes
// --memory-subscribers clients to its stream, books --events reservations
// through its API and waits until every subscriber has them, then closes
// the subscribers and reads the server's RSS 5 s and --settle later.
func (b *benchStream) runMemory(ctx context.Context) (err error) {
	n, events := b.opts.memSubscribers, b.opts.events
	dsn, err := b.dbs.fresh(ctx, "memory")
	if err != nil {
		return err
	}
	// The server syncs to a simulator run here, as the admit bench's
	// memory phase does: the simulator's memory is not the server's.
	gs, err := startBenchServerSim(b.dbs.dir, benchCapacityFor(events))
	if gs != nil {
		defer gs.sim.Close()
	}
	if err != nil {
		return err
	}
	secret, cfgPath := gs.secret, gs.config
	addr, err := benchFreeAddr()
	if err != nil {
		return err
	}
	bin := b.opts.serverBin
	if bin == "" {
		if bin, err = os.Executable(); err != nil {
			return fmt.Errorf("find the slotline binary: %w", err)
		}
	}
	hc := newBenchHTTPClient(2 * benchStreamProducers)
	defer hc.CloseIdleConnections()
	srv, err := startChildServer(ctx, hc, bin, []string{"--config", cfgPath, "--db", dsn, "--addr", addr})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, srv.stop()) }()
	api := &benchAPI{hc: hc, base: srv.base, run: benchRandomHex(4), grid: newBenchGrid(time.Now(), benchHTTPBuckets)}
	if err := api.fetchToken(ctx, benchClientID, secret); err != nil {
		return err
	}

	fmt.Fprintf(b.progress, "memory: subscribing %d clients to a slotline server (pid %d)…\n", n, srv.pid)
	ss := &benchStreamServer{base: "ws" + strings.TrimPrefix(srv.base, "http"), token: api.token, ackEvery: b.opts.ackEvery,
		hc: &http.Client{Transport: &http.Transport{}}}
	defer ss.hc.CloseIdleConnections()
	closeSubs := func() {
		for _, s := range ss.subs {
			s.ws.CloseNow()
		}
		ss.subs = nil
	}
	defer closeSubs()
	subs, err := ss.subscribe(ctx, n)
	if err != nil {
		return err
	}
	m := &benchStreamMemoryFigures{Subscribers: n, Events: events, SettleSec: b.opts.settle.Seconds(), TargetMiB: benchStreamTargetRSSMiB}
	if m.BeforeMiB, _, err = benchMemoryOf(srv.pid); err != nil {
		return err
	}

	fmt.Fprintf(b.progress, "memory: %s reservations through the API, fanned out to %d subscribers…\n", benchCommas(int64(events)), n)
	pctx, cancel := context.WithTimeout(ctx, benchStreamTimeout)
	defer cancel()
	g, gctx := errgroup.WithContext(pctx)
	epoch := time.Now()
	for _, s := range subs {
		g.Go(func() error { return s.follow(gctx, events, epoch, nil) })
	}
	g.Go(func() error {
		_, err := benchLoad(gctx, benchStreamProducers, benchUpTo(int64(events)), func(ctx context.Context) error {
			if err := api.create(ctx); err != nil {
				return fmt.Errorf("book a reservation: %v", err) // every event must come: a refusal ends the phase
			}
			return nil
		})
		return err
	})
	if err := g.Wait(); err != nil {
		return benchStreamShortfall(err, subs, events)
	}
	m.ElapsedSec = time.Since(epoch).Seconds()
	for _, s := range subs {
		m.Delivered += int64(s.got)
	}
	if m.BusyMiB, m.PeakMiB, err = benchMemoryOf(srv.pid); err != nil {
		return err
	}
	m.Busy, _ = benchGoMemoryOf(ctx, hc, srv.base)

	// The subscribers leave; the clock starts when the server has seen
	// them all go.
	closeSubs()
	left := time.Now()
	if err := benchWaitNoSubscribers(ctx, hc, srv.base); err != nil {
		return err
	}
	gone := time.Now()
	m.GoneSec = gone.Sub(left).Seconds()
	fmt.Fprintf(b.progress, "memory: subscribers gone; reading the server's RSS for %s…\n", b.opts.settle)
	at := []time.Duration{b.opts.settle}
	if b.opts.settle > benchStreamEarlyRead {
		at = []time.Duration{benchStreamEarlyRead, b.opts.settle}
	}
	for _, d := range at {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Until(gone.Add(d))):
		}
		rss, _, err := benchMemoryOf(srv.pid)
		if err != nil {
			return err
		}
		r := benchStreamMemoryReading{AfterSec: d.Seconds(), RSSMiB: rss}
		r.Go, _ = benchGoMemoryOf(ctx, hc, srv.base)
		m.After = append(m.After, r)
	}
	if b.opts.settle >= benchStreamTargetSettle {
		pass := m.After[len(m.After)-1].RSSMiB < benchStreamTargetRSSMiB
		m.Pass = &pass
	}
	if n := srv.log.count(); n > 0 {
		fmt.Fprintf(b.progress, "the server logged %d lines at level warn or above%s\n", n, srv.log.tail())
	}
	b.rep.Memory = m
	b.printMemory()
	return nil
}

// benchWaitNoSubscribers waits until the server's metrics count no
// stream subscriber (a minute at most).
func benchWaitNoSubscribers(ctx context.Context, hc *http.Client, base string) error {
	deadline := time.Now().Add(time.Minute)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		g, err := benchGoMemoryOf(ctx, hc, base)
		if err == nil && g.Subscribers == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the server still counts stream subscribers a minute after they closed (%+v, %v)", g, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// benchGoMemoryOf reads the server's Go memory figures from /metrics.
func benchGoMemoryOf(ctx context.Context, hc *http.Client, base string) (*benchGoMemory, error) {
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, base+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: status %d", resp.StatusCode)
	}
	const mib = 1 << 20
	g := &benchGoMemory{}
	found := 0
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " ")
		if !ok || strings.HasPrefix(name, "#") {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if err != nil {
			continue
		}
		found++
		switch name {
		case "go_memstats_heap_inuse_bytes":
			g.HeapInuseMiB = v / mib
		case "go_memstats_heap_idle_bytes":
			g.HeapIdleMiB = v / mib
		case "go_memstats_heap_released_bytes":
			g.HeapReleasedMiB = v / mib
		case "go_memstats_next_gc_bytes":
			g.NextGCMiB = v / mib
		case "go_memstats_stack_inuse_bytes":
			g.StackMiB = v / mib
		case "go_memstats_sys_bytes":
			g.SysMiB = v / mib
		case "go_goroutines":
			g.Goroutines = int(v)
		case "slotline_stream_subscribers":
			g.Subscribers = int(v)
		default:
			found--
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if found < 8 {
		return nil, fmt.Errorf("GET /metrics: %d of the 8 memory figures", found)
	}
	return g, nil
}

func (b *benchStream) printMemory() {
	if b.text == nil {
		return
	}
	m := b.rep.Memory
	fmt.Fprintf(b.text, "%-7s %-31s peak %.1f MiB, %.1f MiB at the last delivery (%.1f MiB subscribed, before); %s events × %d in %.2f s%s\n",
		"memory", fmt.Sprintf("server RSS, %d subscribers", m.Subscribers), m.PeakMiB, m.BusyMiB, m.BeforeMiB,
		benchCommas(int64(m.Events)), m.Subscribers, m.ElapsedSec, benchGoLine(m.Busy))
	for i, r := range m.After {
		line := fmt.Sprintf("%-7s %-31s %5.1f MiB%s", "", fmt.Sprintf("%s after they left", time.Duration(r.AfterSec*float64(time.Second))), r.RSSMiB, benchGoLine(r.Go))
		if i == len(m.After)-1 && m.Pass != nil {
			line += fmt.Sprintf("  (target < %g MiB) %s", m.TargetMiB, benchVerdict(*m.Pass))
		}
		fmt.Fprintln(b.text, line)
	}
}

// benchGoLine describes the Go heap, or says nothing.
func benchGoLine(g *benchGoMemory) string {
	if g == nil {
		return ""
	}
	return fmt.Sprintf("; heap in use %.1f, idle %.1f (%.1f returned), next GC %.1f, stacks %.1f MiB, %d goroutines",
		g.HeapInuseMiB, g.HeapIdleMiB, g.HeapReleasedMiB, g.NextGCMiB, g.StackMiB, g.Goroutines)
}
