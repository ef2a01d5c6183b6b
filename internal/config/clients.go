package config

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// Scopes lists every scope a client may be granted, in a fixed order. The
// admin scopes widen read and write to every client's reservations
// (callback:admin) and webhook endpoints (webhook:admin); without them a
// client reaches only its own. capacity:write changes queues' capacity at
// runtime and moves what a change leaves over capacity.
var Scopes = []string{"callback:read", "callback:write", "webhook:read", "webhook:write", "callback:admin", "webhook:admin", "capacity:write"}

const minSecretLen = 16

// Client is an API client allowed to request tokens.
type Client struct {
	ID string
	// Secret is the resolved client secret. String and GoString never print it.
	Secret string `json:"-"`
	Scopes []string
	// RateLimit is in requests per second; 0 means unlimited.
	RateLimit float64
	// RateBurst is max(1, ceil(RateLimit)); 0 when RateLimit is 0.
	RateBurst int
}

// String describes c without its secret.
func (c Client) String() string {
	return fmt.Sprintf("client %s (scopes %s, rate %g/s, burst %d)", c.ID, strings.Join(c.Scopes, " "), c.RateLimit, c.RateBurst)
}

// GoString describes c for %#v without its secret.
func (c Client) GoString() string {
	return fmt.Sprintf("config.Client{ID:%q, Secret:\"<redacted>\", Scopes:%#v, RateLimit:%g, RateBurst:%d}", c.ID, c.Scopes, c.RateLimit, c.RateBurst)
}

// clients reads the clients list; ids must not repeat.
func (p *parser) clients(n *yaml.Node, path string) ([]Client, error) {
	return withUniqueIDs(p, n, path, p.client, func(c Client) string { return c.ID })
}

func (p *parser) client(n *yaml.Node, path string) (Client, error) {
	var c Client
	f, err := p.fields(n, path, "id", "secret_env", "secret_file", "secret", "scopes", "rate_limit")
	if err != nil {
		return c, err
	}
	if c.ID, err = p.id(f["id"], n, path+".id"); err != nil {
		return c, err
	}
	if c.Secret, err = p.secret(f, n, path); err != nil {
		return c, err
	}
	if c.Scopes, err = p.scopes(f["scopes"], n, path+".scopes"); err != nil {
		return c, err
	}
	if v := f["rate_limit"]; v != nil {
		if c.RateLimit, err = p.rate(v, path+".rate_limit"); err != nil {
			return c, err
		}
		c.RateBurst = max(1, int(math.Ceil(c.RateLimit)))
	}
	return c, nil
}

// scopes reads a client's required list of scopes, each one of Scopes and
// none twice.
func (p *parser) scopes(n, parent *yaml.Node, path string) ([]string, error) {
	if n == nil {
		return nil, p.errorf(parent, path, "at least one scope is required")
	}
	items, err := p.list(n, path)
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return nil, p.errorf(n, path, "at least one scope is required")
	}
	scope := p.oneOf(Scopes...)
	var out []string
	for i, item := range items {
		field := fmt.Sprintf("%s[%d]", path, i)
		s, err := scope(item, field)
		if err != nil {
			return nil, err
		}
		if slices.Contains(out, s) {
			return nil, p.errorf(item, field, "%q is listed twice", s)
		}
		out = append(out, s)
	}
	return out, nil
}

// secret resolves a client's secret from exactly one of secret_env,
// secret_file and secret. Messages never include the secret itself.
func (p *parser) secret(f map[string]*yaml.Node, n *yaml.Node, path string) (string, error) {
	secret, key, err := p.source(f, path, "secret_env", "secret_file", "secret")
	if err != nil {
		return "", err
	}
	if key == "" {
		return "", p.errorf(n, path, "one of secret_env, secret_file or secret is required")
	}
	v, field := f[key], path+"."+key
	if key == "secret" {
		p.warnf(v, field, "a plain secret in the config file is meant for tests; use secret_env or secret_file")
	}
	if utf8.RuneCountInString(secret) < minSecretLen {
		return "", p.errorf(v, field, "the secret must be at least %d characters", minSecretLen)
	}
	return secret, nil
}
