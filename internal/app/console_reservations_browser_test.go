// The reservations and live pages of issue 16 in headless Chromium,
// against serve in sandbox mode: filters and paging with JavaScript off,
// the detail's timeline after a sync through the simulator, reschedule
// and cancel from the detail page, the live page showing an event made
// through the API without a reload; axe-core on every page and state.
// With SLOTLINE_SCREENSHOTS=1 they write
// docs/screenshots/console-reservations.png and console-live.png.

package app

import (
	"strings"
	"testing"
	"time"

	"github.com/slotline/slotline/internal/browsertest"
)

func browserSignIn(b *browsertest.Browser, base string) {
	b.Go(base + "/console/login")
	b.Fill("textbox", "Username", "ada")
	b.Fill("textbox", "Password", "ada-secret-pw")
	b.ClickNavigate("button", "Sign in")
	b.WaitFor("button", "Sign out")
}

// wantStatus checks the page's status message and the page.
func wantStatus(t *testing.T, b *browsertest.Browser, want string) {
	t.Helper()
	b.WaitFor("status", "")
	if got := b.Text("status", ""); got != want {
		t.Errorf("status %q, want %q", got, want)
	}
	checkPage(t, b)
}

func TestBrowserConsoleReservations(t *testing.T) {
	t.Parallel()
	s, token := resServe(t)
	start, ids := bookPages(t, s, token)
	waitSynced(t, s, token, ids[0], start)

	b := browsertest.New(t, browsertest.JSDisabled(), browsertest.Phone(), browsertest.Locale("en-US"))
	browserSignIn(b, s.base)
	b.ClickNavigate("link", "Reservations")
	b.WaitFor("heading", "Reservations")
	b.NoHorizontalScroll()
	checkPage(t, b)
	screenshot(b, "console-reservations")
	b.ClickNavigate("link", "Next page")
	b.WaitFor("link", "Previous page")
	checkPage(t, b)
	b.ClickNavigate("link", "Previous page")
	b.WaitFor("link", "Next page")
	b.Fill("textbox", "Last digits of the number", "1000")
	b.ClickNavigate("button", "Show")
	if n := strings.Count(strings.Join(b.Names("link"), "\n"), "(America/New_York)"); n != 1 {
		t.Errorf("filtered by the last digits: %d rows", n)
	}
	checkPage(t, b)

	// The detail: the timeline after the sync, then a reschedule and a cancel.
	b.Go(s.base + "/console/reservations/" + ids[0])
	b.WaitFor("heading", "History")
	var timeline string
	b.Eval(`document.querySelector('.timeline').textContent`, &timeline)
	if !strings.Contains(timeline, "reservation.created") || !strings.Contains(timeline, "reservation.synced") {
		t.Errorf("timeline: %q", timeline)
	}
	b.NoHorizontalScroll()
	checkPage(t, b)
	b.ClickNavigate("button", "Reschedule")
	wantStatus(t, b, "The reservation was rescheduled.")
	b.ClickNavigate("link", "Cancel")
	b.WaitFor("heading", "Cancel this reservation?")
	checkPage(t, b)
	b.ClickNavigate("button", "Yes, cancel")
	wantStatus(t, b, "The reservation was canceled.")
	// The live page without JavaScript: the newest events, and why no more.
	b.Go(s.base + "/console/live")
	b.WaitFor("heading", "Live events")
	if got := b.Text("status", ""); !strings.Contains(got, "need JavaScript") {
		t.Errorf("live without JavaScript says %q", got)
	}
	checkPage(t, b)
}

func TestBrowserConsoleLive(t *testing.T) {
	t.Parallel()
	s, token := resServe(t)
	b := browsertest.New(t, browsertest.Locale("en-US"))
	browserSignIn(b, s.base)
	b.ClickNavigate("link", "Live")
	b.WaitUntil(`document.getElementById('live-state').textContent === 'Connected: new events appear at the top.'`)
	checkPage(t, b)
	start := time.Now().Truncate(15 * time.Minute).Add(48 * time.Hour).UTC()
	book(t, s, token, "q1", "+14155551234", start)
	b.WaitUntil(`document.getElementById('live-log').textContent.includes('reservation.created')`)
	var text string
	b.Eval(`document.getElementById('live-log').textContent`, &text)
	if strings.Contains(text, "14155551234") || !strings.Contains(text, "********34") || !strings.Contains(text, "Support") {
		t.Errorf("live entry: %q", text)
	}
	checkPage(t, b)
	screenshot(b, "console-live")
	b.Click("button", "Pause")
	b.WaitUntil(`document.getElementById('live-state').textContent === 'Paused: new events are not shown.'`)
	checkPage(t, b)
}
