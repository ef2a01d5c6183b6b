package storage

import (
	"time"

	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"

	"github.com/slotline/slotline/internal/jobs"
)

// JobDriver returns River's driver for the store's database, for
// jobs.New: on SQLite, River's SQLite driver on the store's single writer
// connection (River's SQLite driver asks for one writer; the store's
// transactions are then River's too), with its fast multi-row insert and a
// 50 ms poll (SQLite cannot notify); on PostgreSQL, River's pgx driver on
// the store's pool, woken by LISTEN/NOTIFY.
func (s *Store) JobDriver() jobs.Driver {
	if s.backend == SQLite {
		return jobs.NewDriver(riversqlite.New(s.wdb), jobs.DriverOptions{FastInsert: true, PollInterval: 50 * time.Millisecond})
	}
	return jobs.NewDriver(riverpgxv5.New(s.pool), jobs.DriverOptions{})
}
