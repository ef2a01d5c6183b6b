package console

import (
	"net/http"

	"github.com/slotline/slotline/internal/reservation"
)

// liveRecent is how many of the newest events the live page shows
// before (or without) its script.
const liveRecent = 50

// liveTypes are the type filters the live page offers (a trailing "."
// is a prefix).
var liveTypes = []string{"reservation.", reservation.EventCreated, reservation.EventRescheduled, reservation.EventCanceled,
	reservation.EventSynced, reservation.EventSyncFailed, reservation.EventCompleted, reservation.EventMissed,
	reservation.EventNotified, "webhook.", "delivery."}

type liveEntry struct {
	Time, Type, Queue, Number, By, Reservation string
}

type livePage struct {
	page
	Queues, Types []option
	Entries       []liveEntry
}

// liveRoutes registers the live page (not found, signed in, without
// Deps.Reservations).
func (s *Server) liveRoutes() {
	if s.resStore == nil {
		s.mux.Handle("GET /console/live", s.Require(Viewer)(http.HandlerFunc(s.notFound)))
		return
	}
	s.mux.Handle("GET /console/live", s.Require(Viewer)(http.HandlerFunc(s.handleLive)))
}

// handleLive is GET /console/live: the newest events of the operator's
// queues (newest first), filtered by ?queue= and ?type=; live.js then
// follows GET /console/events and adds each new event at the top.
func (s *Server) handleLive(w http.ResponseWriter, r *http.Request) {
	op, _ := OperatorFrom(r.Context())
	v := r.URL.Query()
	queue, typ := v.Get("queue"), v.Get("type")
	if queue != "" && (!s.queueExists(queue) || !op.CanSee(queue)) {
		s.plain(w, r, http.StatusNotFound, "notfound")
		return
	}
	p := livePage{page: s.page(r, "live.title")}
	p.Styles, p.Scripts = []string{"reservations.css"}, []string{"live.js"}
	p.Queues = append(p.Queues, option{"", p.T("res.all_queues"), queue == ""})
	for _, id := range s.visibleQueueIDs(op) {
		p.Queues = append(p.Queues, option{id, s.queueName(id), id == queue})
	}
	p.Types = append(p.Types, option{"", p.T("live.all_types"), typ == ""})
	var types []string
	for _, t := range liveTypes {
		p.Types = append(p.Types, option{t, t, t == typ})
		if t == typ {
			types = []string{t}
		}
	}
	queues := op.Queues
	if queue != "" {
		queues = []string{queue}
	}
	evs, err := s.resStore.FindRecentEvents(r.Context(), queues, types, liveRecent)
	if err != nil {
		s.failed(w, r, "find recent events", err)
		return
	}
	for _, e := range evs {
		if len(op.Queues) > 0 && e.QueueID == "" {
			continue
		}
		le := liveEntry{Time: e.OccurredAt.In(s.zoneOf(e.QueueID)).Format("2006-01-02 15:04:05"), Type: e.Type,
			Queue: s.queueName(e.QueueID), By: byText(&p.page, e.Origin, e.Actor), Reservation: e.ReservationID}
		if e.Reservation != nil {
			le.Number = reservation.MaskNumber(e.Reservation.CallbackNumber)
		}
		p.Entries = append(p.Entries, le)
	}
	s.render(w, r, http.StatusOK, "live", &p)
}
