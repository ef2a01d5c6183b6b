package jobs_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/slotline/slotline/internal/jobs"
	"github.com/slotline/slotline/internal/reservation"
	"github.com/slotline/slotline/internal/storage"
	"github.com/slotline/slotline/internal/storage/storagetest"
)

type pingArgs struct {
	N int `json:"n"`
}

func (pingArgs) Kind() string { return "test_ping" }

type onceArgs struct {
	Key string `json:"key"`
}

func (onceArgs) Kind() string { return "test_once" }

type unfinishedArgs struct {
	Key string `json:"key"`
}

func (unfinishedArgs) Kind() string { return "test_unfinished" }

// runs records the jobs the workers ran.
type runs struct {
	mu   sync.Mutex
	seen map[string]int
	wake chan struct{}
}

func (r *runs) add(k string) {
	r.mu.Lock()
	r.seen[k]++
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func (r *runs) count(k string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.seen[k]
}

// waitFor waits until cond holds, or fails the test after 10 s.
func (r *runs) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for !cond() {
		select {
		case <-r.wake:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// setup opens a store on backend and a job client with two kinds
// registered; the test starts it.
func setup(t *testing.T, backend string) (*storage.Store, *jobs.Client, *runs) {
	t.Helper()
	ctx := context.Background()
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "j.db")
	if backend == storage.Postgres {
		dsn = storagetest.PostgresDSN(t)
	}
	store, err := storage.Open(ctx, dsn, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	r := &runs{seen: map[string]int{}, wake: make(chan struct{}, 1)}
	c := jobs.New(store.JobDriver(), jobs.Config{FetchCooldown: time.Millisecond, RetryBase: time.Millisecond})
	c.AddQueue("test", 4)
	snoozed := map[int]bool{}
	var mu sync.Mutex
	jobs.Register(c, jobs.Kind{Queue: "test"}, func(_ context.Context, j *jobs.Job[pingArgs]) error {
		if j.Args.N < 0 { // snooze once, then run
			mu.Lock()
			first := !snoozed[j.Args.N]
			snoozed[j.Args.N] = true
			mu.Unlock()
			if first {
				return jobs.Snooze(time.Millisecond)
			}
		}
		r.add("ping")
		return nil
	})
	jobs.Register(c, jobs.Kind{Queue: "test", UniqueByArgs: true}, func(_ context.Context, j *jobs.Job[onceArgs]) error {
		r.add("once:" + j.Args.Key)
		return nil
	})
	jobs.Register(c, jobs.Kind{Queue: "test", UniqueUnfinished: true}, func(_ context.Context, j *jobs.Job[unfinishedArgs]) error {
		r.add("unfinished:" + j.Args.Key)
		return nil
	})
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = c.Stop(sctx)
	})
	return store, c, r
}

// TestJobsOutOfOrder: an insert before Open and a registration after it
// are errors, never silently lost work.
func TestJobsOutOfOrder(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, c, _ := setup(t, storage.SQLite)
	if err := c.Insert(ctx, pingArgs{}, nil); err == nil {
		t.Fatal("an insert before Open succeeded")
	}
	if err := c.Open(ctx); err != nil {
		t.Fatal(err)
	}
	jobs.Register(c, jobs.Kind{Queue: "test"}, func(context.Context, *jobs.Job[onceArgs]) error { return nil })
	if err := c.Start(ctx); err == nil {
		t.Fatal("a registration after Open went unreported")
	}
}

// TestJobsRun is the life of jobs from insert to run on both backends.
func TestJobsRun(t *testing.T) {
	for _, backend := range []string{storage.SQLite, storage.Postgres} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			store, c, r := setup(t, backend)
			store.OnEvents(func(ctx context.Context, tx *storage.Tx, evs []reservation.Event) error {
				if evs[0].Reservation.Reason == "boom" {
					if err := c.InsertTx(ctx, tx, onceArgs{Key: "rolled back"}, nil); err != nil {
						return err
					}
					return errors.New("boom")
				}
				return c.InsertManyTx(ctx, tx, []jobs.Args{pingArgs{N: 1}, pingArgs{N: 2}})
			})
			if err := c.Open(ctx); err != nil {
				t.Fatal(err)
			}
			start := time.Date(2030, 6, 3, 14, 0, 0, 0, time.UTC)
			cands := []reservation.Candidate{{Slot: reservation.Slot{Start: start, End: start.Add(15 * time.Minute)}, Bucket: start, Cap: 5}}
			w := reservation.Write{Actor: "test", Origin: reservation.OriginAPI}
			if _, err := store.CreateReservation(ctx, &reservation.Reservation{QueueID: "q", TimeZone: "UTC", Reason: "ok"}, cands, w); err != nil {
				t.Fatal(err)
			}
			if _, err := store.CreateReservation(ctx, &reservation.Reservation{QueueID: "q", TimeZone: "UTC", Reason: "boom"}, cands, w); err == nil {
				t.Fatal("the failing hook's write committed")
			}
			scheduled := time.Now().Add(300 * time.Millisecond)
			for _, err := range []error{
				c.Insert(ctx, pingArgs{N: -1}, nil),
				c.Insert(ctx, pingArgs{N: 3}, &jobs.InsertOpts{ScheduledAt: scheduled}),
				c.Insert(ctx, onceArgs{Key: "a"}, nil),
				c.Insert(ctx, onceArgs{Key: "a"}, nil),
			} {
				if err != nil {
					t.Fatal(err)
				}
			}
			if err := c.Start(ctx); err != nil {
				t.Fatal(err)
			}
			// Two from the hook, the snoozed one, the scheduled one.
			r.waitFor(t, "four pings", func() bool { return r.count("ping") >= 4 })
			if time.Now().Before(scheduled) {
				t.Error("the scheduled job ran before its time")
			}
			r.waitFor(t, "the unique job", func() bool { return r.count("once:a") >= 1 })
			// Let the queue drain: a job that should not exist would run by
			// the time one inserted after it has.
			if err := c.Insert(ctx, onceArgs{Key: "last"}, nil); err != nil {
				t.Fatal(err)
			}
			r.waitFor(t, "the last job", func() bool { return r.count("once:last") == 1 })
			if n := r.count("once:a"); n != 1 {
				t.Errorf("the unique job ran %d times, want once", n)
			}
			if n := r.count("once:rolled back"); n != 0 {
				t.Errorf("the job of a rolled-back transaction ran %d times", n)
			}
			if n := r.count("ping"); n != 4 {
				t.Errorf("%d pings ran, want 4", n)
			}
		})
	}
}

// TestUniqueUnfinished: a kind unique over unfinished jobs takes one job
// per arguments while it waits (InsertMany and InsertManyTx report or
// skip the duplicate), and a new one once it has completed.
func TestUniqueUnfinished(t *testing.T) {
	for _, backend := range []string{storage.SQLite, storage.Postgres} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			store, c, r := setup(t, backend)
			store.OnEvents(func(ctx context.Context, tx *storage.Tx, evs []reservation.Event) error {
				return c.InsertManyTx(ctx, tx, []jobs.Args{unfinishedArgs{Key: "a"}, unfinishedArgs{Key: "c"}})
			})
			if err := c.Open(ctx); err != nil {
				t.Fatal(err)
			}
			ins, err := c.InsertMany(ctx, []jobs.Args{unfinishedArgs{Key: "a"}, unfinishedArgs{Key: "b"}})
			if err != nil || len(ins) != 2 || ins[0].Duplicate || ins[1].Duplicate || ins[0].ID == 0 {
				t.Fatalf("first inserts: %+v, %v; want two jobs added", ins, err)
			}
			ins, err = c.InsertMany(ctx, []jobs.Args{unfinishedArgs{Key: "a"}})
			if err != nil || len(ins) != 1 || !ins[0].Duplicate || ins[0].RunningElsewhere {
				t.Fatalf("a second insert of a waiting job: %+v, %v; want a duplicate, not running", ins, err)
			}
			// In a store transaction: "a" is left out, "c" added.
			start := time.Date(2030, 6, 3, 14, 0, 0, 0, time.UTC)
			cands := []reservation.Candidate{{Slot: reservation.Slot{Start: start, End: start.Add(15 * time.Minute)}, Bucket: start, Cap: 5}}
			if _, err := store.CreateReservation(ctx, &reservation.Reservation{QueueID: "q", TimeZone: "UTC", Reason: "ok"}, cands,
				reservation.Write{Actor: "test", Origin: reservation.OriginAPI}); err != nil {
				t.Fatal(err)
			}
			if err := c.Start(ctx); err != nil {
				t.Fatal(err)
			}
			r.waitFor(t, "a, b and c", func() bool {
				return r.count("unfinished:a") >= 1 && r.count("unfinished:b") >= 1 && r.count("unfinished:c") >= 1
			})
			// Completed, "a" no longer counts (River records the completion
			// a moment after the run).
			r.waitFor(t, "a new job of a once completed", func() bool {
				ins, err := c.InsertMany(ctx, []jobs.Args{unfinishedArgs{Key: "a"}})
				if err != nil {
					t.Fatal(err)
				}
				return !ins[0].Duplicate
			})
			r.waitFor(t, "a again", func() bool { return r.count("unfinished:a") >= 2 })
			if err := c.Insert(ctx, onceArgs{Key: "last"}, nil); err != nil {
				t.Fatal(err)
			}
			r.waitFor(t, "the last job", func() bool { return r.count("once:last") == 1 })
			if a, b, cc := r.count("unfinished:a"), r.count("unfinished:b"), r.count("unfinished:c"); a != 2 || b != 1 || cc != 1 {
				t.Errorf("runs a %d, b %d, c %d; want 2, 1, 1", a, b, cc)
			}
		})
	}
}

// TestListUnfinished: ListUnfinished reads every job of a kind not finished
// yet, page after page (three jobs a page in the tests: export_test.go), a
// scheduled one too, each once and with its arguments; completed jobs and
// other kinds are not listed.
func TestListUnfinished(t *testing.T) {
	for _, backend := range []string{storage.SQLite, storage.Postgres} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			_, c, r := setup(t, backend)
			if err := c.Open(ctx); err != nil {
				t.Fatal(err)
			}
			const n = 8 // and the scheduled one: three full pages
			var args []jobs.Args
			for i := range n {
				args = append(args, pingArgs{N: i + 1})
			}
			if _, err := c.InsertMany(ctx, args); err != nil {
				t.Fatal(err)
			}
			if err := c.Insert(ctx, pingArgs{N: 0}, &jobs.InsertOpts{ScheduledAt: time.Now().Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
			if err := c.Insert(ctx, onceArgs{Key: "other kind"}, nil); err != nil {
				t.Fatal(err)
			}
			list := func(idle bool) map[int]int {
				seen := map[int]int{}
				if err := jobs.ListUnfinished(ctx, c, func(j jobs.Unfinished[pingArgs]) error {
					if j.ID == 0 || idle && j.Running {
						t.Errorf("listed %+v, want an id and a job not running (the workers have not started)", j)
					}
					seen[j.Args.N]++
					return nil
				}); err != nil {
					t.Fatal(err)
				}
				return seen
			}
			seen := list(true)
			for i := range n + 1 {
				if seen[i] != 1 {
					t.Fatalf("ping %d listed %d times, want once (%d listed in all)", i, seen[i], len(seen))
				}
			}
			if err := c.Start(ctx); err != nil {
				t.Fatal(err)
			}
			// Run and completed (River records a completion a moment after
			// the run), only the scheduled one is left.
			r.waitFor(t, "the pings to run and complete", func() bool {
				return r.count("ping") >= n && len(list(false)) == 1
			})
			if seen := list(false); seen[0] != 1 {
				t.Errorf("after the runs %v is listed, want the scheduled ping alone", seen)
			}
		})
	}
}
