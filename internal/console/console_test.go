package console_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/slotline/slotline/internal/audit"
	"github.com/slotline/slotline/internal/config"
	"github.com/slotline/slotline/internal/console"
	"github.com/slotline/slotline/internal/storage"
)

// hash is a cheap argon2id hash of pw (the tests' operators; real ones
// come from slotline operator hash).
func hash(pw string) string {
	salt := make([]byte, 16)
	_, _ = rand.Read(salt)
	key := argon2.IDKey([]byte(pw), salt, 1, 64, 1, 32)
	return fmt.Sprintf("$argon2id$v=19$m=64,t=1,p=1$%s$%s", base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

var start = time.Date(2030, 6, 3, 9, 0, 0, 0, time.UTC)

type bundle struct {
	t     *testing.T
	store *storage.Store
	srv   *httptest.Server
	clock atomic.Int64 // Unix microseconds
}

type options struct {
	tls       bool
	genesys   bool
	publicURL string
}

func (b *bundle) now() time.Time { return time.UnixMicro(b.clock.Load()).UTC() }

func (b *bundle) advance(d time.Duration) { b.clock.Add(d.Microseconds()) }

// migratedStore is a fresh, migrated SQLite store, closed by the test's
// cleanup.
func migratedStore(t *testing.T) *storage.Store {
	t.Helper()
	ctx := context.Background()
	store, err := storage.Connect(ctx, "sqlite:"+filepath.Join(t.TempDir(), "console.db"), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	if _, err := store.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return store
}

func setup(t *testing.T, o options) *bundle {
	t.Helper()
	store := migratedStore(t)
	b := &bundle{t: t, store: store}
	b.clock.Store(start.UnixMicro())
	c, err := console.New(console.Deps{
		Store: store,
		Operators: []config.Operator{
			{Username: "ada", PasswordHash: hash("ada-pw"), Role: "supervisor", Queues: []string{"q1"}},
			{Username: "vic", PasswordHash: hash("vic-pw"), Role: "viewer"},
			{Username: "root", PasswordHash: hash("root-pw"), Role: "admin"},
		},
		Queues:        []console.Queue{{ID: "q1", Name: "Support"}, {ID: "q2", Name: "Sales"}},
		SessionIdle:   30 * time.Minute,
		SessionMax:    12 * time.Hour,
		GenesysSignIn: o.genesys,
		PublicURL:     o.publicURL,
		Now:           b.now,
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/console/", c)
	mux.Handle("/console", c)
	// A page of a later part, for admins only, that changes something.
	mux.Handle("POST /console/test/admin", c.Require(console.Admin)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		op, _ := console.OperatorFrom(r.Context())
		fmt.Fprintf(w, "changed by %s", op.Name)
	})))
	mux.Handle("GET /console/test/supervisor", c.Require(console.Supervisor)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		op, _ := console.OperatorFrom(r.Context())
		fmt.Fprintf(w, "%s %s %v csrf=%s", op.Name, op.Role, op.CanChange("q1"), console.CSRFToken(r.Context()))
	})))
	if o.tls {
		b.srv = httptest.NewTLSServer(mux)
	} else {
		b.srv = httptest.NewServer(mux)
	}
	t.Cleanup(b.srv.Close)
	return b
}

// client is a browser: a cookie jar, no redirects followed.
func (b *bundle) client() *http.Client {
	jar, _ := cookiejar.New(nil)
	c := b.srv.Client()
	return &http.Client{Transport: c.Transport, Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

type response struct {
	*http.Response
	body string
}

func (b *bundle) do(c *http.Client, method, path string, form url.Values, hdr ...string) response {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.srv.URL+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return response{resp, string(raw)}
}

var ticketRE = regexp.MustCompile(`name="ticket" value="([^"]+)"`)
var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// signIn posts the sign-in form as a browser would and returns the answer.
func (b *bundle) signIn(c *http.Client, user, pw string) response {
	b.t.Helper()
	page := b.do(c, "GET", "/console/login", nil)
	m := ticketRE.FindStringSubmatch(page.body)
	if m == nil {
		b.t.Fatalf("no ticket in the sign-in form:\n%s", page.body)
	}
	return b.do(c, "POST", "/console/login", url.Values{"ticket": {m[1]}, "username": {user}, "password": {pw}},
		"Sec-Fetch-Site", "same-origin", "Origin", b.srv.URL)
}

func (b *bundle) mustSignIn(c *http.Client, user, pw string) {
	b.t.Helper()
	if r := b.signIn(c, user, pw); r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/console" {
		b.t.Fatalf("sign in as %s: %d %s\n%s", user, r.StatusCode, r.Header.Get("Location"), r.body)
	}
}

// csrf is the CSRF token of the signed-in home page.
func (b *bundle) csrf(c *http.Client) string {
	b.t.Helper()
	m := csrfRE.FindStringSubmatch(b.do(c, "GET", "/console", nil).body)
	if m == nil {
		b.t.Fatal("no csrf field on the home page")
	}
	return m[1]
}

func (b *bundle) audits() []audit.Entry {
	b.t.Helper()
	es, err := b.store.FindAuditEntries(context.Background(), 0, 100)
	if err != nil {
		b.t.Fatal(err)
	}
	return es
}

func sessionCookie(r response) *http.Cookie {
	for _, c := range r.Cookies() {
		if c.Name == console.CookieName {
			return c
		}
	}
	return nil
}

func TestSignedOutRedirects(t *testing.T) {
	t.Parallel()
	b := setup(t, options{})
	c := b.client()
	for _, p := range []string{"/console", "/console/reservations", "/console/queues/q1/capacity"} {
		r := b.do(c, "GET", p, nil)
		if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/console/login" {
			t.Errorf("GET %s signed out: %d %q, want 303 to /console/login", p, r.StatusCode, r.Header.Get("Location"))
		}
	}
	r := b.do(c, "GET", "/console/login", nil)
	for _, want := range []string{`<label for="username">Username</label>`, `<label for="password">Password</label>`, `>Sign in</button>`} {
		if !strings.Contains(r.body, want) {
			t.Errorf("sign-in page lacks %s", want)
		}
	}
	if strings.Contains(r.body, "Genesys") {
		t.Error("the Genesys button is shown without genesys.console_client_id")
	}
	h := r.Header
	if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "frame-ancestors 'none'") ||
		strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP = %q", csp)
	}
	for k, v := range map[string]string{"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "Cache-Control": "no-store", "X-Frame-Options": "DENY"} {
		if h.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, h.Get(k), v)
		}
	}
	if strings.Contains(r.body, "style=") || strings.Contains(r.body, "<style") || strings.Contains(r.body, "<script>") {
		t.Error("inline style or script on the sign-in page")
	}
}

// TestGenesysButton: without a Genesys sign-in flow there is no button and
// its route is not found (TestSignInWithGenesys has the flow).
func TestGenesysButton(t *testing.T) {
	t.Parallel()
	b := setup(t, options{genesys: true})
	r := b.do(b.client(), "GET", "/console/login", nil)
	if strings.Contains(r.body, "Sign in with Genesys Cloud") {
		t.Error("a Genesys button without a sign-in flow")
	}
	if r := b.do(b.client(), "GET", "/console/login/genesys", nil); r.StatusCode != http.StatusNotFound {
		t.Errorf("GET /console/login/genesys = %d, want 404 without a flow", r.StatusCode)
	}
}

func TestSignIn(t *testing.T) {
	t.Parallel()
	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		b := setup(t, options{})
		c := b.client()
		r := b.signIn(c, "ada", "ada-pw")
		if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/console" {
			t.Fatalf("sign in: %d %q", r.StatusCode, r.Header.Get("Location"))
		}
		ck := sessionCookie(r)
		if ck == nil {
			t.Fatal("no session cookie")
		}
		if !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/console" || ck.Secure {
			t.Errorf("cookie flags: HttpOnly %v SameSite %v Path %q Secure %v; want HttpOnly, Lax, /console, not Secure over plain HTTP",
				ck.HttpOnly, ck.SameSite, ck.Path, ck.Secure)
		}
		if len(ck.Value) < 43 {
			t.Errorf("session id of %d characters: less than 256 bits", len(ck.Value))
		}
		home := b.do(c, "GET", "/console", nil)
		if home.StatusCode != 200 {
			t.Fatalf("home: %d", home.StatusCode)
		}
		for _, want := range []string{"Slotline", "ada (supervisor)", ">Capacity</a>", ">Reservations</a>", ">Live</a>", ">Health</a>",
			">Reports</a>", ">Sign out</button>", ">Support</a>"} {
			if !strings.Contains(home.body, want) {
				t.Errorf("home lacks %q", want)
			}
		}
		if strings.Contains(home.body, "Sales") {
			t.Error("home lists q2, not one of ada's queues")
		}
		if strings.Contains(home.body, ck.Value) {
			t.Error("the session id is on the page")
		}
		// The id is stored as its digest only.
		var n int
		if err := b.store.DB().QueryRow("SELECT count(*) FROM console_sessions WHERE digest = $1", ck.Value).Scan(&n); err != nil || n != 0 {
			t.Errorf("the session id itself is stored (%d, %v)", n, err)
		}
		if nf := b.do(c, "GET", "/console/queues/q2/capacity", nil); nf.StatusCode != 404 {
			t.Errorf("capacity of another's queue: %d, want 404", nf.StatusCode)
		}
		es := b.audits()
		if len(es) != 1 || es[0].Action != console.ActionSignIn || es[0].Actor != "operator:ada" || es[0].Outcome != audit.OutcomeOK {
			t.Errorf("audit = %+v", es)
		}
		if strings.Contains(es[0].Detail, "ada-pw") {
			t.Error("the password is in the audit log")
		}
	})
	t.Run("Refused", func(t *testing.T) {
		t.Parallel()
		b := setup(t, options{})
		wrong := b.signIn(b.client(), "ada", "nope")
		unknown := b.signIn(b.client(), "nobody", "nope")
		for _, r := range []response{wrong, unknown} {
			if r.StatusCode != http.StatusUnauthorized || sessionCookie(r) != nil && sessionCookie(r).Value != "" {
				t.Errorf("refused sign-in: %d", r.StatusCode)
			}
			if !strings.Contains(r.body, `role="alert">The username or password is not right.</p>`) {
				t.Errorf("no alert:\n%s", r.body)
			}
		}
		strip := func(s string) string {
			return ticketRE.ReplaceAllString(regexp.MustCompile(`value="(ada|nobody)"`).ReplaceAllString(s, ""), "")
		}
		if strip(wrong.body) != strip(unknown.body) {
			t.Error("a wrong password and an unknown user read differently")
		}
		es := b.audits()
		if len(es) != 2 {
			t.Fatalf("audit = %+v, want two refusals", es)
		}
		if es[0].Actor != "operator:ada" || es[0].Outcome != audit.OutcomeRefused || !strings.Contains(es[0].Detail, "wrong_password") {
			t.Errorf("audit of a wrong password: %+v", es[0])
		}
		if es[1].Actor != "operator" || strings.Contains(es[1].Detail, "nobody") || strings.Contains(es[1].Detail, "nope") {
			t.Errorf("audit of an unknown user: %+v", es[1])
		}
	})
	t.Run("NoTicket", func(t *testing.T) {
		t.Parallel()
		b := setup(t, options{})
		r := b.do(b.client(), "POST", "/console/login", url.Values{"username": {"ada"}, "password": {"ada-pw"}})
		if r.StatusCode != http.StatusForbidden || sessionCookie(r) != nil {
			t.Errorf("sign-in without the form's ticket: %d", r.StatusCode)
		}
	})
	t.Run("CrossSite", func(t *testing.T) {
		t.Parallel()
		b := setup(t, options{})
		c := b.client()
		m := ticketRE.FindStringSubmatch(b.do(c, "GET", "/console/login", nil).body)
		r := b.do(c, "POST", "/console/login", url.Values{"ticket": {m[1]}, "username": {"ada"}, "password": {"ada-pw"}},
			"Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example")
		if r.StatusCode != http.StatusForbidden || sessionCookie(r) != nil {
			t.Errorf("cross-site sign-in: %d", r.StatusCode)
		}
	})
}

func TestThrottle(t *testing.T) {
	t.Parallel()
	b := setup(t, options{})
	c := b.client()
	for i := range console.DefaultPerUserAddressBurst {
		if r := b.signIn(c, "ada", "wrong"); r.StatusCode != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d", i+1, r.StatusCode)
		}
	}
	r := b.signIn(c, "ada", "ada-pw")
	if r.StatusCode != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
		t.Fatalf("after %d failures: %d, Retry-After %q; want 429 with Retry-After", console.DefaultPerUserAddressBurst, r.StatusCode, r.Header.Get("Retry-After"))
	}
	if !strings.Contains(r.body, `role="alert">Too many attempts.`) || sessionCookie(r) != nil {
		t.Errorf("throttled page:\n%s", r.body)
	}
	// Another operator from the same address is not held up yet.
	b.mustSignIn(b.client(), "vic", "vic-pw")
	b.advance(time.Minute)
	b.mustSignIn(c, "ada", "ada-pw")
	var throttled int
	for _, e := range b.audits() {
		if strings.Contains(e.Detail, "throttled") {
			throttled++
		}
	}
	if throttled != 1 {
		t.Errorf("%d throttled entries in the audit log, want 1", throttled)
	}
}

func TestCookieSecureOverTLS(t *testing.T) {
	t.Parallel()
	b := setup(t, options{tls: true})
	r := b.signIn(b.client(), "ada", "ada-pw")
	ck := sessionCookie(r)
	if r.StatusCode != http.StatusSeeOther || ck == nil || !ck.Secure || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode {
		t.Errorf("over TLS: %d cookie %+v; want Secure, HttpOnly, Lax", r.StatusCode, ck)
	}
}

// TestCookieSecureBehindProxy: TLS ends at a proxy, public_url is https.
func TestCookieSecureBehindProxy(t *testing.T) {
	t.Parallel()
	b := setup(t, options{publicURL: "https://callbacks.example.com"})
	// The browser is on the public URL; its Origin is that host's.
	c := b.client()
	m := ticketRE.FindStringSubmatch(b.do(c, "GET", "/console/login", nil).body)
	if m == nil {
		t.Fatal("no ticket")
	}
	// The jar does not send the Secure ticket cookie over plain HTTP: set it by hand.
	r := b.do(c, "POST", "/console/login", url.Values{"ticket": {m[1]}, "username": {"ada"}, "password": {"ada-pw"}},
		"Origin", "https://callbacks.example.com", "Sec-Fetch-Site", "same-origin", "Cookie", "slotline_console_login="+m[1])
	if ck := sessionCookie(r); r.StatusCode != http.StatusSeeOther || ck == nil || !ck.Secure {
		t.Errorf("behind a TLS proxy: %d cookie %+v; want Secure", r.StatusCode, ck)
	}
}

func TestCSRF(t *testing.T) {
	t.Parallel()
	b := setup(t, options{})
	c := b.client()
	b.mustSignIn(c, "root", "root-pw")
	tok := b.csrf(c)
	same := []string{"Sec-Fetch-Site", "same-origin"}
	for name, tc := range map[string]struct {
		form url.Values
		hdr  []string
	}{
		"no token":     {url.Values{}, same},
		"wrong token":  {url.Values{"csrf": {tok + "x"}}, same},
		"cross-site":   {url.Values{"csrf": {tok}}, []string{"Sec-Fetch-Site", "cross-site"}},
		"other origin": {url.Values{"csrf": {tok}}, []string{"Origin", "https://evil.example"}},
	} {
		for _, p := range []string{"/console/logout", "/console/test/admin"} {
			if r := b.do(c, "POST", p, tc.form, tc.hdr...); r.StatusCode != http.StatusForbidden {
				t.Errorf("%s: POST %s = %d, want 403", name, p, r.StatusCode)
			}
		}
	}
	if r := b.do(c, "POST", "/console/test/admin", url.Values{"csrf": {tok}}, same...); r.StatusCode != 200 || r.body != "changed by root" {
		t.Errorf("with the token: %d %q", r.StatusCode, r.body)
	}
	// Still signed in: the refusals changed nothing.
	if r := b.do(c, "GET", "/console", nil); r.StatusCode != 200 {
		t.Errorf("home after the refusals: %d", r.StatusCode)
	}
}

func TestTimeouts(t *testing.T) {
	t.Parallel()
	t.Run("Idle", func(t *testing.T) {
		t.Parallel()
		b := setup(t, options{})
		c := b.client()
		b.mustSignIn(c, "ada", "ada-pw")
		// Requests every 20 minutes keep the session for an hour.
		for range 3 {
			b.advance(20 * time.Minute)
			if r := b.do(c, "GET", "/console", nil); r.StatusCode != 200 {
				t.Fatalf("active session ended: %d", r.StatusCode)
			}
		}
		b.advance(31 * time.Minute)
		if r := b.do(c, "GET", "/console", nil); r.StatusCode != http.StatusSeeOther {
			t.Errorf("after 31 idle minutes: %d, want 303 to sign in", r.StatusCode)
		}
	})
	t.Run("Absolute", func(t *testing.T) {
		t.Parallel()
		b := setup(t, options{})
		c := b.client()
		b.mustSignIn(c, "ada", "ada-pw")
		for range 12*3 - 1 {
			b.advance(20 * time.Minute)
			if r := b.do(c, "GET", "/console", nil); r.StatusCode != 200 {
				t.Fatalf("session ended at %v: %d", b.now().Sub(start), r.StatusCode)
			}
		}
		b.advance(21 * time.Minute)
		if r := b.do(c, "GET", "/console", nil); r.StatusCode != http.StatusSeeOther {
			t.Errorf("after 12 hours: %d, want 303", r.StatusCode)
		}
		if n, err := b.store.DeleteExpiredConsoleSessions(context.Background(), b.now(), b.now()); err != nil || n != 0 {
			t.Errorf("the expired session was not deleted when seen: %d, %v", n, err)
		}
	})
}

func TestSignOut(t *testing.T) {
	t.Parallel()
	b := setup(t, options{})
	c := b.client()
	b.mustSignIn(c, "ada", "ada-pw")
	var cookie string
	u, _ := url.Parse(b.srv.URL + "/console")
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == console.CookieName {
			cookie = ck.Value
		}
	}
	r := b.do(c, "POST", "/console/logout", url.Values{"csrf": {b.csrf(c)}}, "Sec-Fetch-Site", "same-origin")
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/console/login" {
		t.Fatalf("sign out: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	if ck := sessionCookie(r); ck == nil || ck.MaxAge >= 0 {
		t.Errorf("the cookie is not cleared: %+v", ck)
	}
	// The old cookie opens nothing any more.
	old := b.client()
	old.Jar.SetCookies(u, []*http.Cookie{{Name: console.CookieName, Value: cookie, Path: "/console"}})
	if r := b.do(old, "GET", "/console", nil); r.StatusCode != http.StatusSeeOther {
		t.Errorf("the signed-out session still opens the console: %d", r.StatusCode)
	}
	es := b.audits()
	if len(es) != 2 || es[1].Action != console.ActionSignOut || es[1].Actor != "operator:ada" {
		t.Errorf("audit = %+v", es)
	}
}

func TestRoles(t *testing.T) {
	t.Parallel()
	b := setup(t, options{})
	for _, tc := range []struct {
		user       string
		supervisor int // GET /console/test/supervisor
		admin      int // POST /console/test/admin
	}{
		{"vic", 403, 403},
		{"ada", 200, 403},
		{"root", 200, 200},
	} {
		c := b.client()
		b.mustSignIn(c, tc.user, tc.user+"-pw")
		if r := b.do(c, "GET", "/console/test/supervisor", nil); r.StatusCode != tc.supervisor {
			t.Errorf("%s: supervisor page %d, want %d", tc.user, r.StatusCode, tc.supervisor)
		} else if r.StatusCode == 403 && !strings.Contains(r.body, "Not allowed") {
			t.Errorf("%s: the 403 page says %q", tc.user, r.body)
		}
		if r := b.do(c, "POST", "/console/test/admin", url.Values{"csrf": {b.csrf(c)}}, "Sec-Fetch-Site", "same-origin"); r.StatusCode != tc.admin {
			t.Errorf("%s: admin change %d, want %d", tc.user, r.StatusCode, tc.admin)
		}
	}
}

func TestCanChange(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		op     console.Operator
		q1, q2 bool
	}{
		{console.Operator{Role: console.Viewer}, false, false},
		{console.Operator{Role: console.Supervisor, Queues: []string{"q1"}}, true, false},
		{console.Operator{Role: console.Supervisor}, true, true},
		{console.Operator{Role: console.Admin, Queues: []string{"q1"}}, true, true},
	} {
		if got1, got2 := tc.op.CanChange("q1"), tc.op.CanChange("q2"); got1 != tc.q1 || got2 != tc.q2 {
			t.Errorf("%+v: CanChange q1 %v q2 %v, want %v %v", tc.op, got1, got2, tc.q1, tc.q2)
		}
	}
}

func TestLanguages(t *testing.T) {
	t.Parallel()
	b := setup(t, options{})
	for lang, want := range map[string]string{"de": "Benutzername", "fr": "Nom d’utilisateur", "es": "Usuario"} {
		r := b.do(b.client(), "GET", "/console/login", nil, "Accept-Language", lang)
		if !strings.Contains(r.body, want) || !strings.Contains(r.body, `lang="`+lang+`"`) {
			t.Errorf("%s: no %q", lang, want)
		}
	}
}

// TestConfigChange: a session follows the running config's operator: a
// removed operator is signed out, a changed role applies at once.
func TestConfigChange(t *testing.T) {
	t.Parallel()
	b := setup(t, options{})
	c := b.client()
	b.mustSignIn(c, "ada", "ada-pw")
	u, _ := url.Parse(b.srv.URL + "/console")
	cookies := c.Jar.Cookies(u)
	restart := func(ops ...config.Operator) *http.Client {
		t.Helper()
		srv, err := console.New(console.Deps{Store: b.store, Operators: ops, Queues: []console.Queue{{ID: "q1", Name: "Support"}}, Now: b.now})
		if err != nil {
			t.Fatal(err)
		}
		// Another server on the same store, as serve restarted.
		b.srv = httptest.NewServer(srv)
		t.Cleanup(b.srv.Close)
		nu, _ := url.Parse(b.srv.URL + "/console")
		nc := b.client()
		nc.Jar.SetCookies(nu, cookies)
		return nc
	}
	nc := restart(config.Operator{Username: "ada", PasswordHash: hash("ada-pw"), Role: "viewer"})
	if r := b.do(nc, "GET", "/console", nil); r.StatusCode != 200 || !strings.Contains(r.body, "ada (viewer)") {
		t.Errorf("after the role changed: %d, want ada (viewer)", r.StatusCode)
	}
	nc = restart(config.Operator{Username: "bob", PasswordHash: hash("bob-pw"), Role: "admin"})
	if r := b.do(nc, "GET", "/console", nil); r.StatusCode != http.StatusSeeOther {
		t.Errorf("after ada was removed: %d, want 303 to sign in", r.StatusCode)
	}
}
