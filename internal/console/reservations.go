package console

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/slotline/slotline/internal/reservation"
	"github.com/slotline/slotline/internal/schedule"
	"github.com/slotline/slotline/internal/storage"
)

// ReservationStore is what the reservations and live pages read besides
// the booking service: storage.Store.
type ReservationStore interface {
	FindReservationPage(ctx context.Context, q storage.ReservationQuery) (*storage.ReservationPage, error)
	FindReservationEvents(ctx context.Context, id string) ([]reservation.Event, error)
	FindEventDeliveries(ctx context.Context, seqs []int64) ([]*storage.Delivery, error)
	FindRecentEvents(ctx context.Context, queues, types []string, limit int) ([]reservation.Event, error)
}

// reservationsPageSize is how many reservations a page of the list shows.
const reservationsPageSize = 50

// rescheduleDays is how many days ahead the reschedule form offers free
// slots.
const rescheduleDays = 7

var digitsRE = regexp.MustCompile(`^[0-9]{1,15}$`)

// reservationRoutes registers the reservations pages (without
// Deps.Booking and Deps.Reservations, the signed-in list is not found).
func (s *Server) reservationRoutes() {
	m := s.mux
	if s.booking == nil || s.resStore == nil {
		m.Handle("GET /console/reservations", s.Require(Viewer)(http.HandlerFunc(s.notFound)))
		return
	}
	m.Handle("GET /console/reservations", s.Require(Viewer)(http.HandlerFunc(s.handleReservations)))
	m.Handle("GET /console/reservations/{id}", s.Require(Viewer)(http.HandlerFunc(s.handleReservation)))
	m.Handle("GET /console/reservations/{id}/cancel", s.Require(Supervisor)(http.HandlerFunc(s.handleCancelConfirm)))
	m.Handle("POST /console/reservations/{id}/cancel", s.Require(Supervisor)(http.HandlerFunc(s.handleCancelPost)))
	m.Handle("POST /console/reservations/{id}/reschedule", s.Require(Supervisor)(http.HandlerFunc(s.handleReschedulePost)))
}

// option is a choice of a select.
type option struct {
	Value, Label string
	Selected     bool
}

// resRow is a reservation in the list.
type resRow struct {
	ID, Slot, Queue, Number, Status, Outcome, Sync string
}

type reservationsPage struct {
	page
	Queues, Statuses, Outcomes []option
	From, To, Digits           string
	Error                      string
	Rows                       []resRow
	Next, Prev                 string
	Zone                       string
}

func (s *Server) queueName(id string) string {
	for _, q := range s.queues {
		if q.ID == id {
			return q.Name
		}
	}
	return id
}

// visibleQueueIDs are the ids of the queues the operator sees.
func (s *Server) visibleQueueIDs(op Operator) []string {
	var out []string
	for _, q := range s.visibleQueues(op) {
		out = append(out, q.ID)
	}
	return out
}

func (s *Server) handleReservations(w http.ResponseWriter, r *http.Request) {
	op, _ := OperatorFrom(r.Context())
	v := r.URL.Query()
	p := reservationsPage{page: s.page(r, "res.title"), From: v.Get("from"), To: v.Get("to"), Digits: v.Get("digits")}
	p.Styles = []string{"reservations.css"}
	queue := v.Get("queue")
	if queue != "" && (!s.queueExists(queue) || !op.CanSee(queue)) {
		s.plain(w, r, http.StatusNotFound, "notfound")
		return
	}
	q := storage.ReservationQuery{Queues: op.Queues, Limit: reservationsPageSize, After: v.Get("after"), Before: v.Get("before")}
	if queue != "" {
		q.Queues = []string{queue}
	}
	if len(q.Queues) > 0 {
		q.Queues = slices.DeleteFunc(slices.Clone(q.Queues), func(id string) bool { return !s.queueExists(id) })
	}
	p.Queues = append(p.Queues, option{"", p.T("res.all_queues"), queue == ""})
	for _, id := range s.visibleQueueIDs(op) {
		p.Queues = append(p.Queues, option{id, s.queueName(id), id == queue})
	}
	status := v.Get("status")
	p.Statuses = append(p.Statuses, option{"", p.T("res.any"), status == ""})
	for _, st := range []reservation.Status{reservation.StatusScheduled, reservation.StatusInProgress, reservation.StatusCompleted,
		reservation.StatusMissed, reservation.StatusCanceled, reservation.StatusFailed} {
		p.Statuses = append(p.Statuses, option{string(st), p.T("status." + string(st)), string(st) == status})
		if string(st) == status {
			q.Status = st
		}
	}
	outcome := v.Get("outcome")
	p.Outcomes = append(p.Outcomes, option{"", p.T("res.any"), outcome == ""})
	for _, o := range []reservation.Outcome{reservation.OutcomeReached, reservation.OutcomeNotReached, reservation.OutcomeCanceled, reservation.OutcomeFailed} {
		p.Outcomes = append(p.Outcomes, option{string(o), p.T("outcome." + string(o)), string(o) == outcome})
		if string(o) == outcome {
			q.Outcome = o
		}
	}
	// Dates are the selected queue's days (UTC over every queue).
	loc := time.UTC
	if queue != "" {
		loc = s.zoneOf(queue)
	}
	p.Zone = loc.String()
	invalid := func(key string) {
		p.Error = p.T(key)
	}
	if p.From != "" {
		d, err := time.ParseInLocation(time.DateOnly, p.From, loc)
		if err != nil {
			invalid("res.error_date")
		}
		q.From = d
	}
	if p.To != "" {
		d, err := time.ParseInLocation(time.DateOnly, p.To, loc)
		if err != nil {
			invalid("res.error_date")
		}
		q.To = d.AddDate(0, 0, 1)
	}
	if p.Digits != "" {
		if !digitsRE.MatchString(p.Digits) {
			invalid("res.error_digits")
		}
		q.NumberSuffix = p.Digits
	}
	if p.Error != "" {
		s.render(w, r, http.StatusBadRequest, "reservations", &p)
		return
	}
	res, err := s.resStore.FindReservationPage(r.Context(), q)
	if reservation.ErrorCode(err) == reservation.EINVALID {
		p.Error = p.T("res.error_cursor")
		s.render(w, r, http.StatusBadRequest, "reservations", &p)
		return
	}
	if err != nil {
		s.failed(w, r, "find reservations", err)
		return
	}
	for _, x := range res.Items {
		p.Rows = append(p.Rows, resRow{ID: x.ID, Slot: slotText(x.Slot, s.zoneOf(x.QueueID)), Queue: s.queueName(x.QueueID),
			Number: reservation.MaskNumber(x.CallbackNumber), Status: p.T("status." + string(x.Status)),
			Outcome: outcomeText(&p.page, x.Outcome), Sync: p.T("sync." + string(x.Sync.State))})
	}
	link := func(key, cursor string) string {
		if cursor == "" {
			return ""
		}
		l := url.Values{}
		for _, k := range []string{"queue", "status", "outcome", "from", "to", "digits", "lang"} {
			if v.Get(k) != "" {
				l.Set(k, v.Get(k))
			}
		}
		l.Set(key, cursor)
		return "/console/reservations?" + l.Encode()
	}
	p.Next, p.Prev = link("after", res.Next), link("before", res.Prev)
	s.render(w, r, http.StatusOK, "reservations", &p)
}

func outcomeText(p *page, o reservation.Outcome) string {
	if o == "" {
		return "–"
	}
	return p.T("outcome." + string(o))
}

// slotText is a slot in loc: "2030-06-03 09:00–09:15 (Europe/Berlin)".
func slotText(sl reservation.Slot, loc *time.Location) string {
	a, b := sl.Start.In(loc), sl.End.In(loc)
	end := b.Format("15:04")
	if a.Format(time.DateOnly) != b.Format(time.DateOnly) {
		end = b.Format("2006-01-02 15:04")
	}
	return a.Format("2006-01-02 15:04") + "–" + end + " (" + loc.String() + ")"
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	s.plain(w, r, http.StatusNotFound, "notfound")
}

// failed logs an unexpected error and answers 500 with the unavailable
// page.
func (s *Server) failed(w http.ResponseWriter, r *http.Request, what string, err error) {
	s.failWith(w, r, http.StatusInternalServerError, what, err)
}

// timelineEntry is one thing that happened to a reservation.
type timelineEntry struct {
	at     time.Time
	Time   string
	What   string
	Detail string
	By     string
}

type freeSlot struct {
	Value, Label string
}

type reservationPage struct {
	page
	R                                *reservation.Reservation
	Slot, Queue, Status, Outcome     string
	Sync, Created, Channel, Attempts string
	Timeline                         []timelineEntry
	CanChange, Active, SyncFailed    bool
	Free                             []freeSlot
	Error, Done                      string
}

// reservationFor finds the reservation of the path's id that the operator
// may see (false: the 404 page is written).
func (s *Server) reservationFor(w http.ResponseWriter, r *http.Request) (*reservation.Reservation, bool) {
	op, _ := OperatorFrom(r.Context())
	res, err := s.booking.Find(r.Context(), caller(w, op), r.PathValue("id"))
	if err == nil && op.CanSee(res.QueueID) {
		return res, true
	}
	if err != nil && reservation.ErrorCode(err) != reservation.ENOTFOUND {
		s.failed(w, r, "find reservation", err)
		return nil, false
	}
	s.plain(w, r, http.StatusNotFound, "notfound")
	return nil, false
}

func (s *Server) handleReservation(w http.ResponseWriter, r *http.Request) {
	res, ok := s.reservationFor(w, r)
	if !ok {
		return
	}
	p, err := s.reservationPage(r, res)
	if err != nil {
		s.failed(w, r, "reservation page", err)
		return
	}
	if d := r.URL.Query().Get("done"); d == "rescheduled" || d == "canceled" {
		p.Done = p.T("res.done_" + d)
	}
	s.render(w, r, http.StatusOK, "reservation", p)
}

func (s *Server) reservationPage(r *http.Request, res *reservation.Reservation) (*reservationPage, error) {
	ctx := r.Context()
	op, _ := OperatorFrom(ctx)
	p := &reservationPage{page: s.page(r, "res.detail_title"), R: res}
	p.Styles = []string{"reservations.css"}
	loc := s.zoneOf(res.QueueID)
	stamp := func(t time.Time) string { return t.In(loc).Format("2006-01-02 15:04:05") }
	p.Slot, p.Queue = slotText(res.Slot, loc), s.queueName(res.QueueID)
	p.Status, p.Outcome, p.Sync = p.T("status."+string(res.Status)), outcomeText(&p.page, res.Outcome), p.T("sync."+string(res.Sync.State))
	p.Created, p.Channel, p.Attempts = stamp(res.CreatedAt), res.Channel.Primary, strconv.Itoa(res.DialAttempts)
	p.Active = res.Status == reservation.StatusScheduled
	p.CanChange = op.CanChange(res.QueueID)
	p.SyncFailed = res.Sync.State == reservation.SyncFailed
	evs, err := s.resStore.FindReservationEvents(ctx, res.ID)
	if err != nil {
		return nil, err
	}
	seqs := make([]int64, len(evs))
	typeOf := map[int64]string{}
	for i, e := range evs {
		seqs[i], typeOf[e.Seq] = e.Seq, e.Type
		te := timelineEntry{at: e.OccurredAt, Time: stamp(e.OccurredAt), What: s.eventLabel(&p.page, e.Type), By: byText(&p.page, e.Origin, e.Actor)}
		switch {
		case e.Kind != "" && e.Reason != "":
			te.Detail = p.T("res.kind", "kind", e.Kind) + " · " + e.Reason
		case e.Kind != "":
			te.Detail = p.T("res.kind", "kind", e.Kind)
		case e.Reason != "":
			te.Detail = e.Reason
		}
		if x := e.Reservation; x != nil {
			switch e.Type {
			case reservation.EventCreated, reservation.EventRescheduled:
				te.Detail = slotText(x.Slot, loc)
			case reservation.EventMissed, reservation.EventCompleted:
				te.Detail = p.T("res.dial_attempts", "n", strconv.Itoa(x.DialAttempts))
			case reservation.EventSyncFailed:
				te.Detail = x.Sync.LastError
			}
		}
		p.Timeline = append(p.Timeline, te)
	}
	ds, err := s.resStore.FindEventDeliveries(ctx, seqs)
	if err != nil {
		return nil, err
	}
	for _, d := range ds {
		te := timelineEntry{at: d.CreatedAt, Time: stamp(d.CreatedAt), What: p.T("res.delivery", "type", typeOf[d.EventSeq]),
			By:     p.T("res.endpoint", "id", d.EndpointID),
			Detail: p.T("res.delivery_state", "state", p.T("delivery."+d.Status), "attempts", strconv.Itoa(d.Attempts))}
		if d.Status == storage.DeliveryDelivered {
			te.at, te.Time = d.DeliveredAt, stamp(d.DeliveredAt)
		}
		p.Timeline = append(p.Timeline, te)
	}
	slices.SortStableFunc(p.Timeline, func(a, b timelineEntry) int { return a.at.Compare(b.at) })
	if p.CanChange && p.Active {
		now := s.booking.Now()
		slots, err := s.booking.Availability(ctx, res.QueueID, now, now.AddDate(0, 0, rescheduleDays), res.ConcurrencyLimit)
		if err != nil && reservation.ErrorCode(err) != reservation.ENOTFOUND {
			return nil, err
		}
		for _, sl := range slots {
			if sl.Reason != schedule.OK || sl.Start.Equal(res.Slot.Start) {
				continue
			}
			p.Free = append(p.Free, freeSlot{Value: sl.Start.UTC().Format(time.RFC3339) + "/" + sl.End.UTC().Format(time.RFC3339),
				Label: p.T("res.free_slot", "slot", slotText(reservation.Slot{Start: sl.Start, End: sl.End}, loc), "n", strconv.Itoa(sl.Remaining))})
		}
	}
	return p, nil
}

// eventLabel is an event type in the page's language (the type itself
// when the catalog has no name for it).
func (s *Server) eventLabel(p *page, typ string) string {
	if t := p.T("event." + typ); t != "event."+typ {
		return t
	}
	return typ
}

// byText names who made an event: "operator:ada (operator)".
func byText(p *page, origin, actor string) string {
	switch {
	case actor == "" && origin == "":
		return "–"
	case actor == "":
		return origin
	case origin == "":
		return actor
	}
	return p.T("res.by", "actor", actor, "origin", origin)
}

// changeable checks a change of the path's reservation: the operator may
// change its queue (else the 403 page) and its form's version parses.
func (s *Server) changeable(w http.ResponseWriter, r *http.Request) (*reservation.Reservation, Operator, []int, bool) {
	res, ok := s.reservationFor(w, r)
	if !ok {
		return nil, Operator{}, nil, false
	}
	op, _ := OperatorFrom(r.Context())
	if !op.CanChange(res.QueueID) {
		s.plain(w, r, http.StatusForbidden, "forbidden")
		return nil, op, nil, false
	}
	var ifMatch []int
	if v, err := strconv.Atoi(r.PostFormValue("version")); err == nil {
		ifMatch = []int{v}
	}
	return res, op, ifMatch, true
}

// changeFailed renders the reservation's page with err's message.
func (s *Server) changeFailed(w http.ResponseWriter, r *http.Request, id string, err error) {
	var key string
	status := http.StatusConflict
	switch reservation.ErrorCode(err) {
	case reservation.ECONFLICT:
		key = "res.error_full"
	case reservation.EPRECONDITION:
		key = "res.error_version"
		status = http.StatusPreconditionFailed
	case reservation.EINVALID:
		key, status = "res.error_slot", http.StatusBadRequest
	case reservation.ENOTFOUND:
		s.plain(w, r, http.StatusNotFound, "notfound")
		return
	default:
		s.failed(w, r, "change reservation", err)
		return
	}
	op, _ := OperatorFrom(r.Context())
	res, ferr := s.booking.Find(r.Context(), caller(w, op), id)
	if ferr != nil {
		s.failed(w, r, "find reservation", ferr)
		return
	}
	p, perr := s.reservationPage(r, res)
	if perr != nil {
		s.failed(w, r, "reservation page", perr)
		return
	}
	p.Error = p.T(key)
	s.render(w, r, status, "reservation", p)
}

func (s *Server) handleReschedulePost(w http.ResponseWriter, r *http.Request) {
	res, op, ifMatch, ok := s.changeable(w, r)
	if !ok {
		return
	}
	var sl reservation.Slot
	a, b, _ := strings.Cut(r.PostFormValue("slot"), "/")
	start, err1 := time.Parse(time.RFC3339, a)
	end, err2 := time.Parse(time.RFC3339, b)
	if err1 != nil || err2 != nil {
		s.changeFailed(w, r, res.ID, reservation.FieldError("slot", "is not a slot"))
		return
	}
	sl.Start, sl.End = start, end
	if _, err := s.booking.Update(r.Context(), caller(w, op), res.ID, ifMatch, &reservation.UpdateRequest{Candidates: []reservation.Slot{sl}}); err != nil {
		s.changeFailed(w, r, res.ID, err)
		return
	}
	http.Redirect(w, r, "/console/reservations/"+url.PathEscape(res.ID)+"?done=rescheduled", http.StatusSeeOther)
}

type cancelPage struct {
	page
	R    *reservation.Reservation
	Slot string
}

func (s *Server) handleCancelConfirm(w http.ResponseWriter, r *http.Request) {
	res, ok := s.reservationFor(w, r)
	if !ok {
		return
	}
	op, _ := OperatorFrom(r.Context())
	if !op.CanChange(res.QueueID) {
		s.plain(w, r, http.StatusForbidden, "forbidden")
		return
	}
	p := cancelPage{page: s.page(r, "res.cancel_title"), R: res, Slot: slotText(res.Slot, s.zoneOf(res.QueueID))}
	p.Styles = []string{"reservations.css"}
	s.render(w, r, http.StatusOK, "reservation_cancel", &p)
}

func (s *Server) handleCancelPost(w http.ResponseWriter, r *http.Request) {
	res, op, ifMatch, ok := s.changeable(w, r)
	if !ok {
		return
	}
	if _, err := s.booking.Cancel(r.Context(), caller(w, op), res.ID, ifMatch); err != nil {
		if errors.Is(err, context.Canceled) {
			return
		}
		s.changeFailed(w, r, res.ID, err)
		return
	}
	http.Redirect(w, r, "/console/reservations/"+url.PathEscape(res.ID)+"?done=canceled", http.StatusSeeOther)
}
