package storage

import (
	"context"

	"github.com/slotline/slotline/internal/audit"
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

// QueryStrings runs a query for one text column outside any transaction.
func QueryStrings(s *Store, q string, args ...any) ([]string, error) {
	rs, err := s.reader().query(context.Background(), q, args...)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var out []string
	for rs.Next() {
		var v string
		if err := rs.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rs.Err()
}
