package ical_test

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	_ "time/tzdata" // the same zones on every machine

	"github.com/google/go-cmp/cmp"

	"github.com/slotline/slotline/internal/ical"
	"github.com/slotline/slotline/internal/reservation"
)

// A minimal RFC 5545 reader, for checking the writer field by field. It
// unfolds, splits properties into name, parameters and value, and builds the
// component tree; TEXT values are unescaped with unescape.

type prop struct {
	Name   string
	Params map[string]string
	Value  string
}

type component struct {
	Name  string
	Props []prop
	Subs  []*component
}

func (c *component) prop(t testing.TB, name string) prop {
	t.Helper()
	var found []prop
	for _, p := range c.Props {
		if p.Name == name {
			found = append(found, p)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%s has %d %s properties, want 1", c.Name, len(found), name)
	}
	return found[0]
}

func (c *component) has(name string) bool {
	for _, p := range c.Props {
		if p.Name == name {
			return true
		}
	}
	return false
}

func (c *component) subs(name string) []*component {
	var out []*component
	for _, s := range c.Subs {
		if s.Name == name {
			out = append(out, s)
		}
	}
	return out
}

// parse reads one iCalendar object.
func parse(t testing.TB, raw []byte) *component {
	t.Helper()
	s := string(raw)
	s = strings.ReplaceAll(s, "\r\n ", "")
	s = strings.ReplaceAll(s, "\r\n\t", "")
	lines := strings.Split(strings.TrimSuffix(s, "\r\n"), "\r\n")
	var root *component
	var stack []*component
	for _, l := range lines {
		p, err := parseLine(l)
		if err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		switch p.Name {
		case "BEGIN":
			c := &component{Name: p.Value}
			if len(stack) == 0 {
				if root != nil {
					t.Fatalf("second top-level component %s", p.Value)
				}
				root = c
			} else {
				top := stack[len(stack)-1]
				top.Subs = append(top.Subs, c)
			}
			stack = append(stack, c)
		case "END":
			if len(stack) == 0 || stack[len(stack)-1].Name != p.Value {
				t.Fatalf("unbalanced END:%s", p.Value)
			}
			stack = stack[:len(stack)-1]
		default:
			if len(stack) == 0 {
				t.Fatalf("property %s outside a component", p.Name)
			}
			top := stack[len(stack)-1]
			top.Props = append(top.Props, p)
		}
	}
	if root == nil || len(stack) != 0 {
		t.Fatalf("unterminated calendar")
	}
	return root
}

func parseLine(l string) (prop, error) {
	i := strings.IndexAny(l, ";:")
	if i <= 0 {
		return prop{}, errors.New("no name")
	}
	p := prop{Name: l[:i]}
	rest := l[i:]
	for rest[0] == ';' {
		rest = rest[1:]
		eq := strings.IndexByte(rest, '=')
		if eq <= 0 {
			return prop{}, errors.New("bad parameter")
		}
		name, val := rest[:eq], ""
		rest = rest[eq+1:]
		if strings.HasPrefix(rest, `"`) {
			end := strings.IndexByte(rest[1:], '"')
			if end < 0 {
				return prop{}, errors.New("unterminated quote")
			}
			val, rest = rest[1:1+end], rest[end+2:]
		} else {
			j := strings.IndexAny(rest, ";:")
			if j < 0 {
				return prop{}, errors.New("no value")
			}
			val, rest = rest[:j], rest[j:]
		}
		if p.Params == nil {
			p.Params = map[string]string{}
		}
		p.Params[name] = val
		if rest == "" {
			return prop{}, errors.New("no value")
		}
	}
	if rest[0] != ':' {
		return prop{}, errors.New("no colon")
	}
	p.Value = rest[1:]
	return p, nil
}

func unescape(t testing.TB, s string) string {
	t.Helper()
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			if c == ';' || c == ',' {
				t.Fatalf("unescaped %q in TEXT %q", c, s)
			}
			b.WriteByte(c)
			continue
		}
		i++
		if i == len(s) {
			t.Fatalf("trailing backslash in %q", s)
		}
		switch s[i] {
		case 'n', 'N':
			b.WriteByte('\n')
		case '\\', ';', ',':
			b.WriteByte(s[i])
		default:
			t.Fatalf("bad escape \\%c in %q", s[i], s)
		}
	}
	return b.String()
}

func parseUTC(t testing.TB, s string) time.Time {
	t.Helper()
	v, err := time.Parse("20060102T150405Z", s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// parseWall reads a local DATE-TIME as a wall clock (in time.UTC).
func parseWall(t testing.TB, s string) time.Time {
	t.Helper()
	v, err := time.Parse("20060102T150405", s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func parseOffset(t testing.TB, s string) int {
	t.Helper()
	if len(s) != 5 && len(s) != 7 || s[0] != '+' && s[0] != '-' {
		t.Fatalf("bad utc-offset %q", s)
	}
	if s == "-0000" || s == "-000000" {
		t.Fatalf("-0000 is not a valid utc-offset")
	}
	n := func(i int) int {
		v, err := strconv.Atoi(s[i : i+2])
		if err != nil {
			t.Fatalf("bad utc-offset %q", s)
		}
		return v
	}
	sec := n(1)*3600 + n(3)*60
	if len(s) == 7 {
		sec += n(5)
	}
	if s[0] == '-' {
		sec = -sec
	}
	return sec
}

// vtimezone is a parsed VTIMEZONE: its observances by onset instant, computed
// only from the component (not from Go's zone data).
type vtimezone []observance

type observance struct {
	kind     string
	onset    time.Time // UTC
	from, to int
	name     string
}

func parseTimezone(t testing.TB, c *component) vtimezone {
	t.Helper()
	var tz vtimezone
	for _, s := range c.Subs {
		if s.Name != "STANDARD" && s.Name != "DAYLIGHT" {
			t.Fatalf("unexpected %s in VTIMEZONE", s.Name)
		}
		if s.has("RRULE") || s.has("RDATE") {
			t.Fatalf("%s has a recurrence; the writer emits none", s.Name)
		}
		o := observance{
			kind: s.Name,
			from: parseOffset(t, s.prop(t, "TZOFFSETFROM").Value),
			to:   parseOffset(t, s.prop(t, "TZOFFSETTO").Value),
		}
		// DTSTART is the onset in the offset in effect before it.
		o.onset = parseWall(t, s.prop(t, "DTSTART").Value).Add(-time.Duration(o.from) * time.Second)
		if s.has("TZNAME") {
			o.name = unescape(t, s.prop(t, "TZNAME").Value)
		}
		tz = append(tz, o)
	}
	if len(tz) == 0 {
		t.Fatal("VTIMEZONE without observances")
	}
	sort.Slice(tz, func(i, j int) bool { return tz[i].onset.Before(tz[j].onset) })
	return tz
}

// offsetAt returns the offset in effect at instant u.
func (tz vtimezone) offsetAt(t testing.TB, u time.Time) int {
	t.Helper()
	i := sort.Search(len(tz), func(i int) bool { return tz[i].onset.After(u) }) - 1
	if i < 0 {
		t.Fatalf("%s is before the VTIMEZONE's first observance %s", u, tz[0].onset)
	}
	return tz[i].to
}

// instant maps a wall-clock time to the instant it names.
func (tz vtimezone) instant(t testing.TB, wall time.Time) time.Time {
	t.Helper()
	for i, o := range tz {
		u := wall.Add(-time.Duration(o.to) * time.Second)
		if !u.Before(o.onset) && (i+1 == len(tz) || u.Before(tz[i+1].onset)) {
			return u
		}
	}
	t.Fatalf("wall time %s is not covered by the VTIMEZONE", wall.Format("2006-01-02 15:04:05"))
	return time.Time{}
}

// write runs Write and Marshal, checks the raw lines and parses the result.
func write(t testing.TB, method string, events []ical.Event) ([]byte, *component) {
	t.Helper()
	var buf bytes.Buffer
	if err := ical.Write(&buf, method, events); err != nil {
		t.Fatalf("Write: %v", err)
	}
	raw := buf.Bytes()
	if m := ical.Marshal(method, events); !bytes.Equal(m, raw) {
		t.Fatalf("Marshal and Write differ")
	}
	checkLines(t, raw)
	return raw, parse(t, raw)
}

// checkLines checks every physical line of raw: CRLF-terminated, no bare CR
// or LF, at most 75 octets, valid UTF-8 on its own (folding never splits a
// rune).
func checkLines(t testing.TB, raw []byte) {
	t.Helper()
	if !bytes.HasSuffix(raw, []byte("\r\n")) {
		t.Fatalf("output does not end with CRLF")
	}
	lines := bytes.Split(raw[:len(raw)-2], []byte("\r\n"))
	for i, l := range lines {
		if bytes.ContainsAny(l, "\r\n") {
			t.Errorf("line %d has a bare CR or LF: %q", i+1, l)
		}
		if len(l) > 75 {
			t.Errorf("line %d is %d octets: %q", i+1, len(l), l)
		}
		if !utf8.Valid(l) {
			t.Errorf("line %d is not valid UTF-8 on its own: %q", i+1, l)
		}
		if len(l) == 0 {
			t.Errorf("line %d is empty", i+1)
		}
	}
}

func mustLoad(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func event(t testing.TB, tzid string, start time.Time) ical.Event {
	t.Helper()
	return ical.Event{
		UID:      "r_1@slotline",
		Sequence: 1,
		Start:    start,
		End:      start.Add(15 * time.Minute),
		TZID:     tzid,
		Summary:  "Callback: Support",
		Status:   ical.StatusConfirmed,
		Stamp:    time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
	}
}

func TestWriteConfirmedRoundTrip(t *testing.T) {
	t.Parallel()
	berlin := mustLoad(t, "Europe/Berlin")
	e := ical.Event{
		UID:          "r_01JABC@slotline",
		Sequence:     3,
		Start:        time.Date(2026, 12, 1, 9, 0, 0, 0, berlin),
		End:          time.Date(2026, 12, 1, 9, 30, 0, 0, berlin),
		TZID:         "Europe/Berlin",
		Summary:      "Callback: Support — Billing question",
		Description:  "Reservation: r_01JABC\nStatus: scheduled\nNumber: +49*********12",
		Status:       ical.StatusConfirmed,
		Stamp:        time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC),
		Created:      time.Date(2026, 11, 19, 7, 0, 0, 0, time.FixedZone("x", 3600)),
		LastModified: time.Date(2026, 11, 20, 7, 59, 59, 0, time.UTC),
		Location:     "+49*********12",
		URL:          "https://slotline.example/api/v2/callbacks/r_01JABC",
	}
	_, cal := write(t, ical.MethodRequest, []ical.Event{e})

	if diff := cmp.Diff([]prop{
		{Name: "PRODID", Value: "-//Slotline//Slotline//EN"},
		{Name: "VERSION", Value: "2.0"},
		{Name: "CALSCALE", Value: "GREGORIAN"},
		{Name: "METHOD", Value: "REQUEST"},
	}, cal.Props); diff != "" {
		t.Errorf("VCALENDAR properties (-want +got):\n%s", diff)
	}
	if len(cal.Subs) != 2 || cal.Subs[0].Name != "VTIMEZONE" || cal.Subs[1].Name != "VEVENT" {
		t.Fatalf("components: want VTIMEZONE, VEVENT")
	}
	tzc, ev := cal.Subs[0], cal.Subs[1]
	if got := tzc.prop(t, "TZID").Value; got != "Europe/Berlin" {
		t.Errorf("TZID = %q", got)
	}

	tz := map[string]string{"TZID": "Europe/Berlin"}
	if diff := cmp.Diff([]prop{
		{Name: "UID", Value: "r_01JABC@slotline"},
		{Name: "DTSTAMP", Value: "20261120T080000Z"},
		{Name: "CREATED", Value: "20261119T060000Z"},
		{Name: "LAST-MODIFIED", Value: "20261120T075959Z"},
		{Name: "SEQUENCE", Value: "3"},
		{Name: "DTSTART", Params: tz, Value: "20261201T090000"},
		{Name: "DTEND", Params: tz, Value: "20261201T093000"},
		{Name: "SUMMARY", Value: "Callback: Support — Billing question"},
		{Name: "DESCRIPTION", Value: `Reservation: r_01JABC\nStatus: scheduled\nNumber: +49*********12`},
		{Name: "LOCATION", Value: "+49*********12"},
		{Name: "URL", Value: "https://slotline.example/api/v2/callbacks/r_01JABC"},
		{Name: "STATUS", Value: "CONFIRMED"},
		{Name: "TRANSP", Value: "OPAQUE"},
	}, ev.Props); diff != "" {
		t.Errorf("VEVENT properties (-want +got):\n%s", diff)
	}

	// Read back into an Event, field by field, with the zone resolved from
	// the VTIMEZONE alone.
	vtz := parseTimezone(t, tzc)
	got := ical.Event{
		UID:          unescape(t, ev.prop(t, "UID").Value),
		Sequence:     mustAtoi(t, ev.prop(t, "SEQUENCE").Value),
		Start:        vtz.instant(t, parseWall(t, ev.prop(t, "DTSTART").Value)),
		End:          vtz.instant(t, parseWall(t, ev.prop(t, "DTEND").Value)),
		TZID:         ev.prop(t, "DTSTART").Params["TZID"],
		Summary:      unescape(t, ev.prop(t, "SUMMARY").Value),
		Description:  unescape(t, ev.prop(t, "DESCRIPTION").Value),
		Status:       ev.prop(t, "STATUS").Value,
		Stamp:        parseUTC(t, ev.prop(t, "DTSTAMP").Value),
		Created:      parseUTC(t, ev.prop(t, "CREATED").Value),
		LastModified: parseUTC(t, ev.prop(t, "LAST-MODIFIED").Value),
		Location:     unescape(t, ev.prop(t, "LOCATION").Value),
		URL:          ev.prop(t, "URL").Value,
	}
	if diff := cmp.Diff(e, got, cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}

func mustAtoi(t testing.TB, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestWriteCancel(t *testing.T) {
	t.Parallel()
	e := event(t, "America/New_York", time.Date(2026, 6, 1, 14, 0, 0, 0, time.UTC))
	e.Status = ical.StatusCancelled
	e.Sequence = 7
	_, cal := write(t, ical.MethodCancel, []ical.Event{e})
	if got := cal.prop(t, "METHOD").Value; got != "CANCEL" {
		t.Errorf("METHOD = %q, want CANCEL", got)
	}
	ev := cal.subs("VEVENT")[0]
	if got := ev.prop(t, "STATUS").Value; got != "CANCELLED" {
		t.Errorf("STATUS = %q, want CANCELLED", got)
	}
	if got := ev.prop(t, "SEQUENCE").Value; got != "7" {
		t.Errorf("SEQUENCE = %q, want 7", got)
	}
	if got := ev.prop(t, "UID").Value; got != "r_1@slotline" {
		t.Errorf("UID = %q", got)
	}
}

func TestWriteFeedHasNoMethod(t *testing.T) {
	t.Parallel()
	_, cal := write(t, "", []ical.Event{event(t, "UTC", time.Date(2026, 6, 1, 14, 0, 0, 0, time.UTC))})
	if cal.has("METHOD") {
		t.Errorf("a feed has a METHOD")
	}
	_, cal = write(t, "publish", nil)
	if got := cal.prop(t, "METHOD").Value; got != "PUBLISH" {
		t.Errorf("METHOD = %q, want PUBLISH", got)
	}
	if n := len(cal.Subs); n != 0 {
		t.Errorf("an empty calendar has %d components", n)
	}
}

func TestContentType(t *testing.T) {
	t.Parallel()
	for method, want := range map[string]string{
		"":                 "text/calendar; charset=utf-8",
		ical.MethodRequest: "text/calendar; charset=utf-8; method=REQUEST",
		"cancel":           "text/calendar; charset=utf-8; method=CANCEL",
	} {
		if got := ical.ContentType(method); got != want {
			t.Errorf("ContentType(%q) = %q, want %q", method, got, want)
		}
	}
}

func TestFoldingMultibyte(t *testing.T) {
	t.Parallel()
	// Every alignment of two- and four-byte runes against the fold points.
	for pad := 0; pad < 8; pad++ {
		summary := strings.Repeat("x", pad) + strings.Repeat("Café ☎️ 🗓️ réunion — ", 12)
		e := event(t, "Europe/Paris", time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC))
		e.Summary = summary
		e.Description = strings.Repeat("é", 200) + strings.Repeat("😀", 80)
		raw, cal := write(t, ical.MethodRequest, []ical.Event{e})
		ev := cal.subs("VEVENT")[0]
		if got := unescape(t, ev.prop(t, "SUMMARY").Value); got != summary {
			t.Errorf("pad %d: summary = %q, want %q", pad, got, summary)
		}
		if got := unescape(t, ev.prop(t, "DESCRIPTION").Value); got != e.Description {
			t.Errorf("pad %d: description changed", pad)
		}
		if !bytes.Contains(raw, []byte("\r\n ")) {
			t.Errorf("pad %d: nothing was folded", pad)
		}
	}
}

func TestFoldingExactLengths(t *testing.T) {
	t.Parallel()
	// "SUMMARY:" is 8 octets: a 67-octet value fills the line exactly.
	for _, n := range []int{66, 67, 68, 67 + 74, 67 + 75, 500} {
		e := event(t, "", time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC))
		e.Summary = strings.Repeat("a", n)
		raw, cal := write(t, "", []ical.Event{e})
		if got := unescape(t, cal.subs("VEVENT")[0].prop(t, "SUMMARY").Value); got != e.Summary {
			t.Errorf("n=%d: summary changed", n)
		}
		folded := bytes.Contains(raw, []byte("SUMMARY:"+strings.Repeat("a", 67)+"\r\n "))
		if folded != (n > 67) {
			t.Errorf("n=%d: folded = %v", n, folded)
		}
	}
}

func TestEscaping(t *testing.T) {
	t.Parallel()
	e := event(t, "UTC", time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC))
	e.Summary = `a,b;c\d`
	e.Description = "line 1\nline 2\r\nline 3\rline 4\ttab\x00\x07\x7f end"
	e.Location = "Room 1, Floor 2; \\ North"
	e.UID = "weird;uid,1@slotline"
	e.URL = "https://example.com/a\r\nX-INJECTED:1"
	raw, cal := write(t, ical.MethodRequest, []ical.Event{e})
	ev := cal.subs("VEVENT")[0]

	for name, want := range map[string]string{
		"SUMMARY":     `a\,b\;c\\d`,
		"DESCRIPTION": `line 1\nline 2\nline 3\nline 4` + "\ttab" + ` end`,
		"LOCATION":    `Room 1\, Floor 2\; \\ North`,
		"UID":         `weird\;uid\,1@slotline`,
	} {
		if got := ev.prop(t, name).Value; got != want {
			t.Errorf("%s raw = %q, want %q", name, got, want)
		}
	}
	if got := unescape(t, ev.prop(t, "SUMMARY").Value); got != e.Summary {
		t.Errorf("summary = %q", got)
	}
	if got, want := unescape(t, ev.prop(t, "DESCRIPTION").Value), "line 1\nline 2\nline 3\nline 4\ttab end"; got != want {
		t.Errorf("description = %q, want %q", got, want)
	}
	if got := ev.prop(t, "URL").Value; got != "https://example.com/aX-INJECTED:1" {
		t.Errorf("URL = %q", got)
	}
	if bytes.Contains(raw, []byte("\r\nX-INJECTED")) {
		t.Errorf("a line break in the URL started a property")
	}
}

func TestRescheduleAcrossDST(t *testing.T) {
	t.Parallel()
	ny := mustLoad(t, "America/New_York")
	// Booked for Friday 6 March 2026 09:00 EST (14:00Z), moved to Tuesday
	// 10 March 09:00 EDT (13:00Z): clocks went forward on Sunday 8 March.
	before := event(t, "America/New_York", time.Date(2026, 3, 6, 9, 0, 0, 0, ny))
	after := before
	after.Start = time.Date(2026, 3, 10, 9, 0, 0, 0, ny)
	after.End = after.Start.Add(15 * time.Minute)
	after.Sequence = 2

	for _, c := range []struct {
		e        ical.Event
		wall     string
		utc      time.Time
		sequence string
	}{
		{before, "20260306T090000", time.Date(2026, 3, 6, 14, 0, 0, 0, time.UTC), "1"},
		{after, "20260310T090000", time.Date(2026, 3, 10, 13, 0, 0, 0, time.UTC), "2"},
	} {
		_, cal := write(t, ical.MethodRequest, []ical.Event{c.e})
		ev := cal.subs("VEVENT")[0]
		start := ev.prop(t, "DTSTART")
		if start.Value != c.wall || start.Params["TZID"] != "America/New_York" {
			t.Errorf("DTSTART = %+v, want TZID=America/New_York:%s", start, c.wall)
		}
		if got := ev.prop(t, "SEQUENCE").Value; got != c.sequence {
			t.Errorf("SEQUENCE = %s, want %s", got, c.sequence)
		}
		vtz := parseTimezone(t, cal.subs("VTIMEZONE")[0])
		if got := vtz.instant(t, parseWall(t, start.Value)); !got.Equal(c.utc) {
			t.Errorf("%s in the VTIMEZONE is %s, want %s", c.wall, got, c.utc)
		}
		end := vtz.instant(t, parseWall(t, ev.prop(t, "DTEND").Value))
		if !end.Equal(c.utc.Add(15 * time.Minute)) {
			t.Errorf("DTEND is %s", end)
		}

		// The spring-forward and fall-back of 2026 are there as RFC 5545
		// writes them: onset in the offset before the change.
		want := map[string]observance{
			"20260308T020000": {kind: "DAYLIGHT", from: -5 * 3600, to: -4 * 3600, name: "EDT"},
			"20261101T020000": {kind: "STANDARD", from: -4 * 3600, to: -5 * 3600, name: "EST"},
		}
		for _, s := range cal.subs("VTIMEZONE")[0].Subs {
			dt := s.prop(t, "DTSTART").Value
			w, ok := want[dt]
			if !ok {
				continue
			}
			delete(want, dt)
			got := observance{
				kind: s.Name,
				from: parseOffset(t, s.prop(t, "TZOFFSETFROM").Value),
				to:   parseOffset(t, s.prop(t, "TZOFFSETTO").Value),
				name: s.prop(t, "TZNAME").Value,
			}
			if got != w {
				t.Errorf("observance %s = %+v, want %+v", dt, got, w)
			}
		}
		if len(want) != 0 {
			t.Errorf("missing observances %v", want)
		}
	}
}

// TestTimezones checks each VTIMEZONE against Go's zone data at every
// quarter hour of the span it has to cover, and the shape of a few.
func TestTimezones(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		zone  string
		check func(t *testing.T, tz *component)
	}{
		{"UTC", func(t *testing.T, tz *component) {
			if len(tz.Subs) != 1 {
				t.Fatalf("%d observances, want 1", len(tz.Subs))
			}
			s := tz.Subs[0]
			got := fmt.Sprintf("%s %s %s %s %s", s.Name, s.prop(t, "DTSTART").Value,
				s.prop(t, "TZOFFSETFROM").Value, s.prop(t, "TZOFFSETTO").Value, s.prop(t, "TZNAME").Value)
			if want := "STANDARD 19700101T000000 +0000 +0000 UTC"; got != want {
				t.Errorf("observance = %q, want %q", got, want)
			}
		}},
		{"Asia/Kolkata", func(t *testing.T, tz *component) {
			if len(tz.Subs) != 1 || tz.Subs[0].Name != "STANDARD" {
				t.Fatalf("want one STANDARD")
			}
			if got := tz.Subs[0].prop(t, "TZOFFSETTO").Value; got != "+0530" {
				t.Errorf("TZOFFSETTO = %q, want +0530", got)
			}
			if got := tz.Subs[0].prop(t, "TZNAME").Value; got != "IST" {
				t.Errorf("TZNAME = %q, want IST", got)
			}
		}},
		{"Australia/Lord_Howe", func(t *testing.T, tz *component) {
			// Half-hour DST: +1030 standard, +1100 summer. 2026 summer
			// ends on Sunday 5 April at 02:00 (+1100) and starts on Sunday
			// 4 October at 02:00 (+1030).
			want := map[string]string{
				"STANDARD 20260405T020000 +1100": "+1030",
				"DAYLIGHT 20261004T020000 +1030": "+1100",
			}
			for _, s := range tz.Subs {
				k := s.Name + " " + s.prop(t, "DTSTART").Value + " " + s.prop(t, "TZOFFSETFROM").Value
				if w, ok := want[k]; ok {
					if got := s.prop(t, "TZOFFSETTO").Value; got != w {
						t.Errorf("%s: TZOFFSETTO = %s, want %s", k, got, w)
					}
					delete(want, k)
				}
			}
			if len(want) != 0 {
				t.Errorf("missing observances %v", want)
			}
		}},
		{"America/New_York", nil},
		{"Europe/Dublin", nil},      // negative DST in tzdata
		{"America/Santiago", nil},   // southern hemisphere, changes at 24:00
		{"Pacific/Chatham", nil},    // +1245/+1345
		{"Africa/Casablanca", nil},  // DST suspended during Ramadan
		{"America/Sao_Paulo", nil},  // dropped DST in 2019
		{"Asia/Kathmandu", nil},     // +0545
		{"Antarctica/Troll", nil},   // two-hour DST
		{"Europe/Moscow", nil},      // last change 2014
		{"America/St_Johns", nil},   // -0330/-0230
		{"Australia/Adelaide", nil}, // +0930/+1030
		{"Pacific/Kiritimati", nil}, // +14
		{"Etc/GMT+12", nil},         // -12, never changed
		{"America/Argentina/Salta", nil},
	} {
		t.Run(c.zone, func(t *testing.T) {
			t.Parallel()
			loc := mustLoad(t, c.zone)
			start := time.Date(2026, 3, 6, 9, 0, 0, 0, loc)
			e1 := event(t, c.zone, start)
			e2 := event(t, c.zone, start.AddDate(0, 8, 0)) // a later event widens the span
			_, cal := write(t, ical.MethodRequest, []ical.Event{e1, e2})
			tzs := cal.subs("VTIMEZONE")
			if len(tzs) != 1 {
				t.Fatalf("%d VTIMEZONEs, want 1", len(tzs))
			}
			if got := tzs[0].prop(t, "TZID").Value; got != c.zone {
				t.Errorf("TZID = %q", got)
			}
			vtz := parseTimezone(t, tzs[0])
			from, to := e1.Start.AddDate(-1, 0, 0), e2.End.AddDate(1, 0, 0)
			for u := from; !u.After(to); u = u.Add(15 * time.Minute) {
				_, want := u.In(loc).Zone()
				if got := vtz.offsetAt(t, u); got != want {
					t.Fatalf("offset at %s = %d, want %d", u.UTC(), got, want)
				}
			}
			for _, ev := range cal.subs("VEVENT") {
				wall := parseWall(t, ev.prop(t, "DTSTART").Value)
				got := vtz.instant(t, wall)
				if !got.Equal(e1.Start) && !got.Equal(e2.Start) {
					t.Errorf("DTSTART %s maps to %s", wall, got)
				}
			}
			if c.check != nil {
				c.check(t, tzs[0])
			}
		})
	}
}

func TestNoTZIDIsUTC(t *testing.T) {
	t.Parallel()
	e := event(t, "", time.Date(2026, 7, 1, 12, 30, 0, 0, mustLoad(t, "Asia/Tokyo")))
	_, cal := write(t, ical.MethodRequest, []ical.Event{e})
	if n := len(cal.subs("VTIMEZONE")); n != 0 {
		t.Errorf("%d VTIMEZONEs, want none", n)
	}
	ev := cal.subs("VEVENT")[0]
	if got := ev.prop(t, "DTSTART"); got.Value != "20260701T033000Z" || got.Params != nil {
		t.Errorf("DTSTART = %+v", got)
	}
	if got := ev.prop(t, "DTEND").Value; got != "20260701T034500Z" {
		t.Errorf("DTEND = %q", got)
	}
}

func TestOneTimezonePerZone(t *testing.T) {
	t.Parallel()
	day := time.Date(2026, 9, 1, 15, 0, 0, 0, time.UTC)
	events := []ical.Event{
		event(t, "Europe/Berlin", day),
		event(t, "America/Chicago", day),
		event(t, "Europe/Berlin", day.AddDate(0, 2, 0)),
		event(t, "", day),
	}
	_, cal := write(t, "", events)
	var ids []string
	for _, tz := range cal.subs("VTIMEZONE") {
		ids = append(ids, tz.prop(t, "TZID").Value)
	}
	if diff := cmp.Diff([]string{"Europe/Berlin", "America/Chicago"}, ids); diff != "" {
		t.Errorf("VTIMEZONEs (-want +got):\n%s", diff)
	}
	if n := len(cal.subs("VEVENT")); n != 4 {
		t.Errorf("%d VEVENTs, want 4", n)
	}
	// Every TZID a VEVENT uses has its VTIMEZONE, and the VTIMEZONEs come
	// before the events.
	if cal.Subs[0].Name != "VTIMEZONE" || cal.Subs[1].Name != "VTIMEZONE" {
		t.Errorf("VTIMEZONEs are not first")
	}
}

func TestWriteInvalid(t *testing.T) {
	t.Parallel()
	ok := event(t, "UTC", time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC))
	for name, c := range map[string]struct {
		method string
		edit   func(e *ical.Event)
	}{
		"method with CRLF":  {method: "REQUEST\r\nX:1"},
		"method with space": {method: "RE QUEST"},
		"no UID":            {edit: func(e *ical.Event) { e.UID = " " }},
		"negative sequence": {edit: func(e *ical.Event) { e.Sequence = -1 }},
		"no start":          {edit: func(e *ical.Event) { e.Start = time.Time{} }},
		"end before start":  {edit: func(e *ical.Event) { e.End = e.Start.Add(-time.Minute) }},
		"no stamp":          {edit: func(e *ical.Event) { e.Stamp = time.Time{} }},
		"bad status":        {edit: func(e *ical.Event) { e.Status = "DONE" }},
		"unknown zone":      {edit: func(e *ical.Event) { e.TZID = "Mars/Olympus_Mons" }},
		"Local zone":        {edit: func(e *ical.Event) { e.TZID = "Local" }},
		"zone with quote":   {edit: func(e *ical.Event) { e.TZID = `Europe/"Berlin` }},
		"year 10000":        {edit: func(e *ical.Event) { e.End = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := ok
			if c.edit != nil {
				c.edit(&e)
			}
			var buf bytes.Buffer
			if err := ical.Write(&buf, c.method, []ical.Event{e}); err == nil {
				t.Errorf("Write succeeded")
			}
			if buf.Len() != 0 {
				t.Errorf("Write wrote %d bytes", buf.Len())
			}
			if b := ical.Marshal(c.method, []ical.Event{e}); b != nil {
				t.Errorf("Marshal returned %d bytes", len(b))
			}
		})
	}
}

type failWriter struct{}

var errWrite = errors.New("disk full")

func (failWriter) Write([]byte) (int, error) { return 0, errWrite }

func TestWriteReturnsWriterError(t *testing.T) {
	t.Parallel()
	err := ical.Write(failWriter{}, "", []ical.Event{event(t, "UTC", time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC))})
	if !errors.Is(err, errWrite) {
		t.Errorf("err = %v, want %v", err, errWrite)
	}
}

func TestFromReservation(t *testing.T) {
	t.Parallel()
	la := mustLoad(t, "America/Los_Angeles")
	now := time.Date(2026, 4, 1, 12, 0, 0, 0, la)
	base := reservation.Reservation{
		ID:             "r_01JX",
		QueueID:        "q_1",
		TimeZone:       "America/Los_Angeles",
		CallbackNumber: "+14155550123",
		CustomerName:   "Ana Núñez",
		Slot:           reservation.Slot{Start: time.Date(2026, 4, 2, 9, 0, 0, 0, la), End: time.Date(2026, 4, 2, 9, 15, 0, 0, la)},
		Reason:         "Billing question",
		Status:         reservation.StatusScheduled,
		Version:        4,
		CreatedAt:      time.Date(2026, 3, 30, 10, 0, 0, 0, time.UTC),
		UpdatedAt:      time.Date(2026, 3, 31, 10, 0, 0, 0, time.UTC),
	}
	masked := reservation.MaskNumber(base.CallbackNumber)
	if masked == base.CallbackNumber || !strings.HasSuffix(masked, "23") {
		t.Fatalf("MaskNumber(%q) = %q", base.CallbackNumber, masked)
	}

	t.Run("Masked", func(t *testing.T) {
		t.Parallel()
		r := base
		got := ical.FromReservation(&r, "Support", false, now)
		want := ical.Event{
			UID:          "r_01JX@slotline",
			Sequence:     4,
			Start:        base.Slot.Start,
			End:          base.Slot.End,
			TZID:         "America/Los_Angeles",
			Summary:      "Callback: Support — Billing question",
			Description:  "Reservation: r_01JX\nStatus: scheduled\nNumber: " + masked + "\nCustomer: Ana Núñez",
			Status:       ical.StatusConfirmed,
			Stamp:        now.UTC(),
			Created:      base.CreatedAt,
			LastModified: base.UpdatedAt,
			Location:     masked,
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("event (-want +got):\n%s", diff)
		}
		raw, cal := write(t, ical.MethodRequest, []ical.Event{got})
		if bytes.Contains(raw, []byte("5550123")) {
			t.Errorf("the unmasked number is in the output")
		}
		ev := cal.subs("VEVENT")[0]
		if got := ev.prop(t, "DTSTART"); got.Value != "20260402T090000" || got.Params["TZID"] != "America/Los_Angeles" {
			t.Errorf("DTSTART = %+v", got)
		}
	})
	t.Run("ShowNumber", func(t *testing.T) {
		t.Parallel()
		r := base
		got := ical.FromReservation(&r, "Support", true, now)
		if got.Location != "+14155550123" || !strings.Contains(got.Description, "Number: +14155550123") {
			t.Errorf("number not shown: %+v", got)
		}
	})
	t.Run("NoReason", func(t *testing.T) {
		t.Parallel()
		r := base
		r.Reason = ""
		if got := ical.FromReservation(&r, "Support", false, now).Summary; got != "Callback: Support" {
			t.Errorf("summary = %q", got)
		}
		if got := ical.FromReservation(&r, "", false, now).Summary; got != "Callback" {
			t.Errorf("summary without queue = %q", got)
		}
	})
	t.Run("Status", func(t *testing.T) {
		t.Parallel()
		for _, s := range reservation.Statuses {
			r := base
			r.Status = s
			want := ical.StatusConfirmed
			if s == reservation.StatusCanceled || s == reservation.StatusFailed {
				want = ical.StatusCancelled
			}
			if got := ical.FromReservation(&r, "Support", false, now).Status; got != want {
				t.Errorf("%s: status = %s, want %s", s, got, want)
			}
		}
	})
}
