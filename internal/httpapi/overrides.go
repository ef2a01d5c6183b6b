package httpapi

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/slotline/slotline/internal/booking"
	"github.com/slotline/slotline/internal/reservation"
)

// MaxMoveIDs is the most reservations one bulk move may name.
const MaxMoveIDs = 250

// runtimeOverrideJSON is a capacity override made at runtime, as the API
// shows it: its range in the queue's zone, and as the operator wrote it.
type runtimeOverrideJSON struct {
	ID         string `json:"id"`
	QueueID    string `json:"queue_id"`
	Start      string `json:"start"`
	End        string `json:"end"`
	StartInput string `json:"start_input"`
	EndInput   string `json:"end_input"`
	Capacity   int    `json:"capacity"`
	Reason     string `json:"reason"`
	Actor      string `json:"actor"`
	CreatedAt  string `json:"created_at"`
	UpdatedAt  string `json:"updated_at"`
}

func renderOverride(q *booking.Queue, o *reservation.Override) runtimeOverrideJSON {
	loc := q.Calendar.Location
	return runtimeOverrideJSON{ID: o.ID, QueueID: o.QueueID, Start: o.Start.In(loc).Format(time.RFC3339),
		End: o.End.In(loc).Format(time.RFC3339), StartInput: o.StartLocal, EndInput: o.EndLocal, Capacity: o.Capacity,
		Reason: o.Reason, Actor: o.Actor, CreatedAt: utcMillis(o.CreatedAt), UpdatedAt: utcMillis(o.UpdatedAt)}
}

func utcMillis(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// overCapacityJSON is one reservation a bucket holds above its capacity.
type overCapacityJSON struct {
	ReservationID string                   `json:"reservation_id"`
	BucketStart   string                   `json:"bucket_start"`
	BucketEnd     string                   `json:"bucket_end"`
	Capacity      int                      `json:"capacity"`
	Booked        int                      `json:"booked"`
	Reservation   *reservation.Reservation `json:"reservation"`
}

// renderOver lists what is over capacity; the reservations' numbers are
// masked (a capacity:write client need not see other clients' customers).
func renderOver(q *booking.Queue, over []booking.OverCapacity) []overCapacityJSON {
	loc := q.Calendar.Location
	out := make([]overCapacityJSON, len(over))
	for i, o := range over {
		r := *o.Reservation
		r.CallbackNumber = reservation.MaskNumber(r.CallbackNumber)
		out[i] = overCapacityJSON{ReservationID: r.ID, BucketStart: o.Bucket.Start.In(loc).Format(time.RFC3339),
			BucketEnd: o.Bucket.End.In(loc).Format(time.RFC3339), Capacity: o.Capacity, Booked: o.Booked, Reservation: &r}
	}
	return out
}

func (s *Server) handleListOverrides(w http.ResponseWriter, r *http.Request) {
	q, err := s.Booking.Queue(r.PathValue("id"))
	if err != nil {
		s.problem(w, r, err)
		return
	}
	os, err := s.Booking.Overrides(r.Context(), q.ID)
	if err != nil {
		s.problem(w, r, err)
		return
	}
	items := make([]runtimeOverrideJSON, len(os))
	for i, o := range os {
		items[i] = renderOverride(q, o)
	}
	writeJSON(w, http.StatusOK, map[string]any{"queue_id": q.ID, "timezone": q.TimeZone, "items": items})
}

// handlePutOverride creates the override of a range, or replaces the one
// of exactly that range: 201 or 200 with the override and the
// reservations it leaves over capacity.
func (s *Server) handlePutOverride(w http.ResponseWriter, r *http.Request) {
	q, err := s.Booking.Queue(r.PathValue("id"))
	if err != nil {
		s.problem(w, r, err)
		return
	}
	info(r).target = q.ID
	body, err := readJSON(w, r)
	if err != nil {
		s.problem(w, r, err)
		return
	}
	req, err := booking.DecodeOverride(body)
	if err != nil {
		s.problem(w, r, err)
		return
	}
	o, created, over, err := s.Booking.PutOverride(r.Context(), plainCaller(r), q.ID, req)
	if err != nil {
		s.problem(w, r, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		w.Header().Set("Location", "/api/v2/queues/"+q.ID+"/overrides/"+o.ID)
	}
	writeJSON(w, status, struct {
		runtimeOverrideJSON
		OverCapacity []overCapacityJSON `json:"over_capacity"`
	}{renderOverride(q, o), renderOver(q, over)})
}

// handleDeleteOverride removes an override (?reason= is audited).
func (s *Server) handleDeleteOverride(w http.ResponseWriter, r *http.Request) {
	q, err := s.Booking.Queue(r.PathValue("id"))
	if err != nil {
		s.problem(w, r, err)
		return
	}
	info(r).target = r.PathValue("override_id")
	v, err := query(r)
	if err != nil {
		s.problem(w, r, err)
		return
	}
	reason := v.Get("reason")
	if len(reason) > 500 {
		s.problem(w, r, reservation.FieldError("reason", "must be at most 500 characters"))
		return
	}
	id := r.PathValue("override_id")
	if !validID(id) {
		s.problem(w, r, reservation.Errorf(reservation.ENOTFOUND, "capacity override %q does not exist", id))
		return
	}
	o, err := s.Booking.DeleteOverride(r.Context(), plainCaller(r), q.ID, id, reason)
	if err != nil {
		s.problem(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, renderOverride(q, o))
}

func (s *Server) handleOverCapacity(w http.ResponseWriter, r *http.Request) {
	q, err := s.Booking.Queue(r.PathValue("id"))
	if err != nil {
		s.problem(w, r, err)
		return
	}
	over, err := s.Booking.OverCapacity(r.Context(), q.ID)
	if err != nil {
		s.problem(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"queue_id": q.ID, "items": renderOver(q, over)})
}

type moveResultJSON struct {
	ReservationID string                   `json:"reservation_id"`
	Outcome       string                   `json:"outcome"`
	Reason        string                   `json:"reason,omitempty"`
	Detail        string                   `json:"detail,omitempty"`
	Reservation   *reservation.Reservation `json:"reservation,omitempty"`
}

// handleMoveOverCapacity moves each named reservation that is over
// capacity to the nearest free slot, each on its own.
func (s *Server) handleMoveOverCapacity(w http.ResponseWriter, r *http.Request) {
	q, err := s.Booking.Queue(r.PathValue("id"))
	if err != nil {
		s.problem(w, r, err)
		return
	}
	info(r).target = q.ID
	body, err := readJSON(w, r)
	if err != nil {
		s.problem(w, r, err)
		return
	}
	var fe reservation.Fields
	m := fe.Object("", json.RawMessage(body), "reservation_ids")
	ids, ok := fe.Strs(m, "", "reservation_ids", "an array of reservation ids")
	switch {
	case m != nil && m["reservation_ids"] == nil:
		fe.Add("reservation_ids", "is required")
	case ok && len(ids) == 0:
		fe.Add("reservation_ids", "must name at least one reservation")
	case ok && len(ids) > MaxMoveIDs:
		fe.Add("reservation_ids", "must name at most 250 reservations")
	}
	if err := fe.Err(); err != nil {
		s.problem(w, r, err)
		return
	}
	results, err := s.Booking.MoveOverCapacity(r.Context(), plainCaller(r), q.ID, ids)
	if err != nil {
		s.problem(w, r, err)
		return
	}
	out := make([]moveResultJSON, len(results))
	for i, res := range results {
		out[i] = moveResultJSON{ReservationID: res.ID, Outcome: "failed", Reason: res.Reason, Detail: res.Detail}
		if res.Moved {
			rr := *res.Reservation
			rr.CallbackNumber = reservation.MaskNumber(rr.CallbackNumber)
			out[i].Outcome, out[i].Reservation = "moved", &rr
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"queue_id": q.ID, "results": out})
}

// plainCaller is the calling client as the actor of a capacity change.
func plainCaller(r *http.Request) booking.Caller {
	return booking.Caller{ClientID: info(r).principal.ClientID, RequestID: info(r).id}
}
