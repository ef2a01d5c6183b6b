package storage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/slotline/slotline/internal/reservation"
)

// saveIdempotency records the response of a write under its key: the
// write's event (whose data is the response) or, for a write without an
// event, the reservation itself.
func (s *Store) saveIdempotency(ctx context.Context, tx *Tx, r *reservation.Reservation, eventID string, w reservation.Write, now time.Time) error {
	body := ""
	if eventID == "" {
		b, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("encode idempotent response: %w", err)
		}
		body = string(b)
	}
	k := w.Idempotency
	return tx.execLater(ctx, idempotencyErr, `INSERT INTO idempotency_keys (client_id, idem_key, method, target, request_hash, status, reservation_id, event_id, body, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		w.Actor, k.Key, k.Method, k.Target, k.RequestHash, k.Status, r.ID, eventID, body, micros(now))
}

// idempotencyErr maps the insert of a key another request stored first to
// ErrKeyTaken: the caller looks the key up again and replays or refuses.
func idempotencyErr(err error) error {
	if isUniqueViolation(err) {
		return reservation.ErrKeyTaken
	}
	return fmt.Errorf("save idempotency key: %w", err)
}

// keyTaken returns ErrKeyTaken when the client of w has stored a response
// under w's idempotency key (nil for a write without one): the check of a
// create refused in its transaction, whose refusal would otherwise hide
// that it is a replay. A create that goes on finds a taken key by its
// insert (saveIdempotency).
func (s *Store) keyTaken(ctx context.Context, tx *Tx, w reservation.Write) error {
	if w.Idempotency == nil {
		return nil
	}
	var one int
	err := tx.queryRow(ctx, "SELECT 1 FROM idempotency_keys WHERE client_id = $1 AND idem_key = $2", w.Actor, w.Idempotency.Key).Scan(&one)
	switch {
	case errors.Is(err, errNoRows):
		return nil
	case err != nil:
		return fmt.Errorf("find idempotency key: %w", err)
	}
	return reservation.ErrKeyTaken
}

// FindIdempotency returns the stored response for a client's key, or nil.
func (s *Store) FindIdempotency(ctx context.Context, clientID, key string) (*reservation.IdempotencyRecord, error) {
	var rec reservation.IdempotencyRecord
	var body string
	var created int64
	err := s.reader().queryRow(ctx, `SELECT k.method, k.target, k.request_hash, k.status, COALESCE(e.data, k.body), k.created_at
		FROM idempotency_keys k LEFT JOIN events e ON e.reservation_id = k.reservation_id AND e.event_id = k.event_id AND k.event_id <> ''
		WHERE k.client_id = $1 AND k.idem_key = $2`, clientID, key).
		Scan(&rec.Method, &rec.Target, &rec.RequestHash, &rec.Status, &body, &created)
	if errors.Is(err, errNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("find idempotency key: %w", err)
	}
	rec.CreatedAt = instant(created)
	rec.Reservation = new(reservation.Reservation)
	if err := json.Unmarshal([]byte(body), rec.Reservation); err != nil {
		return nil, fmt.Errorf("decode idempotent response: %w", err)
	}
	return &rec, nil
}

// DeleteIdempotencyKeys removes Idempotency-Key records (not callback_id
// records, which live as long as their reservation) created before t.
func (s *Store) DeleteIdempotencyKeys(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := s.inTx(ctx, func(tx *Tx) error {
		var err error
		n, err = tx.exec(ctx, "DELETE FROM idempotency_keys WHERE created_at < $1 AND idem_key NOT LIKE 'callback_id:%'", micros(before))
		return err
	})
	return n, err
}
