package genesys

import (
	"context"
	"sync"

	"golang.org/x/time/rate"
)

// RefusedShare is the share of the rate limit that calls refused by Genesys
// (429, 503) may give back to the client's token bucket. A refused call is
// usually not served (a 503'd create is still looked for before it is sent
// again), so charging it would leave a share of the allowance unused
// whenever Genesys refuses calls; capping the credit keeps a Genesys that
// does count refusals (UNCONFIRMED either way) at most this share over the
// configured rate in the long run, and keeps an outage from turning the
// credit into a flood. At the default rate of 250 per minute that is 300 per
// minute, the per-token limit quoted for Genesys Cloud; a single minute may
// carry two bursts more (credit kept, and the refunds' own burst).
const RefusedShare = 0.2

// bucket is the client-side rate limit: a token bucket at the configured
// rate, and a credit that refused calls put back.
type bucket struct {
	lim     *rate.Limiter
	refunds *rate.Limiter // RefusedShare of the rate

	mu     sync.Mutex
	credit int // tokens given back, at most burst
	burst  int
}

func newBucket(perSecond float64, burst int) *bucket {
	return &bucket{
		lim: rate.NewLimiter(rate.Limit(perSecond), burst),
		// Refusals come in clusters (a burst of 429s), so the refunds get
		// the bucket's burst, not a fifth of it.
		refunds: rate.NewLimiter(rate.Limit(perSecond*RefusedShare), burst),
		burst:   burst,
	}
}

// wait takes a token: a credit if there is one, else from the bucket,
// waiting as long as needed (or until ctx is done).
func (b *bucket) wait(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.Lock()
	if b.credit > 0 {
		b.credit--
		b.mu.Unlock()
		return nil
	}
	b.mu.Unlock()
	return b.lim.Wait(ctx)
}

// refund gives back the token of a call Genesys refused, while refunds stay
// within RefusedShare of the rate. It reports whether it did.
func (b *bucket) refund() bool {
	if !b.refunds.Allow() {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.credit >= b.burst {
		return false
	}
	b.credit++
	return true
}
