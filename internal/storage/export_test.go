package storage

import "context"

// MigrateTo applies the migrations up to version last, for tests of an
// upgrade from an older schema.
func MigrateTo(ctx context.Context, s *Store, last int) ([]string, error) {
	return s.migrateTo(ctx, last)
}
