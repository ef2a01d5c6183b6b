package genesys_test

import (
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/slotline/slotline/internal/genesys"
	"github.com/slotline/slotline/internal/genesys/gcsim"
)

// consoleRoles is a console.roles setting for the simulator's default users.
var consoleRoles = map[string][]string{
	"admin":      {"Slotline Admin"},
	"supervisor": {"Slotline Supervisor"},
	"viewer":     {"Slotline Viewers"},
}

// signIn is one test's simulator, console stand-in and browser.
type signIn struct {
	sim     *gcsim.Sim
	simURL  string
	console *httptest.Server
	flow    *genesys.AuthCodeFlow
	browser *http.Client // follows redirects, keeps cookies
	manual  *http.Client // stops at the first redirect
}

// setupSignIn starts a simulator and a minimal console whose
// /login/genesys starts a sign-in (state and verifier in a cookie) and whose
// /console/oauth/callback checks the state, reads the callback's error,
// finishes and maps the roles: the caller's part of the flow.
func setupSignIn(t *testing.T, secret string) *signIn {
	t.Helper()
	sim := gcsim.New(gcsim.Options{})
	t.Cleanup(func() { _ = sim.Close() })
	simURL, err := sim.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &signIn{sim: sim, simURL: simURL}
	mux := http.NewServeMux()
	b.console = httptest.NewServer(mux)
	t.Cleanup(b.console.Close)
	b.flow = &genesys.AuthCodeFlow{
		LoginBase: simURL, APIBase: simURL,
		ClientID: gcsim.DefaultConsoleClientID, ClientSecret: secret,
		RedirectURL: b.console.URL + "/console/oauth/callback",
	}
	sim.SetCodeClient(gcsim.CodeClient{ID: gcsim.DefaultConsoleClientID, Secret: gcsim.DefaultConsoleClientSecret,
		RedirectURIs: []string{b.flow.RedirectURL}})
	mux.HandleFunc("GET /login/genesys", func(w http.ResponseWriter, r *http.Request) {
		authURL, state, verifier := b.flow.Start()
		http.SetCookie(w, &http.Cookie{Name: "signin", Value: state + "." + verifier, Path: "/console/oauth/", HttpOnly: true})
		http.Redirect(w, r, authURL, http.StatusFound)
	})
	mux.HandleFunc("GET /console/oauth/callback", func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie("signin")
		if err != nil {
			http.Error(w, "no sign-in", http.StatusBadRequest)
			return
		}
		state, verifier, _ := strings.Cut(c.Value, ".")
		q := r.URL.Query()
		if err := genesys.CheckState(state, q.Get("state")); err != nil {
			http.Error(w, err.Error(), http.StatusForbidden)
			return
		}
		if err := genesys.CallbackError(q); err != nil {
			http.Error(w, err.Error(), http.StatusForbidden)
			return
		}
		u, err := b.flow.Finish(r.Context(), q.Get("code"), verifier)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		role, ok := genesys.MapRoles(u, consoleRoles)
		if !ok {
			http.Error(w, "not allowed: "+u.Name, http.StatusForbidden)
			return
		}
		fmt.Fprintf(w, "%s %s %s %s", role, u.ID, u.Email, u.Name)
	})
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	b.browser = &http.Client{Jar: jar}
	b.manual = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return b
}

var hiddenInput = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

// loginForm reads the hidden fields of the login page's first form.
func loginForm(t *testing.T, page string) url.Values {
	t.Helper()
	v := url.Values{}
	for _, m := range hiddenInput.FindAllStringSubmatch(page, -1) {
		if v.Has(m[1]) {
			break // the next form repeats them
		}
		v.Set(m[1], html.UnescapeString(m[2]))
	}
	if v.Get("client_id") == "" {
		t.Fatalf("no login form in:\n%s", page)
	}
	return v
}

// get fetches u with c and returns the status and body.
func get(t *testing.T, c *http.Client, u string) (int, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func post(t *testing.T, c *http.Client, u string, form url.Values) (*http.Response, string) {
	t.Helper()
	resp, err := c.PostForm(u, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// browse signs in through the console with the browser: the console's
// start, the login page, then the given form fields posted on it; the
// redirects are followed to the console's callback, whose answer is
// returned.
func (b *signIn) browse(t *testing.T, fields url.Values) (int, string) {
	t.Helper()
	status, page := get(t, b.browser, b.console.URL+"/login/genesys")
	if status != http.StatusOK || !strings.Contains(page, `<label for="username">Username</label>`) {
		t.Fatalf("login page: %d\n%s", status, page)
	}
	form := loginForm(t, page)
	for k, v := range fields {
		form[k] = v
	}
	resp, body := post(t, b.browser, b.simURL+"/oauth/authorize", form)
	return resp.StatusCode, body
}

// code runs the authorization step by hand and returns the callback's code
// and the verifier.
func (b *signIn) code(t *testing.T, flow *genesys.AuthCodeFlow) (code, verifier string) {
	t.Helper()
	authURL, state, verifier := flow.Start()
	status, page := get(t, b.manual, authURL)
	if status != http.StatusOK {
		t.Fatalf("authorize: %d\n%s", status, page)
	}
	form := loginForm(t, page)
	form.Set("user", gcsim.DefaultUsers()[0].ID)
	resp, _ := post(t, b.manual, b.simURL+"/oauth/authorize", form)
	loc, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || err != nil {
		t.Fatalf("authorize post: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if got := loc.Query().Get("state"); got != state {
		t.Fatalf("state = %q, want %q", got, state)
	}
	return loc.Query().Get("code"), verifier
}

func TestSignInFlow(t *testing.T) {
	t.Parallel()
	users := gcsim.DefaultUsers()
	for _, tc := range []struct {
		user   gcsim.User
		status int
		want   string
	}{
		{users[0], http.StatusOK, "admin " + users[0].ID + " avery.admin@example.com Avery Admin"},
		{users[1], http.StatusOK, "supervisor " + users[1].ID + " sam.supervisor@example.com Sam Supervisor"},
		{users[2], http.StatusOK, "viewer " + users[2].ID + " vic.viewer@example.com Vic Viewer"},
		{users[3], http.StatusForbidden, "not allowed: Nico Noaccess"},
	} {
		t.Run(tc.user.Name, func(t *testing.T) {
			t.Parallel()
			b := setupSignIn(t, gcsim.DefaultConsoleClientSecret)
			status, body := b.browse(t, url.Values{"username": {tc.user.Email}, "password": {gcsim.DefaultUserPassword}, "action": {"signin"}})
			if status != tc.status || strings.TrimSpace(body) != tc.want {
				t.Errorf("got %d %q, want %d %q", status, body, tc.status, tc.want)
			}
		})
	}

	t.Run("QuickButton", func(t *testing.T) {
		t.Parallel()
		b := setupSignIn(t, gcsim.DefaultConsoleClientSecret)
		status, body := b.browse(t, url.Values{"user": {users[1].ID}})
		if status != http.StatusOK || !strings.HasPrefix(body, "supervisor ") {
			t.Errorf("got %d %q", status, body)
		}
	})

	t.Run("WrongPassword", func(t *testing.T) {
		t.Parallel()
		b := setupSignIn(t, gcsim.DefaultConsoleClientSecret)
		status, body := b.browse(t, url.Values{"username": {users[0].Email}, "password": {"nope"}, "action": {"signin"}})
		if status != http.StatusOK || !strings.Contains(body, `<p role="alert">The username or password is wrong.</p>`) {
			t.Errorf("got %d\n%s", status, body)
		}
	})

	t.Run("Denied", func(t *testing.T) {
		t.Parallel()
		b := setupSignIn(t, gcsim.DefaultConsoleClientSecret)
		status, body := b.browse(t, url.Values{"action": {"deny"}})
		if status != http.StatusForbidden || strings.TrimSpace(body) != genesys.ErrSignInDenied.Error() {
			t.Errorf("got %d %q", status, body)
		}
	})

	t.Run("StateMismatch", func(t *testing.T) {
		t.Parallel()
		b := setupSignIn(t, gcsim.DefaultConsoleClientSecret)
		status, body := b.browse(t, url.Values{"state": {"forged"}, "user": {users[0].ID}})
		if status != http.StatusForbidden || strings.TrimSpace(body) != genesys.ErrSignInState.Error() {
			t.Errorf("got %d %q", status, body)
		}
	})

	t.Run("PKCEClient", func(t *testing.T) {
		t.Parallel()
		b := setupSignIn(t, "")
		b.sim.SetCodeClient(gcsim.CodeClient{ID: "sim-pkce", GrantType: gcsim.GrantPKCE, RedirectURIs: []string{b.flow.RedirectURL}})
		b.flow.ClientID = "sim-pkce"
		status, body := b.browse(t, url.Values{"user": {users[0].ID}})
		if status != http.StatusOK || !strings.HasPrefix(body, "admin ") {
			t.Errorf("got %d %q", status, body)
		}
	})
}

// noSecrets fails when err's message holds any of secrets.
func noSecrets(t *testing.T, err error, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if s != "" && strings.Contains(err.Error(), s) {
			t.Errorf("error %q reveals %q", err, s)
		}
	}
}

func TestSignInErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		b := setupSignIn(t, gcsim.DefaultConsoleClientSecret)
		code, verifier := b.code(t, b.flow)
		u, err := b.flow.Finish(ctx, code, verifier)
		if err != nil {
			t.Fatal(err)
		}
		want := gcsim.DefaultUsers()[0]
		if u.ID != want.ID || u.Name != want.Name || u.Email != want.Email ||
			strings.Join(u.Roles, ",") != "Slotline Admin,employee" || len(u.Groups) != 0 {
			t.Errorf("user = %+v", u)
		}
	})

	t.Run("ErrWrongVerifier", func(t *testing.T) {
		t.Parallel()
		b := setupSignIn(t, gcsim.DefaultConsoleClientSecret)
		code, verifier := b.code(t, b.flow)
		_, _, other := b.flow.Start()
		_, err := b.flow.Finish(ctx, code, other)
		if !errors.Is(err, genesys.ErrSignInBadCode) {
			t.Fatalf("err = %v, want ErrSignInBadCode", err)
		}
		var ae *genesys.APIError
		if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest || ae.Code != "invalid_grant" {
			t.Errorf("api error = %+v", ae)
		}
		noSecrets(t, err, code, verifier, other, gcsim.DefaultConsoleClientSecret)
		// The code was used up by the failed attempt.
		if _, err := b.flow.Finish(ctx, code, verifier); !errors.Is(err, genesys.ErrSignInBadCode) {
			t.Errorf("right verifier after a wrong one: err = %v, want ErrSignInBadCode", err)
		}
	})

	t.Run("ErrMalformedVerifier", func(t *testing.T) {
		t.Parallel()
		b := setupSignIn(t, gcsim.DefaultConsoleClientSecret)
		code, _ := b.code(t, b.flow)
		before := b.sim.Stats().Count("POST /oauth/token", 0)
		_, err := b.flow.Finish(ctx, code, "short")
		if !errors.Is(err, genesys.ErrSignInBadVerifier) {
			t.Fatalf("err = %v, want ErrSignInBadVerifier", err)
		}
		if n := b.sim.Stats().Count("POST /oauth/token", 0); n != before {
			t.Errorf("token requests = %d, want %d (none sent)", n, before)
		}
	})

	t.Run("ErrReusedCode", func(t *testing.T) {
		t.Parallel()
		b := setupSignIn(t, gcsim.DefaultConsoleClientSecret)
		code, verifier := b.code(t, b.flow)
		if _, err := b.flow.Finish(ctx, code, verifier); err != nil {
			t.Fatal(err)
		}
		_, err := b.flow.Finish(ctx, code, verifier)
		if !errors.Is(err, genesys.ErrSignInBadCode) {
			t.Fatalf("err = %v, want ErrSignInBadCode", err)
		}
		noSecrets(t, err, code, verifier)
	})

	t.Run("ErrWrongRedirectURI", func(t *testing.T) {
		t.Parallel()
		b := setupSignIn(t, gcsim.DefaultConsoleClientSecret)
		other := *b.flow
		other.RedirectURL = b.console.URL + "/elsewhere"
		b.sim.SetCodeClient(gcsim.CodeClient{ID: gcsim.DefaultConsoleClientID, Secret: gcsim.DefaultConsoleClientSecret,
			RedirectURIs: []string{b.flow.RedirectURL, other.RedirectURL}})
		code, verifier := b.code(t, b.flow)
		if _, err := other.Finish(ctx, code, verifier); !errors.Is(err, genesys.ErrSignInBadCode) {
			t.Fatalf("err = %v, want ErrSignInBadCode", err)
		}
	})

	t.Run("ErrUnregisteredRedirectURI", func(t *testing.T) {
		t.Parallel()
		b := setupSignIn(t, gcsim.DefaultConsoleClientSecret)
		other := *b.flow
		other.RedirectURL = "https://attacker.example/cb"
		authURL, _, _ := other.Start()
		resp, err := b.manual.Get(authURL)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" ||
			!strings.Contains(string(body), "The redirect URI is not registered") {
			t.Errorf("got %d %q\n%s", resp.StatusCode, resp.Header.Get("Location"), body)
		}
	})

	t.Run("ErrWrongClientSecret", func(t *testing.T) {
		t.Parallel()
		b := setupSignIn(t, gcsim.DefaultConsoleClientSecret)
		code, verifier := b.code(t, b.flow)
		bad := *b.flow
		bad.ClientSecret = "not-the-secret-123"
		_, err := bad.Finish(ctx, code, verifier)
		if !errors.Is(err, genesys.ErrSignInClient) {
			t.Fatalf("err = %v, want ErrSignInClient", err)
		}
		var ae *genesys.APIError
		if !errors.As(err, &ae) || ae.Status != http.StatusUnauthorized || ae.Code != "invalid_client" {
			t.Errorf("api error = %+v", ae)
		}
		noSecrets(t, err, code, verifier, bad.ClientSecret, gcsim.DefaultConsoleClientSecret)
	})

	t.Run("ErrAPI", func(t *testing.T) {
		t.Parallel()
		b := setupSignIn(t, gcsim.DefaultConsoleClientSecret)
		code, verifier := b.code(t, b.flow)
		b.sim.FailNext(gcsim.Fault{Method: "GET", PathPrefix: "/api/v2/users/me", Status: http.StatusServiceUnavailable})
		_, err := b.flow.Finish(ctx, code, verifier)
		var ae *genesys.APIError
		if !errors.Is(err, genesys.ErrSignInAPI) || !errors.As(err, &ae) || ae.Status != http.StatusServiceUnavailable {
			t.Fatalf("err = %v, want ErrSignInAPI with a 503 APIError", err)
		}
	})

	t.Run("ErrCanceled", func(t *testing.T) {
		t.Parallel()
		b := setupSignIn(t, gcsim.DefaultConsoleClientSecret)
		code, verifier := b.code(t, b.flow)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err := b.flow.Finish(cctx, code, verifier)
		if !errors.Is(err, genesys.ErrSignInAPI) || !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want ErrSignInAPI and context.Canceled", err)
		}
	})
}

func TestStartURL(t *testing.T) {
	t.Parallel()
	f := &genesys.AuthCodeFlow{LoginBase: "https://login.mypurecloud.ie/", ClientID: "cid", RedirectURL: "https://slotline.example/console/oauth/callback"}
	authURL, state, verifier := f.Start()
	u, err := url.Parse(authURL)
	if err != nil {
		t.Fatal(err)
	}
	if u.Scheme+"://"+u.Host+u.Path != "https://login.mypurecloud.ie/oauth/authorize" {
		t.Errorf("url = %s", authURL)
	}
	q := u.Query()
	for k, want := range map[string]string{"response_type": "code", "client_id": "cid", "redirect_uri": f.RedirectURL,
		"state": state, "code_challenge_method": "S256"} {
		if got := q.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if len(state) != 43 || len(verifier) != 43 || len(q.Get("code_challenge")) != 43 || q.Get("code_challenge") == verifier {
		t.Errorf("state %q, verifier %q, challenge %q: want 43 characters each (256 bits), challenge not the verifier", state, verifier, q.Get("code_challenge"))
	}
	if q.Has("scope") || q.Has("code_verifier") {
		t.Errorf("unexpected parameters: %s", u.RawQuery)
	}
	_, state2, verifier2 := f.Start()
	if state2 == state || verifier2 == verifier {
		t.Error("Start repeats its state or verifier")
	}
}

func TestCheckStateAndCallbackError(t *testing.T) {
	t.Parallel()
	if err := genesys.CheckState("abc", "abc"); err != nil {
		t.Errorf("same state: %v", err)
	}
	for _, got := range []string{"abd", "", "abcd"} {
		if err := genesys.CheckState("abc", got); !errors.Is(err, genesys.ErrSignInState) {
			t.Errorf("CheckState(abc, %q) = %v", got, err)
		}
	}
	if err := genesys.CheckState("", ""); !errors.Is(err, genesys.ErrSignInState) {
		t.Errorf("empty want: %v", err)
	}
	for _, tc := range []struct {
		query string
		want  error
	}{
		{"code=x&state=s", nil},
		{"error=access_denied&state=s", genesys.ErrSignInDenied},
		{"error=server_error", genesys.ErrSignInFailed},
		{"error=%3Cscript%3E", genesys.ErrSignInFailed},
		{"state=s", genesys.ErrSignInFailed},
	} {
		q, _ := url.ParseQuery(tc.query)
		err := genesys.CallbackError(q)
		if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
			t.Errorf("CallbackError(%s) = %v, want %v", tc.query, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "<script>") {
			t.Errorf("CallbackError repeats the query: %v", err)
		}
	}
}

func TestMapRoles(t *testing.T) {
	t.Parallel()
	m := map[string][]string{
		"admin":      {"Slotline Admin"},
		"supervisor": {"Slotline Supervisor", "Team Leads"},
		"viewer":     {"Slotline Viewers", "employee"},
		"owner":      {"Everyone"}, // not a console role: ignored
	}
	for _, tc := range []struct {
		name   string
		user   *genesys.User
		m      map[string][]string
		want   string
		wantOK bool
	}{
		{"admin by role", &genesys.User{Roles: []string{"Slotline Admin"}}, m, "admin", true},
		{"supervisor by group", &genesys.User{Groups: []string{"Team Leads"}}, m, "supervisor", true},
		{"viewer by role", &genesys.User{Roles: []string{"employee"}}, m, "viewer", true},
		{"highest wins", &genesys.User{Roles: []string{"employee", "Slotline Admin"}, Groups: []string{"Team Leads"}}, m, "admin", true},
		{"role and group mixed", &genesys.User{Roles: []string{"employee"}, Groups: []string{"Team Leads"}}, m, "supervisor", true},
		{"no match", &genesys.User{Roles: []string{"Agent"}, Groups: []string{"Agents"}}, m, "", false},
		{"case matters", &genesys.User{Roles: []string{"slotline admin"}}, m, "", false},
		{"unknown key ignored", &genesys.User{Groups: []string{"Everyone"}}, m, "", false},
		{"no user", nil, m, "", false},
		{"no mapping", &genesys.User{Roles: []string{"Slotline Admin"}}, nil, "", false},
		{"empty user", &genesys.User{}, m, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := genesys.MapRoles(tc.user, tc.m)
			if got != tc.want || ok != tc.wantOK {
				t.Errorf("MapRoles = %q, %v; want %q, %v", got, ok, tc.want, tc.wantOK)
			}
		})
	}
}
