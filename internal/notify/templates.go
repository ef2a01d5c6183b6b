package notify

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/slotline/slotline/internal/reservation"
)

// Placeholders a template may use.
const (
	// PlaceholderTime is the slot's start in the customer's zone (the
	// queue's when the number does not tell), written in the template's
	// language.
	PlaceholderTime = "{time}"
	// PlaceholderQueue is the queue's name.
	PlaceholderQueue = "{queue}"
	// PlaceholderReason is the reservation's reason (what the callback is
	// about, as booked), "" when it has none.
	PlaceholderReason = "{reason}"
	// PlaceholderManageURL is the reservation's self-service link. When
	// there is none, the template's line holding it is left out.
	PlaceholderManageURL = "{manage_url}"
)

// Placeholders lists the placeholders, as a message names them.
var Placeholders = []string{PlaceholderTime, PlaceholderQueue, PlaceholderReason, PlaceholderManageURL}

// placeholder matches what reads as a placeholder: a lower-case word in
// braces. Other braces are text.
var placeholder = regexp.MustCompile(`\{[a-z_]+\}`)

// CheckTemplate returns an error naming the first unknown placeholder in
// text, or nil.
func CheckTemplate(text string) error {
	for _, p := range placeholder.FindAllString(text, -1) {
		if !slices.Contains(Placeholders, p) {
			return fmt.Errorf("unknown placeholder %s; use %s", p, strings.Join(Placeholders, ", "))
		}
	}
	return nil
}

// Builtin holds the templates Slotline ships, by locale and kind: short,
// and in the GSM-7 alphabet but for a French month's accent (août).
var Builtin = map[string]map[string]string{
	"en": {
		KindConfirm: "Your callback from {queue} is booked for {time}.\nChange or cancel: {manage_url}",
		KindRemind:  "Reminder: {queue} will call you at {time}.\nChange or cancel: {manage_url}",
		KindCancel:  "Your callback from {queue} on {time} is canceled.",
		KindMissed:  "We tried to call you back but could not reach you. Reply or book a new time with {queue}.",
		KindMoved:   "{queue} had to move your callback to {time}.\nChange or cancel: {manage_url}",
	},
	"de": {
		KindConfirm: "Ihr Rückruf von {queue} ist für {time} geplant.\nÄndern oder absagen: {manage_url}",
		KindRemind:  "Erinnerung: {queue} ruft Sie am {time} an.\nÄndern oder absagen: {manage_url}",
		KindCancel:  "Ihr Rückruf von {queue} am {time} wurde abgesagt.",
		KindMissed:  "Wir haben versucht, Sie zurückzurufen, aber Sie nicht erreicht. Antworten Sie oder buchen Sie einen neuen Termin bei {queue}.",
		KindMoved:   "{queue} musste Ihren Rückruf auf {time} verlegen.\nÄndern oder absagen: {manage_url}",
	},
	"fr": {
		KindConfirm: "Votre rappel par {queue} est prévu le {time}.\nModifier ou annuler : {manage_url}",
		KindRemind:  "Rappel : {queue} vous appellera le {time}.\nModifier ou annuler : {manage_url}",
		KindCancel:  "Votre rappel par {queue} du {time} est annulé.",
		KindMissed:  "Nous avons essayé de vous rappeler, sans succès. Répondez ou reprenez rendez-vous avec {queue}.",
		KindMoved:   "{queue} a dû déplacer votre rappel au {time}.\nModifier ou annuler : {manage_url}",
	},
	"es": {
		KindConfirm: "Su llamada de {queue} queda programada para el {time}.\nCambiar o cancelar: {manage_url}",
		KindRemind:  "Recordatorio: su llamada de {queue} es el {time}.\nCambiar o cancelar: {manage_url}",
		KindCancel:  "Su llamada de {queue} del {time} se ha cancelado.",
		KindMissed:  "Intentamos llamarle pero no fue posible. Responda o reserve otra hora con {queue}.",
		KindMoved:   "{queue} ha tenido que mover su llamada al {time}.\nCambiar o cancelar: {manage_url}",
	},
}

// Templates are the messages by locale and kind: the configured ones over
// Builtin.
type Templates struct {
	custom map[string]map[string]string // locale → kind → text
}

// NewTemplates returns the templates with custom (locale → kind → text,
// checked with CheckTemplate; canonical BCP 47 locales) over Builtin.
func NewTemplates(custom map[string]map[string]string) *Templates {
	return &Templates{custom: custom}
}

// Chain returns the locales a message for locale falls back through, most
// specific first, ending with reservation.DefaultLocale: "fr-CA" gives
// fr-CA, fr, en.
func Chain(locale string) []string {
	var out []string
	for l := locale; l != ""; {
		out = append(out, l)
		i := strings.LastIndexByte(l, '-')
		if i < 0 {
			break
		}
		l = l[:i]
	}
	if !slices.Contains(out, reservation.DefaultLocale) {
		out = append(out, reservation.DefaultLocale)
	}
	return out
}

// Lookup returns the template of kind for locale and the locale it is
// written in: the first locale of Chain(locale) with a configured or a
// built-in template (configured first).
func (t *Templates) Lookup(kind, locale string) (text, lang string) {
	for _, l := range Chain(locale) {
		if s, ok := t.custom[l][kind]; ok {
			return s, l
		}
		if s, ok := Builtin[l][kind]; ok {
			return s, l
		}
	}
	return "", reservation.DefaultLocale
}

// Values are what a message's placeholders stand for.
type Values struct {
	// Time is the slot's start; Zone the customer's zone (else the
	// queue's) it is written in.
	Time time.Time
	Zone *time.Location
	// Queue is the queue's name, Reason the reservation's reason and
	// ManageURL its self-service link ("" when none).
	Queue, Reason, ManageURL string
}

// Render returns the message of kind for locale (see Lookup) with v in its
// placeholders. A line whose {manage_url} has no link is left out, and so
// are the blank lines this leaves at the end.
func (t *Templates) Render(kind, locale string, v Values) string {
	text, lang := t.Lookup(kind, locale)
	return Fill(text, lang, v)
}

// Fill replaces the placeholders of text, a template in language lang.
func Fill(text, lang string, v Values) string {
	zone := v.Zone
	if zone == nil {
		zone = time.UTC
	}
	r := strings.NewReplacer(PlaceholderTime, FormatTime(v.Time.In(zone), lang), PlaceholderQueue, v.Queue,
		PlaceholderReason, v.Reason, PlaceholderManageURL, v.ManageURL)
	lines := strings.Split(text, "\n")
	out := lines[:0]
	for _, line := range lines {
		if v.ManageURL == "" && strings.Contains(line, PlaceholderManageURL) {
			continue
		}
		out = append(out, strings.TrimRight(r.Replace(line), " "))
	}
	for len(out) > 0 && strings.TrimSpace(out[len(out)-1]) == "" {
		out = out[:len(out)-1]
	}
	return strings.Join(out, "\n")
}
