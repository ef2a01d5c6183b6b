// SPDX-License-Identifier: Apache-2.0

// Package selfservice is customer self-service: the link every
// reservation gets (an unguessable token the server derives again, stored
// only as a digest) and what a customer holding it may do: see the
// reservation, the queue's availability, reschedule and cancel within the
// queue's policy, and opt the number out of SMS. The token is the
// credential; no OAuth client is involved.
package selfservice

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"time"

	"github.com/slotline/slotline/internal/reservation"
)

// ManagePath is the path prefix of a reservation's self-service routes
// on the API (JSON); the token follows it.
const ManagePath = "/api/v2/self/"

// PagePath is the path prefix of a reservation's manage page, which the
// customer's link opens; the token follows it.
const PagePath = "/manage/"

// DefaultLinkTTL is how long a link stays valid after the slot's end when
// self_service.link_ttl is not set.
const DefaultLinkTTL = 24 * time.Hour

// tokenLen is the length of a token: 32 bytes of HMAC-SHA256, base64url
// without padding.
const tokenLen = 43

// Links makes and checks the self-service links of reservations. A token
// is HMAC-SHA256, under the deployment's secret, of the reservation's id
// and its random nonce (Reservation.SelfNonce): 256 bits nobody without
// the secret can compute, which the server computes again whenever it
// needs the link (an SMS sent later, by another process). Only its
// SHA-256 is stored (Reservation.SelfDigest), to find the reservation.
type Links struct {
	secret    []byte
	publicURL string
	ttl       time.Duration
}

// NewLinks returns the links made with secret. publicURL ("" when unset)
// makes the URLs absolute; ttl is how long a link stays valid after the
// slot's end (0: DefaultLinkTTL).
func NewLinks(secret, publicURL string, ttl time.Duration) *Links {
	if ttl <= 0 {
		ttl = DefaultLinkTTL
	}
	return &Links{secret: []byte(secret), publicURL: strings.TrimRight(publicURL, "/"), ttl: ttl}
}

// NewSecret returns a random secret for a deployment that configures none.
func NewSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Seal gives a new reservation, which has its id, its nonce and the digest
// of its token (booking.Options.Seal).
func (l *Links) Seal(r *reservation.Reservation) {
	if r.ID == "" {
		return
	}
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	r.SelfNonce = hex.EncodeToString(b)
	r.SelfDigest = Digest(l.token(r.ID, r.SelfNonce))
}

// Token returns r's self-service token, "" when r has no link (made before
// self-service, or its nonce was not read).
func (l *Links) Token(r reservation.Reservation) string {
	if r.SelfNonce == "" || r.ID == "" {
		return ""
	}
	return l.token(r.ID, r.SelfNonce)
}

func (l *Links) token(id, nonce string) string {
	m := hmac.New(sha256.New, l.secret)
	m.Write([]byte(id))
	m.Write([]byte{0})
	m.Write([]byte(nonce))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// URL returns the absolute URL of r's self-service link, which opens the
// manage page (public_url + "/manage/" + token), or "" when there is none:
// no public_url configured, or r has no link.
func (l *Links) URL(r reservation.Reservation) string {
	if l == nil || l.publicURL == "" {
		return ""
	}
	t := l.Token(r)
	if t == "" {
		return ""
	}
	return l.publicURL + PagePath + t
}

// ManageURL returns r's link, to the manage page, as the create response
// shows it: absolute when public_url is set, else the path alone
// ("/manage/" + token); "" when r has no link.
func (l *Links) ManageURL(r reservation.Reservation) string {
	t := l.Token(r)
	if t == "" {
		return ""
	}
	return l.publicURL + PagePath + t
}

// Derive returns a key for another use of the deployment's secret:
// HMAC-SHA-256(secret, label), so that every process of a deployment
// derives the same key and no use sees the secret itself (the pages'
// form tickets: "slotline pages v1"; the proof of work: "slotline pow v1").
func (l *Links) Derive(label string) []byte {
	m := hmac.New(sha256.New, l.secret)
	m.Write([]byte(label))
	return m.Sum(nil)
}

// Expires returns when r's link stops being valid: the slot's end plus the
// link's lifetime.
func (l *Links) Expires(r *reservation.Reservation) time.Time { return r.Slot.End.Add(l.ttl) }

// Digest returns the SHA-256 (hex) of a token, the form it is stored in.
func Digest(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// wellFormed reports whether token could be a token at all.
func wellFormed(token string) bool {
	if len(token) != tokenLen {
		return false
	}
	for i := 0; i < len(token); i++ {
		c := token[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// matches compares token with r's, in constant time.
func (l *Links) matches(r *reservation.Reservation, token string) bool {
	want := l.Token(*r)
	return want != "" && hmac.Equal([]byte(want), []byte(token))
}
