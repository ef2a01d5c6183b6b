package httpapi

import (
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/slotline/slotline/internal/booking"
	"github.com/slotline/slotline/internal/reservation"
	"github.com/slotline/slotline/internal/schedule"
)

type overrideJSON struct {
	Date     string   `json:"date,omitempty"`
	Days     []string `json:"days,omitempty"`
	Hours    string   `json:"hours,omitempty"`
	Capacity int      `json:"capacity"`
}

type queueJSON struct {
	ID                string            `json:"id"`
	Name              string            `json:"name"`
	GenesysQueueID    string            `json:"genesys_queue_id,omitempty"`
	TimeZone          string            `json:"timezone"`
	SlotMinutes       int               `json:"slot_minutes"`
	Capacity          int               `json:"capacity"`
	CapacityOverrides []overrideJSON    `json:"capacity_overrides"`
	Hours             any               `json:"hours"`
	ScheduleGroupID   string            `json:"schedule_group_id,omitempty"`
	Closed            []string          `json:"closed"`
	LeadTimeSeconds   int64             `json:"lead_time_seconds"`
	HorizonSeconds    int64             `json:"horizon_seconds"`
	Links             map[string]string `json:"links"`
}

var dayNames = [7]string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

func renderQueue(q *booking.Queue) queueJSON {
	sc := q.Calendar
	out := queueJSON{
		ID: q.ID, Name: q.Name, GenesysQueueID: q.GenesysQueueID, TimeZone: q.TimeZone,
		SlotMinutes: sc.SlotMinutes, Capacity: sc.Capacity, CapacityOverrides: []overrideJSON{}, Closed: []string{},
		LeadTimeSeconds: int64(sc.LeadTime / time.Second), HorizonSeconds: int64(sc.Horizon / time.Second),
		Links: map[string]string{"availability": "/api/v2/queues/" + q.ID + "/availability"},
	}
	switch {
	case sc.Imported != nil:
		out.Hours = "genesys"
		out.ScheduleGroupID = q.ScheduleGroupID
	case sc.AlwaysOpen:
		out.Hours = "24/7"
	default:
		hours := map[string][]string{}
		for d, ivs := range sc.Hours {
			if len(ivs) == 0 {
				continue
			}
			for _, iv := range ivs {
				hours[dayNames[d]] = append(hours[dayNames[d]], iv.String())
			}
		}
		out.Hours = hours
	}
	for d := range sc.Closed {
		out.Closed = append(out.Closed, d.String())
	}
	sort.Strings(out.Closed)
	for _, o := range sc.Overrides {
		oj := overrideJSON{Capacity: o.Capacity}
		if o.Date != nil {
			oj.Date = o.Date.String()
		}
		for _, d := range o.Days {
			oj.Days = append(oj.Days, dayNames[d])
		}
		if o.Hours != nil {
			oj.Hours = o.Hours.String()
		}
		out.CapacityOverrides = append(out.CapacityOverrides, oj)
	}
	return out
}

func (s *Server) handleQueues(w http.ResponseWriter, r *http.Request) {
	items := []queueJSON{}
	for _, q := range s.Booking.Queues() {
		items = append(items, renderQueue(q))
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
}

func (s *Server) handleQueue(w http.ResponseWriter, r *http.Request) {
	q, err := s.Booking.Queue(r.PathValue("id"))
	if err != nil {
		s.problem(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, renderQueue(q))
}

type slotJSON struct {
	Start     string          `json:"start"`
	End       string          `json:"end"`
	Capacity  int             `json:"capacity"`
	Used      int             `json:"used"`
	Remaining int             `json:"remaining"`
	Available bool            `json:"available"`
	Reason    schedule.Reason `json:"reason,omitempty"`
}

// handleAvailability lists every bucket in [from, to) (default: the next 24
// hours) with its capacity, use and, when it cannot be booked, why.
func (s *Server) handleAvailability(w http.ResponseWriter, r *http.Request) {
	q, err := s.Booking.Queue(r.PathValue("id"))
	if err != nil {
		s.problem(w, r, err)
		return
	}
	s.writeAvailability(w, r, q, nil)
}

// writeAvailability answers an availability request for q with the slots
// fetch returns, or, when fetch is nil, the booking service's under the
// request's concurrency_limit.
func (s *Server) writeAvailability(w http.ResponseWriter, r *http.Request, q *booking.Queue, fetch func(from, to time.Time) ([]booking.Slot, error)) {
	loc := q.Calendar.Location
	v, err := query(r)
	if err != nil {
		s.problem(w, r, err)
		return
	}
	from, ok, err := queryTime(v, "from", loc)
	if err != nil {
		s.problem(w, r, err)
		return
	}
	if !ok {
		from = s.Booking.Now()
	}
	to, ok, err := queryTime(v, "to", loc)
	if err != nil {
		s.problem(w, r, err)
		return
	}
	if !ok {
		to = from.Add(24 * time.Hour)
	}
	// The window is written back in the queue's zone: its years must fit
	// RFC 3339's four digits (a date-time far out of range would not).
	for _, b := range []struct {
		name string
		t    time.Time
	}{{"from", from}, {"to", to}} {
		if msg := reservation.RangeProblem(b.t); msg != "" {
			s.problem(w, r, reservation.FieldError(b.name, msg))
			return
		}
	}
	limit := 0
	if l := v.Get("concurrency_limit"); l != "" && fetch == nil {
		limit, err = strconv.Atoi(l)
		if err != nil || limit < reservation.MinConcurrencyLimit || limit > reservation.MaxConcurrencyLimit {
			s.problem(w, r, reservation.FieldError("concurrency_limit", "must be from 1 to 50"))
			return
		}
	}
	if fetch == nil {
		fetch = func(from, to time.Time) ([]booking.Slot, error) {
			return s.Booking.Availability(r.Context(), q.ID, from, to, limit)
		}
	}
	slots, err := fetch(from, to)
	if err != nil {
		s.problem(w, r, err)
		return
	}
	out := make([]slotJSON, len(slots))
	for i, sl := range slots {
		out[i] = slotJSON{
			Start: sl.Start.In(loc).Format(time.RFC3339), End: sl.End.In(loc).Format(time.RFC3339),
			Capacity: sl.Capacity, Used: sl.Used, Remaining: sl.Remaining,
			Available: sl.Reason == schedule.OK, Reason: sl.Reason,
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"queue_id": q.ID, "timezone": q.TimeZone, "slot_minutes": q.Calendar.SlotMinutes,
		"from": from.In(loc).Format(time.RFC3339), "to": to.In(loc).Format(time.RFC3339), "slots": out,
	})
}
