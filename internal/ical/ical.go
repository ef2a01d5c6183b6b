// SPDX-License-Identifier: Apache-2.0

// Package ical writes reservations as RFC 5545 iCalendar objects: the
// text/calendar bodies of calendar webhooks (RFC 5546 methods REQUEST and
// CANCEL) and the subscribable .ics feeds.
//
// The writer is small and hand-made. It folds content lines at 75 octets
// without splitting a UTF-8 sequence, ends every line with CRLF, escapes TEXT
// values, writes DTSTART and DTEND as wall-clock times in the event's IANA
// zone (DTSTART;TZID=America/New_York:20261201T090000) and adds one
// VTIMEZONE per zone used, generated from Go's tz data so that a calendar
// client needs no zone database of its own to place the event.
package ical

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// ProdID is the PRODID of every calendar Slotline writes.
const ProdID = "-//Slotline//Slotline//EN"

// The METHOD values Slotline uses (RFC 5546).
//
// A calendar webhook for a created or changed reservation is a REQUEST and
// one for a canceled reservation is a CANCEL. A subscribed feed
// (calendar.ics) is not an iTIP message and carries no METHOD at all: pass
// the empty method, which is what calendar apps expect of a webcal feed.
// MethodPublish exists for receivers that insist on one.
const (
	MethodRequest = "REQUEST"
	MethodCancel  = "CANCEL"
	MethodPublish = "PUBLISH"
)

// The VEVENT STATUS values (RFC 5545 §3.8.1.11).
const (
	StatusTentative = "TENTATIVE"
	StatusConfirmed = "CONFIRMED"
	StatusCancelled = "CANCELLED"
)

// maxLine is the longest a content line may be, in octets, not counting the
// CRLF (RFC 5545 §3.1).
const maxLine = 75

// Event is one reservation as a calendar event (a VEVENT).
type Event struct {
	// UID identifies the event across every version of it; it must not be
	// empty. Slotline uses "<reservation id>@slotline".
	UID string
	// Sequence is the revision number; it increases with every change
	// (Slotline uses the reservation's version) and must not be negative.
	Sequence int
	// Start and End bound the event; End must not be before Start.
	Start, End time.Time
	// TZID is the IANA zone DTSTART and DTEND are written in, with a
	// matching VTIMEZONE. Empty means UTC written with a Z suffix and no
	// VTIMEZONE.
	TZID string
	// Summary is the title, e.g. "Callback: Support — Billing question".
	Summary string
	// Description is free text; newlines are kept.
	Description string
	// Status is StatusConfirmed, StatusCancelled, StatusTentative or empty
	// (no STATUS property).
	Status string
	// Stamp is the DTSTAMP: when this object was created. It must be set.
	Stamp time.Time
	// Created and LastModified are written when not zero.
	Created, LastModified time.Time
	// Location is written when not empty, e.g. the masked phone number.
	Location string
	// URL is written when not empty.
	URL string
}

// ContentType returns the media type of a calendar written with method:
// "text/calendar; charset=utf-8" followed by "; method=REQUEST" and the
// like when method is not empty, as RFC 5545 §8.1 asks of iTIP messages.
func ContentType(method string) string {
	if method == "" {
		return "text/calendar; charset=utf-8"
	}
	return "text/calendar; charset=utf-8; method=" + strings.ToUpper(method)
}

// Write writes a VCALENDAR holding events to w: PRODID, VERSION 2.0,
// CALSCALE GREGORIAN, METHOD (omitted when method is empty, see
// MethodRequest), one VTIMEZONE for each distinct TZID in the order the
// zones first appear, and one VEVENT per event in order.
//
// Write returns an error, and writes nothing, when method is not an iCalendar
// token, when an event is invalid (no UID or DTSTAMP, a negative sequence,
// End before Start, an unknown status, a year outside 1–9999) or names a zone
// Go does not know; otherwise it returns only w's error.
func Write(w io.Writer, method string, events []Event) error {
	b, err := marshal(method, events)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// Marshal returns what Write would write, or nil when Write would report an
// invalid method or event (call Write to learn why).
func Marshal(method string, events []Event) []byte {
	b, err := marshal(method, events)
	if err != nil {
		return nil
	}
	return b
}

func marshal(method string, events []Event) ([]byte, error) {
	method = strings.ToUpper(method)
	if method != "" && !isToken(method) {
		return nil, fmt.Errorf("ical: invalid method %q", method)
	}
	for i := range events {
		if err := validate(&events[i]); err != nil {
			return nil, fmt.Errorf("ical: event %d (%q): %w", i, events[i].UID, err)
		}
	}
	zones, err := collectZones(events)
	if err != nil {
		return nil, err
	}

	var b writer
	b.line("BEGIN:VCALENDAR")
	b.line("PRODID:" + ProdID)
	b.line("VERSION:2.0")
	b.line("CALSCALE:GREGORIAN")
	if method != "" {
		b.line("METHOD:" + method)
	}
	for _, z := range zones {
		writeTimezone(&b, z)
	}
	for i := range events {
		e := &events[i]
		var loc *time.Location
		if e.TZID != "" {
			loc = zoneByID(zones, e.TZID).loc
		}
		writeEvent(&b, e, loc)
	}
	b.line("END:VCALENDAR")
	return b.buf.Bytes(), nil
}

func validate(e *Event) error {
	switch {
	case strings.TrimSpace(e.UID) == "":
		return errors.New("missing UID")
	case e.Sequence < 0:
		return errors.New("negative sequence")
	case e.Start.IsZero() || e.End.IsZero():
		return errors.New("missing start or end")
	case e.End.Before(e.Start):
		return errors.New("end before start")
	case e.Stamp.IsZero():
		return errors.New("missing DTSTAMP")
	}
	switch e.Status {
	case "", StatusTentative, StatusConfirmed, StatusCancelled:
	default:
		return fmt.Errorf("invalid status %q", e.Status)
	}
	for _, t := range []time.Time{e.Start, e.End, e.Stamp, e.Created, e.LastModified} {
		if t.IsZero() {
			continue
		}
		// A year must have four digits in any zone (the zone shifts it by
		// at most a day).
		if y := t.UTC().Year(); y < 2 || y > 9998 {
			return fmt.Errorf("time %s out of range", t.UTC().Format(time.RFC3339))
		}
	}
	return nil
}

func writeEvent(b *writer, e *Event, loc *time.Location) {
	b.line("BEGIN:VEVENT")
	b.line("UID:" + escapeText(e.UID))
	b.line("DTSTAMP:" + utcTime(e.Stamp))
	if !e.Created.IsZero() {
		b.line("CREATED:" + utcTime(e.Created))
	}
	if !e.LastModified.IsZero() {
		b.line("LAST-MODIFIED:" + utcTime(e.LastModified))
	}
	b.line("SEQUENCE:" + strconv.Itoa(e.Sequence))
	if loc == nil {
		b.line("DTSTART:" + utcTime(e.Start))
		b.line("DTEND:" + utcTime(e.End))
	} else {
		param := ";TZID=" + paramValue(e.TZID)
		b.line("DTSTART" + param + ":" + localTime(e.Start.In(loc)))
		b.line("DTEND" + param + ":" + localTime(e.End.In(loc)))
	}
	if e.Summary != "" {
		b.line("SUMMARY:" + escapeText(e.Summary))
	}
	if e.Description != "" {
		b.line("DESCRIPTION:" + escapeText(e.Description))
	}
	if e.Location != "" {
		b.line("LOCATION:" + escapeText(e.Location))
	}
	if u := stripControls(e.URL); u != "" {
		b.line("URL:" + u)
	}
	if e.Status != "" {
		b.line("STATUS:" + e.Status)
	}
	b.line("TRANSP:OPAQUE")
	b.line("END:VEVENT")
}

// writer accumulates folded content lines.
type writer struct{ buf bytes.Buffer }

// line writes one content line, folded: a line longer than 75 octets goes
// on in continuation lines that start with a space, each at most 75 octets
// including that space, and never splits a UTF-8 sequence.
func (w *writer) line(s string) {
	limit := maxLine
	for len(s) > limit {
		cut := limit
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		w.buf.WriteString(s[:cut])
		w.buf.WriteString("\r\n ")
		s = s[cut:]
		limit = maxLine - 1
	}
	w.buf.WriteString(s)
	w.buf.WriteString("\r\n")
}

// escapeText renders s as an RFC 5545 TEXT value (§3.3.11): backslash,
// semicolon and comma are escaped, every kind of line break becomes \n,
// other control characters are dropped and invalid UTF-8 is replaced.
func escapeText(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\', c == ';', c == ',':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c == '\r':
			if i+1 < len(s) && s[i+1] == '\n' {
				i++
			}
			b.WriteString(`\n`)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\t':
			b.WriteByte(c)
		case c < 0x20 || c == 0x7f:
			// CONTROL characters are not allowed in TEXT.
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// stripControls drops control characters (and so line breaks) from a value
// that is written verbatim, such as a URI.
func stripControls(s string) string {
	s = strings.ToValidUTF8(s, "")
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
}

// paramValue renders a parameter value, quoted when it holds a character
// that would end it (RFC 5545 §3.2). Zone names never hold a DQUOTE or a
// control character: collectZones refuses them.
func paramValue(s string) string {
	if strings.ContainsAny(s, ":;,") {
		return `"` + s + `"`
	}
	return s
}

// isToken reports whether s is an iana-token: letters, digits and hyphens.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func utcTime(t time.Time) string { return t.UTC().Format("20060102T150405Z") }

func localTime(t time.Time) string { return t.Format("20060102T150405") }
