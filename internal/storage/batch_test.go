package storage_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/slotline/slotline/internal/audit"
	"github.com/slotline/slotline/internal/reservation"
	"github.com/slotline/slotline/internal/storage"
	"github.com/slotline/slotline/internal/storage/storagetest"
)

// TestBatchWriteFailsAlone: a write of a group commit that fails on its
// own (a constraint, a duplicate key, PostgreSQL's refusal of a NUL; found
// at once or, for a deferred statement, during a later write or once the
// writes are done) fails alone: it is rolled back with its audit entry and
// callbacks, and every other write of the batch commits, having run once.
// It was a rollback of the whole batch, which then ran again one write at
// a time.
func TestBatchWriteFailsAlone(t *testing.T) {
	t.Parallel()
	for _, backend := range []string{storage.SQLite, storage.Postgres} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			testBatchWriteFailsAlone(t, openBackend(t, backend))
		})
	}
}

// openBackend opens a store of its own on backend: a SQLite file, or a
// schema of the test database.
func openBackend(t *testing.T, backend string) *storage.Store {
	t.Helper()
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "store.db")
	if backend == storage.Postgres {
		dsn = storagetest.PostgresDSN(t)
	}
	return storagetest.Open(t, dsn)
}

// batchWrite is one write of the batch: good ones add the lease of their
// name (and bad ones try to).
type batchWrite struct {
	name string
	fn   func(tx *storage.Tx) error
	bad  bool
}

func testBatchWriteFailsAlone(t *testing.T, s *storage.Store) {
	ctx := context.Background()
	const insert = "INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, 0)"
	lease := func(name string) func(tx *storage.Tx) error {
		return func(tx *storage.Tx) error { return storage.Exec(tx, insert, name, "h") }
	}
	committed := map[string]int{} // AfterCommit runs, on the writer's goroutine (here, this one)
	audited := func(tx *storage.Tx, name string) error {
		tx.AfterCommit(func() { committed[name]++ })
		return storage.AppendAudit(s, tx, &audit.Entry{At: time.Now(), Actor: "test", Action: "batch.write",
			Target: name, Outcome: audit.OutcomeOK, Detail: "{}"})
	}
	writes := []batchWrite{
		{name: "ok-first", fn: lease("ok-first")},
		{name: "bad-at-once", bad: true, fn: func(tx *storage.Tx) error {
			if err := audited(tx, "bad-at-once"); err != nil {
				return err
			}
			if err := storage.Exec(tx, insert, "bad-at-once", "h"); err != nil {
				return err
			}
			return storage.Exec(tx, insert, "bad-at-once-2", nil) // NOT NULL
		}},
		{name: "ok-audited", fn: func(tx *storage.Tx) error {
			if err := audited(tx, "ok-audited"); err != nil {
				return err
			}
			return lease("ok-audited")(tx)
		}},
		{name: "bad-deferred", bad: true, fn: func(tx *storage.Tx) error {
			if err := audited(tx, "bad-deferred"); err != nil {
				return err
			}
			if err := storage.ExecLater(tx, insert, "bad-deferred", "h"); err != nil {
				return err
			}
			return storage.ExecLater(tx, insert, "bad-deferred-2", nil) // fails when sent
		}},
		{name: "ok-deferred", fn: func(tx *storage.Tx) error {
			if err := audited(tx, "ok-deferred"); err != nil {
				return err
			}
			return storage.ExecLater(tx, insert, "ok-deferred", "h")
		}},
		{name: "ok-query", fn: func(tx *storage.Tx) error {
			// On PostgreSQL its query carries the deferred statements
			// before it, bad-deferred's failure among them.
			if _, err := storage.QueryInt(tx, "SELECT count(*) FROM leases"); err != nil {
				return err
			}
			return lease("ok-query")(tx)
		}},
		{name: "refused", bad: true, fn: func(tx *storage.Tx) error {
			// A refusal after a change: the change is undone all the same.
			if err := lease("refused")(tx); err != nil {
				return err
			}
			return reservation.Errorf(reservation.ECONFLICT, "refused")
		}},
		{name: "bad-duplicate", bad: true, fn: lease("ok-first")},
		{name: "ok-after-duplicate", fn: lease("ok-after-duplicate")},
	}
	if s.Backend() == storage.Postgres {
		// The review's case: PostgreSQL refuses a NUL in text (SQLSTATE
		// 22021), where SQLite keeps it.
		writes = append(writes, batchWrite{name: "bad-nul", bad: true, fn: func(tx *storage.Tx) error {
			return storage.ExecLater(tx, insert, "bad-nul", "h\x00")
		}})
	}
	writes = append(writes,
		batchWrite{name: "ok-last-but-one", fn: func(tx *storage.Tx) error {
			if err := audited(tx, "ok-last-but-one"); err != nil {
				return err
			}
			return storage.ExecLater(tx, insert, "ok-last-but-one", "h")
		}},
		// Sent once the writes are done (PostgreSQL).
		batchWrite{name: "bad-last", bad: true, fn: func(tx *storage.Tx) error {
			if err := audited(tx, "bad-last"); err != nil {
				return err
			}
			return storage.ExecLater(tx, insert, "bad-last", nil)
		}},
	)

	runs := make([]int, len(writes))
	fns := make([]func(tx *storage.Tx) error, len(writes))
	for i, w := range writes {
		fns[i] = func(tx *storage.Tx) error {
			runs[i]++
			return w.fn(tx)
		}
	}
	errs := storage.RunBatch(s, fns...)

	var wantLeases, wantAudit []string
	for i, w := range writes {
		if w.bad != (errs[i] != nil) {
			t.Errorf("write %s: err = %v; want an error: %v", w.name, errs[i], w.bad)
		}
		if runs[i] != 1 {
			t.Errorf("write %s ran %d times, want once", w.name, runs[i])
		}
		if !w.bad {
			wantLeases = append(wantLeases, w.name)
		}
	}
	for _, name := range []string{"ok-audited", "ok-deferred", "ok-last-but-one"} {
		wantAudit = append(wantAudit, name)
		if committed[name] != 1 {
			t.Errorf("the AfterCommit of %s ran %d times, want once", name, committed[name])
		}
	}
	for _, name := range []string{"bad-at-once", "bad-deferred", "bad-last"} {
		if committed[name] != 0 {
			t.Errorf("the AfterCommit of %s, which failed, ran", name)
		}
	}
	slices.Sort(wantLeases)
	got, err := storage.QueryStrings(s, "SELECT name FROM leases ORDER BY name")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, wantLeases) {
		t.Errorf("leases after the batch = %v\nwant %v (every good write's, none of a bad write's)", got, wantLeases)
	}
	entries, err := s.FindAuditEntries(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var targets []string
	for _, e := range entries {
		targets = append(targets, e.Target)
	}
	if !slices.Equal(targets, wantAudit) {
		t.Errorf("audit entries of %v, want %v", targets, wantAudit)
	}
	if n, err := s.VerifyAudit(ctx); err != nil || n != int64(len(wantAudit)) {
		t.Errorf("VerifyAudit = %d, %v; want %d entries in a sound chain", n, err, len(wantAudit))
	}
}

// TestBatchTailFailsAlone: on PostgreSQL the statements a group commit's
// last writes left travel with the event hooks' first round trip, or with
// the COMMIT's. One of them failing there fails its write alone, as during
// the writes: the write is rolled back with its event and callbacks, the
// later writes' statements (skipped by the server after the failure) are
// sent again, and the hooks run again for the events left, so that what
// they added for the failed write's event is gone too; a second failure
// among the statements sent again is handled the same way (the review's
// case: the hooks' start had moved with the first write's callbacks).
// Every write runs once. On SQLite the same writes fail at once; the
// outcome is the same.
func TestBatchTailFailsAlone(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ backend, where string }{
		{storage.SQLite, "commit"}, {storage.Postgres, "commit"}, {storage.Postgres, "hook"},
	} {
		t.Run(tc.backend+" at the "+tc.where, func(t *testing.T) {
			t.Parallel()
			testBatchTailFailsAlone(t, openBackend(t, tc.backend), tc.where == "hook")
		})
	}
}

func testBatchTailFailsAlone(t *testing.T, s *storage.Store, hookQueries bool) {
	const insert = "INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, 0)"
	hookRuns := 0
	var hooked [][]string // the events of each committed transaction, as its hook saw them
	s.OnEvents(func(ctx context.Context, tx *storage.Tx, evs []reservation.Event) error {
		hookRuns++
		var ids []string
		for _, ev := range evs {
			ids = append(ids, ev.ReservationID)
		}
		tx.AfterCommit(func() { hooked = append(hooked, ids) })
		if hookQueries {
			// A statement that needs an answer: the tail travels with it.
			_, err := storage.QueryInt(tx, "SELECT count(*) FROM leases")
			return err
		}
		return nil
	})
	committed := map[string]int{}
	runs := map[string]int{}
	write := func(name string, fn func(tx *storage.Tx) error) func(tx *storage.Tx) error {
		return func(tx *storage.Tx) error {
			runs[name]++
			tx.AfterCommit(func() { committed[name]++ })
			if err := storage.AppendEvent(s, tx, name); err != nil {
				return err
			}
			return fn(tx)
		}
	}
	errs := storage.RunBatch(s,
		write("ok-first", func(tx *storage.Tx) error { return storage.Exec(tx, insert, "ok-first", "h") }),
		// None of these three sends a statement of its own: on PostgreSQL
		// they travel after the writes, and the two bad ones fail one
		// after the other.
		write("bad-tail", func(tx *storage.Tx) error { return storage.ExecLater(tx, insert, "bad-tail", nil) }), // NOT NULL
		write("bad-tail-2", func(tx *storage.Tx) error { return storage.ExecLater(tx, insert, "bad-tail-2", nil) }),
		write("ok-tail", func(tx *storage.Tx) error { return storage.ExecLater(tx, insert, "ok-tail", "h") }),
	)
	want := []string{"ok-first", "ok-tail"}
	for i, name := range []string{"ok-first", "bad-tail", "bad-tail-2", "ok-tail"} {
		bad := strings.HasPrefix(name, "bad-")
		if bad != (errs[i] != nil) {
			t.Errorf("write %s: err = %v; want an error: %v", name, errs[i], bad)
		}
		if runs[name] != 1 {
			t.Errorf("write %s ran %d times, want once", name, runs[name])
		}
		if want := map[bool]int{true: 0, false: 1}[bad]; committed[name] != want {
			t.Errorf("the AfterCommit of %s ran %d times, want %d", name, committed[name], want)
		}
	}
	got, err := storage.QueryStrings(s, "SELECT name FROM leases ORDER BY name")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Errorf("leases = %v, want %v", got, want)
	}
	if len(hooked) != 1 || !slices.Equal(hooked[0], want) {
		t.Errorf("the hook's AfterCommit saw %v, want once the events of %v", hooked, want)
	}
	targets, err := storage.QueryStrings(s, "SELECT target FROM audit_log ORDER BY seq")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(targets, want) {
		t.Errorf("audit entries of %v, want %v", targets, want)
	}
	events, err := storage.QueryStrings(s, "SELECT reservation_id FROM events ORDER BY seq")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(events, want) {
		t.Errorf("events of %v, want %v", events, want)
	}
	if n, err := s.VerifyAudit(context.Background()); err != nil || n != int64(len(want)) {
		t.Errorf("VerifyAudit = %d, %v; want %d entries in a sound chain", n, err, len(want))
	}
	t.Logf("the hook ran %d times", hookRuns)
}

// TestSystemEventSeqAfterAFailedWrite: a system event's write learns its
// event's number at commit, by the event's id: a write before it in the
// batch that fails after it ran (on PostgreSQL, once the writes are done)
// takes its own event out of the transaction's, which moved ours. It read
// the number at the event's old place (another event's, or past the end:
// a panic).
func TestSystemEventSeqAfterAFailedWrite(t *testing.T) {
	t.Parallel()
	for _, backend := range []string{storage.SQLite, storage.Postgres} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			s := openBackend(t, backend)
			var seq int64
			errs := storage.RunBatch(s,
				func(tx *storage.Tx) error {
					if err := storage.AppendEvent(s, tx, "bad"); err != nil {
						return err
					}
					return storage.ExecLater(tx, "INSERT INTO leases (name, holder, expires_at) VALUES ('bad', NULL, 0)")
				},
				func(tx *storage.Tx) error {
					return storage.RecordSystemEventTx(s, tx, reservation.Event{Type: "webhook.ping", OccurredAt: time.Now()},
						&audit.Entry{At: time.Now(), Actor: "test", Action: "webhook.ping", Target: "ep", Outcome: audit.OutcomeOK, Detail: "{}"}, &seq)
				},
			)
			if errs[0] == nil || errs[1] != nil {
				t.Fatalf("errors %v: want the first write's alone", errs)
			}
			got, err := storage.QueryStrings(s, "SELECT CAST(seq AS TEXT) FROM events WHERE type = 'webhook.ping'")
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 || got[0] != fmt.Sprint(seq) {
				t.Errorf("the ping's event is numbered %v, and its write was told %d", got, seq)
			}
		})
	}
}

// TestCallerGoneDoesNotAbortTheBatch: a write whose caller's context ends
// while its statement runs (a request gone, a lease renewal stopped) does
// not cut the transaction the other writes of its group commit share: on
// PostgreSQL the statements run with the writer's context, and pgx would
// otherwise close the connection, rolling back every write of the batch.
func TestCallerGoneDoesNotAbortTheBatch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := storagetest.Open(t, storagetest.PostgresDSN(t))
	gone, cancel := context.WithCancel(ctx)
	defer cancel()
	runs := 0
	errs := storage.RunBatch(s,
		func(tx *storage.Tx) error {
			runs++
			return storage.Exec(tx, "INSERT INTO leases (name, holder, expires_at) VALUES ('other', 'x', 0)")
		},
		func(tx *storage.Tx) error {
			time.AfterFunc(200*time.Millisecond, cancel) // while the statement runs
			return storage.ExecCtx(gone, tx, "SELECT pg_sleep(1)")
		},
	)
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("batch: %v", err)
	}
	if runs != 1 {
		t.Errorf("the other write ran %d times: the caller that went away aborted the batch it shared", runs)
	}
}
