package gcsim

import (
	"math"
	"net/http"
	"strconv"
	"time"

	"golang.org/x/time/rate"
)

// Rate limits. Each OAuth client has its own allowance, shared by all of its
// tokens, counted in windows of a minute of real time (Options.RateClock).
// Every API response to an authenticated request carries the client's
// inin-ratelimit-allowed (calls per window), inin-ratelimit-count (calls
// counted in the window so far, this one included) and inin-ratelimit-reset
// (whole seconds until the window ends, at least 1). A window starts at the
// first request after the previous one ended.
const (
	rateWindow = time.Minute
	// noLimitAllowance is the allowance reported while no limit is set.
	noLimitAllowance = 1_000_000

	headerAllowed = "inin-ratelimit-allowed"
	headerCount   = "inin-ratelimit-count"
	headerReset   = "inin-ratelimit-reset"
)

// meter is one OAuth client's use of the rate limit.
type meter struct {
	bucket      *rate.Limiter // SetRateLimit's smoothing; nil without
	windowStart time.Time
	count       int
}

// SetRateLimit limits each OAuth client's API calls (not login, not
// sockets) to perSecond requests per second, with a burst of one second's
// worth, and to perSecond × 60 (rounded) per window. Calls beyond either get
// 429 with Retry-After and Genesys' normalized 429 body. Zero or less
// removes the limit.
func (s *Sim) SetRateLimit(perSecond float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limitPerSecond, s.limitPerMinute = 0, 0
	if perSecond > 0 {
		s.limitPerSecond = perSecond
		s.limitPerMinute = max(1, int(math.Round(perSecond*60)))
	}
	s.resetBucketsLocked()
}

// SetRateLimitPerMinute limits each OAuth client's API calls to perMinute
// per window, with no smoothing within it (as Genesys' per-minute limits
// are described; UNCONFIRMED whether it smooths). Zero or less removes the
// limit.
func (s *Sim) SetRateLimitPerMinute(perMinute int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limitPerSecond, s.limitPerMinute = 0, max(0, perMinute)
	s.resetBucketsLocked()
}

func (s *Sim) resetBucketsLocked() {
	for _, m := range s.meters {
		m.bucket = s.newBucketLocked()
	}
}

func (s *Sim) newBucketLocked() *rate.Limiter {
	if s.limitPerSecond <= 0 {
		return nil
	}
	return rate.NewLimiter(rate.Limit(s.limitPerSecond), max(1, int(math.Ceil(s.limitPerSecond))))
}

// allowanceLocked is what inin-ratelimit-allowed says.
func (s *Sim) allowanceLocked() int {
	if s.limitPerMinute > 0 {
		return s.limitPerMinute
	}
	return noLimitAllowance
}

// meterRequest applies client's rate limit to one API request and sets the
// inin-ratelimit-* headers on w. A request that counts (served, or a
// refusal charged with SetRefusalsUseAllowance) uses the allowance, or gets
// the limit's 429, which meterRequest answers itself, reporting true.
func (s *Sim) meterRequest(w http.ResponseWriter, client string, counts bool) (refused bool) {
	s.mu.Lock()
	now := s.rateNow()
	m := s.meters[client]
	if m == nil {
		m = &meter{bucket: s.newBucketLocked()}
		s.meters[client] = m
	}
	if !now.Before(m.windowStart.Add(rateWindow)) {
		m.windowStart, m.count = now, 0
	}
	var wait time.Duration
	if counts {
		switch {
		case s.limitPerMinute > 0 && m.count >= s.limitPerMinute:
			refused, wait = true, m.windowStart.Add(rateWindow).Sub(now)
		case m.bucket != nil && !m.bucket.AllowN(now, 1):
			refused = true
			wait = time.Duration((1 - m.bucket.TokensAt(now)) / float64(m.bucket.Limit()) * float64(time.Second))
		default:
			m.count++
		}
	}
	allowed, count := s.allowanceLocked(), m.count
	reset := retryAfterSeconds(m.windowStart.Add(rateWindow).Sub(now))
	s.mu.Unlock()
	h := w.Header()
	h.Set(headerAllowed, strconv.Itoa(allowed))
	h.Set(headerCount, strconv.Itoa(count))
	h.Set(headerReset, strconv.Itoa(reset))
	if refused {
		writeFault(w, http.StatusTooManyRequests, wait)
	}
	return refused
}
