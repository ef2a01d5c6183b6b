package storage_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slotline/slotline/internal/reservation"
	"github.com/slotline/slotline/internal/storage"
	"github.com/slotline/slotline/internal/storage/storagetest"
)

// TestMergedListIsOneSnapshot: on PostgreSQL a list of the bookings ahead
// over every queue reads the queues holding the status, then each one's
// page, merged. Reservations committed between the two reads (the first of
// a queue new to the status, then a later one of a queue already read)
// are both in the page or neither: the page never shows the later one
// without the earlier, which would leave the earlier behind the cursor.
func TestMergedListIsOneSnapshot(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := storagetest.Open(t, storagetest.PostgresDSN(t))
	base := time.Date(2031, 5, 5, 10, 0, 0, 0, time.UTC)
	mk := func(q string, at time.Time, n int) *reservation.Reservation {
		slot := reservation.Slot{Start: at, End: at.Add(15 * time.Minute)}
		return &reservation.Reservation{ID: fmt.Sprintf("cb_snap%d", n), ClientID: "web", QueueID: q, TimeZone: "UTC",
			CallbackNumber: fmt.Sprintf("+1415555%04d", n), Candidates: []reservation.Slot{slot}, Slot: slot, Bucket: at,
			Channel: reservation.ChannelPreferences{Primary: "voice"}, ConcurrencyLimit: 10, Status: reservation.StatusScheduled,
			Sync: reservation.Sync{State: reservation.SyncSynced}, CreatedAt: at, UpdatedAt: at}
	}
	if err := s.LoadReservations(ctx, []*reservation.Reservation{mk("qa", base, 1)}); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop := storage.BeforeReads(s, func(q string) {
		if !strings.HasPrefix(q, "SELECT * FROM (") { // the merged page, after the queues were read
			return
		}
		once.Do(func() {
			// qb's first, earliest in slot order, then qa's second.
			for _, r := range []*reservation.Reservation{mk("qb", base.Add(-time.Hour), 2), mk("qa", base.Add(time.Hour), 3)} {
				if err := s.LoadReservations(ctx, []*reservation.Reservation{r}); err != nil {
					t.Error(err)
				}
			}
		})
	})
	rs, next, err := s.FindReservations(ctx, reservation.Filter{Status: reservation.StatusScheduled, Limit: 2})
	stop()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rs {
		got = append(got, r.QueueID+"@"+r.Slot.Start.Format("15:04"))
	}
	if slices.Contains(got, "qa@11:00") && !slices.Contains(got, "qb@09:00") {
		t.Errorf("the page (next %q) shows qa@11:00 but not qb@09:00, committed before it: %v", next, got)
	}
	if !slices.Contains(got, "qa@10:00") {
		t.Errorf("the page %v misses qa@10:00, there before the read", got)
	}
}
