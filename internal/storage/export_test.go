package storage

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/slotline/slotline/internal/audit"
	"github.com/slotline/slotline/internal/reservation"
)

// MigrateTo applies the migrations up to version last, for tests of an
// upgrade from an older schema (Slotline's only, under the migration
// lock).
func MigrateTo(ctx context.Context, s *Store, last int) ([]string, error) {
	var applied []string
	err := s.withMigrationLock(ctx, func(ctx context.Context) error {
		var err error
		applied, err = s.migrateTo(ctx, last)
		return err
	})
	return applied, err
}

// ExecSQL runs one statement in a write transaction, for tests that shape
// an older schema by hand.
func ExecSQL(ctx context.Context, s *Store, sql string) error {
	return s.inTx(ctx, func(tx *Tx) error { return tx.execLater(ctx, wrapErr("exec"), sql) })
}

// RunBatch runs fns as the writer runs the writes waiting together (one
// group commit) and returns their outcomes. Nothing else may write
// meanwhile.
func RunBatch(s *Store, fns ...func(tx *Tx) error) []error {
	jobs := make([]*writeJob, len(fns))
	for i, fn := range fns {
		jobs[i] = &writeJob{ctx: context.Background(), fn: fn, done: make(chan error, 1)}
	}
	s.runBatch(jobs)
	errs := make([]error, len(jobs))
	for i, j := range jobs {
		errs[i] = <-j.done
	}
	return errs
}

// Exec runs a statement in tx at once; ExecLater as the store's deferred
// statements do (on PostgreSQL with the next one that needs an answer).
func Exec(tx *Tx, q string, args ...any) error {
	_, err := tx.exec(context.Background(), q, args...)
	return err
}

// ExecLater: see Exec.
func ExecLater(tx *Tx, q string, args ...any) error {
	return tx.execLater(context.Background(), nil, q, args...)
}

// QueryInt runs a query for one integer in tx.
func QueryInt(tx *Tx, q string, args ...any) (int64, error) {
	var n int64
	err := tx.queryRow(context.Background(), q, args...).Scan(&n)
	return n, err
}

// AppendAudit adds an audit entry to tx, as a write does.
func AppendAudit(s *Store, tx *Tx, e *audit.Entry) error {
	return s.appendLog(context.Background(), tx, nil, e)
}

// AppendEvent adds an event about target, with an audit entry, to tx, as
// a write does.
func AppendEvent(s *Store, tx *Tx, target string) error {
	ev := pendingEvent{Event: reservation.Event{Type: "test.event", ReservationID: target, OccurredAt: time.Now()}, data: []byte("{}")}
	return s.appendLog(context.Background(), tx, []pendingEvent{ev}, &audit.Entry{At: time.Now(), Actor: "test",
		Action: "test.event", Target: target, Outcome: audit.OutcomeOK, Detail: "{}"})
}

// RecordSystemEventTx is RecordSystemEvent's write, for RunBatch.
func RecordSystemEventTx(s *Store, tx *Tx, ev reservation.Event, entry *audit.Entry, seq *int64) error {
	return s.recordSystemEvent(context.Background(), tx, ev, entry, seq)
}

// QueryStrings runs a query for one text column outside any transaction.
func QueryStrings(s *Store, q string, args ...any) ([]string, error) {
	return s.readStrings(context.Background(), q, args...)
}

// Read is a statement the store ran outside a transaction, with its
// arguments.
type Read struct {
	SQL  string
	Args []any
}

// CaptureReads runs fn and returns the reads the store ran meanwhile.
func CaptureReads(s *Store, fn func() error) ([]Read, error) {
	var mu sync.Mutex
	var out []Read
	h := func(q string, args []any) {
		mu.Lock()
		out = append(out, Read{q, slices.Clone(args)})
		mu.Unlock()
	}
	s.readHook.Store(&h)
	defer s.readHook.Store(nil)
	err := fn()
	mu.Lock()
	defer mu.Unlock()
	return out, err
}

// ExplainRead returns the plan of a read, one line per node: on SQLite
// the details of EXPLAIN QUERY PLAN; on PostgreSQL the lines of EXPLAIN
// with sequential scans and sorts disabled, so that a Seq Scan or a Sort
// left in the plan is one no index can spare (the planner would otherwise
// prefer them on a test's few rows).
func ExplainRead(ctx context.Context, s *Store, r Read) ([]string, error) {
	var out []string
	if s.pool == nil {
		rs, err := s.rdb.QueryContext(ctx, "EXPLAIN QUERY PLAN "+r.SQL, r.Args...)
		if err != nil {
			return nil, err
		}
		defer rs.Close()
		for rs.Next() {
			var id, parent, unused int
			var detail string
			if err := rs.Scan(&id, &parent, &unused, &detail); err != nil {
				return nil, err
			}
			out = append(out, detail)
		}
		return out, rs.Err()
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(ctx)
	for _, set := range []string{"SET LOCAL enable_seqscan = off", "SET LOCAL enable_sort = off"} {
		if _, err := tx.Exec(ctx, set); err != nil {
			return nil, err
		}
	}
	return readStringsOn(ctx, pgExec{tx}, "EXPLAIN "+r.SQL, r.Args...)
}

// ExplainAnalyzeRead runs a read under EXPLAIN (ANALYZE, FORMAT JSON) on
// PostgreSQL, with the planner's own settings (the plan the read gets in
// service), and returns the JSON.
func ExplainAnalyzeRead(ctx context.Context, s *Store, r Read) ([]byte, error) {
	var out []byte
	err := s.pool.QueryRow(ctx, "EXPLAIN (ANALYZE, FORMAT JSON) "+r.SQL, r.Args...).Scan(&out)
	return out, err
}

// ExecCtx runs a statement in tx at once with ctx, as a write's own
// statements are given their caller's context.
func ExecCtx(ctx context.Context, tx *Tx, q string, args ...any) error {
	_, err := tx.exec(ctx, q, args...)
	return err
}

// BeforeReads has hook see each read outside a transaction (and each of a
// snapshot's) before it runs, until the returned function is called.
func BeforeReads(s *Store, hook func(q string)) (stop func()) {
	h := func(q string, _ []any) { hook(q) }
	s.readHook.Store(&h)
	return func() { s.readHook.Store(nil) }
}

// QueryLater queues a read of one integer into *got as the store's queued
// reads do (queryLater), failing in the process with failScan when not nil.
func QueryLater(tx *Tx, got *int64, failScan error, q string, args ...any) error {
	_, err := tx.queryLater(context.Background(), nil, func(rs rows) error {
		if failScan != nil {
			return failScan
		}
		for rs.Next() {
			if err := rs.Scan(got); err != nil {
				return err
			}
		}
		return nil
	}, q, args...)
	return err
}
