package web_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/slotline/slotline/internal/web"
)

// manageLink books through the page (query: more of the booking page's
// query) and returns the manage page's link.
func (b *bundle) manageLink(t *testing.T, phone string, query ...string) string {
	t.Helper()
	p := b.bookNoJS(t, "?date=2026-12-02"+strings.Join(query, ""), phone)
	href, _ := attr(links(p.doc, "Change or cancel")[0], "href")
	return href
}

func status(p page) string {
	if st := find(p.doc, withAttr("role", "status")); len(st) == 1 {
		return text(st[0])
	}
	return ""
}

func TestManage(t *testing.T) {
	t.Parallel()
	t.Run("view", func(t *testing.T) {
		t.Parallel()
		b := setup(t, options{})
		p := b.get(t, b.manageLink(t, "2015550123"))
		if p.status != http.StatusOK {
			t.Fatalf("%d %s", p.status, p.body)
		}
		checkPage(t, p, "en")
		checkHeaders(t, p, " https://shop.example")
		body := text(p.doc)
		for _, want := range []string{"+1********23", "Wednesday, December 2, 2026, 9:00 – 9:15 AM", "Booked"} {
			if !strings.Contains(body, want) {
				t.Errorf("manage page lacks %q: %s", want, body)
			}
		}
		if strings.Contains(p.body, "2015550123") || strings.Contains(p.body, "5550123") {
			t.Error("the full number is on the page")
		}
		for _, name := range []string{"Reschedule", "Cancel callback", "Stop text messages"} {
			if len(buttons(p.doc, name)) != 1 {
				t.Errorf("no button %q", name)
			}
		}
	})
	t.Run("zone", func(t *testing.T) {
		t.Parallel()
		b := setup(t, options{})
		// Booked in Berlin: the link opens the page in Berlin's time.
		link := b.manageLink(t, "2015550123", "&tz=Europe/Berlin")
		u, err := url.Parse(link)
		if err != nil {
			t.Fatal(err)
		}
		p := b.get(t, link)
		if body := text(p.doc); !strings.Contains(body, "Wednesday, December 2, 2026, 3:00 – 3:15 PM (Europe/Berlin)") {
			t.Errorf("booked in Berlin, the manage page reads %s", body)
		}
		checkPage(t, p, "en")
		sel := find(control(t, p.doc, "Time zone"), withAttr("selected", ""))
		if len(sel) != 1 || func() string { v, _ := attr(sel[0], "value"); return v }() != "Europe/Berlin" {
			t.Error("the time zone select does not show Europe/Berlin")
		}
		// The actions keep the zone.
		if f := formOf(ancestor(buttons(p.doc, "Reschedule")[0], "form")); f.Get("tz") != "Europe/Berlin" {
			t.Errorf("the Reschedule form sends tz %q", f.Get("tz"))
		}
		// The select changes it, through a GET of the page.
		zf := ancestor(control(t, p.doc, "Time zone"), "form")
		if len(buttons(zf, "Show times")) != 1 {
			t.Fatal("the time zone select has no button")
		}
		action, _ := attr(zf, "action")
		q := formOf(zf)
		q.Set("tz", "America/Los_Angeles")
		p = b.get(t, action+"?"+q.Encode())
		if body := text(p.doc); !strings.Contains(body, "Wednesday, December 2, 2026, 6:00 – 6:15 AM (America/Los Angeles)") {
			t.Errorf("in Los Angeles, the manage page reads %s", body)
		}
		// The link without a zone (the one in the SMS): the number's
		// zone, New Jersey's.
		p = b.get(t, u.Path)
		if body := text(p.doc); !strings.Contains(body, "Wednesday, December 2, 2026, 9:00 – 9:15 AM (America/New York)") {
			t.Errorf("without a zone, the manage page reads %s", body)
		}
	})
	t.Run("reschedule", func(t *testing.T) {
		t.Parallel()
		b := setup(t, options{})
		link := b.manageLink(t, "2015550123")
		m := b.get(t, link)
		f := ancestor(buttons(m.doc, "Reschedule")[0], "form")
		action, _ := attr(f, "action")
		rp := b.get(t, action+"?"+formOf(f).Encode())
		if rp.status != http.StatusOK {
			t.Fatalf("reschedule page %d", rp.status)
		}
		checkPage(t, rp, "en")
		for _, name := range []string{"Previous day", "Next day"} {
			if len(buttons(rp.doc, name)) != 1 {
				t.Errorf("no %q", name)
			}
		}
		// The next day, through the day navigation.
		nf := ancestor(buttons(rp.doc, "Next day")[0], "form")
		nav, _ := attr(nf, "action")
		q := formOf(nf)
		q.Set("date", "2026-12-03")
		rp = b.get(t, nav+"?"+q.Encode())
		if h := text(find(rp.doc, tag("h2"))[0]); h != "Thursday, December 3, 2026" {
			t.Fatalf("day %q", h)
		}
		rs := radios(t, rp.doc, "Available times")
		if len(rs) != 32 || labelOf(rp.doc, rs[4]) != "10:00 – 10:15 AM" {
			t.Fatalf("%d slots; fifth %q", len(rs), labelOf(rp.doc, rs[4]))
		}
		post, form := postForm(t, rp.doc, "Reschedule")
		v, _ := attr(rs[4], "value")
		form.Set("slot", v)
		done := b.follow(t, b.post(t, post, form))
		if st := status(done); !strings.Contains(st, "Your callback was moved to Thursday, December 3, 2026, 10:00 – 10:15 AM") {
			t.Errorf("status %q", st)
		}
		// A slot taken meanwhile: 409, the nearest free slots.
		b.apiCreate(t, "+12015550188", b.slot(2*24*60+75))
		rp = b.get(t, nav+"?"+q.Encode())
		post, form = postForm(t, rp.doc, "Reschedule")
		form.Set("slot", b.slot(2*24*60+75).Start.Format(time.RFC3339))
		res := b.post(t, post, form)
		if res.status != http.StatusConflict {
			t.Fatalf("full: %d %s", res.status, res.body)
		}
		if a := find(res.doc, withAttr("role", "alert")); len(a) != 1 || !describedBy(ancestor(a[0], "fieldset"), "slot-error") {
			t.Error("no alert tied to the slots")
		}
	})
	t.Run("cancel", func(t *testing.T) {
		t.Parallel()
		b := setup(t, options{})
		link := b.manageLink(t, "2015550123")
		m := b.get(t, link)
		f := ancestor(buttons(m.doc, "Cancel callback")[0], "form")
		if meth, _ := attr(f, "method"); meth != "get" {
			t.Fatal("the first Cancel callback posts: no confirmation step")
		}
		action, _ := attr(f, "action")
		confirm := b.get(t, action+"?"+formOf(f).Encode())
		checkPage(t, confirm, "en")
		checkHeaders(t, confirm, " https://shop.example")
		keep := links(confirm.doc, "Keep my callback")
		if len(keep) != 1 {
			t.Fatal("no Keep my callback link")
		}
		if href, _ := attr(keep[0], "href"); href != link {
			t.Errorf("keep link %q", href)
		}
		post, form := postForm(t, confirm.doc, "Cancel callback")
		done := b.follow(t, b.post(t, post, form))
		if st := status(done); st != "Your callback is canceled." {
			t.Errorf("status %q", st)
		}
		if !strings.Contains(text(done.doc), "Canceled") || len(buttons(done.doc, "Cancel callback")) != 0 || len(buttons(done.doc, "Reschedule")) != 0 {
			t.Error("a canceled callback still offers changes")
		}
	})
	t.Run("opt-out", func(t *testing.T) {
		t.Parallel()
		b := setup(t, options{})
		link := b.manageLink(t, "2015550123")
		post, form := postForm(t, b.get(t, link).doc, "Stop text messages")
		done := b.follow(t, b.post(t, post, form))
		if st := status(done); !strings.Contains(st, "no more text messages") {
			t.Errorf("status %q", st)
		}
		if len(buttons(done.doc, "Stop text messages")) != 0 || !strings.Contains(text(done.doc), "Stopped") {
			t.Error("still offers to stop text messages")
		}
		// Without a ticket: 403, and nothing changes.
		if res := b.post(t, post, nil); res.status != http.StatusForbidden {
			t.Errorf("opt-out without ticket: %d", res.status)
		}
	})
	t.Run("cutoff", func(t *testing.T) {
		t.Parallel()
		b := setup(t, options{deps: func(d *web.Deps) { d.FormTTL = 48 * time.Hour }})
		link, _ := url.Parse(b.manageLink(t, "2015550123"))
		post, form := postForm(t, b.get(t, link.Path+"/cancel?"+link.RawQuery).doc, "Cancel callback")
		// The slot is on December 2 at 9:00; changes end an hour before.
		b.advance(23*time.Hour + 30*time.Minute)
		res := b.post(t, post, form)
		if res.status != http.StatusConflict {
			t.Fatalf("after the cutoff: %d %s", res.status, res.body)
		}
		if a := find(res.doc, withAttr("role", "alert")); len(a) != 1 || !strings.Contains(text(a[0]), "too close") {
			t.Errorf("alert %v", a)
		}
	})
}

// TestLinkErrors: an unknown, a tampered and an expired token read alike
// (404, 404, 410), with nothing that tells whether a reservation exists.
func TestLinkErrors(t *testing.T) {
	t.Parallel()
	b := setup(t, options{})
	link := b.manageLink(t, "2015550123")
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	token := strings.TrimPrefix(u.Path, "/manage/")
	tampered := []byte(token)
	if tampered[5] == 'A' {
		tampered[5] = 'B'
	} else {
		tampered[5] = 'A'
	}
	unknown := b.get(t, "/manage/"+strings.Repeat("x", len(token)))
	bad := b.get(t, "/manage/"+string(tampered))
	short := b.get(t, "/manage/abc")
	b.advance(48 * time.Hour)
	expired := b.get(t, link)
	for _, c := range []struct {
		p      page
		status int
	}{{unknown, 404}, {bad, 404}, {short, 404}, {expired, 410}} {
		if c.p.status != c.status {
			t.Errorf("%s: %d, want %d", c.p.url, c.p.status, c.status)
		}
		checkHeaders(t, c.p, "")
		if c.p.body != unknown.body {
			t.Errorf("%s: the body differs from an unknown token's:\n%s\n%s", c.p.url, c.p.body, unknown.body)
		}
	}
	if !strings.Contains(text(unknown.doc), "This link does not work") {
		t.Errorf("text %q", text(unknown.doc))
	}
	if b.get(t, "/book/support/booked/"+token).status != http.StatusGone {
		t.Error("the booked page of an expired token is not 410")
	}
}

// TestBotGuard: with a proof verifier, a form with a proof must verify;
// one without (JavaScript off) must be MinFormAge old and within its
// address's limit.
func TestBotGuard(t *testing.T) {
	t.Parallel()
	b := setup(t, options{deps: func(d *web.Deps) {
		d.VerifyProof = func(_ context.Context, payload string) error {
			if payload != "good" {
				return errors.New("bad proof")
			}
			return nil
		}
		d.NoJSBurst = 1
	}})
	phone := "2015550123"
	try := func(minutes int, proof string, wait time.Duration) page {
		p := b.get(t, "/book/support")
		action, form := postForm(t, p.doc, "Reserve callback")
		form.Set("slot", b.slot(minutes).Start.Format(time.RFC3339))
		form.Set("phone", phone)
		form.Set("proof", proof)
		b.advance(wait)
		return b.post(t, action, form)
	}
	if p := try(15, "", 0); p.status != http.StatusBadRequest || !strings.Contains(status(p)+text(find(p.doc, withAttr("role", "alert"))[0]), "very quick") {
		t.Errorf("too fast: %d", p.status)
	}
	if p := try(15, "bad", 0); p.status != http.StatusBadRequest {
		t.Errorf("bad proof: %d", p.status)
	}
	if p := try(15, "good", 0); p.status != http.StatusSeeOther {
		t.Errorf("good proof: %d %s", p.status, p.body)
	}
	// A mistyped number does not spend the address's limit.
	phone = "12"
	if p := try(30, "", 4*time.Second); p.status != http.StatusUnprocessableEntity {
		t.Errorf("no proof, mistyped: %d", p.status)
	}
	phone = "2015550123"
	if p := try(30, "", 4*time.Second); p.status != http.StatusSeeOther {
		t.Errorf("no proof, slow: %d %s", p.status, p.body)
	}
	if p := try(45, "", 4*time.Second); p.status != http.StatusTooManyRequests {
		t.Errorf("no proof, over the address's limit: %d", p.status)
	}
	if p := try(45, "good", 0); p.status != http.StatusSeeOther {
		t.Errorf("with a proof the address's no-JS limit does not apply: %d", p.status)
	}
}
