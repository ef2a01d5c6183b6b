// SPDX-License-Identifier: Apache-2.0

// Package httpapi serves Slotline's HTTP API: the seed-compatible token and
// callback endpoints, queues and availability, health, metrics and the
// OpenAPI document. NewServer returns an http.Handler; every route is in
// addRoutes; every error is rendered by problem.go.
package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/slotline/slotline/internal/audit"
	"github.com/slotline/slotline/internal/auth"
	"github.com/slotline/slotline/internal/booking"
	"github.com/slotline/slotline/internal/metrics"
	"github.com/slotline/slotline/internal/pow"
	"github.com/slotline/slotline/internal/report"
	"github.com/slotline/slotline/internal/reservation"
	"github.com/slotline/slotline/internal/selfservice"
	"github.com/slotline/slotline/internal/storage"
	"github.com/slotline/slotline/internal/stream"
	"github.com/slotline/slotline/internal/webhook"
)

// Limits on requests.
const (
	MaxBodyBytes = 64 << 10
	maxFormBytes = 8 << 10
)

// Store is what the API reads and writes besides the booking service.
type Store interface {
	Backend() string
	Ping(ctx context.Context) error
	PendingMigrations(ctx context.Context) ([]string, error)
	RecordAudit(ctx context.Context, entry *audit.Entry) error
	FindEndpoints(ctx context.Context) ([]*storage.Endpoint, error)
	FindEndpoint(ctx context.Context, id string) (*storage.Endpoint, error)
	FindDeliveries(ctx context.Context, endpointID, status, cursor string, limit int) ([]*storage.Delivery, string, error)
	FeedTokenOwner(ctx context.Context, queueID, hash string) (string, error)
	SetFeedToken(ctx context.Context, clientID, queueID, hash string, w reservation.Write) error
	OutcomeFacts(ctx context.Context, queueID, clientID string, from, to time.Time) ([]report.Facts, error)
}

// Deps is what the server needs.
type Deps struct {
	Booking *booking.Service
	Auth    *auth.Service
	Store   Store
	Metrics *metrics.Metrics
	Logger  *slog.Logger
	Version string
	// LoginThrottle limits failed token requests by client id and source
	// address (the connection's: the server trusts no forwarding header);
	// nil throttles nothing.
	LoginThrottle *auth.Throttle
	// Stream serves GET /api/v2/callbacks/websocket; nil answers 503.
	Stream *stream.Server
	// StreamOptions are the defaults of every subscription (window,
	// timeouts, frame size).
	StreamOptions stream.Options
	// StreamsPerClient is the most stream subscriptions one API client may
	// hold open at once in this process (0: no cap); one more is refused
	// with 429 too_many_streams before the upgrade.
	StreamsPerClient int
	// WriteTimeout bounds the writing of each response, from the moment its
	// handler starts (0: no bound). When it passes, the write fails and the
	// connection is closed, so that a client that sends requests and never
	// reads the answers cannot hold a connection. A stream subscription is
	// bounded by it only until its upgrade; then it keeps its own time limits
	// (stream.Options).
	WriteTimeout time.Duration
	// PublicURL and AllowedOrigins say which browser origins may open the
	// stream (besides the request's own host).
	PublicURL      string
	AllowedOrigins []string
	// Webhooks and Dispatcher serve the webhooks API; nil answers 503.
	Webhooks   *webhook.Endpoints
	Dispatcher *webhook.Dispatcher
	// Self serves the customers' self-service routes and gives every
	// create its manage_url and manage_token; nil: neither.
	Self *selfservice.Service
	// Keys are the publishable keys browsers may hold; nil: none. A
	// Bearer token starting pk_ is one of them.
	Keys *auth.PublishableKeys
	// Proof issues the proof-of-work challenges (GET /api/v2/challenge)
	// and verifies the proofs a create through a publishable key needs;
	// nil: no proof is asked for, and the challenge route answers 404.
	Proof *pow.Issuer
	// ChallengeLimit limits the challenges per source address; nil: no
	// limit.
	ChallengeLimit *auth.Throttle
	// Pages serves the customer's pages (internal/web): /book/, /manage/
	// and /assets/ (but /assets/js/, the widget's); nil: none.
	Pages http.Handler
	// Widget serves the browser code under /widget/ (the booking widget
	// and its demo page) and /assets/js/ (the booking pages' script): see
	// package webassets. Nil: neither.
	Widget http.Handler
	// Console serves the operators' console (internal/console) under
	// /console; nil: none.
	Console http.Handler
}

// Server is the HTTP API.
type Server struct {
	Deps
	mux *http.ServeMux
}

// NewServer returns the API's handler.
func NewServer(d Deps) http.Handler {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Metrics == nil {
		d.Metrics = metrics.New()
	}
	if d.StreamOptions.Window <= 0 {
		d.StreamOptions.Window = 100
	}
	s := &Server{Deps: d, mux: http.NewServeMux()}
	s.addRoutes()
	return s.middleware(s.mux)
}

func (s *Server) addRoutes() {
	m := s.mux
	m.HandleFunc("POST /oauth/token", s.handleToken)
	m.HandleFunc("GET /healthz", s.handleHealth)
	m.HandleFunc("GET /readyz", s.handleReady)
	m.Handle("GET /metrics", promhttp.HandlerFor(s.Metrics.Registry, promhttp.HandlerOpts{}))
	m.HandleFunc("GET /api/v2/openapi.json", s.handleOpenAPI)
	m.HandleFunc("GET /api/v2/docs", s.handleAPIDocs)
	m.HandleFunc("GET /problems/{code}", s.handleProblemType)

	m.Handle("POST /api/v2/callbacks", s.authorize("callback:write", "reservation.create", s.handleCreate))
	m.Handle("GET /api/v2/callbacks", s.authorize("callback:read", "", s.handleList))
	m.Handle("GET /api/v2/callbacks/{id}", s.authorize("callback:read", "", s.handleGet))
	m.Handle("PATCH /api/v2/callbacks/{id}", s.authorize("callback:write", "reservation.update", s.handleUpdate))
	m.Handle("DELETE /api/v2/callbacks/{id}", s.authorize("callback:write", "reservation.cancel", s.handleCancel))

	m.Handle("GET /api/v2/callbacks/websocket", s.authorizeWith("callback:read", "", streamToken, s.handleStream))

	m.Handle("POST /api/v2/webhooks", s.authorize("webhook:write", "webhook.create", s.handleCreateWebhook))
	m.Handle("GET /api/v2/webhooks", s.authorize("webhook:read", "", s.handleListWebhooks))
	m.Handle("GET /api/v2/webhooks/{id}", s.authorize("webhook:read", "", s.handleGetWebhook))
	m.Handle("PATCH /api/v2/webhooks/{id}", s.authorize("webhook:write", "webhook.update", s.handleUpdateWebhook))
	m.Handle("DELETE /api/v2/webhooks/{id}", s.authorize("webhook:write", "webhook.delete", s.handleDeleteWebhook))
	m.Handle("POST /api/v2/webhooks/{id}/rotate-secret", s.authorize("webhook:write", "webhook.rotate_secret", s.handleRotateWebhook))
	m.Handle("GET /api/v2/webhooks/{id}/deliveries", s.authorize("webhook:read", "", s.handleListDeliveries))
	m.Handle("POST /api/v2/webhooks/{id}/deliveries/{delivery}/retry", s.authorize("webhook:write", "webhook.delivery_retry", s.handleRetryDelivery))
	m.Handle("POST /api/v2/webhooks/{id}/test", s.authorize("webhook:write", "webhook.ping", s.handleTestWebhook))

	m.Handle("GET /api/v2/queues", s.authorize("callback:read", "", s.handleQueues))
	m.HandleFunc("GET /api/v2/queues/{id}/calendar.ics", s.handleQueueCalendar)
	m.Handle("POST /api/v2/queues/{id}/calendar-token", s.authorize("webhook:write", "calendar.rotate_feed_token", s.handleFeedToken))
	m.Handle("GET /api/v2/queues/{id}", s.authorize("callback:read", "", s.handleQueue))
	m.Handle("GET /api/v2/queues/{id}/availability", s.authorize("callback:read", "", s.handleAvailability))
	m.Handle("GET /api/v2/reports/outcomes", s.authorize("callback:read", "", s.handleReportOutcomes))
	m.Handle("GET /api/v2/queues/{id}/overrides", s.authorize("callback:read", "", s.handleListOverrides))
	m.Handle("PUT /api/v2/queues/{id}/overrides", s.authorize(auth.ScopeCapacityWrite, "capacity.override_put", s.handlePutOverride))
	m.Handle("DELETE /api/v2/queues/{id}/overrides/{override_id}", s.authorize(auth.ScopeCapacityWrite, "capacity.override_delete", s.handleDeleteOverride))
	m.Handle("GET /api/v2/queues/{id}/over-capacity", s.authorize(auth.ScopeCapacityWrite, "", s.handleOverCapacity))
	m.Handle("POST /api/v2/queues/{id}/over-capacity/move", s.authorize(auth.ScopeCapacityWrite, "capacity.move", s.handleMoveOverCapacity))

	// Customer self-service: the token in the path is the credential.
	m.HandleFunc("GET /api/v2/self/{token}", s.selfRoute(s.handleSelfGet))
	m.HandleFunc("GET /api/v2/self/{token}/availability", s.selfRoute(s.handleSelfAvailability))
	m.HandleFunc("PATCH /api/v2/self/{token}", s.selfRoute(s.handleSelfReschedule))
	m.HandleFunc("DELETE /api/v2/self/{token}", s.selfRoute(s.handleSelfCancel))
	m.HandleFunc("POST /api/v2/self/{token}/opt-out", s.selfRoute(s.handleSelfOptOut))

	// Publishable keys (browsers): the proof-of-work challenge and the
	// CORS preflights of the routes a key may use.
	m.HandleFunc("GET /api/v2/challenge", s.handleChallenge)
	m.HandleFunc("OPTIONS /api/v2/challenge", s.preflight(s.allKeyOrigins))
	m.HandleFunc("OPTIONS /api/v2/callbacks", s.preflight(s.allKeyOrigins))
	m.HandleFunc("OPTIONS /api/v2/queues/{id}/availability", s.preflight(s.allKeyOrigins))

	// The customer's pages, server-rendered; they set their own headers.
	if s.Pages != nil {
		m.Handle("/book/", s.Pages)
		m.Handle("/manage/", s.Pages)
		m.Handle("/assets/", s.Pages)
	}
	// The browser code (not API routes: webassets answers every method).
	if s.Widget != nil {
		m.Handle("/widget/", s.Widget)
		m.Handle("/assets/js/", s.Widget)
	}
	// The operators' console, server-rendered; it sets its own headers.
	if s.Console != nil {
		m.Handle("/console", s.Console)
		m.Handle("/console/", s.Console)
	}

	m.HandleFunc("/", s.handleNoRoute)
}

// handleNoRoute answers 405 with Allow when the path exists with other
// methods, else 404, both as problems.
func (s *Server) handleNoRoute(w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, method := range []string{"GET", "POST", "PATCH", "DELETE", "PUT"} {
		probe := r.Clone(r.Context())
		probe.Method = method
		if _, pattern := s.mux.Handler(probe); pattern != "" && pattern != "/" {
			allow = append(allow, method)
		}
	}
	if len(allow) > 0 {
		if slices.Contains(allow, "GET") {
			allow = append(allow, "HEAD")
		}
		w.Header().Set("Allow", strings.Join(allow, ", "))
		s.problem(w, r, reservation.Errorf(reservation.EMETHOD, "%s is not allowed on %s (allowed: %s)", r.Method, r.URL.Path, strings.Join(allow, ", ")))
		return
	}
	s.problem(w, r, reservation.Errorf(reservation.ENOTFOUND, "no route for %s %s", r.Method, r.URL.Path))
}

// reqInfo travels with each request through the context.
type reqInfo struct {
	id        string
	principal *auth.Principal
	action    string // audited write action, "" for reads
	target    string
	// key is the publishable key the request is made with, if any
	// (principal then names it).
	key *auth.PublishableKey
}

type ctxKey struct{}

func info(r *http.Request) *reqInfo {
	if ri, ok := r.Context().Value(ctxKey{}).(*reqInfo); ok {
		return ri
	}
	return &reqInfo{}
}

var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)

// statusWriter records the status code.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (WebSocket
// upgrades, flushing).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// middleware sets the response's write deadline, gives every request an
// id, recovers panics, logs it once (without its query string, which may
// hold a phone number) and observes its latency by route.
func (s *Server) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		if s.WriteTimeout > 0 {
			// Set by the handler rather than as http.Server.WriteTimeout,
			// so that every server built on it has it and the stream can
			// take the connection over from it after the upgrade (see
			// handleStream). net/http clears it once the response is
			// written. An error means the connection takes no deadline.
			_ = http.NewResponseController(w).SetWriteDeadline(start.Add(s.WriteTimeout))
		}
		id := r.Header.Get("X-Request-Id")
		if !requestIDPattern.MatchString(id) {
			b := make([]byte, 8)
			_, _ = rand.Read(b)
			id = hex.EncodeToString(b)
		}
		ri := &reqInfo{id: id}
		r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, ri))
		w.Header().Set("X-Request-Id", id)
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.Logger.ErrorContext(r.Context(), "panic", "request_id", id, "panic", v)
				if sw.status == 0 {
					s.problem(sw, r, reservation.Errorf(reservation.EINTERNAL, "internal error"))
				}
			}
			route := r.Pattern
			if route == "" || route == "/" {
				route = "unmatched"
			}
			status := sw.status
			if status == 0 {
				status = http.StatusOK
			}
			d := time.Since(start)
			s.Metrics.HTTPRequests.WithLabelValues(route, r.Method, strconv.Itoa(status)).Observe(d.Seconds())
			attrs := []any{"request_id", id, "method", r.Method, "route", route, "status", status,
				"duration_ms", float64(d.Microseconds()) / 1000}
			if ri.principal != nil {
				attrs = append(attrs, "client_id", ri.principal.ClientID)
			}
			s.Logger.InfoContext(r.Context(), "request", attrs...)
		}()
		next.ServeHTTP(sw, r)
	})
}

// authorize requires a bearer token with scope, applies the client's rate
// limit, and names the audited action of a write route.
func (s *Server) authorize(scope, action string, h http.HandlerFunc) http.Handler {
	return s.authorizeWith(scope, action, bearer, h)
}

// authorizeWith is authorize with another way to find the token.
func (s *Server) authorizeWith(scope, action string, tokenOf func(*http.Request) (string, bool), h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ri := info(r)
		ri.action = action
		token, ok := tokenOf(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="slotline"`)
			s.problem(w, r, reservation.Errorf(reservation.EUNAUTHORIZED, "a Bearer access token is required (POST /oauth/token)"))
			return
		}
		if isPublishable(token) {
			s.authorizeKey(w, r, token, scope, h)
			return
		}
		p, err := s.Auth.Verify(r.Context(), token)
		if err != nil {
			s.problem(w, r, err)
			return
		}
		if p == nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="slotline", error="invalid_token"`)
			s.problem(w, r, reservation.Errorf(reservation.EUNAUTHORIZED, "the access token is invalid or has expired"))
			return
		}
		ri.principal = p
		if !p.Has(scope) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="slotline", error="insufficient_scope", scope="`+scope+`"`)
			s.problem(w, r, reservation.Errorf(reservation.EFORBIDDEN, "this route needs the %s scope", scope))
			return
		}
		if !s.allow(w, r, p.Client()) {
			return
		}
		if err := checkIDs(r); err != nil {
			s.problem(w, r, err)
			return
		}
		h(w, r)
	})
}

// allow applies a client's rate limit, answering 429 with Retry-After.
func (s *Server) allow(w http.ResponseWriter, r *http.Request, c *auth.Client) bool {
	ok, secs := allowNow(c)
	if ok {
		return true
	}
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	s.problem(w, r, reservation.Errorf(reservation.ERATELIMITED, "client %s is over its rate limit; retry after %d s", c.ID, secs))
	return false
}

// allowNow takes one request from c's rate limit, or says how many seconds
// to wait.
func allowNow(c *auth.Client) (bool, int) {
	if c == nil || c.Limiter == nil {
		return true, 0
	}
	res := c.Limiter.Reserve()
	delay := res.Delay()
	if res.OK() && delay == 0 {
		return true, 0
	}
	res.Cancel()
	return false, retrySeconds(delay)
}

// retrySeconds is a Retry-After of at least d: whole seconds, at least 1.
func retrySeconds(d time.Duration) int {
	return max(int((d+time.Second-1)/time.Second), 1)
}

func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:]), true
	}
	return "", false
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "version": s.Version})
}

func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.Store.Ping(ctx); err != nil {
		s.Logger.WarnContext(ctx, "not ready: database", "err", err)
		s.problem(w, r, reservation.Errorf(reservation.EUNAVAILABLE, "the database does not answer"))
		return
	}
	pending, err := s.Store.PendingMigrations(ctx)
	if err != nil || len(pending) > 0 {
		s.problem(w, r, reservation.Errorf(reservation.EUNAVAILABLE, "database migrations are not applied (run slotline migrate)"))
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready", "database": s.Store.Backend()})
}
