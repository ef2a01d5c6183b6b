package storage

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/slotline/slotline/internal/audit"
	"github.com/slotline/slotline/internal/reservation"
)

// newID returns prefix and, in hex, a Unix millisecond (6 bytes) followed
// by n bytes (n ≤ 16) that are random for the first id of a millisecond
// and then grow by a random step of 1 to 65,536 (ULID's monotonic scheme).
// Ids of one length made later in this process therefore sort later:
// inserting them appends to their indexes instead of splitting a page near
// the end.
func newID(prefix string, n int) string {
	return prefix + hex.EncodeToString(idSources[n].next(n))
}

// idSources holds one source per id length.
var idSources [17]idSource

// idSource hands out increasing ids of one length; it is safe for
// concurrent use.
type idSource struct {
	mu   sync.Mutex
	last []byte
}

func (s *idSource) next(n int) []byte {
	b := make([]byte, 6+n)
	ms := uint64(time.Now().UnixMilli())
	for i := range 6 {
		b[i] = byte(ms >> (40 - 8*i))
	}
	var step [2]byte
	_, _ = rand.Read(b[6:]) // crypto/rand.Read never fails
	_, _ = rand.Read(step[:])
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.last != nil && bytes.Compare(b[:6], s.last[:6]) <= 0 {
		// The same millisecond, or the clock went back: the last id plus
		// the step, carrying into the time bytes if need be.
		copy(b, s.last)
		carry := 1 + (uint(step[0])<<8 | uint(step[1]))
		for i := len(b) - 1; i >= 0 && carry > 0; i-- {
			sum := uint(b[i]) + carry
			b[i], carry = byte(sum), sum>>8
		}
	}
	s.last = append(s.last[:0], b...)
	return b
}

// EventHook runs in every transaction that writes events, once its writes
// are done and just before its events are numbered and it commits, with
// every event of the transaction (the writes that group commit put
// together share it). The events have their ids but not yet their
// sequence numbers (Seq is 0): those are handed out under the log-head
// lock at the very end, so that they follow commit order, and hooks run
// before it, outside the lock. A step that needs the numbers, or must be
// ordered with changes other processes commit, goes in tx.OnNumbered (or,
// for webhook deliveries, uses LogEndpoints and InsertEventDeliveries). An
// error rolls the transaction back; the writes are then retried one
// transaction each, so a hook must be safe to run again, and must not call
// the Store's write methods. Hooks add their own rows through the store's
// methods that take a Tx, and use tx.AfterCommit for what must wait for
// the commit.
type EventHook func(ctx context.Context, tx *Tx, events []reservation.Event) error

// runHooks runs the event hooks with the transaction's events.
func (s *Store) runHooks(ctx context.Context, tx *Tx) error {
	hooks := s.hooks.Load()
	if len(tx.events) == 0 || hooks == nil {
		return nil
	}
	evs := make([]reservation.Event, len(tx.events))
	for i := range tx.events {
		evs[i] = tx.events[i].Event
	}
	for _, h := range *hooks {
		if err := h(ctx, tx, evs); err != nil {
			return err
		}
	}
	return nil
}

// OnEvents adds hooks to those run with the events of every transaction,
// in the order they were added. Add them before the first write.
func (s *Store) OnEvents(hooks ...EventHook) {
	s.hooksMu.Lock()
	defer s.hooksMu.Unlock()
	var all []EventHook
	if cur := s.hooks.Load(); cur != nil {
		all = append(all, *cur...)
	}
	all = append(all, hooks...)
	s.hooks.Store(&all)
}

// appendLog adds events and an audit entry to the transaction; they are
// numbered and written by flushLog just before the commit.
func (s *Store) appendLog(_ context.Context, tx *Tx, events []pendingEvent, entry *audit.Entry) error {
	for i := range events {
		if events[i].ID == "" {
			events[i].ID = newID("evt_", 8)
		}
		if events[i].data == nil {
			var data []byte
			var err error
			if r := events[i].Reservation; r != nil {
				// Directly: json.Marshal would check and compact what
				// MarshalJSON already made compact, on the writer's time.
				data, err = r.MarshalJSON()
			} else {
				data, err = json.Marshal(events[i].Webhook)
			}
			if err != nil {
				return fmt.Errorf("encode event: %w", err)
			}
			events[i].data = data
		}
	}
	tx.events = append(tx.events, events...)
	if entry != nil {
		tx.audits = append(tx.audits, entry)
	}
	return nil
}

// flushLog writes the transaction's events and audit entries on SQLite
// (PostgreSQL's are commitPG's, logpg.go). It reads the log head as the
// very last step before commit, under the one writer's lock: sequence
// numbers are therefore handed out in commit order, and a reader that has
// seen event N can never later find a committed event below N.
func (s *Store) flushLog(ctx context.Context, tx *Tx) error {
	if len(tx.events) == 0 && len(tx.audits) == 0 {
		return nil
	}
	var eventSeq, auditSeq int64
	var auditHash string
	err := tx.queryRow(ctx, "SELECT event_seq, audit_seq, audit_hash FROM log_head WHERE id = 1").
		Scan(&eventSeq, &auditSeq, &auditHash)
	if err != nil {
		return fmt.Errorf("lock log head: %w", err)
	}
	const eventCols = 12
	args := make([]any, 0, len(tx.events)*eventCols)
	for i := range tx.events {
		ev := &tx.events[i]
		eventSeq++
		ev.Seq = eventSeq
		args = append(args, ev.Seq, ev.ID, ev.Type, ev.ReservationID, ev.QueueID, ev.Origin, ev.Actor, ev.Owner, micros(ev.OccurredAt), string(ev.data),
			ev.Kind, ev.Reason)
	}
	if err := insertRows(ctx, tx, wrapErr("insert events"),
		"INSERT INTO events (seq, event_id, type, reservation_id, queue_id, origin, actor, owner, occurred_at, data, kind, reason) VALUES ", eventCols, args); err != nil {
		return err
	}
	const auditCols = 9
	args = make([]any, 0, len(tx.audits)*auditCols)
	for _, e := range tx.audits {
		e.At = e.At.Truncate(time.Microsecond)
		e.Seal(auditSeq, auditHash)
		auditSeq, auditHash = e.Seq, e.Hash
		args = append(args, e.Seq, micros(e.At), e.Actor, e.Action, e.Target, e.Outcome, e.Detail, e.PrevHash, e.Hash)
	}
	if err := insertRows(ctx, tx, wrapErr("insert audit entries"),
		"INSERT INTO audit_log (seq, at, actor, action, target, outcome, detail, prev_hash, hash) VALUES ", auditCols, args); err != nil {
		return err
	}
	if err := tx.execLater(ctx, wrapErr("update log head"), "UPDATE log_head SET event_seq = $1, audit_seq = $2, audit_hash = $3 WHERE id = 1",
		eventSeq, auditSeq, auditHash); err != nil {
		return err
	}
	if len(tx.numbered) > 0 {
		evs := tx.publicEvents()
		for _, fn := range tx.numbered {
			if err := fn(ctx, evs); err != nil {
				return err
			}
		}
	}
	return nil
}

// maxInsertRows is the most rows one insertRows statement carries.
const maxInsertRows = 64

// insertRows inserts rows, cols values each in args, with head (an
// "INSERT INTO t (…) VALUES " text) in statements of 64, 32, 16, …, 1 rows.
// Each connection prepares those few texts once and keeps them (see
// stmtcache.go); a text per row count would fill its cache with dozens of
// large statements (11 MiB of the server's memory, measured).
func insertRows(ctx context.Context, tx *Tx, mapErr func(error) error, head string, cols int, args []any) error {
	for rows := len(args) / cols; rows > 0; {
		n := maxInsertRows
		for n > rows {
			n /= 2
		}
		if err := tx.execLater(ctx, mapErr, head+placeholders(n, cols), args[:n*cols]...); err != nil {
			return err
		}
		args, rows = args[n*cols:], rows-n
	}
	return nil
}

// placeholders returns "($1, …, $cols), ($cols+1, …)" for rows rows.
func placeholders(rows, cols int) string {
	var b strings.Builder
	n := 1
	for r := range rows {
		if r > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for c := range cols {
			if c > 0 {
				b.WriteString(", ")
			}
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			n++
		}
		b.WriteByte(')')
	}
	return b.String()
}

// RecordAudit appends one audit entry on its own, for refused writes.
func (s *Store) RecordAudit(ctx context.Context, entry *audit.Entry) error {
	return s.inTx(ctx, func(tx *Tx) error { return s.appendLog(ctx, tx, nil, entry) })
}

// FindEvents returns up to limit events with a sequence number above after,
// in order.
func (s *Store) FindEvents(ctx context.Context, after int64, limit int) ([]reservation.Event, error) {
	return s.events(ctx, "WHERE seq > $1 ORDER BY seq LIMIT $2", after, limit)
}

// FindEventsBySeqs returns the events with the given sequence numbers, in
// sequence order (missing ones are left out).
func (s *Store) FindEventsBySeqs(ctx context.Context, seqs []int64) ([]reservation.Event, error) {
	if len(seqs) == 0 {
		return nil, nil
	}
	// The list is padded to a power of two with its last number again,
	// so that a reader connection prepares a few texts, not one per length.
	n := 1
	for n < len(seqs) {
		n *= 2
	}
	args := make([]any, n)
	for i := range args {
		args[i] = seqs[min(i, len(seqs)-1)]
	}
	return s.events(ctx, "WHERE seq IN "+placeholders(1, n)+" ORDER BY seq", args...)
}

func (s *Store) events(ctx context.Context, where string, args ...any) ([]reservation.Event, error) {
	stored, err := s.storedEvents(ctx, where, args...)
	if err != nil {
		return nil, err
	}
	out := make([]reservation.Event, len(stored))
	for i := range stored {
		ev := stored[i].Event
		var subject any
		if reservation.IsReservationEvent(ev.Type) {
			ev.Reservation = new(reservation.Reservation)
			subject = ev.Reservation
		} else {
			ev.Webhook = new(reservation.WebhookNote)
			subject = ev.Webhook
		}
		if err := json.Unmarshal(stored[i].Subject, subject); err != nil {
			return nil, fmt.Errorf("decode event %d: %w", ev.Seq, err)
		}
		out[i] = ev
	}
	return out, nil
}

// FindStoredEvents is FindEvents without decoding the subjects, for a
// reader that only passes them on (Event.AppendJSONWithSubject).
func (s *Store) FindStoredEvents(ctx context.Context, after int64, limit int) ([]reservation.StoredEvent, error) {
	return s.storedEvents(ctx, "WHERE seq > $1 ORDER BY seq LIMIT $2", after, limit)
}

func (s *Store) storedEvents(ctx context.Context, where string, args ...any) ([]reservation.StoredEvent, error) {
	rs, err := s.reader().query(ctx, `SELECT seq, event_id, type, reservation_id, queue_id, origin, actor, owner, occurred_at, data, kind, reason
		FROM events `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("find events: %w", err)
	}
	defer rs.Close()
	var out []reservation.StoredEvent
	for rs.Next() {
		var ev reservation.StoredEvent
		var at int64
		if err := rs.Scan(&ev.Seq, &ev.ID, &ev.Type, &ev.ReservationID, &ev.QueueID, &ev.Origin, &ev.Actor, &ev.Owner, &at, &ev.Subject, &ev.Kind, &ev.Reason); err != nil {
			return nil, fmt.Errorf("scan event: %w", err)
		}
		ev.OccurredAt = instant(at)
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
	// A pruned prefix: the chain starts after the newest checkpoint, whose
	// signature must hold.
	cp, err := s.auditCheckpoint(ctx)
	if err != nil {
		return 0, err
	}
	v := audit.Verifier{}
	after := int64(-1 << 62)
	if cp != nil {
		if err := s.checkCheckpoint(cp); err != nil {
			return 0, err
		}
		v = audit.StartAt(cp.Seq, cp.Hash)
		after = cp.Seq
	}
	const page = 1000
	// Walk by storage order (rowid/ctid would expose physical order, but the
	// chain fields already catch reordering), paging on seq.
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
