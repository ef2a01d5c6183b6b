package console

import (
	"crypto/subtle"
	"encoding/json"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/slotline/slotline/internal/audit"
	"github.com/slotline/slotline/internal/auth"
	"github.com/slotline/slotline/internal/password"
)

// Audit actions of the console's sign-ins.
const (
	ActionSignIn  = "console.sign_in"
	ActionSignOut = "console.sign_out"
)

// SourceLocal is the Source of a local operator's session.
const SourceLocal = "local"

// loginPage is the sign-in form.
type loginPage struct {
	page
	// Ticket is the form's double-submit value (also in loginCookie).
	Ticket   string
	Username string
	// Error is the refusal, shown in an alert.
	Error string
	// Genesys shows the button "Sign in with Genesys Cloud".
	Genesys bool
}

func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.session(w, r); ok {
		http.Redirect(w, r, "/console", http.StatusSeeOther)
		return
	}
	s.loginForm(w, r, http.StatusOK, "", "")
}

// loginForm renders the sign-in form with a new ticket.
func (s *Server) loginForm(w http.ResponseWriter, r *http.Request, status int, username, msg string) {
	p := loginPage{page: s.page(r, "login.title"), Ticket: randomToken(), Username: username, Error: msg, Genesys: s.genesys}
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: p.Ticket, Path: "/console/login", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: s.secureRequest(r), MaxAge: 3600})
	s.render(w, r, status, "login", &p)
}

func (s *Server) handleLoginPost(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if r.ParseForm() != nil || !s.sameOrigin(r) {
		s.plain(w, r, http.StatusForbidden, "csrf")
		return
	}
	c, err := r.Cookie(loginCookie)
	if err != nil || c.Value == "" || subtle.ConstantTimeCompare([]byte(c.Value), []byte(r.PostFormValue("ticket"))) != 1 {
		// No cookie: cookies are off, the form is another site's, or it
		// was sent long after it was shown. A new form says to try again.
		s.loginForm(w, r, http.StatusForbidden, "", s.msgs.Text(chooseLang(r), "login.error_form"))
		return
	}
	username := strings.TrimSpace(r.PostFormValue("username"))
	if len(username) > 64 {
		username = username[:64]
	}
	pw := r.PostFormValue("password")
	addr := auth.AddressKey(r.RemoteAddr)
	lang := chooseLang(r)

	attempt, refusal := s.throttle.Begin(username, r.RemoteAddr)
	var userAttempt *auth.Attempt
	if refusal == nil {
		if userAttempt, refusal = s.userLimit.Begin(username, ""); refusal != nil {
			attempt.Succeeded() // give back what the first throttle took
		}
	}
	if refusal != nil {
		if refusal.First {
			s.audit(r, "operator", audit.OutcomeRefused, map[string]string{"reason": "throttled", "address": addr})
		}
		secs := int(math.Ceil(refusal.RetryAfter.Seconds()))
		w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
		mins := strconv.Itoa(max(int(math.Ceil(refusal.RetryAfter.Minutes())), 1))
		s.loginForm(w, r, http.StatusTooManyRequests, username, s.msgs.Text(lang, "login.error_throttled", "minutes", mins))
		return
	}
	// The password is checked against a hash whether the user exists or
	// not, so that the time taken does not tell.
	e, known := s.operators[username]
	var hash *password.Hash
	if known {
		hash = e.hash
	} else {
		hash = s.dummy()
	}
	ok := hash.Verify(pw) && known && username != ""
	if !ok {
		reason := "wrong_password"
		actor := "operator"
		if known {
			actor = Operator{Name: username}.AuditActor()
		} else {
			reason = "unknown_operator" // the typed name is not recorded: it may be a password
		}
		s.audit(r, actor, audit.OutcomeRefused, map[string]string{"reason": reason, "address": addr, "source": SourceLocal})
		s.loginForm(w, r, http.StatusUnauthorized, username, s.msgs.Text(lang, "login.error"))
		return
	}
	attempt.Succeeded()
	userAttempt.Succeeded()
	role, _ := ParseRole(e.op.Role)
	op := Operator{Name: e.op.Username, Role: role, Queues: e.op.Queues, Source: SourceLocal}
	if err := s.newSession(w, r, op); err != nil {
		s.logger.ErrorContext(r.Context(), "create console session", "err", err, "request_id", w.Header().Get("X-Request-Id"))
		s.plain(w, r, http.StatusServiceUnavailable, "unavailable")
		return
	}
	s.clearLoginCookie(w, r)
	s.audit(r, op.AuditActor(), audit.OutcomeOK, map[string]string{"address": addr, "source": SourceLocal, "role": op.Role.String()})
	s.logger.InfoContext(r.Context(), "operator signed in", "operator", op.Name, "role", op.Role.String())
	http.Redirect(w, r, "/console", http.StatusSeeOther)
}

func (s *Server) clearLoginCookie(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: "", Path: "/console/login", MaxAge: -1, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: s.secureRequest(r)})
}

// handleLogout deletes the session (Require checked its CSRF token).
func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	sess, _ := fromContext(r.Context())
	if _, err := s.store.DeleteConsoleSession(r.Context(), sess.digest); err != nil {
		s.logger.ErrorContext(r.Context(), "delete console session", "err", err, "request_id", w.Header().Get("X-Request-Id"))
		s.plain(w, r, http.StatusServiceUnavailable, "unavailable")
		return
	}
	s.clearCookie(w, r, CookieName)
	s.audit(r, sess.op.AuditActor(), audit.OutcomeOK, map[string]string{"address": auth.AddressKey(r.RemoteAddr), "source": sess.op.Source})
	http.Redirect(w, r, "/console/login", http.StatusSeeOther)
}

// audit records a sign-in (its outcome) or, from handleLogout, a
// sign-out; a failure to record is logged.
func (s *Server) audit(r *http.Request, actor, outcome string, detail map[string]string) {
	action := ActionSignIn
	if r.URL.Path == "/console/logout" {
		action = ActionSignOut
	}
	b, _ := json.Marshal(detail)
	e := &audit.Entry{At: s.now().UTC().Truncate(time.Microsecond), Actor: actor, Action: action, Target: "console",
		Outcome: outcome, Detail: string(b)}
	if err := s.store.RecordAudit(r.Context(), e); err != nil {
		s.logger.ErrorContext(r.Context(), "record console audit entry", "action", action, "err", err)
	}
}
