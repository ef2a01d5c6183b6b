package storage

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// BackupTo writes a consistent copy of the SQLite database to dst, which
// must not exist, while the database stays in use: VACUUM INTO reads one
// snapshot (WAL readers never block the writer, nor it them) and writes a
// compact file. The copy is written beside dst and renamed into place, so
// that dst is either absent or whole. PostgreSQL answers an error naming
// pg_dump.
func (s *Store) BackupTo(ctx context.Context, dst string) error {
	if s.backend != SQLite {
		return fmt.Errorf("backup: the database is PostgreSQL: back it up with pg_dump (see docs/operations.md)")
	}
	if _, err := os.Stat(dst); err == nil {
		return fmt.Errorf("backup: %s exists: give a new file", dst)
	}
	tmp := filepath.Join(filepath.Dir(dst), "."+filepath.Base(dst)+".partial")
	_ = os.Remove(tmp)
	// A connection of its own: the readers are query_only, which VACUUM
	// INTO (a write of another file) is refused on.
	conn, err := s.rdb.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "PRAGMA query_only = 0"); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer func() { _, _ = conn.ExecContext(context.WithoutCancel(ctx), "PRAGMA query_only = 1") }()
	if _, err := conn.ExecContext(ctx, "VACUUM INTO ?", tmp); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("backup: %w", err)
	}
	if err := syncFile(tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, dst); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("backup: %w", err)
	}
	return syncFile(filepath.Dir(dst))
}

func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil && !strings.Contains(err.Error(), "invalid argument") { // some file systems cannot sync a directory
		return fmt.Errorf("sync %s: %w", path, err)
	}
	return nil
}

// Check is what CheckDatabase found in a database.
type Check struct {
	// Integrity is "ok" or SQLite's first complaint (SQLite only).
	Integrity string
	// Applied and Unknown are its migrations this binary knows and those
	// it does not (made by a newer version).
	Applied, Unknown []string
	// Reservations is how many reservations it holds.
	Reservations int64
}

// CheckDatabase reads what a restore must know of the database: its
// integrity (SQLite), its migrations and its size in reservations.
func (s *Store) CheckDatabase(ctx context.Context) (*Check, error) {
	c := &Check{Integrity: "ok"}
	if s.backend == SQLite {
		if err := s.reader().queryRow(ctx, "PRAGMA quick_check").Scan(&c.Integrity); err != nil {
			return nil, fmt.Errorf("check: %w", err)
		}
	}
	ms, err := migrations(s.backend)
	if err != nil {
		return nil, err
	}
	known := map[int]string{}
	for _, m := range ms {
		known[m.version] = m.name
	}
	rs, err := s.reader().query(ctx, "SELECT version, name FROM schema_migrations ORDER BY version")
	if err != nil {
		return nil, fmt.Errorf("check: no Slotline schema: %w", err)
	}
	defer rs.Close()
	for rs.Next() {
		var v int
		var name string
		if err := rs.Scan(&v, &name); err != nil {
			return nil, err
		}
		if _, ok := known[v]; ok {
			c.Applied = append(c.Applied, name)
		} else {
			c.Unknown = append(c.Unknown, name)
		}
	}
	if err := rs.Err(); err != nil {
		return nil, err
	}
	if err := s.reader().queryRow(ctx, "SELECT count(*) FROM reservations").Scan(&c.Reservations); err != nil {
		return nil, fmt.Errorf("check: %w", err)
	}
	return c, nil
}
