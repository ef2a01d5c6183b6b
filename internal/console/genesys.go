package console

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/slotline/slotline/internal/audit"
	"github.com/slotline/slotline/internal/auth"
	"github.com/slotline/slotline/internal/genesys"
)

// Sign-in with Genesys Cloud: the OAuth 2.0 authorization code flow with
// PKCE (genesys.AuthCodeFlow). GET /console/login/genesys sends the
// browser to the org's login host, keeping the state and the code
// verifier in a short-lived HttpOnly cookie scoped to the callback; the
// login host sends it back to GET /console/oauth/callback, which checks the
// state, exchanges the code, reads the user and maps its Genesys roles and
// groups to a console role (console.roles). A user no role maps is refused.

// SourceGenesys is the Source of a session signed in with Genesys Cloud.
const SourceGenesys = "genesys"

// oauthCookie holds "state.verifier" between the two steps. SameSite=Lax:
// the callback is a top-level navigation from the login host, which a Lax
// cookie goes along with.
const oauthCookie = "slotline_console_oauth"

// callbackPath is where the login host sends the browser back; the OAuth
// client's registered redirect URI is this path on the console's URL.
const callbackPath = "/console/oauth/callback"

// CallbackPath returns the path of the sign-in callback, for the OAuth
// client's redirect URI.
func CallbackPath() string { return callbackPath }

func (s *Server) handleGenesysStart(w http.ResponseWriter, r *http.Request) {
	if s.flow == nil {
		s.plain(w, r, http.StatusNotFound, "notfound")
		return
	}
	// The callback comes back to the redirect URI's host: start there, so
	// that the state cookie is that host's (a console opened at localhost
	// whose redirect URI names 127.0.0.1, say).
	if u, err := url.Parse(s.flow.RedirectURL); err == nil && u.Host != "" && !strings.EqualFold(u.Host, r.Host) {
		http.Redirect(w, r, u.Scheme+"://"+u.Host+r.URL.Path, http.StatusSeeOther)
		return
	}
	authURL, state, verifier := s.flow.Start()
	http.SetCookie(w, &http.Cookie{Name: oauthCookie, Value: state + "." + verifier, Path: callbackPath, HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: s.secureRequest(r), MaxAge: 600})
	http.Redirect(w, r, authURL, http.StatusSeeOther)
}

func (s *Server) handleGenesysCallback(w http.ResponseWriter, r *http.Request) {
	if s.flow == nil {
		s.plain(w, r, http.StatusNotFound, "notfound")
		return
	}
	lang := chooseLang(r)
	addr := auth.AddressKey(r.RemoteAddr)
	refuse := func(status int, reason, msgKey string) {
		s.audit(r, "operator", audit.OutcomeRefused, map[string]string{"reason": reason, "address": addr, "source": SourceGenesys})
		s.loginForm(w, r, status, "", s.msgs.Text(lang, msgKey))
	}
	c, err := r.Cookie(oauthCookie)
	http.SetCookie(w, &http.Cookie{Name: oauthCookie, Value: "", Path: callbackPath, MaxAge: -1, HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: s.secureRequest(r)})
	state, verifier, _ := strings.Cut(func() string {
		if err != nil {
			return ""
		}
		return c.Value
	}(), ".")
	q := r.URL.Query()
	if err := genesys.CheckState(state, q.Get("state")); err != nil {
		refuse(http.StatusForbidden, "state", "login.error_form")
		return
	}
	if err := genesys.CallbackError(q); err != nil {
		if errors.Is(err, genesys.ErrSignInDenied) {
			refuse(http.StatusUnauthorized, "denied", "login.error_genesys_denied")
			return
		}
		refuse(http.StatusBadGateway, "genesys", "login.error_genesys")
		return
	}
	user, err := s.flow.Finish(r.Context(), q.Get("code"), verifier)
	if err != nil {
		s.logger.WarnContext(r.Context(), "sign-in with Genesys Cloud failed", "err", err)
		refuse(http.StatusBadGateway, "genesys", "login.error_genesys")
		return
	}
	name, ok := genesys.MapRoles(user, s.roles)
	role, known := ParseRole(name)
	if !ok || !known {
		s.audit(r, "operator:"+user.Name, audit.OutcomeRefused, map[string]string{"reason": "no_role", "address": addr,
			"source": SourceGenesys, "genesys_user": user.ID})
		s.loginForm(w, r, http.StatusForbidden, "", s.msgs.Text(lang, "login.error_genesys_role"))
		return
	}
	op := Operator{Name: user.Name, Role: role, Source: SourceGenesys}
	if err := s.newSession(w, r, op); err != nil {
		s.logger.ErrorContext(r.Context(), "create console session", "err", err, "request_id", w.Header().Get("X-Request-Id"))
		s.plain(w, r, http.StatusServiceUnavailable, "unavailable")
		return
	}
	s.audit(r, op.AuditActor(), audit.OutcomeOK, map[string]string{"address": addr, "source": SourceGenesys, "role": op.Role.String(),
		"genesys_user": user.ID})
	s.logger.InfoContext(r.Context(), "operator signed in", "operator", op.Name, "role", op.Role.String(), "source", SourceGenesys)
	http.Redirect(w, r, "/console", http.StatusSeeOther)
}
