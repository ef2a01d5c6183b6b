package gcsim_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/slotline/slotline/internal/genesys/gcsim"
)

const redirectURI = "https://slotline.example/console/oauth/callback"

// testVerifier is a fixed RFC 7636 code verifier (43 characters).
const testVerifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"

func challenge(v string) string {
	sum := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// noRedirect is a client that stops at the first redirect.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// setupSignIn is setup with the default console client registered for
// redirectURI.
func setupSignIn(t *testing.T) *bundle {
	t.Helper()
	b := setup(t, gcsim.Options{})
	b.sim.SetCodeClient(gcsim.CodeClient{ID: gcsim.DefaultConsoleClientID, Secret: gcsim.DefaultConsoleClientSecret, RedirectURIs: []string{redirectURI}})
	return b
}

// authParams are the parameters of an authorization request with PKCE.
func authParams() url.Values {
	return url.Values{
		"response_type": {"code"}, "client_id": {gcsim.DefaultConsoleClientID}, "redirect_uri": {redirectURI},
		"state": {"st-1"}, "code_challenge": {challenge(testVerifier)}, "code_challenge_method": {"S256"},
	}
}

// authorize posts the login form (params plus extra) and returns the
// answer without following its redirect.
func (b *bundle) authorize(t *testing.T, params url.Values, extra url.Values) result {
	t.Helper()
	form := url.Values{}
	for k, v := range params {
		form[k] = v
	}
	for k, v := range extra {
		form[k] = v
	}
	req, _ := http.NewRequest("POST", b.base+"/oauth/authorize", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return sendWith(t, noRedirect, req)
}

// location returns the query of a redirect's Location, failing unless res
// is a 302 to redirectURI.
func location(t *testing.T, res result) url.Values {
	t.Helper()
	loc, err := url.Parse(res.header.Get("Location"))
	if res.status != http.StatusFound || err != nil || !strings.HasPrefix(loc.String(), redirectURI+"?") {
		t.Fatalf("status %d, Location %q; body %s", res.status, res.header.Get("Location"), res.body)
	}
	return loc.Query()
}

// codeFor signs the user with id in and returns the code.
func (b *bundle) codeFor(t *testing.T, userID string) string {
	t.Helper()
	q := location(t, b.authorize(t, authParams(), url.Values{"user": {userID}}))
	if q.Get("state") != "st-1" || q.Get("code") == "" {
		t.Fatalf("redirect query %v", q)
	}
	return q.Get("code")
}

// exchange posts a code to /oauth/token with the console client's Basic
// credentials (unless id is "").
func (b *bundle) exchange(t *testing.T, id, secret string, form url.Values) result {
	t.Helper()
	req, _ := http.NewRequest("POST", b.base+"/oauth/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if id != "" {
		req.SetBasicAuth(id, secret)
	}
	return send(t, req)
}

func codeForm(code string) url.Values {
	return url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirectURI}, "code_verifier": {testVerifier}}
}

func wantOAuthError(t *testing.T, res result, status int, code string) {
	t.Helper()
	var e struct {
		Error            string `json:"error"`
		Description      string `json:"description"`
		ErrorDescription string `json:"error_description"`
	}
	if res.status != status || json.Unmarshal(res.body, &e) != nil || e.Error != code || e.Description == "" || e.ErrorDescription == "" {
		t.Fatalf("got %d %s, want %d error %q", res.status, res.body, status, code)
	}
}

// userToken signs user in and exchanges the code for an access token.
func (b *bundle) userToken(t *testing.T, userID string) string {
	t.Helper()
	res := b.exchange(t, gcsim.DefaultConsoleClientID, gcsim.DefaultConsoleClientSecret, codeForm(b.codeFor(t, userID)))
	var tok struct {
		AccessToken  string `json:"access_token"`
		TokenType    string `json:"token_type"`
		ExpiresIn    int    `json:"expires_in"`
		RefreshToken string `json:"refresh_token"`
	}
	res.decode(t, &tok)
	if res.status != http.StatusOK || tok.AccessToken == "" || tok.TokenType != "bearer" || tok.ExpiresIn <= 0 || tok.RefreshToken == "" {
		t.Fatalf("token: %d %s", res.status, res.body)
	}
	return tok.AccessToken
}

// userMe is the part of UserMe the tests read.
type userMe struct {
	ID            string `json:"id"`
	Name          string `json:"name"`
	Email         string `json:"email"`
	Authorization *struct {
		Roles []struct{ ID, Name string } `json:"roles"`
	} `json:"authorization"`
	Groups []struct{ ID, Name string } `json:"groups"`
}

func TestLoginPage(t *testing.T) {
	t.Parallel()
	b := setupSignIn(t)
	res := sendWith(t, noRedirect, mustRequest(t, "GET", b.base+"/oauth/authorize?"+authParams().Encode()))
	page := string(res.body)
	if res.status != http.StatusOK || !strings.HasPrefix(res.header.Get("Content-Type"), "text/html") {
		t.Fatalf("status %d %s", res.status, res.header.Get("Content-Type"))
	}
	for _, want := range []string{
		`<html lang="en">`, `<h1>Sign in to Genesys Cloud</h1>`,
		`<label for="username">Username</label><input id="username" name="username"`,
		`<label for="password">Password</label><input id="password" name="password" type="password"`,
		`<button type="submit" name="action" value="signin">Sign in</button>`,
		`>Sign in as Avery Admin</button>`, `>Sign in as Vic Viewer</button>`, `groups: Slotline Viewers`,
		`<button type="submit" class="secondary" name="action" value="deny">Cancel</button>`,
		`name="code_challenge" value="` + challenge(testVerifier) + `"`, `name="state" value="st-1"`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	if strings.Contains(page, gcsim.DefaultUserPassword) {
		t.Error("the page shows a password")
	}
	if csp := res.header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || res.header.Get("Cache-Control") != "no-store" {
		t.Errorf("headers %v", res.header)
	}
}

func mustRequest(t *testing.T, method, u string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func TestAuthorizeErrors(t *testing.T) {
	t.Parallel()
	b := setupSignIn(t)
	b.sim.SetCodeClient(gcsim.CodeClient{ID: "pkce-only", GrantType: gcsim.GrantPKCE, RedirectURIs: []string{redirectURI}})
	with := func(k, v string) url.Values {
		p := authParams()
		if v == "" {
			p.Del(k)
		} else {
			p.Set(k, v)
		}
		return p
	}
	// Faults of the client or redirect URI: an error page, no redirect.
	for name, p := range map[string]url.Values{
		"unknown client":           with("client_id", "nobody"),
		"unregistered redirect":    with("redirect_uri", "https://attacker.example/cb"),
		"redirect with a new path": with("redirect_uri", redirectURI+"/x"),
		"no redirect":              with("redirect_uri", ""),
	} {
		res := sendWith(t, noRedirect, mustRequest(t, "GET", b.base+"/oauth/authorize?"+p.Encode()))
		if res.status != http.StatusBadRequest || res.header.Get("Location") != "" || !strings.Contains(string(res.body), `role="alert"`) {
			t.Errorf("%s: %d %q", name, res.status, res.header.Get("Location"))
		}
	}
	// Other faults: redirected to the client with error and state.
	for name, tc := range map[string]struct {
		p    url.Values
		code string
	}{
		"implicit":      {with("response_type", "token"), "unsupported_response_type"},
		"plain method":  {with("code_challenge_method", "plain"), "invalid_request"},
		"no method":     {with("code_challenge_method", ""), "invalid_request"},
		"bad challenge": {with("code_challenge", "short"), "invalid_request"},
		"PKCE client, no PKCE": {func() url.Values {
			p := with("client_id", "pkce-only")
			p.Del("code_challenge")
			p.Del("code_challenge_method")
			return p
		}(), "invalid_request"},
	} {
		res := sendWith(t, noRedirect, mustRequest(t, "GET", b.base+"/oauth/authorize?"+tc.p.Encode()))
		q := location(t, res)
		if q.Get("error") != tc.code || q.Get("state") != "st-1" || q.Has("code") {
			t.Errorf("%s: redirect query %v, want error %s", name, q, tc.code)
		}
	}
	// Posting the form re-checks the request.
	res := b.authorize(t, with("redirect_uri", "https://attacker.example/cb"), url.Values{"user": {gcsim.DefaultUsers()[0].ID}})
	if res.status != http.StatusBadRequest || res.header.Get("Location") != "" {
		t.Errorf("post with an unregistered redirect: %d %q", res.status, res.header.Get("Location"))
	}
	// Deny.
	q := location(t, b.authorize(t, authParams(), url.Values{"action": {"deny"}}))
	if q.Get("error") != "access_denied" || q.Get("state") != "st-1" || q.Has("code") {
		t.Errorf("deny: %v", q)
	}
	// A wrong password shows the page again.
	res = b.authorize(t, authParams(), url.Values{"username": {"avery.admin@example.com"}, "password": {"wrong"}})
	if res.status != http.StatusOK || !strings.Contains(string(res.body), `<p role="alert">The username or password is wrong.</p>`) {
		t.Errorf("wrong password: %d %s", res.status, res.body)
	}
	// The right one signs in; the username is not case-sensitive.
	q = location(t, b.authorize(t, authParams(), url.Values{"username": {"Avery.Admin@example.com"}, "password": {gcsim.DefaultUserPassword}}))
	if q.Get("code") == "" {
		t.Errorf("password sign-in: %v", q)
	}
}

func TestCodeExchange(t *testing.T) {
	t.Parallel()
	admin := gcsim.DefaultUsers()[0].ID

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		b := setupSignIn(t)
		tok := b.userToken(t, admin)
		var me userMe
		b.callWith(t, tok, "GET", "/api/v2/users/me?expand=authorization,groups", nil).decode(t, &me)
		if me.ID != admin || me.Name != "Avery Admin" || me.Email != "avery.admin@example.com" ||
			me.Authorization == nil || len(me.Authorization.Roles) != 2 || me.Authorization.Roles[0].Name != "Slotline Admin" || me.Authorization.Roles[0].ID == "" {
			t.Errorf("users/me = %+v", me)
		}
	})

	for name, tc := range map[string]struct {
		id, secret string
		form       func(code string) url.Values
		status     int
		err        string
	}{
		"ErrWrongSecret": {gcsim.DefaultConsoleClientID, "nope", codeForm, 401, "invalid_client"},
		"ErrNoClientAuth": {"", "", func(c string) url.Values {
			f := codeForm(c)
			f.Set("client_id", gcsim.DefaultConsoleClientID)
			return f
		}, 401, "invalid_client"},
		"ErrOtherClient":       {"other-code", "other-secret", codeForm, 400, "invalid_grant"},
		"ErrWrongRedirect":     {gcsim.DefaultConsoleClientID, gcsim.DefaultConsoleClientSecret, func(c string) url.Values { f := codeForm(c); f.Set("redirect_uri", redirectURI+"x"); return f }, 400, "invalid_grant"},
		"ErrWrongVerifier":     {gcsim.DefaultConsoleClientID, gcsim.DefaultConsoleClientSecret, func(c string) url.Values { f := codeForm(c); f.Set("code_verifier", strings.Repeat("a", 43)); return f }, 400, "invalid_grant"},
		"ErrNoVerifier":        {gcsim.DefaultConsoleClientID, gcsim.DefaultConsoleClientSecret, func(c string) url.Values { f := codeForm(c); f.Del("code_verifier"); return f }, 400, "invalid_grant"},
		"ErrUnknownCode":       {gcsim.DefaultConsoleClientID, gcsim.DefaultConsoleClientSecret, func(string) url.Values { return codeForm("made-up") }, 400, "invalid_grant"},
		"ErrMissingRedirect":   {gcsim.DefaultConsoleClientID, gcsim.DefaultConsoleClientSecret, func(c string) url.Values { f := codeForm(c); f.Del("redirect_uri"); return f }, 400, "invalid_request"},
		"ErrCredentialsClient": {gcsim.DefaultClientID, gcsim.DefaultClientSecret, codeForm, 401, "invalid_client"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := setupSignIn(t)
			b.sim.SetCodeClient(gcsim.CodeClient{ID: "other-code", Secret: "other-secret", RedirectURIs: []string{redirectURI}})
			code := b.codeFor(t, admin)
			wantOAuthError(t, b.exchange(t, tc.id, tc.secret, tc.form(code)), tc.status, tc.err)
		})
	}

	t.Run("ErrReusedCodeRevokesItsToken", func(t *testing.T) {
		t.Parallel()
		b := setupSignIn(t)
		code := b.codeFor(t, admin)
		res := b.exchange(t, gcsim.DefaultConsoleClientID, gcsim.DefaultConsoleClientSecret, codeForm(code))
		var tok struct {
			AccessToken string `json:"access_token"`
		}
		res.decode(t, &tok)
		if got := b.callWith(t, tok.AccessToken, "GET", "/api/v2/users/me", nil); got.status != http.StatusOK {
			t.Fatalf("users/me: %d %s", got.status, got.body)
		}
		wantOAuthError(t, b.exchange(t, gcsim.DefaultConsoleClientID, gcsim.DefaultConsoleClientSecret, codeForm(code)), 400, "invalid_grant")
		wantError(t, b.callWith(t, tok.AccessToken, "GET", "/api/v2/users/me", nil), http.StatusUnauthorized, "bad.credentials")
	})

	t.Run("ErrCodeUsedByFailedAttempt", func(t *testing.T) {
		t.Parallel()
		b := setupSignIn(t)
		code := b.codeFor(t, admin)
		bad := codeForm(code)
		bad.Set("code_verifier", strings.Repeat("b", 43))
		wantOAuthError(t, b.exchange(t, gcsim.DefaultConsoleClientID, gcsim.DefaultConsoleClientSecret, bad), 400, "invalid_grant")
		wantOAuthError(t, b.exchange(t, gcsim.DefaultConsoleClientID, gcsim.DefaultConsoleClientSecret, codeForm(code)), 400, "invalid_grant")
	})

	t.Run("PKCEClient", func(t *testing.T) {
		t.Parallel()
		b := setupSignIn(t)
		b.sim.SetCodeClient(gcsim.CodeClient{ID: "pkce-only", GrantType: gcsim.GrantPKCE, RedirectURIs: []string{redirectURI}})
		p := authParams()
		p.Set("client_id", "pkce-only")
		code := location(t, b.authorize(t, p, url.Values{"user": {admin}})).Get("code")
		f := codeForm(code)
		wantOAuthError(t, b.exchange(t, "pkce-only", "", f), 400, "invalid_request") // Basic is not for a PKCE client
		code = location(t, b.authorize(t, p, url.Values{"user": {admin}})).Get("code")
		f = codeForm(code)
		f.Set("client_id", "pkce-only")
		res := b.exchange(t, "", "", f)
		if res.status != http.StatusOK || strings.Contains(string(res.body), "refresh_token") {
			t.Errorf("PKCE exchange: %d %s", res.status, res.body)
		}
	})

	t.Run("NoPKCE", func(t *testing.T) {
		t.Parallel()
		b := setupSignIn(t)
		p := authParams()
		p.Del("code_challenge")
		p.Del("code_challenge_method")
		code := location(t, b.authorize(t, p, url.Values{"user": {admin}})).Get("code")
		f := codeForm(code)
		f.Del("code_verifier")
		if res := b.exchange(t, gcsim.DefaultConsoleClientID, gcsim.DefaultConsoleClientSecret, f); res.status != http.StatusOK {
			t.Errorf("code grant without PKCE: %d %s", res.status, res.body)
		}
	})
}

func TestUsersMe(t *testing.T) {
	t.Parallel()
	b := setupSignIn(t)
	viewer := gcsim.DefaultUsers()[2]
	tok := b.userToken(t, viewer.ID)

	var plain map[string]any
	b.callWith(t, tok, "GET", "/api/v2/users/me", nil).decode(t, &plain)
	if plain["id"] != viewer.ID || plain["authorization"] != nil || plain["groups"] != nil {
		t.Errorf("without expand: %v", plain)
	}
	for _, q := range []string{"expand=authorization,groups", "expand=authorization&expand=groups", "expand=groups%2Cauthorization"} {
		var me userMe
		res := b.callWith(t, tok, "GET", "/api/v2/users/me?"+q, nil)
		res.decode(t, &me)
		if res.status != http.StatusOK || me.Authorization == nil || len(me.Groups) != 1 || me.Groups[0].Name != "Slotline Viewers" || me.Groups[0].ID == "" {
			t.Errorf("%s: %d %s", q, res.status, res.body)
		}
	}
	wantError(t, b.callWith(t, tok, "GET", "/api/v2/users/me?expand=authorisation", nil), http.StatusBadRequest, "bad.request")
	// A client-credentials token has no user.
	wantError(t, b.call(t, "GET", "/api/v2/users/me?expand=authorization", nil), http.StatusBadRequest, "bad.request")
	wantError(t, b.callWith(t, "", "GET", "/api/v2/users/me", nil), http.StatusUnauthorized, "authentication.required")
}

func TestAdminUsersAndClients(t *testing.T) {
	t.Parallel()
	b := setupSignIn(t)

	res := b.admin(t, "POST", "/sim/users", `{"name":"Olga Ops","email":"olga@example.com","password":"pw-olga","roles":["Slotline Supervisor"],"groups":["Night Shift"]}`)
	var added gcsim.User
	res.decode(t, &added)
	if res.status != http.StatusOK || added.ID == "" || added.Password != "" || added.Name != "Olga Ops" {
		t.Fatalf("add user: %d %s", res.status, res.body)
	}
	var users []gcsim.User
	b.admin(t, "GET", "/sim/users", "").decode(t, &users)
	if len(users) != len(gcsim.DefaultUsers())+1 || users[len(users)-1].ID != added.ID {
		t.Errorf("users = %+v", users)
	}
	for _, u := range users {
		if u.Password != "" {
			t.Errorf("GET /sim/users shows %s's password", u.Name)
		}
	}
	q := location(t, b.authorize(t, authParams(), url.Values{"username": {"olga@example.com"}, "password": {"pw-olga"}}))
	res = b.exchange(t, gcsim.DefaultConsoleClientID, gcsim.DefaultConsoleClientSecret, codeForm(q.Get("code")))
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	res.decode(t, &tok)
	var me userMe
	b.callWith(t, tok.AccessToken, "GET", "/api/v2/users/me?expand=authorization,groups", nil).decode(t, &me)
	if me.ID != added.ID || len(me.Groups) != 1 || me.Groups[0].Name != "Night Shift" {
		t.Errorf("users/me of the added user: %+v", me)
	}

	if res := b.admin(t, "DELETE", "/sim/users/"+added.ID, ""); res.status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", res.status, res.body)
	}
	wantError(t, b.callWith(t, tok.AccessToken, "GET", "/api/v2/users/me", nil), http.StatusUnauthorized, "bad.credentials")
	if res := b.admin(t, "DELETE", "/sim/users/"+added.ID, ""); res.status != http.StatusNotFound {
		t.Errorf("delete again: %d", res.status)
	}
	if res := b.admin(t, "POST", "/sim/users", `{"name":"No Mail"}`); res.status != http.StatusBadRequest {
		t.Errorf("user without email: %d", res.status)
	}

	if res := b.admin(t, "PUT", "/sim/oauth/clients/console-2", `{"secret":"s2","redirectUris":["http://127.0.0.1:8080/console/oauth/callback"]}`); res.status != http.StatusNoContent {
		t.Fatalf("put client: %d %s", res.status, res.body)
	}
	for _, body := range []string{
		`{"redirectUris":["https://a.example/cb"]}`,                   // CODE without a secret
		`{"secret":"s","grantType":"TOKEN","redirectUris":[]}`,        // not a code grant
		`{"secret":"s","redirectUris":["/relative"]}`,                 // not absolute
		`{"secret":"s","redirectUris":["https://a.example/cb#frag"]}`, // a fragment
	} {
		if res := b.admin(t, "PUT", "/sim/oauth/clients/bad", body); res.status != http.StatusBadRequest {
			t.Errorf("put client %s: %d", body, res.status)
		}
	}
	p := authParams()
	p.Set("client_id", "console-2")
	p.Set("redirect_uri", "http://127.0.0.1:8080/console/oauth/callback")
	if res := sendWith(t, noRedirect, mustRequest(t, "GET", b.base+"/oauth/authorize?"+p.Encode())); res.status != http.StatusOK {
		t.Errorf("authorize with the new client: %d %s", res.status, res.body)
	}
}
