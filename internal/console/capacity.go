package console

import (
	"cmp"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/slotline/slotline/internal/booking"
	"github.com/slotline/slotline/internal/reservation"
	"github.com/slotline/slotline/internal/schedule"
	"github.com/slotline/slotline/internal/storage"
)

// CapacityStore is what the Capacity page keeps beyond the booking
// service: the operators' "Keep" decisions on reservations over capacity.
type CapacityStore interface {
	KeepOverCapacity(ctx context.Context, keep []storage.Kept, w reservation.Write) error
	FindKept(ctx context.Context, queueID string, from time.Time) ([]storage.Kept, error)
}

// The heatmap's window: DefaultHeatmapDays from ?from= (default today in
// the queue's zone), at most MaxHeatmapDays (?days=).
const (
	DefaultHeatmapDays = 7
	MaxHeatmapDays     = 31
)

// capacityRoutes registers the Capacity page (issue 16, "Capacity" and
// "Capacity changes at runtime"):
//
//	GET  /console/queues/{id}/capacity            the heatmap, the overrides, the over-capacity list
//	GET  /console/queues/{id}/capacity.json       the heatmap's cells, for capacity.js
//	POST /console/queues/{id}/capacity/overrides  set the capacity of a date and time range (supervisor)
//	POST /console/queues/{id}/capacity/overrides/{oid}/delete   remove an override (supervisor)
//	POST /console/queues/{id}/capacity/over-capacity            "Move to nearest free slot" or "Keep" (supervisor)
func (s *Server) capacityRoutes() {
	m := s.mux
	m.Handle("GET /console/queues/{id}/capacity", s.Require(Viewer)(http.HandlerFunc(s.handleCapacity)))
	m.Handle("GET /console/queues/{id}/capacity.json", s.Require(Viewer)(http.HandlerFunc(s.handleCapacityJSON)))
	m.Handle("POST /console/queues/{id}/capacity/overrides", s.Require(Supervisor)(http.HandlerFunc(s.handleOverridePut)))
	m.Handle("POST /console/queues/{id}/capacity/overrides/{oid}/delete", s.Require(Supervisor)(http.HandlerFunc(s.handleOverrideDelete)))
	m.Handle("POST /console/queues/{id}/capacity/over-capacity", s.Require(Supervisor)(http.HandlerFunc(s.handleOverCapacity)))
}

// heatCell is one bucket of the heatmap.
type heatCell struct {
	// ID is the cell's element id ("b" and the bucket's Unix second), ""
	// for a time that does not exist that day (a DST gap).
	ID string `json:"id"`
	// Label is the cell's accessible name: "Tue 2 Dec, 09:00–09:15: 3 of
	// 10 booked", "…: closed".
	Label string `json:"label"`
	// Text is what the cell shows: "3/10", "–" when closed.
	Text string `json:"text"`
	// Class is its colour step: l0 (empty), l1 (under half), l2 (under
	// 80 %), l3 (under full), full, over, closed.
	Class string `json:"class"`
}

type heatRow struct {
	Day   string
	Cells []heatCell
}

// heatmap is the days (rows) by the queue's buckets (columns) of a window.
type heatmap struct {
	From, Prev, Next string // dates, YYYY-MM-DD
	Days             int
	Times            []string
	Rows             []heatRow
}

// capacityQueue returns the queue of the request's {id} when the operator
// may see it; otherwise it writes the 404 page.
func (s *Server) capacityQueue(w http.ResponseWriter, r *http.Request) (*booking.Queue, Operator, bool) {
	op, _ := OperatorFrom(r.Context())
	id := r.PathValue("id")
	if s.booking == nil || !s.queueExists(id) || !op.CanSee(id) {
		s.plain(w, r, http.StatusNotFound, "notfound")
		return nil, op, false
	}
	q, err := s.booking.Queue(id)
	if err != nil {
		s.plain(w, r, http.StatusNotFound, "notfound")
		return nil, op, false
	}
	return q, op, true
}

// window reads ?from= (a date in the queue's zone; default today) and
// ?days= (1 to MaxHeatmapDays; default DefaultHeatmapDays).
func (s *Server) window(r *http.Request, q *booking.Queue) (schedule.Date, int) {
	loc := q.Calendar.Location
	from := schedule.DateOf(s.now().In(loc))
	if d, err := schedule.ParseDate(r.URL.Query().Get("from")); err == nil {
		from = d
	}
	days := DefaultHeatmapDays
	if n, err := strconv.Atoi(r.URL.Query().Get("days")); err == nil && n >= 1 && n <= MaxHeatmapDays {
		days = n
	}
	return from, days
}

func midnight(d schedule.Date, loc *time.Location) time.Time {
	return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, loc)
}

func dateString(d schedule.Date) string {
	return midnight(d, time.UTC).Format(time.DateOnly)
}

// buildHeatmap reads the queue's availability over the window (overrides
// applied) and lays it out in lang.
func (s *Server) buildHeatmap(ctx context.Context, q *booking.Queue, from schedule.Date, days int, lang string) (*heatmap, error) {
	loc := q.Calendar.Location
	start, end := midnight(from, loc), midnight(from.AddDays(days), loc)
	slots, err := s.booking.Availability(ctx, q.ID, start, end, 0)
	if err != nil {
		return nil, err
	}
	hm := &heatmap{From: dateString(from), Prev: dateString(from.AddDays(-days)), Next: dateString(from.AddDays(days)), Days: days}
	// The columns: every time of day a bucket starts at, by minute of day.
	type col struct {
		minute int
		open   bool
	}
	cols := map[string]*col{}
	type placed struct {
		day int
		key string
		c   heatCell
	}
	cells := make([]placed, 0, len(slots))
	for i := range slots {
		sl := &slots[i]
		lt, le := sl.Start.In(loc), sl.End.In(loc)
		day := int(midnight(schedule.DateOf(lt), time.UTC).Sub(midnight(from, time.UTC)).Hours() / 24)
		if day < 0 || day >= days {
			continue
		}
		key := clock(lt, lang)
		open := isOpen(q.Calendar, sl)
		c := cols[key]
		if c == nil {
			c = &col{minute: lt.Hour()*60 + lt.Minute()}
			cols[key] = c
		}
		c.open = c.open || open
		cells = append(cells, placed{day, key, s.cellOf(sl, lt, le, open, lang)})
	}
	keys := make([]string, 0, len(cols))
	for k := range cols {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int { return cols[a].minute - cols[b].minute })
	// Only the times between the first and the last open one (all of them
	// when none is open).
	first, last := slices.IndexFunc(keys, func(k string) bool { return cols[k].open }), -1
	for i := len(keys) - 1; i >= 0 && first >= 0; i-- {
		if cols[keys[i]].open {
			last = i
			break
		}
	}
	if first >= 0 {
		keys = keys[first : last+1]
	}
	index := make(map[string]int, len(keys))
	for i, k := range keys {
		index[k] = i
	}
	hm.Times = keys
	hm.Rows = make([]heatRow, days)
	for d := range days {
		hm.Rows[d] = heatRow{Day: shortDay(midnight(from.AddDays(d), loc), lang), Cells: make([]heatCell, len(keys))}
	}
	for _, p := range cells {
		if i, ok := index[p.key]; ok && hm.Rows[p.day].Cells[i].ID == "" { // a repeated hour (DST) shows its first
			hm.Rows[p.day].Cells[i] = p.c
		}
	}
	return hm, nil
}

// isOpen reports whether the bucket is within opening hours and not on a
// closed date (Availability's reason says so unless the bucket is past,
// too soon or beyond the horizon, which are judged first).
func isOpen(c *schedule.Calendar, sl *booking.Slot) bool {
	switch sl.Reason {
	case schedule.OK, schedule.ReasonFull:
		return true
	case schedule.ReasonClosed, schedule.ReasonHoliday:
		return false
	}
	return c.IsOpen(sl.Start, sl.End) && !c.TouchesClosedDate(sl.Start, sl.End)
}

// cellOf is a bucket's cell: closed outside opening hours or at capacity
// 0, else its use of its capacity.
func (s *Server) cellOf(sl *booking.Slot, lt, le time.Time, open bool, lang string) heatCell {
	when := bucketWhen(lt, le, lang)
	c := heatCell{ID: "b" + strconv.FormatInt(sl.Start.Unix(), 10)}
	used, capacity := strconv.Itoa(sl.Used), strconv.Itoa(sl.Capacity)
	switch {
	case !open || sl.Capacity == 0:
		c.Class, c.Text = "closed", "–"
		c.Label = s.msgs.Text(lang, "capacity.cell_closed", "when", when)
		if sl.Used > 0 {
			c.Class, c.Text = "over", used+"/0"
			c.Label = s.msgs.Text(lang, "capacity.cell_closed_booked", "when", when, "booked", used)
		}
		return c
	case sl.Used > sl.Capacity:
		c.Class = "over"
	case sl.Used == sl.Capacity:
		c.Class = "full"
	case sl.Used == 0:
		c.Class = "l0"
	case sl.Used*2 < sl.Capacity:
		c.Class = "l1"
	case sl.Used*5 < sl.Capacity*4:
		c.Class = "l2"
	default:
		c.Class = "l3"
	}
	c.Text = used + "/" + capacity
	c.Label = s.msgs.Text(lang, "capacity.cell", "when", when, "booked", used, "capacity", capacity)
	return c
}

// overrideRow is one override as the page lists it.
type overrideRow struct {
	ID, When, Capacity, Reason, Actor string
}

// overRow is one reservation over capacity.
type overRow struct {
	ID, Label string
}

// overrideForm is the form setting the capacity of a range, as posted.
type overrideForm struct {
	Date, From, To, Capacity, Reason string
	Closed                           bool
	// Errors are the fields' messages, by field name.
	Errors map[string]string
}

// capacityPage is the Capacity page.
type capacityPage struct {
	page
	Queue     Queue
	Zone      string
	Map       *heatmap
	Queues    []Queue
	CanChange bool
	Overrides []overrideRow
	Over      []overRow
	Form      overrideForm
	// Status says what the last change did (role=status); Error is the
	// form's summary (role=alert).
	Status, Error string
	// JSON is the heatmap's JSON address, for capacity.js.
	JSON string
}

// inputField is one input of the override form, for the template
// capfield.
type inputField struct {
	Name, Type, Label, Value, Error string
}

// Input returns the override form's input name of type typ, labelled by
// the catalog key label, with its value and message.
func (p *capacityPage) Input(name, typ, label, value string) inputField {
	return inputField{Name: name, Type: typ, Label: p.T(label), Value: value, Error: p.Form.Errors[name]}
}

func (s *Server) handleCapacity(w http.ResponseWriter, r *http.Request) {
	q, op, ok := s.capacityQueue(w, r)
	if !ok {
		return
	}
	s.renderCapacity(w, r, q, op, http.StatusOK, overrideForm{})
}

// renderCapacity writes the page with form (its values and errors).
func (s *Server) renderCapacity(w http.ResponseWriter, r *http.Request, q *booking.Queue, op Operator, status int, form overrideForm) {
	ctx := r.Context()
	p := &capacityPage{page: s.page(r, "capacity.title", "queue", cmp.Or(q.Name, q.ID)), Queue: Queue{ID: q.ID, Name: cmp.Or(q.Name, q.ID)},
		Zone: q.Calendar.Location.String(), CanChange: op.CanChange(q.ID), Form: form}
	p.Styles, p.Scripts = []string{"capacity.css"}, []string{"capacity.js"}
	for _, oq := range s.queues {
		if op.CanSee(oq.ID) {
			p.Queues = append(p.Queues, oq)
		}
	}
	from, days := s.window(r, q)
	var err error
	if p.Map, err = s.buildHeatmap(ctx, q, from, days, p.Lang); err != nil {
		s.unavailable(w, r, "capacity heatmap", err)
		return
	}
	p.JSON = "/console/queues/" + url.PathEscape(q.ID) + "/capacity.json?" + url.Values{"from": {p.Map.From}, "days": {strconv.Itoa(days)}, "lang": {p.Lang}}.Encode()
	ovs, err := s.booking.Overrides(ctx, q.ID)
	if err != nil {
		s.unavailable(w, r, "capacity overrides", err)
		return
	}
	loc := q.Calendar.Location
	for _, o := range ovs {
		row := overrideRow{ID: o.ID, When: spanWhen(o.Start.In(loc), o.End.In(loc), p.Lang), Capacity: strconv.Itoa(o.Capacity),
			Reason: o.Reason, Actor: strings.TrimPrefix(o.Actor, "operator:")}
		if o.Capacity == 0 {
			row.Capacity = p.T("capacity.closed")
		}
		p.Overrides = append(p.Overrides, row)
	}
	over, err := s.overCapacity(ctx, q, ovs)
	if err != nil {
		s.unavailable(w, r, "over capacity", err)
		return
	}
	for _, o := range over {
		b := o.Bucket
		p.Over = append(p.Over, overRow{ID: o.Reservation.ID, Label: p.T("capacity.over_item",
			"when", bucketWhen(b.Start.In(loc), b.End.In(loc), p.Lang), "number", reservation.MaskNumber(o.Reservation.CallbackNumber),
			"booked", strconv.Itoa(o.Booked), "capacity", strconv.Itoa(o.Capacity))})
	}
	p.Status = s.doneText(r, &p.page)
	if len(form.Errors) > 0 {
		p.Error = p.T("capacity.form_error")
	}
	s.render(w, r, status, "capacity", p)
}

// unavailable logs err and writes the 503 page.
func (s *Server) unavailable(w http.ResponseWriter, r *http.Request, what string, err error) {
	s.failWith(w, r, http.StatusServiceUnavailable, what, err)
}

// failWith logs err (what failed, with the request's id) and writes the
// unavailable page with status.
func (s *Server) failWith(w http.ResponseWriter, r *http.Request, status int, what string, err error) {
	s.logger.ErrorContext(r.Context(), "console: "+what, "err", err, "request_id", w.Header().Get("X-Request-Id"))
	s.plain(w, r, status, "unavailable")
}

// overCapacity is booking.OverCapacity without the reservations an
// operator kept in their bucket since the last override put on it: an
// override put after the decision (a new change of that bucket's
// capacity) lists them again.
func (s *Server) overCapacity(ctx context.Context, q *booking.Queue, ovs []*reservation.Override) ([]booking.OverCapacity, error) {
	over, err := s.booking.OverCapacity(ctx, q.ID)
	if err != nil || len(over) == 0 || s.capStore == nil {
		return over, err
	}
	kept, err := s.capStore.FindKept(ctx, q.ID, over[0].Bucket.Start)
	if err != nil {
		return nil, err
	}
	type key struct {
		id     string
		bucket int64
	}
	keptAt := make(map[key]time.Time, len(kept))
	for _, k := range kept {
		keptAt[key{k.ReservationID, k.Bucket.UnixMicro()}] = k.KeptAt
	}
	out := over[:0:0]
	for _, o := range over {
		at, ok := keptAt[key{o.Reservation.ID, o.Bucket.Start.UnixMicro()}]
		if ok && !slices.ContainsFunc(ovs, func(ov *reservation.Override) bool {
			return ov.Covers(o.Bucket.Start) && ov.UpdatedAt.After(at)
		}) {
			continue
		}
		out = append(out, o)
	}
	return out, nil
}

// doneText is the status of the change the redirect reports (?done=).
func (s *Server) doneText(r *http.Request, p *page) string {
	q := r.URL.Query()
	n, failed := q.Get("n"), q.Get("failed")
	if _, err := strconv.Atoi(n); err != nil {
		n = "0"
	}
	switch q.Get("done") {
	case "put":
		return p.T("capacity.done_put")
	case "removed":
		return p.T("capacity.done_removed")
	case "moved":
		text := p.T("capacity.done_moved", "n", n)
		if f, err := strconv.Atoi(failed); err == nil && f > 0 {
			text += " " + p.T("capacity.done_move_failed", "n", failed)
		}
		return text
	case "kept":
		return p.T("capacity.done_kept", "n", n)
	case "none":
		return p.T("capacity.done_none")
	}
	return ""
}

// capacityJSON is GET …/capacity.json: the heatmap's cells.
type capacityJSON struct {
	From  string     `json:"from"`
	Days  int        `json:"days"`
	Cells []heatCell `json:"cells"`
}

func (s *Server) handleCapacityJSON(w http.ResponseWriter, r *http.Request) {
	q, _, ok := s.capacityQueue(w, r)
	if !ok {
		return
	}
	from, days := s.window(r, q)
	hm, err := s.buildHeatmap(r.Context(), q, from, days, chooseLang(r))
	if err != nil {
		s.logger.ErrorContext(r.Context(), "console: capacity json", "err", err, "request_id", w.Header().Get("X-Request-Id"))
		http.Error(w, `{"error":"unavailable"}`, http.StatusServiceUnavailable)
		return
	}
	out := capacityJSON{From: hm.From, Days: hm.Days, Cells: []heatCell{}}
	for _, row := range hm.Rows {
		for _, c := range row.Cells {
			if c.ID != "" {
				out.Cells = append(out.Cells, c)
			}
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(&out)
}

// changer returns the queue when the operator may change it: 404 for one
// it does not see, 403 for one it may not change.
func (s *Server) changer(w http.ResponseWriter, r *http.Request) (*booking.Queue, Operator, bool) {
	q, op, ok := s.capacityQueue(w, r)
	if !ok {
		return nil, op, false
	}
	if !op.CanChange(q.ID) {
		s.plain(w, r, http.StatusForbidden, "forbidden")
		return nil, op, false
	}
	return q, op, true
}

// caller is the booking caller of op's changes: the operator, every
// client's reservations, origin operator.
func caller(w http.ResponseWriter, op Operator) booking.Caller {
	return booking.Caller{ClientID: op.AuditActor(), All: true, Origin: reservation.OriginOperator,
		RequestID: w.Header().Get("X-Request-Id")}
}

// backTo redirects (303) to the page of q with the query.
func backTo(w http.ResponseWriter, r *http.Request, q *booking.Queue, query url.Values) {
	query.Set("lang", chooseLang(r))
	http.Redirect(w, r, "/console/queues/"+url.PathEscape(q.ID)+"/capacity?"+query.Encode(), http.StatusSeeOther)
}

// handleOverridePut sets the capacity of a date and time range of the
// queue (booking.PutOverride): date, from and to (HH:MM in the queue's
// zone; to 00:00 or 24:00 is the day's end), capacity or closed, reason.
func (s *Server) handleOverridePut(w http.ResponseWriter, r *http.Request) {
	q, op, ok := s.changer(w, r)
	if !ok {
		return
	}
	lang := chooseLang(r)
	f := overrideForm{Date: strings.TrimSpace(r.PostFormValue("date")), From: strings.TrimSpace(r.PostFormValue("from")),
		To: strings.TrimSpace(r.PostFormValue("to")), Capacity: strings.TrimSpace(r.PostFormValue("capacity")),
		Reason: strings.TrimSpace(r.PostFormValue("reason")), Closed: r.PostFormValue("closed") != "", Errors: map[string]string{}}
	t := func(key string) string { return s.msgs.Text(lang, key) }
	loc := q.Calendar.Location
	date, err := schedule.ParseDate(f.Date)
	if err != nil {
		f.Errors["date"] = t("capacity.err_date")
	}
	fromMin, okFrom := minuteOf(f.From)
	if !okFrom || fromMin >= 24*60 {
		f.Errors["from"] = t("capacity.err_time")
	}
	toMin, okTo := minuteOf(f.To)
	if !okTo {
		f.Errors["to"] = t("capacity.err_time")
	} else if toMin == 0 {
		toMin = 24 * 60
	}
	if okFrom && okTo && toMin <= fromMin {
		f.Errors["to"] = t("capacity.err_to_after")
	}
	capacity := 0
	if !f.Closed {
		n, err := strconv.Atoi(f.Capacity)
		if err != nil || n < 0 || n > 100000 {
			f.Errors["capacity"] = t("capacity.err_capacity")
		}
		capacity = n
	}
	if f.Reason == "" {
		f.Errors["reason"] = t("capacity.err_reason")
	} else if len(f.Reason) > 500 {
		f.Errors["reason"] = t("capacity.err_reason_long")
	}
	var start, end time.Time
	if len(f.Errors) == 0 {
		start = time.Date(date.Year, date.Month, date.Day, fromMin/60, fromMin%60, 0, 0, loc)
		end = time.Date(date.Year, date.Month, date.Day, toMin/60, toMin%60, 0, 0, loc) // 24:00: the next midnight
		if !end.After(s.now()) {
			f.Errors["to"] = t("capacity.err_past")
		}
	}
	if len(f.Errors) > 0 {
		s.renderCapacity(w, r, q, op, http.StatusUnprocessableEntity, f)
		return
	}
	req := &booking.OverrideRequest{Start: start.Format("2006-01-02T15:04"), End: end.Format("2006-01-02T15:04"),
		Capacity: capacity, Reason: f.Reason}
	if _, _, _, err := s.booking.PutOverride(r.Context(), caller(w, op), q.ID, req); err != nil {
		if reservation.ErrorCode(err) != reservation.EINVALID {
			s.unavailable(w, r, "put override", err)
			return
		}
		f.Errors["date"] = reservation.ErrorMessage(err)
		s.renderCapacity(w, r, q, op, http.StatusUnprocessableEntity, f)
		return
	}
	backTo(w, r, q, url.Values{"from": {dateString(date)}, "done": {"put"}})
}

// minuteOf reads "HH:MM" (24:00 allowed) as minutes of the day.
func minuteOf(s string) (int, bool) {
	h, m, ok := strings.Cut(s, ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil || len(m) != 2 || hh < 0 || mm < 0 || mm > 59 || hh > 24 || hh == 24 && mm != 0 {
		return 0, false
	}
	return hh*60 + mm, true
}

// handleOverrideDelete removes one of the queue's overrides
// (booking.DeleteOverride).
func (s *Server) handleOverrideDelete(w http.ResponseWriter, r *http.Request) {
	q, op, ok := s.changer(w, r)
	if !ok {
		return
	}
	if _, err := s.booking.DeleteOverride(r.Context(), caller(w, op), q.ID, r.PathValue("oid"), ""); err != nil {
		if reservation.ErrorCode(err) == reservation.ENOTFOUND {
			s.plain(w, r, http.StatusNotFound, "notfound")
			return
		}
		s.unavailable(w, r, "delete override", err)
		return
	}
	backTo(w, r, q, url.Values{"done": {"removed"}})
}

// handleOverCapacity is the over-capacity list's two actions on the
// selected reservations (id, repeated): action=move moves each to the
// nearest free slot (booking.MoveOverCapacity: the customer is told by
// SMS), action=keep records that they stay (CapacityStore, audited).
func (s *Server) handleOverCapacity(w http.ResponseWriter, r *http.Request) {
	q, op, ok := s.changer(w, r)
	if !ok {
		return
	}
	ids := r.PostForm["id"]
	if len(ids) == 0 {
		backTo(w, r, q, url.Values{"done": {"none"}})
		return
	}
	ctx := r.Context()
	switch r.PostFormValue("action") {
	case "move":
		res, err := s.booking.MoveOverCapacity(ctx, caller(w, op), q.ID, ids)
		if err != nil {
			s.unavailable(w, r, "move over capacity", err)
			return
		}
		moved := 0
		for _, m := range res {
			if m.Moved {
				moved++
			}
		}
		backTo(w, r, q, url.Values{"done": {"moved"}, "n": {strconv.Itoa(moved)}, "failed": {strconv.Itoa(len(res) - moved)}})
	case "keep":
		if s.capStore == nil {
			s.plain(w, r, http.StatusNotFound, "notfound")
			return
		}
		ovs, err := s.booking.Overrides(ctx, q.ID)
		if err != nil {
			s.unavailable(w, r, "capacity overrides", err)
			return
		}
		over, err := s.overCapacity(ctx, q, ovs)
		if err != nil {
			s.unavailable(w, r, "over capacity", err)
			return
		}
		var keep []storage.Kept
		for _, o := range over {
			if slices.Contains(ids, o.Reservation.ID) {
				keep = append(keep, storage.Kept{ReservationID: o.Reservation.ID, QueueID: q.ID, Bucket: o.Bucket.Start})
			}
		}
		c := caller(w, op)
		if err := s.capStore.KeepOverCapacity(ctx, keep, reservation.Write{Actor: c.ClientID, Origin: c.Origin,
			RequestID: c.RequestID, Now: s.now()}); err != nil {
			s.unavailable(w, r, "keep over capacity", err)
			return
		}
		s.logger.InfoContext(ctx, "over-capacity reservations kept", "queue_id", q.ID, "count", len(keep),
			"operator", op.Name, "request_id", c.RequestID)
		backTo(w, r, q, url.Values{"done": {"kept"}, "n": {strconv.Itoa(len(keep))}})
	default:
		backTo(w, r, q, url.Values{"done": {"none"}})
	}
}
