package main

import (
	"os"
	"testing"
)

// TestBenchProcesses runs the processes phase of "slotline-bench admit"
// briefly with one and two serve processes on PostgreSQL (4 clients each:
// --clients-per-process), in two rounds, and checks that each count
// reports its figures and clients, the first as the floor, and that the
// figure is the median round's. It proves the phase works; it says
// nothing about speed.
func TestBenchProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the slotline binary and runs it as two servers")
	}
	db := os.Getenv("TEST_DATABASE_URL")
	if db == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("TEST_DATABASE_URL is not set; under CI the PostgreSQL tests must run")
		}
		t.Skip("TEST_DATABASE_URL is not set")
	}
	t.Parallel()
	bin := buildSlotline(t)
	var rep benchReport
	args := []string{"admit", "--db", db, "--phases", "processes", "--processes", "2", "--duration", "300ms",
		"--clients", "4", "--clients-per-process", "--rounds", "2", "--json", "--server-bin", bin}
	limited := os.Geteuid() == 0 // cgroups need root (TestBenchLimitCPU tests them)
	if limited {
		args = append(args, "--process-cpus", "1")
	}
	out := runBenchJSON(t, &rep, args...)
	f := rep.Processes
	if f == nil || len(f.Runs) != 2 {
		t.Fatalf("want the processes phase with 2 runs:\n%s", out)
	}
	if limited && f.ProcessCPUs != 1 {
		t.Errorf("the report's CPU limit is %g, want the 1 of --process-cpus", f.ProcessCPUs)
	}
	for i, r := range f.Runs {
		if r.Processes != i+1 || r.Count <= 0 || r.PerSec <= 0 || r.P99Ms < r.P50Ms || len(r.Failures) > 0 {
			t.Errorf("run %d: %+v, want %d processes and positive figures without failures", i, r, i+1)
		}
		if r.Clients != 4*(i+1) { // --clients-per-process
			t.Errorf("run %d: %d clients, want 4 for each of its %d processes", i, r.Clients, r.Processes)
		}
		// The database's is 0 where its backends are not this machine's
		// processes (a container).
		if r.ServerCPUus <= 0 || r.MachineCPUus <= 0 || r.DatabaseCPUus < 0 {
			t.Errorf("run %d: CPU per admission servers %.0f µs, database %.0f µs, machine %.0f µs; want positive",
				i, r.ServerCPUus, r.DatabaseCPUus, r.MachineCPUus)
		}
	}
	for i, r := range f.Runs {
		if r.BackendsSeen < 0 || r.LockWaiters < 0 || r.IdleInTx < 0 || r.LockWaiters+r.IdleInTx > r.BackendsSeen {
			t.Errorf("run %d: %.2f backends waiting on a lock and %.2f idle in a transaction of %.2f", i, r.LockWaiters, r.IdleInTx, r.BackendsSeen)
		}
	}
	// Of two rounds, the median is the higher ratio.
	if len(f.Rounds) != 2 || f.Ratio != max(f.Rounds[0], f.Rounds[1]) {
		t.Errorf("round ratios %v, figure %.3f: want two rounds and the higher of them", f.Rounds, f.Ratio)
	}
	if f.Runs[0].FloorRatio != 1 || f.Ratio != f.Runs[1].PerSec/f.Runs[0].PerSec || f.Pass != (f.Ratio >= f.TargetRatio) {
		t.Errorf("ratios: first %.3f, result %.3f (pass %v); want 1 and the second's rate ÷ the first's against %.2f",
			f.Runs[0].FloorRatio, f.Ratio, f.Pass, f.TargetRatio)
	}
}
