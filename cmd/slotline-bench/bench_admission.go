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
	"github.com/slotline/slotline/internal/storage"
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
	type round struct {
		off, on *benchRateFigures
		ratio   float64
	}
	var rounds []round
	for i := range max(1, b.opts.rounds) {
		off, err := b.admissionRun(ctx, fmt.Sprintf("admission-off-%d", i+1), nil)
		if err != nil {
			return err
		}
		on, err := b.admissionRun(ctx, fmt.Sprintf("admission-on-%d", i+1), &benchAdmissionOn)
		if err != nil {
			return err
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
	off, on := med.off, med.on
	f.Off, f.On, f.Ratio = *off, *on, med.ratio
	f.Pass = f.Ratio >= benchTargetAdmissionRatio
	b.rep.Admission = f
	if b.text != nil {
		fmt.Fprintf(b.text, "%-7s %-31s %8s /s    %s\n", "admit", "admissions, rules off", benchCommas(int64(off.PerSec)), benchLatency(off))
		fmt.Fprintf(b.text, "%-7s %-31s %8s /s    %s  %.2f× off (target ≥ %.2f) %s\n", "admit", "rules, strict, throttles on",
			benchCommas(int64(on.PerSec)), benchLatency(on), f.Ratio, f.TargetRatio, benchVerdict(f.Pass))
		if len(f.Rounds) > 1 {
			parts := make([]string, len(f.Rounds))
			for i, r := range f.Rounds {
				parts[i] = fmt.Sprintf("%.2f", r)
			}
			fmt.Fprintf(b.text, "%-7s %-31s %s (the median's figures above)\n", "admit", "ratio of each round", strings.Join(parts, " "))
		}
		b.printFailures(off)
		b.printFailures(on)
	}
	return nil
}

// admissionRun is the store phase's load on a fresh database, each create
// checked against the number rules and adm when adm is not nil.
func (b *bench) admissionRun(ctx context.Context, name string, adm *reservation.Admission) (*benchRateFigures, error) {
	dsn, err := b.dbs.fresh(ctx, name)
	if err != nil {
		return nil, err
	}
	st, err := storage.Open(ctx, dsn, storage.Options{})
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
