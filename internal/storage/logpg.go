package storage

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/slotline/slotline/internal/reservation"
)

// The log on PostgreSQL. Every transaction that writes events or audit
// entries takes the one log_head row's lock, so the time that lock is held
// is what every process's writes share. The transaction's own work (the
// writes, the event hooks) is sent first, without the lock; then one
// pipeline carries the statement that takes the lock, numbers the events,
// extends the audit chain and writes them (pgLogSQL), the NOTIFY and the
// COMMIT. The server runs them back to back: the lock is held for that
// statement and the commit's flush, not for a round trip to this process
// between statements. The sequence numbers are still handed out in commit
// order (a later transaction waits for the lock, and so for the commit),
// which is what lets a reader tail the events by seq and never skip one.
//
// A transaction with OnNumbered steps (the webhook dispatcher's) cannot send
// its COMMIT with the log: the steps need the numbers. It sends pgLogSQL
// as a query, runs the steps with its answer, under the lock, and then the
// COMMIT with what the steps left.

// pgLogSQL takes the log head, writes the events numbered after it and the
// audit entries chained to it, moves the head (and the webhook endpoints'
// generation, checking the one the transaction's deliveries were made
// from: see LogEndpoints), and returns the old head and the new audit hash. The audit hash is computed here, from the middle of
// each entry's hash input (audit.Entry.HashMiddle), and checked against
// Go's afterwards. Arrays keep the text one whatever the row counts, so
// each connection prepares it once.
const pgLogSQL = `WITH RECURSIVE
head AS (SELECT event_seq, audit_seq, audit_hash, webhook_gen FROM log_head WHERE id = 1 FOR UPDATE),
ev AS (
	INSERT INTO events (seq, event_id, type, reservation_id, queue_id, origin, actor, owner, occurred_at, data, kind, reason)
	SELECT head.event_seq + e.ord, e.event_id, e.type, e.reservation_id, e.queue_id, e.origin, e.actor, e.owner, e.occurred_at,
		e.data, e.kind, e.reason
	FROM head, unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bigint[], $9::text[],
		$10::text[], $11::text[]) WITH ORDINALITY AS e(event_id, type, reservation_id, queue_id, origin, actor, owner, occurred_at,
		data, kind, reason, ord)
),
a AS (
	SELECT * FROM unnest($12::bigint[], $13::text[], $14::text[], $15::text[], $16::text[], $17::text[], $18::text[])
		WITH ORDINALITY AS a(at, actor, action, target, outcome, detail, mid, ord)
),
chain (ord, seq, prev, hash) AS (
	SELECT 0::bigint, audit_seq, ''::text, audit_hash FROM head
	UNION ALL
	SELECT a.ord, c.seq + 1, c.hash, encode(sha256(convert_to('{"seq":' || (c.seq + 1) || a.mid || c.hash || '"}', 'UTF8')), 'hex')
	FROM chain c JOIN a ON a.ord = c.ord + 1
),
au AS (
	INSERT INTO audit_log (seq, at, actor, action, target, outcome, detail, prev_hash, hash)
	SELECT c.seq, a.at, a.actor, a.action, a.target, a.outcome, a.detail, c.prev, c.hash FROM chain c JOIN a ON a.ord = c.ord
),
last AS (SELECT seq, hash FROM chain ORDER BY ord DESC LIMIT 1)
UPDATE log_head SET event_seq = head.event_seq + cardinality($1::text[]), audit_seq = last.seq, audit_hash = last.hash,
	webhook_gen = slotline_webhook_gen(head.webhook_gen, $19, $20)
FROM head, last WHERE log_head.id = 1
RETURNING head.event_seq, head.audit_seq, head.audit_hash, last.hash`

// pgNotifySQL wakes the stream readers of every process at commit with the
// schema and the transaction's last event number (read after pgLogSQL moved
// the head): see ListenEvents.
const pgNotifySQL = "SELECT pg_notify('" + eventsChannel + "', current_schema() || ' ' || event_seq) FROM log_head WHERE id = 1"

// pgLogHead is what pgLogSQL returns.
type pgLogHead struct {
	eventSeq, auditSeq int64
	auditHash, newHash string
}

// logArgs returns pgLogSQL's arguments for tx's events and audit entries.
func (tx *Tx) logArgs() []any {
	n := len(tx.events)
	ids, types, resIDs, queues, origins, actors, owners := make([]string, n), make([]string, n), make([]string, n), make([]string, n),
		make([]string, n), make([]string, n), make([]string, n)
	ats, datas, kinds, reasons := make([]int64, n), make([]string, n), make([]string, n), make([]string, n)
	for i := range tx.events {
		ev := &tx.events[i]
		ids[i], types[i], resIDs[i], queues[i], origins[i], actors[i], owners[i] = ev.ID, ev.Type, ev.ReservationID, ev.QueueID,
			ev.Origin, ev.Actor, ev.Owner
		ats[i], datas[i], kinds[i], reasons[i] = micros(ev.OccurredAt), string(ev.data), ev.Kind, ev.Reason
	}
	m := len(tx.audits)
	aAts, aActors, aActions, aTargets, aOutcomes, aDetails, mids := make([]int64, m), make([]string, m), make([]string, m),
		make([]string, m), make([]string, m), make([]string, m), make([]string, m)
	for i, e := range tx.audits {
		e.At = e.At.Truncate(time.Microsecond) // microseconds, as stored
		aAts[i], aActors[i], aActions[i], aTargets[i], aOutcomes[i], aDetails[i], mids[i] = micros(e.At), e.Actor, e.Action, e.Target,
			e.Outcome, e.Detail, e.HashMiddle()
	}
	var bump int64
	if tx.bumpWebhooks {
		bump = 1
	}
	seen := int64(-1)
	if tx.webhooksSeen {
		seen = tx.webhookGen
	}
	return []any{ids, types, resIDs, queues, origins, actors, owners, ats, datas, kinds, reasons,
		aAts, aActors, aActions, aTargets, aOutcomes, aDetails, mids, bump, seen}
}

// pgDeliveriesSQL writes the deliveries of the transaction's events
// (InsertEventDeliveries) once pgLogSQL has numbered them: $1 is the
// number of events, idx an event's place among them (from 1).
const pgDeliveriesSQL = `INSERT INTO webhook_deliveries (id, endpoint_id, event_seq, event_type, status, attempts, next_attempt_at,
	last_status, last_latency_ms, last_error, created_at, delivered_at)
SELECT d.id, d.endpoint_id, h.event_seq - $1 + d.idx, d.event_type, $2, 0, d.next_at, 0, 0, '', d.created_at, 0
FROM log_head h, unnest($3::text[], $4::text[], $5::bigint[], $6::text[], $7::bigint[], $8::bigint[])
	AS d(id, endpoint_id, idx, event_type, next_at, created_at)
WHERE h.id = 1`

// deliveryArgs returns pgDeliveriesSQL's arguments.
func (tx *Tx) deliveryArgs() []any {
	n := len(tx.deliveries)
	ids, eps, idx, types, next, created := make([]string, n), make([]string, n), make([]int64, n), make([]string, n), make([]int64, n),
		make([]int64, n)
	for i, d := range tx.deliveries {
		ids[i], eps[i], idx[i], types[i], next[i], created[i] = d.ID, d.EndpointID, int64(tx.deliveryEvents[i])+1, d.EventType,
			micros(d.NextAttemptAt), micros(d.CreatedAt)
	}
	return []any{int64(len(tx.events)), DeliveryPending, ids, eps, idx, types, next, created}
}

func (h *pgLogHead) scan(r pgx.Row) error {
	return r.Scan(&h.eventSeq, &h.auditSeq, &h.auditHash, &h.newHash)
}

// numberLog gives tx's events their numbers after h and seals its audit
// entries as pgLogSQL did; it reports a chain that Go would not verify.
func (tx *Tx) numberLog(h pgLogHead) error {
	for i := range tx.events {
		tx.events[i].Seq = h.eventSeq + int64(i) + 1
	}
	for i, d := range tx.deliveries {
		d.EventSeq = tx.events[tx.deliveryEvents[i]].Seq
	}
	seq, hash := h.auditSeq, h.auditHash
	for _, e := range tx.audits {
		e.Seal(seq, hash)
		seq, hash = e.Seq, e.Hash
	}
	if hash != h.newHash {
		return fmt.Errorf("the audit chain's head after entry %d is %s in the database and %s here", seq, h.newHash, hash)
	}
	return nil
}

// commitPG writes tx's log and commits it (see above). It returns nil
// only once the commit has succeeded; on an error the caller rolls back.
func (s *Store) commitPG(ctx context.Context, tx *Tx, pe pgTxExec) error {
	// An endpoint change moves the generation even without a log entry.
	logged := len(tx.events) > 0 || len(tx.audits) > 0 || tx.bumpWebhooks
	var h pgLogHead
	if logged && len(tx.numbered) > 0 {
		if err := tx.queryRow(ctx, pgLogSQL, tx.logArgs()...).Scan(&h.eventSeq, &h.auditSeq, &h.auditHash, &h.newHash); err != nil {
			return fmt.Errorf("write the log: %w", err)
		}
		if err := tx.numberLog(h); err != nil {
			return err
		}
		evs := tx.publicEvents()
		for _, fn := range tx.numbered {
			if err := fn(ctx, evs); err != nil {
				return err
			}
		}
	}
	if pe.st.hasQueuedReads() {
		// A read's scan can fail after the server ran what follows it: not
		// with the COMMIT.
		if err := tx.flushDeferred(ctx); err != nil {
			return err
		}
	}
	withLog := logged && len(tx.numbered) == 0
	br, err := pe.flush(ctx, func(b *pgx.Batch) {
		if withLog {
			b.Queue(pgLogSQL, tx.logArgs()...)
		}
		if len(tx.deliveries) > 0 {
			b.Queue(pgDeliveriesSQL, tx.deliveryArgs()...)
		}
		if len(tx.events) > 0 {
			b.Queue(pgNotifySQL)
		}
		b.Queue("COMMIT")
	})
	if err != nil {
		return err
	}
	if withLog {
		if err := h.scan(br.QueryRow()); err != nil {
			br.Close()
			return fmt.Errorf("write the log: %w", err)
		}
	}
	if len(tx.deliveries) > 0 {
		if _, err := br.Exec(); err != nil {
			br.Close()
			return fmt.Errorf("insert deliveries: %w", err)
		}
	}
	if len(tx.events) > 0 {
		if _, err := br.Exec(); err != nil {
			br.Close()
			return fmt.Errorf("notify: %w", err)
		}
	}
	tag, err := br.Exec()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err == nil && tag.String() != "COMMIT" {
		err = errors.New("the transaction was rolled back")
	}
	if err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	if withLog {
		if err := tx.numberLog(h); err != nil {
			// Committed: the chain the database made is the one VerifyAudit
			// reads; say so loudly rather than fail a write that happened.
			s.logger.Error("audit chain mismatch", "err", err)
		}
	}
	return nil
}

// publicEvents returns tx's events as hooks see them.
func (tx *Tx) publicEvents() []reservation.Event {
	evs := make([]reservation.Event, len(tx.events))
	for i := range tx.events {
		evs[i] = tx.events[i].Event
	}
	return evs
}

// endpointCache is what LogEndpoints read last on PostgreSQL: the enabled
// webhook endpoints at a generation of the log head. It is used until a
// transaction of this process changes an endpoint, or one fails (another
// process's change makes the check in pgLogSQL fail, and the retry reads
// again).
type endpointCache struct {
	mu  sync.Mutex
	ok  bool
	gen int64
	eps []*Endpoint
}

func (c *endpointCache) get() (int64, []*Endpoint, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen, c.eps, c.ok
}

func (c *endpointCache) set(gen int64, eps []*Endpoint) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen, c.eps, c.ok = gen, eps, true
}

func (c *endpointCache) drop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ok, c.eps = false, nil
}

// LogEndpoints returns the enabled webhook endpoints as of the moment the
// transaction's events are numbered, for an event hook that makes their
// deliveries (InsertEventDeliveries): every endpoint change committed
// before that moment, in any process, and none after. On SQLite the one
// writer orders everything, and it reads them in tx. On PostgreSQL it reads
// them without the log-head lock (or takes the ones it read last, while the
// generation is unchanged), and the statement that takes the lock checks
// that no endpoint changed since: if one did, the transaction fails with a
// serialization failure and runs again. The caller must not change the
// endpoints returned.
func (s *Store) LogEndpoints(ctx context.Context, tx *Tx) ([]*Endpoint, error) {
	if s.pool == nil {
		return s.EnabledEndpoints(ctx, tx)
	}
	if gen, eps, ok := s.endpoints0.get(); ok && !tx.bumpWebhooks {
		tx.webhooksSeen, tx.webhookGen = true, gen
		return eps, nil
	}
	var gen int64
	if err := tx.queryRow(ctx, "SELECT webhook_gen FROM log_head WHERE id = 1").Scan(&gen); err != nil {
		return nil, fmt.Errorf("read the webhook generation: %w", err)
	}
	eps, err := s.EnabledEndpoints(ctx, tx)
	if err != nil {
		return nil, err
	}
	if !tx.bumpWebhooks { // a transaction that changes them sees its own change
		s.endpoints0.set(gen, eps)
	}
	tx.webhooksSeen, tx.webhookGen = true, gen
	return eps, nil
}

// InsertEventDeliveries adds pending deliveries of the transaction's
// events, from an event hook: events[i] is the place of ds[i]'s event among
// the events the hook was given. Their EventSeq is set once the events are
// numbered; on PostgreSQL they are written in the statement after the one
// that numbers them, without a round trip.
func (s *Store) InsertEventDeliveries(ctx context.Context, tx *Tx, ds []*Delivery, events []int) error {
	if len(ds) != len(events) {
		return fmt.Errorf("storage: %d deliveries and %d event places", len(ds), len(events))
	}
	if s.pool != nil {
		tx.deliveries = append(tx.deliveries, ds...)
		tx.deliveryEvents = append(tx.deliveryEvents, events...)
		return nil
	}
	tx.OnNumbered(func(ctx context.Context, evs []reservation.Event) error {
		for i, d := range ds {
			d.EventSeq = evs[events[i]].Seq
		}
		return insertDeliveries(ctx, tx, ds)
	})
	return nil
}
