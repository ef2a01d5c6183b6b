package httpapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/slotline/slotline/internal/booking"
	"github.com/slotline/slotline/internal/reservation"
)

// Customer self-service: GET, PATCH and DELETE /api/v2/self/{token}, its
// availability and its opt-out. The token is the credential. Every answer
// is no-store; the log line names the route's pattern, never the path
// that holds the token.

// selfRoute applies the self-service rate limits (per source address, then
// per token) before h.
func (s *Server) selfRoute(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Referrer-Policy", "no-referrer")
		if s.Self == nil {
			s.problem(w, r, reservation.Errorf(reservation.EUNAVAILABLE, "self-service is not configured"))
			return
		}
		if wait := s.Self.Allow(r.PathValue("token"), r.RemoteAddr); wait > 0 {
			secs := retrySeconds(wait)
			w.Header().Set("Retry-After", strconv.Itoa(secs))
			s.problem(w, r, reservation.Errorf(reservation.ERATELIMITED, "too many requests for this link; retry after %d s", secs))
			return
		}
		h(w, r)
	}
}

func (s *Server) writeSelf(w http.ResponseWriter, r *http.Request, res *reservation.Reservation) {
	writeJSON(w, http.StatusOK, s.Self.View(res))
}

func (s *Server) handleSelfGet(w http.ResponseWriter, r *http.Request) {
	res, err := s.Self.Open(r.Context(), r.PathValue("token"))
	if err != nil {
		s.problem(w, r, err)
		return
	}
	s.writeSelf(w, r, res)
}

func (s *Server) handleSelfAvailability(w http.ResponseWriter, r *http.Request) {
	res, err := s.Self.Open(r.Context(), r.PathValue("token"))
	if err != nil {
		s.problem(w, r, err)
		return
	}
	q, err := s.Booking.Queue(res.QueueID)
	if err != nil {
		s.problem(w, r, reservation.Errorf(reservation.ECHANGENOTALLOWED, "the reservation's queue no longer takes changes"))
		return
	}
	s.writeAvailability(w, r, q, func(from, to time.Time) ([]booking.Slot, error) {
		return s.Self.Availability(r.Context(), res, from, to)
	})
}

func (s *Server) handleSelfReschedule(w http.ResponseWriter, r *http.Request) {
	body, err := readJSON(w, r)
	if err != nil {
		s.problem(w, r, err)
		return
	}
	req, err := reservation.DecodeUpdate(body)
	if err != nil {
		s.problem(w, r, err)
		return
	}
	switch {
	case req.Reason != nil:
		err = reservation.FieldError("reason", "cannot be changed through the link")
	case req.Channel != nil:
		err = reservation.FieldError("channel_preferences", "cannot be changed through the link")
	case req.CustomerName != nil:
		err = reservation.FieldError("customer_name", "cannot be changed through the link")
	case req.Candidates == nil:
		err = reservation.FieldError("time_slot_matrix", "is required")
	}
	if err != nil {
		s.problem(w, r, err)
		return
	}
	res, err := s.Self.Reschedule(r.Context(), r.PathValue("token"), req.Candidates, info(r).id)
	if err != nil {
		s.problem(w, r, err)
		return
	}
	s.writeSelf(w, r, res)
}

func (s *Server) handleSelfCancel(w http.ResponseWriter, r *http.Request) {
	res, err := s.Self.Cancel(r.Context(), r.PathValue("token"), info(r).id)
	if err != nil {
		s.problem(w, r, err)
		return
	}
	s.writeSelf(w, r, res)
}

func (s *Server) handleSelfOptOut(w http.ResponseWriter, r *http.Request) {
	res, err := s.Self.OptOut(r.Context(), r.PathValue("token"), info(r).id)
	if err != nil {
		s.problem(w, r, err)
		return
	}
	s.writeSelf(w, r, res)
}

// writeCreated writes the answer of a create: the reservation with, when
// self-service is on, its manage_url and manage_token (only here, and in
// the replays of this answer: never in reads, events or webhooks).
func (s *Server) writeCreated(w http.ResponseWriter, r *http.Request, status int, res *booking.Result) {
	rv := res.Reservation
	if s.Self == nil || res.DuplicateOf != "" || (res.Replayed && info(r).key != nil) {
		// A lenient duplicate shows the reservation the number already
		// has, never its link: whoever typed the number in need not be
		// the customer who booked it. Nor does a replay through a
		// publishable key, whose idempotency keys every browser holding
		// it shares.
		writeReservation(w, status, res)
		return
	}
	if rv.SelfNonce == "" {
		// A replay: the stored answer holds no nonce; the row does.
		if cur, err := s.Booking.Find(r.Context(), booking.Caller{ClientID: rv.ClientID}, rv.ID); err == nil {
			rv = &reservation.Reservation{ID: rv.ID, SelfNonce: cur.SelfNonce}
		}
	}
	links := s.Self.Links()
	b := res.Reservation.AppendJSON(make([]byte, 0, 1200))
	if token := links.Token(*rv); token != "" {
		b = b[:len(b)-1]
		b = append(b, `,"manage_url":`...)
		b = reservation.AppendJSONString(b, links.ManageURL(*rv))
		b = append(b, `,"manage_token":`...)
		b = reservation.AppendJSONString(b, token)
		b = append(b, '}')
	}
	w.Header().Set("ETag", res.Reservation.ETag())
	w.Header().Set("Cache-Control", "no-store")
	if res.Replayed {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
