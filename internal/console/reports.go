package console

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/slotline/slotline/internal/booking"
	"github.com/slotline/slotline/internal/report"
	"github.com/slotline/slotline/internal/schedule"
)

// reportMaxDays is the longest range one report covers (as the API's).
const reportMaxDays = 93

// reportQuery is the reports page's form: a queue ("" for all the
// operator's), a date range in each queue's calendar and the punctuality
// bound.
type reportQuery struct {
	Queue, From, To string
	Within          int // minutes
	first, last     schedule.Date
	queues          []*booking.Queue
}

// reportError is a field of the form that does not parse.
type reportError struct {
	Field, Key string
}

// parseReportQuery reads the form of r for op; errs names the fields that
// are wrong (then the defaults stand in for them).
func (s *Server) parseReportQuery(r *http.Request, op Operator) (reportQuery, []reportError) {
	v := r.URL.Query()
	today := schedule.DateOf(s.booking.Now().UTC())
	q := reportQuery{Queue: v.Get("queue"), first: today.AddDays(-6), last: today, Within: int(report.DefaultPunctualWithin / time.Minute)}
	var errs []reportError
	for _, bq := range s.booking.Queues() {
		if op.CanSee(bq.ID) && (q.Queue == "" || q.Queue == bq.ID) {
			q.queues = append(q.queues, bq)
		}
	}
	if q.Queue != "" && len(q.queues) == 0 {
		errs = append(errs, reportError{"queue", "reports.error.queue"})
	}
	for _, f := range []struct {
		name string
		d    *schedule.Date
	}{{"from", &q.first}, {"to", &q.last}} {
		if t := v.Get(f.name); t != "" {
			d, err := schedule.ParseDate(t)
			if err != nil {
				errs = append(errs, reportError{f.name, "reports.error.date"})
				continue
			}
			*f.d = d
		}
	}
	if q.first.String() > q.last.String() {
		errs = append(errs, reportError{"to", "reports.error.order"})
		q.last = q.first
	}
	if q.first.AddDays(reportMaxDays-1).String() < q.last.String() {
		errs = append(errs, reportError{"to", "reports.error.range"})
		q.last = q.first.AddDays(reportMaxDays - 1)
	}
	if w := v.Get("punctual_within"); w != "" {
		n, err := strconv.Atoi(w)
		if err != nil || n < 0 || n > 24*60 {
			errs = append(errs, reportError{"punctual_within", "reports.error.within"})
		} else {
			q.Within = n
		}
	}
	q.From, q.To = q.first.String(), q.last.String()
	return q, errs
}

// days builds the report of q's queues, each queue's days in order.
func (s *Server) reportDays(ctx context.Context, q reportQuery) ([][]report.Day, error) {
	var out [][]report.Day
	within := time.Duration(q.Within) * time.Minute
	for _, bq := range q.queues {
		loc := bq.Calendar.Location
		from := time.Date(q.first.Year, q.first.Month, q.first.Day, 0, 0, 0, 0, loc)
		to := time.Date(q.last.Year, q.last.Month, q.last.Day+1, 0, 0, 0, 0, loc)
		facts, err := s.health.Store.OutcomeFacts(ctx, bq.ID, "", from, to)
		if err != nil {
			return nil, err
		}
		out = append(out, report.Build(bq.ID, loc, q.first, q.last, facts, within))
	}
	return out, nil
}

// reportsPage is GET /console/reports.
type reportsPage struct {
	page
	Query  reportQuery
	Errors map[string]string // field → message
	// Options are the queue filter's choices (the operator's queues).
	Options []Queue
	Queues  []reportQueue
	CSV     string
}

type reportQueue struct {
	ID, Name string
	Days     []reportDay
	Chart    chart
}

type reportDay struct {
	report.Day
	ReachRate, Punctuality string
}

// chart is a queue's reach rate per day as an inline SVG's geometry.
type chart struct {
	Width, Height, Base int
	Bars                []bar
	Labels              bool // values written above the bars
}

type bar struct {
	X, Y, W, H int
	Label      string // the value, "–" for a day with no placed callback
	Day        string // the day's label under the bar (every 7th)
	TextX      int
}

// handleReports is GET /console/reports: per queue of the operator's (or
// the one asked for) and day of its calendar in [from, to] (default the
// last seven days), the outcome report's figures as a table, the reach
// rate per day as a chart described by the table, and the link to the same
// report as CSV.
func (s *Server) handleReports(w http.ResponseWriter, r *http.Request) {
	op, _ := OperatorFrom(r.Context())
	if s.health.Store == nil || s.booking == nil {
		s.plain(w, r, http.StatusNotFound, "notfound")
		return
	}
	p := reportsPage{page: s.page(r, "reports.title"), Options: s.visibleQueues(op)}
	p.Styles = []string{"reports.css"}
	q, errs := s.parseReportQuery(r, op)
	p.Query = q
	if len(errs) > 0 {
		p.Errors = map[string]string{}
		for _, e := range errs {
			if _, ok := p.Errors[e.Field]; !ok {
				p.Errors[e.Field] = p.T(e.Key, "max", strconv.Itoa(reportMaxDays))
			}
		}
	}
	days, err := s.reportDays(r.Context(), q)
	if err != nil {
		s.unavailable(w, r, "outcome report", err)
		return
	}
	names := map[string]string{}
	for _, o := range p.Options {
		names[o.ID] = o.Name
	}
	for i, bq := range q.queues {
		rq := reportQueue{ID: bq.ID, Name: names[bq.ID]}
		for _, d := range days[i] {
			rq.Days = append(rq.Days, reportDay{Day: d, ReachRate: p.percent(d.ReachRate), Punctuality: p.percent(d.Punctuality)})
		}
		rq.Chart = p.chart(days[i])
		p.Queues = append(p.Queues, rq)
	}
	v := url.Values{"from": {q.From}, "to": {q.To}, "punctual_within": {strconv.Itoa(q.Within)}}
	if q.Queue != "" && len(q.queues) > 0 {
		v.Set("queue", q.Queue)
	}
	p.CSV = "/console/reports.csv?" + v.Encode()
	s.render(w, r, http.StatusOK, "reports", &p)
}

// percent writes a rate as a whole percentage in the page's language, "–"
// without one.
func (p *page) percent(v *float64) string {
	if v == nil {
		return "–"
	}
	return p.T("reports.percent", "n", strconv.Itoa(int(math.Round(*v*100))))
}

// chart lays out the reach rate bars of days.
func (p *page) chart(days []report.Day) chart {
	const height, top, base, left = 180, 20, 150, 40
	bw := 24
	if len(days) > 31 {
		bw = 8
	}
	c := chart{Width: left + len(days)*bw + 8, Height: height, Base: base, Labels: len(days) <= 31}
	for i, d := range days {
		b := bar{X: left + i*bw + 2, W: bw - 4, Y: base, Label: p.percent(d.ReachRate)}
		b.TextX = b.X + b.W/2
		if d.ReachRate != nil {
			b.H = int(math.Round(*d.ReachRate * float64(base-top)))
			b.Y = base - b.H
		}
		if i%7 == 0 {
			b.Day = d.Date[5:]
		}
		c.Bars = append(c.Bars, b)
	}
	return c
}

// handleReportsCSV is GET /console/reports.csv: the report of the same
// form as CSV, the same as GET /api/v2/reports/outcomes?format=csv.
func (s *Server) handleReportsCSV(w http.ResponseWriter, r *http.Request) {
	op, _ := OperatorFrom(r.Context())
	if s.health.Store == nil || s.booking == nil {
		s.plain(w, r, http.StatusNotFound, "notfound")
		return
	}
	q, errs := s.parseReportQuery(r, op)
	if len(errs) > 0 {
		s.plain(w, r, http.StatusBadRequest, "report_invalid")
		return
	}
	days, err := s.reportDays(r.Context(), q)
	if err != nil {
		s.unavailable(w, r, "outcome report", err)
		return
	}
	var all []report.Day
	for _, d := range days {
		all = append(all, d...)
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="outcomes-%s-%s.csv"`, q.From, q.To))
	if err := report.WriteCSV(w, all); err != nil {
		s.logger.WarnContext(r.Context(), "write outcome report", "err", err)
	}
}
