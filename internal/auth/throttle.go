package auth

import (
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"
)

// DefaultMaxEntries is the default cap of each of the throttle's tables.
const DefaultMaxEntries = 50_000

// ThrottleConfig configures a Throttle. A zero rate turns that bucket
// off.
type ThrottleConfig struct {
	// PerClient is the rate, per second, at which failed logins of one
	// client id from one source address are allowed, and PerClientBurst
	// how many may come at once (at least 1).
	PerClient      float64
	PerClientBurst int
	// PerAddress and PerAddressBurst are the same for one source address,
	// whatever the client id.
	PerAddress      float64
	PerAddressBurst int
	// MaxEntries caps each table (default DefaultMaxEntries). Beyond it
	// the buckets that have refilled are dropped, which changes nothing;
	// if that is not enough, the fullest are, down to nine tenths of the
	// cap, which gives some addresses part of their budget back early.
	MaxEntries int
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Throttle limits failed logins with two token buckets, each refilled at a
// steady rate up to a burst: one per client id and source address
// together, one per source address whatever the client id. Every attempt
// takes a token from both before its secret is checked, and a success
// gives them back, so only failures use the budget; with either bucket
// empty the attempt is refused unchecked (checking it would tell a
// guesser whether the guess was right, throttled or not).
//
// The client's bucket is keyed on the address too, on purpose: keyed on
// the client id alone, anyone could lock a client out by failing as it
// from anywhere. Keyed this way, failures from one address hold up only
// that address, and the real client, calling from its own, still gets
// its token. What this gives up is a bound on guesses spread over many
// addresses; client secrets are long (16 characters at the least) and
// should be random, which is what makes that spread pay nothing.
//
// Ids that name no client share one key per address (an attacker
// varying the id gains nothing and adds no entries), IPv6 addresses are
// keyed by their /64 (what one host is commonly given), and each table
// is capped (ThrottleConfig.MaxEntries).
//
// It is safe for concurrent use; a nil *Throttle lets everything through.
type Throttle struct {
	now func() time.Time

	mu      sync.Mutex
	client  *buckets // nil when off
	address *buckets
}

// NewThrottle returns a Throttle configured by cfg.
func NewThrottle(cfg ThrottleConfig) *Throttle {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxEntries <= 0 {
		cfg.MaxEntries = DefaultMaxEntries
	}
	t := &Throttle{now: cfg.Now}
	if cfg.PerClient > 0 {
		t.client = newBuckets(cfg.PerClient, cfg.PerClientBurst, cfg.MaxEntries)
	}
	if cfg.PerAddress > 0 {
		t.address = newBuckets(cfg.PerAddress, cfg.PerAddressBurst, cfg.MaxEntries)
	}
	return t
}

// Attempt is a login attempt the throttle let through; Succeeded gives
// back what it took.
type Attempt struct {
	t                     *Throttle
	clientKey, addressKey string
}

// Refusal says why an attempt was refused: RetryAfter is how long until
// it would be let through, and First is true for the first refusal of
// that bucket since it last let one through (worth a log line; the
// rest of a flood is not).
type Refusal struct {
	RetryAfter time.Duration
	First      bool
}

// Begin takes one failure's worth from the buckets of a login attempt
// as clientID ("" or an id that names no client: see Service.ClientID)
// from addr (an IP address, or host:port). It returns the attempt, or a
// refusal when either bucket is empty; then nothing is taken.
func (t *Throttle) Begin(clientID, addr string) (*Attempt, *Refusal) {
	if t == nil {
		return nil, nil
	}
	a := &Attempt{t: t, addressKey: AddressKey(addr)}
	a.clientKey = clientID + "\x00" + a.addressKey
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	var ref *Refusal
	for _, c := range []struct {
		b   *buckets
		key string
	}{{t.client, a.clientKey}, {t.address, a.addressKey}} {
		if c.b == nil {
			continue
		}
		if wait, first := c.b.check(c.key, now); wait > 0 {
			if ref == nil {
				ref = &Refusal{}
			}
			ref.RetryAfter = max(ref.RetryAfter, wait)
			ref.First = ref.First || first
		}
	}
	if ref != nil {
		return nil, ref
	}
	t.client.take(a.clientKey, now)
	t.address.take(a.addressKey, now)
	return a, nil
}

// Succeeded gives back what the attempt took: a success does not count
// as a failure.
func (a *Attempt) Succeeded() {
	if a == nil {
		return
	}
	a.t.mu.Lock()
	defer a.t.mu.Unlock()
	now := a.t.now()
	a.t.client.give(a.clientKey, now)
	a.t.address.give(a.addressKey, now)
}

// Len returns the number of entries in the client and address tables.
func (t *Throttle) Len() (client, address int) {
	if t == nil {
		return 0, 0
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.client.len(), t.address.len()
}

// AddressKey returns the key of a source address (an IP address, or
// host:port as in http.Request.RemoteAddr): the address itself, an
// IPv4-mapped IPv6 address as IPv4, and an IPv6 address's /64 prefix.
// What does not parse is used as it is.
func AddressKey(addr string) string {
	host := addr
	if h, _, err := net.SplitHostPort(addr); err == nil {
		host = h
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	ip = ip.Unmap().WithZone("")
	if ip.Is4() {
		return ip.String()
	}
	p, _ := ip.Prefix(64)
	return p.String()
}

// buckets is a table of token buckets with one rate and burst; absent
// keys are full. The Throttle's mutex guards it.
type buckets struct {
	rate  float64 // tokens per second
	burst float64
	max   int
	m     map[string]*bucket
}

type bucket struct {
	tokens  float64
	at      time.Time // when tokens was computed
	refused bool      // refused since it last let one through
}

func newBuckets(rate float64, burst, maxEntries int) *buckets {
	return &buckets{rate: rate, burst: float64(max(burst, 1)), max: maxEntries, m: map[string]*bucket{}}
}

// level returns b's tokens at now.
func (bs *buckets) level(b *bucket, now time.Time) float64 {
	return min(bs.burst, b.tokens+max(now.Sub(b.at).Seconds(), 0)*bs.rate)
}

// check returns how long until key's bucket holds a token (0: it does),
// and, when it does not, whether this is its first refusal since it last
// let one through.
func (bs *buckets) check(key string, now time.Time) (wait time.Duration, first bool) {
	b, ok := bs.m[key]
	if !ok {
		return 0, false
	}
	tokens := bs.level(b, now)
	if tokens >= 1 {
		return 0, false
	}
	first = !b.refused
	b.refused = true
	return max(time.Duration((1-tokens)/bs.rate*float64(time.Second)), 1), first
}

// take takes a token from key's bucket, which check found holds one.
func (bs *buckets) take(key string, now time.Time) {
	if bs == nil {
		return
	}
	b, ok := bs.m[key]
	if !ok {
		bs.makeRoom(now)
		b = &bucket{tokens: bs.burst}
		bs.m[key] = b
	} else {
		b.tokens = bs.level(b, now)
	}
	b.tokens--
	b.at = now
	b.refused = false
}

// give puts a token back into key's bucket.
func (bs *buckets) give(key string, now time.Time) {
	if bs == nil {
		return
	}
	b, ok := bs.m[key]
	if !ok {
		return // dropped meanwhile: it is full
	}
	b.tokens = min(bs.burst, bs.level(b, now)+1)
	b.at = now
	if b.tokens >= bs.burst {
		delete(bs.m, key)
	}
}

// makeRoom keeps the table under its cap before an entry is added.
func (bs *buckets) makeRoom(now time.Time) {
	if len(bs.m) < bs.max {
		return
	}
	for k, b := range bs.m {
		if bs.level(b, now) >= bs.burst {
			delete(bs.m, k)
		}
	}
	target := bs.max * 9 / 10
	if len(bs.m) <= target {
		return
	}
	type entry struct {
		key    string
		tokens float64
	}
	all := make([]entry, 0, len(bs.m))
	for k, b := range bs.m {
		all = append(all, entry{k, bs.level(b, now)})
	}
	slices.SortFunc(all, func(a, b entry) int {
		switch {
		case a.tokens > b.tokens:
			return -1
		case a.tokens < b.tokens:
			return 1
		}
		return 0
	})
	for _, e := range all[:len(all)-target] {
		delete(bs.m, e.key)
	}
}

func (bs *buckets) len() int {
	if bs == nil {
		return 0
	}
	return len(bs.m)
}
