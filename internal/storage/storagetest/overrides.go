package storagetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/slotline/slotline/internal/reservation"
	"github.com/slotline/slotline/internal/storage"
)

// testOverrides: a capacity override decides the cap of the buckets it
// covers in every create and reschedule, the concurrency limit still
// applies under it, the override put last wins, a PUT of the same range
// replaces, and a delete brings the candidate's own cap back.
func testOverrides(t *testing.T, s *storage.Store) {
	ctx := context.Background()
	w := write()
	put := func(start, end time.Time, capacity int) *reservation.Override {
		t.Helper()
		o := &reservation.Override{QueueID: "q1", Start: start, End: end, StartLocal: start.String(), EndLocal: end.String(),
			Capacity: capacity, Reason: "test"}
		if _, err := s.PutOverride(ctx, o, w); err != nil {
			t.Fatal(err)
		}
		return o
	}
	closed := put(base, base.Add(30*time.Minute), 0)
	if _, err := s.CreateReservation(ctx, newRes("q1"), []reservation.Candidate{cand(0, 5)}, w); !errors.Is(err, reservation.ErrFull) {
		t.Fatalf("create in a closed bucket: %v, want ErrFull", err)
	}
	// Another queue is not touched.
	create(t, s, "q2", cand(0, 5))
	// The one put last wins where two overlap.
	time.Sleep(time.Millisecond) // a later updated_at
	two := put(base.Add(15*time.Minute), base.Add(time.Hour), 2)
	r := create(t, s, "q1", cand(1, 5)) // bucket 1: both cover it; 2 wins
	create(t, s, "q1", cand(1, 5))
	if _, err := s.CreateReservation(ctx, newRes("q1"), []reservation.Candidate{cand(1, 5)}, w); !errors.Is(err, reservation.ErrFull) {
		t.Fatalf("third create in a bucket of capacity 2: %v, want ErrFull", err)
	}
	// A raise above the candidate's cap counts, under the concurrency limit.
	raised := put(base.Add(2*time.Hour), base.Add(3*time.Hour), 50)
	limited := newRes("q1")
	limited.ConcurrencyLimit = 1
	if _, err := s.CreateReservation(ctx, limited, []reservation.Candidate{cand(8, 0)}, w); err != nil {
		t.Fatalf("create in a raised bucket whose candidate cap is 0: %v", err)
	}
	if _, err := s.CreateReservation(ctx, newRes("q1"), []reservation.Candidate{cand(8, 1)}, w); err != nil {
		t.Fatalf("second create of a raised bucket: %v", err)
	}
	limited2 := newRes("q1")
	limited2.ConcurrencyLimit = 1
	if _, err := s.CreateReservation(ctx, limited2, []reservation.Candidate{cand(8, 1)}, w); !errors.Is(err, reservation.ErrFull) {
		t.Fatalf("create of concurrency limit 1 in a bucket holding 2: %v, want ErrFull", err)
	}
	// A reschedule into the closed bucket is refused too.
	if _, _, err := s.UpdateReservation(ctx, r.ID, reservation.Change{Candidates: []reservation.Candidate{cand(0, 5)},
		Matrix: []reservation.Slot{cand(0, 5).Slot}}, w); !errors.Is(err, reservation.ErrFull) {
		t.Fatalf("reschedule into a closed bucket: %v, want ErrFull", err)
	}
	// The same range again replaces the override.
	again := &reservation.Override{QueueID: "q1", Start: closed.Start, End: closed.End, Capacity: 1, Reason: "one back"}
	created, err := s.PutOverride(ctx, again, w)
	if err != nil || created || again.ID != closed.ID {
		t.Fatalf("PutOverride of the same range: created %v, id %s (was %s), %v", created, again.ID, closed.ID, err)
	}
	os, err := s.FindOverrides(ctx, "q1", base, base.Add(24*time.Hour))
	if err != nil || len(os) != 3 || os[0].ID != closed.ID || os[0].Capacity != 1 || os[1].ID != two.ID || os[2].ID != raised.ID {
		t.Fatalf("FindOverrides = %+v, %v", os, err)
	}
	if _, err := s.DeleteOverride(ctx, "q1", closed.ID, "", w); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteOverride(ctx, "q1", closed.ID, "", w); reservation.ErrorCode(err) != reservation.ENOTFOUND {
		t.Fatalf("second delete: %v, want ENOTFOUND", err)
	}
	create(t, s, "q1", cand(0, 5))
	// A callback moved inside Genesys into a closed bucket is overbooked.
	put(base.Add(5*time.Hour), base.Add(6*time.Hour), 0)
	g := create(t, s, "q1", cand(16, 5))
	into := cand(20, 5)
	got, _, err := s.ApplyGenesys(ctx, g.ID, reservation.GenesysUpdate{Status: reservation.StatusScheduled, ScheduledAt: into.Slot.Start,
		Bucket: into.Bucket, Cap: 5}, reservation.Write{Actor: "genesys", Origin: reservation.OriginGenesys})
	if err != nil || !got.Overbooked || !got.Slot.Start.Equal(into.Slot.Start) {
		t.Fatalf("moved by Genesys into a closed bucket: %+v, %v; want it there, overbooked", got, err)
	}
	rs, err := s.FindBucketReservations(ctx, "q1", cand(1, 0).Bucket)
	if err != nil || len(rs) != 2 {
		t.Fatalf("FindBucketReservations = %d, %v; want 2", len(rs), err)
	}
}
