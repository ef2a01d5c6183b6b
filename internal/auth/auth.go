// SPDX-License-Identifier: Apache-2.0

// Package auth issues and checks Slotline's OAuth 2.0 client-credentials
// access tokens. Client secrets come from the configuration and are kept
// only as SHA-256 digests compared in constant time; tokens are random,
// stored in the database only as digests (so every process sharing the
// database accepts them), and cached in memory until they expire.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/slotline/slotline/internal/storage"
)

// The scopes that reach across clients (contract names). Without them a
// client sees and changes only its own reservations and webhook
// endpoints: another client's answer 404, as if they did not exist.
const (
	// ScopeCallbackAdmin widens callback:read and callback:write to every
	// client's reservations: by id, in lists and feeds, in the stream and
	// in the webhooks of the client's endpoints.
	ScopeCallbackAdmin = "callback:admin"
	// ScopeWebhookAdmin widens webhook:read and webhook:write to every
	// client's webhook endpoints.
	ScopeWebhookAdmin = "webhook:admin"
	// ScopeCapacityWrite changes a queue's capacity at runtime (its
	// overrides) and moves the reservations a change leaves over capacity,
	// whichever client made them: capacity is the deployment's, not a
	// client's, so this is its own scope rather than callback:admin, which
	// would also open every client's reservations to reading and changing.
	ScopeCapacityWrite = "capacity:write"
)

// Client is an API client that may request tokens.
type Client struct {
	ID     string
	Scopes []string
	// Limiter is the client's request rate limit; nil means unlimited.
	Limiter *rate.Limiter
	secret  [sha256.Size]byte
}

// NewClient returns a client with the given secret, scopes and rate limit
// (requests per second; 0 means unlimited).
func NewClient(id, secret string, scopes []string, perSecond float64, burst int) *Client {
	c := &Client{ID: id, Scopes: scopes, secret: sha256.Sum256([]byte(secret))}
	if perSecond > 0 {
		c.Limiter = rate.NewLimiter(rate.Limit(perSecond), max(burst, 1))
	}
	return c
}

// Principal is who a request acts as.
type Principal struct {
	ClientID  string
	Scopes    []string
	ExpiresAt time.Time
	client    *Client
}

// Has reports whether p holds scope.
func (p *Principal) Has(scope string) bool { return slices.Contains(p.Scopes, scope) }

// Client returns the client p belongs to.
func (p *Principal) Client() *Client { return p.client }

// Store keeps issued tokens, by digest.
type Store interface {
	CreateToken(ctx context.Context, t storage.Token) error
	FindToken(ctx context.Context, hash string) (*storage.Token, error)
}

// Service issues and verifies tokens.
type Service struct {
	store   Store
	clients map[string]*Client
	ttl     time.Duration
	now     func() time.Time

	mu    sync.Mutex
	cache map[string]*Principal // token digest → principal
}

// maxCache bounds the token cache; beyond it the cache is emptied of
// expired entries, then entirely.
const maxCache = 50_000

// NewService returns a Service for clients whose tokens live ttl.
func NewService(store Store, clients []*Client, ttl time.Duration) *Service {
	s := &Service{store: store, clients: map[string]*Client{}, ttl: ttl, now: time.Now, cache: map[string]*Principal{}}
	for _, c := range clients {
		s.clients[c.ID] = c
	}
	return s
}

// ClientHas reports whether the configured client id holds scope (false
// for a client no longer configured). Feeds and webhooks, which outlive
// any token, ask it each time.
func (s *Service) ClientHas(id, scope string) bool {
	c, ok := s.clients[id]
	return ok && slices.Contains(c.Scopes, scope)
}

// TTL returns the lifetime of issued tokens.
func (s *Service) TTL() time.Duration { return s.ttl }

// Authenticate checks a client id and secret. As RFC 6749 asks, Basic
// credentials are form-urlencoded before base64; the seed's client does not
// encode them, so both the raw and the decoded forms are tried.
func (s *Service) Authenticate(id, secret string) (*Client, bool) {
	try := func(id, secret string) (*Client, bool) {
		c, ok := s.clients[id]
		if !ok {
			// Compare anyway so that timing does not tell which ids exist.
			var dummy [sha256.Size]byte
			sum := sha256.Sum256([]byte(secret))
			subtle.ConstantTimeCompare(sum[:], dummy[:])
			return nil, false
		}
		sum := sha256.Sum256([]byte(secret))
		if subtle.ConstantTimeCompare(sum[:], c.secret[:]) == 1 {
			return c, true
		}
		return nil, false
	}
	if c, ok := try(id, secret); ok {
		return c, true
	}
	did, err1 := url.QueryUnescape(id)
	dsecret, err2 := url.QueryUnescape(secret)
	if err1 == nil && err2 == nil && (did != id || dsecret != secret) {
		return try(did, dsecret)
	}
	return nil, false
}

// ClientID returns the id of the client that id names, as Authenticate
// reads it (as it is, or form-decoded), or "" when it names none: the
// key a Throttle counts the failed logins of an id under, so that ids
// naming no client share one.
func (s *Service) ClientID(id string) string {
	if _, ok := s.clients[id]; ok {
		return id
	}
	if did, err := url.QueryUnescape(id); err == nil {
		if _, ok := s.clients[did]; ok {
			return did
		}
	}
	return ""
}

// ScopeError is returned by Issue when a client asks for a scope it lacks.
type ScopeError struct{ Scope string }

func (e *ScopeError) Error() string {
	return fmt.Sprintf("scope %q is not granted to this client", e.Scope)
}

// Issue returns a new access token for c with the requested scopes (all
// of c's scopes when requested is empty). Errors: *ScopeError.
func (s *Service) Issue(ctx context.Context, c *Client, requested []string) (token string, p *Principal, err error) {
	scopes := c.Scopes
	if len(requested) > 0 {
		scopes = nil
		for _, sc := range requested {
			if !slices.Contains(c.Scopes, sc) {
				return "", nil, &ScopeError{sc}
			}
			if !slices.Contains(scopes, sc) {
				scopes = append(scopes, sc)
			}
		}
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	token = "slt_" + base64.RawURLEncoding.EncodeToString(b)
	now := s.now().UTC().Truncate(time.Microsecond)
	p = &Principal{ClientID: c.ID, Scopes: scopes, ExpiresAt: now.Add(s.ttl), client: c}
	if err := s.store.CreateToken(ctx, storage.Token{
		Hash: digest(token), ClientID: c.ID, Scopes: scopes, ExpiresAt: p.ExpiresAt, CreatedAt: now,
	}); err != nil {
		return "", nil, err
	}
	s.remember(digest(token), p)
	return token, p, nil
}

func digest(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// Verify returns the principal of a bearer token, or nil if the token is
// unknown, expired, or its client no longer exists. Scopes a client lost
// since the token was issued are dropped.
func (s *Service) Verify(ctx context.Context, token string) (*Principal, error) {
	if !strings.HasPrefix(token, "slt_") || len(token) > 100 {
		return nil, nil
	}
	h := digest(token)
	now := s.now()
	s.mu.Lock()
	p, ok := s.cache[h]
	s.mu.Unlock()
	if !ok {
		t, err := s.store.FindToken(ctx, h)
		if err != nil || t == nil {
			return nil, err
		}
		c, ok := s.clients[t.ClientID]
		if !ok {
			return nil, nil
		}
		var scopes []string
		for _, sc := range t.Scopes {
			if slices.Contains(c.Scopes, sc) {
				scopes = append(scopes, sc)
			}
		}
		p = &Principal{ClientID: c.ID, Scopes: scopes, ExpiresAt: t.ExpiresAt, client: c}
		s.remember(h, p)
	}
	if !now.Before(p.ExpiresAt) {
		s.mu.Lock()
		delete(s.cache, h)
		s.mu.Unlock()
		return nil, nil
	}
	return p, nil
}

func (s *Service) remember(h string, p *Principal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.cache) >= maxCache {
		now := s.now()
		for k, v := range s.cache {
			if !now.Before(v.ExpiresAt) {
				delete(s.cache, k)
			}
		}
		if len(s.cache) >= maxCache {
			clear(s.cache)
		}
	}
	s.cache[h] = p
}
