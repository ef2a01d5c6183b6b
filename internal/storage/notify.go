package storage

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/slotline/slotline/internal/notify"
	"github.com/slotline/slotline/internal/reservation"
)

// Messages to the customer: the notifications table (migration 13), one
// row per message decided, the claim before a send and the outcome after
// it, recorded with its event in one transaction.

const notificationColumns = "reservation_id, kind, slot_key, state, idempotency_key, message_id, reason, updated_at, sent_at"

func scanNotification(row interface{ Scan(...any) error }) (notify.Record, error) {
	var n notify.Record
	var updated int64
	var sent *int64
	if err := row.Scan(&n.ReservationID, &n.Kind, &n.SlotKey, &n.State, &n.IdempotencyKey, &n.MessageID, &n.Reason, &updated, &sent); err != nil {
		return n, err
	}
	n.UpdatedAt = instant(updated)
	if sent != nil {
		n.SentAt = instant(*sent)
	}
	return n, nil
}

// ClaimNotification records that the message of reservation id, kind and
// slot key is about to be sent (state sending, with its idempotency key)
// unless it is recorded already, and returns the record as stored: a
// state other than sending means the message was dealt with.
func (s *Store) ClaimNotification(ctx context.Context, id, kind, slotKey string) (notify.Record, error) {
	var n notify.Record
	now := micros(time.Now())
	err := s.inTx(ctx, func(tx *Tx) error {
		if _, err := tx.exec(ctx, `INSERT INTO notifications (reservation_id, kind, slot_key, state, idempotency_key, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (reservation_id, kind, slot_key) DO NOTHING`,
			id, kind, slotKey, notify.StateSending, notify.IdempotencyKey(id, kind, slotKey), now); err != nil {
			return err
		}
		var err error
		n, err = scanNotification(tx.queryRow(ctx, "SELECT "+notificationColumns+
			" FROM notifications WHERE reservation_id = $1 AND kind = $2 AND slot_key = $3", id, kind, slotKey))
		return err
	})
	if err != nil {
		return n, fmt.Errorf("claim notification: %w", err)
	}
	return n, nil
}

// Outcome is how a message ended: its record's new state, the event that
// says so (reservation.notified, notify_skipped, sms_refused, sms_failed)
// and its reason, and Genesys' message id when it was sent.
type Outcome struct {
	State, Event, Reason, MessageID string
}

// FinishNotification records the outcome of the message of reservation
// id, kind and slot key, with its event (kind and reason on it), in one
// transaction: only from state sending, or for a message never claimed
// (a skip). It reports whether it recorded anything; a message already
// finished is left alone. ENOTFOUND when the reservation does not exist.
func (s *Store) FinishNotification(ctx context.Context, id, kind, slotKey string, o Outcome, w reservation.Write) (bool, error) {
	_, changed, err := s.mutate(ctx, id, w, func(ctx context.Context, l ledger, r *reservation.Reservation, now time.Time) (reservation.Transition, error) {
		var sent any
		if o.State == notify.StateSent {
			sent = micros(now)
		}
		var state string
		err := l.tx.queryRow(ctx, `INSERT INTO notifications (reservation_id, kind, slot_key, state, idempotency_key, message_id, reason,
			created_at, updated_at, sent_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9)
			ON CONFLICT (reservation_id, kind, slot_key) DO UPDATE SET state = excluded.state, message_id = excluded.message_id,
			reason = excluded.reason, updated_at = excluded.updated_at, sent_at = excluded.sent_at
			WHERE notifications.state = $10 RETURNING state`,
			r.ID, kind, slotKey, o.State, notify.IdempotencyKey(r.ID, kind, slotKey), o.MessageID, reservation.TruncateError(o.Reason),
			micros(now), sent, notify.StateSending).Scan(&state)
		if errors.Is(err, errNoRows) {
			return reservation.Transition{}, nil
		}
		if err != nil {
			return reservation.Transition{}, fmt.Errorf("record notification: %w", err)
		}
		return reservation.Transition{Changed: true, Event: o.Event, Kind: kind, Note: reservation.TruncateError(o.Reason),
			Action: "reservation.notify", Detail: []any{"kind", kind, "state", o.State, "reason", o.Reason, "status", string(r.Status)}}, nil
	})
	return changed, err
}

// FindNotification returns the record of a message, or ENOTFOUND.
func (s *Store) FindNotification(ctx context.Context, id, kind, slotKey string) (notify.Record, error) {
	n, err := scanNotification(s.reader().queryRow(ctx, "SELECT "+notificationColumns+
		" FROM notifications WHERE reservation_id = $1 AND kind = $2 AND slot_key = $3", id, kind, slotKey))
	if errors.Is(err, errNoRows) {
		return n, reservation.ErrNotFound
	}
	return n, err
}

// FindSendingNotifications returns up to limit messages still in state
// sending (a send that may have reached Genesys before its process died),
// oldest first.
func (s *Store) FindSendingNotifications(ctx context.Context, limit int) ([]notify.Record, error) {
	rs, err := s.reader().query(ctx, "SELECT "+notificationColumns+
		" FROM notifications WHERE state = $1 ORDER BY updated_at LIMIT $2", notify.StateSending, limit)
	if err != nil {
		return nil, fmt.Errorf("find notifications: %w", err)
	}
	defer rs.Close()
	var out []notify.Record
	for rs.Next() {
		n, err := scanNotification(rs)
		if err != nil {
			return nil, fmt.Errorf("scan notification: %w", err)
		}
		out = append(out, n)
	}
	return out, rs.Err()
}

// DeleteOldNotifications deletes the records of messages dealt with (not
// sending) last changed before t, of reservations that are over
// (completed, missed, canceled, failed): nothing can ask for those
// messages again. It returns how many it deleted.
func (s *Store) DeleteOldNotifications(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := s.inTx(ctx, func(tx *Tx) error {
		var err error
		n, err = tx.exec(ctx, `DELETE FROM notifications WHERE state IN ($1, $2, $3, $4) AND updated_at < $5
			AND reservation_id IN (SELECT id FROM reservations WHERE status IN ($6, $7, $8, $9))`,
			notify.StateSent, notify.StateRefused, notify.StateFailed, notify.StateSkipped, micros(before),
			string(reservation.StatusCompleted), string(reservation.StatusMissed), string(reservation.StatusCanceled),
			string(reservation.StatusFailed))
		return err
	})
	if err != nil {
		return n, fmt.Errorf("delete old notifications: %w", err)
	}
	return n, nil
}
