package httpapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/slotline/slotline/internal/booking"
	"github.com/slotline/slotline/internal/report"
	"github.com/slotline/slotline/internal/reservation"
	"github.com/slotline/slotline/internal/schedule"
)

// maxReportDays is the longest range one outcome report covers.
const maxReportDays = 93

// reportJSON is the answer of GET /api/v2/reports/outcomes.
type reportJSON struct {
	From                  string       `json:"from"`
	To                    string       `json:"to"`
	PunctualWithinSeconds int64        `json:"punctual_within_seconds"`
	Days                  []report.Day `json:"days"`
}

// handleReportOutcomes answers the outcome report: per queue (queue_id, or
// every queue) and day of the queue's calendar in [from, to] (YYYY-MM-DD,
// default the last seven days to today), the figures of report.Day, as
// JSON or, with format=csv, as CSV. A client without callback:admin counts
// its own reservations only.
func (s *Server) handleReportOutcomes(w http.ResponseWriter, r *http.Request) {
	v, err := query(r)
	if err != nil {
		s.problem(w, r, err)
		return
	}
	queues := s.Booking.Queues()
	if id := v.Get("queue_id"); id != "" {
		q, err := s.Booking.Queue(id)
		if err != nil {
			s.problem(w, r, err)
			return
		}
		queues = []*booking.Queue{q}
	}
	within := report.DefaultPunctualWithin
	if p := v.Get("punctual_within"); p != "" {
		if within, err = time.ParseDuration(p); err != nil || within < 0 || within > 24*time.Hour {
			s.problem(w, r, reservation.FieldError("punctual_within", "must be a duration from 0s to 24h, like 5m"))
			return
		}
	}
	format := v.Get("format")
	if format != "" && format != "json" && format != "csv" {
		s.problem(w, r, reservation.FieldError("format", "must be json or csv"))
		return
	}
	today := schedule.DateOf(s.Booking.Now().UTC())
	first, last := today.AddDays(-6), today
	for _, b := range []struct {
		name string
		d    *schedule.Date
	}{{"from", &first}, {"to", &last}} {
		if t := v.Get(b.name); t != "" {
			if *b.d, err = schedule.ParseDate(t); err != nil {
				s.problem(w, r, reservation.FieldError(b.name, "must be a date, YYYY-MM-DD"))
				return
			}
		}
	}
	if first.String() > last.String() {
		s.problem(w, r, reservation.FieldError("to", "must not be before from"))
		return
	}
	if first.AddDays(maxReportDays-1).String() < last.String() {
		s.problem(w, r, reservation.FieldError("to", "a report covers at most "+strconv.Itoa(maxReportDays)+" days"))
		return
	}
	c := reader(r)
	client := ""
	if !c.All {
		client = c.ClientID
	}
	out := reportJSON{From: first.String(), To: last.String(), PunctualWithinSeconds: int64(within / time.Second), Days: []report.Day{}}
	for _, q := range queues {
		loc := q.Calendar.Location
		from := time.Date(first.Year, first.Month, first.Day, 0, 0, 0, 0, loc)
		to := time.Date(last.Year, last.Month, last.Day+1, 0, 0, 0, 0, loc)
		facts, err := s.Store.OutcomeFacts(r.Context(), q.ID, client, from, to)
		if err != nil {
			s.problem(w, r, err)
			return
		}
		out.Days = append(out.Days, report.Build(q.ID, loc, first, last, facts, within)...)
	}
	if format != "csv" {
		writeJSON(w, http.StatusOK, out)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="outcomes-`+out.From+`-`+out.To+`.csv"`)
	_ = report.WriteCSV(w, out.Days)
}
