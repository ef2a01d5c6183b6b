package config

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// minPublishableKeyLen is the shortest publishable key accepted, "pk_"
// included.
const minPublishableKeyLen = 24

// PublishableKey is a key a browser may hold (the publishable_keys list):
// it reads availability and creates reservations on its queues, from its
// origins only, within its rate limits.
type PublishableKey struct {
	// ID names the key; its reservations have it as their client_id.
	ID string
	// Key is the key itself (pk_…), from key_env or key_file. Not a
	// secret, yet String and GoString leave it out: it is checked like
	// one.
	Key string `json:"-"`
	// Queues are the ids of the queues the key books on.
	Queues []string
	// Origins are the browser origins (scheme://host[:port], in canonical
	// form: lower case, no default port) the key is accepted from.
	Origins []string
	// Rate and Burst limit the requests made with the key, in requests per
	// second (default 50/s, burst 100); 0 turns the limit off.
	Rate  float64
	Burst int
	// PerAddress and PerAddressBurst limit the requests made with the key
	// from one source address (default 5/s, burst 20); 0 turns it off.
	PerAddress      float64
	PerAddressBurst int
}

// Defaults of a publishable key's limits.
const (
	DefaultKeyRate            = 50
	DefaultKeyBurst           = 100
	DefaultKeyPerAddress      = 5
	DefaultKeyPerAddressBurst = 20
)

// String describes k without its key.
func (k PublishableKey) String() string {
	return fmt.Sprintf("publishable key %s (queues %s, origins %s)", k.ID, strings.Join(k.Queues, " "), strings.Join(k.Origins, " "))
}

// GoString describes k for %#v without its key.
func (k PublishableKey) GoString() string {
	return fmt.Sprintf("config.PublishableKey{ID:%q, Key:\"<redacted>\", Queues:%#v, Origins:%#v, Rate:%g, Burst:%d, PerAddress:%g, PerAddressBurst:%d}",
		k.ID, k.Queues, k.Origins, k.Rate, k.Burst, k.PerAddress, k.PerAddressBurst)
}

// ProofOfWork configures the proof of work asked of creates through a
// publishable key and of the booking page (the proof_of_work block).
type ProofOfWork struct {
	// MaxNumber is the largest secret number of a challenge (default
	// 50000): a browser tries about half as many SHA-256 hashes on
	// average. 0 turns the proof of work off.
	MaxNumber int
	// TTL is how long a challenge can be solved and used (default 5m).
	TTL time.Duration
	// PerAddress and PerAddressBurst limit the challenges one source
	// address may fetch (default 5/s, burst 20); 0 turns it off.
	PerAddress      float64
	PerAddressBurst int
}

// DefaultProofOfWork is the proof_of_work block when the file has none.
var DefaultProofOfWork = ProofOfWork{MaxNumber: 50_000, TTL: 5 * time.Minute, PerAddress: 5, PerAddressBurst: 20}

// maxPoWNumber bounds max_number: ten million hashes is already seconds
// of a phone's time.
const maxPoWNumber = 10_000_000

// proofOfWork reads the proof_of_work block into pw, which holds the
// defaults.
func (p *parser) proofOfWork(n *yaml.Node, path string, pw *ProofOfWork) error {
	_, err := p.block(n, path,
		decoder{"max_number", into(&pw.MaxNumber, p.intFromTo(0, maxPoWNumber, " (0: off)"))},
		decoder{"ttl", into(&pw.TTL, p.positiveDuration)},
		decoder{"per_address", into(&pw.PerAddress, p.rateOrOff)},
		decoder{"per_address_burst", into(&pw.PerAddressBurst, p.intFromTo(1, 10000, ""))},
	)
	return err
}

// publishableKeys reads the publishable_keys list: ids unique and none
// the id of a client, keys unique, every queue one of c's.
func (p *parser) publishableKeys(n *yaml.Node, path string, c *Config) ([]PublishableKey, error) {
	var keys []string
	return withUniqueIDs(p, n, path, func(item *yaml.Node, field string) (PublishableKey, error) {
		k, err := p.publishableKey(item, field, c)
		if err != nil {
			return k, err
		}
		if j := slices.Index(keys, k.Key); j >= 0 {
			f, _ := p.fields(item, field, publishableKeyFields...)
			v := f["key_env"]
			if v == nil {
				v = f["key_file"]
			}
			return k, p.errorf(v, field, "the key is the one of %s[%d] too; every key must be its own", path, j)
		}
		keys = append(keys, k.Key)
		return k, nil
	}, func(k PublishableKey) string { return k.ID })
}

var publishableKeyFields = []string{"id", "key_env", "key_file", "queues", "origins", "rate", "burst", "per_address", "per_address_burst"}

func (p *parser) publishableKey(n *yaml.Node, path string, c *Config) (PublishableKey, error) {
	k := PublishableKey{Rate: DefaultKeyRate, Burst: DefaultKeyBurst, PerAddress: DefaultKeyPerAddress, PerAddressBurst: DefaultKeyPerAddressBurst}
	f, err := p.fields(n, path, publishableKeyFields...)
	if err != nil {
		return k, err
	}
	if k.ID, err = p.id(f["id"], n, path+".id"); err != nil {
		return k, err
	}
	for i, cl := range c.Clients {
		if cl.ID == k.ID {
			return k, p.errorf(f["id"], path+".id", "%q is the id of clients[%d]; the key's reservations would be that client's", k.ID, i)
		}
	}
	key, from, err := p.source(f, path, "key_env", "key_file")
	if err != nil {
		return k, err
	}
	if from == "" {
		return k, p.errorf(n, path, "one of key_env or key_file is required")
	}
	field := join(path, from)
	switch {
	case !strings.HasPrefix(key, "pk_"):
		return k, p.errorf(f[from], field, "the key must start with pk_")
	case len(key) < minPublishableKeyLen:
		return k, p.errorf(f[from], field, "the key must be at least %d characters, pk_ included", minPublishableKeyLen)
	case len(key) > 200 || strings.ContainsFunc(key, func(r rune) bool { return r <= ' ' || r > '~' }):
		return k, p.errorf(f[from], field, "the key must be at most 200 printable ASCII characters without spaces")
	}
	k.Key = key
	if k.Queues, err = p.keyQueues(f["queues"], n, path+".queues", c.Queues); err != nil {
		return k, err
	}
	if k.Origins, err = p.keyOrigins(f["origins"], n, path+".origins"); err != nil {
		return k, err
	}
	burst := p.intFromTo(1, 100000, "")
	err = p.decode(f, path, []decoder{
		{"rate", into(&k.Rate, p.rateOrOff)},
		{"burst", into(&k.Burst, burst)},
		{"per_address", into(&k.PerAddress, p.rateOrOff)},
		{"per_address_burst", into(&k.PerAddressBurst, burst)},
	})
	return k, err
}

// keyQueues reads a key's required list of queue ids, each one of queues
// and none twice.
func (p *parser) keyQueues(n, parent *yaml.Node, path string, queues []Queue) ([]string, error) {
	if n == nil {
		return nil, p.errorf(parent, path, "at least one queue is required")
	}
	ids, err := p.distinct(n, path, func(item *yaml.Node, field string) (string, error) {
		s, err := p.str(item, field)
		if err != nil {
			return "", err
		}
		if !slices.ContainsFunc(queues, func(q Queue) bool { return q.ID == s }) {
			return "", p.errorf(item, field, "%q is not the id of a queue", s)
		}
		return s, nil
	})
	if err == nil && len(ids) == 0 {
		err = p.errorf(n, path, "at least one queue is required")
	}
	return ids, err
}

// keyOrigins reads a key's required list of origins.
func (p *parser) keyOrigins(n, parent *yaml.Node, path string) ([]string, error) {
	if n == nil {
		return nil, p.errorf(parent, path, "at least one origin is required")
	}
	out, err := p.distinct(n, path, p.keyOrigin)
	if err == nil && len(out) == 0 {
		err = p.errorf(n, path, "at least one origin is required")
	}
	return out, err
}

// distinct reads each item of list n with read; a value given twice is an
// error.
func (p *parser) distinct(n *yaml.Node, path string, read func(*yaml.Node, string) (string, error)) ([]string, error) {
	var out []string
	_, err := listOf(p, n, path, func(item *yaml.Node, field string) (string, error) {
		s, err := read(item, field)
		if err != nil {
			return "", err
		}
		if j := slices.Index(out, s); j >= 0 {
			return "", p.errorf(item, field, "%q is already given at %s[%d]", s, path, j)
		}
		out = append(out, s)
		return s, nil
	})
	return out, err
}

// keyOrigin reads a browser origin, scheme://host[:port] with an http or
// https scheme and nothing after the host, into its canonical form (what
// browsers send in Origin): lower case, without a default port.
func (p *parser) keyOrigin(n *yaml.Node, path string) (string, error) {
	s, err := p.str(n, path)
	if err != nil {
		return "", err
	}
	bad := func() (string, error) {
		return "", p.errorf(n, path, "%q is not an origin like https://www.example.com or http://localhost:8080 (scheme, host and port only)", s)
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		u.Path != "" || u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(s, "?") || strings.HasSuffix(s, "#") {
		return bad()
	}
	host, port := u.Hostname(), u.Port()
	if host == "" || strings.Contains(host, "*") || strings.HasSuffix(u.Host, ":") {
		return bad()
	}
	if (u.Scheme == "https" && port == "443") || (u.Scheme == "http" && port == "80") {
		port = ""
	}
	out := u.Scheme + "://" + strings.ToLower(u.Host)
	if port == "" {
		out = u.Scheme + "://" + strings.ToLower(hostOnly(u.Host))
	}
	return out, nil
}

// hostOnly drops the port of host[:port] (an IPv6 address keeps its
// brackets).
func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		if strings.Contains(h, ":") {
			return "[" + h + "]"
		}
		return h
	}
	return hostport
}
