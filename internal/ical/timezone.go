package ical

import (
	"fmt"
	"strconv"
	"time"
)

// maxSteps bounds every walk over a zone's periods. Go's ZoneBounds splits
// a period at year ends for zones on a recurring rule, so a walk of a few
// years takes a few dozen steps; the bound only guards against surprises.
const maxSteps = 10000

// zone is one TZID and the span of time its VTIMEZONE has to cover.
type zone struct {
	id       string
	loc      *time.Location
	from, to time.Time
}

// collectZones loads every distinct TZID of events, in the order they first
// appear, with the span of its events' times.
func collectZones(events []Event) ([]*zone, error) {
	var zones []*zone
	for i := range events {
		e := &events[i]
		if e.TZID == "" {
			continue
		}
		z := zoneByID(zones, e.TZID)
		if z == nil {
			if !validZoneName(e.TZID) {
				return nil, fmt.Errorf("ical: event %d (%q): invalid time zone %q", i, e.UID, e.TZID)
			}
			loc, err := time.LoadLocation(e.TZID)
			if err != nil {
				return nil, fmt.Errorf("ical: event %d (%q): %w", i, e.UID, err)
			}
			z = &zone{id: e.TZID, loc: loc, from: e.Start, to: e.End}
			zones = append(zones, z)
		}
		if e.Start.Before(z.from) {
			z.from = e.Start
		}
		if e.End.After(z.to) {
			z.to = e.End
		}
	}
	return zones, nil
}

func zoneByID(zones []*zone, id string) *zone {
	for _, z := range zones {
		if z.id == id {
			return z
		}
	}
	return nil
}

// validZoneName reports whether s looks like an IANA zone name ("UTC",
// "America/Port-au-Prince", "Etc/GMT+5"). "Local" is refused: it means
// whatever zone the server runs in.
func validZoneName(s string) bool {
	if s == "" || s == "Local" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '/' || c == '_' || c == '-' || c == '+') {
			return false
		}
	}
	return true
}

// observance is one STANDARD or DAYLIGHT sub-component: from onset on, the
// zone's offset is to (it was from just before).
type observance struct {
	onset    string // DTSTART: the onset's local time in the offset before it
	from, to int    // offsets east of UTC, in seconds
	name     string
	dst      bool
}

// zoneInfo is what a zone says about one instant. Two periods with the same
// zoneInfo are one observance split by Go's bookkeeping, not a transition.
type zoneInfo struct {
	name   string
	offset int
	dst    bool
}

func infoAt(t time.Time, loc *time.Location) zoneInfo {
	t = t.In(loc)
	name, offset := t.Zone()
	return zoneInfo{name, offset, t.IsDST()}
}

// observances returns the observances of loc that cover [from, to]: the one
// in effect at from, and one for every transition up to to. Each transition
// gets its own sub-component with no RRULE, which is exact for any zone and
// any year (rules that changed, half-hour shifts, zones that dropped DST).
//
// The first observance starts at its real onset. When that onset is before
// 1970, or the zone never changed, it starts at 19700101T000000 instead (or
// at from, if from is earlier still) with equal TZOFFSETFROM and TZOFFSETTO:
// the same offsets for every instant the VTIMEZONE has to cover, without
// sending clients back to the zone's history.
func observances(loc *time.Location, from, to time.Time) []observance {
	t := from.In(loc)
	cur := infoAt(t, loc)

	onset, _ := t.ZoneBounds()
	for i := 0; i < maxSteps && !onset.IsZero(); i++ {
		prev := onset.Add(-time.Nanosecond)
		if infoAt(prev, loc) != cur {
			break
		}
		onset, _ = prev.In(loc).ZoneBounds()
	}

	var out []observance
	floor := time.Date(1970, 1, 1, 0, 0, 0, 0, time.FixedZone("", cur.offset))
	if from.Before(floor) {
		floor = from
	}
	if onset.IsZero() || onset.Before(floor) {
		out = append(out, observance{
			onset: localTime(floor.In(time.FixedZone("", cur.offset))),
			from:  cur.offset, to: cur.offset,
			name: cur.name, dst: cur.dst,
		})
	} else {
		before := infoAt(onset.Add(-time.Nanosecond), loc)
		out = append(out, transition(onset, before, cur))
	}

	for i := 0; i < maxSteps; i++ {
		_, end := t.ZoneBounds()
		if end.IsZero() || end.After(to) {
			break
		}
		next := infoAt(end, loc)
		if next != cur {
			out = append(out, transition(end, cur, next))
			cur = next
		}
		t = end.In(loc)
	}
	return out
}

// transition is the observance that starts at instant at, when the zone
// moves from before to after. Its DTSTART is the onset in the offset in
// effect before it (RFC 5545 §3.6.5): 02:00 for both of New York's changes.
func transition(at time.Time, before, after zoneInfo) observance {
	return observance{
		onset: localTime(at.In(time.FixedZone("", before.offset))),
		from:  before.offset, to: after.offset,
		name: after.name, dst: after.dst,
	}
}

// writeTimezone writes the VTIMEZONE for z, covering a year either side of
// its events so that a client showing the neighbourhood of an event, or
// an event moved a little later, still finds its offset.
func writeTimezone(b *writer, z *zone) {
	from := z.from.AddDate(-1, 0, 0)
	to := z.to.AddDate(1, 0, 0)
	b.line("BEGIN:VTIMEZONE")
	b.line("TZID:" + escapeText(z.id))
	for _, o := range observances(z.loc, from, to) {
		// Go reports tzdata's DST flag, so a zone with "negative DST"
		// (Europe/Dublin) has its winter written as DAYLIGHT; the offsets,
		// which are what clients compute with, are right either way.
		kind := "STANDARD"
		if o.dst {
			kind = "DAYLIGHT"
		}
		b.line("BEGIN:" + kind)
		b.line("DTSTART:" + o.onset)
		b.line("TZOFFSETFROM:" + formatOffset(o.from))
		b.line("TZOFFSETTO:" + formatOffset(o.to))
		if o.name != "" {
			b.line("TZNAME:" + escapeText(o.name))
		}
		b.line("END:" + kind)
	}
	b.line("END:VTIMEZONE")
}

// formatOffset renders an offset east of UTC as RFC 5545's utc-offset:
// +0530, -0400, +1030, with seconds only when there are any (+001730 for
// some local mean times). Zero is +0000 (-0000 is not allowed).
func formatOffset(sec int) string {
	sign := byte('+')
	if sec < 0 {
		sign = '-'
		sec = -sec
	}
	h, m, s := sec/3600, sec%3600/60, sec%60
	out := []byte{sign}
	out = append(out, pad2(h)...)
	out = append(out, pad2(m)...)
	if s != 0 {
		out = append(out, pad2(s)...)
	}
	return string(out)
}

func pad2(n int) string {
	if n < 10 {
		return "0" + strconv.Itoa(n)
	}
	return strconv.Itoa(n)
}
