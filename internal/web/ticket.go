package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/slotline/slotline/internal/auth"
)

// KeyLabel is what the pages' HMAC key is derived from the deployment's
// secret with: key = HMAC-SHA-256(secret, KeyLabel).
const KeyLabel = "slotline pages v1"

// A form ticket is the hidden field csrf of every form that POSTs: the
// form's path, when it was issued and a random nonce, signed with the
// pages' key. It needs no cookie, so the pages work inside a third-party
// iframe, where cookies may be blocked. It proves the post comes from a
// form this server rendered for that path less than FormTTL ago; its issue
// time is also the age the no-JavaScript bot guard checks, and its nonce
// the create's idempotency key (a form submitted twice books once).
//
//	ticket = issued (unix milliseconds, decimal) "." nonce (hex) "." base64url(HMAC-SHA-256(key, path "\x00" issued "." nonce))
type ticket struct {
	Issued time.Time
	Nonce  string
}

var (
	errTicketMissing = errors.New("no form ticket")
	errTicketBad     = errors.New("the form ticket is not valid")
	errTicketExpired = errors.New("the form ticket has expired")
)

func (s *Server) sign(path, payload string) string {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(path))
	m.Write([]byte{0})
	m.Write([]byte(payload))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// issue returns a new ticket for the form that posts to path.
func (s *Server) issue(path string) string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	payload := strconv.FormatInt(s.now().UnixMilli(), 10) + "." + hex.EncodeToString(b)
	return payload + "." + s.sign(path, payload)
}

// check verifies the ticket v of a post to path: errTicketMissing,
// errTicketBad (tampered, another form's, from the future) or
// errTicketExpired.
func (s *Server) check(path, v string) (ticket, error) {
	if v == "" {
		return ticket{}, errTicketMissing
	}
	i := strings.LastIndexByte(v, '.')
	if i < 0 || len(v) > 200 {
		return ticket{}, errTicketBad
	}
	payload, sig := v[:i], v[i+1:]
	if !hmac.Equal([]byte(sig), []byte(s.sign(path, payload))) {
		return ticket{}, errTicketBad
	}
	secs, nonce, ok := strings.Cut(payload, ".")
	n, err := strconv.ParseInt(secs, 10, 64)
	if !ok || err != nil {
		return ticket{}, errTicketBad
	}
	t := ticket{Issued: time.UnixMilli(n), Nonce: nonce}
	now := s.now()
	switch {
	case t.Issued.After(now.Add(time.Minute)):
		return ticket{}, errTicketBad
	case now.Sub(t.Issued) > s.formTTL:
		return t, errTicketExpired
	}
	return t, nil
}

// sameOrigin is auth.SameOriginPost with this server's public host.
func (s *Server) sameOrigin(r *http.Request) bool { return auth.SameOriginPost(r, s.publicHost) }
