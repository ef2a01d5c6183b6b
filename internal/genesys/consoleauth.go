package genesys

// Sign-in with Genesys Cloud for the console: the OAuth 2.0 authorization
// code grant with PKCE (RFC 6749 §4.1, RFC 7636), then the signed-in user.
//
// What the Genesys sources confirm (Go SDK platformclientv2 188.0.0:
// configuration.go, userme.go, userauthorization.go, domainrole.go,
// group.go, oauthclient.go; Python SDK docs UsersApi.md; the Developer
// Center's authorization code guide):
//   - The browser goes to https://login.{domain}/oauth/authorize with
//     client_id, response_type=code and redirect_uri; the login host is the
//     API host with "api." swapped for "login.".
//   - The code is exchanged at POST https://login.{domain}/oauth/token,
//     form grant_type=authorization_code, code, redirect_uri, with
//     "Authorization: Basic base64(id:secret)" for an OAuth client of grant
//     type Code Authorization (the SDK's AuthorizeCodeGrant). A client of
//     grant type "PKCE-Enabled Code Authorization" sends client_id and
//     code_verifier in the form and no secret (AuthorizePKCEGrant).
//   - The answer is {access_token, token_type, expires_in, refresh_token};
//     errors are {error, description, error_description}.
//   - GET /api/v2/users/me returns a UserMe: id, name, email, username,
//     state, …; "authorization" (roles[] of {id, name}, permissions[]) and
//     "groups" (Group: id, name, …) only when asked with expand, whose values
//     include "authorization" and "groups"; the SDK sends a list comma
//     joined. It needs no permission and is "not valid when using the Client
//     Credentials OAuth grant".
//
// UNCONFIRMED:
//   - Whether a Code Authorization client (with its secret) checks a
//     code_challenge sent on authorize against the code_verifier sent on
//     the token request. The SDK sends code_verifier only for PKCE clients;
//     RFC 7636 §4.6 says a server that took a challenge verifies it. This
//     flow always sends both; the simulator enforces them.
//   - The error codes Genesys uses for a bad code, a redirect_uri mismatch
//     and a verifier mismatch (RFC 6749 §5.2 says invalid_grant for all
//     three, invalid_client for bad client credentials), and whether it
//     redirects with error=access_denied when the user declines.
//   - Which OAuth scopes the client needs for users/me with these expands
//     (users:readonly at least, by the scope names Genesys lists).

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// Errors of the console's sign-in. Every error Finish and CallbackError
// return wraps one of them; none carries a secret, a code, a verifier or a
// token.
var (
	// ErrSignInDenied: the user (or Genesys) declined the sign-in; the
	// callback came back with error=access_denied.
	ErrSignInDenied = errors.New("genesys sign-in denied")
	// ErrSignInFailed: the callback came back with another OAuth error, or
	// without a code.
	ErrSignInFailed = errors.New("genesys sign-in failed")
	// ErrSignInState: the callback's state is not the one Start gave.
	ErrSignInState = errors.New("genesys sign-in state mismatch")
	// ErrSignInBadCode: Genesys did not accept the code (invalid_grant): it
	// is unknown, expired or used already, or the redirect URI or the
	// verifier does not match the authorization request's (Genesys does
	// not say which).
	ErrSignInBadCode = errors.New("genesys sign-in code not accepted")
	// ErrSignInBadVerifier: the verifier is not an RFC 7636 code verifier
	// (43 to 128 unreserved characters); nothing was sent.
	ErrSignInBadVerifier = errors.New("genesys sign-in verifier malformed")
	// ErrSignInClient: Genesys did not accept the OAuth client
	// (invalid_client, unauthorized_client): its id, secret, grant type or
	// redirect URI is configured wrong.
	ErrSignInClient = errors.New("genesys sign-in client not accepted")
	// ErrSignInAPI: the token endpoint or users/me failed otherwise (a 5xx,
	// a transport error, an answer that cannot be read). An *APIError is in
	// the chain when Genesys answered.
	ErrSignInAPI = errors.New("genesys sign-in api error")
)

// User is the Genesys Cloud user who signed in, as GET /api/v2/users/me
// returns them.
type User struct {
	// ID is the user's id (a UUID).
	ID string
	// Name is the user's display name; Email their email address.
	Name, Email string
	// Roles are the names of the user's roles (authorization.roles[].name).
	Roles []string
	// Groups are the names of the groups the user belongs to (groups[].name).
	Groups []string
}

// AuthCodeFlow signs console operators in with Genesys Cloud: Start gives
// the URL to send the browser to, Finish turns the code the browser brings
// back into the User. It holds no per-sign-in state: the caller keeps the
// state and verifier Start returns (in a short-lived, HttpOnly cookie or a
// pre-session) and checks the state of the callback itself (CheckState)
// before calling Finish. The access token is used for one users/me call
// and dropped; the refresh token is ignored.
type AuthCodeFlow struct {
	// LoginBase is the login host's base URL, e.g.
	// "https://login.mypurecloud.ie" (RegionURLs gives it).
	LoginBase string
	// APIBase is the API's base URL, e.g. "https://api.mypurecloud.ie".
	APIBase string
	// ClientID and ClientSecret are the OAuth client's. With a secret the
	// client (grant type Code Authorization) authenticates with HTTP Basic;
	// without one it must be of grant type PKCE-Enabled Code Authorization
	// and sends client_id in the form.
	ClientID, ClientSecret string
	// RedirectURL is the callback URL registered on the client, e.g.
	// "https://slotline.example.com/console/oauth/callback".
	RedirectURL string
	// HTTPClient makes the token and users/me requests (default: a client
	// with a 15 s timeout). Finish's context bounds them as well.
	HTTPClient *http.Client
}

// Start begins a sign-in: it returns the authorization URL on the login
// host, a fresh state and a fresh PKCE code verifier (each 256 random bits,
// base64url). The URL carries the S256 challenge of the verifier.
func (f *AuthCodeFlow) Start() (authURL, state, verifier string) {
	state = oauth2.GenerateVerifier() // 32 random bytes, base64url
	verifier = oauth2.GenerateVerifier()
	authURL = f.config().AuthCodeURL(state, oauth2.S256ChallengeOption(verifier))
	return authURL, state, verifier
}

// CheckState compares the state of a callback with the one Start gave, in
// constant time; a mismatch (or an empty want) is ErrSignInState.
func CheckState(want, got string) error {
	if want == "" || subtle.ConstantTimeCompare([]byte(want), []byte(got)) != 1 {
		return ErrSignInState
	}
	return nil
}

// oauthCode is the shape of an OAuth error code (RFC 6749 §5.2 error).
var oauthCode = regexp.MustCompile(`^[a-z_]{1,40}$`)

// CallbackError reads the query of the redirect back from the login host:
// nil when it carries a code and no error, an error wrapping
// ErrSignInDenied for error=access_denied, and one wrapping ErrSignInFailed
// for another error or a missing code. The message names the OAuth error
// code only when it looks like one; error_description is not repeated.
func CallbackError(q url.Values) error {
	code := q.Get("error")
	switch {
	case code == "access_denied":
		return ErrSignInDenied
	case code != "" && oauthCode.MatchString(code):
		return fmt.Errorf("%w: %s", ErrSignInFailed, code)
	case code != "":
		return ErrSignInFailed
	case q.Get("code") == "":
		return fmt.Errorf("%w: callback without a code", ErrSignInFailed)
	}
	return nil
}

// signInTimeout bounds each request of Finish when AuthCodeFlow.HTTPClient
// is nil.
const signInTimeout = 15 * time.Second

// verifierShape is RFC 7636 §4.1's code_verifier.
var verifierShape = regexp.MustCompile(`^[A-Za-z0-9._~-]{43,128}$`)

// Finish exchanges the code from the callback (with the verifier Start
// gave) for an access token and reads the user with
// GET /api/v2/users/me?expand=authorization,groups. Errors wrap
// ErrSignInBadVerifier, ErrSignInBadCode, ErrSignInClient or ErrSignInAPI
// (with the *APIError when Genesys answered). It does not check the state:
// the caller does, before (CheckState).
func (f *AuthCodeFlow) Finish(ctx context.Context, code, verifier string) (*User, error) {
	if !verifierShape.MatchString(verifier) {
		return nil, ErrSignInBadVerifier
	}
	if code == "" {
		return nil, fmt.Errorf("%w: empty code", ErrSignInBadCode)
	}
	hc := f.HTTPClient
	if hc == nil {
		hc = &http.Client{Transport: defaultHTTPClient().Transport, Timeout: signInTimeout}
		defer hc.CloseIdleConnections() // a client of its own: nothing reuses its connections
	}
	tok, err := f.config().Exchange(context.WithValue(ctx, oauth2.HTTPClient, hc), code, oauth2.VerifierOption(verifier))
	if err != nil {
		return nil, exchangeError(ctx, err)
	}
	u, err := f.fetchMe(ctx, hc, tok.AccessToken)
	if err != nil {
		return nil, err
	}
	return u, nil
}

func (f *AuthCodeFlow) config() *oauth2.Config {
	login := strings.TrimRight(f.LoginBase, "/")
	style := oauth2.AuthStyleInHeader
	if f.ClientSecret == "" {
		style = oauth2.AuthStyleInParams
	}
	return &oauth2.Config{
		ClientID:     f.ClientID,
		ClientSecret: f.ClientSecret,
		RedirectURL:  f.RedirectURL,
		Endpoint: oauth2.Endpoint{
			AuthURL:   login + "/oauth/authorize",
			TokenURL:  login + "/oauth/token",
			AuthStyle: style,
		},
	}
}

// exchangeError maps an oauth2 exchange error to the sign-in errors. It
// never wraps the oauth2 error itself: its message may quote the body.
func exchangeError(ctx context.Context, err error) error {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		if ctx.Err() != nil {
			return fmt.Errorf("%w: token: %w", ErrSignInAPI, ctx.Err())
		}
		// A transport error names the token URL and the cause; the form
		// (code, verifier) is not in it.
		var ue *url.Error
		if errors.As(err, &ue) {
			return fmt.Errorf("%w: token: %w", ErrSignInAPI, ue.Err)
		}
		return fmt.Errorf("%w: token: unreadable answer", ErrSignInAPI)
	}
	ae := &APIError{Op: "signin_token", Code: re.ErrorCode}
	if re.Response != nil {
		ae.Status = re.Response.StatusCode
		ae.CorrelationID = re.Response.Header.Get("ININ-Correlation-Id")
	}
	var body struct {
		Description string `json:"description"`
	}
	if json.Unmarshal(re.Body, &body) == nil && body.Description != "" {
		ae.Message = truncate(body.Description, maxMessage)
	} else if re.ErrorDescription != "" {
		ae.Message = truncate(re.ErrorDescription, maxMessage)
	}
	if ae.Message == "" && ae.Status != 0 {
		ae.Message = http.StatusText(ae.Status)
	}
	kind := ErrSignInAPI
	switch re.ErrorCode {
	case "invalid_grant":
		kind = ErrSignInBadCode
	case "invalid_client", "unauthorized_client":
		kind = ErrSignInClient
	}
	return fmt.Errorf("%w: %w", kind, ae)
}

// userMe is the part of Genesys' UserMe that sign-in reads.
type userMe struct {
	ID            string `json:"id"`
	Name          string `json:"name"`
	Email         string `json:"email"`
	Authorization *struct {
		Roles []struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"roles"`
	} `json:"authorization"`
	Groups []struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"groups"`
}

// maxUserMe bounds the users/me answer read.
const maxUserMe = 1 << 20

func (f *AuthCodeFlow) fetchMe(ctx context.Context, hc *http.Client, accessToken string) (*User, error) {
	u := strings.TrimRight(f.APIBase, "/") + "/api/v2/users/me?expand=" + url.QueryEscape("authorization,groups")
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: users/me: %w", ErrSignInAPI, err)
	}
	req.Header.Set("Authorization", "Bearer "+accessToken)
	req.Header.Set("Accept", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("%w: users/me: %w", ErrSignInAPI, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxUserMe))
	if err != nil {
		return nil, fmt.Errorf("%w: users/me: %w", ErrSignInAPI, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: %w", ErrSignInAPI, newAPIError("signin_users_me", resp, body))
	}
	var me userMe
	if err := json.Unmarshal(body, &me); err != nil || me.ID == "" {
		return nil, fmt.Errorf("%w: users/me: answer without a user", ErrSignInAPI)
	}
	user := &User{ID: me.ID, Name: me.Name, Email: me.Email}
	if me.Authorization != nil {
		for _, r := range me.Authorization.Roles {
			if r.Name != "" {
				user.Roles = append(user.Roles, r.Name)
			}
		}
	}
	for _, g := range me.Groups {
		if g.Name != "" {
			user.Groups = append(user.Groups, g.Name)
		}
	}
	return user, nil
}

// Console roles, lowest first.
var consoleRoles = []string{"viewer", "supervisor", "admin"}

// MapRoles maps a Genesys user to a Slotline console role by m, the
// console.roles setting: Slotline role ("admin", "supervisor", "viewer") →
// names of Genesys roles or groups that grant it. A name matches a role
// or a group of u exactly (case-sensitive, as Genesys names are shown).
// The highest role granted wins; with none, ok is false and the user may
// not sign in. Keys of m other than the three roles are ignored.
func MapRoles(u *User, m map[string][]string) (role string, ok bool) {
	if u == nil {
		return "", false
	}
	has := make(map[string]bool, len(u.Roles)+len(u.Groups))
	for _, n := range u.Roles {
		has[n] = true
	}
	for _, n := range u.Groups {
		has[n] = true
	}
	for i := len(consoleRoles) - 1; i >= 0; i-- {
		for _, n := range m[consoleRoles[i]] {
			if has[n] {
				return consoleRoles[i], true
			}
		}
	}
	return "", false
}
