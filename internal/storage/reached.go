package storage

import (
	"context"
	"fmt"
	"time"

	"github.com/slotline/slotline/internal/reservation"
)

// FindReachable returns the scheduled reservations of queue queueID for
// callback number number (E.164) whose slot starts after from and no
// later than to, by slot: the reservations a call of that customer
// answered at from, within to - from of their slots, makes unnecessary.
func (s *Store) FindReachable(ctx context.Context, queueID, number string, from, to time.Time) ([]*reservation.Reservation, error) {
	rs, err := s.reader().query(ctx, "SELECT "+reservationColumns+` FROM reservations
		WHERE callback_number = $1 AND queue_id = $2 AND status = $3 AND slot_start > $4 AND slot_start <= $5
		ORDER BY slot_start, pk`, number, queueID, string(reservation.StatusScheduled), micros(from), micros(to))
	if err != nil {
		return nil, fmt.Errorf("find reachable: %w", err)
	}
	defer rs.Close()
	var out []*reservation.Reservation
	for rs.Next() {
		r, err := scanReservation(rs)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rs.Err()
}

// CancelReached cancels reservation id with reason customer_reached
// (reservation.CancelReached): its customer reached an agent of its queue
// at instant at, within the queue's window before the slot. The cancel
// waits for its sync like any other, which disconnects the callback. It
// reports whether the reservation changed: not when, locked, it no longer
// qualifies (no longer scheduled, moved out of the window).
func (s *Store) CancelReached(ctx context.Context, id string, at time.Time, within time.Duration, w reservation.Write) (*reservation.Reservation, bool, error) {
	return s.mutate(ctx, id, w, func(ctx context.Context, l ledger, r *reservation.Reservation, now time.Time) (reservation.Transition, error) {
		return reservation.CancelReached(ctx, r, l, at, within, now)
	})
}
