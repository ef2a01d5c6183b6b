package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/slotline/slotline/internal/booking"
	"github.com/slotline/slotline/internal/reservation"
)

// apiCreate books a slot for number as another client would.
func (b *bundle) apiCreate(t *testing.T, number string, slot reservation.Slot) {
	t.Helper()
	if _, err := b.book.Create(context.Background(), booking.Caller{ClientID: "website"}, &reservation.CreateRequest{
		QueueID: "support", CallbackNumber: number, Candidates: []reservation.Slot{slot},
		Channel: reservation.ChannelPreferences{Primary: "voice"}}); err != nil {
		t.Fatal(err)
	}
}

// TestBookRefusals: each refusal re-renders the form with the values
// entered, a role=alert region tied to its field by aria-describedby and
// focus on that field.
func TestBookRefusals(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name   string
		queue  func(*booking.Queue)
		before func(t *testing.T, b *bundle)
		phone  string
		slot   string // "" the first offered
		status int
		field  string // the id of the field the alert is tied to ("slots": the fieldset)
		alert  string
		// nearest: the radios are then the nearest free slots.
		nearest bool
	}{
		{name: "invalid number", phone: "12345", status: http.StatusUnprocessableEntity, field: "phone",
			alert: "This is not a phone number we can call."},
		{name: "no slot", phone: "2015550123", slot: "none", status: http.StatusUnprocessableEntity, field: "slots", alert: "Choose a time."},
		{name: "slot full", phone: "2015550123", status: http.StatusConflict, field: "slots", nearest: true,
			before: func(t *testing.T, b *bundle) { b.apiCreate(t, "+12015550111", b.slot(15)) },
			alert:  "Sorry, this time was just taken. These are the nearest free times."},
		{name: "closed", phone: "2015550123", slot: "2026-12-04T15:00:00Z", status: http.StatusUnprocessableEntity, field: "slots",
			nearest: true, alert: "We are closed at this time."},
		{name: "duplicate", phone: "2015550123", status: http.StatusConflict, field: "phone",
			queue:  func(q *booking.Queue) { q.Admission = reservation.Admission{Duplicates: reservation.DuplicatesStrict} },
			before: func(t *testing.T, b *bundle) { b.apiCreate(t, "+12015550123", b.slot(120)) },
			alert:  "This phone number already has a callback booked."},
		{name: "lenient duplicate", phone: "2015550123", status: http.StatusConflict, field: "phone",
			queue:  func(q *booking.Queue) { q.Admission = reservation.Admission{Duplicates: reservation.DuplicatesLenient} },
			before: func(t *testing.T, b *bundle) { b.apiCreate(t, "+12015550123", b.slot(120)) },
			alert:  "This phone number already has a callback booked."},
		{name: "throttled", phone: "2015550123", status: http.StatusTooManyRequests, field: "phone",
			queue: func(q *booking.Queue) {
				q.Admission = reservation.Admission{PerNumber: reservation.Limit{N: 1, Window: time.Hour}}
			},
			before: func(t *testing.T, b *bundle) {
				b.apiCreate(t, "+12015550123", b.slot(120))
				if _, err := b.book.Cancel(context.Background(), booking.Caller{All: true}, b.firstID(t), nil); err != nil {
					t.Fatal(err)
				}
			},
			alert: "Too many callbacks were booked for this number recently."},
		{name: "number not allowed", phone: "2015550123", status: http.StatusUnprocessableEntity, field: "phone",
			queue: func(q *booking.Queue) { q.NumberRules = &reservation.NumberRules{Countries: []string{"DE"}} },
			alert: "We cannot call this number."},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, options{queue: c.queue})
			p := b.get(t, "/book/support")
			action, form := postForm(t, p.doc, "Reserve callback")
			if c.before != nil {
				c.before(t, b)
			}
			switch c.slot {
			case "":
				v, _ := attr(radios(t, p.doc, "Available times")[0], "value")
				form.Set("slot", v)
			case "none":
			default:
				form.Set("slot", c.slot)
			}
			form.Set("phone", c.phone)
			form.Set("name", "Grace <Hopper>")
			form.Set("reason", "A question")
			res := b.post(t, action, form)
			if res.status != c.status {
				t.Fatalf("status %d, want %d\n%s", res.status, c.status, res.body)
			}
			checkPage(t, res, "en")
			checkHeaders(t, res, " https://shop.example")
			alerts := find(res.doc, withAttr("role", "alert"))
			if len(alerts) != 1 || !strings.HasPrefix(text(alerts[0]), c.alert) {
				t.Fatalf("alerts %d, want one starting %q: %s", len(alerts), c.alert, res.body)
			}
			id, _ := attr(alerts[0], "id")
			var field = byID(res.doc, c.field)
			if c.field == "slots" {
				field = ancestor(alerts[0], "fieldset")
			}
			if field == nil || !describedBy(field, id) {
				t.Errorf("the alert %q is not tied to %s", id, c.field)
			}
			focused := find(res.doc, withAttr("autofocus", ""))
			if len(focused) != 1 {
				t.Fatalf("%d autofocus", len(focused))
			}
			if c.field == "slots" {
				if typ, _ := attr(focused[0], "type"); typ != "radio" {
					t.Errorf("focus on %v, want a radio", focused[0].Attr)
				}
			} else if focused[0] != field {
				t.Errorf("focus on %v, want %s", focused[0].Attr, c.field)
			}
			if v, _ := attr(control(t, res.doc, "Name"), "value"); v != "Grace <Hopper>" {
				t.Errorf("name not kept: %q", v)
			}
			if v := text(control(t, res.doc, "Reason")); v != "A question" {
				t.Errorf("reason not kept: %q", v)
			}
			if v, _ := attr(control(t, res.doc, "Phone number"), "value"); v != c.phone {
				t.Errorf("phone not kept: %q", v)
			}
			if c.nearest {
				rs := radios(t, res.doc, "Available times")
				if len(rs) != 3 || len(find(ancestor(rs[0], "fieldset"), withAttr("class", "grid"))) == 0 {
					t.Errorf("%d nearest slots, want 3", len(rs))
				}
				for _, r := range rs {
					if v, _ := attr(r, "value"); v == form.Get("slot") {
						t.Errorf("the refused slot %s is offered", v)
					}
				}
			}
			if c.status == http.StatusTooManyRequests && res.header.Get("Retry-After") == "" {
				t.Error("no Retry-After")
			}
			// A refusal gives the form a fresh ticket: correcting it and
			// sending it again works (unless the refusal stands).
			if c.name == "invalid number" {
				_, again := postForm(t, res.doc, "Reserve callback")
				again.Set("phone", "+1 201 555 0123")
				if v := form.Get("slot"); v != "" {
					again.Set("slot", v)
				}
				if p := b.post(t, action, again); p.status != http.StatusSeeOther {
					t.Errorf("corrected form: %d %s", p.status, p.body)
				}
			}
		})
	}
}

func (b *bundle) firstID(t *testing.T) string {
	t.Helper()
	list, _, err := b.book.List(context.Background(), booking.Caller{All: true}, reservation.Filter{Limit: 1})
	if err != nil || len(list) == 0 {
		t.Fatalf("no reservation (%v)", err)
	}
	return list[0].ID
}

// TestCSRF: a post without a valid ticket for its form, or from another
// origin, is refused; an expired ticket asks to send the form again.
func TestCSRF(t *testing.T) {
	t.Parallel()
	b := setup(t, options{})
	p := b.get(t, "/book/support")
	action, form := postForm(t, p.doc, "Reserve callback")
	v, _ := attr(radios(t, p.doc, "Available times")[0], "value")
	form.Set("slot", v)
	form.Set("phone", "2015550123")
	with := func(key, val string) url.Values {
		f := url.Values{}
		for k, vs := range form {
			f[k] = vs
		}
		if val == "" {
			f.Del(key)
		} else {
			f.Set(key, val)
		}
		return f
	}
	ticket := form.Get("csrf")
	tampered := []byte(ticket)
	tampered[0] ^= 1
	for _, c := range []struct {
		name    string
		form    url.Values
		headers []string
	}{
		{name: "missing", form: with("csrf", "")},
		{name: "tampered", form: with("csrf", string(tampered))},
		{name: "garbage", form: with("csrf", "abc")},
		{name: "cross-origin Origin", form: form, headers: []string{"Origin", "https://evil.example", "Sec-Fetch-Site", ""}},
		{name: "cross-site", form: form, headers: []string{"Sec-Fetch-Site", "cross-site"}},
		{name: "same-site", form: form, headers: []string{"Sec-Fetch-Site", "same-site", "Origin", ""}},
	} {
		t.Run(c.name, func(t *testing.T) {
			res := b.post(t, action, c.form, c.headers...)
			if res.status != http.StatusForbidden {
				t.Fatalf("status %d, want 403\n%s", res.status, res.body)
			}
			checkHeaders(t, res, " https://shop.example")
			if n := len(find(res.doc, withAttr("name", "csrf"))); n != 0 {
				t.Error("the refusal offers a form")
			}
		})
	}
	// Another form's ticket: the manage page's opt-out ticket does not
	// book.
	mp := b.bookNoJS(t, "", "2015550144")
	manage, _ := attr(links(mp.doc, "Change or cancel")[0], "href")
	m := b.get(t, manage)
	_, opt := postForm(t, m.doc, "Stop text messages")
	if res := b.post(t, action, with("csrf", opt.Get("csrf"))); res.status != http.StatusForbidden {
		t.Errorf("another form's ticket: %d", res.status)
	}
	// The request's own origin passes.
	own := with("phone", "2015550155")
	own.Set("slot", b.slot(60).Start.Format(time.RFC3339))
	if res := b.post(t, action, own, "Origin", b.srv.URL, "Sec-Fetch-Site", ""); res.status != http.StatusSeeOther {
		t.Errorf("own origin: %d %s", res.status, res.body)
	}
	// Expired: 400, the form again with a fresh ticket.
	b.advance(3 * time.Hour)
	res := b.post(t, action, with("phone", "2015550166"))
	if res.status != http.StatusBadRequest {
		t.Fatalf("expired: %d", res.status)
	}
	if a := find(res.doc, withAttr("role", "alert")); len(a) != 1 || !strings.Contains(text(a[0]), "open for a long time") {
		t.Errorf("expired alert %v", a)
	}
	if _, again := postForm(t, res.doc, "Reserve callback"); again.Get("csrf") == ticket {
		t.Error("the ticket was not renewed")
	}
}
