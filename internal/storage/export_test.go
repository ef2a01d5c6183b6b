package storage

import "context"

// MigrateTo applies the migrations up to version last, for tests of an
// upgrade from an older schema.
func MigrateTo(ctx context.Context, s *Store, last int) ([]string, error) {
	return s.migrateTo(ctx, last)
}

// ExecSQL runs one statement in a write transaction, for tests that shape
// an older schema by hand.
func ExecSQL(ctx context.Context, s *Store, sql string) error {
	return s.inTx(ctx, func(tx *Tx) error { return tx.execLater(ctx, wrapErr("exec"), sql) })
}
