package config

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/slotline/slotline/internal/schedule"
)

// genesysHorizon is how far ahead Genesys Cloud schedules callbacks.
const genesysHorizon = 30 * day

// defaultSchedule returns the queue settings used for every absent queue key.
func defaultSchedule(loc *time.Location) *schedule.Calendar {
	return &schedule.Calendar{
		Location:    loc,
		SlotMinutes: 15,
		Capacity:    10,
		AlwaysOpen:  true,
		Closed:      map[schedule.Date]bool{},
		Horizon:     genesysHorizon,
	}
}

// calendar reads the calendar keys of queue n, whose values are f, into a
// schedule in loc, and validates it.
func (p *parser) calendar(f map[string]*yaml.Node, n *yaml.Node, path string, loc *time.Location) (*schedule.Calendar, error) {
	s := defaultSchedule(loc)
	err := p.decode(f, path, []decoder{
		{"slot_minutes", into(&s.SlotMinutes, p.slotMinutes)},
		{"capacity", into(&s.Capacity, p.capacity)},
		{"capacity_overrides", into(&s.Overrides, p.overrides)},
		{"hours", onto(s, p.hours)},
		{"closed", onto(s, p.closed)},
		{"lead_time", into(&s.LeadTime, p.duration)},
		{"horizon", into(&s.Horizon, p.horizon)},
	})
	if err != nil {
		return nil, err
	}
	if s.LeadTime >= s.Horizon {
		return nil, p.errorf(f["lead_time"], path+".lead_time", "must be shorter than the horizon (%s)", formatDuration(s.Horizon))
	}
	if err := s.Validate(); err != nil {
		return nil, p.errorf(n, path, "%v", err)
	}
	return s, nil
}

// slotMinutes reads a slot length, one of schedule.SlotMinutes.
func (p *parser) slotMinutes(n *yaml.Node, path string) (int, error) {
	m, err := p.integer(n, path)
	if err != nil {
		return 0, err
	}
	if !slices.Contains(schedule.SlotMinutes, m) {
		allowed := make([]string, len(schedule.SlotMinutes))
		for i, m := range schedule.SlotMinutes {
			allowed[i] = strconv.Itoa(m)
		}
		return 0, p.errorf(n, path, "%d is not one of %s", m, strings.Join(allowed, ", "))
	}
	return m, nil
}

// horizon reads a positive horizon, with a warning past genesysHorizon.
func (p *parser) horizon(n *yaml.Node, path string) (time.Duration, error) {
	d, err := p.positiveDuration(n, path)
	if err == nil && d > genesysHorizon {
		p.warnf(n, path, "%s is more than 30 days; Genesys schedules callbacks at most 30 days ahead", n.Value)
	}
	return d, err
}

// closed reads a list of dates on which the queue is closed into s.
func (p *parser) closed(n *yaml.Node, path string, s *schedule.Calendar) error {
	dates, err := listOf(p, n, path, p.date)
	for _, d := range dates {
		s.Closed[d] = true
	}
	return err
}

// hours reads either the string 24/7 or a mapping from day specs (mon,
// mon-fri, sat,sun) to lists of HH:MM-HH:MM intervals into s.
func (p *parser) hours(n *yaml.Node, path string, s *schedule.Calendar) error {
	if n.Kind == yaml.ScalarNode && strings.TrimSpace(n.Value) == "24/7" {
		return nil // the default
	}
	if n.Kind != yaml.MappingNode {
		return p.errorf(n, path, "must be 24/7 or a mapping from days to intervals, not %s", describe(n))
	}
	pairs, err := p.pairs(n, path)
	if err != nil {
		return err
	}
	s.AlwaysOpen = false
	var namedBy [7]*yaml.Node
	for _, kv := range pairs {
		field := path + "." + kv.key.Value
		days, err := parseDays(kv.key.Value)
		if err != nil {
			return p.errorf(kv.key, field, "%v", err)
		}
		for _, wd := range days {
			if prev := namedBy[wd]; prev != nil {
				return p.errorf(kv.key, field, "%s is already named by %q on line %d", dayName(wd), prev.Value, prev.Line)
			}
			namedBy[wd] = kv.key
		}
		ivs, err := p.intervals(kv.value, field)
		if err != nil {
			return err
		}
		for _, wd := range days {
			s.Hours[wd] = slices.Clone(ivs)
		}
	}
	if namedBy == [7]*yaml.Node{} {
		p.warnf(n, path, "names no days, so the queue is never open")
	}
	return nil
}

// intervals reads a list of HH:MM-HH:MM intervals; null is no interval.
func (p *parser) intervals(n *yaml.Node, path string) ([]schedule.Interval, error) {
	if isNull(n) {
		return nil, nil
	}
	return listOf(p, n, path, p.interval)
}

// overrides reads a list of capacity overrides.
func (p *parser) overrides(n *yaml.Node, path string) ([]schedule.CapacityOverride, error) {
	return listOf(p, n, path, p.override)
}

// override reads one capacity override: a capacity and at least one of
// days, date and hours.
func (p *parser) override(n *yaml.Node, path string) (schedule.CapacityOverride, error) {
	var o schedule.CapacityOverride
	f, err := p.fields(n, path, "days", "date", "hours", "capacity")
	if err != nil {
		return o, err
	}
	if v := f["capacity"]; v == nil {
		return o, p.errorf(n, path+".capacity", "is required")
	} else if o.Capacity, err = p.capacity(v, path+".capacity"); err != nil {
		return o, err
	}
	if f["days"] == nil && f["date"] == nil && f["hours"] == nil {
		return o, p.errorf(n, path, "needs at least one of days, date and hours")
	}
	err = p.decode(f, path, []decoder{
		{"days", into(&o.Days, p.overrideDays)},
		{"date", into(&o.Date, pointer(p.date))},
		{"hours", into(&o.Hours, pointer(p.interval))},
	})
	return o, err
}

// overrideDays reads a non-empty list of day specs (mon, mon-fri, sat,sun)
// into the days they name, in order; a day named twice is an error.
func (p *parser) overrideDays(n *yaml.Node, path string) ([]time.Weekday, error) {
	specs, err := p.list(n, path)
	if err != nil {
		return nil, err
	}
	var out []time.Weekday
	for j, spec := range specs {
		field := fmt.Sprintf("%s[%d]", path, j)
		s, err := p.str(spec, field)
		if err != nil {
			return nil, err
		}
		days, err := parseDays(s)
		if err != nil {
			return nil, p.errorf(spec, field, "%v", err)
		}
		for _, wd := range days {
			if slices.Contains(out, wd) {
				return nil, p.errorf(spec, field, "%s is named twice", dayName(wd))
			}
			out = append(out, wd)
		}
	}
	if len(out) == 0 {
		return nil, p.errorf(n, path, "must name at least one day")
	}
	return out, nil
}

// pointer turns a reader of T into a reader of *T.
func pointer[T any](read func(*yaml.Node, string) (T, error)) func(*yaml.Node, string) (*T, error) {
	return func(n *yaml.Node, path string) (*T, error) {
		x, err := read(n, path)
		if err != nil {
			return nil, err
		}
		return &x, nil
	}
}

// parseDays parses a day spec: a day (mon or monday, any case), a range of
// days that may wrap (fri-mon), or a comma list of those. Days come back in
// the order named; a day named twice is an error.
func parseDays(spec string) ([]time.Weekday, error) {
	var out []time.Weekday
	for part := range strings.SplitSeq(spec, ",") {
		from, to, isRange := strings.Cut(part, "-")
		a, ok := parseDay(from)
		if !ok {
			return nil, fmt.Errorf("%q is not a day (mon..sun)", strings.TrimSpace(from))
		}
		b := a
		if isRange {
			if b, ok = parseDay(to); !ok {
				return nil, fmt.Errorf("%q is not a day (mon..sun)", strings.TrimSpace(to))
			}
		}
		for wd := a; ; wd = (wd + 1) % 7 {
			if slices.Contains(out, wd) {
				return nil, fmt.Errorf("%s is named twice", dayName(wd))
			}
			out = append(out, wd)
			if wd == b {
				break
			}
		}
	}
	return out, nil
}

// parseDay parses mon..sun or monday..sunday, in any case.
func parseDay(s string) (time.Weekday, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	for wd := time.Sunday; wd <= time.Saturday; wd++ {
		if full := strings.ToLower(wd.String()); s == full || s == full[:3] {
			return wd, true
		}
	}
	return 0, false
}

func dayName(wd time.Weekday) string { return strings.ToLower(wd.String()[:3]) }
