package gcsim

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Sign-in of users: the login host's authorization code grant (with or
// without PKCE) and GET /api/v2/users/me. See the package documentation for
// what is confirmed and what is the simulator's choice.

// Grant types of a CodeClient, as Genesys' OAuthClient.authorizedGrantType
// names them.
const (
	// GrantCode is "Code Authorization": the client authenticates with its
	// secret (HTTP Basic); PKCE is optional, and checked when the
	// authorization request carried a code_challenge.
	GrantCode = "CODE"
	// GrantPKCE is "PKCE-Enabled Code Authorization": no secret, client_id
	// in the token request's form, code_challenge (S256) required.
	GrantPKCE = "PKCE"
)

// Default console client, accepted when Options.CodeClients is nil. It has
// no registered redirect URI until SetCodeClient (or PUT
// /sim/oauth/clients/{clientId}) gives it some.
const (
	DefaultConsoleClientID     = "sim-console"
	DefaultConsoleClientSecret = "sim-console-secret"
)

// DefaultUserPassword is the password of the default users (and of a User
// given without one).
const DefaultUserPassword = "sim-password"

// codeTTL is how long an authorization code may be exchanged (real time).
// Genesys' value is UNCONFIRMED; RFC 6749 recommends at most 10 minutes.
const codeTTL = 5 * time.Minute

// CodeClient is an OAuth client of a code grant type, for users' sign-in.
type CodeClient struct {
	// ID and Secret are its credentials; Secret is unused for GrantPKCE.
	ID     string `json:"id"`
	Secret string `json:"secret,omitempty"`
	// GrantType is GrantCode (the default, "") or GrantPKCE.
	GrantType string `json:"grantType,omitempty"`
	// RedirectURIs are its registered redirect URIs; an authorization
	// request's redirect_uri must be one of them exactly.
	RedirectURIs []string `json:"redirectUris"`
}

// User is a Genesys Cloud user who can sign in on the simulator's login
// page.
type User struct {
	// ID is the user's id (default: a new UUID).
	ID string `json:"id"`
	// Name is the display name; Email the email address, which is also the
	// username typed on the login page.
	Name  string `json:"name"`
	Email string `json:"email"`
	// Password is typed on the login page (default DefaultUserPassword).
	// Users and the admin API never return it.
	Password string `json:"password,omitempty"`
	// Roles and Groups are the names of the user's roles
	// (authorization.roles[].name) and groups (groups[].name).
	Roles  []string `json:"roles"`
	Groups []string `json:"groups"`
}

// DefaultUsers are the users of a simulator whose Options.Users is nil:
// one per Slotline console role (by role or by group) and one with none.
func DefaultUsers() []User {
	return []User{
		{ID: "0b5e0000-0000-4000-8000-000000000001", Name: "Avery Admin", Email: "avery.admin@example.com", Roles: []string{"Slotline Admin", "employee"}, Groups: []string{}},
		{ID: "0b5e0000-0000-4000-8000-000000000002", Name: "Sam Supervisor", Email: "sam.supervisor@example.com", Roles: []string{"Slotline Supervisor", "employee"}, Groups: []string{}},
		{ID: "0b5e0000-0000-4000-8000-000000000003", Name: "Vic Viewer", Email: "vic.viewer@example.com", Roles: []string{"employee"}, Groups: []string{"Slotline Viewers"}},
		{ID: "0b5e0000-0000-4000-8000-000000000004", Name: "Nico Noaccess", Email: "nico.noaccess@example.com", Roles: []string{"employee"}, Groups: []string{"Agents"}},
	}
}

// authCode is an issued authorization code.
type authCode struct {
	clientID, redirectURI string
	challenge             string // S256 code_challenge, or ""
	userID                string
	expires               time.Time
	used                  bool
	tokens                []string // access tokens issued with it
}

// normalizeUser fills a user's defaults.
func normalizeUser(u User) User {
	if u.ID == "" {
		u.ID = newUUID()
	}
	if u.Password == "" {
		u.Password = DefaultUserPassword
	}
	u.Roles = append([]string{}, u.Roles...)
	u.Groups = append([]string{}, u.Groups...)
	return u
}

// SetUser adds u, or replaces the user with u's id. An empty ID gets a new
// UUID, an empty Password DefaultUserPassword. It returns the stored user
// without its password. Tokens issued to a replaced user keep working and
// see the new roles and groups.
func (s *Sim) SetUser(u User) User {
	u = normalizeUser(u)
	s.mu.Lock()
	defer s.mu.Unlock()
	if i := slices.IndexFunc(s.users, func(v *User) bool { return v.ID == u.ID }); i >= 0 {
		s.users[i] = &u
	} else {
		s.users = append(s.users, &u)
	}
	out := u
	out.Password = ""
	return out
}

// RemoveUser removes the user with the given id; their tokens get 401
// bad.credentials from then on. It reports whether there was one.
func (s *Sim) RemoveUser(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.users)
	s.users = slices.DeleteFunc(s.users, func(v *User) bool { return v.ID == id })
	return len(s.users) != n
}

// Users returns the users who can sign in, in order, without passwords.
func (s *Sim) Users() []User {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]User, len(s.users))
	for i, u := range s.users {
		out[i] = *u
		out[i].Password = ""
	}
	return out
}

// SetCodeClient adds or replaces a code-grant OAuth client (by ID).
func (s *Sim) SetCodeClient(c CodeClient) {
	if c.GrantType == "" {
		c.GrantType = GrantCode
	}
	c.RedirectURIs = append([]string{}, c.RedirectURIs...)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.codeClients[c.ID] = c
}

func (s *Sim) userLocked(id string) *User {
	for _, u := range s.users {
		if u.ID == id {
			return u
		}
	}
	return nil
}

// authRequest is a checked authorization request.
type authRequest struct {
	client      CodeClient
	redirectURI string
	state       string
	challenge   string
	method      string
}

// fields returns the request as the hidden fields of the login page's
// forms.
func (a authRequest) fields() []hiddenField {
	f := []hiddenField{
		{"response_type", "code"}, {"client_id", a.client.ID}, {"redirect_uri", a.redirectURI},
	}
	if a.state != "" {
		f = append(f, hiddenField{"state", a.state})
	}
	if a.challenge != "" {
		f = append(f, hiddenField{"code_challenge", a.challenge}, hiddenField{"code_challenge_method", a.method})
	}
	return f
}

type hiddenField struct{ Name, Value string }

// challengeShape is a base64url SHA-256 digest without padding.
var challengeShape = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)

// verifierShape is RFC 7636 §4.1's code_verifier.
var verifierShape = regexp.MustCompile(`^[A-Za-z0-9._~-]{43,128}$`)

// checkAuthRequest checks the parameters of an authorization request. An
// unknown client or a redirect URI not registered is answered with an
// error page (never a redirect: RFC 6749 §4.1.2.1); other faults are
// redirected to the client with error (and state). It reports whether the
// request may go on.
func (s *Sim) checkAuthRequest(w http.ResponseWriter, v url.Values) (authRequest, bool) {
	s.mu.Lock()
	c, ok := s.codeClients[v.Get("client_id")]
	s.mu.Unlock()
	if !ok {
		writeLoginError(w, "The OAuth client is unknown.")
		return authRequest{}, false
	}
	a := authRequest{client: c, redirectURI: v.Get("redirect_uri"), state: v.Get("state"),
		challenge: v.Get("code_challenge"), method: v.Get("code_challenge_method")}
	if a.redirectURI == "" || !slices.Contains(c.RedirectURIs, a.redirectURI) {
		writeLoginError(w, "The redirect URI is not registered for this OAuth client.")
		return authRequest{}, false
	}
	switch {
	case v.Get("response_type") != "code":
		redirectError(w, a, "unsupported_response_type", "response_type must be code")
		return authRequest{}, false
	case a.challenge == "" && a.method != "":
		redirectError(w, a, "invalid_request", "code_challenge_method without code_challenge")
		return authRequest{}, false
	case a.challenge == "" && c.GrantType == GrantPKCE:
		redirectError(w, a, "invalid_request", "code_challenge is required for this client")
		return authRequest{}, false
	case a.challenge != "" && a.method != "S256":
		redirectError(w, a, "invalid_request", "code_challenge_method must be S256")
		return authRequest{}, false
	case a.challenge != "" && !challengeShape.MatchString(a.challenge):
		redirectError(w, a, "invalid_request", "code_challenge is not a base64url SHA-256 digest")
		return authRequest{}, false
	}
	return a, true
}

// redirectTo returns a's redirect URI with params added to its query.
func redirectTo(a authRequest, params url.Values) string {
	u, err := url.Parse(a.redirectURI)
	if err != nil {
		return a.redirectURI
	}
	q := u.Query()
	for k, vs := range params {
		q[k] = vs
	}
	if a.state != "" {
		q.Set("state", a.state)
	}
	u.RawQuery = q.Encode()
	return u.String()
}

func redirectError(w http.ResponseWriter, a authRequest, code, desc string) {
	w.Header().Set("Location", redirectTo(a, url.Values{"error": {code}, "error_description": {desc}}))
	w.WriteHeader(http.StatusFound)
}

// loginHeaders are the login page's headers. There is no form-action
// directive: Chromium applies it to the redirect after the form, which
// goes to the client.
func loginHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
}

func writeLoginError(w http.ResponseWriter, msg string) {
	loginHeaders(w)
	w.WriteHeader(http.StatusBadRequest)
	_ = loginPage.Execute(w, loginView{Fatal: msg})
}

// loginView is what the login page shows.
type loginView struct {
	Fatal    string // a request that cannot go on: only this message
	Error    string // a failed sign-in
	Fields   []hiddenField
	Username string
	Users    []User
}

var loginPage = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in – Genesys Cloud simulator</title>
<style>
body{font-family:system-ui,sans-serif;margin:0;padding:1rem;color:#1a1a1a;background:#fff;line-height:1.5}
main{max-width:32rem;margin:0 auto}
label{display:block;font-weight:600}
input{font:inherit;padding:.5rem;width:100%;box-sizing:border-box;border:1px solid #555;border-radius:4px}
button{font:inherit;padding:.5rem 1rem;margin:.25rem 0;border:1px solid #1a1a1a;border-radius:4px;background:#0b4fa8;color:#fff;cursor:pointer}
button.secondary{background:#fff;color:#1a1a1a}
button:focus-visible,input:focus-visible{outline:3px solid #c25100;outline-offset:2px}
[role=alert]{border:2px solid #a00;padding:.5rem;color:#a00}
ul{padding-left:1.25rem}
</style>
</head>
<body>
<main>
<h1>Sign in to Genesys Cloud</h1>
<p>This is the Genesys Cloud simulator's login page.</p>
{{if .Fatal}}<p role="alert">{{.Fatal}}</p>{{else}}
{{if .Error}}<p role="alert">{{.Error}}</p>{{end}}
<form method="post" action="/oauth/authorize">
{{range .Fields}}<input type="hidden" name="{{.Name}}" value="{{.Value}}">
{{end}}<p><label for="username">Username</label><input id="username" name="username" type="text" autocomplete="username" value="{{.Username}}" required></p>
<p><label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required></p>
<p><button type="submit" name="action" value="signin">Sign in</button></p>
</form>
{{if .Users}}<section aria-labelledby="sim-users">
<h2 id="sim-users">Simulator users</h2>
<form method="post" action="/oauth/authorize">
{{range .Fields}}<input type="hidden" name="{{.Name}}" value="{{.Value}}">
{{end}}<ul>
{{range .Users}}<li><button type="submit" class="secondary" name="user" value="{{.ID}}">Sign in as {{.Name}}</button>
<br>{{.Email}}{{if .Roles}}; roles: {{range $i, $r := .Roles}}{{if $i}}, {{end}}{{$r}}{{end}}{{end}}{{if .Groups}}; groups: {{range $i, $g := .Groups}}{{if $i}}, {{end}}{{$g}}{{end}}{{end}}</li>
{{end}}</ul>
</form>
</section>{{end}}
<form method="post" action="/oauth/authorize">
{{range .Fields}}<input type="hidden" name="{{.Name}}" value="{{.Value}}">
{{end}}<p><button type="submit" class="secondary" name="action" value="deny">Cancel</button></p>
</form>
{{end}}
</main>
</body>
</html>
`))

// handleAuthorize serves GET /oauth/authorize: the login page.
func (s *Sim) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	a, ok := s.checkAuthRequest(w, r.URL.Query())
	if !ok {
		return
	}
	s.renderLogin(w, a, http.StatusOK, "", "")
}

func (s *Sim) renderLogin(w http.ResponseWriter, a authRequest, status int, msg, username string) {
	loginHeaders(w)
	w.WriteHeader(status)
	_ = loginPage.Execute(w, loginView{Error: msg, Fields: a.fields(), Username: username, Users: s.Users()})
}

// handleAuthorizePost serves POST /oauth/authorize: a form of the login
// page. action=deny redirects with error=access_denied; a username and
// password, or user (a simulator user's id, the quick buttons), sign in and
// redirect with a code.
func (s *Sim) handleAuthorizePost(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeLoginError(w, "The form could not be read.")
		return
	}
	a, ok := s.checkAuthRequest(w, r.PostForm)
	if !ok {
		return
	}
	if r.PostForm.Get("action") == "deny" {
		redirectError(w, a, "access_denied", "the user denied the request")
		return
	}
	var user *User
	s.mu.Lock()
	if id := r.PostForm.Get("user"); id != "" {
		user = s.userLocked(id)
	} else {
		name, pw := strings.TrimSpace(r.PostForm.Get("username")), r.PostForm.Get("password")
		for _, u := range s.users {
			if strings.EqualFold(u.Email, name) && subtle.ConstantTimeCompare([]byte(u.Password), []byte(pw)) == 1 {
				user = u
				break
			}
		}
	}
	var code string
	if user != nil {
		code = newToken()
		now := time.Now()
		for k, c := range s.codes {
			if now.After(c.expires) {
				delete(s.codes, k)
			}
		}
		s.codes[code] = &authCode{clientID: a.client.ID, redirectURI: a.redirectURI, challenge: a.challenge,
			userID: user.ID, expires: now.Add(codeTTL)}
	}
	s.mu.Unlock()
	if user == nil {
		s.renderLogin(w, a, http.StatusOK, "The username or password is wrong.", r.PostForm.Get("username"))
		return
	}
	w.Header().Set("Location", redirectTo(a, url.Values{"code": {code}}))
	w.WriteHeader(http.StatusFound)
}

// errGrant is an invalid_grant answer's description.
type errGrant string

func (e errGrant) Error() string { return string(e) }

// handleCodeToken serves POST /oauth/token with grant_type
// authorization_code; the form is parsed.
func (s *Sim) handleCodeToken(w http.ResponseWriter, r *http.Request) {
	c, ok := s.codeClientAuth(w, r)
	if !ok {
		return
	}
	code, redirectURI, verifier := r.PostForm.Get("code"), r.PostForm.Get("redirect_uri"), r.PostForm.Get("code_verifier")
	if code == "" || redirectURI == "" {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "code and redirect_uri are required")
		return
	}
	now := time.Now()
	tok := newToken()
	s.mu.Lock()
	err := s.redeemLocked(c, code, redirectURI, verifier, now)
	var userID string
	if err == nil {
		ac := s.codes[code]
		userID = ac.userID
		ac.tokens = append(ac.tokens, tok)
		s.tokenSerial++
		s.tokens[tok] = &token{clientID: c.ID, serial: s.tokenSerial, expires: now.Add(s.opts.TokenTTL), userID: userID}
		s.stats.tokens++
	}
	s.mu.Unlock()
	if err != nil {
		writeOAuthError(w, http.StatusBadRequest, "invalid_grant", err.Error())
		return
	}
	body := map[string]any{
		"access_token": tok,
		"token_type":   "bearer",
		"expires_in":   int(s.opts.TokenTTL / time.Second),
	}
	if c.GrantType == GrantCode {
		body["refresh_token"] = newToken() // the SDK requires one; the simulator does not honour it
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, body)
}

// redeemLocked checks a code and uses it up. A code presented again is
// refused, and the tokens issued with it are revoked (RFC 6749 §4.1.2).
func (s *Sim) redeemLocked(c CodeClient, code, redirectURI, verifier string, now time.Time) error {
	ac, ok := s.codes[code]
	switch {
	case !ok || now.After(ac.expires):
		return errGrant("the authorization code is unknown or expired")
	case ac.clientID != c.ID:
		return errGrant("the authorization code was issued to another client")
	case ac.used:
		for _, t := range ac.tokens {
			delete(s.tokens, t)
		}
		ac.tokens = nil
		return errGrant("the authorization code was used already")
	}
	ac.used = true
	switch {
	case redirectURI != ac.redirectURI:
		return errGrant("redirect_uri does not match the authorization request")
	case ac.challenge == "" && verifier != "":
		return errGrant("code_verifier given, but the authorization request had no code_challenge")
	case ac.challenge != "" && !verifierShape.MatchString(verifier):
		return errGrant("code_verifier is missing or malformed")
	case ac.challenge != "" && subtle.ConstantTimeCompare([]byte(s256(verifier)), []byte(ac.challenge)) != 1:
		return errGrant("code_verifier does not match the code_challenge")
	}
	return nil
}

// s256 is RFC 7636's S256 transformation.
func s256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// codeClientAuth authenticates the client of a code exchange: HTTP Basic
// (raw or form-urlencoded id:secret) for a GrantCode client, client_id in
// the form and no secret for a GrantPKCE client. It answers 401
// invalid_client itself.
func (s *Sim) codeClientAuth(w http.ResponseWriter, r *http.Request) (CodeClient, bool) {
	id, secret, basic := basicAuth(r)
	if !basic {
		id = r.PostForm.Get("client_id")
	}
	s.mu.Lock()
	c, ok := s.codeClients[id]
	if !ok && basic {
		if uid, err := url.QueryUnescape(id); err == nil {
			if c, ok = s.codeClients[uid]; ok {
				secret, _ = url.QueryUnescape(secret)
			}
		}
	}
	s.mu.Unlock()
	switch {
	case !ok:
		writeOAuthError(w, http.StatusUnauthorized, "invalid_client", "client authentication failed")
		return CodeClient{}, false
	case c.GrantType == GrantCode && (!basic || subtle.ConstantTimeCompare([]byte(secret), []byte(c.Secret)) != 1):
		writeOAuthError(w, http.StatusUnauthorized, "invalid_client", "client authentication failed")
		return CodeClient{}, false
	case c.GrantType == GrantPKCE && basic:
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "a PKCE client sends client_id in the form, without a secret")
		return CodeClient{}, false
	}
	return c, true
}

// expandValues are the expand values GET /api/v2/users/me takes (Python
// SDK docs).
var expandValues = []string{
	"routingStatus", "presence", "conversationSummary", "outOfOffice", "geolocation", "station", "authorization",
	"lasttokenissued", "authorization.unusedRoles", "team", "profileSkills", "certifications", "locations", "groups",
	"skills", "languages", "languagePreference", "employerInfo", "biography", "date", "geolocationsettings",
	"organization", "presencedefinitions", "locationdefinitions", "orgauthorization", "orgproducts", "favorites",
	"superiors", "directreports", "adjacents", "routingskills", "routinglanguages", "fieldconfigs", "token",
	"trustors", "logCapture",
}

// stableUUID derives a UUID from a name, so that a role or group keeps its
// id.
func stableUUID(kind, name string) string {
	sum := sha256.Sum256([]byte(kind + "\x00" + name))
	var b [16]byte
	copy(b[:], sum[:16])
	return formatUUID(b)
}

// handleUsersMe serves GET /api/v2/users/me: the token's user, a UserMe
// with authorization and groups only when expand names them.
func (s *Sim) handleUsersMe(w http.ResponseWriter, r *http.Request) {
	var expand []string
	for _, v := range r.URL.Query()["expand"] {
		for e := range strings.SplitSeq(v, ",") {
			if e = strings.TrimSpace(e); e == "" {
				continue
			}
			if !slices.Contains(expandValues, e) {
				writeError(w, http.StatusBadRequest, "bad.request", fmt.Sprintf("The expand value %q is not valid.", e))
				return
			}
			expand = append(expand, e)
		}
	}
	s.respond(w, func() reply {
		tok := s.bearerLocked(r)
		if tok.userID == "" {
			return errorReply(http.StatusBadRequest, "bad.request", "This request requires a user context. Client credentials cannot be used for requests to this resource.")
		}
		u := s.userLocked(tok.userID)
		if u == nil {
			return errorReply(http.StatusUnauthorized, "bad.credentials", "Invalid login credentials.")
		}
		return jsonReply(http.StatusOK, userMe(u, expand))
	})
}

func userMe(u *User, expand []string) map[string]any {
	me := map[string]any{
		"id": u.ID, "name": u.Name, "email": u.Email, "username": u.Email, "state": "active", "version": 1,
		"selfUri": "/api/v2/users/" + u.ID,
	}
	if slices.Contains(expand, "authorization") {
		roles := make([]ref, len(u.Roles))
		for i, n := range u.Roles {
			roles[i] = ref{ID: stableUUID("role", n), Name: n}
		}
		me["authorization"] = map[string]any{"roles": roles, "unusedRoles": []ref{}, "permissions": []string{}}
	}
	if slices.Contains(expand, "groups") {
		groups := make([]map[string]any, len(u.Groups))
		for i, n := range u.Groups {
			id := stableUUID("group", n)
			groups[i] = map[string]any{"id": id, "name": n, "type": "official", "state": "active", "visibility": "public",
				"selfUri": "/api/v2/groups/" + id}
		}
		me["groups"] = groups
	}
	return me
}

// handleAdminUsers serves GET /sim/users (Users) and POST /sim/users (a
// User: SetUser → 200 the stored user).
func (s *Sim) handleAdminUsers(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet {
		writeJSON(w, http.StatusOK, s.Users())
		return
	}
	var u User
	if !decodeJSON(w, r, &u) {
		return
	}
	if u.Name == "" || u.Email == "" {
		writeError(w, http.StatusBadRequest, "bad.request", "name and email are required.")
		return
	}
	writeJSON(w, http.StatusOK, s.SetUser(u))
}

// handleAdminRemoveUser serves DELETE /sim/users/{userId}.
func (s *Sim) handleAdminRemoveUser(w http.ResponseWriter, r *http.Request) {
	if !s.RemoveUser(r.PathValue("userId")) {
		writeError(w, http.StatusNotFound, "not.found", "The user was not found.")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// handleAdminCodeClient serves PUT /sim/oauth/clients/{clientId}:
// {"secret","grantType","redirectUris"} (SetCodeClient).
func (s *Sim) handleAdminCodeClient(w http.ResponseWriter, r *http.Request) {
	var c CodeClient
	if !decodeJSON(w, r, &c) {
		return
	}
	c.ID = r.PathValue("clientId")
	if msg := codeClientProblem(c); msg != "" {
		writeError(w, http.StatusBadRequest, "bad.request", msg)
		return
	}
	s.SetCodeClient(c)
	w.WriteHeader(http.StatusNoContent)
}

// codeClientProblem checks a client given through the admin API and
// returns what is wrong with it, or "".
func codeClientProblem(c CodeClient) string {
	switch {
	case c.GrantType != "" && c.GrantType != GrantCode && c.GrantType != GrantPKCE:
		return `grantType must be "CODE" or "PKCE".`
	case (c.GrantType == "" || c.GrantType == GrantCode) && c.Secret == "":
		return "a CODE client needs a secret."
	}
	for _, u := range c.RedirectURIs {
		p, err := url.Parse(u)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" || p.Fragment != "" {
			return fmt.Sprintf("redirect URI %q is not an absolute http(s) URL without a fragment.", u)
		}
	}
	return ""
}
