package storage_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/slotline/slotline/internal/jobs"
	"github.com/slotline/slotline/internal/reservation"
	"github.com/slotline/slotline/internal/storage"
	"github.com/slotline/slotline/internal/storage/storagetest"
)

// wireCounter is a TCP proxy to PostgreSQL that counts the round trips its
// clients start: each Sync (the end of an extended-protocol pipeline) and
// each simple Query. It reads the protocol in the clear (sslmode=disable).
type wireCounter struct {
	ln    net.Listener
	trips atomic.Int64
	wg    sync.WaitGroup
}

func newWireCounter(t *testing.T, upstream string) *wireCounter {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	w := &wireCounter{ln: ln}
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		w.wg.Wait()
	})
	w.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", upstream)
			if err != nil {
				c.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, c, up)
			mu.Unlock()
			w.wg.Go(func() { _, _ = io.Copy(c, up); c.Close() })
			w.wg.Go(func() { w.count(up, c); up.Close() })
		}
	})
	return w
}

// count copies the client's messages to the server, counting round trips.
func (w *wireCounter) count(dst io.Writer, src io.Reader) {
	r := bufio.NewReader(src)
	var head [5]byte
	// The startup message has no type byte.
	if _, err := io.ReadFull(r, head[:4]); err != nil {
		return
	}
	n := int64(binary.BigEndian.Uint32(head[:4]))
	if _, err := dst.Write(head[:4]); err != nil {
		return
	}
	if _, err := io.CopyN(dst, r, n-4); err != nil {
		return
	}
	for {
		if _, err := io.ReadFull(r, head[:]); err != nil {
			return
		}
		if head[0] == 'S' || head[0] == 'Q' {
			w.trips.Add(1)
		}
		n := int64(binary.BigEndian.Uint32(head[1:]))
		if _, err := dst.Write(head[:]); err != nil {
			return
		}
		if _, err := io.CopyN(dst, r, n-4); err != nil {
			return
		}
	}
}

type roundTripArgs struct {
	ID string `json:"id"`
}

func (roundTripArgs) Kind() string { return "test_round_trip" }

// TestCreateRoundTripsOnPostgres counts what one create costs on the wire
// as serve runs it, with a job inserted by an event hook (as the syncer
// does): the BEGIN travels with the first statement and River's insert
// notification with the COMMIT, so neither costs a round trip of its own,
// and the notification still arrives.
func TestCreateRoundTripsOnPostgres(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := storagetest.PostgresDSN(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	wire := newWireCounter(t, u.Host)
	q := u.Query()
	q.Set("sslmode", "disable")
	proxied := *u
	proxied.Host = wire.ln.Addr().String()
	proxied.RawQuery = q.Encode()
	s := storagetest.Open(t, proxied.String())

	js := jobs.New(s.JobDriver(), jobs.Config{FetchCooldown: time.Millisecond})
	js.AddQueue("test", 1)
	jobs.Register(js, jobs.Kind{Queue: "test", UniqueUnfinished: true}, func(context.Context, *jobs.Job[roundTripArgs]) error { return nil })
	if err := js.Open(ctx); err != nil {
		t.Fatal(err)
	}
	s.OnEvents(func(ctx context.Context, tx *storage.Tx, evs []reservation.Event) error {
		args := make([]jobs.Args, 0, len(evs))
		for _, ev := range evs {
			args = append(args, roundTripArgs{ID: ev.ReservationID})
		}
		return js.InsertManyTx(ctx, tx, args)
	})

	listener, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer listener.Close(ctx)
	var schema string
	if err := listener.QueryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		t.Fatal(err)
	}
	if _, err := listener.Exec(ctx, "LISTEN "+pgx.Identifier{schema + ".river_insert"}.Sanitize()); err != nil {
		t.Fatal(err)
	}

	create := func(slot int, adm *reservation.Admission) {
		t.Helper()
		r := &reservation.Reservation{ClientID: "website", QueueID: "q1", TimeZone: "UTC",
			CallbackNumber: fmt.Sprintf("+1415555%04d", slot), Channel: reservation.ChannelPreferences{Primary: "voice"}, ConcurrencyLimit: 10}
		start := time.Date(2031, 1, 6, 9, 0, 0, 0, time.UTC).Add(time.Duration(slot) * 15 * time.Minute)
		c := reservation.Candidate{Slot: reservation.Slot{Start: start, End: start.Add(15 * time.Minute)}, Bucket: start, Cap: 5}
		r.Candidates = []reservation.Slot{c.Slot}
		w := reservation.Write{Actor: "website", Origin: reservation.OriginAPI, Admission: adm}
		if _, err := s.CreateReservation(ctx, r, []reservation.Candidate{c}, w); err != nil {
			t.Fatal(err)
		}
	}
	notified := func() {
		t.Helper()
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		n, err := listener.WaitForNotification(wctx)
		if err != nil {
			t.Fatalf("no job insert notification: %v", err)
		}
		if !strings.Contains(n.Payload, `"test"`) {
			t.Fatalf("notification %q is not the test queue's", n.Payload)
		}
	}
	rules := &reservation.Admission{Duplicates: reservation.DuplicatesStrict, PerNumber: reservation.Limit{N: 3, Window: time.Hour}}
	for i, tc := range []struct {
		name string
		adm  *reservation.Admission
	}{{"no admission rules", nil}, {"duplicate and per_number rules", rules}} {
		create(10*i, tc.adm) // prepares the statements
		notified()
		// River notifies a queue at most once per FetchCooldown.
		time.Sleep(5 * time.Millisecond)
		before := wire.trips.Load()
		create(10*i+1, tc.adm)
		trips := wire.trips.Load() - before
		notified()
		// The reads (the admission's, the opt-out, the overrides) and the
		// slot's count in one, and the commit with the inserts, River's
		// job, the log and both notifications.
		if trips > 2 {
			t.Errorf("%s: a create took %d round trips; want at most 2 (a BEGIN, the slot's take, River's insert or notification or a read has a round trip of its own again)", tc.name, trips)
		}
		t.Logf("%s: a create took %d round trips", tc.name, trips)
	}

	// River's inserts, sent with the COMMIT, made their jobs: one for
	// each create.
	var made int64
	if err := listener.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{schema, "river_job"}.Sanitize()+
		" WHERE kind = 'test_round_trip'").Scan(&made); err != nil {
		t.Fatal(err)
	}
	if made != 4 {
		t.Errorf("%d jobs after 4 creates, want 4", made)
	}

	// A driver statement that fails fails the write, which leaves nothing
	// behind.
	s.OnEvents(func(ctx context.Context, tx *storage.Tx, _ []reservation.Event) error {
		_, err := tx.Driver().(pgx.Tx).Exec(tx.Context(ctx), "SELECT 1/0")
		return err
	})
	r := &reservation.Reservation{ClientID: "website", QueueID: "q1", TimeZone: "UTC", CallbackNumber: "+14155550199",
		Channel: reservation.ChannelPreferences{Primary: "voice"}, ConcurrencyLimit: 10}
	start := time.Date(2031, 1, 6, 12, 0, 0, 0, time.UTC)
	c := reservation.Candidate{Slot: reservation.Slot{Start: start, End: start.Add(15 * time.Minute)}, Bucket: start, Cap: 5}
	r.Candidates = []reservation.Slot{c.Slot}
	_, err = s.CreateReservation(ctx, r, []reservation.Candidate{c}, reservation.Write{Actor: "website", Origin: reservation.OriginAPI})
	if err == nil || !strings.Contains(err.Error(), "division by zero") {
		t.Fatalf("create with a failing driver statement: %v", err)
	}
	if r.ID == "" {
		t.Fatal("the create did not reach its insert")
	}
	if _, err := s.FindReservationByID(ctx, r.ID); !errors.Is(err, reservation.ErrNotFound) {
		t.Errorf("the failed create left its reservation: %v", err)
	}
}

// TestDeferredJobInsertFailsTheWrite: River's job insert, sent with the
// COMMIT rather than on its own (its rows are not read), still fails the
// write when the database refuses it, and the write leaves nothing.
func TestDeferredJobInsertFailsTheWrite(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := storagetest.Open(t, storagetest.PostgresDSN(t))
	js := jobs.New(s.JobDriver(), jobs.Config{})
	js.AddQueue("test", 1)
	jobs.Register(js, jobs.Kind{Queue: "test", UniqueUnfinished: true}, func(context.Context, *jobs.Job[roundTripArgs]) error { return nil })
	if err := js.Open(ctx); err != nil {
		t.Fatal(err)
	}
	s.OnEvents(func(ctx context.Context, tx *storage.Tx, evs []reservation.Event) error {
		// Two unique jobs with the same arguments in one insert: the
		// database refuses the statement.
		a := roundTripArgs{ID: evs[0].ReservationID}
		return js.InsertManyTx(ctx, tx, []jobs.Args{a, a})
	})
	r := &reservation.Reservation{ClientID: "website", QueueID: "q1", TimeZone: "UTC", CallbackNumber: "+14155550188",
		Channel: reservation.ChannelPreferences{Primary: "voice"}, ConcurrencyLimit: 10}
	start := time.Date(2031, 1, 6, 12, 0, 0, 0, time.UTC)
	c := reservation.Candidate{Slot: reservation.Slot{Start: start, End: start.Add(15 * time.Minute)}, Bucket: start, Cap: 5}
	r.Candidates = []reservation.Slot{c.Slot}
	_, err := s.CreateReservation(ctx, r, []reservation.Candidate{c}, reservation.Write{Actor: "website", Origin: reservation.OriginAPI})
	if err == nil || !strings.Contains(err.Error(), "insert jobs") {
		t.Fatalf("create whose job insert the database refuses: %v, want the insert's error", err)
	}
	if _, err := s.FindReservationByID(ctx, r.ID); !errors.Is(err, reservation.ErrNotFound) {
		t.Errorf("the failed create left its reservation: %v", err)
	}
}
