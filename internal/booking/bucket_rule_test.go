package booking_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/slotline/slotline/internal/booking"
	"github.com/slotline/slotline/internal/reservation"
	"github.com/slotline/slotline/internal/schedule"
)

// setupAt is setup with the queue's lead time replaced and the clock at now.
func setupAt(t *testing.T, lead time.Duration, now time.Time) *bundle {
	t.Helper()
	b := setup(t)
	sc := *b.queue.Calendar
	sc.LeadTime = lead
	if err := sc.Validate(); err != nil {
		t.Fatal(err)
	}
	q := *b.queue
	q.Calendar = &sc
	b.queue, b.now = &q, now
	b.svc = booking.New(b.store, []*booking.Queue{&q}, booking.Options{Now: func() time.Time { return now }})
	return b
}

// bucketSlot returns availability's answer for the one bucket bk.
func bucketSlot(t *testing.T, b *bundle, bk schedule.Bucket) booking.Slot {
	t.Helper()
	slots, err := b.svc.Availability(context.Background(), "support", bk.Start, bk.End, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(slots) != 1 || slots[0].Bucket != bk {
		t.Fatalf("availability of %v = %+v", bk, slots)
	}
	return slots[0]
}

// TestCreateInsideBucketAgreesWithAvailability (issue 11): availability
// offers only buckets that have not begun, so a create whose start is later
// than now but inside a bucket that has begun (or that begins sooner than
// the lead time) must be refused with the reason availability gives that
// bucket, and an admitted create must leave its bucket bookable or full,
// never past with used > 0.
func TestCreateInsideBucketAgreesWithAvailability(t *testing.T) {
	t.Parallel()
	for _, lead := range []time.Duration{0, 30 * time.Minute} {
		for _, clock := range []string{"10:00:00", "10:07:00", "10:14:30"} {
			t.Run(fmt.Sprintf("lead%s/%s", lead, clock), func(t *testing.T) {
				t.Parallel()
				loc, _ := time.LoadLocation("America/New_York")
				var h, m, s int
				if _, err := fmt.Sscanf(clock, "%d:%d:%d", &h, &m, &s); err != nil {
					t.Fatal(err)
				}
				now := time.Date(2026, 12, 1, h, m, s, 0, loc) // a Tuesday, open 09:00-12:00
				b := setupAt(t, lead, now)
				ctx := context.Background()
				cur := b.queue.Calendar.BucketAt(now)
				inStarted := 0
				for i, start := 0, now.Add(time.Second); start.Before(cur.End.Add(lead + 30*time.Minute)); i, start = i+1, start.Add(time.Minute) {
					bk := b.queue.Calendar.BucketAt(start)
					before := bucketSlot(t, b, bk)
					if !bk.Start.After(now) {
						inStarted++
						if before.Reason != schedule.ReasonPast {
							t.Fatalf("bucket %v has begun at %v, availability says %q", bk, now, before.Reason)
						}
					}
					res, err := b.svc.Create(ctx, caller(), b.request(fmt.Sprintf("p%d", i), start))
					after := bucketSlot(t, b, bk)
					if before.Reason == schedule.OK {
						if err != nil {
							t.Fatalf("%v: availability says bookable, create says %v", start, err)
						}
						if after.Used != before.Used+1 || (after.Reason != schedule.OK && after.Reason != schedule.ReasonFull) {
							t.Fatalf("%v: after the create the bucket is %q with used %d (was %d)", start, after.Reason, after.Used, before.Used)
						}
						if _, err := b.svc.Cancel(ctx, caller(), res.Reservation.ID, nil); err != nil {
							t.Fatal(err)
						}
						continue
					}
					var e *reservation.Error
					if !errors.As(err, &e) {
						t.Fatalf("%v (now %v): availability says %q with used %d, create says %v (admitted; the bucket is now %q with used %d)",
							start, now, before.Reason, before.Used, err, after.Reason, after.Used)
					}
					if got := e.Extra["candidates"].([]booking.CandidateResult)[0].Reason; got != before.Reason {
						t.Fatalf("%v (now %v): availability says %q, create says %q", start, now, before.Reason, got)
					}
					if e.Code != reservation.EINVALID {
						t.Errorf("%v: code %s, want %s", start, e.Code, reservation.EINVALID)
					}
					if after.Used != before.Used {
						t.Fatalf("%v: a refused create changed used from %d to %d", start, before.Used, after.Used)
					}
				}
				if inStarted == 0 {
					t.Fatal("no start inside the bucket that has begun: the test does not cover it")
				}
			})
		}
	}
}

// TestCreateInsideBucketFills: creates whose start lies inside a bucket
// that has not begun fill it up to its cap; availability then reports it
// full with used 2, the bucket that has begun stays past with used 0, and no
// bucket anywhere is past, lead_time or horizon with used > 0.
func TestCreateInsideBucketFills(t *testing.T) {
	t.Parallel()
	loc, _ := time.LoadLocation("America/New_York")
	now := time.Date(2026, 12, 1, 10, 7, 0, 0, loc)
	b := setupAt(t, 0, now)
	ctx := context.Background()
	_, err := b.svc.Create(ctx, caller(), b.request("started", at(b, 1, 10, 8)))
	if reservation.ErrorCode(err) != reservation.EINVALID {
		t.Fatalf("create at 10:08 in the 10:00 bucket at 10:07: err = %v, want refused as past", err)
	}
	// The reason stays "past"; the words say why a future start is past.
	if msg := reservation.ErrorMessage(err); !strings.Contains(msg, "falls in a slot that has already begun (10:00–10:15); the next one starts at 10:15") {
		t.Errorf("message %q does not say the slot has begun and when the next starts", msg)
	}
	for i := range 2 { // capacity 2
		if _, err := b.svc.Create(ctx, caller(), b.request(fmt.Sprintf("next%d", i), at(b, 1, 10, 20))); err != nil {
			t.Fatalf("create %d at 10:20: %v", i, err)
		}
	}
	_, err = b.svc.Create(ctx, caller(), b.request("third", at(b, 1, 10, 25)))
	var e *reservation.Error
	if !errors.As(err, &e) || e.Code != reservation.ECONFLICT || e.Extra["candidates"].([]booking.CandidateResult)[0].Reason != schedule.ReasonFull {
		t.Fatalf("third create in the 10:15 bucket: err = %v, want full", err)
	}
	slots, err := b.svc.Availability(ctx, "support", at(b, 1, 9, 0), at(b, 1, 12, 0), 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, sl := range slots {
		switch {
		case sl.Start.Equal(at(b, 1, 10, 0)):
			if sl.Reason != schedule.ReasonPast || sl.Used != 0 {
				t.Errorf("10:00 bucket: %q used %d, want past used 0", sl.Reason, sl.Used)
			}
		case sl.Start.Equal(at(b, 1, 10, 15)):
			if sl.Reason != schedule.ReasonFull || sl.Used != 2 || sl.Remaining != 0 {
				t.Errorf("10:15 bucket: %q used %d remaining %d, want full used 2", sl.Reason, sl.Used, sl.Remaining)
			}
		case sl.Used > 0 && sl.Reason != schedule.OK && sl.Reason != schedule.ReasonFull:
			t.Errorf("bucket %v: %q with used %d", sl.Bucket, sl.Reason, sl.Used)
		}
	}
}
