package console

import (
	"strconv"
	"time"
)

// The Capacity page writes a bucket as its day and time range in CLDR's
// abbreviated month-day-weekday pattern (MMMEd) and 24-hour interval
// format (Hm), built in for the console's languages (golang.org/x/text
// formats no dates), with plain spaces:
//
//	     day (MMMEd)     time range (Hm)   a bucket
//	en   EEE d MMM       HH:mm–HH:mm       Tue 2 Dec, 09:00–09:15
//	de   EEE, d. MMM     HH:mm–HH:mm       Di., 2. Dez., 09:00–09:15
//	fr   EEE d MMM       HH:mm – HH:mm     mar. 2 déc., 09:00 – 09:15
//	es   EEE, d MMM      H:mm–H:mm         mar, 2 dic, 9:00–9:15
//
// en follows en-GB (day before month, 24-hour clock), as operators'
// consoles do.
var (
	shortDays = map[string][7]string{
		"en": {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"},
		"de": {"So.", "Mo.", "Di.", "Mi.", "Do.", "Fr.", "Sa."},
		"fr": {"dim.", "lun.", "mar.", "mer.", "jeu.", "ven.", "sam."},
		"es": {"dom", "lun", "mar", "mié", "jue", "vie", "sáb"},
	}
	shortMonths = map[string][12]string{
		"en": {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"},
		"de": {"Jan.", "Feb.", "März", "Apr.", "Mai", "Juni", "Juli", "Aug.", "Sept.", "Okt.", "Nov.", "Dez."},
		"fr": {"janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc."},
		"es": {"ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sept", "oct", "nov", "dic"},
	}
)

// shortDay writes the day of t (already in the zone to show) as MMMEd:
// "Tue 2 Dec", "Di., 2. Dez.", "mar. 2 déc.", "mar, 2 dic".
func shortDay(t time.Time, lang string) string {
	if _, ok := shortDays[lang]; !ok {
		lang = "en"
	}
	wd, d, m := shortDays[lang][t.Weekday()], strconv.Itoa(t.Day()), shortMonths[lang][t.Month()-1]
	switch lang {
	case "de":
		return wd + ", " + d + ". " + m
	case "es":
		return wd + ", " + d + " " + m
	}
	return wd + " " + d + " " + m // en, fr
}

// clock writes the time of day of t in the 24-hour short time of lang:
// "09:00" (es "9:00").
func clock(t time.Time, lang string) string {
	if lang == "es" {
		return strconv.Itoa(t.Hour()) + t.Format(":04")
	}
	return t.Format("15:04")
}

// timeRange writes [start, end) of one day as Hm's interval: "09:00–09:15"
// (fr "09:00 – 09:15").
func timeRange(start, end time.Time, lang string) string {
	sep := "–"
	if lang == "fr" {
		sep = " – "
	}
	return clock(start, lang) + sep + clock(end, lang)
}

// bucketWhen writes a bucket with its day: "Tue 2 Dec, 09:00–09:15".
func bucketWhen(start, end time.Time, lang string) string {
	return shortDay(start, lang) + ", " + timeRange(start, end, lang)
}

// spanWhen writes a range that may cross days: as bucketWhen within a day
// (an end at the next midnight included), else both ends with their days.
func spanWhen(start, end time.Time, lang string) string {
	sy, sm, sd := start.Date()
	last := end.Add(-time.Nanosecond)
	if ey, em, ed := last.Date(); sy == ey && sm == em && sd == ed {
		return bucketWhen(start, end, lang)
	}
	sep := " – "
	return shortDay(start, lang) + ", " + clock(start, lang) + sep + shortDay(end, lang) + ", " + clock(end, lang)
}
