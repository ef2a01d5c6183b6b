package genesys

import (
	"context"
	"fmt"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Budget is the rate limit a Client's calls draw from: one call, one token.
// The client takes a token before every attempt, gives back the token of a
// call Genesys refused without serving it (503), pauses the budget on a 429's
// Retry-After and when Genesys' count reaches its allowance, and reports the
// allowance Genesys states (inin-ratelimit-allowed).
//
// NewBucket is the budget of one process (the default, and the one for
// SQLite, which has one process); NewSharedBudget is the budget of every
// process on one database, kept in a BudgetStore. Implementations are safe
// for concurrent use.
type Budget interface {
	// Take waits until one call may be sent. It fails when ctx ends first,
	// with a *PausedError at once when the budget is paused past ctx's
	// deadline, and, for a shared budget, when its store fails.
	Take(ctx context.Context) error
	// Refund gives back the token of a call Genesys refused without serving
	// it, within RefusedShare of the rate.
	Refund()
	// Pause stops every call that draws from the budget for d; reason is
	// PauseRetryAfter or PauseCount. A shorter pause than one in force
	// changes nothing.
	Pause(ctx context.Context, d time.Duration, reason string)
	// Allow reports Genesys' allowance in calls per minute
	// (inin-ratelimit-allowed). One below the configured limit lowers the
	// rate for AllowanceHold after it was last reported; one above changes
	// nothing.
	Allow(ctx context.Context, perMinute int)
}

// Pause reasons, for Budget.Pause and Observer.Paused.
const (
	// PauseRetryAfter: Genesys answered 429 with a Retry-After.
	PauseRetryAfter = "retry_after"
	// PauseCount: inin-ratelimit-count reached inin-ratelimit-allowed; the
	// pause lasts until inin-ratelimit-reset.
	PauseCount = "count"
	// PauseDeployment: another process paused the shared budget.
	PauseDeployment = "deployment"
)

// AllowanceHold is how long an allowance below the configured limit keeps
// the rate down after Genesys last stated it. Genesys states an allowance on
// every response, per resource (UNCONFIRMED: which resources have which), so
// the lowest one seen within the hold wins.
const AllowanceHold = 10 * time.Minute

// RefusedShare is the share of the rate that calls refused by Genesys with
// 503 may give back to the budget. A 503'd call is usually not served (a
// 503'd create is still looked for before it is sent again), so charging it
// would leave a share of the allowance unused whenever Genesys refuses
// calls; capping the credit keeps a Genesys that does count refusals
// (UNCONFIRMED either way) at most this share over the limit in the long
// run, and keeps an outage from turning the credit into a flood. A 429 gives
// nothing back: Genesys counted the deployment over its limit.
const RefusedShare = 0.2

// PausedError is returned by Budget.Take when the budget is paused past the
// caller's deadline: the call would wait in vain.
type PausedError struct {
	// Until is when the pause ends.
	Until time.Time
}

func (e *PausedError) Error() string {
	return fmt.Sprintf("genesys calls are paused until %s", e.Until.UTC().Format(time.RFC3339Nano))
}

// Clock is a budget's time source (default RealClock). Tests use a fake
// one that they move themselves.
type Clock interface {
	Now() time.Time
	// Sleep waits d or until ctx is done (then it returns ctx's cause).
	Sleep(ctx context.Context, d time.Duration) error
}

// RealClock is the wall clock.
type RealClock struct{}

// Now returns time.Now().
func (RealClock) Now() time.Time { return time.Now() }

// Sleep waits d or until ctx is done.
func (RealClock) Sleep(ctx context.Context, d time.Duration) error { return sleep(ctx, d) }

// BudgetRate returns the steady rate, in tokens per second, at which a token
// bucket of burst tokens holds its calls to perMinute in any 60 s: burst +
// 60 s × rate = perMinute. A limit below two bursts runs at half of it.
func BudgetRate(perMinute float64, burst int) float64 {
	return max(perMinute-float64(burst), perMinute/2) / 60
}

// pausedLonger reports whether a call with ctx's deadline would wait for a
// pause ending at until in vain (measured on the wall clock, as the deadline
// is), with the error to return.
func pausedLonger(ctx context.Context, wait time.Duration, until time.Time) error {
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
		return &PausedError{Until: until}
	}
	return nil
}

// BucketConfig configures NewBucket.
type BucketConfig struct {
	// RateLimit is the configured limit in calls per second (default
	// DefaultRateLimit).
	RateLimit float64
	// Burst is the bucket's size (default DefaultBurst).
	Burst int
	// Clock is the time source (default RealClock).
	Clock Clock
	// Observer receives BudgetRate and Paused (default: none).
	Observer Observer
}

// bucket is the budget of one process: a token bucket that holds the calls
// to RateLimit × 60 in any 60 s (BudgetRate), a pause, Genesys' allowance,
// and a credit that refused calls put back.
type bucket struct {
	clock     Clock
	obs       Observer
	perMinute float64 // configured
	burst     int

	mu           sync.Mutex
	lim          *rate.Limiter // on clock times
	refunds      *rate.Limiter // RefusedShare of the rate
	credit       int           // tokens given back, at most burst
	pausedUntil  time.Time
	allowed      int // Genesys' allowance below perMinute; 0: none
	allowedUntil time.Time
}

// NewBucket returns the budget of one process.
func NewBucket(cfg BucketConfig) Budget {
	return newBucket(cfg)
}

func newBucket(cfg BucketConfig) *bucket {
	if cfg.RateLimit <= 0 {
		cfg.RateLimit = DefaultRateLimit
	}
	if cfg.Burst <= 0 {
		cfg.Burst = DefaultBurst
	}
	if cfg.Clock == nil {
		cfg.Clock = RealClock{}
	}
	if cfg.Observer == nil {
		cfg.Observer = nopObserver{}
	}
	b := &bucket{clock: cfg.Clock, obs: cfg.Observer, perMinute: cfg.RateLimit * 60, burst: cfg.Burst}
	perSecond := BudgetRate(b.perMinute, b.burst)
	b.lim = rate.NewLimiter(rate.Limit(perSecond), b.burst)
	// Refusals come in clusters, so the refunds get the bucket's burst, not
	// a fifth of it.
	b.refunds = rate.NewLimiter(rate.Limit(perSecond*RefusedShare), b.burst)
	b.obs.BudgetRate(b.perMinute)
	return b
}

// Take implements Budget.
func (b *bucket) Take(ctx context.Context) error {
	reserved := false
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		b.mu.Lock()
		now := b.clock.Now()
		b.expireLocked(now)
		if now.Before(b.pausedUntil) {
			until := b.pausedUntil
			b.mu.Unlock()
			wait := until.Sub(now)
			if err := pausedLonger(ctx, wait, until); err != nil {
				return err
			}
			if err := b.clock.Sleep(ctx, wait); err != nil {
				return err
			}
			continue
		}
		if reserved {
			b.mu.Unlock()
			return nil
		}
		if b.credit > 0 {
			b.credit--
			b.mu.Unlock()
			return nil
		}
		r := b.lim.ReserveN(now, 1)
		b.mu.Unlock()
		wait := r.DelayFrom(now)
		if wait == 0 {
			return nil
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			b.cancel(r)
			return fmt.Errorf("rate: wait of %s would exceed the context deadline", wait)
		}
		if err := b.clock.Sleep(ctx, wait); err != nil {
			b.cancel(r)
			return err
		}
		// The token is ours; a pause that began meanwhile still holds the
		// call.
		reserved = true
	}
}

func (b *bucket) cancel(r *rate.Reservation) {
	b.mu.Lock()
	defer b.mu.Unlock()
	r.CancelAt(b.clock.Now())
}

// Refund implements Budget.
func (b *bucket) Refund() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.credit >= b.burst || !b.refunds.AllowN(b.clock.Now(), 1) {
		return
	}
	b.credit++
}

// Pause implements Budget.
func (b *bucket) Pause(_ context.Context, d time.Duration, reason string) {
	if d <= 0 {
		return
	}
	b.mu.Lock()
	until := b.clock.Now().Add(d)
	longer := until.After(b.pausedUntil)
	if longer {
		b.pausedUntil = until
		// What was given back during a lockout is not sent after it.
		b.credit = 0
	}
	b.mu.Unlock()
	if longer {
		b.obs.Paused(reason, d)
	}
}

// Allow implements Budget.
func (b *bucket) Allow(_ context.Context, perMinute int) {
	if perMinute <= 0 || float64(perMinute) >= b.perMinute {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.clock.Now()
	b.expireLocked(now)
	if b.allowed != 0 && perMinute > b.allowed {
		return // the lower one holds until it lapses
	}
	b.allowedUntil = now.Add(AllowanceHold)
	if perMinute == b.allowed {
		return
	}
	b.allowed = perMinute
	b.setRateLocked(now, float64(perMinute))
}

// expireLocked restores the configured rate once the allowance lapsed.
func (b *bucket) expireLocked(now time.Time) {
	if b.allowed != 0 && !now.Before(b.allowedUntil) {
		b.allowed = 0
		b.setRateLocked(now, b.perMinute)
	}
}

func (b *bucket) setRateLocked(now time.Time, perMinute float64) {
	perSecond := BudgetRate(perMinute, b.burst)
	b.lim.SetLimitAt(now, rate.Limit(perSecond))
	b.refunds.SetLimitAt(now, rate.Limit(perSecond*RefusedShare))
	b.obs.BudgetRate(perMinute)
}
