package storage

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/slotline/slotline/internal/reservation"
)

// ReservationQuery selects a page of reservations for the console's list:
// in slot order (slot_start, then creation), keyset-paged forwards (After)
// or backwards (Before) on the index of that order (reservations_slot, or
// reservations_queue_slot for one queue).
type ReservationQuery struct {
	// Queues limits the page to these queues (empty: every queue).
	Queues  []string
	Status  reservation.Status
	Outcome reservation.Outcome
	// From and To bound the slot's start: [From, To); zero is unbounded.
	From, To time.Time
	// NumberSuffix selects numbers ending in these digits.
	NumberSuffix string
	// After and Before are cursors of a page (ReservationPage.Next, Prev);
	// at most one is set.
	After, Before string
	// Limit is the page's size (default 50, at most 500).
	Limit int
}

// ReservationPage is one page of a ReservationQuery: Next is the cursor of
// the page after it ("" at the end), Prev of the page before it ("" at the
// start).
type ReservationPage struct {
	Items      []*reservation.Reservation
	Next, Prev string
}

// FindReservationPage returns a page of the reservations q selects.
// Returns EINVALID for a cursor that is not one.
func (s *Store) FindReservationPage(ctx context.Context, q ReservationQuery) (*ReservationPage, error) {
	if q.Limit <= 0 {
		q.Limit = 50
	}
	q.Limit = min(q.Limit, 500)
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	// On PostgreSQL a status of reservations_status_queue_slot over
	// several queues (or every one) merges each queue's page.
	var queues []string
	read := s.reader()
	switch ids := q.Queues; {
	case len(ids) != 1 && s.mergesQueues(q.Status):
		if len(ids) == 0 {
			// The queues and their merged page in one snapshot (see
			// FindReservations).
			e, end, err := s.snapshotReader(ctx)
			if err != nil {
				return nil, fmt.Errorf("find reservation page: %w", err)
			}
			defer end()
			read = e
			if ids, err = s.statusQueues(ctx, read, q.Status); err != nil {
				return nil, err
			}
			if len(ids) == 0 {
				return &ReservationPage{}, nil
			}
		}
		ids = slices.Compact(slices.Sorted(slices.Values(ids)))
		for _, id := range ids {
			queues = append(queues, arg(id))
		}
	case len(ids) > 0:
		ph := make([]string, len(ids))
		for i, id := range ids {
			ph[i] = arg(id)
		}
		col := s.filterColumn(q.Status)("queue_id")
		if len(ids) > 1 && s.backend == SQLite {
			// Not reservations_queue_slot: SQLite would read every row of
			// the queues and sort them; it walks the slot order instead.
			col = "+queue_id"
		}
		where = append(where, col+" IN ("+strings.Join(ph, ", ")+")")
	}
	if q.Status != "" {
		where = append(where, s.statusWhere(q.Status, arg))
	}
	if q.Outcome != "" {
		where = append(where, "outcome = "+arg(string(q.Outcome)))
	}
	if !q.From.IsZero() {
		where = append(where, "slot_start >= "+arg(micros(q.From)))
	}
	if !q.To.IsZero() {
		where = append(where, "slot_start < "+arg(micros(q.To)))
	}
	if q.NumberSuffix != "" {
		// Digits only (the caller checks), so LIKE has nothing to escape.
		where = append(where, "callback_number LIKE "+arg("%"+q.NumberSuffix))
	}
	backwards := q.Before != ""
	if c := cmp.Or(q.Before, q.After); c != "" {
		start, pk, err := decodeCursor(c)
		if err != nil {
			return nil, reservation.FieldError("cursor", "is not a cursor from a previous page")
		}
		a, b := arg(start), arg(pk)
		op := ">"
		if backwards {
			op = "<"
		}
		// slot_start >= (or <=) the cursor's bounds the index range; the
		// rest skips the rows of that instant up to the cursor's.
		where = append(where, fmt.Sprintf("slot_start %s= %s AND (slot_start %s %s OR pk %s %s)", op, a, op, a, op, b))
	}
	order := "slot_start, pk"
	if backwards {
		order = "slot_start DESC, pk DESC"
	}
	sql := pageSQL(where, queues, order, q.Limit+1, arg)
	rs, err := read.query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("find reservation page: %w", err)
	}
	defer rs.Close()
	var items []*reservation.Reservation
	var pks []int64
	for rs.Next() {
		var pk int64
		r, err := scanReservation(pkRow{rs, &pk})
		if err != nil {
			return nil, fmt.Errorf("scan reservation: %w", err)
		}
		items = append(items, r)
		pks = append(pks, pk)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("find reservation page: %w", err)
	}
	more := len(items) > q.Limit
	if more {
		items, pks = items[:q.Limit], pks[:q.Limit]
	}
	if backwards {
		slices.Reverse(items)
		slices.Reverse(pks)
	}
	p := &ReservationPage{Items: items}
	if len(items) == 0 {
		return p, nil
	}
	first := encodeCursor(micros(items[0].Slot.Start), pks[0])
	last := encodeCursor(micros(items[len(items)-1].Slot.Start), pks[len(pks)-1])
	switch {
	case backwards:
		p.Next = last // the page this one came back from
		if more {
			p.Prev = first
		}
	default:
		if more {
			p.Next = last
		}
		if q.After != "" {
			p.Prev = first
		}
	}
	return p, nil
}

// FindReservationEvents returns the events of one reservation, in order
// (on events_reservation).
func (s *Store) FindReservationEvents(ctx context.Context, id string) ([]reservation.Event, error) {
	return s.events(ctx, "WHERE reservation_id = $1 ORDER BY seq", id)
}

// FindEventDeliveries returns the webhook deliveries of the events seqs,
// in event order, then by creation (on webhook_deliveries_event).
func (s *Store) FindEventDeliveries(ctx context.Context, seqs []int64) ([]*Delivery, error) {
	if len(seqs) == 0 {
		return nil, nil
	}
	args := make([]any, len(seqs))
	for i, n := range seqs {
		args[i] = n
	}
	return s.deliveries(ctx, "WHERE event_seq IN "+placeholders(1, len(seqs))+" ORDER BY event_seq, created_at, id", args...)
}

// FindRecentEvents returns up to limit of the newest events, newest first,
// of the queues (empty: every queue's, and events of no queue too) whose
// type is one of types or starts with one ending in "." (empty: any).
func (s *Store) FindRecentEvents(ctx context.Context, queues, types []string, limit int) ([]reservation.Event, error) {
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if len(queues) > 0 {
		ph := make([]string, len(queues))
		for i, id := range queues {
			ph[i] = arg(id)
		}
		where = append(where, "queue_id IN ("+strings.Join(ph, ", ")+")")
	}
	if len(types) > 0 {
		var or []string
		for _, t := range types {
			if strings.HasSuffix(t, ".") {
				or = append(or, "substr(type, 1, "+strconv.Itoa(len(t))+") = "+arg(t))
			} else {
				or = append(or, "type = "+arg(t))
			}
		}
		where = append(where, "("+strings.Join(or, " OR ")+")")
	}
	q := ""
	if len(where) > 0 {
		q = "WHERE " + strings.Join(where, " AND ") + " "
	}
	q += "ORDER BY seq DESC LIMIT " + arg(limit)
	return s.events(ctx, q, args...)
}
