package console

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"slices"
	"time"

	"github.com/slotline/slotline/internal/auth"
	"github.com/slotline/slotline/internal/config"
	"github.com/slotline/slotline/internal/reservation"
	"github.com/slotline/slotline/internal/storage"
)

// Role is an operator's role; a higher role may do all a lower one may.
type Role int

// The roles, lowest first.
const (
	// Viewer reads.
	Viewer Role = iota + 1
	// Supervisor also changes the reservations and capacity of its queues.
	Supervisor
	// Admin also manages webhooks and publishable keys, on every queue.
	Admin
)

// ParseRole returns the role named s (config.RoleViewer, RoleSupervisor,
// RoleAdmin), or false.
func ParseRole(s string) (Role, bool) {
	switch s {
	case config.RoleViewer:
		return Viewer, true
	case config.RoleSupervisor:
		return Supervisor, true
	case config.RoleAdmin:
		return Admin, true
	}
	return 0, false
}

// String returns the role's name as the config writes it.
func (r Role) String() string {
	switch r {
	case Viewer:
		return config.RoleViewer
	case Supervisor:
		return config.RoleSupervisor
	case Admin:
		return config.RoleAdmin
	}
	return "none"
}

// Operator is the signed-in operator of a request.
type Operator struct {
	// Name is the operator's username, which the audit log records.
	Name string
	Role Role
	// Queues are the ids of the operator's queues; empty means all.
	Queues []string
	// Source is how the operator signed in: "local" (later "genesys").
	Source string
}

// CanSee reports whether the operator works on the queue.
func (o Operator) CanSee(queueID string) bool {
	return len(o.Queues) == 0 || slices.Contains(o.Queues, queueID)
}

// CanChange reports whether the operator may change the queue's
// reservations and capacity: a supervisor on its queues, an admin on all.
func (o Operator) CanChange(queueID string) bool {
	switch {
	case o.Role >= Admin:
		return true
	case o.Role == Supervisor:
		return o.CanSee(queueID)
	}
	return false
}

// AuditActor is the operator as the audit log names it: "operator:NAME".
func (o Operator) AuditActor() string { return "operator:" + o.Name }

// session is a request's session, in its context.
type session struct {
	op     Operator
	digest string
	csrf   string
	// ends is when the session expires unless it is used again (idle) or
	// at all (absolute): the event feed closes then.
	ends time.Time
}

type ctxKey struct{}

func fromContext(ctx context.Context) (*session, bool) {
	s, ok := ctx.Value(ctxKey{}).(*session)
	return s, ok
}

// OperatorFrom returns the signed-in operator that Require put in ctx.
func OperatorFrom(ctx context.Context) (Operator, bool) {
	s, ok := fromContext(ctx)
	if !ok {
		return Operator{}, false
	}
	return s.op, true
}

// CSRFToken returns the session's CSRF token that Require put in ctx, for
// the hidden field csrf of every form that changes something ("" without
// a session).
func CSRFToken(ctx context.Context) string {
	if s, ok := fromContext(ctx); ok {
		return s.csrf
	}
	return ""
}

// CSRFField is the name of the forms' hidden field with the CSRF token.
const CSRFField = "csrf"

// Require returns the middleware of the console's pages: without a valid
// session a GET is redirected (303) to /console/login and anything else
// refused 403; an operator below min gets the 403 page; a request that
// is not GET or HEAD must come from this server (Sec-Fetch-Site, Origin)
// and carry the session's CSRF token (field csrf), or it is refused 403.
// The handler finds the operator with OperatorFrom and the token with
// CSRFToken.
func (s *Server) Require(min Role) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			sess, ok := s.session(w, r)
			if !ok {
				if r.Method == http.MethodGet || r.Method == http.MethodHead {
					http.Redirect(w, r, "/console/login", http.StatusSeeOther)
					return
				}
				s.plain(w, r, http.StatusForbidden, "expired")
				return
			}
			r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, sess))
			if r.Method != http.MethodGet && r.Method != http.MethodHead {
				r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
				if !s.sameOrigin(r) || r.ParseForm() != nil ||
					subtle.ConstantTimeCompare([]byte(r.PostFormValue(CSRFField)), []byte(sess.csrf)) != 1 {
					s.plain(w, r, http.StatusForbidden, "csrf")
					return
				}
			}
			if sess.op.Role < min {
				s.plain(w, r, http.StatusForbidden, "forbidden")
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// session returns the request's valid session: its cookie names a stored
// session neither idle for SessionIdle nor older than SessionMax. An
// expired session is deleted and its cookie cleared. Its last_seen_at is
// moved at most once a minute.
func (s *Server) session(w http.ResponseWriter, r *http.Request) (*session, bool) {
	c, err := r.Cookie(CookieName)
	if err != nil || c.Value == "" || len(c.Value) > 100 {
		return nil, false
	}
	digest := digestOf(c.Value)
	ctx := r.Context()
	cs, err := s.store.FindConsoleSession(ctx, digest)
	if err != nil {
		if reservation.ErrorCode(err) != reservation.ENOTFOUND {
			s.logger.ErrorContext(ctx, "find console session", "err", err, "request_id", w.Header().Get("X-Request-Id"))
		}
		s.clearCookie(w, r, CookieName)
		return nil, false
	}
	now := s.now()
	if now.Sub(cs.LastSeenAt) > s.idle || now.Sub(cs.CreatedAt) > s.max {
		if _, err := s.store.DeleteConsoleSession(ctx, digest); err != nil {
			s.logger.WarnContext(ctx, "delete expired console session", "err", err)
		}
		s.clearCookie(w, r, CookieName)
		return nil, false
	}
	role, ok := ParseRole(cs.Role)
	queues := cs.Queues
	if cs.Source == SourceLocal {
		// A local operator is as the running config has it: one removed
		// from it is signed out, a changed role or queue list applies at
		// once (after a restart with the new config).
		e, known := s.operators[cs.Operator]
		if !known {
			if _, err := s.store.DeleteConsoleSession(ctx, digest); err != nil {
				s.logger.WarnContext(ctx, "delete console session", "err", err)
			}
			s.clearCookie(w, r, CookieName)
			return nil, false
		}
		role, ok = ParseRole(e.op.Role)
		queues = e.op.Queues
	}
	if !ok {
		return nil, false
	}
	if now.Sub(cs.LastSeenAt) > time.Minute {
		if err := s.store.TouchConsoleSession(ctx, digest, now); err != nil {
			s.logger.WarnContext(ctx, "touch console session", "err", err)
		}
	}
	return &session{op: Operator{Name: cs.Operator, Role: role, Queues: queues, Source: cs.Source},
		digest: digest, csrf: cs.CSRF, ends: minTime(cs.LastSeenAt.Add(s.idle), cs.CreatedAt.Add(s.max))}, true
}

// newSession stores a session for op and sets its cookie.
func (s *Server) newSession(w http.ResponseWriter, r *http.Request, op Operator) error {
	id := randomToken()
	now := s.now()
	cs := &storage.ConsoleSession{Digest: digestOf(id), Operator: op.Name, Role: op.Role.String(), Queues: op.Queues,
		Source: op.Source, CSRF: randomToken(), CreatedAt: now, LastSeenAt: now}
	if err := s.store.CreateConsoleSession(r.Context(), cs); err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: id, Path: "/console", HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: s.secureRequest(r)})
	return nil
}

// clearCookie expires the cookie name.
func (s *Server) clearCookie(w http.ResponseWriter, r *http.Request, name string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/console", MaxAge: -1, HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: s.secureRequest(r)})
}

// secureRequest reports whether cookies must be Secure: the request came
// over TLS, or the public URL is https (TLS ends at a proxy).
func (s *Server) secureRequest(r *http.Request) bool { return r.TLS != nil || s.secureHTTPS }

// randomToken returns 256 random bits, base64url.
func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// digestOf is the hex SHA-256 of a session id, what the table keeps.
func digestOf(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:])
}

// sameOrigin is auth.SameOriginPost with this server's public host, as
// the customer pages check it.
func (s *Server) sameOrigin(r *http.Request) bool { return auth.SameOriginPost(r, s.publicHost) }

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
