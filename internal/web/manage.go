package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/slotline/slotline/internal/booking"
	"github.com/slotline/slotline/internal/notify"
	"github.com/slotline/slotline/internal/reservation"
	"github.com/slotline/slotline/internal/schedule"
	"github.com/slotline/slotline/internal/selfservice"
)

// openLink applies the self-service limits to token and opens it; an
// unknown, tampered or expired token gets the one plain page (404 or 410),
// whose words do not tell whether a reservation exists.
func (s *Server) openLink(w http.ResponseWriter, r *http.Request, token string) (*reservation.Reservation, bool) {
	l := chooseLocale(r, "")
	if s.self == nil {
		s.plain(w, r, http.StatusNotFound, l, "link")
		return nil, false
	}
	if wait := s.self.Allow(token, r.RemoteAddr); wait > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(max(int((wait+time.Second-1)/time.Second), 1)))
		s.plain(w, r, http.StatusTooManyRequests, l, "busy")
		return nil, false
	}
	res, err := s.self.Open(r.Context(), token)
	switch {
	case errors.Is(err, selfservice.ErrExpired):
		s.plain(w, r, http.StatusGone, l, "link")
		return nil, false
	case err != nil && reservation.ErrorCode(err) == reservation.ENOTFOUND:
		s.plain(w, r, http.StatusNotFound, l, "link")
		return nil, false
	case err != nil:
		s.fail(w, r, l, err)
		return nil, false
	}
	return res, true
}

// managePage is /manage/{token} and its states: the reservation, the
// cancel confirmation, the reschedule form (Picker).
type managePage struct {
	base
	Token    string
	Path     string // /manage/{token}
	LangQ    string // "?lang=xx" when chosen by ?lang=, else ""
	LangTag  string // the tag it was chosen by ("de-AT")
	Back     string // the manage page, in this language and zone
	CSRF     string
	Queue    string
	When     string
	Zone     string
	TZ       string
	Zones    zoneView // the time zone select
	Number   string
	Status   string
	Outcome  string
	SMSOff   bool
	Done     string // the role=status confirmation of the last action
	Notice   string // why a change is not possible
	Error    string // a refused action (role=alert)
	Resched  bool
	Cancel   bool
	Confirm  bool
	Picker   *picker
	Reserved *reservation.Reservation
}

// newManagePage fills the page for a reservation.
func (s *Server) newManagePage(w http.ResponseWriter, r *http.Request, res *reservation.Reservation, token string) *managePage {
	q, qerr := s.booking.Queue(res.QueueID)
	fallback := res.Locale
	if fallback == "" && qerr == nil {
		fallback = q.Locale
	}
	l := chooseLocale(r, fallback)
	v := s.self.View(res)
	s.secure(w, res.QueueID)
	p := &managePage{base: s.base(r, l, "manage.title", "queue", v.QueueName), Token: token, Path: "/manage/" + token,
		Queue: v.QueueName, Number: v.CallbackNumber, SMSOff: v.SMSOptOut}
	p.LangTag = l.Tag
	if _, ok := matchLocale(langParam(r)); ok {
		p.LangQ = "?lang=" + l.Tag
	}
	loc := loadZone(r.FormValue("tz"))
	if loc == nil {
		loc = loadZone(v.CustomerTimeZone)
	}
	if loc == nil {
		loc = time.UTC
	}
	p.TZ = loc.String()
	p.When = formatWhen(res.Slot.Start.In(loc), res.Slot.End.In(loc), l.Lang)
	p.Zone = zoneLabel(loc.String())
	queueLoc := loc
	if qerr == nil {
		queueLoc = q.Calendar.Location
	}
	p.Zones = makeZoneView(loc, queueLoc, l.Region)
	back := url.Values{"tz": {p.TZ}}
	if p.LangQ != "" {
		back.Set("lang", l.Lang)
	}
	p.Back = p.Path + "?" + back.Encode()
	p.Status = p.T("status." + string(v.Status))
	if res.Outcome != "" {
		p.Outcome = p.T("outcome." + string(res.Outcome))
	}
	p.Resched, p.Cancel = v.MayReschedule, v.MayCancel
	switch {
	case v.Status != reservation.StatusScheduled:
		p.Notice = p.T("manage.final")
	case !v.MayCancel:
		dl, _ := time.Parse(time.RFC3339, v.ChangeCutoff)
		p.Notice = p.T("manage.cutoff", "time", formatWhenOne(dl.In(loc), l.Lang))
	case !v.MayReschedule:
		p.Notice = p.T("manage.no_reschedules")
	}
	return p
}

// formatWhenOne writes one instant with its date.
func formatWhenOne(t time.Time, lang string) string {
	return FormatDate(t, lang) + ", " + notify.ShortTime(t, baseOf(lang))
}

func (s *Server) handleManage(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	res, ok := s.openLink(w, r, token)
	if !ok {
		return
	}
	p := s.newManagePage(w, r, res, token)
	switch r.URL.Query().Get("done") {
	case "rescheduled":
		p.Done = p.T("manage.done_rescheduled", "time", p.When)
	case "canceled":
		p.Done = p.T("manage.done_canceled")
	case "opted_out":
		p.Done = p.T("manage.done_opted_out")
	}
	p.CSRF = s.issue(p.Path + "/opt-out")
	s.render(w, r, http.StatusOK, "manage", p)
}

// back redirects to the manage page with a confirmation.
func (s *Server) back(w http.ResponseWriter, r *http.Request, p *managePage, done string) {
	v := url.Values{"done": {done}, "tz": {p.TZ}}
	if p.LangQ != "" {
		v.Set("lang", p.LangTag)
	}
	http.Redirect(w, r, p.Path+"?"+v.Encode(), http.StatusSeeOther)
}

// post checks an action's origin and ticket; it answers 403 itself.
func (s *Server) post(w http.ResponseWriter, r *http.Request, action string) bool {
	if !s.sameOrigin(r) || !limitForm(w, r) {
		s.secure(w, "")
		s.plain(w, r, http.StatusForbidden, chooseLocale(r, ""), "forbidden")
		return false
	}
	if _, err := s.check(action, r.PostFormValue("csrf")); err != nil {
		s.secure(w, "")
		s.plain(w, r, http.StatusForbidden, chooseLocale(r, ""), "forbidden")
		return false
	}
	return true
}

func (s *Server) handleOptOut(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	path := "/manage/" + token
	if !s.post(w, r, path+"/opt-out") {
		return
	}
	res, ok := s.openLink(w, r, token)
	if !ok {
		return
	}
	p := s.newManagePage(w, r, res, token)
	if _, err := s.self.OptOut(r.Context(), token, requestID(w)); err != nil {
		s.refuseManage(w, r, p, err)
		return
	}
	s.back(w, r, p, "opted_out")
}

func (s *Server) handleCancel(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	res, ok := s.openLink(w, r, token)
	if !ok {
		return
	}
	p := s.newManagePage(w, r, res, token)
	if !p.Cancel {
		s.render(w, r, http.StatusOK, "manage", p)
		return
	}
	p.Title = p.T("cancel.title")
	p.CSRF = s.issue(p.Path + "/cancel")
	s.render(w, r, http.StatusOK, "cancel", p)
}

func (s *Server) handleCancelPost(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	if !s.post(w, r, "/manage/"+token+"/cancel") {
		return
	}
	res, ok := s.openLink(w, r, token)
	if !ok {
		return
	}
	p := s.newManagePage(w, r, res, token)
	if _, err := s.self.Cancel(r.Context(), token, requestID(w)); err != nil {
		s.refuseManage(w, r, p, err)
		return
	}
	s.back(w, r, p, "canceled")
}

// reschedulePicker fills the reschedule form's day.
func (s *Server) reschedulePicker(r *http.Request, p *managePage, res *reservation.Reservation) error {
	q, err := s.booking.Queue(res.QueueID)
	if err != nil {
		return err
	}
	l := chooseLocale(r, res.Locale)
	loc := loadZone(p.TZ)
	pk := &picker{Action: p.Path + "/reschedule", Lang: "", Zone: makeZoneView(loc, q.Calendar.Location, l.Region)}
	if p.LangQ != "" {
		pk.Lang = p.LangTag
	}
	if r.Method == http.MethodPost {
		pk.Selected = r.PostFormValue("slot")
	}
	date, _ := schedule.ParseDate(r.FormValue("date"))
	err = s.fillDay(r.Context(), pk, q, loc, l, date, func(ctx context.Context, from, to time.Time) ([]booking.Slot, error) {
		return s.self.Availability(ctx, res, from, to)
	})
	p.Picker = pk
	p.Title = p.T("reschedule.title")
	p.CSRF = s.issue(p.Path + "/reschedule")
	return err
}

func (s *Server) handleReschedule(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	res, ok := s.openLink(w, r, token)
	if !ok {
		return
	}
	p := s.newManagePage(w, r, res, token)
	if !p.Resched {
		s.render(w, r, http.StatusOK, "manage", p)
		return
	}
	if err := s.reschedulePicker(r, p, res); err != nil {
		s.fail(w, r, chooseLocale(r, res.Locale), err)
		return
	}
	s.render(w, r, http.StatusOK, "reschedule", p)
}

func (s *Server) handleReschedulePost(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	if !s.post(w, r, "/manage/"+token+"/reschedule") {
		return
	}
	res, ok := s.openLink(w, r, token)
	if !ok {
		return
	}
	p := s.newManagePage(w, r, res, token)
	q, err := s.booking.Queue(res.QueueID)
	if err != nil {
		s.refuseManage(w, r, p, reservation.Errorf(reservation.ECHANGENOTALLOWED, "queue gone"))
		return
	}
	if err := s.reschedulePicker(r, p, res); err != nil {
		s.fail(w, r, chooseLocale(r, res.Locale), err)
		return
	}
	slot, ok := parseSlot(q, r.PostFormValue("slot"))
	if !ok {
		p.Picker.Error, p.Picker.Autofocus = p.T("error.slot_missing"), true
		s.render(w, r, http.StatusUnprocessableEntity, "reschedule", p)
		return
	}
	if _, err := s.self.Reschedule(r.Context(), token, []reservation.Slot{slot}, requestID(w)); err != nil {
		var e *reservation.Error
		if errors.As(err, &e) && (e.Code == reservation.EINVALID || e.Code == reservation.ECONFLICT) {
			if key, status, ok := slotRefusal(e); ok {
				free, _ := e.Extra["nearest_free_slots"].([]booking.FreeSlot)
				msg := p.T(key)
				if groups := freeGroups(free, loadZone(p.TZ), p.Lang); len(groups) > 0 {
					p.Picker.Groups, p.Picker.Closed = groups, ""
					msg += " " + p.T("error.nearest")
				}
				p.Picker.Error, p.Picker.Autofocus = msg, true
				s.render(w, r, status, "reschedule", p)
				return
			}
		}
		s.refuseManage(w, r, p, err)
		return
	}
	s.back(w, r, p, "rescheduled")
}

// refuseManage shows the manage page with a refused action explained.
func (s *Server) refuseManage(w http.ResponseWriter, r *http.Request, p *managePage, err error) {
	var e *reservation.Error
	status := http.StatusConflict
	switch {
	case errors.As(err, &e) && e.Code == reservation.ECHANGENOTALLOWED:
		switch e.Extra["reason"] {
		case "max_reschedules":
			p.Error = p.T("manage.no_reschedules")
		case "cutoff":
			p.Error = p.T("error.cutoff")
		default:
			p.Error = p.T("error.change_not_allowed")
		}
	case errors.As(err, &e) && (e.Code == reservation.ENOTFOUND || e.Code == reservation.EGONE):
		s.plain(w, r, http.StatusNotFound, chooseLocale(r, ""), "link")
		return
	case errors.As(err, &e) && e.Code == reservation.ECONFLICT:
		p.Error = p.T("error.change_conflict")
	default:
		s.logger.ErrorContext(r.Context(), "manage", "err", err, "request_id", requestID(w))
		p.Error, status = p.T("error.unavailable"), http.StatusServiceUnavailable
	}
	p.Picker = nil
	p.Title = p.T("manage.title", "queue", p.Queue)
	p.CSRF = s.issue(p.Path + "/opt-out")
	s.render(w, r, status, "manage", p)
}
