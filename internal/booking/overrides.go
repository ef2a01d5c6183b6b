package booking

import (
	"context"
	"encoding/json"
	"errors"
	"sort"
	"strings"
	"time"

	"github.com/slotline/slotline/internal/reservation"
	"github.com/slotline/slotline/internal/schedule"
)

// OverrideStore is what capacity changes at runtime need of the store
// beyond Store.
type OverrideStore interface {
	FindOverrides(ctx context.Context, queueID string, from, to time.Time) ([]*reservation.Override, error)
	PutOverride(ctx context.Context, o *reservation.Override, w reservation.Write) (bool, error)
	DeleteOverride(ctx context.Context, queueID, id, reason string, w reservation.Write) (*reservation.Override, error)
	FindBucketReservations(ctx context.Context, queueID string, bucket time.Time) ([]*reservation.Reservation, error)
}

// MaxOverrideRange is the longest range one override may cover.
const MaxOverrideRange = 366 * 24 * time.Hour

// localLayout is a date and time without an offset: a wall time in the
// queue's zone.
const localLayout = "2006-01-02T15:04"

// OverrideRequest is the body of PUT /api/v2/queues/{id}/overrides.
type OverrideRequest struct {
	Start, End string
	Capacity   int
	Reason     string
}

// DecodeOverride decodes an override body strictly: start and end (RFC
// 3339, or a date and time without offset, 2026-12-04T09:00, read in the
// queue's zone), capacity (an integer, 0 closes) and reason are required.
func DecodeOverride(body []byte) (*OverrideRequest, error) {
	var fe reservation.Fields
	m := fe.Object("", json.RawMessage(body), "start", "end", "capacity", "reason")
	if m == nil {
		return nil, fe.Err()
	}
	var req OverrideRequest
	var ok bool
	for _, f := range []struct {
		key string
		dst *string
	}{{"start", &req.Start}, {"end", &req.End}} {
		if *f.dst, ok = fe.Text(m, "", f.key, 40); !ok && m[f.key] == nil {
			fe.Add(f.key, "is required")
		}
	}
	if req.Capacity, ok = fe.Int(m, "", "capacity"); !ok && m["capacity"] == nil {
		fe.Add("capacity", "is required")
	} else if ok && (req.Capacity < 0 || req.Capacity > 100000) {
		fe.Add("capacity", "must be between 0 (closed) and 100000")
	}
	if req.Reason, ok = fe.Text(m, "", "reason", 500); !ok && m["reason"] == nil {
		fe.Add("reason", "is required")
	} else if ok && strings.TrimSpace(req.Reason) == "" {
		fe.Add("reason", "must not be empty")
	}
	if err := fe.Err(); err != nil {
		return nil, err
	}
	return &req, nil
}

// parseInstant reads an RFC 3339 instant, or a wall time in loc.
func parseInstant(s string, loc *time.Location) (time.Time, bool) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, true
	}
	if t, err := time.ParseInLocation(localLayout, s, loc); err == nil {
		return t, true
	}
	return time.Time{}, false
}

func (s *Service) overrideStore() (OverrideStore, error) {
	os, ok := s.store.(OverrideStore)
	if !ok {
		return nil, errors.New("the store keeps no capacity overrides")
	}
	return os, nil
}

// Overrides returns the queue's capacity overrides that have not ended,
// by start. Errors: ENOTFOUND.
func (s *Service) Overrides(ctx context.Context, queueID string) ([]*reservation.Override, error) {
	if _, err := s.Queue(queueID); err != nil {
		return nil, err
	}
	os, err := s.overrideStore()
	if err != nil {
		return nil, err
	}
	return os.FindOverrides(ctx, queueID, s.now(), time.UnixMicro(1<<62))
}

// PutOverride sets the capacity of every bucket of the queue that starts in
// the request's range, replacing the override of the same range if there
// is one (created reports a new one); it returns the override and the
// reservations it leaves over capacity. Errors: ENOTFOUND (queue),
// EINVALID.
func (s *Service) PutOverride(ctx context.Context, c Caller, queueID string, req *OverrideRequest) (*reservation.Override, bool, []OverCapacity, error) {
	q, err := s.Queue(queueID)
	if err != nil {
		return nil, false, nil, err
	}
	os, err := s.overrideStore()
	if err != nil {
		return nil, false, nil, err
	}
	loc := q.Calendar.Location
	var fe reservation.Fields
	start, ok1 := parseInstant(req.Start, loc)
	if !ok1 {
		fe.Add("start", "must be an RFC 3339 date and time or a local one (2026-12-04T09:00) in the queue's zone")
	}
	end, ok2 := parseInstant(req.End, loc)
	if !ok2 {
		fe.Add("end", "must be an RFC 3339 date and time or a local one (2026-12-04T09:00) in the queue's zone")
	}
	now := s.now()
	if ok1 && ok2 {
		switch {
		case !end.After(start):
			fe.Add("end", "must be after start")
		case end.Sub(start) > MaxOverrideRange:
			fe.Add("end", "must be at most 366 days after start")
		case !end.After(now):
			fe.Add("end", "must be in the future")
		}
	}
	if err := fe.Err(); err != nil {
		return nil, false, nil, err
	}
	o := &reservation.Override{QueueID: q.ID, Start: start.UTC(), End: end.UTC(), StartLocal: req.Start, EndLocal: req.End,
		Capacity: req.Capacity, Reason: req.Reason}
	created, err := os.PutOverride(ctx, o, s.write(c, now))
	if err != nil {
		return nil, false, nil, err
	}
	s.logger.InfoContext(ctx, "capacity override put", "override_id", o.ID, "queue_id", q.ID, "capacity", o.Capacity,
		"start", o.Start, "end", o.End, "client_id", c.ClientID, "request_id", c.RequestID)
	over, err := s.overCapacity(ctx, q, o.Start, o.End)
	if err != nil {
		return nil, false, nil, err
	}
	return o, created, over, nil
}

// DeleteOverride removes one of the queue's overrides (the configured
// capacity holds again). Errors: ENOTFOUND.
func (s *Service) DeleteOverride(ctx context.Context, c Caller, queueID, id, reason string) (*reservation.Override, error) {
	if _, err := s.Queue(queueID); err != nil {
		return nil, err
	}
	os, err := s.overrideStore()
	if err != nil {
		return nil, err
	}
	o, err := os.DeleteOverride(ctx, queueID, id, reason, s.write(c, s.now()))
	if err != nil {
		return nil, err
	}
	s.logger.InfoContext(ctx, "capacity override deleted", "override_id", id, "queue_id", queueID,
		"client_id", c.ClientID, "request_id", c.RequestID)
	return o, nil
}

// capacityOf returns the capacity of each bucket of q starting in
// [from, to) as bookings are judged now: the override in effect, else the
// calendar's.
func (s *Service) capacityOf(ctx context.Context, q *Queue, from, to time.Time) (func(bucket time.Time) int, error) {
	os, ok := s.store.(OverrideStore)
	if !ok {
		return q.Calendar.CapacityAt, nil // a store without overrides: the calendar alone
	}
	ovs, err := os.FindOverrides(ctx, q.ID, from, to)
	if err != nil {
		return nil, err
	}
	return func(b time.Time) int {
		if o := reservation.OverrideAt(ovs, b); o != nil {
			return o.Capacity
		}
		return q.Calendar.CapacityAt(b)
	}, nil
}

// OverCapacity is a reservation that a bucket holds above its capacity.
type OverCapacity struct {
	Reservation *reservation.Reservation
	Bucket      schedule.Bucket
	Capacity    int
	Booked      int
}

// OverCapacity lists the scheduled reservations of the queue in buckets
// to come that hold more bookings than their capacity now allows: in each
// such bucket, the ones booked last (by created_at) beyond the capacity.
// Errors: ENOTFOUND.
func (s *Service) OverCapacity(ctx context.Context, queueID string) ([]OverCapacity, error) {
	q, err := s.Queue(queueID)
	if err != nil {
		return nil, err
	}
	now := s.now()
	return s.overCapacity(ctx, q, now, now.Add(q.Calendar.LeadTime+q.Calendar.Horizon+24*time.Hour))
}

func (s *Service) overCapacity(ctx context.Context, q *Queue, from, to time.Time) ([]OverCapacity, error) {
	os, err := s.overrideStore()
	if err != nil {
		return nil, err
	}
	if now := s.now(); from.Before(now) {
		from = now
	}
	if !to.After(from) {
		return nil, nil
	}
	used, err := s.store.SlotUsage(ctx, q.ID, from, to)
	if err != nil {
		return nil, err
	}
	capOf, err := s.capacityOf(ctx, q, from, to)
	if err != nil {
		return nil, err
	}
	var buckets []int64
	for b := range used {
		buckets = append(buckets, b)
	}
	sort.Slice(buckets, func(i, j int) bool { return buckets[i] < buckets[j] })
	out := []OverCapacity{}
	for _, us := range buckets {
		b := time.UnixMicro(us).UTC()
		capacity := capOf(b)
		if used[us] <= capacity {
			continue
		}
		rs, err := os.FindBucketReservations(ctx, q.ID, b)
		if err != nil {
			return nil, err
		}
		// The active reservations not scheduled (in progress) count first:
		// they cannot move.
		keep := capacity - (used[us] - len(rs))
		bucket := q.Calendar.BucketAt(b)
		for i, r := range rs {
			if i >= max(keep, 0) {
				out = append(out, OverCapacity{Reservation: r, Bucket: bucket, Capacity: capacity, Booked: used[us]})
			}
		}
	}
	return out, nil
}

// MoveResult is what became of one reservation of a bulk move.
type MoveResult struct {
	ID          string
	Moved       bool
	Reason      string // why not, when not moved: not_found, not_over_capacity, no_free_slot, or an error code
	Detail      string
	Reservation *reservation.Reservation
}

// MoveOverCapacity moves each listed reservation of the queue that is
// over capacity to the nearest free slot, each on its own (through Update:
// the reschedule is synced to Genesys and the customer told). Errors:
// ENOTFOUND (queue); each reservation's failure is in its result.
func (s *Service) MoveOverCapacity(ctx context.Context, c Caller, queueID string, ids []string) ([]MoveResult, error) {
	q, err := s.Queue(queueID)
	if err != nil {
		return nil, err
	}
	over, err := s.OverCapacity(ctx, queueID)
	if err != nil {
		return nil, err
	}
	byID := map[string]OverCapacity{}
	for _, o := range over {
		byID[o.Reservation.ID] = o
	}
	c.All = true
	out := make([]MoveResult, 0, len(ids))
	for _, id := range ids {
		res := MoveResult{ID: id}
		o, ok := byID[id]
		switch {
		case !ok:
			if r, err := s.Find(ctx, c, id); err != nil || r.QueueID != q.ID {
				res.Reason, res.Detail = "not_found", "no reservation "+id+" in queue "+q.ID
			} else {
				res.Reason, res.Detail = "not_over_capacity", "reservation "+id+" is not over capacity"
			}
		default:
			res = s.moveOne(ctx, c, q, o.Reservation)
		}
		out = append(out, res)
	}
	return out, nil
}

func (s *Service) moveOne(ctx context.Context, c Caller, q *Queue, r *reservation.Reservation) MoveResult {
	res := MoveResult{ID: r.ID}
	now := s.now()
	avail, err := s.availability(ctx, q, now, now.Add(q.Calendar.Horizon+q.Calendar.LeadTime), r.ConcurrencyLimit, now)
	if err != nil {
		res.Reason, res.Detail = reservation.EINTERNAL, "the free slots could not be read"
		s.logger.WarnContext(ctx, "move over capacity: free slots", "reservation_id", r.ID, "err", err)
		return res
	}
	var free []Slot
	for _, a := range avail {
		if a.Reason == schedule.OK && !a.Start.Equal(r.Bucket) {
			free = append(free, a)
		}
	}
	// Nearest first (the earlier of two as near): Update books the first
	// candidate with room, so a slot taken meanwhile falls to the next.
	dist := func(a Slot) time.Duration { return absDur(a.Start.Sub(r.Slot.Start)) }
	sort.SliceStable(free, func(i, j int) bool { return dist(free[i]) < dist(free[j]) })
	if len(free) > 5 {
		free = free[:5]
	}
	if len(free) == 0 {
		res.Reason, res.Detail = "no_free_slot", "no free slot in the queue's booking window"
		return res
	}
	slots := make([]reservation.Slot, len(free))
	for i, f := range free {
		slots[i] = reservation.Slot{Start: f.Start, End: f.End}
	}
	c.Origin = reservation.OriginOperator
	c.IdempotencyKey = ""
	out, err := s.Update(ctx, c, r.ID, []int{r.Version}, &reservation.UpdateRequest{Candidates: slots})
	if err != nil {
		res.Reason, res.Detail = reservation.ErrorCode(err), reservation.ErrorMessage(err)
		if res.Reason == reservation.ECONFLICT {
			res.Reason = "no_free_slot"
		}
		return res
	}
	res.Moved, res.Reservation = true, out.Reservation
	s.logger.InfoContext(ctx, "over-capacity reservation moved", "reservation_id", r.ID, "queue_id", q.ID,
		"slot", out.Reservation.Slot.Start.UTC(), "client_id", c.ClientID, "request_id", c.RequestID)
	return res
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}
