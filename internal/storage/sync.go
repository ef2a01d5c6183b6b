package storage

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/slotline/slotline/internal/reservation"
)

// MarkSynced records what Genesys holds after a create, reschedule or
// cancel (reservation.MarkSynced): the sync state becomes synced, with a
// reservation.synced event, when that matches the reservation; else it
// stays pending without an event.
func (s *Store) MarkSynced(ctx context.Context, id string, res reservation.SyncResult, w reservation.Write) (*reservation.Reservation, error) {
	r, _, err := s.mutate(ctx, id, w, func(_ context.Context, _ ledger, r *reservation.Reservation, _ time.Time) (reservation.Transition, error) {
		return reservation.MarkSynced(r, res), nil
	})
	return r, err
}

// RecordSyncAttempt keeps the last error of a sync on the reservation
// (shown in its sync object), counting an attempt when increment is set,
// without an event. It returns the number of attempts so far.
func (s *Store) RecordSyncAttempt(ctx context.Context, id, lastErr string, increment bool) (int, error) {
	inc := 0
	if increment {
		inc = 1
	}
	var n int
	err := s.inTx(ctx, func(tx *Tx) error {
		err := tx.queryRow(ctx, `UPDATE reservations SET sync_attempts = sync_attempts + $3, sync_error = $2
			WHERE id = $1 RETURNING sync_attempts`, id, reservation.TruncateError(lastErr), inc).Scan(&n)
		if errors.Is(err, errNoRows) {
			return reservation.ErrNotFound // clean: the batch goes on
		}
		return err
	})
	return n, err
}

// MarkSyncFailed records that Genesys refused a change for good
// (reservation.MarkSyncFailed); with failReservation (a refused create) a
// scheduled reservation also becomes failed and frees its slot.
func (s *Store) MarkSyncFailed(ctx context.Context, id, reason string, failReservation bool, w reservation.Write) (*reservation.Reservation, error) {
	r, _, err := s.mutate(ctx, id, w, func(ctx context.Context, l ledger, r *reservation.Reservation, now time.Time) (reservation.Transition, error) {
		return reservation.MarkSyncFailed(ctx, r, reason, failReservation, l, now)
	})
	return r, err
}

// ApplyGenesys brings a reservation in line with what Genesys reports
// (reservation.ApplyGenesys: idempotent, forward only). It reports whether
// anything changed.
func (s *Store) ApplyGenesys(ctx context.Context, id string, u reservation.GenesysUpdate, w reservation.Write) (*reservation.Reservation, bool, error) {
	return s.mutate(ctx, id, w, func(ctx context.Context, l ledger, r *reservation.Reservation, now time.Time) (reservation.Transition, error) {
		u := u
		if !u.Bucket.IsZero() && !u.Bucket.Equal(r.Bucket) {
			// Moved inside Genesys: overbooked is judged by the capacity
			// override in effect there, if any.
			c, err := s.capped(ctx, l.tx, r.QueueID, r.ConcurrencyLimit, []reservation.Candidate{{Bucket: u.Bucket, Cap: u.Cap}})
			if err != nil {
				return reservation.Transition{}, err
			}
			u.Cap = c[0].Cap
		}
		return reservation.ApplyGenesys(ctx, r, u, l, now)
	})
}

// RecordSMS appends a reservation.sms_sent event (the reservation itself
// does not change) unless one was already recorded; it reports whether it
// recorded one.
func (s *Store) RecordSMS(ctx context.Context, id string, w reservation.Write) (bool, error) {
	_, changed, err := s.mutate(ctx, id, w, func(ctx context.Context, l ledger, r *reservation.Reservation, _ time.Time) (reservation.Transition, error) {
		var n int
		if err := l.tx.queryRow(ctx, "SELECT count(*) FROM events WHERE reservation_id = $1 AND type = $2",
			r.ID, reservation.EventSMSSent).Scan(&n); err != nil {
			return reservation.Transition{}, err
		}
		if n > 0 {
			return reservation.Transition{}, nil
		}
		return reservation.Transition{Changed: true, Event: reservation.EventSMSSent, Action: "reservation.sms",
			Detail: []any{"status", string(r.Status), "sync", string(r.Sync.State), "conversation_id", r.Sync.ConversationID}}, nil
	})
	return changed, err
}

// RecordSMSFailure appends the event of a missed-callback SMS that will not
// be sent (the reservation itself does not change): reservation.sms_refused
// for a permanent refusal, reservation.sms_failed for transient failures
// through the last attempt, with the reason in its audit entry. Nothing is
// recorded when an SMS event (sent, refused or failed) already exists; it
// reports whether it recorded one.
func (s *Store) RecordSMSFailure(ctx context.Context, id string, permanent bool, reason string, w reservation.Write) (bool, error) {
	typ := reservation.EventSMSFailed
	if permanent {
		typ = reservation.EventSMSRefused
	}
	_, changed, err := s.mutate(ctx, id, w, func(ctx context.Context, l ledger, r *reservation.Reservation, _ time.Time) (reservation.Transition, error) {
		var n int
		if err := l.tx.queryRow(ctx, "SELECT count(*) FROM events WHERE reservation_id = $1 AND type IN ($2, $3, $4)",
			r.ID, reservation.EventSMSSent, reservation.EventSMSRefused, reservation.EventSMSFailed).Scan(&n); err != nil {
			return reservation.Transition{}, err
		}
		if n > 0 {
			return reservation.Transition{}, nil
		}
		return reservation.Transition{Changed: true, Event: typ, Action: "reservation.sms",
			Detail: []any{"status", string(r.Status), "permanent", permanent, "reason", reservation.TruncateError(reason)}}, nil
	})
	return changed, err
}

// SMSSent reports whether a reservation.sms_sent event exists for id.
func (s *Store) SMSSent(ctx context.Context, id string) (bool, error) {
	var n int
	err := s.reader().queryRow(ctx, "SELECT count(*) FROM events WHERE reservation_id = $1 AND type = $2",
		id, reservation.EventSMSSent).Scan(&n)
	return n > 0, err
}

// FindReservationByConversation returns the reservation synced to a
// Genesys conversation, or ENOTFOUND.
func (s *Store) FindReservationByConversation(ctx context.Context, conversationID string) (*reservation.Reservation, error) {
	if conversationID == "" {
		return nil, reservation.ErrNotFound
	}
	r, err := scanReservation(s.reader().queryRow(ctx, "SELECT "+reservationColumns+
		" FROM reservations WHERE sync_conversation_id = $1 ORDER BY pk DESC LIMIT 1", conversationID))
	if errors.Is(err, errNoRows) {
		return nil, reservation.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("find reservation by conversation: %w", err)
	}
	return r, nil
}

// FindUnsettled returns up to limit reservations after cursor (a pk; 0 to
// start) that Genesys may still change or that still wait for a sync:
// scheduled or in progress, or canceled with a cancel not yet carried (or
// whose cancel failed: reconciliation tries it again). It returns the next
// cursor (0 when done).
func (s *Store) FindUnsettled(ctx context.Context, cursor int64, limit int) ([]*reservation.Reservation, int64, error) {
	rs, err := s.reader().query(ctx, "SELECT pk, "+reservationColumns+` FROM reservations
		WHERE pk > $1 AND (status IN ('scheduled', 'in_progress') OR (status = 'canceled' AND sync_state IN ('pending', 'failed')))
		ORDER BY pk LIMIT $2`, cursor, limit)
	if err != nil {
		return nil, 0, fmt.Errorf("find unsettled: %w", err)
	}
	defer rs.Close()
	var out []*reservation.Reservation
	var last int64
	for rs.Next() {
		r, err := scanReservation(pkRow{rs, &last})
		if err != nil {
			return nil, 0, err
		}
		out = append(out, r)
	}
	if err := rs.Err(); err != nil {
		return nil, 0, err
	}
	if len(out) < limit {
		last = 0
	}
	return out, last, nil
}

// SaveScheduleImport stores the opening hours imported for a queue.
func (s *Store) SaveScheduleImport(ctx context.Context, queueID, data string, at time.Time) error {
	return s.inTx(ctx, func(tx *Tx) error {
		_, err := tx.exec(ctx, `INSERT INTO schedule_imports (queue_id, data, fetched_at) VALUES ($1, $2, $3)
			ON CONFLICT (queue_id) DO UPDATE SET data = excluded.data, fetched_at = excluded.fetched_at`,
			queueID, data, micros(at))
		return err
	})
}

// LoadScheduleImport returns the last import for a queue ("" if none).
func (s *Store) LoadScheduleImport(ctx context.Context, queueID string) (string, time.Time, error) {
	var data string
	var at int64
	err := s.reader().queryRow(ctx, "SELECT data, fetched_at FROM schedule_imports WHERE queue_id = $1", queueID).Scan(&data, &at)
	if errors.Is(err, errNoRows) {
		return "", time.Time{}, nil
	}
	if err != nil {
		return "", time.Time{}, fmt.Errorf("load schedule import: %w", err)
	}
	return data, instant(at), nil
}
