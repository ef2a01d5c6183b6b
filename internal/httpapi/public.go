package httpapi

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/slotline/slotline/internal/auth"
	"github.com/slotline/slotline/internal/booking"
	"github.com/slotline/slotline/internal/pow"
	"github.com/slotline/slotline/internal/reservation"
)

// Public access without secrets: a browser holds a publishable key (pk_…)
// and sends it as a Bearer token. The key reads availability and creates
// reservations on its queues, from its origins only, within its limits;
// its creates carry a proof of work (Slotline-Proof). CORS is answered for
// the keys' origins on those two routes and on the challenge, never with
// credentials.

// Headers of CORS answers.
const (
	corsMethods = "GET, POST"
	corsHeaders = "Authorization, Content-Type, Idempotency-Key, Slotline-Proof"
	corsExpose  = "Slotline-Duplicate-Of, Retry-After, ETag"
	corsMaxAge  = "600"
)

// The routes a publishable key may use.
const (
	keyAvailabilityRoute = "GET /api/v2/queues/{id}/availability"
	keyCreateRoute       = "POST /api/v2/callbacks"
)

// isPublishable reports whether a Bearer token is a publishable key.
func isPublishable(token string) bool { return strings.HasPrefix(token, "pk_") }

// allowCORS answers r's Origin with CORS headers when it is one of
// allowed, and returns whether it did. Vary: Origin is set either way.
func allowCORS(w http.ResponseWriter, r *http.Request, allowed []string) bool {
	w.Header().Add("Vary", "Origin")
	origin := r.Header.Get("Origin")
	if origin == "" || !slices.Contains(allowed, origin) {
		return false
	}
	w.Header().Set("Access-Control-Allow-Origin", origin)
	w.Header().Set("Access-Control-Expose-Headers", corsExpose)
	return true
}

// preflight answers a CORS preflight request with 204: with the CORS
// headers when the origin is one of those allowedFor gives, else
// without any (the browser then sends nothing).
func (s *Server) preflight(allowedFor func(r *http.Request) []string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if allowCORS(w, r, allowedFor(r)) {
			h := w.Header()
			h.Set("Access-Control-Allow-Methods", corsMethods)
			h.Set("Access-Control-Allow-Headers", corsHeaders)
			h.Set("Access-Control-Max-Age", corsMaxAge)
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

// sameOrigin reports whether r comes from a page of this server itself,
// with one of allowed as this server's origin. A browser sends no Origin
// on a same-origin GET (the widget's demo page reading availability), but
// says Sec-Fetch-Site: same-origin; the server's origin is then the one
// the browser used: the request's scheme and Host, or public_url's.
func (s *Server) sameOrigin(r *http.Request, allowed []string) bool {
	if r.Header.Get("Origin") != "" || r.Header.Get("Sec-Fetch-Site") != "same-origin" {
		return false
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	own := []string{scheme + "://" + strings.ToLower(r.Host)}
	if u, err := url.Parse(s.PublicURL); err == nil && u.Host != "" {
		own = append(own, strings.ToLower(u.Scheme+"://"+u.Host))
	}
	for _, o := range own {
		if slices.Contains(allowed, o) {
			return true
		}
	}
	return false
}

// allKeyOrigins are the origins allowed on the create and the challenge,
// whose queue the preflight does not tell.
func (s *Server) allKeyOrigins(*http.Request) []string { return s.Keys.AllOrigins() }

// authorizeKey is authorizeWith for a publishable key: known (else 401,
// like a bad token), used from one of its origins (else 403
// origin_not_allowed), within its limits (else 429), on one of its two
// routes (else 403 forbidden, as a token without the route's scope) and,
// for availability, on one of its queues (the create's queue is in its
// body: handleCreate checks it).
func (s *Server) authorizeKey(w http.ResponseWriter, r *http.Request, token, scope string, h http.HandlerFunc) {
	k := s.Keys.Lookup(token)
	if k == nil {
		s.Metrics.KeyRefusals.WithLabelValues("unknown_key").Inc()
		allowCORS(w, r, s.Keys.AllOrigins())
		w.Header().Set("WWW-Authenticate", `Bearer realm="slotline", error="invalid_token"`)
		s.problem(w, r, reservation.Errorf(reservation.EUNAUTHORIZED, "the publishable key is not known"))
		return
	}
	if !allowCORS(w, r, k.Origins) && !s.sameOrigin(r, k.Origins) {
		// Readable by the pages of every key's origins, so that a widget
		// embedded with the wrong key learns why (a site no key lists
		// gets no CORS answer: to its browser, a network error).
		allowCORS(w, r, s.Keys.AllOrigins())
		s.Metrics.KeyRefusals.WithLabelValues("origin_not_allowed").Inc()
		s.problem(w, r, reservation.Errorf(reservation.EORIGINNOTALLOWED, "publishable key %s is not accepted from this origin", k.ID))
		return
	}
	ri := info(r)
	ri.principal = &auth.Principal{ClientID: k.ID}
	ri.key = k
	if wait, first := k.Allow(r.RemoteAddr); wait > 0 {
		secs := retrySeconds(wait)
		s.Metrics.KeyRefusals.WithLabelValues("rate_limited").Inc()
		if first {
			s.Logger.WarnContext(r.Context(), "publishable key over its limit", "request_id", ri.id, "key_id", k.ID,
				"source", auth.AddressKey(r.RemoteAddr), "retry_after_s", secs)
		}
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		s.problem(w, r, reservation.Errorf(reservation.ERATELIMITED, "too many requests with publishable key %s; retry after %d s", k.ID, secs))
		return
	}
	// After the limits: a refused write is audited, and the limits bound
	// what anyone holding the key can make the log record.
	if r.Pattern != keyAvailabilityRoute && r.Pattern != keyCreateRoute {
		s.Metrics.KeyRefusals.WithLabelValues("forbidden").Inc()
		w.Header().Set("WWW-Authenticate", `Bearer realm="slotline", error="insufficient_scope", scope="`+scope+`"`)
		s.problem(w, r, reservation.Errorf(reservation.EFORBIDDEN, "a publishable key may only read a queue's availability and create callbacks"))
		return
	}
	if err := checkIDs(r); err != nil {
		s.problem(w, r, err)
		return
	}
	if r.Pattern == keyAvailabilityRoute && !k.HasQueue(r.PathValue("id")) {
		s.Metrics.KeyRefusals.WithLabelValues("forbidden").Inc()
		s.problem(w, r, keyQueueError(k, r.PathValue("id")))
		return
	}
	h(w, r)
}

func keyQueueError(k *auth.PublishableKey, queueID string) error {
	return reservation.Errorf(reservation.EFORBIDDEN, "publishable key %s does not book on queue %q", k.ID, queueID)
}

// checkKeyCreate holds a create through a publishable key to the key's
// queues and, when the proof of work is on, to a valid proof in
// Slotline-Proof, spent here: before the booking writes anything.
func (s *Server) checkKeyCreate(r *http.Request, queueID string) error {
	k := info(r).key
	if !k.HasQueue(queueID) {
		s.Metrics.KeyRefusals.WithLabelValues("forbidden").Inc()
		return keyQueueError(k, queueID)
	}
	if s.Proof == nil {
		return nil
	}
	err := s.Proof.Verify(r.Context(), r.Header.Get("Slotline-Proof"))
	if errors.Is(err, pow.ErrMissing) || errors.Is(err, pow.ErrInvalid) {
		s.Metrics.KeyRefusals.WithLabelValues("proof_required").Inc()
	}
	switch {
	case errors.Is(err, pow.ErrMissing):
		return reservation.Errorf(reservation.EPROOFREQUIRED, "a create with a publishable key needs a proof of work in Slotline-Proof (GET /api/v2/challenge)")
	case errors.Is(err, pow.ErrInvalid):
		return reservation.Errorf(reservation.EPROOFREQUIRED, "the proof of work in Slotline-Proof is not valid (%s); solve a new challenge",
			strings.TrimPrefix(err.Error(), pow.ErrInvalid.Error()+": "))
	}
	return err
}

// keyResult is what a create through a publishable key may show of its
// result. Every browser holding the key is the same client, so a lenient
// duplicate (the reservation someone else may have made for the number)
// shows its time and state but not the customer's name, reason, callback
// id or full number.
func keyResult(res *booking.Result) *booking.Result {
	if res.DuplicateOf == "" {
		return res
	}
	rv := *res.Reservation
	rv.CallbackNumber = reservation.MaskNumber(rv.CallbackNumber)
	rv.CustomerName, rv.Reason, rv.CallbackID = "", "", ""
	out := *res
	out.Reservation = &rv
	return &out
}

// handleChallenge answers a new proof-of-work challenge: no credentials,
// limited per source address, never cached.
func (s *Server) handleChallenge(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	allowCORS(w, r, s.Keys.AllOrigins())
	if s.Proof == nil {
		s.problem(w, r, reservation.Errorf(reservation.ENOTFOUND, "the proof of work is off (proof_of_work.max_number: 0): creates need none"))
		return
	}
	if _, refused := s.ChallengeLimit.Begin("", r.RemoteAddr); refused != nil {
		secs := retrySeconds(refused.RetryAfter)
		s.Metrics.KeyRefusals.WithLabelValues("challenge_rate_limited").Inc()
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		s.problem(w, r, reservation.Errorf(reservation.ERATELIMITED, "too many challenges from this address; retry after %d s", secs))
		return
	}
	writeJSON(w, http.StatusOK, s.Proof.Challenge())
}
