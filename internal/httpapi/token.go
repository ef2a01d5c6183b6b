package httpapi

import (
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/slotline/slotline/internal/auth"
	"github.com/slotline/slotline/internal/reservation"
)

// oauthError writes the RFC 6749 error shape.
func oauthError(w http.ResponseWriter, status int, code, desc string) {
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="slotline"`)
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

// tokenTooMany answers a token request with 429 and Retry-After: a
// problem document, like every 429, that also carries the RFC 6749
// members (error slow_down, error_description) OAuth clients read.
func (s *Server) tokenTooMany(w http.ResponseWriter, r *http.Request, retry int, msg string) {
	w.Header().Set("Retry-After", strconv.Itoa(retry))
	e := reservation.Errorf(reservation.ERATELIMITED, "%s", msg)
	e.Extra = map[string]any{"error": "slow_down", "error_description": msg}
	s.problem(w, r, e)
}

// handleToken is the OAuth 2.0 client-credentials token endpoint. The
// client authenticates with HTTP Basic (form-urlencoded or not) or with
// client_id and client_secret form fields. A missing grant_type is taken as
// client_credentials: the seed's client sends no body at all.
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, _ := mime.ParseMediaType(ct); mt != "application/x-www-form-urlencoded" {
			oauthError(w, http.StatusBadRequest, "invalid_request", "send the form as application/x-www-form-urlencoded")
			return
		}
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "the form cannot be parsed")
		return
	}
	if gt := r.PostForm.Get("grant_type"); gt != "" && gt != "client_credentials" {
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "only grant_type=client_credentials is supported")
		return
	}
	id, secret, basic := r.BasicAuth()
	if !basic {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if id == "" {
		oauthError(w, http.StatusUnauthorized, "invalid_client", "client credentials are required (HTTP Basic or client_id and client_secret)")
		return
	}
	// Failed logins are throttled per client id and source address, and
	// per source address (auth.Throttle says why not per client id
	// alone): an attempt over either limit is refused before its secret
	// is checked, and a success gives back what it took.
	known := s.Auth.ClientID(id)
	attempt, refused := s.LoginThrottle.Begin(known, r.RemoteAddr)
	if refused != nil {
		retry := retrySeconds(refused.RetryAfter)
		s.Metrics.TokenRefusals.WithLabelValues("throttled").Inc()
		if refused.First {
			// Once per bucket emptied, not once per attempt of a flood.
			s.Logger.WarnContext(r.Context(), "token refused: too many failed logins", "request_id", info(r).id,
				"client_id", known, "source", auth.AddressKey(r.RemoteAddr), "retry_after_s", retry)
		}
		s.tokenTooMany(w, r, retry, fmt.Sprintf("too many failed logins; retry after %d s", retry))
		return
	}
	c, ok := s.Auth.Authenticate(id, secret)
	if !ok {
		s.Metrics.TokenRefusals.WithLabelValues("bad_credentials").Inc()
		s.Logger.WarnContext(r.Context(), "token refused: bad client credentials", "request_id", info(r).id)
		oauthError(w, http.StatusUnauthorized, "invalid_client", "client authentication failed")
		return
	}
	attempt.Succeeded()
	if c.Limiter != nil {
		if ok, retry := allowNow(c); !ok {
			s.Metrics.TokenRefusals.WithLabelValues("rate_limited").Inc()
			s.tokenTooMany(w, r, retry, fmt.Sprintf("client %s is over its rate limit; retry after %d s", c.ID, retry))
			return
		}
	}
	token, p, err := s.Auth.Issue(r.Context(), c, strings.Fields(r.PostForm.Get("scope")))
	var se *auth.ScopeError
	if errors.As(err, &se) {
		oauthError(w, http.StatusBadRequest, "invalid_scope", se.Error())
		return
	}
	if err != nil {
		s.Logger.ErrorContext(r.Context(), "issue token", "request_id", info(r).id, "err", err)
		oauthError(w, http.StatusInternalServerError, "server_error", "the token could not be issued; retry later")
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": token,
		"token_type":   "Bearer",
		"expires_in":   int(s.Auth.TTL().Seconds()),
		"scope":        strings.Join(p.Scopes, " "),
	})
}
