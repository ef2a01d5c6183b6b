package syncer_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/slotline/slotline/internal/booking"
	"github.com/slotline/slotline/internal/genesys"
	"github.com/slotline/slotline/internal/genesys/gcsim"
	"github.com/slotline/slotline/internal/jobs"
	"github.com/slotline/slotline/internal/reservation"
	"github.com/slotline/slotline/internal/schedule"
	"github.com/slotline/slotline/internal/storage"
	"github.com/slotline/slotline/internal/storage/storagetest"
	"github.com/slotline/slotline/internal/syncer"
)

// restartProc is one "process" of the restart tests: a store on the
// shared database, its job client and the sync on them.
type restartProc struct {
	store  *storage.Store
	js     *jobs.Client
	runner *syncer.Runner
	book   *booking.Service
}

// openProc opens a store on dsn with the sync installed (its job client
// open, not started).
func openProc(t *testing.T, ctx context.Context, dsn string, gc *genesys.Client, q *booking.Queue, clock *gcsim.Clock) *restartProc {
	t.Helper()
	store, err := storage.Open(ctx, dsn, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	js := jobs.New(store.JobDriver(), jobs.Config{FetchCooldown: time.Millisecond, RetryBase: 20 * time.Millisecond,
		JobTimeout: 20 * time.Second})
	runner := syncer.New(syncer.Config{Store: store, Jobs: js, Genesys: gc, Queues: []*booking.Queue{q}, Now: clock.Now,
		RetryBase: 20 * time.Millisecond, ReconcileEvery: time.Hour, LostCreateWindow: 20 * time.Second})
	store.OnEvents(runner.OnEvents)
	if err := js.Open(ctx); err != nil {
		t.Fatal(err)
	}
	return &restartProc{store: store, js: js, runner: runner, book: booking.New(store, []*booking.Queue{q}, booking.Options{})}
}

func (p *restartProc) close() {
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = p.js.Stop(sctx)
	p.store.Close()
}

// syncJobs counts the genesys_sync jobs of each reservation, in any state.
func syncJobs(t *testing.T, ctx context.Context, st *storage.Store) map[string]int {
	t.Helper()
	out := map[string]int{}
	count := func(rows interface {
		Next() bool
		Scan(...any) error
		Err() error
	}) {
		for rows.Next() {
			var id string
			var n int
			if err := rows.Scan(&id, &n); err != nil {
				t.Fatal(err)
			}
			out[id] = n
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
	}
	if pool := st.Pool(); pool != nil {
		rows, err := pool.Query(ctx, `SELECT args->>'reservation_id', COUNT(*) FROM river_job WHERE kind = 'genesys_sync' GROUP BY 1`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		count(rows)
		return out
	}
	rows, err := st.DB().QueryContext(ctx, `SELECT json_extract(args, '$.reservation_id'), COUNT(*) FROM river_job WHERE kind = 'genesys_sync' GROUP BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	count(rows)
	return out
}

// strandJob makes the sync job of reservation id look like one a process
// that died was running: running, attempted by a client that is gone.
func strandJob(t *testing.T, ctx context.Context, st *storage.Store, id string) {
	t.Helper()
	var err error
	if pool := st.Pool(); pool != nil {
		_, err = pool.Exec(ctx, `UPDATE river_job SET state = 'running', attempt = 1, attempted_at = now(), attempted_by = ARRAY['a-dead-process']
			WHERE kind = 'genesys_sync' AND args->>'reservation_id' = $1`, id)
	} else {
		_, err = st.DB().ExecContext(ctx, `UPDATE river_job SET state = 'running', attempt = 1, attempted_at = datetime('now', 'subsec'),
			attempted_by = jsonb('["a-dead-process"]') WHERE kind = 'genesys_sync' AND json_extract(args, '$.reservation_id') = ?`, id)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// TestRestartWithBacklogAddsNoSyncJob admits a backlog in a process whose
// workers never run, then restarts twice on the same database (a new
// store, job client and sync, Resume as serve runs it): every reservation
// still has exactly one sync job, and each reaches Genesys once. One job
// is left "running" by a client that died: the restart carries it on at
// once with one rescue job, not after River's rescue.
func TestRestartWithBacklogAddsNoSyncJob(t *testing.T) {
	backends(t, func(t *testing.T, backend string) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		dsn, sim, gc, q, clock := restartWorld(t, backend)

		// The backlog: admitted, its jobs inserted, never worked.
		const n = 30
		first := openProc(t, ctx, dsn, gc, q, clock)
		ids := admitBacklog(t, ctx, first.book, n)
		// One more change while its job waits: a new version, whose job
		// replaces nothing (the first job syncs the latest state).
		moved := time.Now().Add(5 * time.Hour).Truncate(15 * time.Minute) // after the backlog's slots
		if _, err := first.book.Update(ctx, booking.Caller{ClientID: "website"}, ids[0], nil, &reservation.UpdateRequest{
			Candidates: []reservation.Slot{{Start: moved, End: moved.Add(15 * time.Minute)}},
		}); err != nil {
			t.Fatal(err)
		}
		before := syncJobs(t, ctx, first.store)
		for i, id := range ids {
			want := 1
			if i == 0 {
				want = 2 // created, then moved
			}
			if before[id] != want {
				t.Fatalf("before the restart %s has %d sync jobs, want %d", id, before[id], want)
			}
		}
		strandJob(t, ctx, first.store, ids[1])
		first.close()

		third := restartTwice(t, ctx, dsn, gc, q, clock)
		defer third.close()
		after := syncJobs(t, ctx, third.store)
		for i, id := range ids {
			want := before[id]
			if i == 1 {
				want = 2 // the stranded job and the one rescue job
			}
			if after[id] != want {
				t.Errorf("after two restarts %s has %d sync jobs, want %d", id, after[id], want)
			}
		}

		// Every reservation reaches Genesys once (the stranded one too,
		// long before River would rescue its job).
		syncedOnce(t, ctx, third.store, sim, ids)
	})
}

// restartTwice restarts on dsn twice, each process resuming the sync as
// serve does; the second process's workers stay stopped, so that the jobs
// are still waiting when the third resumes. It returns the third, its
// workers started; the caller closes it.
func restartTwice(t *testing.T, ctx context.Context, dsn string, gc *genesys.Client, q *booking.Queue, clock *gcsim.Clock) *restartProc {
	t.Helper()
	second := openProc(t, ctx, dsn, gc, q, clock)
	if err := second.runner.Resume(ctx); err != nil {
		t.Fatal(err)
	}
	second.close()
	third := openProc(t, ctx, dsn, gc, q, clock)
	if err := third.js.Start(ctx); err != nil {
		third.close()
		t.Fatal(err)
	}
	if err := third.runner.Resume(ctx); err != nil {
		third.close()
		t.Fatal(err)
	}
	return third
}

// restartWorld is what the restart tests' processes share: a database of
// backend, a Genesys simulator on a stopped clock and its client, the queue.
func restartWorld(t *testing.T, backend string) (string, *gcsim.Sim, *genesys.Client, *booking.Queue, *gcsim.Clock) {
	t.Helper()
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "s.db")
	if backend == storage.Postgres {
		dsn = storagetest.PostgresDSN(t)
	}
	clock := gcsim.NewClock(time.Now(), 0)
	sim := gcsim.New(gcsim.Options{Clock: clock, Seed: 7, Queues: []gcsim.Queue{{ID: simQueue, Name: "Support"}}})
	url, err := sim.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	gc, err := genesys.New(genesys.Config{APIURL: url, LoginURL: url, ClientID: gcsim.DefaultClientID,
		ClientSecret: gcsim.DefaultClientSecret, RateLimit: 1000, Burst: 100, BackoffBase: 20 * time.Millisecond,
		CallTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	loc, _ := time.LoadLocation("America/New_York")
	q := &booking.Queue{ID: "support", Name: "Support", GenesysQueueID: simQueue, TimeZone: loc.String(),
		Calendar: &schedule.Calendar{Location: loc, SlotMinutes: 15, Capacity: 50, AlwaysOpen: true, Horizon: 30 * 24 * time.Hour}}
	return dsn, sim, gc, q, clock
}

// admitBacklog creates n reservations through book and returns their ids.
func admitBacklog(t *testing.T, ctx context.Context, book *booking.Service, n int) []string {
	t.Helper()
	start := time.Now().Add(2 * time.Hour).Truncate(15 * time.Minute)
	var ids []string
	for i := range n {
		at := start.Add(time.Duration(i%8) * 15 * time.Minute)
		res, err := book.Create(ctx, booking.Caller{ClientID: "website"}, &reservation.CreateRequest{
			CallbackID: fmt.Sprintf("b%d", i), CallbackNumber: fmt.Sprintf("+1415555%04d", i), QueueID: "support",
			Candidates: []reservation.Slot{{Start: at, End: at.Add(15 * time.Minute)}},
		})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res.Reservation.ID)
	}
	return ids
}

// syncedOnce waits until every reservation of ids is synced, then checks
// that each has exactly one callback in Genesys.
func syncedOnce(t *testing.T, ctx context.Context, st *storage.Store, sim *gcsim.Sim, ids []string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for _, id := range ids {
		for {
			r, err := st.FindReservationByID(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if r.Sync.State == reservation.SyncSynced {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s is not synced after the restart: %+v", id, r.Sync)
			}
			time.Sleep(20 * time.Millisecond) // poll interval
		}
	}
	counts := map[string]int{}
	for _, c := range sim.Callbacks() {
		counts[c.Data[syncer.DataKey]]++
	}
	for _, id := range ids {
		if counts[id] != 1 {
			t.Errorf("%s has %d callbacks in Genesys, want 1", id, counts[id])
		}
	}
}

// legacySyncArgs are the arguments of a genesys_sync job as the builds
// before unique sync jobs inserted it: the reservation alone, no version,
// and (the kind not unique) no unique key.
type legacySyncArgs struct {
	ReservationID string `json:"reservation_id"`
}

func (legacySyncArgs) Kind() string { return "genesys_sync" }

// TestFirstRestartAfterUpgradeAddsNoSyncJob admits a backlog the way the
// build before unique sync jobs did (its event hook inserting each
// reservation's genesys_sync job without a version or a unique key), then
// restarts on the new build twice: every reservation still has exactly one
// sync job (the unique insert alone does not see the old jobs and would add
// a second), and each reaches Genesys once. One old job is left "running"
// by a process that died: the restart carries it on with one job.
func TestFirstRestartAfterUpgradeAddsNoSyncJob(t *testing.T) {
	backends(t, func(t *testing.T, backend string) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		dsn, sim, gc, q, clock := restartWorld(t, backend)

		// The old build: its sync's hook, its non-unique kind.
		store, err := storage.Open(ctx, dsn, storage.Options{})
		if err != nil {
			t.Fatal(err)
		}
		old := jobs.New(store.JobDriver(), jobs.Config{})
		old.AddQueue("genesys", 1)
		jobs.Register(old, jobs.Kind{Queue: "genesys"}, func(context.Context, *jobs.Job[legacySyncArgs]) error { return nil })
		store.OnEvents(func(ctx context.Context, tx *storage.Tx, events []reservation.Event) error {
			var syncs []jobs.Args
			for _, ev := range events {
				if res := ev.Reservation; res != nil && res.Sync.State == reservation.SyncPending {
					syncs = append(syncs, legacySyncArgs{ReservationID: res.ID})
				}
			}
			return old.InsertManyTx(ctx, tx, syncs)
		})
		if err := old.Open(ctx); err != nil {
			t.Fatal(err)
		}
		const n = 20
		ids := admitBacklog(t, ctx, booking.New(store, []*booking.Queue{q}, booking.Options{}), n)
		before := syncJobs(t, ctx, store)
		for _, id := range ids {
			if before[id] != 1 {
				t.Fatalf("the old build left %s with %d sync jobs, want 1", id, before[id])
			}
		}
		strandJob(t, ctx, store, ids[1])
		store.Close()

		// The new build, twice.
		third := restartTwice(t, ctx, dsn, gc, q, clock)
		defer third.close()
		after := syncJobs(t, ctx, third.store)
		for i, id := range ids {
			want := 1
			if i == 1 {
				want = 2 // the stranded old job and the one that carries it on
			}
			if after[id] != want {
				t.Errorf("after the upgrade's restarts %s has %d sync jobs, want %d", id, after[id], want)
			}
		}
		// The old jobs run on the new build: each reservation once.
		syncedOnce(t, ctx, third.store, sim, ids)
	})
}
