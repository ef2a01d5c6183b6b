package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/slotline/slotline/internal/reservation"
)

// The admission phase: store admissions with a queue's number rules,
// duplicates strict and both throttles on, against the same admissions
// with today's default of none of them, each on a fresh database in the
// same run.

const benchTargetAdmissionRatio = 0.85

// benchAdmissionRules are the number rules of the "on" run: the
// countries, a blocked prefix and the default refused types.
var benchAdmissionRules = &reservation.NumberRules{Countries: []string{"US", "CA"}, Block: []string{"+1900"},
	RefuseTypes: reservation.DefaultRefuseTypes}

// benchAdmissionOn is the duplicate rule and throttles of the "on" run:
// every create is judged and counted by each, and none is refused (every
// number is new, and per_queue is more than a run books).
var benchAdmissionOn = reservation.Admission{Duplicates: reservation.DuplicatesStrict, Scope: reservation.ScopeQueue,
	PerNumber: reservation.Limit{N: 6, Window: 24 * time.Hour}, PerQueue: reservation.Limit{N: 1_000_000, Window: time.Hour}}

type benchAdmissionFigures struct {
	Off         benchRateFigures `json:"off"`
	On          benchRateFigures `json:"on"`
	Ratio       float64          `json:"ratio"`
	Rounds      []float64        `json:"round_ratios,omitempty"` // with --rounds > 1, each round's ratio
	TargetRatio float64          `json:"target_ratio"`
	Pass        bool             `json:"pass"`
}

// runAdmission measures store admissions without, then with, the
// admission rules, in --rounds rounds; the figures are those of the
// round with the median ratio, so that a burst of load from elsewhere on
// the machine during one run moves the figure less.
func (b *bench) runAdmission(ctx context.Context) error {
	f, err := b.admissionRounds(ctx, "admission", func(ctx context.Context, name string, on bool) (*benchRateFigures, error) {
		if on {
			return b.admissionRun(ctx, name, &benchAdmissionOn)
		}
		return b.admissionRun(ctx, name, nil)
	})
	if err != nil {
		return err
	}
	b.rep.Admission = f
	b.printAdmission("admit", "admissions, rules off", "rules, strict, throttles on", f)
	return nil
}

// runAdmissionHTTP measures POST /api/v2/callbacks of a server whose queue
// has no admission rules against one whose queue has the number rules,
// duplicates strict and both throttles (benchAdmissionQueue), each on a
// fresh database, in --rounds rounds: the admission rate a website sees.
func (b *bench) runAdmissionHTTP(ctx context.Context) error {
	f, err := b.admissionRounds(ctx, "admission-http", func(ctx context.Context, name string, on bool) (*benchRateFigures, error) {
		var extra map[string]any
		if on {
			extra = benchAdmissionQueue
		}
		return b.admissionHTTPRun(ctx, name, extra)
	})
	if err != nil {
		return err
	}
	b.rep.AdmissionHTTP = f
	b.printAdmission("api", "POST /callbacks, rules off", "POST, rules, strict, throttles", f)
	return nil
}

// benchAdmissionQueue is the queue configuration of the "on" server: the
// same rules as benchAdmissionRules and benchAdmissionOn.
var benchAdmissionQueue = map[string]any{
	"number_rules": map[string]any{"countries": []string{"US", "CA"}, "block": []string{"+1900"},
		"refuse_types": []string{"premium_rate", "shared_cost"}},
	"duplicates": "strict", "duplicates_scope": "queue",
	"throttle": map[string]any{"per_number": "6/24h", "per_queue": "1000000/1h"},
}

// benchRatios lists ratios, two decimals each.
func benchRatios(rs []float64) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = fmt.Sprintf("%.2f", r)
	}
	return strings.Join(parts, " ")
}

// admissionRounds runs one(off) then one(on) in each of --rounds rounds and
// keeps the round of the median ratio.
func (b *bench) admissionRounds(ctx context.Context, phase string, one func(ctx context.Context, name string, on bool) (*benchRateFigures, error)) (*benchAdmissionFigures, error) {
	type round struct {
		off, on *benchRateFigures
		ratio   float64
	}
	var rounds []round
	for i := range max(1, b.opts.rounds) {
		off, err := one(ctx, fmt.Sprintf("%s-off-%d", phase, i+1), false)
		if err != nil {
			return nil, err
		}
		on, err := one(ctx, fmt.Sprintf("%s-on-%d", phase, i+1), true)
		if err != nil {
			return nil, err
		}
		rd := round{off: off, on: on}
		if off.PerSec > 0 {
			rd.ratio = on.PerSec / off.PerSec
		}
		rounds = append(rounds, rd)
	}
	f := &benchAdmissionFigures{TargetRatio: benchTargetAdmissionRatio}
	if len(rounds) > 1 {
		for _, rd := range rounds {
			f.Rounds = append(f.Rounds, rd.ratio)
		}
	}
	slices.SortFunc(rounds, func(a, b round) int { return cmp.Compare(a.ratio, b.ratio) })
	med := rounds[len(rounds)/2]
	f.Off, f.On, f.Ratio = *med.off, *med.on, med.ratio
	f.Pass = f.Ratio >= benchTargetAdmissionRatio
	return f, nil
}

func (b *bench) printAdmission(tag, offName, onName string, f *benchAdmissionFigures) {
	if b.text == nil {
		return
	}
	off, on := &f.Off, &f.On
	fmt.Fprintf(b.text, "%-7s %-31s %8s /s    %s\n", tag, offName, benchCommas(int64(off.PerSec)), benchLatency(off))
	fmt.Fprintf(b.text, "%-7s %-31s %8s /s    %s  %.2f× off (target ≥ %.2f) %s\n", tag, onName,
		benchCommas(int64(on.PerSec)), benchLatency(on), f.Ratio, f.TargetRatio, benchVerdict(f.Pass))
	if len(f.Rounds) > 1 {
		fmt.Fprintf(b.text, "%-7s %-31s %s (the median's figures above)\n", tag, "ratio of each round", benchRatios(f.Rounds))
	}
	b.printFailures(off)
	b.printFailures(on)
}

// admissionHTTPRun starts a server (syncing to a simulator of its own, as
// the http phase does) on a fresh database with the queue's keys extra,
// and measures its creates.
func (b *bench) admissionHTTPRun(ctx context.Context, name string, extra map[string]any) (_ *benchRateFigures, err error) {
	dsn, err := b.dbs.fresh(ctx, name)
	if err != nil {
		return nil, err
	}
	gs, err := startBenchServerSim(b.dbs.dir, benchCapacityFor(b.opts.reservations), extra)
	if gs != nil {
		defer gs.sim.Close()
	}
	if err != nil {
		return nil, err
	}
	secret, cfgPath := gs.secret, gs.config
	hc := newBenchHTTPClient(4 * b.opts.clients)
	srv, err := b.startServer(ctx, hc, cfgPath, dsn)
	if err != nil {
		return nil, err
	}
	defer func() {
		hc.CloseIdleConnections()
		err = errors.Join(err, srv.stop())
	}()
	api := &benchAPI{hc: hc, base: srv.base, run: benchRandomHex(4), grid: newBenchGrid(time.Now(), benchHTTPBuckets)}
	if err := api.fetchToken(ctx, benchClientID, secret); err != nil {
		return nil, err
	}
	fmt.Fprintf(b.progress, "%s: POST /api/v2/callbacks, %d clients, %s…\n", name, b.opts.clients, b.opts.duration)
	res, err := benchLoad(ctx, b.opts.clients, benchDuring(b.opts.duration), api.create)
	if err != nil {
		return nil, err
	}
	return res.figures(), nil
}

// admissionRun is the store phase's load on a fresh database, each create
// checked against the number rules and adm when adm is not nil.
func (b *bench) admissionRun(ctx context.Context, name string, adm *reservation.Admission) (*benchRateFigures, error) {
	dsn, err := b.dbs.fresh(ctx, name)
	if err != nil {
		return nil, err
	}
	st, err := openBenchStore(ctx, dsn)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	grid := newBenchGrid(time.Now(), benchStoreBuckets)
	prefix := benchRandomHex(4)
	var n atomic.Int64
	fmt.Fprintf(b.progress, "%s: %d clients, %s…\n", name, b.opts.clients, b.opts.duration)
	res, err := benchLoad(ctx, b.opts.clients, benchDuring(b.opts.duration), func(ctx context.Context) error {
		r, cands, w := benchStoreRequest(prefix, n.Add(1), grid)
		if adm != nil {
			if err := benchAdmissionRules.Check(r.CallbackNumber); err != nil {
				return &benchFailure{"number_not_allowed", err.Error()}
			}
			w.Admission = adm
		}
		_, err := st.CreateReservation(ctx, r, cands, w)
		var de *reservation.DuplicateError
		var te *reservation.ThrottledError
		switch {
		case errors.Is(err, reservation.ErrFull):
			return &benchFailure{"full", err.Error()}
		case errors.As(err, &de):
			return &benchFailure{"duplicate", err.Error()}
		case errors.As(err, &te):
			return &benchFailure{"throttled", err.Error()}
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return res.figures(), nil
}
