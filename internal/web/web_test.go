package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/slotline/slotline/internal/booking"
	"github.com/slotline/slotline/internal/reservation"
	"github.com/slotline/slotline/internal/web"
)

// checkHeaders fails unless p has the security headers of every page.
func checkHeaders(t *testing.T, p page, frame string) {
	t.Helper()
	csp := p.header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "form-action 'self'",
		"base-uri 'none'", "frame-ancestors 'self'" + frame} {
		if !strings.Contains(csp, want) {
			t.Errorf("%s: CSP %q lacks %q", p.url, csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") {
		t.Errorf("%s: CSP allows unsafe-inline", p.url)
	}
	for k, want := range map[string]string{"Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"} {
		if got := p.header.Get(k); got != want {
			t.Errorf("%s: %s = %q, want %q", p.url, k, got, want)
		}
	}
	if p.doc != nil {
		for _, s := range find(p.doc, tag("script")) {
			if src, _ := attr(s, "src"); src == "" || text(s) != "" {
				t.Errorf("%s: inline script", p.url)
			}
		}
		if len(find(p.doc, tag("style"))) > 0 || len(find(p.doc, func(n *html.Node) bool { _, ok := attr(n, "style"); return ok })) > 0 {
			t.Errorf("%s: inline style", p.url)
		}
	}
}

// checkPage checks what every page has: lang, one h1, a main landmark.
func checkPage(t *testing.T, p page, lang string) {
	t.Helper()
	if p.doc == nil {
		t.Fatalf("%s: not HTML (%d): %s", p.url, p.status, p.body)
	}
	root := find(p.doc, tag("html"))[0]
	if got, _ := attr(root, "lang"); got != lang {
		t.Errorf("%s: html lang %q, want %q", p.url, got, lang)
	}
	if n := len(find(p.doc, tag("h1"))); n != 1 {
		t.Errorf("%s: %d h1", p.url, n)
	}
	if n := len(find(p.doc, tag("main"))); n != 1 {
		t.Errorf("%s: %d main", p.url, n)
	}
	ids := map[string]bool{}
	for _, n := range find(p.doc, func(n *html.Node) bool { _, ok := attr(n, "id"); return ok }) {
		id, _ := attr(n, "id")
		if ids[id] {
			t.Errorf("%s: id %q twice", p.url, id)
		}
		ids[id] = true
	}
	for _, n := range find(p.doc, func(n *html.Node) bool { _, ok := attr(n, "aria-describedby"); return ok }) {
		v, _ := attr(n, "aria-describedby")
		for _, id := range strings.Fields(v) {
			if !ids[id] {
				t.Errorf("%s: aria-describedby names %q, which is not on the page", p.url, id)
			}
		}
	}
	for _, n := range find(p.doc, func(n *html.Node) bool { return n.Data == "input" || n.Data == "select" || n.Data == "textarea" }) {
		if typ, _ := attr(n, "type"); typ != "hidden" && labelOf(p.doc, n) == "" {
			t.Errorf("%s: a %s without a label: %v", p.url, n.Data, n.Attr)
		}
	}
	for _, n := range find(p.doc, tag("button")) {
		if text(n) == "" {
			t.Errorf("%s: a button without a name", p.url)
		}
	}
}

func TestBookPageLocales(t *testing.T) {
	t.Parallel()
	b := setup(t, options{})
	for _, c := range []struct {
		name, path, acceptLanguage                             string
		lang, phone, submit, legend, prev, next, zoneLabel, tz string
		heading, firstSlot                                     string
	}{
		{name: "en", path: "/book/support", lang: "en", phone: "Phone number", submit: "Reserve callback", legend: "Available times",
			prev: "Previous day", next: "Next day", zoneLabel: "Time zone", tz: "America/New_York",
			heading: "Tuesday, December 1, 2026", firstSlot: "9:15 – 9:30 AM"},
		{name: "de by Accept-Language", path: "/book/support", acceptLanguage: "de-DE,de;q=0.9,en;q=0.5", lang: "de",
			phone: "Telefonnummer", submit: "Rückruf reservieren", legend: "Verfügbare Zeiten", prev: "Vorheriger Tag", next: "Nächster Tag",
			zoneLabel: "Zeitzone", tz: "Europe/Berlin", heading: "Dienstag, 1. Dezember 2026", firstSlot: "15:15–15:30"},
		{name: "fr by lang", path: "/book/support?lang=fr", acceptLanguage: "de", lang: "fr", phone: "Numéro de téléphone",
			submit: "Réserver le rappel", legend: "Horaires disponibles", prev: "Jour précédent", next: "Jour suivant",
			zoneLabel: "Fuseau horaire", tz: "Europe/Paris", heading: "mardi 1 décembre 2026", firstSlot: "15:15 – 15:30"},
		{name: "es in New York", path: "/book/support?lang=es&tz=America/New_York", lang: "es", phone: "Número de teléfono",
			submit: "Reservar llamada", legend: "Horarios disponibles", prev: "Día anterior", next: "Día siguiente",
			zoneLabel: "Zona horaria", tz: "America/New_York", heading: "martes, 1 de diciembre de 2026", firstSlot: "9:15–9:30"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := b.get(t, c.path, "Accept-Language", c.acceptLanguage)
			if p.status != http.StatusOK {
				t.Fatalf("status %d: %s", p.status, p.body)
			}
			checkPage(t, p, c.lang)
			checkHeaders(t, p, " https://shop.example")
			if h1 := text(find(p.doc, tag("h1"))[0]); h1 != "Acme Support" {
				t.Errorf("h1 %q", h1)
			}
			if h2 := find(p.doc, tag("h2")); len(h2) != 1 || text(h2[0]) != c.heading {
				t.Errorf("day heading %v, want %q", h2, c.heading)
			}
			for _, name := range []string{c.prev, c.next, c.submit} {
				if len(buttons(p.doc, name)) != 1 {
					t.Errorf("no button %q", name)
				}
			}
			for _, nav := range []string{c.prev, c.next} {
				if f := ancestor(buttons(p.doc, nav)[0], "form"); f == nil || func() string { m, _ := attr(f, "method"); return m }() != "get" {
					t.Errorf("%q is not in a GET form", nav)
				}
			}
			phone := control(t, p.doc, c.phone)
			if typ, _ := attr(phone, "type"); typ != "tel" {
				t.Errorf("phone type %q", typ)
			}
			hint, _ := attr(phone, "aria-describedby")
			if h := byID(p.doc, hint); h == nil || !strings.ContainsAny(text(h), "0123456789") {
				t.Errorf("phone hint %q missing or without an example", hint)
			}
			if _, ok := attr(control(t, p.doc, c.zoneLabel), "id"); !ok {
				t.Error("no time zone select")
			}
			sel := find(control(t, p.doc, c.zoneLabel), withAttr("selected", ""))
			if len(sel) != 1 || func() string { v, _ := attr(sel[0], "value"); return v }() != c.tz {
				t.Errorf("selected zone is not %s", c.tz)
			}
			rs := radios(t, p.doc, c.legend)
			if len(rs) == 0 || labelOf(p.doc, rs[0]) != c.firstSlot {
				t.Fatalf("first slot %q, want %q", labelOf(p.doc, rs[0]), c.firstSlot)
			}
			// 9:00 has begun: 31 slots from 9:15 to 17:00.
			if len(rs) != 31 {
				t.Errorf("%d slots, want 31", len(rs))
			}
			f := find(p.doc, withAttr("method", "post"))
			if len(f) != 1 {
				t.Fatal("no POST form")
			}
			if v, _ := attr(f[0], "data-challenge-url"); v != "/api/v2/challenge" {
				t.Errorf("data-challenge-url %q", v)
			}
			scripts := find(p.doc, withAttr("src", "/assets/js/book.js"))
			if len(scripts) != 1 || func() string { v, _ := attr(scripts[0], "type"); return v }() != "module" {
				t.Error("no module script /assets/js/book.js")
			}
		})
	}
}

// TestClosedDays: a holiday, a weekday without hours and a day past the
// horizon say why they offer nothing.
func TestClosedDays(t *testing.T) {
	t.Parallel()
	b := setup(t, options{})
	for date, want := range map[string]string{
		"2026-12-04": "Closed: holiday",
		"2026-12-06": "Closed on Sundays",
		"2026-12-30": "This day is too far ahead to book yet. Choose an earlier day.",
	} {
		p := b.get(t, "/book/support?tz=America/New_York&date="+date)
		if p.status != http.StatusOK {
			t.Fatalf("%s: %d", date, p.status)
		}
		if rs := radios(t, p.doc, "Available times"); len(rs) != 0 {
			t.Errorf("%s: %d slots offered", date, len(rs))
		}
		if cl := find(p.doc, withAttr("class", "closed")); len(cl) != 1 || text(cl[0]) != want {
			t.Errorf("%s: closed text %v, want %q", date, cl, want)
		}
	}
	// A full slot is not offered.
	if _, err := b.book.Create(context.Background(), booking.Caller{ClientID: "x"}, &reservation.CreateRequest{
		QueueID: "support", CallbackNumber: "+12015550100", Candidates: []reservation.Slot{b.slot(15)},
		Channel: reservation.ChannelPreferences{Primary: "voice"}}); err != nil {
		t.Fatal(err)
	}
	p := b.get(t, "/book/support")
	for _, r := range radios(t, p.doc, "Available times") {
		if labelOf(p.doc, r) == "9:15 – 9:30 AM" {
			t.Error("a full slot is offered")
		}
	}
}

// slot is the slot minutes after the clock's start.
func (b *bundle) slot(minutes int) reservation.Slot {
	s := start.Add(time.Duration(minutes) * time.Minute)
	return reservation.Slot{Start: s, End: s.Add(15 * time.Minute)}
}

// bookNoJS books the first offered slot through the form, as a browser
// without JavaScript does, and returns the booked page.
func (b *bundle) bookNoJS(t *testing.T, query, phone string) page {
	t.Helper()
	p := b.get(t, "/book/support"+query)
	action, form := postForm(t, p.doc, "Reserve callback")
	rs := radios(t, p.doc, "Available times")
	v, _ := attr(rs[0], "value")
	form.Set("slot", v)
	form.Set("phone", phone)
	form.Set("name", "Ada")
	form.Set("reason", "Billing")
	res := b.post(t, action, form)
	if res.status != http.StatusSeeOther {
		t.Fatalf("book: %d\n%s", res.status, res.body)
	}
	return b.follow(t, res)
}

func TestBookNoJS(t *testing.T) {
	t.Parallel()
	b := setup(t, options{})
	p := b.bookNoJS(t, "", "(201) 555-0123")
	if p.status != http.StatusOK {
		t.Fatalf("booked page %d: %s", p.status, p.body)
	}
	checkPage(t, p, "en")
	checkHeaders(t, p, " https://shop.example")
	st := find(p.doc, withAttr("role", "status"))
	if len(st) != 1 || !strings.Contains(text(st[0]), "Tuesday, December 1, 2026, 9:15 – 9:30 AM") {
		t.Fatalf("status region %v", st)
	}
	ls := links(p.doc, "Change or cancel")
	if len(ls) != 1 {
		t.Fatal("no link Change or cancel")
	}
	href, _ := attr(ls[0], "href")
	u, err := url.Parse(href)
	if err != nil {
		t.Fatal(err)
	}
	token, ok := strings.CutPrefix(u.Path, "/manage/")
	if !ok || token == "" {
		t.Fatalf("link %q", href)
	}
	// The manage page opens in the zone the time was booked in.
	if tz := u.Query().Get("tz"); tz != "America/New_York" {
		t.Errorf("link %q: tz %q, want the booking's zone", href, tz)
	}
	r, err := b.self.Open(context.Background(), token)
	if err != nil {
		t.Fatal(err)
	}
	if r.ClientID != web.ClientID || r.CallbackNumber != "+12015550123" || r.CustomerName != "Ada" || r.Reason != "Billing" ||
		r.Locale != "en" || !r.Channel.AllowSMS || !r.Slot.Start.Equal(b.slot(15).Start) {
		t.Errorf("reservation %+v", r)
	}
	evs, err := b.store.FindEvents(context.Background(), 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) == 0 || evs[0].Origin != reservation.OriginPage {
		t.Errorf("events %+v: want origin page", evs)
	}
}

// TestBookTwice: the same form sent twice (a double click, a reload)
// books once and both answers lead to the same booking.
func TestBookTwice(t *testing.T) {
	t.Parallel()
	b := setup(t, options{})
	p := b.get(t, "/book/support")
	action, form := postForm(t, p.doc, "Reserve callback")
	v, _ := attr(radios(t, p.doc, "Available times")[0], "value")
	form.Set("slot", v)
	form.Set("phone", "2015550123")
	first := b.post(t, action, form)
	second := b.post(t, action, form)
	if first.status != http.StatusSeeOther || second.status != http.StatusSeeOther {
		t.Fatalf("statuses %d, %d: %s", first.status, second.status, second.body)
	}
	if first.header.Get("Location") != second.header.Get("Location") {
		t.Errorf("locations %q, %q", first.header.Get("Location"), second.header.Get("Location"))
	}
	list, _, err := b.book.List(context.Background(), booking.Caller{All: true}, reservation.Filter{Limit: 10})
	if err != nil || len(list) != 1 {
		t.Fatalf("%d reservations (%v)", len(list), err)
	}
}

// TestAssetsAndUnknown: the style sheet is served through the API's
// handler; an unknown queue is a plain 404 page.
func TestAssetsAndUnknown(t *testing.T) {
	t.Parallel()
	b := setup(t, options{})
	css := b.get(t, "/assets/book.css")
	if css.status != http.StatusOK || !strings.HasPrefix(css.header.Get("Content-Type"), "text/css") ||
		css.header.Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(css.body, "prefers-reduced-motion") {
		t.Errorf("book.css: %d %v", css.status, css.header)
	}
	p := b.get(t, "/book/nope")
	if p.status != http.StatusNotFound {
		t.Fatalf("unknown queue: %d", p.status)
	}
	checkPage(t, p, "en")
	checkHeaders(t, p, "")
	if p := b.get(t, "/book/nope", "Accept-Language", "es"); p.status != http.StatusNotFound || !strings.Contains(text(p.doc), "Página no encontrada") {
		t.Errorf("unknown queue in Spanish: %d %s", p.status, text(p.doc))
	}
}

// TestBookGerman: a booking in German keeps its language through the
// POST (the form's lang), reads the number in the German national form
// and answers in German, in the German zone.
func TestBookGerman(t *testing.T) {
	t.Parallel()
	b := setup(t, options{})
	p := b.get(t, "/book/support?lang=de-AT")
	action, form := postForm(t, p.doc, "Rückruf reservieren")
	v, _ := attr(radios(t, p.doc, "Verfügbare Zeiten")[0], "value")
	form.Set("slot", v)
	form.Set("phone", "0664 123456")
	bad := b.post(t, action, url.Values{"csrf": {form.Get("csrf")}, "lang": {"de"}, "phone": {"1"}, "slot": {v}})
	checkPage(t, bad, "de")
	if a := find(bad.doc, withAttr("role", "alert")); len(a) != 1 || !strings.HasPrefix(text(a[0]), "Diese Telefonnummer") {
		t.Errorf("German alert: %v", a)
	}
	res := b.follow(t, b.post(t, action, form))
	checkPage(t, res, "de")
	if st := status(res); !strings.Contains(st, "Dienstag, 1. Dezember 2026, 15:15–15:30") || !strings.Contains(st, "Europe/Vienna") {
		t.Errorf("status %q", st)
	}
	if len(links(res.doc, "Ändern oder absagen")) != 1 {
		t.Error("no link Ändern oder absagen")
	}
	list, _, err := b.book.List(context.Background(), booking.Caller{All: true}, reservation.Filter{Limit: 1})
	if err != nil || len(list) != 1 || list[0].CallbackNumber != "+43664123456" || list[0].Locale != "de-AT" {
		t.Errorf("reservation %+v (%v)", *list[0], err)
	}
}
