// SPDX-License-Identifier: Apache-2.0

// Package console serves the operators' console under /console: the
// sign-in of local operators (configured with argon2id or bcrypt hashes),
// their sessions (random ids kept only as SHA-256 digests in the
// database, idle and absolute timeouts, a CSRF token per session), the
// roles (viewer, supervisor, admin) and the console's shell. Pages are
// server-rendered with html/template in the operator's language (message
// catalogs in i18n/), with the customer pages' security headers and no
// inline script or style.
//
// The pages behind the shell's navigation, each in a file of its own:
// capacity (the heatmap, overrides and the over-capacity list),
// reservations (list and detail), live (the event feed), health and
// reports. The sign-in with Genesys Cloud (genesys.go) is offered when
// genesys.console_client_id is configured, and in the sandbox.
package console

import (
	"bytes"
	"cmp"
	"context"
	"embed"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/slotline/slotline/internal/audit"
	"github.com/slotline/slotline/internal/auth"
	"github.com/slotline/slotline/internal/booking"
	"github.com/slotline/slotline/internal/config"
	"github.com/slotline/slotline/internal/genesys"
	"github.com/slotline/slotline/internal/i18n"
	"github.com/slotline/slotline/internal/password"
	"github.com/slotline/slotline/internal/storage"
	"github.com/slotline/slotline/internal/webassets"
)

// CookieName is the session cookie's name; its Path is /console.
const CookieName = "slotline_console"

// loginCookie is the cookie of the sign-in form's ticket (double submit:
// the same random value in the cookie and in the form).
const loginCookie = "slotline_console_login"

// Store is what the console reads and writes.
type Store interface {
	CreateConsoleSession(ctx context.Context, cs *storage.ConsoleSession) error
	FindConsoleSession(ctx context.Context, digest string) (*storage.ConsoleSession, error)
	TouchConsoleSession(ctx context.Context, digest string, at time.Time) error
	DeleteConsoleSession(ctx context.Context, digest string) (bool, error)
	RecordAudit(ctx context.Context, entry *audit.Entry) error
}

// Queue is a queue as the console names it.
type Queue struct {
	ID, Name string
}

// Defaults of the sign-in limits (failed attempts; a success gives its
// token back): per username and source address 5 at once then 5 a
// minute, per source address 20 then 20 a minute, per username from
// anywhere 20 then 20 a minute.
const (
	DefaultPerUserAddress      = 5.0 / 60
	DefaultPerUserAddressBurst = 5
	DefaultPerAddress          = 20.0 / 60
	DefaultPerAddressBurst     = 20
	DefaultPerUser             = 20.0 / 60
	DefaultPerUserBurst        = 20
)

// Deps is what the console needs.
type Deps struct {
	Store Store
	// Operators are the local operators (config operators).
	Operators []config.Operator
	// Queues are the configured queues, in order.
	Queues []Queue
	// SessionIdle and SessionMax are the idle and absolute timeouts
	// (defaults config.DefaultSessionIdle and DefaultSessionMax).
	SessionIdle, SessionMax time.Duration
	// PublicURL is the server's public URL ("" when unset): an https one
	// makes the cookie Secure, and its host is this server's origin besides
	// the request's Host.
	PublicURL string
	// GenesysSignIn shows the button "Sign in with Genesys Cloud"
	// (genesys.console_client_id is configured, or the sandbox's
	// simulator); Genesys is its flow and Roles the mapping of Genesys
	// role and group names to console roles (console.roles).
	GenesysSignIn bool
	Genesys       *genesys.AuthCodeFlow
	Roles         map[string][]string
	Logger        *slog.Logger
	// Feed is the event log the pages follow live (GET /console/events);
	// nil: no feed (404).
	Feed Feed
	// Booking is the reservation service the pages read and change
	// through, as the API does.
	Booking *booking.Service
	// Capacity keeps the Capacity page's "Keep" decisions (the store);
	// nil: the over-capacity list has no "Keep".
	Capacity CapacityStore
	// Reservations is what the reservations and live pages read besides
	// Booking (storage.Store).
	Reservations ReservationStore
	// Now is the clock (default time.Now).
	Now func() time.Time
	// LoginThrottle and UserThrottle limit failed sign-ins: the first per
	// username and address (its client key) and per address, the second
	// per username from anywhere (its client key, with no address). Nil:
	// the defaults above.
	LoginThrottle, UserThrottle *auth.Throttle
	// Health is what the health and reports pages read and do (health.go).
	Health HealthDeps
}

// Server serves the console.
type Server struct {
	store       Store
	operators   map[string]operatorEntry
	dummy       func() *password.Hash // made on first use
	queues      []Queue
	idle, max   time.Duration
	secureHTTPS bool
	publicHost  string
	genesys     bool
	flow        *genesys.AuthCodeFlow
	// loginOrigin is " " and the Genesys login host's origin, which the
	// sign-in button's form is redirected to (CSP form-action covers
	// redirects), or "".
	loginOrigin string
	roles       map[string][]string
	feed        Feed
	booking     *booking.Service
	capStore    CapacityStore
	resStore    ReservationStore
	logger      *slog.Logger
	now         func() time.Time
	throttle    *auth.Throttle
	userLimit   *auth.Throttle
	health      HealthDeps
	msgs        i18n.Catalogs
	tmpl        *template.Template
	mux         *http.ServeMux
}

type operatorEntry struct {
	op   config.Operator
	hash *password.Hash
}

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static/*.css
var staticFS embed.FS

// New returns the console. It fails when an operator's hash does not
// parse (config checked it) or the embedded catalogs or templates do not
// load.
func New(d Deps) (*Server, error) {
	s := &Server{store: d.Store, operators: map[string]operatorEntry{}, queues: d.Queues,
		idle: cmp.Or(d.SessionIdle, config.DefaultSessionIdle), max: cmp.Or(d.SessionMax, config.DefaultSessionMax),
		genesys: d.GenesysSignIn && d.Genesys != nil, flow: d.Genesys, roles: d.Roles, feed: d.Feed, booking: d.Booking, capStore: d.Capacity, resStore: d.Reservations, logger: d.Logger, now: d.Now, throttle: d.LoginThrottle, userLimit: d.UserThrottle,
		health: d.Health, mux: http.NewServeMux()}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	if s.flow != nil {
		if u, err := url.Parse(s.flow.LoginBase); err == nil && u.Host != "" {
			s.loginOrigin = " " + u.Scheme + "://" + u.Host
		}
	}
	if s.now == nil {
		s.now = time.Now
	}
	if u, err := url.Parse(d.PublicURL); err == nil && d.PublicURL != "" {
		s.publicHost = u.Host
		s.secureHTTPS = u.Scheme == "https"
	}
	if s.throttle == nil {
		s.throttle = auth.NewThrottle(auth.ThrottleConfig{PerClient: DefaultPerUserAddress, PerClientBurst: DefaultPerUserAddressBurst,
			PerAddress: DefaultPerAddress, PerAddressBurst: DefaultPerAddressBurst, Now: s.now})
	}
	if s.userLimit == nil {
		s.userLimit = auth.NewThrottle(auth.ThrottleConfig{PerClient: DefaultPerUser, PerClientBurst: DefaultPerUserBurst, Now: s.now})
	}
	for _, o := range d.Operators {
		h, err := password.Parse(o.PasswordHash)
		if err != nil {
			return nil, fmt.Errorf("console: operator %q: %w", o.Username, err)
		}
		s.operators[o.Username] = operatorEntry{op: o, hash: h}
		if s.dummy == nil {
			s.dummy = sync.OnceValue(h.Dummy)
		}
	}
	if s.dummy == nil {
		s.dummy = sync.OnceValue(func() *password.Hash {
			h, _ := password.Parse(password.New("no operator"))
			return h
		})
	}
	var err error
	if s.msgs, err = loadCatalogs(); err != nil {
		return nil, err
	}
	if s.tmpl, err = template.New("").ParseFS(templateFS, "templates/*.html"); err != nil {
		return nil, fmt.Errorf("console: templates: %w", err)
	}
	s.routes()
	return s, nil
}

func (s *Server) routes() {
	m := s.mux
	m.HandleFunc("GET /console/assets/{name}", s.handleCSS)
	m.HandleFunc("GET /console/assets/js/{name}", s.handleScript)
	m.Handle("GET /console/events", s.Require(Viewer)(http.HandlerFunc(s.handleEvents)))
	m.HandleFunc("GET /console/login", s.handleLogin)
	m.HandleFunc("POST /console/login", s.handleLoginPost)
	m.HandleFunc("GET /console/login/genesys", s.handleGenesysStart)
	m.HandleFunc("GET "+callbackPath, s.handleGenesysCallback)
	m.Handle("POST /console/logout", s.Require(Viewer)(http.HandlerFunc(s.handleLogout)))
	m.Handle("GET /console", s.Require(Viewer)(http.HandlerFunc(s.handleHome)))
	m.Handle("GET /console/{$}", http.RedirectHandler("/console", http.StatusSeeOther))
	// The pages, each registering its routes from its own file.
	s.capacityRoutes()
	s.reservationRoutes()
	s.liveRoutes()
	s.healthRoutes()
	m.HandleFunc("/console/", func(w http.ResponseWriter, r *http.Request) {
		s.plain(w, r, http.StatusNotFound, "notfound")
	})
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.secure(w)
	s.mux.ServeHTTP(w, r)
}

// handleScript serves a page's script, built from web/src/console/.
func (s *Server) handleScript(w http.ResponseWriter, r *http.Request) {
	b, ok := webassets.ConsoleScript(r.PathValue("name"))
	if !ok {
		s.plain(w, r, http.StatusNotFound, "notfound")
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/javascript; charset=utf-8")
	h.Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(b)
}

// handleCSS serves a stylesheet of static/: console.css, every page's,
// and a page's own.
func (s *Server) handleCSS(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	b, err := staticFS.ReadFile("static/" + name)
	if err != nil || !strings.HasSuffix(name, ".css") {
		s.plain(w, r, http.StatusNotFound, "notfound")
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/css; charset=utf-8")
	h.Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(b)
}

// secure sets the headers of every response: the customer pages' CSP (no
// inline script or style), never framed, no referrer, nosniff, no-store.
func (s *Server) secure(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
		"connect-src 'self'; form-action 'self'"+s.loginOrigin+"; base-uri 'none'; frame-ancestors 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
}

// render writes template name with data and status.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, data any) {
	var buf bytes.Buffer
	if err := s.tmpl.ExecuteTemplate(&buf, name, data); err != nil {
		s.logger.ErrorContext(r.Context(), "render console page", "template", name, "err", err,
			"request_id", w.Header().Get("X-Request-Id"))
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// page is what every page has.
type page struct {
	s     *Server
	Lang  string
	Title string
	// Op is the signed-in operator, nil on the sign-in page.
	Op *Operator
	// CSRF is the session's token, for the forms that change something.
	CSRF string
	// Nav are the shell's links; Current is the one of this page.
	Nav []navLink
	// Styles are the page's own stylesheets (names in static/, after
	// console.css) and Scripts its scripts (names of web/src/console/*.js,
	// loaded deferred from /console/assets/js/).
	Styles, Scripts []string
}

type navLink struct {
	Name, URL string
	Current   bool
}

// T returns the message key in the page's language, {name} placeholders
// filled from args (name, value pairs).
func (p *page) T(key string, args ...string) string { return p.s.msgs.Text(p.Lang, key, args...) }

// RoleName is the operator's role in the page's language.
func (p *page) RoleName() string { return p.T("role." + p.Op.Role.String()) }

func (s *Server) page(r *http.Request, titleKey string, args ...string) page {
	p := page{s: s, Lang: chooseLang(r)}
	p.Title = p.T(titleKey, args...)
	if sess, ok := fromContext(r.Context()); ok {
		p.Op, p.CSRF = &sess.op, sess.csrf
		capacity := "/console/queues/" + url.PathEscape(s.firstQueue(sess.op)) + "/capacity"
		for _, l := range []navLink{{"nav.capacity", capacity, false}, {"nav.reservations", "/console/reservations", false},
			{"nav.live", "/console/live", false}, {"nav.health", "/console/health", false}, {"nav.reports", "/console/reports", false}} {
			l.Current = r.URL.Path == l.URL || (l.Name == "nav.capacity" && strings.HasSuffix(r.URL.Path, "/capacity"))
			l.Name = p.T(l.Name)
			p.Nav = append(p.Nav, l)
		}
	}
	return p
}

// firstQueue is the first queue the operator may see ("" without any).
func (s *Server) firstQueue(op Operator) string {
	for _, q := range s.queues {
		if op.CanSee(q.ID) {
			return q.ID
		}
	}
	return ""
}

// plainPage is a page with a heading and a sentence.
type plainPage struct {
	page
	Text string
}

// plain writes the plain page of kind (catalog keys plain.{kind}.title
// and plain.{kind}.text) with status.
func (s *Server) plain(w http.ResponseWriter, r *http.Request, status int, kind string) {
	p := plainPage{page: s.page(r, "plain."+kind+".title")}
	p.Text = p.T("plain." + kind + ".text")
	s.render(w, r, status, "plain", &p)
}

// homePage is the console's home: the operator's queues.
type homePage struct {
	page
	Queues []Queue
}

func (s *Server) handleHome(w http.ResponseWriter, r *http.Request) {
	p := homePage{page: s.page(r, "home.title")}
	for _, q := range s.queues {
		if p.Op.CanSee(q.ID) {
			p.Queues = append(p.Queues, q)
		}
	}
	s.render(w, r, http.StatusOK, "home", &p)
}

func (s *Server) queueExists(id string) bool {
	for _, q := range s.queues {
		if q.ID == id {
			return true
		}
	}
	return false
}
