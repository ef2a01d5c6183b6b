package console_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/slotline/slotline/internal/console"
	"github.com/slotline/slotline/internal/genesys"
	"github.com/slotline/slotline/internal/genesys/gcsim"
	"github.com/slotline/slotline/internal/storage"
)

// genesysBundle is a console whose "Sign in with Genesys Cloud" goes to a
// Genesys simulator, over real HTTP.
type genesysBundle struct {
	t     *testing.T
	srv   *httptest.Server
	store *storage.Store
}

func setupGenesys(t *testing.T) *genesysBundle {
	t.Helper()
	store := migratedStore(t)
	sim := gcsim.New(gcsim.Options{Clock: gcsim.NewClock(time.Now(), 1)})
	simURL, err := sim.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	flow := &genesys.AuthCodeFlow{LoginBase: simURL, APIBase: simURL, ClientID: gcsim.DefaultConsoleClientID,
		ClientSecret: gcsim.DefaultConsoleClientSecret}
	c, err := console.New(console.Deps{Store: store, Queues: []console.Queue{{ID: "q1", Name: "Support"}},
		GenesysSignIn: true, Genesys: flow,
		Roles: map[string][]string{"admin": {"Slotline Admin"}, "supervisor": {"Slotline Supervisor"}, "viewer": {"Slotline Viewers"}}})
	if err != nil {
		t.Fatal(err)
	}
	b := &genesysBundle{t: t, store: store}
	b.srv = httptest.NewServer(c)
	t.Cleanup(b.srv.Close)
	flow.RedirectURL = b.srv.URL + console.CallbackPath()
	sim.SetCodeClient(gcsim.CodeClient{ID: gcsim.DefaultConsoleClientID, Secret: gcsim.DefaultConsoleClientSecret,
		RedirectURIs: []string{flow.RedirectURL}})
	return b
}

// browser is a cookie jar that follows no redirects.
func browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func get(t *testing.T, c *http.Client, u string) (*http.Response, string) {
	t.Helper()
	r, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	return r, string(b)
}

var hiddenField = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

// signIn goes through the console's button, the simulator's login page
// (the user's email and the simulator's password, or action=deny) and back
// to the callback, and returns the callback's answer.
func (b *genesysBundle) signIn(c *http.Client, email, action string) (*http.Response, string) {
	t := b.t
	t.Helper()
	r, _ := get(t, c, b.srv.URL+"/console/login/genesys")
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("the button answers %d, want 303 to the login host", r.StatusCode)
	}
	authURL := r.Header.Get("Location")
	u, _ := url.Parse(authURL)
	if q := u.Query(); q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("state") == "" {
		t.Fatalf("authorization URL %s: no PKCE S256 challenge or state", authURL)
	}
	_, page := get(t, c, authURL)
	form := url.Values{"username": {email}, "password": {gcsim.DefaultUserPassword}, "action": {action}}
	for _, m := range hiddenField.FindAllStringSubmatch(page, -1) {
		form.Set(m[1], strings.ReplaceAll(m[2], "&amp;", "&"))
	}
	r, err := c.PostForm(u.Scheme+"://"+u.Host+"/oauth/authorize", form)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	back := r.Header.Get("Location")
	if !strings.HasPrefix(back, b.srv.URL+console.CallbackPath()) {
		t.Fatalf("the login host answered %d to %s, want a redirect to the callback", r.StatusCode, back)
	}
	return get(t, c, back)
}

func TestSignInWithGenesys(t *testing.T) {
	t.Parallel()
	b := setupGenesys(t)
	if _, page := get(t, browser(), b.srv.URL+"/console/login"); !strings.Contains(page, ">Sign in with Genesys Cloud</button>") {
		t.Fatal("no button Sign in with Genesys Cloud")
	}
	for _, tt := range []struct{ email, name, role string }{
		{"avery.admin@example.com", "Avery Admin", "admin"},
		{"sam.supervisor@example.com", "Sam Supervisor", "supervisor"},
		{"vic.viewer@example.com", "Vic Viewer", "viewer"}, // by group
	} {
		c := browser()
		r, _ := b.signIn(c, tt.email, "signin")
		if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/console" {
			t.Errorf("%s: callback %d → %q, want 303 to /console", tt.email, r.StatusCode, r.Header.Get("Location"))
			continue
		}
		if r, home := get(t, c, b.srv.URL+"/console"); r.StatusCode != http.StatusOK || !strings.Contains(home, tt.name) || !strings.Contains(home, tt.role) {
			t.Errorf("%s: the console home (%d) does not show %s, %s", tt.email, r.StatusCode, tt.name, tt.role)
		}
	}
	// No mapped role: refused, no session.
	c := browser()
	if r, page := b.signIn(c, "nico.noaccess@example.com", "signin"); r.StatusCode != http.StatusForbidden || !strings.Contains(page, `role="alert"`) {
		t.Errorf("a user without a console role: %d", r.StatusCode)
	}
	if r, _ := get(t, c, b.srv.URL+"/console"); r.StatusCode != http.StatusSeeOther {
		t.Errorf("after a refused sign-in /console answers %d, want the redirect to sign in", r.StatusCode)
	}
	// Canceled on the login page.
	if r, _ := b.signIn(browser(), "", "deny"); r.StatusCode != http.StatusUnauthorized {
		t.Errorf("canceled: %d, want 401", r.StatusCode)
	}
	// Started at another name of the server (localhost for 127.0.0.1):
	// first sent to the redirect URI's host, where the state cookie must
	// live.
	req, _ := http.NewRequest("GET", b.srv.URL+"/console/login/genesys", nil)
	req.Host = "localhost" + b.srv.URL[strings.LastIndex(b.srv.URL, ":"):]
	if r, err := browser().Do(req); err != nil || r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != b.srv.URL+"/console/login/genesys" {
		t.Errorf("the button at another host name: %v %v, want 303 to %s/console/login/genesys", r, err, b.srv.URL)
	}
	// A callback without the cookie of its start (another browser, or a
	// forged link) is refused.
	r, _ := get(t, browser(), b.srv.URL+console.CallbackPath()+"?code=x&state=y")
	if r.StatusCode != http.StatusForbidden {
		t.Errorf("a callback without its state cookie: %d, want 403", r.StatusCode)
	}
}
