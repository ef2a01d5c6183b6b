// The operators' console of issue 16 in headless Chromium, against serve
// in sandbox mode: a local operator signs in with the keyboard, the
// sign-in and home pages have no axe-core (WCAG 2.2 A and AA) violation
// and no horizontal scrolling on a 360×740 phone. With
// SLOTLINE_SCREENSHOTS=1 the home page is written to
// docs/screenshots/console.png.

package app

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slotline/slotline/internal/browsertest"
	"github.com/slotline/slotline/internal/password"
)

// consoleServe runs serve with two queues and the local operator ada
// (supervisor of q1, password ada-secret-pw).
func consoleServe(t *testing.T) *sandboxServer {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "slotline.yaml")
	body := "database: sqlite:" + filepath.Join(dir, "s.db") + "\n" +
		"clients:\n  - id: web\n    secret: sandbox-secret-0123456789\n    scopes: [callback:read, callback:write]\n" +
		"operators:\n  - {username: ada, password_hash: '" + password.New("ada-secret-pw") + "', role: supervisor, queues: [q1]}\n" +
		"queues:\n" +
		"  - {id: q1, name: Support, timezone: America/New_York, hours: 24/7}\n" +
		"  - {id: q2, name: Sales, timezone: Europe/Berlin, hours: 24/7}\n"
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return sandboxServe(t, cfg)
}

// typeInto moves the focus to the textbox with Tab (unless it is there
// already, as the autofocused username is) and types text.
func typeInto(b *browsertest.Browser, name, text string) {
	if role, n := b.Focused(); role != "textbox" || n != name {
		b.TabTo("textbox", name)
	}
	b.Type(text)
}

// TestBrowserConsoleKeyboard signs in with the keyboard alone and checks
// the shell.
func TestBrowserConsoleKeyboard(t *testing.T) {
	t.Parallel()
	s := consoleServe(t)
	b := browsertest.New(t, browsertest.Locale("en-US"))
	b.Go(s.base + "/console")
	if !strings.HasSuffix(b.URL(), "/console/login") {
		t.Fatalf("signed out, /console shows %s", b.URL())
	}
	b.WaitFor("heading", "Sign in to the console")
	if !b.Exists("button", "Sign in with Genesys Cloud") {
		t.Error("the sandbox offers no Sign in with Genesys Cloud (its simulator's users)")
	}
	checkPage(t, b)

	// A wrong password first: an alert, the form again.
	typeInto(b, "Username", "ada")
	typeInto(b, "Password", "wrong")
	b.TabTo("button", "Sign in")
	b.PressNavigate("Enter")
	b.WaitFor("alert", "")
	if got := b.Text("alert", ""); got != "The username or password is not right." {
		t.Errorf("alert %q", got)
	}
	checkPage(t, b)

	typeInto(b, "Password", "ada-secret-pw")
	b.TabTo("button", "Sign in")
	b.PressNavigate("Enter")
	b.WaitFor("button", "Sign out")
	if !strings.HasSuffix(b.URL(), "/console") {
		t.Errorf("signed in at %s", b.URL())
	}
	for _, name := range []string{"Capacity", "Reservations", "Live", "Health", "Reports", "Support"} {
		if !b.Exists("link", name) {
			t.Errorf("no link %q on the home page", name)
		}
	}
	if b.Exists("link", "Sales") {
		t.Error("the home page lists q2, not ada's")
	}
	var who string
	b.Eval(`document.querySelector('.who').textContent`, &who)
	if who != "ada (supervisor)" {
		t.Errorf("header names %q", who)
	}
	checkPage(t, b)
	screenshot(b, "console")

	// The cookie's flags as the browser holds them.
	var visible string
	b.Eval(`document.cookie`, &visible)
	if strings.Contains(visible, "slotline_console") {
		t.Error("the session cookie is readable from script (not HttpOnly)")
	}

	b.TabTo("button", "Sign out")
	b.PressNavigate("Enter")
	b.WaitFor("heading", "Sign in to the console")
	b.Go(s.base + "/console")
	if !strings.HasSuffix(b.URL(), "/console/login") {
		t.Errorf("after sign-out /console shows %s", b.URL())
	}
}

// TestBrowserConsolePhone: the sign-in page, its refusal and the home page
// on a 360×740 phone.
func TestBrowserConsolePhone(t *testing.T) {
	t.Parallel()
	s := consoleServe(t)
	b := browsertest.New(t, browsertest.Phone())
	b.Go(s.base + "/console/login")
	b.WaitFor("heading", "Sign in to the console")
	b.NoHorizontalScroll()
	checkPage(t, b)
	b.Fill("textbox", "Username", "nobody")
	b.Fill("textbox", "Password", "x")
	b.ClickNavigate("button", "Sign in")
	b.WaitFor("alert", "")
	b.NoHorizontalScroll()
	checkPage(t, b)
	b.Fill("textbox", "Username", "ada")
	b.Fill("textbox", "Password", "ada-secret-pw")
	b.ClickNavigate("button", "Sign in")
	b.WaitFor("button", "Sign out")
	b.NoHorizontalScroll()
	checkPage(t, b)
}

// TestBrowserConsoleGenesys signs in with Genesys Cloud in the sandbox:
// the console's button, the simulator's login page (a user whose Genesys
// role maps to admin) and back, signed in.
func TestBrowserConsoleGenesys(t *testing.T) {
	t.Parallel()
	s := consoleServe(t)
	b := browsertest.New(t, browsertest.Locale("en-US"))
	b.Go(s.base + "/console/login")
	b.ClickNavigate("button", "Sign in with Genesys Cloud")
	b.WaitFor("heading", "Sign in to Genesys Cloud")
	b.ClickNavigate("button", "Sign in as Avery Admin")
	b.WaitFor("button", "Sign out")
	if !strings.HasSuffix(b.URL(), "/console") {
		t.Errorf("signed in with Genesys Cloud, the browser is at %s", b.URL())
	}
	var page string
	b.Eval(`document.body.innerText`, &page)
	if !strings.Contains(page, "Avery Admin") || !strings.Contains(page, "admin") {
		t.Errorf("the console does not name Avery Admin, admin: %q", page)
	}
	checkPage(t, b)
}
