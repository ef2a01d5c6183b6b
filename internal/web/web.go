// SPDX-License-Identifier: Apache-2.0

// Package web serves the customer's pages: the booking page
// (/book/{queue_id}), its result (/book/{queue_id}/booked/{token}) and
// the manage page of a reservation's self-service link (/manage/{token}),
// server-rendered with html/template so that they work with JavaScript
// off (forms that POST and redirect), in the customer's language (message
// catalogs in i18n/, CLDR date and time formats) and time zone, with the
// security headers of every page and a cookie-free CSRF ticket on every
// form. The enhancement script (/assets/js/book.js, served elsewhere)
// only adds to them.
package web

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
	"regexp"
	"strings"
	"time"

	"github.com/slotline/slotline/internal/auth"
	"github.com/slotline/slotline/internal/booking"
	"github.com/slotline/slotline/internal/i18n"
	"github.com/slotline/slotline/internal/selfservice"
)

// Defaults of Deps.
const (
	DefaultMinFormAge = 3 * time.Second
	DefaultFormTTL    = 2 * time.Hour
	// DefaultNoJSRate and DefaultNoJSBurst limit the creates without a
	// proof of work per source address: one every two minutes, three at
	// once.
	DefaultNoJSRate  = 1.0 / 120
	DefaultNoJSBurst = 3
)

// ClientID is the client id of the reservations booked on the page.
const ClientID = "booking-page"

// Deps is what the pages need.
type Deps struct {
	Booking *booking.Service
	// Self opens reservations' links (the booked and manage pages); nil:
	// those pages answer 404 and a booking shows its time without a link.
	Self *selfservice.Service
	// Key signs the form tickets: HMAC-SHA-256(deployment secret, KeyLabel)
	// (selfservice.Links.Derive), so that every process of a deployment
	// accepts the others' forms.
	Key    []byte
	Logger *slog.Logger
	// VerifyProof checks a proof of work (the form's proof field, filled
	// by the enhancement script); nil: no proof is asked for. When set, a
	// form without a proof (JavaScript off) is accepted only when its
	// ticket is MinFormAge old and its address within the no-JavaScript
	// limit, which is weaker than the proof (a patient bot from many
	// addresses passes).
	VerifyProof func(ctx context.Context, payload string) error
	// MinFormAge is how old a form without proof must be (default
	// DefaultMinFormAge); FormTTL how long a form may be posted
	// (DefaultFormTTL).
	MinFormAge, FormTTL time.Duration
	// NoJSRate (per second) and NoJSBurst limit the creates without a proof
	// per source address (defaults DefaultNoJSRate, DefaultNoJSBurst).
	NoJSRate  float64
	NoJSBurst int
	// FrameOrigins returns the origins that may frame a queue's pages
	// (frame-ancestors besides 'self'); nil: none.
	FrameOrigins func(queueID string) []string
	// PublicURL is the server's public URL ("" when unset): its host is
	// this server's origin besides the request's Host.
	PublicURL string
	// Now is the clock (default the booking service's).
	Now func() time.Time
}

// Server serves the pages.
type Server struct {
	booking      *booking.Service
	self         *selfservice.Service
	key          []byte
	logger       *slog.Logger
	verifyProof  func(ctx context.Context, payload string) error
	minFormAge   time.Duration
	formTTL      time.Duration
	noJS         *auth.Throttle
	frameOrigins func(string) []string
	publicHost   string
	now          func() time.Time
	msgs         i18n.Catalogs
	tmpl         *template.Template
	mux          *http.ServeMux
}

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static/book.css
var bookCSS []byte

// New returns the pages' handler; it serves /book/, /manage/ and
// /assets/book.css. It fails only when the embedded catalogs or templates
// do not load.
func New(d Deps) (*Server, error) {
	s := &Server{booking: d.Booking, self: d.Self, key: d.Key, logger: d.Logger, verifyProof: d.VerifyProof,
		minFormAge: cmp.Or(d.MinFormAge, DefaultMinFormAge), formTTL: cmp.Or(d.FormTTL, DefaultFormTTL),
		frameOrigins: d.FrameOrigins, now: d.Now, mux: http.NewServeMux()}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = d.Booking.Now
	}
	if len(s.key) == 0 {
		return nil, fmt.Errorf("web: the pages need a key")
	}
	if u, err := url.Parse(d.PublicURL); err == nil && d.PublicURL != "" {
		s.publicHost = u.Host
	}
	s.noJS = auth.NewThrottle(auth.ThrottleConfig{PerAddress: cmp.Or(d.NoJSRate, DefaultNoJSRate),
		PerAddressBurst: cmp.Or(d.NoJSBurst, DefaultNoJSBurst), Now: s.now})
	var err error
	if s.msgs, err = loadCatalogs(); err != nil {
		return nil, err
	}
	if s.tmpl, err = template.New("").ParseFS(templateFS, "templates/*.html"); err != nil {
		return nil, fmt.Errorf("web: templates: %w", err)
	}
	s.routes()
	return s, nil
}

func (s *Server) routes() {
	m := s.mux
	m.HandleFunc("GET /book/{queue_id}", s.handleBook)
	m.HandleFunc("POST /book/{queue_id}", s.handleBookPost)
	m.HandleFunc("GET /book/{queue_id}/booked/{token}", s.handleBooked)
	m.HandleFunc("GET /manage/{token}", s.handleManage)
	m.HandleFunc("GET /manage/{token}/reschedule", s.handleReschedule)
	m.HandleFunc("POST /manage/{token}/reschedule", s.handleReschedulePost)
	m.HandleFunc("GET /manage/{token}/cancel", s.handleCancel)
	m.HandleFunc("POST /manage/{token}/cancel", s.handleCancelPost)
	m.HandleFunc("POST /manage/{token}/opt-out", s.handleOptOut)
	m.HandleFunc("GET /assets/book.css", s.handleCSS)
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.plain(w, r, http.StatusNotFound, chooseLocale(r, ""), "notfound")
	})
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

func (s *Server) handleCSS(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/css; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "public, max-age=3600")
	_, _ = w.Write(bookCSS)
}

var originPattern = regexp.MustCompile(`^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$`)

// secure sets the headers of every page: the CSP (no inline script or
// style; framed only by this server and the queue's origins), no
// referrer (the tokens are in the URLs), nosniff and no-store (the
// pages hold form tickets or tokens).
func (s *Server) secure(w http.ResponseWriter, queueID string) {
	ancestors := "'self'"
	if s.frameOrigins != nil && queueID != "" {
		for _, o := range s.frameOrigins(queueID) {
			if originPattern.MatchString(o) {
				ancestors += " " + o
			}
		}
	}
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
		"connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors "+ancestors)
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
}

// render writes template name with data and status.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, data any) {
	var buf bytes.Buffer
	if err := s.tmpl.ExecuteTemplate(&buf, name, data); err != nil {
		s.logger.ErrorContext(r.Context(), "render page", "template", name, "err", err, "request_id", requestID(w))
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// requestID is the request's id, which the API's middleware has set on
// the response.
func requestID(w http.ResponseWriter) string { return w.Header().Get("X-Request-Id") }

// base is what every page has.
type base struct {
	s     *Server
	Lang  string
	Title string
	// Langs are the links to the page in the other languages.
	Langs []langLink
}

type langLink struct {
	Code, Name, URL string
	Current         bool
}

// T returns the message key in the page's language, {name} placeholders
// filled from args (name, value pairs).
func (b *base) T(key string, args ...string) string { return b.s.msgs.Text(b.Lang, key, args...) }

func (s *Server) base(r *http.Request, l locale, titleKey string, args ...string) base {
	b := base{s: s, Lang: l.Lang}
	b.Title = b.T(titleKey, args...)
	if r.Method == http.MethodGet {
		for _, code := range Languages {
			q := r.URL.Query()
			q.Set("lang", code)
			b.Langs = append(b.Langs, langLink{Code: code, Name: languageNames[code], URL: r.URL.Path + "?" + q.Encode(), Current: code == l.Lang})
		}
	}
	return b
}

// plainPage is a page with a heading and a sentence: a link that opens
// nothing, a refused form, a missing queue.
type plainPage struct {
	base
	Heading, Text string
}

// plain writes the plain page of kind (its catalog keys are
// plain.{kind}.title and plain.{kind}.text) with status, and the headers
// of a page framed by nobody else unless the caller set them. The page says the
// same for every reason it has: a link unknown, tampered with or expired
// reads alike.
func (s *Server) plain(w http.ResponseWriter, r *http.Request, status int, l locale, kind string) {
	if w.Header().Get("Content-Security-Policy") == "" {
		s.secure(w, "")
	}
	p := plainPage{base: s.base(r, l, "plain."+kind+".title")}
	p.Langs = nil
	p.Heading = p.Title
	p.Text = p.T("plain." + kind + ".text")
	s.render(w, r, status, "plain", &p)
}

// limitForm parses a POSTed form of at most 16 KiB.
func limitForm(w http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	return r.ParseForm() == nil
}

// formValue is the trimmed value of a POSTed field.
func formValue(r *http.Request, key string) string { return strings.TrimSpace(r.PostFormValue(key)) }
