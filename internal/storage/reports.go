package storage

import (
	"context"
	"fmt"
	"time"

	"github.com/slotline/slotline/internal/notify"
	"github.com/slotline/slotline/internal/report"
	"github.com/slotline/slotline/internal/reservation"
)

// OutcomeFacts returns the facts (report.Facts) of the queue's reservations whose slot
// starts in [from, to), in slot order; with clientID set, only that
// client's.
func (s *Store) OutcomeFacts(ctx context.Context, queueID, clientID string, from, to time.Time) ([]report.Facts, error) {
	where := "r.queue_id = $1 AND r.slot_start >= $2 AND r.slot_start < $3"
	args := []any{queueID, micros(from), micros(to)}
	if clientID != "" {
		where += " AND r.client_id = $4"
		args = append(args, clientID)
	}
	rs, err := s.reader().query(ctx, `SELECT r.id, r.slot_start, r.status, r.outcome, r.cancel_reason FROM reservations r
		WHERE `+where+` ORDER BY r.slot_start, r.pk`, args...)
	if err != nil {
		return nil, fmt.Errorf("read report: %w", err)
	}
	var out []report.Facts
	index := map[string]int{}
	for rs.Next() {
		var f report.Facts
		var start int64
		var status, outcome string
		if err := rs.Scan(&f.ID, &start, &status, &outcome, &f.CancelReason); err != nil {
			rs.Close()
			return nil, fmt.Errorf("read report: %w", err)
		}
		f.SlotStart, f.Status, f.Outcome = instant(start), reservation.Status(status), reservation.Outcome(outcome)
		index[f.ID] = len(out)
		out = append(out, f)
	}
	if err := rs.Err(); err != nil {
		rs.Close()
		return nil, fmt.Errorf("read report: %w", err)
	}
	rs.Close()
	if len(out) == 0 {
		return out, nil
	}
	evArgs := append(args, reservation.EventCanceled, reservation.EventInProgress, reservation.EventNotified)
	n := len(args)
	rs, err = s.reader().query(ctx, fmt.Sprintf(`SELECT e.reservation_id, e.type, e.origin, e.kind, e.occurred_at
		FROM events e JOIN reservations r ON r.id = e.reservation_id
		WHERE %s AND e.type IN ($%d, $%d, $%d) ORDER BY e.seq`, where, n+1, n+2, n+3), evArgs...)
	if err != nil {
		return nil, fmt.Errorf("read report events: %w", err)
	}
	defer rs.Close()
	for rs.Next() {
		var id, typ, origin, kind string
		var at int64
		if err := rs.Scan(&id, &typ, &origin, &kind, &at); err != nil {
			return nil, fmt.Errorf("read report events: %w", err)
		}
		i, ok := index[id]
		if !ok {
			continue
		}
		f := &out[i]
		switch typ {
		case reservation.EventCanceled:
			f.CanceledBy = origin
		case reservation.EventInProgress:
			if f.StartedAt.IsZero() {
				f.StartedAt = instant(at)
			}
		case reservation.EventNotified:
			f.Messages++
			if kind == notify.KindRemind {
				f.Reminders++
			}
		}
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("read report events: %w", err)
	}
	return out, nil
}
