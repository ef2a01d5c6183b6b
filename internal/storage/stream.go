package storage

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// commitSignal wakes readers of the event log when a transaction with
// events commits in this process. Wait returns a channel closed at the
// next such commit.
type commitSignal struct {
	mu sync.Mutex
	ch chan struct{}
}

func (c *commitSignal) wait() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ch == nil {
		c.ch = make(chan struct{})
	}
	return c.ch
}

func (c *commitSignal) fire() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ch != nil {
		close(c.ch)
		c.ch = nil
	}
}

// EventsCommitted returns a channel that is closed when this process next
// commits events. Other processes' commits are seen by polling, or on
// PostgreSQL through ListenEvents.
func (s *Store) EventsCommitted() <-chan struct{} { return s.committed.wait() }

// eventsChannel is the PostgreSQL NOTIFY channel raised by every commit
// with events.
const eventsChannel = "slotline_events"

// ListenEvents calls wake each time any process commits events, until ctx
// is done, with the log's last sequence number when the notification says
// it (0 when not). It also calls wake(0) each time it has started to
// listen (at first, and on PostgreSQL after a lost connection, once the
// LISTEN is in place again): a caller that reads the log's head then
// misses no commit made before. On PostgreSQL it holds a connection in
// LISTEN, and the notification carries the schema and the number (the
// channel is the database's: the commits of deployments in other schemas
// are ignored); on SQLite, which has one process, it only relays this
// process's commits. It returns nil when ctx is done.
func (s *Store) ListenEvents(ctx context.Context, wake func(seq int64)) error {
	if s.pool == nil {
		committed := s.EventsCommitted()
		wake(0) // listening: every commit from now on closes committed
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-committed:
				committed = s.EventsCommitted()
				wake(0)
			}
		}
	}
	for ctx.Err() == nil {
		err := s.listenOnce(ctx, wake)
		if ctx.Err() != nil {
			return nil
		}
		s.logger.Warn("event LISTEN connection lost; retrying", "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
	return nil
}

// listenCloseWait bounds the close of the LISTEN connection.
const listenCloseWait = time.Second

// listenOnce listens on a connection of its own: taken from the pool and
// closed at the end rather than given back, so that ending needs no
// UNLISTEN, a round trip that would hold up the stop for as long as the
// database does not answer. Once the LISTEN is in place it calls wake(0):
// the commits before it, since the caller last read the head, notified
// nobody.
func (s *Store) listenOnce(ctx context.Context, wake func(seq int64)) error {
	pc, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	conn := pc.Hijack()
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), listenCloseWait)
		defer cancel()
		_ = conn.Close(cctx)
	}()
	var schema string
	if err := conn.QueryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		return err
	}
	if _, err := conn.Exec(ctx, "LISTEN "+eventsChannel); err != nil {
		return err
	}
	wake(0)
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		if seq, ok := notifiedSeq(n.Payload, schema); ok {
			wake(seq)
		}
	}
}

// notifiedSeq reads a notification's payload, "SCHEMA SEQ": the sequence
// number, and whether the commit was in schema. A payload of a build
// before the schema was in it (a bare number) wakes every schema, with the
// number unknown.
func notifiedSeq(payload, schema string) (int64, bool) {
	at := strings.LastIndexByte(payload, ' ')
	if at < 0 {
		return 0, true
	}
	if payload[:at] != schema {
		return 0, false
	}
	seq, err := strconv.ParseInt(payload[at+1:], 10, 64)
	if err != nil {
		return 0, true
	}
	return seq, true
}

// StreamCursor returns a durable subscription's cursor (0 and false if the
// subscription is new).
func (s *Store) StreamCursor(ctx context.Context, clientID, name string) (int64, bool, error) {
	var seq int64
	err := s.reader().queryRow(ctx, "SELECT seq FROM stream_cursors WHERE client_id = $1 AND name = $2", clientID, name).Scan(&seq)
	if errors.Is(err, errNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("read stream cursor: %w", err)
	}
	return seq, true, nil
}

// SaveStreamCursor stores a durable subscription's cursor. It never moves
// a cursor backwards unless reset is set (a subscriber that asked to start
// from an explicit point).
func (s *Store) SaveStreamCursor(ctx context.Context, clientID, name string, seq int64, reset bool) error {
	cond := " WHERE stream_cursors.seq < excluded.seq"
	if reset {
		cond = ""
	}
	return s.inTx(ctx, func(tx *Tx) error {
		return tx.execLater(ctx, wrapErr("save stream cursor"), `INSERT INTO stream_cursors (client_id, name, seq, updated_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (client_id, name) DO UPDATE SET seq = excluded.seq, updated_at = excluded.updated_at`+cond,
			clientID, name, seq, micros(time.Now()))
	})
}
