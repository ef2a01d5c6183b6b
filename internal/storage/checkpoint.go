package storage

import (
	"context"
	"database/sql"
	"log/slog"
	"time"

	"modernc.org/sqlite"
)

// SQLite copies the WAL back into the database file (a checkpoint) inside
// the commit that takes the WAL past wal_autocheckpoint pages: the writer,
// and every write waiting for its group commit, stalls for it. Slotline
// sets the writer's threshold high, as a backstop only, and a checkpointer
// goroutine runs passive checkpoints from a connection of its own, which
// copy what no reader still needs without ever blocking the writer.

const (
	// checkpointEvery is how often the checkpointer runs; with nothing new
	// in the WAL a passive checkpoint only reads the WAL index header.
	checkpointEvery = 250 * time.Millisecond
	// writerAutoCheckpoint is the writer's own threshold in pages, reached
	// only when checkpoints cannot keep up (a reader holding an old
	// snapshot for a long time).
	writerAutoCheckpoint = 100_000
)

type checkpointer struct {
	db   *sql.DB
	stop func() // ends the loop and waits for it
}

func newCheckpointer(dsn string) (*checkpointer, error) {
	conn, err := sqlite.NewConnector(dsn)
	if err != nil {
		return nil, err
	}
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxIdleTime(0)
	db.SetConnMaxLifetime(0)
	return &checkpointer{db: db, stop: func() {}}, nil
}

// start runs a passive checkpoint every checkpointEvery until close.
func (c *checkpointer) start(ctx context.Context, logger *slog.Logger) {
	c.stop = KeepAlive(ctx, checkpointEvery, func(ctx context.Context) error {
		_, err := c.db.ExecContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)")
		return err
	}, func(err error) {
		logger.Warn("sqlite checkpoint failed; the writer will checkpoint itself past its threshold", "err", err)
	})
}

func (c *checkpointer) close() error {
	c.stop()
	return c.db.Close()
}
