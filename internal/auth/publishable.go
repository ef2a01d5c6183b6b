package auth

import (
	"crypto/sha256"
	"crypto/subtle"
	"slices"
	"time"

	"golang.org/x/time/rate"
)

// KeyConfig configures one publishable key.
type KeyConfig struct {
	ID, Key string
	Queues  []string
	// Origins are canonical browser origins (scheme://host[:port]).
	Origins []string
	// Rate and Burst limit the key's requests (per second; 0: none);
	// PerAddress and PerAddressBurst its requests from one source address.
	Rate            float64
	Burst           int
	PerAddress      float64
	PerAddressBurst int
}

// PublishableKey is a key a browser holds (pk_…): it may read
// availability and create reservations on its queues, from its origins,
// within its limits. Its reservations belong to the client named by its
// id.
type PublishableKey struct {
	ID      string
	Queues  []string
	Origins []string

	digest    [sha256.Size]byte
	limiter   *rate.Limiter // nil: no limit
	addresses *Throttle     // nil: no limit
}

// HasQueue reports whether k books on the queue.
func (k *PublishableKey) HasQueue(queueID string) bool { return slices.Contains(k.Queues, queueID) }

// AllowsOrigin reports whether k is accepted from origin, the value of a
// request's Origin header.
func (k *PublishableKey) AllowsOrigin(origin string) bool {
	return origin != "" && slices.Contains(k.Origins, origin)
}

// Allow takes one request from k's limits, for a request from addr (an
// IP address or host:port). It returns 0, or how long to wait when a
// limit is reached (then nothing is taken from the key's own limit) and
// whether this is the first refusal of the address since it was last let
// through.
func (k *PublishableKey) Allow(addr string) (wait time.Duration, first bool) {
	if _, ref := k.addresses.Begin(k.ID, addr); ref != nil {
		return ref.RetryAfter, ref.First
	}
	if k.limiter == nil {
		return 0, false
	}
	res := k.limiter.Reserve()
	if d := res.Delay(); !res.OK() || d > 0 {
		res.Cancel()
		return max(d, time.Millisecond), false
	}
	return 0, false
}

// PublishableKeys is the set of configured publishable keys. A nil
// *PublishableKeys has none.
type PublishableKeys struct {
	keys []*PublishableKey
}

// NewPublishableKeys returns the keys of cfgs; now is the clock of their
// limits (nil: time.Now).
func NewPublishableKeys(cfgs []KeyConfig, now func() time.Time) *PublishableKeys {
	ks := &PublishableKeys{}
	for _, c := range cfgs {
		k := &PublishableKey{ID: c.ID, Queues: slices.Clone(c.Queues), Origins: slices.Clone(c.Origins), digest: sha256.Sum256([]byte(c.Key))}
		if c.Rate > 0 {
			k.limiter = rate.NewLimiter(rate.Limit(c.Rate), max(c.Burst, 1))
		}
		if c.PerAddress > 0 {
			// The client table of a Throttle, keyed on the key's id and
			// the address: one table per key.
			k.addresses = NewThrottle(ThrottleConfig{PerClient: c.PerAddress, PerClientBurst: c.PerAddressBurst, Now: now})
		}
		ks.keys = append(ks.keys, k)
	}
	return ks
}

// Len returns the number of keys.
func (ks *PublishableKeys) Len() int {
	if ks == nil {
		return 0
	}
	return len(ks.keys)
}

// Lookup returns the key presented, or nil when it is none of them. The
// presented key is compared with every key, in constant time, so that
// timing tells nothing about which keys exist.
func (ks *PublishableKeys) Lookup(presented string) *PublishableKey {
	if ks == nil {
		return nil
	}
	sum := sha256.Sum256([]byte(presented))
	var found *PublishableKey
	for _, k := range ks.keys {
		if subtle.ConstantTimeCompare(sum[:], k.digest[:]) == 1 {
			found = k
		}
	}
	return found
}

// Origins returns the origins of every key that books on the queue, each
// once, in the order of the configuration.
func (ks *PublishableKeys) Origins(queueID string) []string {
	if ks == nil {
		return nil
	}
	var out []string
	for _, k := range ks.keys {
		if k.HasQueue(queueID) {
			out = appendNew(out, k.Origins)
		}
	}
	return out
}

// AllOrigins returns the origins of every key, each once.
func (ks *PublishableKeys) AllOrigins() []string {
	if ks == nil {
		return nil
	}
	var out []string
	for _, k := range ks.keys {
		out = appendNew(out, k.Origins)
	}
	return out
}

func appendNew(out, items []string) []string {
	for _, o := range items {
		if !slices.Contains(out, o) {
			out = append(out, o)
		}
	}
	return out
}
