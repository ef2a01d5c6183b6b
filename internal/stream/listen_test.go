package stream_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/slotline/slotline/internal/audit"
	"github.com/slotline/slotline/internal/reservation"
	"github.com/slotline/slotline/internal/storage"
	"github.com/slotline/slotline/internal/storage/storagetest"
	"github.com/slotline/slotline/internal/stream"
)

// countedLog is a store whose ListenEvents calls are counted while they
// run.
type countedLog struct {
	*storage.Store
	running atomic.Int64
	finds   atomic.Int64 // FindStoredEvents calls
}

func (c *countedLog) FindStoredEvents(ctx context.Context, after int64, limit int) ([]reservation.StoredEvent, error) {
	c.finds.Add(1)
	return c.Store.FindStoredEvents(ctx, after, limit)
}

func (c *countedLog) ListenEvents(ctx context.Context, wake func(seq int64)) error {
	c.running.Add(1)
	defer c.running.Add(-1)
	return c.Store.ListenEvents(ctx, wake)
}

// lazyCase is a hub's store and another writing to the same log, and how
// many listeners the hub holds.
type lazyCase struct {
	hubLog *countedLog
	writer *storage.Store
	// listening counts the hub's LISTEN connections (its ListenEvents
	// calls on SQLite).
	listening func(t *testing.T) int
}

// lazyCases gives the hub's store and another process's on one PostgreSQL
// schema, the LISTEN connections counted by the database, and a SQLite
// database, whose one process writes itself.
func lazyCases() map[string]func(t *testing.T) lazyCase {
	return map[string]func(t *testing.T) lazyCase{
		"postgres": func(t *testing.T) lazyCase {
			dsn := storagetest.PostgresDSN(t)
			u, err := url.Parse(dsn)
			if err != nil {
				t.Fatal(err)
			}
			b := make([]byte, 6)
			_, _ = rand.Read(b)
			app := "slotline_hub_" + hex.EncodeToString(b)
			q := u.Query()
			q.Set("application_name", app)
			u.RawQuery = q.Encode()
			hubStore := storagetest.Open(t, u.String())
			writer := storagetest.Open(t, dsn)
			probe, err := pgx.Connect(context.Background(), dsn)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { probe.Close(context.Background()) })
			return lazyCase{hubLog: &countedLog{Store: hubStore}, writer: writer, listening: func(t *testing.T) int {
				t.Helper()
				var n int
				if err := probe.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
					WHERE application_name = $1 AND query = 'LISTEN slotline_events'`, app).Scan(&n); err != nil {
					t.Fatal(err)
				}
				return n
			}}
		},
		"sqlite": func(t *testing.T) lazyCase {
			s := storagetest.Open(t, "sqlite:"+filepath.Join(t.TempDir(), "s.db"))
			c := &countedLog{Store: s}
			return lazyCase{hubLog: c, writer: s, listening: func(*testing.T) int { return int(c.running.Load()) }}
		},
	}
}

// commitEvent commits one event through s and returns its number.
func commitEvent(t *testing.T, s *storage.Store) int64 {
	t.Helper()
	now := time.Now()
	seq, err := s.RecordSystemEvent(context.Background(), reservation.Event{Type: reservation.EventWebhookPing,
		Origin: reservation.OriginAPI, Actor: "t", OccurredAt: now}, &audit.Entry{At: now, Actor: "t",
		Action: "test.event", Target: "x", Outcome: audit.OutcomeOK, Detail: "{}"})
	if err != nil {
		t.Fatal(err)
	}
	return seq
}

// eventually waits up to a minute for cond.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("after a minute, still not: %s", what)
		}
	}
}

// readTo reads from the hub after seq after until it has seq last, and
// checks that the events come one by one, in order.
func readTo(t *testing.T, hub *stream.Hub, after, last int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for after < last {
		items, err := hub.Read(ctx, after, 100)
		if err != nil {
			t.Fatalf("read after %d (want up to %d): %v", after, last, err)
		}
		for _, it := range items {
			if it.Seq != after+1 {
				t.Fatalf("read %d after %d", it.Seq, after)
			}
			after = it.Seq
		}
	}
}

// TestHubListensOnlyWithReaders: a hub without readers holds no LISTEN
// and its Head still follows another process's commits; a reader starts
// the listener, and the other process's commits reach it by notification
// (the safety poll is an hour here), including one made before the LISTEN
// was in place; once the last reader has been gone for Linger the LISTEN
// ends, and a new reader starts it again and misses nothing committed
// meanwhile.
func TestHubListensOnlyWithReaders(t *testing.T) {
	t.Parallel()
	for name, open := range lazyCases() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := open(t)
			hub := stream.NewHub(c.hubLog, nil, 64)
			hub.Linger = 50 * time.Millisecond
			stream.SetPoll(hub, time.Hour)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() {
				defer close(done)
				_ = hub.Run(ctx)
			}()
			defer func() {
				cancel()
				<-done
				if n := c.hubLog.running.Load(); n != 0 {
					t.Errorf("Run returned with %d ListenEvents still running", n)
				}
			}()
			head := func() int64 {
				t.Helper()
				h, err := hub.Head(ctx)
				if err != nil {
					t.Fatal(err)
				}
				return h
			}

			// No readers: no listener, and Head reads the log.
			first := head()
			for range 3 {
				seq := commitEvent(t, c.writer)
				if h := head(); h != seq {
					t.Fatalf("without readers the hub's head is %d after the other process committed %d", h, seq)
				}
			}
			if n := c.listening(t); n != 0 || c.hubLog.running.Load() != 0 {
				t.Fatalf("without readers the hub holds %d LISTEN connections (%d ListenEvents)", n, c.hubLog.running.Load())
			}

			// A reader: the listener starts, and a commit made before it
			// was in place is read (its notification went to nobody).
			h0 := head()
			missed := commitEvent(t, c.writer)
			detach := hub.Attach()
			readTo(t, hub, h0, missed)
			eventually(t, "listening with a reader", func() bool { return c.listening(t) == 1 })
			// A reader at the head reads from the ring: the hub's fetch
			// is the one read of the log per event.
			finds := c.hubLog.finds.Load()
			for range 10 {
				at := head()
				readTo(t, hub, at, commitEvent(t, c.writer))
			}
			if n := c.hubLog.finds.Load() - finds; n > 12 {
				t.Errorf("10 events read at the head took %d reads of the log; want one each (the ring's)", n)
			}

			// The last reader leaves: after Linger the LISTEN is gone.
			detach()
			eventually(t, "the LISTEN gone after the linger", func() bool {
				return c.listening(t) == 0 && c.hubLog.running.Load() == 0
			})
			before := head()
			var last int64
			for range 5 {
				last = commitEvent(t, c.writer)
			}

			// A reader again: it starts the listener, and a reader from
			// before the commits made meanwhile reads them all, in order.
			detach = hub.Attach()
			defer detach()
			readTo(t, hub, before, last)
			eventually(t, "listening again", func() bool { return c.listening(t) == 1 })
			readTo(t, hub, first, commitEvent(t, c.writer))
		})
	}
}
