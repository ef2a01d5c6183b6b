package storage

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/slotline/slotline/internal/audit"
	"github.com/slotline/slotline/internal/reservation"
)

// newID returns prefix followed by n random bytes in hex.
func newID(prefix string, n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return prefix + hex.EncodeToString(b)
}

// appendLog appends events and one audit entry to the logs. It locks the
// log head row, so it must be the last step before commit: sequence numbers
// are then handed out in commit order, and a reader that has seen event N
// can never later find a committed event below N.
func (s *Store) appendLog(ctx context.Context, tx *Tx, events []reservation.Event, entry *audit.Entry) error {
	var eventSeq, auditSeq int64
	var auditHash string
	err := tx.queryRow(ctx, "SELECT event_seq, audit_seq, audit_hash FROM log_head WHERE id = 1"+s.forUpdate()).
		Scan(&eventSeq, &auditSeq, &auditHash)
	if err != nil {
		return fmt.Errorf("lock log head: %w", err)
	}
	for i := range events {
		ev := &events[i]
		eventSeq++
		ev.Seq = eventSeq
		if ev.ID == "" {
			ev.ID = newID("evt_", 12)
		}
		data, err := json.Marshal(ev.Reservation)
		if err != nil {
			return fmt.Errorf("encode event: %w", err)
		}
		if _, err := tx.exec(ctx, `INSERT INTO events (seq, event_id, type, reservation_id, queue_id, origin, actor, occurred_at, data)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			ev.Seq, ev.ID, ev.Type, ev.ReservationID, ev.QueueID, ev.Origin, ev.Actor, micros(ev.OccurredAt), string(data)); err != nil {
			return fmt.Errorf("insert event: %w", err)
		}
	}
	if entry != nil {
		entry.At = entry.At.Truncate(time.Microsecond)
		entry.Seal(auditSeq, auditHash)
		if _, err := tx.exec(ctx, `INSERT INTO audit_log (seq, at, actor, action, target, outcome, detail, prev_hash, hash)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			entry.Seq, micros(entry.At), entry.Actor, entry.Action, entry.Target, entry.Outcome, entry.Detail, entry.PrevHash, entry.Hash); err != nil {
			return fmt.Errorf("insert audit entry: %w", err)
		}
		auditSeq, auditHash = entry.Seq, entry.Hash
	}
	if _, err := tx.exec(ctx, "UPDATE log_head SET event_seq = $1, audit_seq = $2, audit_hash = $3 WHERE id = 1",
		eventSeq, auditSeq, auditHash); err != nil {
		return fmt.Errorf("update log head: %w", err)
	}
	return nil
}

// RecordAudit appends one audit entry on its own, for refused writes.
func (s *Store) RecordAudit(ctx context.Context, entry *audit.Entry) error {
	return s.inTx(ctx, func(tx *Tx) error { return s.appendLog(ctx, tx, nil, entry) })
}

// FindEvents returns up to limit events with a sequence number above after,
// in order.
func (s *Store) FindEvents(ctx context.Context, after int64, limit int) ([]reservation.Event, error) {
	rs, err := s.reader().query(ctx, `SELECT seq, event_id, type, reservation_id, queue_id, origin, actor, occurred_at, data
		FROM events WHERE seq > $1 ORDER BY seq LIMIT $2`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("find events: %w", err)
	}
	defer rs.Close()
	var out []reservation.Event
	for rs.Next() {
		var ev reservation.Event
		var at int64
		var data string
		if err := rs.Scan(&ev.Seq, &ev.ID, &ev.Type, &ev.ReservationID, &ev.QueueID, &ev.Origin, &ev.Actor, &at, &data); err != nil {
			return nil, fmt.Errorf("scan event: %w", err)
		}
		ev.OccurredAt = instant(at)
		ev.Reservation = new(reservation.Reservation)
		if err := json.Unmarshal([]byte(data), ev.Reservation); err != nil {
			return nil, fmt.Errorf("decode event %d: %w", ev.Seq, err)
		}
		out = append(out, ev)
	}
	return out, rs.Err()
}

// LastEventSeq returns the highest committed event sequence number.
func (s *Store) LastEventSeq(ctx context.Context) (int64, error) {
	var n int64
	err := s.reader().queryRow(ctx, "SELECT event_seq FROM log_head WHERE id = 1").Scan(&n)
	return n, err
}

// AuditHead returns the audit chain's recorded head.
func (s *Store) AuditHead(ctx context.Context) (audit.Head, error) {
	var h audit.Head
	err := s.reader().queryRow(ctx, "SELECT audit_seq, audit_hash FROM log_head WHERE id = 1").Scan(&h.Seq, &h.Hash)
	return h, err
}

// VerifyAudit walks the whole audit chain in storage order and checks it
// against the head. It returns the number of entries checked and a
// *audit.BrokenError naming the first bad entry.
func (s *Store) VerifyAudit(ctx context.Context) (int64, error) {
	// Read the head first: entries appended while we walk are ignored.
	head, err := s.AuditHead(ctx)
	if err != nil {
		return 0, fmt.Errorf("read audit head: %w", err)
	}
	var v audit.Verifier
	const page = 1000
	// Walk by storage order (rowid/ctid would expose physical order, but the
	// chain fields already catch reordering), paging on seq.
	after := int64(-1 << 62)
	for {
		rs, err := s.reader().query(ctx, `SELECT seq, at, actor, action, target, outcome, detail, prev_hash, hash
			FROM audit_log WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT $3`, after, head.Seq, page)
		if err != nil {
			return v.Count(), fmt.Errorf("read audit log: %w", err)
		}
		n := 0
		for rs.Next() {
			var e audit.Entry
			var at int64
			if err := rs.Scan(&e.Seq, &at, &e.Actor, &e.Action, &e.Target, &e.Outcome, &e.Detail, &e.PrevHash, &e.Hash); err != nil {
				rs.Close()
				return v.Count(), fmt.Errorf("scan audit entry: %w", err)
			}
			e.At = instant(at)
			n++
			after = e.Seq
			if err := v.Add(e); err != nil {
				rs.Close()
				return v.Count(), err
			}
		}
		err = rs.Err()
		rs.Close()
		if err != nil {
			return v.Count(), err
		}
		if n < page {
			break
		}
	}
	return v.Count(), v.Finish(head)
}

// FindAuditEntries returns up to limit audit entries after seq, in order.
func (s *Store) FindAuditEntries(ctx context.Context, after int64, limit int) ([]audit.Entry, error) {
	rs, err := s.reader().query(ctx, `SELECT seq, at, actor, action, target, outcome, detail, prev_hash, hash
		FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("find audit entries: %w", err)
	}
	defer rs.Close()
	var out []audit.Entry
	for rs.Next() {
		var e audit.Entry
		var at int64
		if err := rs.Scan(&e.Seq, &at, &e.Actor, &e.Action, &e.Target, &e.Outcome, &e.Detail, &e.PrevHash, &e.Hash); err != nil {
			return nil, fmt.Errorf("scan audit entry: %w", err)
		}
		e.At = instant(at)
		out = append(out, e)
	}
	return out, rs.Err()
}
