package gcsim

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/coder/websocket"
)

// token is an issued access token. Expiry is on real time.
type token struct {
	clientID string
	serial   int // the n-th token issued
	expires  time.Time
	userID   string // the signed-in user of a code grant; "" for client credentials
}

// oauthError is the login host's error shape.
type oauthError struct {
	Error            string `json:"error"`
	Description      string `json:"description"`
	ErrorDescription string `json:"error_description"`
}

func writeOAuthError(w http.ResponseWriter, status int, code, desc string) {
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="oauth"`)
	}
	writeJSON(w, status, oauthError{Error: code, Description: desc, ErrorDescription: desc})
}

// handleToken serves POST /oauth/token: the client credentials grant with
// HTTP Basic client authentication, and the authorization code grant
// (handleCodeToken). The id and secret are accepted raw or form-urlencoded
// (RFC 6749 §2.3.1) inside the Basic credentials.
func (s *Sim) handleToken(w http.ResponseWriter, r *http.Request) {
	formErr := r.ParseForm()
	if formErr == nil && r.PostForm.Get("grant_type") == "authorization_code" {
		s.handleCodeToken(w, r)
		return
	}
	id, secret, ok := basicAuth(r)
	if !ok {
		writeOAuthError(w, http.StatusUnauthorized, "invalid_client", "client authentication with HTTP Basic is required")
		return
	}
	if !s.validClient(id, secret) {
		uid, err1 := url.QueryUnescape(id)
		usecret, err2 := url.QueryUnescape(secret)
		if err1 != nil || err2 != nil || !s.validClient(uid, usecret) {
			writeOAuthError(w, http.StatusUnauthorized, "invalid_client", "client authentication failed")
			return
		}
		id = uid
	}
	if formErr != nil {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "the request body is not a valid form")
		return
	}
	switch gt := r.PostForm.Get("grant_type"); gt {
	case "client_credentials":
	case "":
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "grant_type is required")
		return
	default:
		writeOAuthError(w, http.StatusBadRequest, "unsupported_grant_type", "grant type "+gt+" is not supported")
		return
	}
	tok := newToken()
	now := time.Now()
	s.mu.Lock()
	if len(s.tokens) >= 1000 {
		for k, t := range s.tokens {
			if now.After(t.expires) {
				delete(s.tokens, k)
			}
		}
	}
	s.tokenSerial++
	s.tokens[tok] = &token{clientID: id, serial: s.tokenSerial, expires: now.Add(s.opts.TokenTTL)}
	s.stats.tokens++
	s.mu.Unlock()
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": tok,
		"token_type":   "bearer",
		"expires_in":   int(s.opts.TokenTTL / time.Second),
	})
}

func (s *Sim) validClient(id, secret string) bool {
	want, ok := s.opts.Clients[id]
	if !ok || id == s.opts.ClientID {
		want = s.opts.ClientSecret
		if subtle.ConstantTimeCompare([]byte(id), []byte(s.opts.ClientID)) != 1 {
			return false
		}
	}
	return subtle.ConstantTimeCompare([]byte(secret), []byte(want)) == 1
}

// basicAuth reads Basic credentials without unescaping them.
func basicAuth(r *http.Request) (id, secret string, ok bool) {
	h := r.Header.Get("Authorization")
	scheme, cred, found := strings.Cut(h, " ")
	if !found || !strings.EqualFold(scheme, "Basic") {
		return "", "", false
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(cred))
	if err != nil {
		return "", "", false
	}
	return strings.Cut(string(raw), ":")
}

func newToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// authorize checks the request's bearer token and returns its record,
// answering 401 itself when it is missing (authentication.required) or
// unknown, expired or revoked (bad.credentials).
func (s *Sim) authorize(w http.ResponseWriter, r *http.Request) (token, bool) {
	scheme, tok, found := strings.Cut(r.Header.Get("Authorization"), " ")
	if !found || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		writeError(w, http.StatusUnauthorized, "authentication.required", "No authentication bearer token specified in authorization header.")
		return token{}, false
	}
	s.mu.Lock()
	t, ok := s.tokens[strings.TrimSpace(tok)]
	valid := ok && time.Now().Before(t.expires)
	var rec token
	if valid {
		rec = *t
	}
	s.mu.Unlock()
	if !valid {
		writeError(w, http.StatusUnauthorized, "bad.credentials", "Invalid login credentials.")
		return token{}, false
	}
	return rec, true
}

// bearerLocked returns the record of the request's token; call it only
// after authorize succeeded.
func (s *Sim) bearerLocked(r *http.Request) *token {
	_, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if t, ok := s.tokens[strings.TrimSpace(tok)]; ok {
		return t
	}
	return &token{clientID: s.opts.ClientID, expires: time.Now()}
}

// RevokeTokens invalidates every token issued so far: API calls with them
// get 401 bad.credentials. Every notification channel (each was created
// with one of those tokens) receives a v2.system.token_revoked message, is
// closed and is gone (404).
func (s *Sim) RevokeTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.tokens)
	for id, ch := range s.channels {
		if ch.sock != nil {
			ch.sock.enqueue(s.systemMessage(ch, "v2.system.token_revoked."+id, "token_revoked", "The OAuth token used to create this channel was revoked."))
		}
		s.removeChannelLocked(ch, websocket.StatusGoingAway, "token revoked")
	}
	s.logger.Info("gcsim: tokens revoked")
}
