package fakeclock_test

import (
	"context"
	"testing"
	"time"

	"github.com/slotline/slotline/internal/fakeclock"
)

func TestLockstep(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(1_700_000_000, 0)
	clk := fakeclock.New(t0)
	woke := make([][]time.Duration, 3)
	// Worker i sleeps i+1 seconds, three times.
	err := clk.Lockstep(context.Background(), 3, func(ctx context.Context, i int) bool {
		if err := clk.Sleep(ctx, time.Duration(i+1)*time.Second); err != nil {
			t.Error(err)
			return false
		}
		woke[i] = append(woke[i], clk.Now().Sub(t0))
		return len(woke[i]) < 3
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, got := range woke {
		for k, d := range got {
			if want := time.Duration((k+1)*(i+1)) * time.Second; d != want {
				t.Errorf("worker %d woke at %s the %d-th time, want %s", i, d, k+1, want)
			}
		}
	}
	if d := clk.Now().Sub(t0); d != 9*time.Second {
		t.Errorf("clock at %s, want 9s", d)
	}
}

func TestSleepCanceled(t *testing.T) {
	t.Parallel()
	clk := fakeclock.New(time.Unix(0, 0))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- clk.Sleep(ctx, time.Hour) }()
	if err := clk.WaitFor(context.Background(), func(n int) bool { return n == 1 }); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; err != context.Canceled {
		t.Errorf("Sleep = %v, want context.Canceled", err)
	}
	if n := clk.Sleepers(); n != 0 {
		t.Errorf("%d sleepers left", n)
	}
}
