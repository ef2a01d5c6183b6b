package storage_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/slotline/slotline/internal/reservation"
	"github.com/slotline/slotline/internal/storage"
	"github.com/slotline/slotline/internal/storage/storagetest"
)

// TestUpgradeCompactSchema fills a database at schema version 4, applies
// version 5 (which rebuilds SQLite's events, audit log, slot usage and
// reservations) and checks that nothing was lost or changed: the
// reservations, the event log, the audit chain, a replayed idempotent
// response, and the numbering of what is written next.
func TestUpgradeCompactSchema(t *testing.T) {
	t.Parallel()
	for _, backend := range []string{storage.SQLite, storage.Postgres} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			dsn := "sqlite:" + filepath.Join(t.TempDir(), "upgrade.db")
			if backend == storage.Postgres {
				dsn = storagetest.PostgresDSN(t)
			}
			testUpgrade(t, dsn)
		})
	}
}

func testUpgrade(t *testing.T, dsn string) {
	ctx := context.Background()
	s, err := storage.Connect(ctx, dsn, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := storage.MigrateTo(ctx, s, 4); err != nil {
		t.Fatal(err)
	}
	// This code writes the events' owner (version 7), the reservations'
	// outcomes (version 8) and their locale and opt-out (version 10): the columns are there while it writes the
	// version-4 data, and go before the upgrade.
	added := []string{"events ADD COLUMN owner TEXT NOT NULL DEFAULT ''",
		"reservations ADD COLUMN outcome TEXT NOT NULL DEFAULT ''",
		"reservations ADD COLUMN disconnect_reasons TEXT NOT NULL DEFAULT '[]'",
		"reservations ADD COLUMN wrapup_code TEXT NOT NULL DEFAULT ''",
		"reservations ADD COLUMN dial_attempts INTEGER NOT NULL DEFAULT 0",
		"reservations ADD COLUMN locale TEXT NOT NULL DEFAULT ''",
		"reservations ADD COLUMN sms_opt_out INTEGER NOT NULL DEFAULT 0",
		"reservations ADD COLUMN cancel_reason TEXT NOT NULL DEFAULT ''",
		"reservations ADD COLUMN self_nonce TEXT NOT NULL DEFAULT ''",
		"reservations ADD COLUMN self_digest TEXT NOT NULL DEFAULT ''",
		"reservations ADD COLUMN self_reschedules INTEGER NOT NULL DEFAULT 0",
		"events ADD COLUMN kind TEXT NOT NULL DEFAULT ''", "events ADD COLUMN reason TEXT NOT NULL DEFAULT ''"}
	for _, a := range added {
		if err := storage.ExecSQL(ctx, s, "ALTER TABLE "+a); err != nil {
			t.Fatal(err)
		}
	}
	// On PostgreSQL the log statement moves the webhook endpoints'
	// generation (version 24).
	pg := strings.HasPrefix(dsn, "postgres")
	if pg {
		if err := storage.ExecSQL(ctx, s, "ALTER TABLE log_head ADD COLUMN webhook_gen BIGINT NOT NULL DEFAULT 0"); err != nil {
			t.Fatal(err)
		}
		if err := storage.ExecSQL(ctx, s, `CREATE FUNCTION slotline_webhook_gen(cur BIGINT, bump BIGINT, seen BIGINT) RETURNS BIGINT
			LANGUAGE sql AS 'SELECT cur + bump'`); err != nil {
			t.Fatal(err)
		}
	}
	// A create reads sms_opt_outs (version 10; self-service's carried opt-out).
	if err := storage.ExecSQL(ctx, s, "CREATE TABLE sms_opt_outs (callback_number TEXT PRIMARY KEY, created_at BIGINT NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	// A create and a reschedule read capacity_overrides (version 18).
	if err := storage.ExecSQL(ctx, s, `CREATE TABLE capacity_overrides (pk INTEGER, id TEXT, queue_id TEXT, start_at BIGINT, end_at BIGINT,
		start_local TEXT, end_local TEXT, capacity INTEGER, reason TEXT, actor TEXT, created_at BIGINT, updated_at BIGINT)`); err != nil {
		t.Fatal(err)
	}
	start := time.Now().Add(48 * time.Hour).Truncate(time.Hour).UTC()
	cand := func(i int) reservation.Candidate {
		slot := reservation.Slot{Start: start.Add(time.Duration(i) * 15 * time.Minute), End: start.Add(time.Duration(i+1) * 15 * time.Minute)}
		return reservation.Candidate{Slot: slot, Bucket: slot.Start, Cap: 5}
	}
	w := reservation.Write{Actor: "website", Origin: reservation.OriginAPI, RequestID: "req"}
	var ids []string
	for i := range 3 {
		r := &reservation.Reservation{ClientID: "website", CallbackID: "web-" + string(rune('a'+i)), QueueID: "q1",
			TimeZone: "America/New_York", CallbackNumber: "+14155550100", Candidates: []reservation.Slot{cand(i).Slot},
			Channel: reservation.ChannelPreferences{Primary: "voice"}}
		if _, err := s.CreateReservation(ctx, r, []reservation.Candidate{cand(i)}, keyed(w, r)); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
	}
	if _, _, err := s.UpdateReservation(ctx, ids[1], reservation.Change{Candidates: []reservation.Candidate{cand(7)}, Matrix: []reservation.Slot{cand(7).Slot}}, w); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.CancelReservation(ctx, ids[2], w); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, s, ids)
	for _, a := range added {
		table, col, _ := strings.Cut(a, " ADD COLUMN ")
		col, _, _ = strings.Cut(col, " ")
		if err := storage.ExecSQL(ctx, s, "ALTER TABLE "+table+" DROP COLUMN "+col); err != nil {
			t.Fatal(err)
		}
	}
	if err := storage.ExecSQL(ctx, s, "DROP TABLE capacity_overrides"); err != nil {
		t.Fatal(err)
	}
	if pg {
		if err := storage.ExecSQL(ctx, s, "ALTER TABLE log_head DROP COLUMN webhook_gen"); err != nil {
			t.Fatal(err)
		}
		if err := storage.ExecSQL(ctx, s, "DROP FUNCTION slotline_webhook_gen"); err != nil {
			t.Fatal(err)
		}
	}
	if err := storage.ExecSQL(ctx, s, "DROP TABLE sms_opt_outs"); err != nil {
		t.Fatal(err)
	}

	applied, err := s.Migrate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Every migration from version 5 on, in order: 5, then 6 (which moved
	// the claims to the leases table), 7 (the events' owners), 8 (the
	// outcomes: the canceled reservation gets its own), 9 (the Genesys
	// budget), 10 (the customer's locale and SMS opt-out), and any later.
	// Versions after 10 are numbered by feature and may have gaps; they
	// still come in order.
	for i, name := range applied {
		if i <= 5 && !strings.HasPrefix(name, fmt.Sprintf("%04d_", 5+i)) || i > 5 && name <= applied[i-1] {
			t.Fatalf("Migrate applied %v, want every version from 5 on, in order", applied)
		}
	}
	if len(applied) < 6 || applied[1] != "0006_leases.sql" || applied[5] != "0010_customer.sql" {
		t.Fatalf("Migrate applied %v, want version 5, then 6 to 10 and any later", applied)
	}
	after := snapshot(t, s, ids)
	for _, ev := range after.Events {
		if ev.Owner != "website" {
			t.Fatalf("event %d after the upgrade has owner %q, want the reservation's client", ev.Seq, ev.Owner)
		}
	}
	if b, a := mustJSON(t, before), mustJSON(t, after); b != a {
		t.Fatalf("the upgrade changed what is stored:\nbefore %s\nafter  %s", b, a)
	}

	// What comes next is numbered after what was there.
	r := &reservation.Reservation{ClientID: "website", CallbackID: "web-next", QueueID: "q1", TimeZone: "America/New_York",
		CallbackNumber: "+14155550100", Candidates: []reservation.Slot{cand(9).Slot}, Channel: reservation.ChannelPreferences{Primary: "voice"}}
	if _, err := s.CreateReservation(ctx, r, []reservation.Candidate{cand(9)}, keyed(w, r)); err != nil {
		t.Fatal(err)
	}
	evs, err := s.FindEvents(ctx, before.LastSeq, 10)
	if err != nil || len(evs) != 1 || evs[0].Seq != before.LastSeq+1 || evs[0].ReservationID != r.ID {
		t.Fatalf("events after the upgrade = %+v, %v; want one, numbered %d", evs, err, before.LastSeq+1)
	}
	if n, err := s.VerifyAudit(ctx); err != nil || n != before.Audited+1 {
		t.Fatalf("VerifyAudit after a new write = %d, %v; want %d entries", n, err, before.Audited+1)
	}
	list, _, err := s.FindReservations(ctx, reservation.Filter{QueueID: "q1"})
	if err != nil || len(list) != 4 {
		t.Fatalf("FindReservations = %d reservations, %v; want 4", len(list), err)
	}
	again := &reservation.Reservation{ClientID: "website", CallbackID: "web-next", QueueID: "q1", TimeZone: "America/New_York",
		CallbackNumber: "+14155550100", Candidates: []reservation.Slot{cand(10).Slot}, Channel: reservation.ChannelPreferences{Primary: "voice"}}
	if _, err := s.CreateReservation(ctx, again, []reservation.Candidate{cand(10)}, keyed(w, again)); !errors.Is(err, reservation.ErrKeyTaken) {
		t.Fatalf("a reused callback_id after the upgrade: %v, want ErrKeyTaken", err)
	}
}

type stored struct {
	Reservations []*reservation.Reservation
	Events       []reservation.Event
	LastSeq      int64
	Audited      int64
	Replay       *reservation.IdempotencyRecord
}

func snapshot(t *testing.T, s *storage.Store, ids []string) stored {
	t.Helper()
	ctx := context.Background()
	var st stored
	for _, id := range ids {
		r, err := s.FindReservationByID(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		st.Reservations = append(st.Reservations, r)
	}
	var err error
	if st.Events, err = s.FindEvents(ctx, 0, 100); err != nil {
		t.Fatal(err)
	}
	if !slices.IsSortedFunc(st.Events, func(a, b reservation.Event) int { return int(a.Seq - b.Seq) }) || len(st.Events) != 5 {
		t.Fatalf("%d events before/after the upgrade, want 5 in order", len(st.Events))
	}
	if st.LastSeq, err = s.LastEventSeq(ctx); err != nil {
		t.Fatal(err)
	}
	if st.Audited, err = s.VerifyAudit(ctx); err != nil {
		t.Fatal(err)
	}
	if st.Replay, err = s.FindIdempotency(ctx, "website", reservation.CallbackIDKey("web-b")); err != nil || st.Replay == nil {
		t.Fatalf("FindIdempotency = %v, %v", st.Replay, err)
	}
	return st
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// keyed returns w with the idempotency record of r's callback_id.
func keyed(w reservation.Write, r *reservation.Reservation) reservation.Write {
	w.Idempotency = reservation.CreateIdempotency(reservation.CallbackIDKey(r.CallbackID), "")
	return w
}
