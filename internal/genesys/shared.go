package genesys

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// DefaultLease is the most tokens a shared budget takes from its store in
// one round trip.
const DefaultLease = 5

// maxLeaseTerm bounds how long tokens taken from the store stay usable.
const maxLeaseTerm = 250 * time.Millisecond

// BudgetStore keeps a budget shared by every process of a deployment: a
// token bucket, a pause and Genesys' allowance, changed atomically (storage
// keeps one row per OAuth client in PostgreSQL). Times are the callers'
// clocks; a store never moves its bucket's time backwards.
type BudgetStore interface {
	// TakeBudget refills the bucket from its last take to t.Now at
	// BudgetRate(t.Limit(allowance), t.Burst), up to t.Size tokens, then
	// grants up to t.Want whole tokens (none while paused) and returns the
	// state after. A budget that does not exist yet starts full.
	TakeBudget(ctx context.Context, t BudgetTake) (BudgetState, error)
	// PauseBudget makes the budget grant nothing before until; a pause
	// ending later than until stays.
	PauseBudget(ctx context.Context, now, until time.Time) error
	// AllowBudget records Genesys' allowance, calls per minute, until until.
	// It replaces the stored allowance when that one is higher, equal or
	// lapsed at now, and leaves it otherwise.
	AllowBudget(ctx context.Context, perMinute int, now, until time.Time) error
}

// BudgetTake is one request of tokens from a BudgetStore.
type BudgetTake struct {
	// Now is the caller's time.
	Now time.Time
	// Want is the most tokens to grant.
	Want int
	// PerMinute is the configured limit; the stored allowance replaces it
	// while lower and not lapsed (see Limit).
	PerMinute float64
	// Burst sets the refill rate (BudgetRate); Size caps the tokens held.
	Burst, Size int
}

// Limit returns the limit, calls per minute, in force at t.Now with the
// stored allowance st: PerMinute, or st.Allowed while it is lower and has
// not lapsed.
func (t BudgetTake) Limit(st BudgetState) float64 {
	if st.Allowed > 0 && float64(st.Allowed) < t.PerMinute && t.Now.Before(st.AllowedUntil) {
		return float64(st.Allowed)
	}
	return t.PerMinute
}

// BudgetState is a shared budget as a take left it.
type BudgetState struct {
	// Granted is how many tokens the take got.
	Granted int
	// Tokens is what is left in the bucket (a fraction of a token is on its
	// way).
	Tokens float64
	// PausedUntil ends the last pause (zero: never paused).
	PausedUntil time.Time
	// Allowed is Genesys' allowance in calls per minute, until AllowedUntil
	// (0: none recorded).
	Allowed      int
	AllowedUntil time.Time
}

// SharedBudgetConfig configures NewSharedBudget.
type SharedBudgetConfig struct {
	// Store keeps the budget (required).
	Store BudgetStore
	// RateLimit is the configured limit of the whole deployment, calls per
	// second (default DefaultRateLimit).
	RateLimit float64
	// Burst is the most calls the deployment sends at once (default
	// DefaultBurst).
	Burst int
	// Lease is the most tokens taken from the store in one round trip
	// (default DefaultLease); a process takes no more than it has calls
	// waiting for.
	Lease int
	// Clock is the time source (default RealClock).
	Clock Clock
	// Observer receives BudgetRate and Paused (default: none).
	Observer Observer
	// Logger receives a Warn record when a pause or an allowance cannot be
	// recorded (default: discard).
	Logger *slog.Logger
}

// sharedBudget is the Budget of every process on one database. Each
// process takes tokens from the store a few at a time (no more than it has
// calls waiting, at most Lease) and must use them within a lease term, which
// is at most the time the bucket takes to refill one token; the bucket holds
// one token less than Burst to make up for it, so the deployment's calls in
// any interval τ stay within Burst + rate × τ, and within the limit in any
// 60 s. Tokens not used within the term are dropped, never hoarded.
type sharedBudget struct {
	store     BudgetStore
	clock     Clock
	obs       Observer
	log       *slog.Logger
	perMinute float64
	burst     int
	size      int
	lease     int

	mu           sync.Mutex
	waiting      int           // callers in Take
	fetch        chan struct{} // closed when the take in flight returns; nil when none is
	nextTake     time.Time     // the last take found the bucket empty: none before this
	leased       int           // taken from the store, not yet used
	leaseEnd     time.Time
	credit       int     // refunds, at most burst
	refundable   float64 // RefusedShare of each token used, at most burst
	pausedUntil  time.Time
	allowed      int // as last read from or written to the store
	allowedUntil time.Time
	allowing     bool    // an AllowBudget is in flight
	limit        float64 // the limit last reported to the observer
}

// NewSharedBudget returns the budget shared by every process on the store.
func NewSharedBudget(cfg SharedBudgetConfig) (Budget, error) {
	if cfg.Store == nil {
		return nil, errors.New("genesys budget: a store is required")
	}
	if cfg.RateLimit < 0 || cfg.Burst < 0 || cfg.Lease < 0 {
		return nil, errors.New("genesys budget: rate limit, burst and lease must not be negative")
	}
	if cfg.RateLimit == 0 {
		cfg.RateLimit = DefaultRateLimit
	}
	if cfg.Burst == 0 {
		cfg.Burst = DefaultBurst
	}
	if cfg.Lease == 0 {
		cfg.Lease = DefaultLease
	}
	if cfg.Clock == nil {
		cfg.Clock = RealClock{}
	}
	if cfg.Observer == nil {
		cfg.Observer = nopObserver{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	b := &sharedBudget{
		store: cfg.Store, clock: cfg.Clock, obs: cfg.Observer, log: cfg.Logger,
		perMinute: cfg.RateLimit * 60, burst: cfg.Burst, size: max(1, cfg.Burst-1), lease: cfg.Lease,
	}
	b.limit = b.perMinute
	b.obs.BudgetRate(b.limit)
	return b, nil
}

// Take implements Budget.
func (b *sharedBudget) Take(ctx context.Context) error {
	b.mu.Lock()
	b.waiting++
	defer func() {
		b.waiting--
		b.mu.Unlock()
	}()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		now := b.clock.Now()
		if now.Before(b.pausedUntil) {
			wait := b.pausedUntil.Sub(now)
			if err := pausedLonger(ctx, wait, b.pausedUntil); err != nil {
				return err
			}
			if err := b.sleepLocked(ctx, wait); err != nil {
				return err
			}
			continue
		}
		if b.leased > 0 && now.Before(b.leaseEnd) {
			b.leased--
			b.usedLocked()
			return nil
		}
		b.leased = 0
		if b.credit > 0 {
			b.credit--
			return nil
		}
		if b.fetch != nil {
			ch := b.fetch
			b.mu.Unlock()
			select {
			case <-ch:
			case <-ctx.Done():
			}
			b.mu.Lock()
			continue
		}
		if now.Before(b.nextTake) {
			if err := b.sleepLocked(ctx, b.nextTake.Sub(now)); err != nil {
				return err
			}
			continue
		}
		granted, err := b.takeLocked(ctx, now)
		if err != nil {
			return err
		}
		if granted {
			b.usedLocked()
			return nil
		}
	}
}

// takeLocked takes tokens from the store for the callers waiting, keeping
// all but the caller's. It reports whether the caller got one; if not, it
// sets when to look again.
func (b *sharedBudget) takeLocked(ctx context.Context, now time.Time) (bool, error) {
	req := BudgetTake{Now: now, Want: min(b.lease, b.waiting), PerMinute: b.perMinute, Burst: b.burst, Size: b.size}
	ch := make(chan struct{})
	b.fetch = ch
	b.mu.Unlock()
	st, err := b.store.TakeBudget(ctx, req)
	b.mu.Lock()
	b.fetch = nil
	close(ch)
	if err != nil {
		return false, fmt.Errorf("genesys budget: %w", err)
	}
	limit := req.Limit(st)
	b.absorbLocked(now, st, limit)
	perSecond := BudgetRate(limit, b.burst)
	if st.Granted < req.Want && st.Tokens < 1 && !now.Before(b.pausedUntil) {
		// The bucket is empty: the next take waits for its next whole
		// token, at the rate in force.
		wait := time.Duration((1 - st.Tokens) / perSecond * float64(time.Second))
		b.nextTake = now.Add(max(wait, time.Millisecond))
	}
	if st.Granted == 0 {
		return false, nil
	}
	b.leased = st.Granted - 1
	b.leaseEnd = now.Add(min(maxLeaseTerm, time.Duration(float64(time.Second)/perSecond)))
	return true, nil
}

// absorbLocked takes in what the store says about pauses and allowances.
func (b *sharedBudget) absorbLocked(now time.Time, st BudgetState, limit float64) {
	if st.PausedUntil.After(b.pausedUntil) {
		// A store may round the time of this process's own pause (up);
		// another pause ends later than that.
		news := st.PausedUntil.Sub(b.pausedUntil) > time.Millisecond
		b.pausedUntil = st.PausedUntil
		b.credit = 0
		if news && st.PausedUntil.After(now) {
			b.obs.Paused(PauseDeployment, st.PausedUntil.Sub(now))
		}
	}
	b.allowed, b.allowedUntil = st.Allowed, st.AllowedUntil
	if limit != b.limit {
		b.limit = limit
		b.obs.BudgetRate(limit)
	}
}

// usedLocked earns the right to give back a share of the tokens used.
func (b *sharedBudget) usedLocked() {
	b.refundable = min(b.refundable+RefusedShare, float64(b.burst))
}

// sleepLocked sleeps d on the clock without the lock.
func (b *sharedBudget) sleepLocked(ctx context.Context, d time.Duration) error {
	b.mu.Unlock()
	defer b.mu.Lock()
	return b.clock.Sleep(ctx, d)
}

// Refund implements Budget: the token is kept in this process, as a credit
// its next call uses, while the process has given back less than
// RefusedShare of the tokens it used (so the deployment, too, stays within
// RefusedShare of its rate).
func (b *sharedBudget) Refund() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.refundable < 1 || b.credit >= b.burst {
		return
	}
	b.refundable--
	b.credit++
}

// Pause implements Budget: this process stops at once, and records the
// pause in the store for the others, which see it at their next take
// (within a lease: at most Lease calls each).
func (b *sharedBudget) Pause(ctx context.Context, d time.Duration, reason string) {
	if d <= 0 {
		return
	}
	b.mu.Lock()
	now := b.clock.Now()
	until := now.Add(d)
	if !until.After(b.pausedUntil) {
		b.mu.Unlock()
		return
	}
	b.pausedUntil = until
	b.leased, b.credit = 0, 0
	b.mu.Unlock()
	b.obs.Paused(reason, d)
	// The pause is the deployment's even if this call gives up.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := b.store.PauseBudget(wctx, now, until); err != nil {
		b.log.WarnContext(ctx, "genesys budget: the pause is not recorded for the other processes",
			"until", until, "reason", reason, "err", err)
	}
}

// Allow implements Budget. The store is written only when the allowance
// is news: lower than the one recorded, or renewing it in the second half
// of its hold.
func (b *sharedBudget) Allow(ctx context.Context, perMinute int) {
	if perMinute <= 0 || float64(perMinute) >= b.perMinute {
		return
	}
	b.mu.Lock()
	now := b.clock.Now()
	current := b.allowed > 0 && now.Before(b.allowedUntil)
	news := !current || perMinute < b.allowed ||
		perMinute == b.allowed && b.allowedUntil.Sub(now) < AllowanceHold/2
	if !news || b.allowing {
		b.mu.Unlock()
		return
	}
	b.allowing = true
	b.mu.Unlock()
	until := now.Add(AllowanceHold)
	err := b.store.AllowBudget(ctx, perMinute, now, until)
	b.mu.Lock()
	defer b.mu.Unlock()
	b.allowing = false
	if err != nil {
		b.log.WarnContext(ctx, "genesys budget: Genesys' allowance is not recorded", "allowed", perMinute, "err", err)
		return
	}
	b.allowed, b.allowedUntil = perMinute, until
	if limit := float64(perMinute); limit != b.limit {
		b.limit = limit
		b.obs.BudgetRate(limit)
	}
}
