package storagetest

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/slotline/slotline/internal/reservation"
	"github.com/slotline/slotline/internal/storage"
)

func testConsoleSessions(t *testing.T, s *storage.Store) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	a := &storage.ConsoleSession{Digest: "aa", Operator: "ada", Role: "supervisor", Queues: []string{"q1", "q2"},
		Source: "local", CSRF: "secret-a", CreatedAt: now, LastSeenAt: now}
	b := &storage.ConsoleSession{Digest: "bb", Operator: "bob", Role: "viewer", Source: "local", CSRF: "secret-b",
		CreatedAt: now.Add(-13 * time.Hour), LastSeenAt: now}
	c := &storage.ConsoleSession{Digest: "cc", Operator: "cy", Role: "admin", Source: "local", CSRF: "secret-c",
		CreatedAt: now.Add(-time.Hour), LastSeenAt: now.Add(-time.Hour)}
	for _, cs := range []*storage.ConsoleSession{a, b, c} {
		if err := s.CreateConsoleSession(ctx, cs); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.FindConsoleSession(ctx, "aa")
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(a, got); d != "" {
		t.Errorf("FindConsoleSession (-want +got):\n%s", d)
	}
	if got, err := s.FindConsoleSession(ctx, "bb"); err != nil || len(got.Queues) != 0 {
		t.Errorf("session without queues = %+v, %v", got, err)
	}
	if _, err := s.FindConsoleSession(ctx, "zz"); reservation.ErrorCode(err) != reservation.ENOTFOUND {
		t.Errorf("unknown session: %v, want ENOTFOUND", err)
	}
	later := now.Add(time.Minute)
	if err := s.TouchConsoleSession(ctx, "aa", later); err != nil {
		t.Fatal(err)
	}
	if err := s.TouchConsoleSession(ctx, "aa", now); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.FindConsoleSession(ctx, "aa"); !got.LastSeenAt.Equal(later) {
		t.Errorf("last_seen_at = %v, want %v (forward only)", got.LastSeenAt, later)
	}
	// Idle for 30 minutes or older than 12 hours: b and c go, a stays.
	if n, err := s.DeleteExpiredConsoleSessions(ctx, now.Add(-30*time.Minute), now.Add(-12*time.Hour)); err != nil || n != 2 {
		t.Errorf("DeleteExpiredConsoleSessions = %d, %v; want 2", n, err)
	}
	if _, err := s.FindConsoleSession(ctx, "cc"); reservation.ErrorCode(err) != reservation.ENOTFOUND {
		t.Errorf("idle session kept: %v", err)
	}
	if ok, err := s.DeleteConsoleSession(ctx, "aa"); err != nil || !ok {
		t.Errorf("DeleteConsoleSession = %v, %v", ok, err)
	}
	if ok, err := s.DeleteConsoleSession(ctx, "aa"); err != nil || ok {
		t.Errorf("second DeleteConsoleSession = %v, %v; want false", ok, err)
	}
}
