package storage_test

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/slotline/slotline/internal/storage"
	"github.com/slotline/slotline/internal/storage/storagetest"
)

// TestGenesysBudget: the shared budget's statements on PostgreSQL, step by
// step on explicit times: a new budget starts full, refills at
// max(limit - burst, limit / 2) a minute up to its size, grants whole tokens
// only, grants nothing while paused, follows the lowest allowance until it
// lapses, and never moves its time backwards.
func TestGenesysBudget(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := storage.Open(ctx, storagetest.PostgresDSN(t), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	t0 := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	// 65 a minute with a burst of 5: 1 token a second; 4 held at most.
	take := func(at time.Duration, want int) storage.Budget {
		t.Helper()
		b, err := s.TakeGenesysBudget(ctx, "client-a", storage.BudgetTake{Now: t0.Add(at), Want: want, PerMinute: 65, Burst: 5, Size: 4})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	check := func(b storage.Budget, granted int, tokens float64) {
		t.Helper()
		if b.Granted != granted || math.Abs(b.Tokens-tokens) > 1e-6 {
			t.Errorf("granted %d, %g left; want %d, %g", b.Granted, b.Tokens, granted, tokens)
		}
	}

	check(take(0, 3), 3, 1)                      // new: full (4)
	check(take(0, 5), 1, 0)                      // what is left
	check(take(1500*time.Millisecond, 5), 1, .5) // 1.5 refilled
	check(take(1*time.Second, 5), 0, .5)         // an earlier clock refills nothing
	check(take(10*time.Second, 5), 4, 0)         // capped at the size

	// Another client's budget is its own.
	if b, err := s.TakeGenesysBudget(ctx, "client-b", storage.BudgetTake{Now: t0.Add(10 * time.Second), Want: 2, PerMinute: 65, Burst: 5, Size: 4}); err != nil || b.Granted != 2 {
		t.Errorf("client-b: %+v, %v", b, err)
	}

	// Paused: nothing until then, while the bucket refills.
	if err := s.PauseGenesysBudget(ctx, "client-a", t0.Add(10*time.Second), t0.Add(20*time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := s.PauseGenesysBudget(ctx, "client-a", t0.Add(10*time.Second), t0.Add(15*time.Second)); err != nil {
		t.Fatal(err) // a shorter pause changes nothing
	}
	b := take(19*time.Second, 5)
	check(b, 0, 4)
	if !b.PausedUntil.Equal(t0.Add(20 * time.Second)) {
		t.Errorf("paused until %s, want %s", b.PausedUntil, t0.Add(20*time.Second))
	}
	check(take(20*time.Second, 5), 4, 0)

	// An allowance of 35 a minute: (35 - 5) a minute, half a token a second.
	if err := s.AllowGenesysBudget(ctx, "client-a", 35, t0.Add(20*time.Second), t0.Add(80*time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := s.AllowGenesysBudget(ctx, "client-a", 50, t0.Add(20*time.Second), t0.Add(90*time.Second)); err != nil {
		t.Fatal(err) // higher: the lower one holds
	}
	b = take(22*time.Second, 5)
	check(b, 1, 0)
	if b.Allowed != 35 || !b.AllowedUntil.Equal(t0.Add(80*time.Second)) {
		t.Errorf("allowance %d until %s, want 35 until %s", b.Allowed, b.AllowedUntil, t0.Add(80*time.Second))
	}
	// Once it lapsed, the configured rate again: 1 a second.
	check(take(80*time.Second, 0), 0, 4)
	check(take(80*time.Second, 4), 4, 0)
	check(take(83*time.Second, 5), 3, 0)
	// A lapsed allowance is replaced by a higher one.
	if err := s.AllowGenesysBudget(ctx, "client-a", 50, t0.Add(83*time.Second), t0.Add(143*time.Second)); err != nil {
		t.Fatal(err)
	}
	if b := take(83*time.Second, 0); b.Allowed != 50 {
		t.Errorf("allowance %d, want 50 (the lapsed 35 replaced)", b.Allowed)
	}
}

// TestGenesysBudgetNeedsPostgres: SQLite keeps no shared budget.
func TestGenesysBudgetNeedsPostgres(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := storage.Open(ctx, "sqlite:"+t.TempDir()+"/db", storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.TakeGenesysBudget(ctx, "k", storage.BudgetTake{Now: time.Now(), Want: 1, PerMinute: 60, Burst: 1, Size: 1}); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("TakeGenesysBudget on SQLite: %v, want ErrUnsupported", err)
	}
}
