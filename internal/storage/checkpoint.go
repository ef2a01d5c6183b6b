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
// and every write waiting for its group commit, stalls for it. A
// checkpointer goroutine runs passive checkpoints every checkpointEvery
// from a connection of its own; they copy what no reader still needs
// without blocking the writer, so that when the writer's own checkpoint
// comes due, little is left for it to copy. The writer's checkpoint stays:
// SQLite rewinds the WAL only when a write begins just after a checkpoint
// that copied everything, which a checkpoint from another connection under
// steady writes rarely achieves, and without the rewinds the WAL would grow
// to whatever threshold there is.

const (
	// checkpointEvery is how often the checkpointer runs; with nothing new
	// in the WAL a passive checkpoint only reads the WAL index header.
	checkpointEvery = 250 * time.Millisecond
	// writerAutoCheckpoint is the writer's own threshold in pages (4 KiB
	// each): the WAL file stays under about 80 MB.
	writerAutoCheckpoint = 20_000
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
	c.stop = every(ctx, checkpointEvery, func(ctx context.Context) error {
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

// every calls fn every period until the returned stop is called (stop
// waits for it to finish); onErr hears of fn's failures. The checkpointer
// and lease renewals run on it.
func every(ctx context.Context, period time.Duration, fn func(ctx context.Context) error, onErr func(error)) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := fn(ctx); err != nil && ctx.Err() == nil && onErr != nil {
					onErr(err)
				}
			}
		}
	}()
	return func() {
		cancel()
		<-done
	}
}
