package syncer

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"testing/synctest"
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
	// Busy until the job ends: it returns once it has. In a synctest
	// bubble, so that its poll of the job count runs on a fake clock.
	synctest.Test(t, func(t *testing.T) {
		const busy = 300 * time.Millisecond
		start := time.Now()
		returned := make(chan error, 1)
		go func() { returned <- r.yieldToSync(context.Background()) }()
		time.Sleep(busy) // fake time: the sync job runs this long
		synctest.Wait()  // yieldToSync has looked again and waits
		select {
		case err := <-returned:
			t.Fatalf("returned (%v) after %v, while the sync job still ran", err, time.Since(start))
		default:
		}
		r.syncing.Store(0)
		if err := <-returned; err != nil {
			t.Fatal(err)
		}
		if waited := time.Since(start); waited < busy || waited >= reconcileYield {
			t.Fatalf("returned after %v; the sync job ran %v (and the wait is at most %v)", waited, busy, reconcileYield)
		}
	})
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

// The wait before a failed sync is tried again doubles per attempt, from
// FailedRetryBase to FailedRetryMax.
func TestRetryDelay(t *testing.T) {
	r := &Runner{cfg: Config{FailedRetryBase: time.Minute, FailedRetryMax: time.Hour}}
	for attempts, want := range []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 16 * time.Minute,
		32 * time.Minute, time.Hour, time.Hour} {
		if got := r.retryDelay(attempts); got != want {
			t.Errorf("retryDelay(%d) = %v, want %v", attempts, got, want)
		}
	}
	if got := r.retryDelay(1000); got != time.Hour {
		t.Errorf("retryDelay(1000) = %v, want the cap", got)
	}
}
