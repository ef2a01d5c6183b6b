package genesys_test

import (
	"strings"
	"testing"

	"github.com/slotline/slotline/internal/browsertest"
)

// TestSignInBrowser signs in through the simulator's login page in
// headless Chromium, by the accessible names the console's browser tests
// will use, and checks the page with axe.
func TestSignInBrowser(t *testing.T) {
	t.Parallel()

	t.Run("Password", func(t *testing.T) {
		t.Parallel()
		s := setupSignIn(t, "sim-console-secret")
		b := browsertest.New(t)
		b.Go(s.console.URL + "/login/genesys")
		b.WaitFor("heading", "Sign in to Genesys Cloud")
		b.Axe()
		b.Fill("textbox", "Username", "sam.supervisor@example.com")
		b.Fill("textbox", "Password", "wrong")
		b.ClickNavigate("button", "Sign in")
		if got := b.Text("alert", ""); !strings.Contains(got, "The username or password is wrong.") {
			t.Errorf("alert = %q", got)
		}
		b.Axe()
		b.Fill("textbox", "Password", "sim-password")
		b.ClickNavigate("button", "Sign in")
		if !strings.HasPrefix(b.URL(), s.console.URL+"/console/oauth/callback?") {
			t.Fatalf("at %s", b.URL())
		}
		var body string
		b.Eval("document.body.innerText", &body)
		if !strings.HasPrefix(body, "supervisor ") || !strings.Contains(body, "Sam Supervisor") {
			t.Errorf("callback page = %q", body)
		}
	})

	t.Run("UserButtonOnAPhone", func(t *testing.T) {
		t.Parallel()
		s := setupSignIn(t, "sim-console-secret")
		b := browsertest.New(t, browsertest.Phone())
		b.Go(s.console.URL + "/login/genesys")
		b.NoHorizontalScroll()
		b.Axe()
		b.ClickNavigate("button", "Sign in as Vic Viewer")
		var body string
		b.Eval("document.body.innerText", &body)
		if !strings.HasPrefix(body, "viewer ") {
			t.Errorf("callback page = %q", body)
		}
		b.NoConsoleErrors()
	})

	t.Run("Cancel", func(t *testing.T) {
		t.Parallel()
		s := setupSignIn(t, "sim-console-secret")
		b := browsertest.New(t)
		b.Go(s.console.URL + "/login/genesys")
		b.ClickNavigate("button", "Cancel")
		var body string
		b.Eval("document.body.innerText", &body)
		if !strings.Contains(body, "genesys sign-in denied") {
			t.Errorf("callback page = %q", body)
		}
	})
}
