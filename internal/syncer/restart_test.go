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
		defer sim.Close()
		gc, err := genesys.New(genesys.Config{APIURL: url, LoginURL: url, ClientID: gcsim.DefaultClientID,
			ClientSecret: gcsim.DefaultClientSecret, RateLimit: 1000, Burst: 100, BackoffBase: 20 * time.Millisecond,
			CallTimeout: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		loc, _ := time.LoadLocation("America/New_York")
		q := &booking.Queue{ID: "support", Name: "Support", GenesysQueueID: simQueue, TimeZone: loc.String(),
			Calendar: &schedule.Calendar{Location: loc, SlotMinutes: 15, Capacity: 50, AlwaysOpen: true, Horizon: 30 * 24 * time.Hour}}

		// The backlog: admitted, its jobs inserted, never worked.
		const n = 30
		first := openProc(t, ctx, dsn, gc, q, clock)
		start := time.Now().Add(2 * time.Hour).Truncate(15 * time.Minute)
		var ids []string
		for i := range n {
			at := start.Add(time.Duration(i%8) * 15 * time.Minute)
			res, err := first.book.Create(ctx, booking.Caller{ClientID: "website"}, &reservation.CreateRequest{
				CallbackID: fmt.Sprintf("b%d", i), CallbackNumber: fmt.Sprintf("+1415555%04d", i), QueueID: "support",
				Candidates: []reservation.Slot{{Start: at, End: at.Add(15 * time.Minute)}},
			})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, res.Reservation.ID)
		}
		// One more change while its job waits: a new version, whose job
		// replaces nothing (the first job syncs the latest state).
		moved := start.Add(3 * time.Hour)
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

		// Two restarts; the second process's workers stay stopped so that
		// the jobs are still waiting when the third resumes.
		second := openProc(t, ctx, dsn, gc, q, clock)
		if err := second.runner.Resume(ctx); err != nil {
			t.Fatal(err)
		}
		second.close()
		third := openProc(t, ctx, dsn, gc, q, clock)
		defer third.close()
		if err := third.js.Start(ctx); err != nil {
			t.Fatal(err)
		}
		if err := third.runner.Resume(ctx); err != nil {
			t.Fatal(err)
		}
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
		deadline := time.Now().Add(20 * time.Second)
		for _, id := range ids {
			for {
				r, err := third.store.FindReservationByID(ctx, id)
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
	})
}
