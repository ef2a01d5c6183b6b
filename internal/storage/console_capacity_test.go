package storage_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/slotline/slotline/internal/reservation"
	"github.com/slotline/slotline/internal/storage"
	"github.com/slotline/slotline/internal/storage/storagetest"
)

// TestKeepOverCapacity: keep decisions are stored per reservation and
// bucket, renewed when kept again, read from a bucket on, and audited with
// the operator, on both backends.
func TestKeepOverCapacity(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		dsn  func(t *testing.T) string
	}{
		{"SQLite", func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "kept.db") }},
		{"Postgres", func(t *testing.T) string { return storagetest.PostgresDSN(t) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s, err := storage.Open(ctx, tt.dsn(t), storage.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			b := time.Date(2030, 6, 3, 14, 0, 0, 0, time.UTC)
			at := b.Add(-time.Hour)
			w := reservation.Write{Actor: "operator:ada", Origin: reservation.OriginOperator, RequestID: "req-k", Now: at}
			if err := s.KeepOverCapacity(ctx, []storage.Kept{
				{ReservationID: "res_a", QueueID: "q1", Bucket: b},
				{ReservationID: "res_b", QueueID: "q1", Bucket: b.Add(15 * time.Minute)},
				{ReservationID: "res_c", QueueID: "q2", Bucket: b},
			}, w); err != nil {
				t.Fatal(err)
			}
			// Kept again later: renewed, not doubled.
			w.Now, w.Actor = at.Add(time.Minute), "operator:bea"
			if err := s.KeepOverCapacity(ctx, []storage.Kept{{ReservationID: "res_a", QueueID: "q1", Bucket: b}}, w); err != nil {
				t.Fatal(err)
			}
			got, err := s.FindKept(ctx, "q1", b)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 2 || got[0].ReservationID != "res_a" || got[0].Actor != "operator:bea" ||
				!got[0].KeptAt.Equal(at.Add(time.Minute)) || !got[0].Bucket.Equal(b) || got[1].ReservationID != "res_b" {
				t.Fatalf("kept in q1: %+v", got)
			}
			if got, _ := s.FindKept(ctx, "q1", b.Add(time.Minute)); len(got) != 1 || got[0].ReservationID != "res_b" {
				t.Errorf("kept from a later bucket on: %+v", got)
			}
			es, err := s.FindAuditEntries(ctx, 0, 100)
			if err != nil {
				t.Fatal(err)
			}
			var keeps []string
			for _, e := range es {
				if e.Action == "capacity.over_capacity_keep" {
					keeps = append(keeps, e.Actor+" "+e.Target)
				}
			}
			want := []string{"operator:ada res_a", "operator:ada res_b", "operator:ada res_c", "operator:bea res_a"}
			if len(keeps) != len(want) {
				t.Fatalf("keep audit entries %v, want %v", keeps, want)
			}
			for i := range want {
				if keeps[i] != want[i] {
					t.Errorf("keep audit entry %d = %q, want %q", i, keeps[i], want[i])
				}
			}
			if err := s.KeepOverCapacity(ctx, nil, w); err != nil {
				t.Errorf("keep nothing: %v", err)
			}
		})
	}
}
