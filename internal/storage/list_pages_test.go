package storage_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/slotline/slotline/internal/reservation"
	"github.com/slotline/slotline/internal/storage"
	"github.com/slotline/slotline/internal/storage/storagetest"
)

// TestListPages runs on both backends: every list of the API and the
// console, paged forwards (and the console's back), returns the
// reservations its filter selects in slot order, each once, as one query
// over the whole table would. On PostgreSQL the lists of a status of the
// partial index over several queues merge each queue's page (migration
// 0025), which this checks against the plain order: queues interleaved,
// several reservations (of different queues) at one instant, a queue
// without the status.
func TestListPages(t *testing.T) {
	t.Parallel()
	eachBackend(t, testListPages)
}

// eachBackend runs test in parallel on a fresh store of each backend.
func eachBackend(t *testing.T, test func(t *testing.T, s *storage.Store)) {
	for name, dsn := range map[string]func(t *testing.T) string{
		"SQLite":   func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "test.db") },
		"Postgres": func(t *testing.T) string { return storagetest.PostgresDSN(t) },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			test(t, storagetest.Open(t, dsn(t)))
		})
	}
}

// openTestStore opens a store, closed when the test ends.
func testListPages(t *testing.T, s *storage.Store) {
	ctx := context.Background()
	base := time.Date(2031, 5, 5, 8, 0, 0, 0, time.UTC)
	statuses := []reservation.Status{reservation.StatusScheduled, reservation.StatusCompleted, reservation.StatusScheduled,
		reservation.StatusInProgress, reservation.StatusCanceled, reservation.StatusScheduled, reservation.StatusFailed}
	var all []*reservation.Reservation // in load order: the pk's
	for i := range 240 {
		// Three reservations an instant, of different queues.
		start := base.Add(time.Duration(i/3) * 15 * time.Minute)
		slot := reservation.Slot{Start: start, End: start.Add(15 * time.Minute)}
		q := []string{"qa", "qb", "qc", "qd"}[i*7%4]
		st := statuses[i*5%7]
		if q == "qd" && sparse(st) && st != reservation.StatusScheduled {
			st = reservation.StatusCompleted // qd holds no reservation in progress or failed
		}
		all = append(all, &reservation.Reservation{
			ClientID: []string{"web", "ivr"}[i/2%2], QueueID: q, TimeZone: "UTC",
			CallbackNumber: fmt.Sprintf("+1415555%04d", i), Candidates: []reservation.Slot{slot}, Slot: slot,
			Channel: reservation.ChannelPreferences{Primary: "voice"}, ConcurrencyLimit: 10, Status: st,
			Sync: reservation.Sync{State: reservation.SyncSynced},
		})
	}
	if err := s.LoadReservations(ctx, all); err != nil {
		t.Fatal(err)
	}
	// want is the IDs of the reservations keep selects, in slot order
	// (the load's order is the pk's).
	want := func(keep func(r *reservation.Reservation) bool) []string {
		var out []*reservation.Reservation
		for _, r := range all {
			if keep(r) {
				out = append(out, r)
			}
		}
		slices.SortStableFunc(out, func(a, b *reservation.Reservation) int { return a.Slot.Start.Compare(b.Slot.Start) })
		ids := make([]string, len(out))
		for i, r := range out {
			ids[i] = r.ID
		}
		return ids
	}
	from := base.Add(7 * time.Hour)
	for _, st := range []reservation.Status{"", reservation.StatusScheduled, reservation.StatusInProgress, reservation.StatusFailed,
		reservation.StatusCanceled} {
		for _, client := range []string{"", "web"} {
			for _, queue := range []string{"", "qb", "qd"} {
				for _, after := range []time.Time{{}, from} {
					f := reservation.Filter{ClientID: client, QueueID: queue, Status: st, From: after, Limit: 7}
					w := want(func(r *reservation.Reservation) bool {
						return (client == "" || r.ClientID == client) && (queue == "" || r.QueueID == queue) &&
							(st == "" || r.Status == st) && !r.Slot.Start.Before(after)
					})
					var got []string
					for page := 0; ; page++ {
						rs, next, err := s.FindReservations(ctx, f)
						if err != nil {
							t.Fatalf("FindReservations(%+v): %v", f, err)
						}
						for _, r := range rs {
							got = append(got, r.ID)
						}
						if next == "" || page > 60 {
							break
						}
						f.Cursor = next
					}
					if !slices.Equal(got, w) {
						t.Errorf("FindReservations client %q queue %q status %q from %v: %d reservations\n%v\nwant %d\n%v",
							client, queue, st, after, len(got), got, len(w), w)
					}
				}
			}
		}
		// The console: every queue, one, several (one of them twice),
		// forwards to the end and back to the start.
		for _, queues := range [][]string{nil, {"qb"}, {"qa", "qd"}, {"qc", "qa", "qc"}} {
			w := want(func(r *reservation.Reservation) bool {
				return (queues == nil || slices.Contains(queues, r.QueueID)) && (st == "" || r.Status == st)
			})
			q := storage.ReservationQuery{Queues: queues, Status: st, Limit: 6}
			var got []string
			var pages []*storage.ReservationPage
			for {
				p, err := s.FindReservationPage(ctx, q)
				if err != nil {
					t.Fatalf("FindReservationPage(%+v): %v", q, err)
				}
				pages = append(pages, p)
				for _, r := range p.Items {
					got = append(got, r.ID)
				}
				if p.Next == "" || len(pages) > 60 {
					break
				}
				q.After = p.Next
			}
			if !slices.Equal(got, w) {
				t.Errorf("FindReservationPage queues %v status %q: %d reservations\n%v\nwant %d\n%v", queues, st, len(got), got, len(w), w)
				continue
			}
			var back []string
			for i := len(pages) - 1; i > 0; i-- {
				q.After, q.Before = "", pages[i].Prev
				p, err := s.FindReservationPage(ctx, q)
				if err != nil {
					t.Fatalf("FindReservationPage(%+v): %v", q, err)
				}
				var ids []string
				for _, r := range p.Items {
					ids = append(ids, r.ID)
				}
				back = append(ids, back...)
			}
			if len(pages) > 1 && !slices.Equal(back, w[:len(back)]) || len(pages) > 1 && len(back) != len(w)-len(pages[len(pages)-1].Items) {
				t.Errorf("FindReservationPage queues %v status %q backwards: %v\nwant the start of %v", queues, st, back, w)
			}
		}
	}
}

func sparse(st reservation.Status) bool {
	return st == reservation.StatusScheduled || st == reservation.StatusInProgress || st == reservation.StatusFailed
}
