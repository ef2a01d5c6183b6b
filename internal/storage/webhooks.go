package storage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/slotline/slotline/internal/audit"
	"github.com/slotline/slotline/internal/reservation"
)

// Endpoint is a registered webhook receiver.
type Endpoint struct {
	ID, ClientID, Name, URL, ContentType string
	Enabled                              bool
	// EventTypes and QueueIDs filter the events delivered (empty: all).
	EventTypes, QueueIDs []string
	// IncludeNumbers sends phone numbers in clear; otherwise masked.
	IncludeNumbers bool
	// Secret signs deliveries; PreviousSecret signs them too until
	// PreviousUntil (a rotation's grace period).
	Secret, PreviousSecret string
	PreviousUntil          time.Time
	// DisabledReason says why an endpoint was disabled automatically.
	DisabledReason string
	// FailingSince is when deliveries started failing (zero when healthy).
	FailingSince         time.Time
	CreatedAt, UpdatedAt time.Time
}

// Wants reports whether the endpoint takes an event.
func (e *Endpoint) Wants(eventType, queueID string) bool {
	match := func(list []string, v string) bool {
		if len(list) == 0 {
			return true
		}
		for _, x := range list {
			if x == v {
				return true
			}
		}
		return false
	}
	return e.Enabled && match(e.EventTypes, eventType) && (queueID == "" || match(e.QueueIDs, queueID))
}

// Delivery states.
const (
	DeliveryPending   = "pending"
	DeliveryDelivered = "delivered"
	DeliveryFailed    = "failed"   // the retry schedule is exhausted
	DeliveryCanceled  = "canceled" // the endpoint was deleted or disabled
)

// Delivery is one event to send to one endpoint. Its id is the
// webhook-id of every attempt.
type Delivery struct {
	ID, EndpointID string
	EventSeq       int64
	EventType      string
	Status         string
	Attempts       int
	NextAttemptAt  time.Time
	LastStatus     int
	LastLatencyMS  int
	LastError      string
	CreatedAt      time.Time
	DeliveredAt    time.Time
}

const endpointColumns = `id, client_id, name, url, content_type, enabled, event_types, queue_ids, include_numbers, secret,
	previous_secret, previous_until, disabled_reason, failing_since, created_at, updated_at`

func scanEndpoint(r row) (*Endpoint, error) {
	var e Endpoint
	var enabled, numbers int
	var types, queues string
	var prevUntil, failing, created, updated int64
	if err := r.Scan(&e.ID, &e.ClientID, &e.Name, &e.URL, &e.ContentType, &enabled, &types, &queues, &numbers, &e.Secret,
		&e.PreviousSecret, &prevUntil, &e.DisabledReason, &failing, &created, &updated); err != nil {
		return nil, err
	}
	e.Enabled, e.IncludeNumbers = enabled != 0, numbers != 0
	_ = json.Unmarshal([]byte(types), &e.EventTypes)
	_ = json.Unmarshal([]byte(queues), &e.QueueIDs)
	e.PreviousUntil, e.FailingSince = optInstant(prevUntil), optInstant(failing)
	e.CreatedAt, e.UpdatedAt = instant(created), instant(updated)
	return &e, nil
}

func optInstant(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return instant(us)
}

func jsonList(v []string) string {
	if v == nil {
		v = []string{}
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func (s *Store) saveEndpoint(ctx context.Context, tx *Tx, e *Endpoint, insert bool) error {
	tx.bumpWebhooks = true
	args := []any{e.ID, e.ClientID, e.Name, e.URL, e.ContentType, boolInt(e.Enabled), jsonList(e.EventTypes), jsonList(e.QueueIDs),
		boolInt(e.IncludeNumbers), e.Secret, e.PreviousSecret, syncMicros(e.PreviousUntil), e.DisabledReason,
		syncMicros(e.FailingSince), micros(e.CreatedAt), micros(e.UpdatedAt)}
	q := `UPDATE webhook_endpoints SET client_id = $2, name = $3, url = $4, content_type = $5, enabled = $6, event_types = $7,
		queue_ids = $8, include_numbers = $9, secret = $10, previous_secret = $11, previous_until = $12, disabled_reason = $13,
		failing_since = $14, created_at = $15, updated_at = $16 WHERE id = $1`
	if insert {
		q = `INSERT INTO webhook_endpoints (` + endpointColumns + `)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`
	}
	return tx.execLater(ctx, wrapErr("save webhook endpoint"), q, args...)
}

// endpointAudit is the audit entry of a change to an endpoint (no secret).
func endpointAudit(e *Endpoint, action string, w reservation.Write, now time.Time) *audit.Entry {
	owner := ""
	if w.Origin == reservation.OriginAPI && w.Actor != e.ClientID {
		owner = e.ClientID // a client holding webhook:admin acted on another's endpoint
	}
	return &audit.Entry{At: now, Actor: w.Actor, Action: action, Target: e.ID, Outcome: audit.OutcomeOK,
		Detail: auditDetail("name", e.Name, "url", e.URL, "enabled", e.Enabled, "request_id", w.RequestID,
			"disabled_reason", e.DisabledReason, "owner", owner)}
}

// lockEndpoint reads an endpoint for update; one of another client than
// w.Owner (when set) answers ENOTFOUND, as if it did not exist.
func (s *Store) lockEndpoint(ctx context.Context, tx *Tx, id string, w reservation.Write) (*Endpoint, error) {
	e, err := scanEndpoint(tx.queryRow(ctx, "SELECT "+endpointColumns+" FROM webhook_endpoints WHERE id = $1"+s.forUpdate(), id))
	if errors.Is(err, errNoRows) || (err == nil && w.Owner != "" && e.ClientID != w.Owner) {
		return nil, EndpointNotFound(id)
	}
	return e, err
}

// EndpointNotFound is the error of an endpoint that does not exist (or
// that the caller may not see).
func EndpointNotFound(id string) error {
	return reservation.Errorf(reservation.ENOTFOUND, "webhook endpoint %q does not exist", id)
}

// CreateEndpoint stores a new endpoint (its ID and secret set by the caller).
func (s *Store) CreateEndpoint(ctx context.Context, e *Endpoint, w reservation.Write) error {
	now := w.Time()
	e.CreatedAt, e.UpdatedAt = now, now
	return s.inTx(ctx, func(tx *Tx) error {
		if err := s.saveEndpoint(ctx, tx, e, true); err != nil {
			return err
		}
		return s.appendLog(ctx, tx, nil, endpointAudit(e, "webhook.create", w, now))
	})
}

// FindEndpoint returns one endpoint or ENOTFOUND.
func (s *Store) FindEndpoint(ctx context.Context, id string) (*Endpoint, error) {
	e, err := scanEndpoint(s.reader().queryRow(ctx, "SELECT "+endpointColumns+" FROM webhook_endpoints WHERE id = $1", id))
	if errors.Is(err, errNoRows) {
		return nil, EndpointNotFound(id)
	}
	return e, err
}

// FindEndpoints returns every endpoint, oldest first.
func (s *Store) FindEndpoints(ctx context.Context) ([]*Endpoint, error) {
	return s.endpoints(ctx, s.reader(), "")
}

func (s *Store) endpoints(ctx context.Context, e execer, where string) ([]*Endpoint, error) {
	rs, err := e.query(ctx, "SELECT "+endpointColumns+" FROM webhook_endpoints "+where+" ORDER BY created_at, id")
	if err != nil {
		return nil, fmt.Errorf("find webhook endpoints: %w", err)
	}
	defer rs.Close()
	var out []*Endpoint
	for rs.Next() {
		ep, err := scanEndpoint(rs)
		if err != nil {
			return nil, err
		}
		out = append(out, ep)
	}
	return out, rs.Err()
}

// UpdateEndpoint changes an endpoint under a row lock: fn edits it (an
// error aborts). Disabling it cancels its pending deliveries. Errors:
// ENOTFOUND and fn's.
func (s *Store) UpdateEndpoint(ctx context.Context, id, action string, fn func(e *Endpoint) error, w reservation.Write) (*Endpoint, error) {
	now := w.Time()
	var out *Endpoint
	err := s.inTx(ctx, func(tx *Tx) error {
		e, err := s.lockEndpoint(ctx, tx, id, w)
		if err != nil {
			return err
		}
		wasEnabled := e.Enabled
		if err := fn(e); err != nil {
			return err
		}
		e.UpdatedAt = now
		if err := s.saveEndpoint(ctx, tx, e, false); err != nil {
			return err
		}
		if wasEnabled && !e.Enabled {
			if err := tx.execLater(ctx, wrapErr("cancel deliveries"), `UPDATE webhook_deliveries SET status = $2
				WHERE endpoint_id = $1 AND status = $3`, id, DeliveryCanceled, DeliveryPending); err != nil {
				return err
			}
		}
		out = e
		return s.appendLog(ctx, tx, nil, endpointAudit(e, action, w, now))
	})
	return out, err
}

// DeleteEndpoint removes an endpoint and cancels its pending deliveries
// (their log stays). Errors: ENOTFOUND.
func (s *Store) DeleteEndpoint(ctx context.Context, id string, w reservation.Write) error {
	now := w.Time()
	return s.inTx(ctx, func(tx *Tx) error {
		e, err := s.lockEndpoint(ctx, tx, id, w)
		if err != nil {
			return err
		}
		tx.bumpWebhooks = true
		if err := tx.execLater(ctx, wrapErr("delete webhook endpoint"), "DELETE FROM webhook_endpoints WHERE id = $1", id); err != nil {
			return err
		}
		if err := tx.execLater(ctx, wrapErr("cancel deliveries"), `UPDATE webhook_deliveries SET status = $2
			WHERE endpoint_id = $1 AND status = $3`, id, DeliveryCanceled, DeliveryPending); err != nil {
			return err
		}
		return s.appendLog(ctx, tx, nil, endpointAudit(e, "webhook.delete", w, now))
	})
}

// EnabledEndpoints reads the enabled endpoints inside a transaction (the
// event hook's view).
func (s *Store) EnabledEndpoints(ctx context.Context, tx *Tx) ([]*Endpoint, error) {
	return s.endpoints(ctx, tx, "WHERE enabled = 1")
}

// InsertDeliveries adds pending deliveries inside a transaction (an event
// hook's OnNumbered step, when the events' sequence numbers are known).
func (s *Store) InsertDeliveries(ctx context.Context, tx *Tx, ds []*Delivery) error {
	return insertDeliveries(ctx, tx, ds)
}

// insertDeliveries writes pending deliveries whose events are numbered.
func insertDeliveries(ctx context.Context, tx *Tx, ds []*Delivery) error {
	const cols = 12
	args := make([]any, 0, len(ds)*cols)
	for _, d := range ds {
		args = append(args, d.ID, d.EndpointID, d.EventSeq, d.EventType, DeliveryPending, 0, micros(d.NextAttemptAt),
			0, 0, "", micros(d.CreatedAt), 0)
	}
	return insertRows(ctx, tx, wrapErr("insert deliveries"), `INSERT INTO webhook_deliveries (id, endpoint_id, event_seq,
		event_type, status, attempts, next_attempt_at, last_status, last_latency_ms, last_error, created_at, delivered_at)
		VALUES `, cols, args)
}

const deliveryColumns = `id, endpoint_id, event_seq, event_type, status, attempts, next_attempt_at, last_status, last_latency_ms,
	last_error, created_at, delivered_at`

func scanDelivery(r row) (*Delivery, error) {
	var d Delivery
	var next, created, delivered int64
	if err := r.Scan(&d.ID, &d.EndpointID, &d.EventSeq, &d.EventType, &d.Status, &d.Attempts, &next, &d.LastStatus,
		&d.LastLatencyMS, &d.LastError, &created, &delivered); err != nil {
		return nil, err
	}
	d.NextAttemptAt, d.CreatedAt, d.DeliveredAt = instant(next), instant(created), optInstant(delivered)
	return &d, nil
}

func (s *Store) deliveries(ctx context.Context, q string, args ...any) ([]*Delivery, error) {
	rs, err := s.reader().query(ctx, "SELECT "+deliveryColumns+" FROM webhook_deliveries "+q, args...)
	if err != nil {
		return nil, fmt.Errorf("find deliveries: %w", err)
	}
	defer rs.Close()
	var out []*Delivery
	for rs.Next() {
		d, err := scanDelivery(rs)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rs.Err()
}

// DueDeliveries returns an endpoint's pending deliveries due at now, in
// event order.
func (s *Store) DueDeliveries(ctx context.Context, endpointID string, now time.Time, limit int) ([]*Delivery, error) {
	// The unary + keeps SQLite's planner off webhook_deliveries_due (every
	// endpoint's due deliveries, then sorted): the endpoint's own pending
	// ones are read in event order on webhook_deliveries_endpoint.
	return s.deliveries(ctx, "WHERE endpoint_id = $1 AND status = $2 AND +next_attempt_at <= $3 ORDER BY event_seq LIMIT $4",
		endpointID, DeliveryPending, micros(now), limit)
}

// NextDue returns when an endpoint's next pending delivery is due.
func (s *Store) NextDue(ctx context.Context, endpointID string) (time.Time, bool, error) {
	var at *int64
	err := s.reader().queryRow(ctx, "SELECT MIN(next_attempt_at) FROM webhook_deliveries WHERE endpoint_id = $1 AND status = $2",
		endpointID, DeliveryPending).Scan(&at)
	if err != nil || at == nil {
		return time.Time{}, false, err
	}
	return instant(*at), true, nil
}

// EndpointsWithDue returns the enabled endpoints with a pending delivery
// due at now.
func (s *Store) EndpointsWithDue(ctx context.Context, now time.Time) ([]string, error) {
	return s.readStrings(ctx, `SELECT DISTINCT d.endpoint_id FROM webhook_deliveries d
		JOIN webhook_endpoints e ON e.id = d.endpoint_id AND e.enabled = 1
		WHERE d.status = $1 AND d.next_attempt_at <= $2`, DeliveryPending, micros(now))
}

// FindDeliveries lists an endpoint's deliveries, newest first, with an
// optional status filter; cursor is the previous page's last event_seq.
func (s *Store) FindDeliveries(ctx context.Context, endpointID, status string, cursor string, limit int) ([]*Delivery, string, error) {
	if limit <= 0 || limit > 500 {
		limit = 50
	}
	where := []string{"endpoint_id = $1"}
	args := []any{endpointID}
	if status != "" {
		args = append(args, status)
		where = append(where, "status = $"+strconv.Itoa(len(args)))
	}
	if cursor != "" {
		seq, err := strconv.ParseInt(cursor, 10, 64)
		if err != nil {
			return nil, "", reservation.FieldError("cursor", "is not a cursor from a previous page")
		}
		args = append(args, seq)
		where = append(where, "event_seq < $"+strconv.Itoa(len(args)))
	}
	args = append(args, limit+1)
	ds, err := s.deliveries(ctx, "WHERE "+strings.Join(where, " AND ")+" ORDER BY event_seq DESC LIMIT $"+strconv.Itoa(len(args)), args...)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(ds) > limit {
		ds = ds[:limit]
		next = strconv.FormatInt(ds[limit-1].EventSeq, 10)
	}
	return ds, next, nil
}

// FindDelivery returns one delivery of an endpoint, or ENOTFOUND.
func (s *Store) FindDelivery(ctx context.Context, endpointID, id string) (*Delivery, error) {
	ds, err := s.deliveries(ctx, "WHERE endpoint_id = $1 AND id = $2", endpointID, id)
	if err != nil {
		return nil, err
	}
	if len(ds) == 0 {
		return nil, reservation.Errorf(reservation.ENOTFOUND, "delivery %q does not exist", id)
	}
	return ds[0], nil
}

// RecordAttempt saves the outcome of an attempt (status, attempts, next
// attempt, last answer) and, for a delivery that just failed for good or an
// endpoint outcome, nothing else: the caller appends those events.
func (s *Store) RecordAttempt(ctx context.Context, d *Delivery, failingSince *time.Time) error {
	return s.RecordAttempts(ctx, []*Delivery{d}, failingSince)
}

// RecordAttempts records the outcomes of attempts at one endpoint's
// deliveries in one transaction and, when failingSince is not nil, the
// endpoint's new failing-since time (zero: healthy again).
func (s *Store) RecordAttempts(ctx context.Context, ds []*Delivery, failingSince *time.Time) error {
	if len(ds) == 0 {
		return nil
	}
	return s.inTx(ctx, func(tx *Tx) error {
		for _, d := range ds {
			if err := tx.execLater(ctx, wrapErr("record attempt"), `UPDATE webhook_deliveries SET status = $2, attempts = $3,
				next_attempt_at = $4, last_status = $5, last_latency_ms = $6, last_error = $7, delivered_at = $8 WHERE id = $1`,
				d.ID, d.Status, d.Attempts, micros(d.NextAttemptAt), d.LastStatus, d.LastLatencyMS, reservation.TruncateError(d.LastError),
				syncMicros(d.DeliveredAt)); err != nil {
				return err
			}
		}
		if failingSince != nil {
			return tx.execLater(ctx, wrapErr("record endpoint health"), "UPDATE webhook_endpoints SET failing_since = $2 WHERE id = $1",
				ds[0].EndpointID, syncMicros(*failingSince))
		}
		return nil
	})
}

// RetryDelivery makes a delivery pending again, due now (a manual replay).
func (s *Store) RetryDelivery(ctx context.Context, endpointID, id string, w reservation.Write) (*Delivery, error) {
	d, err := s.FindDelivery(ctx, endpointID, id)
	if err != nil {
		return nil, err
	}
	now := w.Time()
	d.Status, d.NextAttemptAt = DeliveryPending, now
	err = s.inTx(ctx, func(tx *Tx) error {
		if err := tx.execLater(ctx, wrapErr("retry delivery"), "UPDATE webhook_deliveries SET status = $2, next_attempt_at = $3 WHERE id = $1",
			id, DeliveryPending, micros(now)); err != nil {
			return err
		}
		return s.appendLog(ctx, tx, nil, &audit.Entry{At: now, Actor: w.Actor, Action: "webhook.delivery_retry", Target: id,
			Outcome: audit.OutcomeOK, Detail: auditDetail("endpoint_id", endpointID, "request_id", w.RequestID)})
	})
	return d, err
}

// RecordSystemEvent appends an event that is not about a reservation
// (webhook.disabled, delivery.exhausted, webhook.ping) with its audit entry.
func (s *Store) RecordSystemEvent(ctx context.Context, ev reservation.Event, entry *audit.Entry) (int64, error) {
	var seq int64
	err := s.inTx(ctx, func(tx *Tx) error { return s.recordSystemEvent(ctx, tx, ev, entry, &seq) })
	return seq, err
}

// recordSystemEvent is RecordSystemEvent's write; *seq is set once it
// commits.
func (s *Store) recordSystemEvent(ctx context.Context, tx *Tx, ev reservation.Event, entry *audit.Entry, seq *int64) error {
	// The sequence number is handed out at flush, and the transaction may
	// carry other writes' events, and lose some (a write of the batch that
	// fails): remember ours by its id, not its place.
	i := len(tx.events)
	if err := s.appendLog(ctx, tx, []pendingEvent{{Event: ev}}, entry); err != nil {
		return err
	}
	id := tx.events[i].ID
	tx.AfterCommit(func() {
		for _, e := range tx.events {
			if e.ID == id {
				*seq = e.Seq
			}
		}
	})
	return nil
}

// FeedTokenOwner returns the client a queue's calendar feed token was
// issued to, by the token's digest ("" when no such token exists).
func (s *Store) FeedTokenOwner(ctx context.Context, queueID, hash string) (string, error) {
	var client string
	err := s.reader().queryRow(ctx, "SELECT client_id FROM feed_tokens WHERE queue_id = $1 AND token_hash = $2", queueID, hash).Scan(&client)
	if errors.Is(err, errNoRows) {
		return "", nil
	}
	return client, err
}

// SetFeedToken replaces a client's calendar feed token digest for a queue.
func (s *Store) SetFeedToken(ctx context.Context, clientID, queueID, hash string, w reservation.Write) error {
	now := w.Time()
	return s.inTx(ctx, func(tx *Tx) error {
		if err := tx.execLater(ctx, wrapErr("set feed token"), `INSERT INTO feed_tokens (client_id, queue_id, token_hash, created_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (client_id, queue_id) DO UPDATE SET token_hash = excluded.token_hash, created_at = excluded.created_at`,
			clientID, queueID, hash, micros(now)); err != nil {
			return err
		}
		return s.appendLog(ctx, tx, nil, &audit.Entry{At: now, Actor: w.Actor, Action: "calendar.rotate_feed_token", Target: queueID,
			Outcome: audit.OutcomeOK, Detail: auditDetail("request_id", w.RequestID)})
	})
}

// AddDelivery stores one pending delivery on its own (a ping).
func (s *Store) AddDelivery(ctx context.Context, d *Delivery) error {
	return s.inTx(ctx, func(tx *Tx) error { return insertDeliveries(ctx, tx, []*Delivery{d}) })
}

// DeleteOldDeliveries removes finished deliveries (delivered, failed,
// canceled) created before t; pending ones stay.
func (s *Store) DeleteOldDeliveries(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := s.inTx(ctx, func(tx *Tx) error {
		var err error
		n, err = tx.exec(ctx, "DELETE FROM webhook_deliveries WHERE status <> $1 AND created_at < $2", DeliveryPending, micros(before))
		return err
	})
	return n, err
}
