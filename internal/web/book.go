package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"

	"github.com/slotline/slotline/internal/booking"
	"github.com/slotline/slotline/internal/reservation"
	"github.com/slotline/slotline/internal/schedule"
)

// bookPage is /book/{queue_id}.
type bookPage struct {
	base
	Queue  string
	Action string
	CSRF   string
	Picker picker
	// TZ is the zone the form's times are in (the hidden tz field).
	TZ        string
	LangParam string
	Phone     string
	Name      string
	Reason    string
	SMS       bool
	PhoneHint string
	// Error is the refusal: FieldPhone, FieldName, FieldReason, "" for the
	// slot group (the picker carries it) or FieldForm for the form.
	Error      string
	ErrorField string
}

// The fields a refusal is tied to.
const (
	fieldPhone  = "phone"
	fieldName   = "name"
	fieldReason = "reason"
	fieldSlot   = "slot"
	fieldForm   = "form"
)

// phoneHint is the expected format of a number of region, from its example
// number.
func phoneHint(b *base, region string) string {
	ex := phonenumbers.GetExampleNumberForType(region, phonenumbers.MOBILE)
	if ex == nil {
		ex = phonenumbers.GetExampleNumber(region)
	}
	if ex == nil {
		return b.T("book.phone_hint_intl", "example", "+1 201 555 0123")
	}
	return b.T("book.phone_hint", "example", phonenumbers.Format(ex, phonenumbers.NATIONAL),
		"intl", phonenumbers.Format(ex, phonenumbers.INTERNATIONAL))
}

// parsePhone reads a number as a customer types it, in region's national
// form or international, as E.164.
func parsePhone(in, region string) (string, bool) {
	if in == "" || len(in) > 40 {
		return "", false
	}
	num, err := phonenumbers.Parse(in, region)
	if err != nil || !phonenumbers.IsValidNumber(num) {
		return "", false
	}
	e := phonenumbers.Format(num, phonenumbers.E164)
	return e, reservation.ValidNumber(e)
}

// validText checks a free-text field the way the API does.
func validText(s string, max int) bool {
	if !reservation.ValidText(s) || utf8.RuneCountInString(s) > max {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// bookQueue returns the queue of the request's path, or answers 404.
func (s *Server) bookQueue(w http.ResponseWriter, r *http.Request) (*booking.Queue, locale, bool) {
	q, err := s.booking.Queue(r.PathValue("queue_id"))
	if err != nil {
		s.plain(w, r, http.StatusNotFound, chooseLocale(r, ""), "notfound")
		return nil, locale{}, false
	}
	return q, chooseLocale(r, q.Locale), true
}

// newBookPage fills the page for the request: its language, zone, day and
// the values already entered.
func (s *Server) newBookPage(r *http.Request, q *booking.Queue, l locale) (*bookPage, error) {
	p := &bookPage{base: s.base(r, l, "book.title", "queue", q.Name), Queue: q.Name, Action: "/book/" + q.ID, SMS: true}
	p.CSRF = s.issue(p.Action)
	loc := customerZone(r, l, q.Calendar.Location)
	p.TZ = loc.String()
	if _, ok := matchLocale(r.FormValue("lang")); ok {
		p.LangParam = l.Lang
	}
	p.PhoneHint = phoneHint(&p.base, l.Region)
	p.Picker = picker{Action: p.Action, Lang: p.LangParam, Zone: makeZoneView(loc, q.Calendar.Location, l.Region)}
	date, _ := schedule.ParseDate(r.FormValue("date"))
	if r.Method == http.MethodPost {
		p.Phone, p.Name, p.Reason = formValue(r, "phone"), formValue(r, "name"), formValue(r, "reason")
		p.SMS = r.PostFormValue("sms") != ""
		p.Picker.Selected = r.PostFormValue("slot")
	}
	err := s.fillDay(r.Context(), &p.Picker, q, loc, l, date, func(ctx context.Context, from, to time.Time) ([]booking.Slot, error) {
		return s.booking.Availability(ctx, q.ID, from, to, 0)
	})
	return p, err
}

func (s *Server) handleBook(w http.ResponseWriter, r *http.Request) {
	q, l, ok := s.bookQueue(w, r)
	if !ok {
		return
	}
	s.secure(w, q.ID)
	p, err := s.newBookPage(r, q, l)
	if err != nil {
		s.fail(w, r, l, err)
		return
	}
	s.render(w, r, http.StatusOK, "book", p)
}

// fail answers an error no page explains: 503, logged once.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, l locale, err error) {
	s.logger.ErrorContext(r.Context(), "page", "err", err, "request_id", requestID(w))
	s.plain(w, r, http.StatusServiceUnavailable, l, "unavailable")
}

// refuse re-renders the form with the refusal tied to its field.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, p *bookPage, status int, field, msg string) {
	p.Error, p.ErrorField = msg, field
	if field == fieldSlot {
		p.Picker.Error, p.Picker.Autofocus = msg, true
	}
	s.render(w, r, status, "book", p)
}

func (s *Server) handleBookPost(w http.ResponseWriter, r *http.Request) {
	q, l, ok := s.bookQueue(w, r)
	if !ok {
		return
	}
	s.secure(w, q.ID)
	action := "/book/" + q.ID
	if !s.sameOrigin(r) || !limitForm(w, r) {
		s.plain(w, r, http.StatusForbidden, l, "forbidden")
		return
	}
	tk, terr := s.check(action, r.PostFormValue("csrf"))
	if terr != nil && !errors.Is(terr, errTicketExpired) {
		s.plain(w, r, http.StatusForbidden, l, "forbidden")
		return
	}
	p, err := s.newBookPage(r, q, l)
	if err != nil {
		s.fail(w, r, l, err)
		return
	}
	if terr != nil {
		s.refuse(w, r, p, http.StatusBadRequest, fieldForm, p.T("error.expired"))
		return
	}
	noJS, status, key := s.guard(r, tk)
	if status != 0 {
		s.refuse(w, r, p, status, fieldForm, p.T(key))
		return
	}
	slot, ok := parseSlot(q, r.PostFormValue("slot"))
	if !ok {
		s.refuse(w, r, p, http.StatusUnprocessableEntity, fieldSlot, p.T("error.slot_missing"))
		return
	}
	number, ok := parsePhone(p.Phone, l.Region)
	if !ok {
		s.refuse(w, r, p, http.StatusUnprocessableEntity, fieldPhone, p.T("error.phone_invalid", "example", p.PhoneHint))
		return
	}
	if !validText(p.Name, reservation.MaxNameLength) {
		s.refuse(w, r, p, http.StatusUnprocessableEntity, fieldName, p.T("error.name_invalid", "max", strconv.Itoa(reservation.MaxNameLength)))
		return
	}
	if !validText(p.Reason, reservation.MaxReasonLength) {
		s.refuse(w, r, p, http.StatusUnprocessableEntity, fieldReason, p.T("error.reason_invalid", "max", strconv.Itoa(reservation.MaxReasonLength)))
		return
	}
	req := &reservation.CreateRequest{CallbackNumber: number, CustomerName: p.Name, Candidates: []reservation.Slot{slot},
		Channel: reservation.ChannelPreferences{Primary: "voice", AllowSMS: p.SMS}, QueueID: q.ID, Reason: p.Reason, Locale: l.Tag}
	if p.SMS {
		req.Channel.Fallback = "sms"
	}
	// The no-JavaScript limit is taken last, so that a customer who
	// mistyped a field does not spend it.
	if noJS {
		if _, ref := s.noJS.Begin("", r.RemoteAddr); ref != nil {
			s.refuse(w, r, p, http.StatusTooManyRequests, fieldForm, p.T("error.throttled_address"))
			return
		}
	}
	c := booking.Caller{ClientID: ClientID, Origin: reservation.OriginPage, RequestID: requestID(w), IdempotencyKey: "page:" + tk.Nonce}
	res, err := s.booking.Create(r.Context(), c, req)
	if err != nil {
		s.refuseCreate(w, r, p, err)
		return
	}
	if res.DuplicateOf != "" {
		// The number's existing reservation is not shown: whoever typed
		// the number need not be the customer who booked it.
		s.refuse(w, r, p, http.StatusConflict, fieldPhone, p.T("error.duplicate"))
		return
	}
	token := s.tokenOf(r, res)
	if token == "" {
		s.render(w, r, http.StatusOK, "booked", s.bookedPage(r, l, q, res.Reservation, "", p.TZ))
		return
	}
	v := url.Values{}
	if p.LangParam != "" {
		v.Set("lang", p.LangParam)
	}
	v.Set("tz", p.TZ)
	http.Redirect(w, r, "/book/"+q.ID+"/booked/"+token+"?"+v.Encode(), http.StatusSeeOther)
}

// tokenOf returns the self-service token of a created (or replayed)
// reservation, "" without self-service.
func (s *Server) tokenOf(r *http.Request, res *booking.Result) string {
	if s.self == nil {
		return ""
	}
	rv := res.Reservation
	if rv.SelfNonce == "" {
		// A replay: the stored answer holds no nonce; the row does.
		if cur, err := s.booking.Find(r.Context(), booking.Caller{ClientID: ClientID}, rv.ID); err == nil {
			rv = cur
		}
	}
	return s.self.Links().Token(*rv)
}

// guard is the bot guard: with a verifier, a form's proof of work must
// verify; a form without one (JavaScript off) must be MinFormAge old, and
// noJS says it must then also be within its address's no-JavaScript limit
// (taken by the caller). It returns the status and message key of a
// refusal, 0 to go ahead.
func (s *Server) guard(r *http.Request, tk ticket) (noJS bool, status int, key string) {
	if s.verifyProof == nil {
		return false, 0, ""
	}
	if proof := r.PostFormValue("proof"); proof != "" {
		if err := s.verifyProof(r.Context(), proof); err != nil {
			return false, http.StatusBadRequest, "error.proof"
		}
		return false, 0, ""
	}
	if s.now().Sub(tk.Issued) < s.minFormAge {
		return true, http.StatusBadRequest, "error.too_fast"
	}
	return true, 0, ""
}

// refuseCreate explains a refused create in words, tied to its field; a
// full or unbookable slot offers the nearest free slots instead of the
// day's.
func (s *Server) refuseCreate(w http.ResponseWriter, r *http.Request, p *bookPage, err error) {
	var e *reservation.Error
	if !errors.As(err, &e) || e.Code == reservation.EINTERNAL || e.Code == reservation.EUNAVAILABLE {
		s.logger.ErrorContext(r.Context(), "book", "err", err, "request_id", requestID(w))
		s.refuse(w, r, p, http.StatusServiceUnavailable, fieldForm, p.T("error.unavailable"))
		return
	}
	loc := loadZone(p.TZ)
	switch e.Code {
	case reservation.EDUPLICATE:
		s.refuse(w, r, p, http.StatusConflict, fieldPhone, p.T("error.duplicate"))
	case reservation.ETHROTTLED:
		if secs, ok := e.Extra["retry_after"].(int); ok {
			w.Header().Set("Retry-After", strconv.Itoa(secs))
		}
		s.refuse(w, r, p, http.StatusTooManyRequests, fieldPhone, p.T("error.throttled"))
	case reservation.ENOTALLOWED:
		s.refuse(w, r, p, http.StatusUnprocessableEntity, fieldPhone, p.T("error.not_allowed"))
	case reservation.EINVALID, reservation.ECONFLICT:
		if _, ok := e.Fields["callback_number"]; ok {
			s.refuse(w, r, p, http.StatusUnprocessableEntity, fieldPhone, p.T("error.phone_invalid", "example", p.PhoneHint))
			return
		}
		key, status, ok := slotRefusal(e)
		if !ok {
			s.refuse(w, r, p, http.StatusConflict, fieldForm, p.T("error.resubmitted"))
			return
		}
		free, _ := e.Extra["nearest_free_slots"].([]booking.FreeSlot)
		msg := p.T(key)
		if groups := freeGroups(free, loc, p.Lang); len(groups) > 0 {
			p.Picker.Groups, p.Picker.Closed = groups, ""
			msg += " " + p.T("error.nearest")
		}
		s.refuse(w, r, p, status, fieldSlot, msg)
	default:
		s.refuse(w, r, p, http.StatusUnprocessableEntity, fieldForm, p.T("error.unavailable"))
	}
}

// slotRefusal is the message key and status of a refusal of the slot
// itself (its candidate's reason), ok false for another refusal.
func slotRefusal(e *reservation.Error) (string, int, bool) {
	cands, _ := e.Extra["candidates"].([]booking.CandidateResult)
	if len(cands) == 0 {
		return "", 0, false
	}
	switch cands[0].Reason {
	case schedule.ReasonFull:
		return "error.slot_full", http.StatusConflict, true
	case schedule.ReasonHoliday, schedule.ReasonClosed:
		return "error.slot_closed", http.StatusUnprocessableEntity, true
	case schedule.ReasonHorizon:
		return "error.slot_horizon", http.StatusUnprocessableEntity, true
	}
	return "error.slot_past", http.StatusUnprocessableEntity, true
}

// bookedPage is /book/{queue_id}/booked/{token}.
type bookedPage struct {
	base
	Queue  string
	When   string
	Zone   string
	Manage string
}

func (s *Server) bookedPage(r *http.Request, l locale, q *booking.Queue, res *reservation.Reservation, token, tz string) *bookedPage {
	loc := loadZone(tz)
	if loc == nil {
		loc = guessZone(l.Region, q.Calendar.Location)
	}
	p := &bookedPage{base: s.base(r, l, "booked.title", "queue", q.Name), Queue: q.Name,
		When: formatWhen(res.Slot.Start.In(loc), res.Slot.End.In(loc), l.Lang), Zone: zoneLabel(loc.String())}
	if token != "" {
		// The manage page shows the time in the zone the customer booked
		// in, and in the language chosen here.
		v := url.Values{"tz": {loc.String()}}
		if _, ok := matchLocale(r.URL.Query().Get("lang")); ok {
			v.Set("lang", l.Lang)
		}
		p.Manage = "/manage/" + token + "?" + v.Encode()
	}
	return p
}

func (s *Server) handleBooked(w http.ResponseWriter, r *http.Request) {
	q, err := s.booking.Queue(r.PathValue("queue_id"))
	l := chooseLocale(r, "")
	if err != nil || s.self == nil {
		s.plain(w, r, http.StatusNotFound, l, "link")
		return
	}
	token := r.PathValue("token")
	res, ok := s.openLink(w, r, token)
	if !ok {
		return
	}
	if res.QueueID != q.ID {
		s.plain(w, r, http.StatusNotFound, l, "link")
		return
	}
	l = chooseLocale(r, strings.TrimSpace(res.Locale))
	s.secure(w, q.ID)
	s.render(w, r, http.StatusOK, "booked", s.bookedPage(r, l, q, res, token, r.URL.Query().Get("tz")))
}
