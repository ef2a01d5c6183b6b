package storage

import "context"

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
