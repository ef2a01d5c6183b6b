package web

import (
	"context"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nyaruka/phonenumbers"

	"github.com/slotline/slotline/internal/booking"
	"github.com/slotline/slotline/internal/reservation"
	"github.com/slotline/slotline/internal/schedule"
)

// commonZones are offered in the time zone select besides the queue's,
// the region's and the chosen one.
var commonZones = []string{
	"UTC", "Europe/London", "Europe/Lisbon", "Europe/Dublin", "Europe/Paris", "Europe/Berlin", "Europe/Vienna",
	"Europe/Zurich", "Europe/Madrid", "Europe/Rome", "Europe/Amsterdam", "Europe/Brussels", "Europe/Warsaw",
	"Europe/Athens", "Europe/Helsinki", "Atlantic/Canary", "America/New_York", "America/Chicago", "America/Denver",
	"America/Phoenix", "America/Los_Angeles", "America/Anchorage", "Pacific/Honolulu", "America/Toronto",
	"America/Vancouver", "America/Mexico_City", "America/Bogota", "America/Lima", "America/Santiago",
	"America/Argentina/Buenos_Aires", "America/Sao_Paulo", "Africa/Casablanca", "Asia/Dubai", "Asia/Kolkata",
	"Asia/Singapore", "Asia/Tokyo", "Australia/Sydney",
}

// mainZones picks a zone for the countries whose calling code spans more
// than one.
var mainZones = map[string]string{"ES": "Europe/Madrid", "GB": "Europe/London", "PT": "Europe/Lisbon"}

var zonePattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+){0,2}$`)

// loadZone loads an IANA zone name from a request, nil when it is none.
func loadZone(name string) *time.Location {
	if name == "" || len(name) > 64 || !zonePattern.MatchString(name) || name == "Local" {
		return nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil
	}
	return loc
}

// regionZones returns the zones of a region's calling code.
func regionZones(region string) []string {
	cc := phonenumbers.GetCountryCodeForRegion(region)
	if cc == 0 {
		return nil
	}
	zones, err := phonenumbers.GetTimezonesForPrefix("+" + strconv.Itoa(cc))
	if err != nil {
		return nil
	}
	return slices.DeleteFunc(zones, func(z string) bool { return z == phonenumbers.UNKNOWN_TIMEZONE })
}

// guessZone is the customer's zone without ?tz=: the region's when it has
// one (or the queue's when it is among the region's), else the queue's.
func guessZone(region string, queue *time.Location) *time.Location {
	zones := regionZones(region)
	if slices.Contains(zones, queue.String()) {
		return queue
	}
	name := mainZones[region]
	if len(zones) == 1 {
		name = zones[0]
	}
	if loc := loadZone(name); loc != nil {
		return loc
	}
	return queue
}

// customerZone is the zone the page shows times in: ?tz= (or the form's
// tz), else the guess.
func customerZone(r *http.Request, l locale, queue *time.Location) *time.Location {
	if loc := loadZone(r.FormValue("tz")); loc != nil {
		return loc
	}
	return guessZone(l.Region, queue)
}

// zoneView is the time zone select.
type zoneView struct {
	Name    string // the zone times are shown in
	Options []option
	// Queue names the queue's zone when it differs from Name.
	Queue string
}

type option struct {
	Value, Label string
	Selected     bool
}

func zoneLabel(name string) string { return strings.ReplaceAll(name, "_", " ") }

func makeZoneView(loc, queue *time.Location, region string) zoneView {
	names := slices.Clone(commonZones)
	names = append(names, loc.String(), queue.String())
	if zs := regionZones(region); len(zs) <= 8 {
		names = append(names, zs...)
	}
	slices.Sort(names)
	names = slices.Compact(names)
	v := zoneView{Name: zoneLabel(loc.String())}
	for _, n := range names {
		v.Options = append(v.Options, option{Value: n, Label: zoneLabel(n), Selected: n == loc.String()})
	}
	if loc.String() != queue.String() {
		v.Queue = zoneLabel(queue.String())
	}
	return v
}

// slotView is one radio of the "Available times" group.
type slotView struct {
	Value, Label string
	Checked      bool
}

// slotGroup is the slots of one day (a heading is shown when the group is
// not the page's day: the nearest free slots offered after a refusal).
type slotGroup struct {
	Heading string
	Slots   []slotView
}

// picker is the day navigation, the time zone and the slots of a day:
// the same controls on the booking page and on the reschedule page.
type picker struct {
	Action   string // where the day navigation GETs
	Lang     string // kept through the navigation when chosen by ?lang=
	Date     string // YYYY-MM-DD
	Heading  string // the day, in full
	Prev     string
	Next     string
	PrevOK   bool
	NextOK   bool
	Zone     zoneView
	Groups   []slotGroup
	Closed   string // why the day has no slot to offer
	Selected string
	// Error is the refusal tied to the group (its id is slot-error).
	Error     string
	Autofocus bool
}

// slotValue is how a slot travels in a form: its start, RFC 3339 UTC.
func slotValue(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// parseSlot reads a slot value back as the bucket that starts there.
func parseSlot(q *booking.Queue, v string) (reservation.Slot, bool) {
	t, err := time.Parse(time.RFC3339, v)
	if err != nil || len(v) > 40 {
		return reservation.Slot{}, false
	}
	b := q.Calendar.BucketAt(t)
	if !b.Start.Equal(t) {
		return reservation.Slot{}, false
	}
	return reservation.Slot{Start: b.Start, End: b.End}, true
}

// availabilityFunc returns the queue's buckets starting in [from, to), as
// booking.Service.Availability does for the caller.
type availabilityFunc func(ctx context.Context, from, to time.Time) ([]booking.Slot, error)

// fillDay sets the day of p: date (or, when it is zero, the first day with a
// free slot), its heading, its navigation, its free slots in loc, and why
// it has none.
func (s *Server) fillDay(ctx context.Context, p *picker, q *booking.Queue, loc *time.Location, l locale, date schedule.Date, avail availabilityFunc) error {
	now := s.now()
	today := schedule.DateOf(now.In(loc))
	cal := q.Calendar
	last := now.Add(cal.LeadTime + cal.Horizon)
	if date == (schedule.Date{}) || dateBefore(date, today) {
		date = today
		if slots, err := avail(ctx, now, minTime(last, now.Add(booking.MaxWindow))); err == nil {
			for _, sl := range slots {
				if sl.Reason == schedule.OK {
					date = schedule.DateOf(sl.Start.In(loc))
					break
				}
			}
		}
	}
	from := midnight(date, loc)
	to := midnight(date.AddDays(1), loc)
	if from.After(last) {
		// Beyond the horizon: the day is shown, and says so.
		p.Closed = s.msgs.Text(l.Lang, "day.horizon")
	}
	p.Date = date.String()
	p.Heading = FormatDate(from, l.Lang)
	p.Prev, p.PrevOK = date.AddDays(-1).String(), dateBefore(today, date)
	p.Next, p.NextOK = date.AddDays(1).String(), to.Before(last)
	if p.Closed != "" {
		return nil
	}
	slots, err := avail(ctx, from, to)
	if err != nil {
		return err
	}
	var g slotGroup
	reasons := map[schedule.Reason]int{}
	for _, sl := range slots {
		reasons[sl.Reason]++
		if sl.Reason != schedule.OK {
			continue
		}
		v := slotValue(sl.Start)
		g.Slots = append(g.Slots, slotView{Value: v, Label: FormatRange(sl.Start.In(loc), sl.End.In(loc), l.Lang), Checked: v == p.Selected})
	}
	if len(g.Slots) > 0 {
		p.Groups = []slotGroup{g}
		return nil
	}
	p.Closed = s.whyClosed(q, date, reasons, l)
	return nil
}

// whyClosed says why a day has no free slot.
func (s *Server) whyClosed(q *booking.Queue, date schedule.Date, reasons map[schedule.Reason]int, l locale) string {
	cal := q.Calendar
	t := func(key string, args ...string) string { return s.msgs.Text(l.Lang, key, args...) }
	switch {
	case reasons[schedule.ReasonHoliday] > 0:
		return t("day.holiday")
	case reasons[schedule.ReasonFull] > 0:
		return t("day.full")
	case reasons[schedule.ReasonHorizon] > 0:
		return t("day.horizon")
	case reasons[schedule.ReasonClosed] > 0 && reasons[schedule.ReasonLeadTime] == 0:
		if !cal.AlwaysOpen && cal.Imported == nil && len(cal.Hours[date.Weekday()]) == 0 {
			return t("day.closed_weekday." + strconv.Itoa(int(date.Weekday())))
		}
		return t("day.closed")
	}
	return t("day.over")
}

func midnight(d schedule.Date, loc *time.Location) time.Time {
	return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, loc)
}

func dateBefore(a, b schedule.Date) bool {
	return midnight(a, time.UTC).Before(midnight(b, time.UTC))
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// freeGroups turns the nearest free slots of a refusal into radio groups,
// one per day.
func freeGroups(free []booking.FreeSlot, loc *time.Location, lang string) []slotGroup {
	var out []slotGroup
	for _, f := range free {
		start, err1 := time.Parse(time.RFC3339, f.Start)
		end, err2 := time.Parse(time.RFC3339, f.End)
		if err1 != nil || err2 != nil {
			continue
		}
		start, end = start.In(loc), end.In(loc)
		h := FormatDate(start, lang)
		if len(out) == 0 || out[len(out)-1].Heading != h {
			out = append(out, slotGroup{Heading: h})
		}
		g := &out[len(out)-1]
		g.Slots = append(g.Slots, slotView{Value: slotValue(start), Label: FormatRange(start, end, lang)})
	}
	return out
}
