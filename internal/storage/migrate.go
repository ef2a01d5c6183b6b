package storage

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the backend's migrations in order. A file
// NNNN_name.sql is for both backends; NNNN_name.sqlite.sql and
// NNNN_name.postgres.sql are for one, and a version that has a file for
// the other backend only is applied as nothing (so that both backends
// record the same versions).
func migrations(backend string) ([]migration, error) {
	names, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	byVersion := map[int]migration{}
	for _, n := range names {
		base := strings.TrimPrefix(n, "migrations/")
		v, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			return nil, fmt.Errorf("migration %s: name must start with a number", base)
		}
		dialect := ""
		if d := strings.TrimSuffix(base, ".sql"); strings.HasSuffix(d, "."+SQLite) || strings.HasSuffix(d, "."+Postgres) {
			dialect = d[strings.LastIndexByte(d, '.')+1:]
		}
		m := migration{version: v, name: base}
		if dialect == "" || dialect == backend {
			b, err := migrationFS.ReadFile(n)
			if err != nil {
				return nil, err
			}
			m.sql = string(b)
		}
		if prev, ok := byVersion[v]; ok && (prev.sql != "" || m.sql == "") {
			if m.sql != "" {
				return nil, fmt.Errorf("migrations %s and %s have one version", prev.name, base)
			}
			continue
		}
		byVersion[v] = m
	}
	out := make([]migration, 0, len(byVersion))
	for _, m := range byVersion {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	return out, nil
}

// render turns a migration into the backend's dialect.
func (s *Store) render(sql string) string {
	pk := "INTEGER PRIMARY KEY AUTOINCREMENT"
	if s.backend == Postgres {
		pk = "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"
	}
	return strings.ReplaceAll(sql, "{{PK}}", pk)
}

// statements splits a script at semicolons that end a line.
func statements(script string) []string {
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(script, "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "--") || trimmed == "" {
			continue
		}
		cur.WriteString(line)
		cur.WriteString("\n")
		if strings.HasSuffix(trimmed, ";") {
			out = append(out, cur.String())
			cur.Reset()
		}
	}
	if strings.TrimSpace(cur.String()) != "" {
		out = append(out, cur.String())
	}
	return out
}

const migrationLockID = 7_243_001 // PostgreSQL advisory lock key for migrations

// Migrate applies the migrations that have not been applied, Slotline's
// then River's (the job queue's tables, jobs.Driver.Migrate), and returns
// the names of Slotline's it applied; River's are logged. Several
// processes may call it at once: on PostgreSQL they take turns under one
// advisory lock, held across both (withMigrationLock); on SQLite,
// Slotline's run in one write transaction.
func (s *Store) Migrate(ctx context.Context) ([]string, error) {
	var applied []string
	err := s.withMigrationLock(ctx, func(ctx context.Context) error {
		var err error
		if applied, err = s.migrateTo(ctx, math.MaxInt); err != nil {
			return err
		}
		return s.JobDriver().Migrate(ctx, s.logger.With("subsystem", "river"))
	})
	if err != nil {
		return nil, err
	}
	return applied, nil
}

// withMigrationLock runs fn holding the migration lock. On PostgreSQL
// that is a transaction-level advisory lock in a transaction of its own,
// on a connection of its own outside the pool: fn's statements, which run
// in transactions of their own on the pool (River commits each of its
// migrations separately), are then all covered, and ending that
// connection, whatever fn did, releases the lock. A transaction rather
// than a session lock, so that a transaction-pooling proxy in front of
// the database keeps the lock on one server connection. On SQLite fn
// runs as it is.
func (s *Store) withMigrationLock(ctx context.Context, fn func(ctx context.Context) error) error {
	if s.backend != Postgres {
		return fn(ctx)
	}
	conn, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig.Copy())
	if err != nil {
		return fmt.Errorf("lock migrations: connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	tx, err := conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("lock migrations: %w", err)
	}
	// The transaction wrote nothing: rolling it back only releases the lock
	// (as closing the connection would).
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", migrationLockID); err != nil {
		return fmt.Errorf("lock migrations: %w", err)
	}
	return fn(ctx)
}

// migrateTo applies Slotline's migrations up to version last. The caller
// holds the migration lock (or is a test that runs alone).
func (s *Store) migrateTo(ctx context.Context, last int) ([]string, error) {
	ms, err := migrations(s.backend)
	if err != nil {
		return nil, err
	}
	var applied []string
	err = s.inTx(ctx, func(tx *Tx) error {
		if _, err := tx.exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`); err != nil {
			return fmt.Errorf("create schema_migrations: %w", err)
		}
		have, err := s.appliedVersions(ctx, tx)
		if err != nil {
			return err
		}
		for _, m := range ms {
			if have[m.version] || m.version > last {
				continue
			}
			for _, stmt := range statements(s.render(m.sql)) {
				if _, err := tx.exec(ctx, stmt); err != nil {
					return fmt.Errorf("migration %s: %w", m.name, err)
				}
			}
			if _, err := tx.exec(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
				m.version, m.name, micros(time.Now())); err != nil {
				return fmt.Errorf("record migration %s: %w", m.name, err)
			}
			applied = append(applied, m.name)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return applied, nil
}

func (s *Store) appliedVersions(ctx context.Context, e execer) (map[int]bool, error) {
	rs, err := e.query(ctx, "SELECT version FROM schema_migrations")
	if err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	defer rs.Close()
	have := map[int]bool{}
	for rs.Next() {
		var v int
		if err := rs.Scan(&v); err != nil {
			return nil, err
		}
		have[v] = true
	}
	return have, rs.Err()
}

// PendingMigrations returns the names of migrations not yet applied; readyz
// reports not ready while any are pending.
func (s *Store) PendingMigrations(ctx context.Context) ([]string, error) {
	ms, err := migrations(s.backend)
	if err != nil {
		return nil, err
	}
	have, err := s.appliedVersions(ctx, s.reader())
	if err != nil {
		return nil, err
	}
	var pending []string
	for _, m := range ms {
		if !have[m.version] {
			pending = append(pending, m.name)
		}
	}
	return pending, nil
}
