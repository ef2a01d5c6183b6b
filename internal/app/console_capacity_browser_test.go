// The console's Capacity page of issue 16 in headless Chromium, against
// serve in sandbox mode: the heatmap reflects bookings made through the
// API and a cell's accessible name changes without a reload when one more
// is booked; a supervisor's capacity override is seen by the availability
// API, the over-capacity list offers the move, which moves the
// reservations and texts their customers (the simulator's SMS records); a
// viewer has no change controls and a forged change is refused; axe-core
// on every state. With SLOTLINE_SCREENSHOTS=1 the heatmap is written to
// docs/screenshots/console-capacity.png.

package app

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/slotline/slotline/internal/browsertest"
	"github.com/slotline/slotline/internal/password"
)

// capacityServe runs serve in sandbox mode with queue q1 (New York, 24/7,
// capacity 3 per 15 minutes), the supervisor ada and the viewer vic.
func capacityServe(t *testing.T) (*sandboxServer, string) {
	t.Helper()
	s, token := serveConfig(t, "clients:\n  - id: web\n    secret: sandbox-secret-0123456789\n    scopes: [callback:read, callback:write]\n"+
		"operators:\n"+
		"  - {username: ada, password_hash: '"+password.New("ada-secret-pw")+"', role: supervisor, queues: [q1]}\n"+
		"  - {username: vic, password_hash: '"+password.New("vic-secret-pw")+"', role: viewer}\n"+
		"genesys:\n  sandbox: {}\n"+
		"queues:\n  - {id: q1, name: Support, timezone: America/New_York, hours: 24/7, capacity: 3}\n")
	return s, token
}

// bookSlot books a reservation of q1 in the 15-minute slot at start.
func bookSlot(t *testing.T, s *sandboxServer, token string, start time.Time, number string) string {
	t.Helper()
	var created struct {
		ID string `json:"id"`
	}
	req := fmt.Sprintf(`{"callback_number":%q,"queue_id":"q1","time_slot_matrix":[{"start":%q,"end":%q}],
	  "channel_preferences":{"primary":"voice","allow_sms":true}}`, number,
		start.UTC().Format(time.RFC3339), start.Add(15*time.Minute).UTC().Format(time.RFC3339))
	if st := s.call("POST", "/api/v2/callbacks", token, req, &created); st != 201 {
		t.Fatalf("create at %s: %d", start, st)
	}
	time.Sleep(2 * time.Millisecond) // distinct created_at: the order "booked last" reads
	return created.ID
}

// cellName is the heatmap cell's accessible name of the bucket at start
// in New York, in English: "Tue 2 Dec, 09:00–09:15: 3 of 10 booked".
func cellName(start time.Time, booked, capacity int) string {
	loc, _ := time.LoadLocation("America/New_York")
	st := start.In(loc)
	return fmt.Sprintf("%s–%s: %d of %d booked", st.Format("Mon 2 Jan, 15:04"), st.Add(15*time.Minute).Format("15:04"), booked, capacity)
}

func signInAs(b *browsertest.Browser, base, user, pw string) {
	b.Go(base + "/console/login")
	b.Fill("textbox", "Username", user)
	b.Fill("textbox", "Password", pw)
	b.ClickNavigate("button", "Sign in")
	b.WaitFor("button", "Sign out")
}

// postFrom posts a form from the page with fetch (the browser's cookies,
// Origin and Sec-Fetch-Site) and returns the status; withCSRF adds the
// page's own CSRF token.
func postFrom(b *browsertest.Browser, path string, fields url.Values, withCSRF bool) int {
	var status int
	csrf := "''"
	if withCSRF {
		csrf = `document.querySelector('input[name=csrf]').value`
	}
	b.Eval(fmt.Sprintf(`(async () => {
		const body = new URLSearchParams(%q);
		const token = %s;
		if (token) body.set('csrf', token);
		const r = await fetch(%q, {method: 'POST', body, redirect: 'manual'});
		return r.status;
	})()`, fields.Encode(), csrf, path), &status)
	return status
}

// TestBrowserCapacity: the supervisor's whole flow.
func TestBrowserCapacity(t *testing.T) {
	t.Parallel()
	s, token := capacityServe(t)
	slot := time.Now().Truncate(15 * time.Minute).Add(48 * time.Hour)
	ids := []string{
		bookSlot(t, s, token, slot, "+14155550121"),
		bookSlot(t, s, token, slot, "+14155550122"),
	}
	b := browsertest.New(t, browsertest.Locale("en-US"))
	signInAs(b, s.base, "ada", "ada-secret-pw")
	b.Go(s.base + "/console/queues/q1/capacity")
	b.WaitFor("heading", "Capacity: Support")
	b.WaitFor("cell", cellName(slot, 2, 3))
	b.WaitFor("cell", cellName(slot.Add(15*time.Minute), 0, 3))
	checkPage(t, b)
	// The screenshot shows the booked slot: the heatmap scrolled to it.
	b.Eval(fmt.Sprintf(`document.getElementById('b%d').scrollIntoView({block: 'nearest', inline: 'center'})`, slot.Unix()), nil)
	screenshot(b, "console-capacity")

	// One more booked through the API: the cell's name follows, no reload.
	b.Eval(`window.slotlineMarker = 'not reloaded'`, nil)
	ids = append(ids, bookSlot(t, s, token, slot, "+14155550123"))
	b.WaitFor("cell", cellName(slot, 3, 3))
	var marker string
	b.Eval(`window.slotlineMarker || ''`, &marker)
	if marker != "not reloaded" {
		t.Error("the page was reloaded to show the new booking")
	}
	if got := b.Attr("cell", cellName(slot, 3, 3), "class"); got != "full" {
		t.Errorf("the full cell's class is %q", got)
	}

	// A post without the CSRF token is refused.
	if st := postFrom(b, "/console/queues/q1/capacity/overrides", url.Values{"date": {"2030-01-01"}, "from": {"10:00"},
		"to": {"11:00"}, "capacity": {"1"}, "reason": {"no token"}}, false); st != http.StatusForbidden {
		t.Errorf("override without CSRF token: %d, want 403", st)
	}

	// The form's error state: no reason.
	b.ClickNavigate("button", "Set capacity")
	b.WaitFor("alert", "")
	if got := b.Text("alert", ""); !strings.Contains(got, "not changed") {
		t.Errorf("alert %q", got)
	}
	checkPage(t, b)

	// Close down to 1 the bucket holding three: the last two are over.
	for _, id := range ids {
		waitSynced(t, s, token, id, slot)
	}
	loc, _ := time.LoadLocation("America/New_York")
	st, en := slot.In(loc), slot.Add(15*time.Minute).In(loc)
	b.Eval(fmt.Sprintf(`(() => {
		document.getElementById('f-date').value = %q;
		document.getElementById('f-from').value = %q;
		document.getElementById('f-to').value = %q;
	})()`, st.Format(time.DateOnly), st.Format("15:04"), en.Format("15:04")), nil)
	b.Fill("spinbutton", "Capacity", "1")
	b.Fill("textbox", "Reason", "three agents short")
	b.ClickNavigate("button", "Set capacity")
	b.WaitFor("status", "")
	if got := b.Text("status", ""); got != "The capacity was changed." {
		t.Errorf("status %q", got)
	}
	var avail struct {
		Slots []struct {
			Capacity, Used int
		} `json:"slots"`
	}
	if code := s.call("GET", "/api/v2/queues/q1/availability?from="+url.QueryEscape(slot.UTC().Format(time.RFC3339))+
		"&to="+url.QueryEscape(slot.Add(15*time.Minute).UTC().Format(time.RFC3339)), token, "", &avail); code != 200 ||
		len(avail.Slots) != 1 || avail.Slots[0].Capacity != 1 || avail.Slots[0].Used != 3 {
		t.Fatalf("availability after the override: %d %+v", code, avail)
	}
	b.WaitFor("cell", cellName(slot, 3, 1))
	b.WaitFor("heading", "Over capacity")
	boxes := b.Names("checkbox")
	var over int
	for _, n := range boxes {
		if strings.Contains(n, "(3 booked, capacity 1)") {
			over++
		}
	}
	if over != 2 {
		t.Errorf("over-capacity checkboxes %q, want two", boxes)
	}
	if !b.Exists("button", "Move to nearest free slot") || !b.Exists("button", "Keep") || !b.Exists("button", "Remove") {
		t.Error("the over-capacity list lacks its actions, or the override its Remove")
	}
	checkPage(t, b)

	// Move: to the bucket before (as near as the one after, and earlier).
	b.ClickNavigate("button", "Move to nearest free slot")
	b.WaitFor("status", "")
	if got := b.Text("status", ""); !strings.HasPrefix(got, "Reservations moved: 2.") {
		t.Errorf("status after the move %q", got)
	}
	b.WaitFor("cell", cellName(slot, 1, 1))
	b.WaitFor("cell", cellName(slot.Add(-15*time.Minute), 2, 3))
	if b.Exists("button", "Move to nearest free slot") {
		t.Error("the over-capacity list still offers the move")
	}
	checkPage(t, b)
	for _, id := range ids[1:] {
		waitSynced(t, s, token, id, slot.Add(-15*time.Minute))
	}
	waitMovedSMS(t, s, "+14155550122", "+14155550123")
}

// TestBrowserCapacityViewer: a viewer reads the heatmap but has no change
// control, and a change forged with the viewer's own valid CSRF token is
// refused.
func TestBrowserCapacityViewer(t *testing.T) {
	t.Parallel()
	s, token := capacityServe(t)
	slot := time.Now().Truncate(15 * time.Minute).Add(24 * time.Hour)
	bookSlot(t, s, token, slot, "+14155550131")
	b := browsertest.New(t, browsertest.Phone())
	signInAs(b, s.base, "vic", "vic-secret-pw")
	b.Go(s.base + "/console/queues/q1/capacity")
	b.WaitFor("cell", cellName(slot, 1, 3))
	for _, name := range []string{"Set capacity", "Remove", "Move to nearest free slot", "Keep"} {
		if b.Exists("button", name) {
			t.Errorf("the viewer sees the button %q", name)
		}
	}
	b.NoHorizontalScroll()
	checkPage(t, b)
	if st := postFrom(b, "/console/queues/q1/capacity/overrides", url.Values{"date": {slot.Format(time.DateOnly)}, "from": {"00:00"},
		"to": {"23:45"}, "capacity": {"0"}, "reason": {"forged"}}, true); st != http.StatusForbidden {
		t.Errorf("viewer's forged override: %d, want 403", st)
	}
	b.Go(s.base + "/console/queues/q1/capacity")
	b.WaitFor("cell", cellName(slot, 1, 3))

	// The supervisor's page, with its form, on the phone too.
	sup := browsertest.New(t, browsertest.Phone())
	signInAs(sup, s.base, "ada", "ada-secret-pw")
	sup.Go(s.base + "/console/queues/q1/capacity")
	sup.WaitFor("button", "Set capacity")
	sup.NoHorizontalScroll()
	checkPage(t, sup)
	var text string
	b.Eval(`document.body.innerText`, &text)
	if !strings.Contains(text, "No capacity changes") {
		t.Error("the forged override was stored")
	}
}
