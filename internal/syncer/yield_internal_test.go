package syncer

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"
)

// Reconciliation waits for this process's sync jobs, and only for them.
func TestReconcileYieldsToSync(t *testing.T) {
	r := &Runner{}
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	// Idle: no wait at all, even with a context that is done.
	if err := r.yieldToSync(canceled); err != nil {
		t.Fatalf("with no sync job running: %v", err)
	}
	// Busy: it waits, and a done context ends the wait.
	r.syncing.Store(1)
	if err := r.yieldToSync(canceled); !errors.Is(err, context.Canceled) {
		t.Fatalf("with a sync job running and a canceled context: %v", err)
	}
	// Busy until the job ends: it returns once it has.
	const busy = 300 * time.Millisecond
	start := time.Now()
	go func() {
		time.Sleep(busy)
		r.syncing.Store(0)
	}()
	if err := r.yieldToSync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(start); waited < busy {
		t.Fatalf("returned after %v, while the sync job ran %v", waited, busy)
	}
	if r.syncing.Load() != 0 {
		t.Fatal("returned while the sync job still ran")
	}
}

// A second reconciliation while one runs in the process returns at once
// (this Runner has no store: a pass would fail on it).
func TestReconcileRunsOnePassAtATime(t *testing.T) {
	r := &Runner{logger: slog.New(slog.DiscardHandler)}
	r.reconciling.Store(true)
	if err := r.Reconcile(context.Background()); err != nil {
		t.Fatalf("Reconcile beside a running pass: %v", err)
	}
	if !r.reconciling.Load() {
		t.Fatal("the second Reconcile cleared the running pass's mark")
	}
}
