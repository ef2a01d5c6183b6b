// SPDX-License-Identifier: Apache-2.0

// Package schedule judges callback slots against a queue's calendar: the
// slot grid (capacity buckets), weekly opening hours, closed dates, lead time,
// booking horizon and per-bucket capacity, all in the queue's IANA time zone.
//
// Every instant is a time.Time; wall-clock values (opening hours, the grid)
// are turned into instants with Resolve, which steps over daylight-saving
// gaps and yields one instant per real occurrence in overlaps, so a grid
// never has holes, never overlaps itself and never counts an hour twice.
//
// The booking rule. A slot [start, end) counts against the bucket that
// contains start (BucketAt(start)). Past, lead time and horizon are judged
// on that bucket, not on the slot: a bucket can be booked only
// before it begins, only if it begins at least LeadTime after now, and only
// if it ends at most Horizon after now (so that every callback time booked
// in it is within the horizon: Genesys schedules at most 30 days ahead).
// Holiday and closed are judged on
// the slot's own span [start, end). Check (one slot) and Grid (every bucket
// of a window) share this judgement: a cell's Reason is what Check returns
// for exactly that bucket, and when it is past, lead_time or horizon, Check
// returns that same Reason for every slot starting inside the bucket. Only
// holiday and closed can tell a slot from its bucket, as they look at the
// slot's own span.
package schedule

import (
	"fmt"
	"sort"
	"sync/atomic"
	"time"

	_ "time/tzdata" // the tz database travels with the binary
)

// Reason says why a slot cannot be booked. The empty Reason means bookable.
type Reason string

// The reasons a slot is unavailable, in the order they are checked. "The
// slot's bucket" is the grid bucket containing the slot's start, the one the
// slot counts against; past and lead time are judged on its start, the
// horizon on its end.
const (
	OK             Reason = ""
	ReasonPast     Reason = "past"      // the slot's bucket starts at or before now
	ReasonLeadTime Reason = "lead_time" // the slot's bucket starts sooner than now + the queue's lead time
	ReasonHorizon  Reason = "horizon"   // the slot's bucket ends later than now + the booking horizon
	ReasonHoliday  Reason = "holiday"   // the slot itself touches a closed date (or an imported holiday)
	ReasonClosed   Reason = "closed"    // the slot itself is not inside opening hours
	ReasonFull     Reason = "full"      // the slot's bucket has no capacity left
)

// SlotMinutes lists the allowed bucket lengths.
var SlotMinutes = []int{5, 10, 15, 20, 30, 60, 120}

// Date is a calendar date in the queue's zone.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// DateOf returns the calendar date of t in t's location.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return Date{y, m, d}
}

// ParseDate parses "YYYY-MM-DD".
func ParseDate(s string) (Date, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return Date{}, fmt.Errorf("%q is not a date (YYYY-MM-DD)", s)
	}
	return DateOf(t), nil
}

// String formats d as YYYY-MM-DD.
func (d Date) String() string { return fmt.Sprintf("%04d-%02d-%02d", d.Year, d.Month, d.Day) }

// AddDays returns the date n days after d.
func (d Date) AddDays(n int) Date {
	return DateOf(time.Date(d.Year, d.Month, d.Day+n, 12, 0, 0, 0, time.UTC))
}

// Weekday returns the day of the week of d.
func (d Date) Weekday() time.Weekday {
	return time.Date(d.Year, d.Month, d.Day, 12, 0, 0, 0, time.UTC).Weekday()
}

// Interval is a span of wall-clock minutes since local midnight, Start
// inclusive, End exclusive; End may be 1440 (24:00).
type Interval struct {
	Start, End int
}

// ParseInterval parses "HH:MM-HH:MM"; the end may be 24:00.
func ParseInterval(s string) (Interval, error) {
	var h1, m1, h2, m2 int
	if n, err := fmt.Sscanf(s, "%d:%d-%d:%d", &h1, &m1, &h2, &m2); err != nil || n != 4 || len(s) != len("00:00-00:00") {
		return Interval{}, fmt.Errorf("%q is not an interval like 08:00-12:00", s)
	}
	iv := Interval{h1*60 + m1, h2*60 + m2}
	if h1 > 23 || m1 > 59 || m2 > 59 || iv.End > 1440 || h2 > 24 {
		return Interval{}, fmt.Errorf("%q has an impossible time", s)
	}
	if iv.End <= iv.Start {
		return Interval{}, fmt.Errorf("%q ends before it starts", s)
	}
	return iv, nil
}

// Contains reports whether the wall-clock minute m lies in iv.
func (iv Interval) Contains(m int) bool { return m >= iv.Start && m < iv.End }

// String formats iv as HH:MM-HH:MM.
func (iv Interval) String() string {
	return fmt.Sprintf("%02d:%02d-%02d:%02d", iv.Start/60, iv.Start%60, iv.End/60, iv.End%60)
}

// CapacityOverride replaces the default capacity for the buckets it matches.
// A bucket matches when its start, in local time, falls on Date (if set) or
// on one of Days (if set; empty means every day), and inside Hours (if set).
type CapacityOverride struct {
	Date     *Date
	Days     []time.Weekday
	Hours    *Interval
	Capacity int
}

func (o CapacityOverride) matches(d Date, minute int) bool {
	if o.Date != nil && *o.Date != d {
		return false
	}
	if len(o.Days) > 0 {
		found := false
		for _, wd := range o.Days {
			if wd == d.Weekday() {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return o.Hours == nil || o.Hours.Contains(minute)
}

// Calendar is the calendar of one queue. Build it with its fields set and call
// Validate; a Calendar is read-only afterwards and safe for concurrent use.
type Calendar struct {
	Location    *time.Location
	SlotMinutes int
	Capacity    int
	// Overrides are consulted in order: the first date override that matches
	// wins, then the first weekday override that matches, then Capacity.
	Overrides []CapacityOverride
	// AlwaysOpen means 24/7; Hours is then ignored.
	AlwaysOpen bool
	// Imported, when set, replaces Hours and Closed with opening and
	// holiday spans imported from elsewhere (a Genesys schedule group);
	// until spans are set, the queue is closed.
	Imported *Imported
	// Hours holds the opening intervals per weekday (index time.Weekday).
	Hours    [7][]Interval
	Closed   map[Date]bool
	LeadTime time.Duration
	Horizon  time.Duration
}

// Validate checks the queue's settings.
func (q *Calendar) Validate() error {
	if q.Location == nil {
		return fmt.Errorf("time zone is required")
	}
	ok := false
	for _, m := range SlotMinutes {
		ok = ok || m == q.SlotMinutes
	}
	if !ok {
		return fmt.Errorf("slot length %d minutes is not one of %v", q.SlotMinutes, SlotMinutes)
	}
	if q.Capacity < 0 {
		return fmt.Errorf("capacity must not be negative")
	}
	for _, o := range q.Overrides {
		if o.Capacity < 0 {
			return fmt.Errorf("override capacity must not be negative")
		}
	}
	if q.LeadTime < 0 || q.Horizon <= 0 {
		return fmt.Errorf("lead time must not be negative and horizon must be positive")
	}
	return nil
}

func (q *Calendar) slot() time.Duration { return time.Duration(q.SlotMinutes) * time.Minute }

// Resolve returns the instants at which the wall clock of loc reads minute
// (0..1440) on date d, in increasing order: one instant normally, two in a
// fall-back overlap, and in a spring-forward gap the instant the gap ends
// (the first real instant after the missing wall time).
func Resolve(loc *time.Location, d Date, minute int) []time.Time {
	u := time.Date(d.Year, d.Month, d.Day, 0, minute, 0, 0, time.UTC)
	// Offsets in the world lie within -12h..+14h; the true instant, if any,
	// lies in [u-14h, u+12h]. Collect the offsets in force around there.
	var offsets []int
	for _, probe := range []time.Duration{-15 * time.Hour, -3 * time.Hour, 0, 3 * time.Hour, 15 * time.Hour} {
		_, off := u.Add(probe).In(loc).Zone()
		seen := false
		for _, o := range offsets {
			seen = seen || o == off
		}
		if !seen {
			offsets = append(offsets, off)
		}
	}
	var out []time.Time
	for _, off := range offsets {
		t := u.Add(-time.Duration(off) * time.Second)
		if wall(t.In(loc)) == u {
			out = append(out, t)
		}
	}
	if len(out) == 0 {
		// A gap: the wall time is skipped. Take the earliest candidate past
		// it and walk back to the start of the zone period it falls in.
		var best time.Time
		for _, off := range offsets {
			t := u.Add(-time.Duration(off) * time.Second)
			if wall(t.In(loc)).After(u) {
				start, _ := t.In(loc).ZoneBounds()
				if !start.IsZero() && wall(start.In(loc)).After(u) {
					t = start
				}
				if best.IsZero() || t.Before(best) {
					best = t
				}
			}
		}
		if !best.IsZero() {
			out = append(out, best)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Before(out[j]) })
	for i := range out {
		out[i] = out[i].UTC()
	}
	return dedupe(out)
}

// wall returns t's wall clock reading as if it were UTC.
func wall(t time.Time) time.Time {
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	return time.Date(y, mo, d, h, mi, s, t.Nanosecond(), time.UTC)
}

func dedupe(ts []time.Time) []time.Time {
	out := ts[:0]
	for i, t := range ts {
		if i == 0 || !t.Equal(out[len(out)-1]) {
			out = append(out, t)
		}
	}
	return out
}

// dayBoundaries returns the starts of the grid buckets whose wall time falls
// on date d, in order.
func (q *Calendar) dayBoundaries(d Date) []time.Time {
	var out []time.Time
	for m := 0; m < 1440; m += q.SlotMinutes {
		out = append(out, Resolve(q.Location, d, m)...)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Before(out[j]) })
	return dedupe(out)
}

// Bucket is one cell of a queue's grid: [Start, End) in UTC.
type Bucket struct {
	Start, End time.Time
}

// BucketAt returns the grid bucket that contains t.
func (q *Calendar) BucketAt(t time.Time) Bucket {
	t = t.UTC()
	// Fast path: no zone change near t.
	lt := t.In(q.Location)
	zs, ze := lt.ZoneBounds()
	minute := lt.Hour()*60 + lt.Minute()
	floor := minute - minute%q.SlotMinutes
	start := t.Add(-time.Duration(minute-floor)*time.Minute - time.Duration(lt.Second())*time.Second - time.Duration(lt.Nanosecond()))
	end := start.Add(q.slot())
	if (zs.IsZero() || !start.Before(zs)) && (ze.IsZero() || end.Before(ze)) {
		return Bucket{start.UTC(), end.UTC()}
	}
	// Slow path: walk the boundaries of the days around t.
	d := DateOf(lt)
	var bs []time.Time
	for i := -1; i <= 1; i++ {
		bs = append(bs, q.dayBoundaries(d.AddDays(i))...)
	}
	sort.Slice(bs, func(i, j int) bool { return bs[i].Before(bs[j]) })
	bs = dedupe(bs)
	i := sort.Search(len(bs), func(i int) bool { return bs[i].After(t) }) // first boundary > t
	if i == 0 || i == len(bs) {
		// Cannot happen for a sane zone; fall back to a plain slot.
		return Bucket{start.UTC(), end.UTC()}
	}
	return Bucket{bs[i-1], bs[i]}
}

// Buckets returns every grid bucket that starts in [from, to), in order.
func (q *Calendar) Buckets(from, to time.Time) []Bucket {
	var out []Bucket
	if !from.Before(to) {
		return out
	}
	b := q.BucketAt(from)
	if b.Start.Before(from) {
		b = q.BucketAt(b.End)
	}
	for b.Start.Before(to) {
		out = append(out, b)
		b = q.BucketAt(b.End)
	}
	return out
}

// CapacityAt returns the capacity of the bucket that starts at start.
func (q *Calendar) CapacityAt(start time.Time) int {
	lt := start.In(q.Location)
	d := DateOf(lt)
	minute := lt.Hour()*60 + lt.Minute()
	for _, o := range q.Overrides {
		if o.Date != nil && o.matches(d, minute) {
			return o.Capacity
		}
	}
	for _, o := range q.Overrides {
		if o.Date == nil && o.matches(d, minute) {
			return o.Capacity
		}
	}
	return q.Capacity
}

// openSpans returns the opening hours that touch date d as instants, merged
// where they touch (so hours that run past midnight form one span).
func (q *Calendar) openSpans(from, to Date) []Bucket {
	var spans []Bucket
	for d := from; !dateAfter(d, to); d = d.AddDays(1) {
		for _, iv := range q.Hours[d.Weekday()] {
			starts := Resolve(q.Location, d, iv.Start)
			var ends []time.Time
			if iv.End == 1440 {
				ends = Resolve(q.Location, d.AddDays(1), 0)
			} else {
				ends = Resolve(q.Location, d, iv.End)
			}
			// In an overlap an interval opens at the first occurrence of
			// its start and closes at the last occurrence of its end.
			spans = append(spans, Bucket{starts[0], ends[len(ends)-1]})
		}
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].Start.Before(spans[j].Start) })
	var merged []Bucket
	for _, s := range spans {
		if n := len(merged); n > 0 && !s.Start.After(merged[n-1].End) {
			if s.End.After(merged[n-1].End) {
				merged[n-1].End = s.End
			}
			continue
		}
		merged = append(merged, s)
	}
	return merged
}

func dateAfter(a, b Date) bool {
	if a.Year != b.Year {
		return a.Year > b.Year
	}
	if a.Month != b.Month {
		return a.Month > b.Month
	}
	return a.Day > b.Day
}

// IsOpen reports whether all of [start, end) lies within opening hours.
func (q *Calendar) IsOpen(start, end time.Time) bool {
	return q.isOpen(start, end, q.spansAround(start, end))
}

// spansAround returns the open spans that may contain [start, end).
func (q *Calendar) spansAround(start, end time.Time) []Bucket {
	if q.AlwaysOpen {
		return nil
	}
	if q.Imported != nil {
		return q.Imported.Spans().Open
	}
	return q.openSpans(DateOf(start.In(q.Location)).AddDays(-1), DateOf(end.In(q.Location)).AddDays(1))
}

func (q *Calendar) isOpen(start, end time.Time, spans []Bucket) bool {
	if q.AlwaysOpen {
		return true
	}
	i := sort.Search(len(spans), func(i int) bool { return spans[i].End.After(start) })
	return i < len(spans) && !start.Before(spans[i].Start) && !end.After(spans[i].End)
}

// TouchesClosedDate reports whether [start, end) touches a closed date
// (or, for imported hours, overlaps a holiday span).
func (q *Calendar) TouchesClosedDate(start, end time.Time) bool {
	if q.Imported != nil {
		for _, h := range q.Imported.Spans().Holiday {
			if start.Before(h.End) && h.Start.Before(end) {
				return true
			}
		}
		return false
	}
	if len(q.Closed) == 0 {
		return false
	}
	last := end.Add(-time.Nanosecond)
	if last.Before(start) {
		last = start
	}
	for d := DateOf(start.In(q.Location)); !dateAfter(d, DateOf(last.In(q.Location))); d = d.AddDays(1) {
		if q.Closed[d] {
			return true
		}
	}
	return false
}

// Check judges the slot [start, end) at instant now, without capacity: it
// returns the first reason the slot cannot be booked, or OK. Past and lead
// time are judged on the start of the slot's bucket (BucketAt(start)), the
// horizon on its end, so a slot that starts later than now inside a
// bucket that has already begun is ReasonPast, exactly as Grid reports that
// bucket; holiday and closed are judged on [start, end). The slot must be
// well formed (end after start).
func (q *Calendar) Check(start, end, now time.Time) Reason {
	return q.judge(q.BucketAt(start), start, end, now, q.spansAround(start, end))
}

// judge is the one rule behind Check and Grid: b is the bucket the slot
// [start, end) counts against (the bucket containing start).
func (q *Calendar) judge(b Bucket, start, end, now time.Time, spans []Bucket) Reason {
	if r := q.bucketTiming(b, now); r != OK {
		return r
	}
	switch {
	case q.TouchesClosedDate(start, end):
		return ReasonHoliday
	case !q.isOpen(start, end, spans):
		return ReasonClosed
	}
	return OK
}

// bucketTiming says whether bucket b can still be booked at now: only
// before it begins, only if it begins at least LeadTime after now, and only
// if it ends at most Horizon after now.
func (q *Calendar) bucketTiming(b Bucket, now time.Time) Reason {
	switch {
	case !b.Start.After(now):
		return ReasonPast
	case b.Start.Before(now.Add(q.LeadTime)):
		return ReasonLeadTime
	case b.End.After(now.Add(q.Horizon)):
		return ReasonHorizon
	}
	return OK
}

// Cell is one bucket of the grid as Check and CapacityAt judge it.
type Cell struct {
	Bucket
	Capacity int
	// Reason is what Check returns for exactly this bucket; OK when a create
	// of it would pass Check. Past, lead time and horizon are judged on the
	// bucket (its start; for the horizon, its end), so when Reason is
	// ReasonPast, ReasonLeadTime or ReasonHorizon every slot starting inside
	// the bucket gets that Reason from Check too.
	Reason Reason
}

// Grid returns every bucket starting in [from, to) judged at now. Each
// cell's Reason is exactly what Check returns for the bucket, computed by
// the same code: past and lead time on the bucket's start, the horizon on
// its end (the bucket of any slot starting inside it is this one), holiday
// and closed on the bucket's span.
func (q *Calendar) Grid(from, to, now time.Time) []Cell {
	buckets := q.Buckets(from, to)
	if len(buckets) == 0 {
		return nil
	}
	spans := q.spansAround(buckets[0].Start, buckets[len(buckets)-1].End)
	cells := make([]Cell, len(buckets))
	for i, b := range buckets {
		cells[i] = Cell{Bucket: b, Capacity: q.CapacityAt(b.Start), Reason: q.judge(b, b.Start, b.End, now, spans)}
	}
	return cells
}

// Spans is an explicit calendar: merged, sorted opening spans and the
// holiday spans within them or around them.
type Spans struct {
	Open    []Bucket
	Holiday []Bucket
	// Until is the end of the period the spans were computed for.
	Until time.Time
}

// Imported holds a queue's imported calendar; it can be replaced at any
// time (a refresh) and is safe for concurrent use.
type Imported struct {
	p atomic.Pointer[Spans]
}

// Set replaces the calendar.
func (i *Imported) Set(s *Spans) { i.p.Store(s) }

// Spans returns the current calendar (empty, so closed, before Set).
func (i *Imported) Spans() *Spans {
	if s := i.p.Load(); s != nil {
		return s
	}
	return &Spans{}
}

// MergeSpans sorts spans and joins those that overlap or touch.
func MergeSpans(spans []Bucket) []Bucket {
	sort.Slice(spans, func(i, j int) bool { return spans[i].Start.Before(spans[j].Start) })
	var out []Bucket
	for _, s := range spans {
		if !s.End.After(s.Start) {
			continue
		}
		if n := len(out); n > 0 && !s.Start.After(out[n-1].End) {
			if s.End.After(out[n-1].End) {
				out[n-1].End = s.End
			}
			continue
		}
		out = append(out, s)
	}
	return out
}

// SubtractSpans returns the parts of a (merged) not covered by b.
func SubtractSpans(a, b []Bucket) []Bucket {
	b = MergeSpans(append([]Bucket(nil), b...))
	var out []Bucket
	for _, s := range a {
		cur := s
		for _, c := range b {
			if !c.End.After(cur.Start) || !c.Start.Before(cur.End) {
				continue
			}
			if c.Start.After(cur.Start) {
				out = append(out, Bucket{cur.Start, c.Start})
			}
			cur.Start = c.End
			if !cur.End.After(cur.Start) {
				break
			}
		}
		if cur.End.After(cur.Start) {
			out = append(out, cur)
		}
	}
	return out
}
