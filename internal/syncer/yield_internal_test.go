package syncer

import (
	"context"
	"errors"
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
