package web

import (
	"strconv"
	"strings"
	"time"

	"github.com/slotline/slotline/internal/notify"
)

// The pages' dates and times follow CLDR's patterns for the shipped
// languages, built in like notify's (golang.org/x/text formats no dates):
//
//	     full date                      time range (interval format hm / Hm)
//	en   EEEE, MMMM d, y                h:mm – h:mm a, or h:mm a – h:mm a across noon
//	de   EEEE, d. MMMM y                HH:mm–HH:mm
//	fr   EEEE d MMMM y                  HH:mm – HH:mm
//	es   EEEE, d 'de' MMMM 'de' y       H:mm–H:mm
//
// CLDR puts thin or narrow no-break spaces around some dashes and before
// AM/PM; plain ASCII spaces are used here, as the widget does (it replaces
// them in Intl's output), so that a slot's accessible name is the same
// string on the page and in the widget.
var (
	monthNames = map[string][12]string{
		"en": {"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"},
		"de": {"Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober", "November", "Dezember"},
		"fr": {"janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre"},
		"es": {"enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre", "noviembre", "diciembre"},
	}
	dayNames = map[string][7]string{
		"en": {"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"},
		"de": {"Sonntag", "Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag"},
		"fr": {"dimanche", "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi"},
		"es": {"domingo", "lunes", "martes", "miércoles", "jueves", "viernes", "sábado"},
	}
)

// baseOf returns the language of a BCP 47 tag, "en" for one not shipped.
func baseOf(lang string) string {
	base, _, _ := strings.Cut(lang, "-")
	if _, ok := monthNames[base]; ok {
		return base
	}
	return "en"
}

// FormatDate writes the date of t (already in the zone to show) in CLDR's
// full date pattern of lang: en "Thursday, December 3, 2026", de
// "Donnerstag, 3. Dezember 2026", fr "jeudi 3 décembre 2026", es "jueves,
// 3 de diciembre de 2026". A language not shipped is written as en.
func FormatDate(t time.Time, lang string) string {
	l := baseOf(lang)
	day, month, d, y := dayNames[l][t.Weekday()], monthNames[l][t.Month()-1], strconv.Itoa(t.Day()), strconv.Itoa(t.Year())
	switch l {
	case "de":
		return day + ", " + d + ". " + month + " " + y
	case "fr":
		return day + " " + d + " " + month + " " + y
	case "es":
		return day + ", " + d + " de " + month + " de " + y
	}
	return day + ", " + month + " " + d + ", " + y
}

// FormatRange writes the time range [start, end) (already in the zone to
// show) in CLDR's interval format of lang with plain spaces: en
// "9:00 – 9:15 AM" ("11:45 AM – 12:00 PM" across noon), de "09:00–09:15",
// fr "09:00 – 09:15", es "9:00–9:15". A language not shipped is written as
// en.
func FormatRange(start, end time.Time, lang string) string {
	l := baseOf(lang)
	switch l {
	case "de", "es":
		return notify.ShortTime(start, l) + "–" + notify.ShortTime(end, l)
	case "fr":
		return notify.ShortTime(start, l) + " – " + notify.ShortTime(end, l)
	}
	if (start.Hour() < 12) == (end.Hour() < 12) {
		h := start.Hour() % 12
		if h == 0 {
			h = 12
		}
		return strconv.Itoa(h) + start.Format(":04") + " – " + notify.ShortTime(end, l)
	}
	return notify.ShortTime(start, l) + " – " + notify.ShortTime(end, l)
}

// formatWhen writes a slot with its date: the full date and the range.
func formatWhen(start, end time.Time, lang string) string {
	return FormatDate(start, lang) + ", " + FormatRange(start, end, lang)
}
