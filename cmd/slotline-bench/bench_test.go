package main

import (
	"bytes"
	"encoding/json"
	"math"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestBenchAdmit runs every phase of "slotline-bench admit" briefly on
// SQLite and checks that each reports figures. It proves the command
// works; it says nothing about speed.
func TestBenchAdmit(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the slotline binary and runs it as a server")
	}
	t.Parallel()
	bin := buildSlotline(t)
	var rep benchReport
	out := runBenchJSON(t, &rep, "admit", "--duration", "300ms", "--reservations", "2000", "--subscribers", "2",
		"--json", "--server-bin", bin)
	if rep.Floor == nil || rep.GroupFloor == nil || rep.Store == nil || rep.HTTP == nil || rep.Memory == nil || rep.Admission == nil || rep.AdmissionHTTP == nil {
		t.Fatalf("a phase is missing from the report:\n%s", out)
	}
	for name, f := range map[string]*benchRateFigures{
		"floor": rep.Floor, "group-commit floor": &rep.GroupFloor.benchRateFigures, "store": &rep.Store.benchRateFigures,
		"http post": &rep.HTTP.Post, "http healthz": &rep.HTTP.Health, "http trivial": &rep.HTTP.Trivial, "memory fill": rep.Memory.Fill,
		"admission off": &rep.Admission.Off, "admission on": &rep.Admission.On,
		"api admission off": &rep.AdmissionHTTP.Off, "api admission on": &rep.AdmissionHTTP.On,
	} {
		if f.Count <= 0 || f.PerSec <= 0 || f.P50Ms <= 0 || f.P99Ms < f.P50Ms {
			t.Errorf("%s: figures %+v, want positive ones", name, *f)
		}
		if len(f.Failures) > 0 {
			t.Errorf("%s: failures %v; first: %s", name, f.Failures, f.FirstFailure)
		}
	}
	for name, f := range map[string]*benchAdmissionFigures{"admission": rep.Admission, "api admission": rep.AdmissionHTTP} {
		if want := f.On.PerSec / f.Off.PerSec; f.Ratio != want || f.Pass != (f.Ratio >= f.TargetRatio) {
			t.Errorf("%s: ratio %.3f (pass %v), want on/off %.3f against %.2f", name, f.Ratio, f.Pass, want, f.TargetRatio)
		}
	}
	if rep.Store.FloorRatio == nil || *rep.Store.FloorRatio <= 0 {
		t.Errorf("store: no ratio to the floor")
	}
	// The group-commit floor commits its rows together, at most 64 at a
	// time, and the store's ratio is to it.
	g := rep.GroupFloor
	if g.Commits <= 0 || g.RowsPerCommit <= 1 || g.RowsPerCommit > 64 || g.MaxRows != 64 || g.Clients != 16 ||
		math.Abs(g.RowsPerCommit*float64(g.Commits)-float64(g.Count)) > 0.5 {
		t.Errorf("group-commit floor: %d rows in %d commits (%.2f each, at most %d) from %d clients; want them all counted, more than 1 and at most 64 each, 16 clients",
			g.Count, g.Commits, g.RowsPerCommit, g.MaxRows, g.Clients)
	}
	if r := rep.Store.GroupFloorRatio; r == nil || math.Abs(*r-rep.Store.PerSec/g.PerSec) > 1e-9 {
		t.Errorf("store: ratio to the group-commit floor %v, want %.4f", r, rep.Store.PerSec/g.PerSec)
	}
	// Every create of the store phase inserted its sync job, as serve's
	// creates do.
	if rep.Store.SyncJobs != int64(rep.Store.Count) {
		t.Errorf("store: %d sync jobs for %d creates, want one each", rep.Store.SyncJobs, rep.Store.Count)
	}
	if want := rep.HTTP.Post.PerSec / rep.HTTP.Trivial.PerSec; rep.HTTP.PostTrivialRatio != want {
		t.Errorf("http: POST ÷ trivial %.3f, want %.3f", rep.HTTP.PostTrivialRatio, want)
	}
	if rep.HTTP.PostCPUUs <= 0 || rep.HTTP.TrivialCPUUs < 0 {
		t.Errorf("http: server CPU %.0f µs a create, trivial %.0f µs; want them measured", rep.HTTP.PostCPUUs, rep.HTTP.TrivialCPUUs)
	}
	if rep.Memory.Reservations != 2000 || rep.Memory.RSSMiB <= 0 || rep.Memory.PeakMiB < rep.Memory.RSSMiB {
		t.Errorf("memory: %d reservations, RSS %.1f MiB, peak %.1f MiB; want 2000 and positive figures",
			rep.Memory.Reservations, rep.Memory.RSSMiB, rep.Memory.PeakMiB)
	}
	if rep.Memory.Subscribers != 2 || rep.Memory.StreamEvents <= 0 {
		t.Errorf("memory: %d subscribers got %d events; want 2 following the stream", rep.Memory.Subscribers, rep.Memory.StreamEvents)
	}
}

func TestBenchPercentile(t *testing.T) {
	t.Parallel()
	ms := func(n ...int) []time.Duration {
		out := make([]time.Duration, len(n))
		for i, v := range n {
			out[i] = time.Duration(v) * time.Millisecond
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = i + 1
	}
	tests := []struct {
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{nil, 0.5, 0},
		{ms(7), 0.99, 7 * time.Millisecond},
		{ms(1, 2, 3, 4), 0.5, 2 * time.Millisecond},
		{ms(hundred...), 0.5, 50 * time.Millisecond},
		{ms(hundred...), 0.99, 99 * time.Millisecond},
		{ms(hundred...), 1, 100 * time.Millisecond},
	}
	for _, tt := range tests {
		if got := benchPercentile(tt.sorted, tt.p); got != tt.want {
			t.Errorf("benchPercentile(%d values, %g) = %v, want %v", len(tt.sorted), tt.p, got, tt.want)
		}
	}
}

func TestBenchCommas(t *testing.T) {
	t.Parallel()
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 16912: "16,912", 1234567: "1,234,567", -2500: "-2,500"} {
		if got := benchCommas(n); got != want {
			t.Errorf("benchCommas(%d) = %q, want %q", n, got, want)
		}
	}
}

// buildSlotline builds the slotline binary for a bench to run as its server.
func buildSlotline(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "slotline")
	if out, err := exec.Command("go", "build", "-o", bin, "../slotline").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// runBenchJSON runs "slotline args…" (args ask for --json) with its temporary files in
// a directory of its own, decodes the report into report, checks that the
// bench left no files behind, and returns the output.
func runBenchJSON(t *testing.T, report any, args ...string) string {
	t.Helper()
	tmp := t.TempDir()
	getenv := func(k string) string {
		if k == "TMPDIR" {
			return tmp
		}
		return ""
	}
	var stdout, stderr bytes.Buffer
	if err := run(t.Context(), append([]string{"slotline-bench"}, args...), getenv, nil, &stdout, &stderr); err != nil {
		t.Fatalf("run: %v\nstderr:\n%s", err, stderr.String())
	}
	if err := json.Unmarshal(stdout.Bytes(), report); err != nil {
		t.Fatalf("output is not the JSON report: %v\n%s", err, stdout.String())
	}
	if matches, _ := filepath.Glob(filepath.Join(tmp, "slotline-bench-*")); len(matches) > 0 {
		t.Errorf("the bench left %v behind", matches)
	}
	return stdout.String()
}
