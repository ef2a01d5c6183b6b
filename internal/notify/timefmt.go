package notify

import (
	"strconv"
	"strings"
	"time"
)

// The date and time in a message follow CLDR's medium date and short time
// patterns, joined by the medium date-time pattern, for the languages
// below. They are built in (golang.org/x/text formats no dates), not read
// from CLDR data; another language gets the ISO-like "2006-01-02 15:04".
//
//	en  MMM d, y, h:mm a   Dec 3, 2026, 2:30 PM
//	de  dd.MM.y, HH:mm     03.12.2026, 14:30
//	fr  d MMM y, HH:mm     3 déc. 2026, 14:30
//	es  d MMM y, H:mm      3 dic 2026, 14:30
//
// CLDR puts a narrow no-break space before en's AM/PM; a plain space is
// used here, which every SMS alphabet has.
var months = map[string][12]string{
	"en": {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"},
	"fr": {"janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc."},
	"es": {"ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sept", "oct", "nov", "dic"},
}

// FormatTime writes t (already in the zone to show) in the medium date and
// short time of lang, a BCP 47 tag whose language is read ("fr-CA" is
// French).
func FormatTime(t time.Time, lang string) string {
	base, _, _ := strings.Cut(lang, "-")
	var b strings.Builder
	switch base {
	case "en":
		b.WriteString(months["en"][t.Month()-1])
		b.WriteByte(' ')
		b.WriteString(strconv.Itoa(t.Day()))
		b.WriteString(", ")
		b.WriteString(strconv.Itoa(t.Year()))
		b.WriteString(", ")
		b.WriteString(ShortTime(t, lang))
	case "de":
		b.WriteString(t.Format("02.01.2006, "))
		b.WriteString(ShortTime(t, lang))
	case "fr":
		b.WriteString(strconv.Itoa(t.Day()))
		b.WriteByte(' ')
		b.WriteString(months["fr"][t.Month()-1])
		b.WriteByte(' ')
		b.WriteString(strconv.Itoa(t.Year()))
		b.WriteString(", ")
		b.WriteString(ShortTime(t, lang))
	case "es":
		b.WriteString(strconv.Itoa(t.Day()))
		b.WriteByte(' ')
		b.WriteString(months["es"][t.Month()-1])
		b.WriteByte(' ')
		b.WriteString(strconv.Itoa(t.Year()))
		b.WriteString(", ")
		b.WriteString(ShortTime(t, lang))
	default:
		b.WriteString(t.Format("2006-01-02 15:04"))
	}
	return b.String()
}

// ShortTime writes the time of day of t (already in the zone to show) in
// CLDR's short time pattern of lang: en h:mm a ("2:30 PM"), de and fr
// HH:mm ("14:30", "09:05"), es H:mm ("9:05"); another language HH:mm.
func ShortTime(t time.Time, lang string) string {
	base, _, _ := strings.Cut(lang, "-")
	switch base {
	case "en":
		h := t.Hour() % 12
		if h == 0 {
			h = 12
		}
		if t.Hour() < 12 {
			return strconv.Itoa(h) + t.Format(":04") + " AM"
		}
		return strconv.Itoa(h) + t.Format(":04") + " PM"
	case "es":
		return strconv.Itoa(t.Hour()) + t.Format(":04")
	}
	return t.Format("15:04")
}
