package main

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestBenchSync runs "slotline bench sync" briefly on SQLite and checks
// that every reservation reached the simulator exactly once and that the
// figures are there. It proves the command works; it says nothing about
// speed.
func TestBenchSync(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the slotline binary and runs it as a server")
	}
	t.Parallel()
	bin := filepath.Join(t.TempDir(), "slotline")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	tmp := t.TempDir()
	getenv := func(k string) string {
		if k == "TMPDIR" {
			return tmp
		}
		return ""
	}
	var stdout, stderr bytes.Buffer
	args := []string{"slotline", "bench", "sync", "--reservations", "200", "--rate", "100", "--json", "--server-bin", bin}
	if err := run(t.Context(), args, getenv, nil, &stdout, &stderr); err != nil {
		t.Fatalf("run: %v\nstderr:\n%s", err, stderr.String())
	}

	var rep benchSyncReport
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("output is not the JSON report: %v\n%s", err, stdout.String())
	}
	if rep.Admit == nil || rep.Drain == nil || rep.Latency == nil || rep.Check == nil {
		t.Fatalf("a section is missing from the report:\n%s", stdout.String())
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
	if d := rep.Drain; d.Creates != 200 || d.CreatesPerSec <= 0 || d.CreatesRatio <= 0 || d.APIRequests < d.Creates || d.APIPerSec <= 0 {
		t.Errorf("drain: %+v; want 200 creates and positive rates", *d)
	}
	if l := rep.Latency; l.SyncedCount != 200 || l.SyncedP50Ms <= 0 || l.SyncedP99Ms < l.SyncedP50Ms || l.GenesysP99Ms <= 0 {
		t.Errorf("latency: %+v; want 200 synced and positive percentiles", *l)
	}
	if matches, _ := filepath.Glob(filepath.Join(tmp, "slotline-bench-*")); len(matches) > 0 {
		t.Errorf("the bench left %v behind", matches)
	}
}
