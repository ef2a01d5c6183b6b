package genesys

import (
	"context"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Genesys' rate-limit headers, on ordinary and error responses alike: the
// allowance of the limit that counted the request, the requests it has
// counted, and the time until that count resets. The names and their
// presence are confirmed (the JavaScript SDK's README quotes them); the
// window they count in, whether they are per token, per OAuth client or per
// resource, and the unit of reset (read as seconds from now) are
// UNCONFIRMED.
const (
	headerAllowed = "inin-ratelimit-allowed"
	headerCount   = "inin-ratelimit-count"
	headerReset   = "inin-ratelimit-reset"
)

// rateHeaders reads a response's inin-ratelimit-* headers: they go to the
// observer; an allowance below the configured limit lowers the budget's
// rate (Budget.Allow); a count that reached the allowance pauses the budget
// until the count resets, so that the next call does not draw a 429.
func (c *Client) rateHeaders(ctx context.Context, h http.Header) {
	allowed, ok := headerInt(h.Get(headerAllowed))
	if !ok || allowed <= 0 {
		return
	}
	count, _ := headerInt(h.Get(headerCount))
	reset := resetIn(h.Get(headerReset), time.Now())
	c.obs.RateLimit(allowed, count, reset)
	c.budget.Allow(ctx, allowed)
	if count >= allowed && reset > 0 {
		c.budget.Pause(ctx, min(reset, c.maxRetryAfter), PauseCount)
	}
}

// headerInt reads a non-negative whole number.
func headerInt(v string) (int, bool) {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

// resetIn reads inin-ratelimit-reset as the time until the count resets:
// seconds from now (whole or not). A value that can only be an instant
// (above a year's seconds) is read as Unix seconds, or milliseconds when
// larger still, in case Genesys writes one (UNCONFIRMED). Anything else is
// 0.
func resetIn(v string, now time.Time) time.Duration {
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || math.IsNaN(f) || f <= 0 {
		return 0
	}
	const year = 365 * 24 * 3600
	switch {
	case f <= year:
		return time.Duration(f * float64(time.Second))
	case f < 1e11:
		return max(0, time.Unix(int64(f), 0).Sub(now))
	default:
		return max(0, time.UnixMilli(int64(f)).Sub(now))
	}
}
