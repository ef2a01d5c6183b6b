package gcsim

import (
	"sync"
	"time"
)

// Clock is the simulator's adjustable clock. Callback lifecycles (scheduled
// times, ring and talk time, conversation timestamps, analytics intervals)
// run on it; tokens, channels, heartbeats and Retry-After run on real time.
//
// The clock runs at Speed times real time from its start instant; Advance
// jumps it forward. A speed of 0 stops it, so that only Advance moves it
// (handy for deterministic tests). A Clock is safe for concurrent use.
type Clock struct {
	mu      sync.Mutex
	base    time.Time // clock time at anchor
	anchor  time.Time // real time at which base was read
	speed   float64
	changed chan struct{} // closed and replaced on every Advance or SetSpeed
}

// NewClock returns a clock that reads start now and runs at speed times real
// time (1 is real speed, 60 is a minute per second, 0 is stopped; negative
// speeds count as 0).
func NewClock(start time.Time, speed float64) *Clock {
	return &Clock{base: start.Round(0), anchor: time.Now(), speed: max(speed, 0), changed: make(chan struct{})}
}

// Now returns the clock's current time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nowLocked(time.Now())
}

func (c *Clock) nowLocked(real time.Time) time.Time {
	return c.base.Add(time.Duration(float64(real.Sub(c.anchor)) * c.speed))
}

// Advance moves the clock forward by d (a negative d is ignored). Callbacks
// that become due are played promptly, in order, with the timestamps they
// would have had.
func (c *Clock) Advance(d time.Duration) {
	if d <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	real := time.Now()
	c.base, c.anchor = c.nowLocked(real).Add(d), real
	c.notifyLocked()
}

// SetSpeed changes how fast the clock runs relative to real time from now on
// (0 stops it; negative speeds count as 0).
func (c *Clock) SetSpeed(f float64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	real := time.Now()
	c.base, c.anchor, c.speed = c.nowLocked(real), real, max(f, 0)
	c.notifyLocked()
}

// Speed returns the clock's current speed.
func (c *Clock) Speed() float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.speed
}

func (c *Clock) notifyLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// changes returns a channel that is closed at the next Advance or SetSpeed.
func (c *Clock) changes() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.changed
}

// RealDelay returns the real time until the clock reads t (0 once it has),
// and false if the clock is stopped (it will never get there by itself).
func (c *Clock) RealDelay(t time.Time) (time.Duration, bool) { return c.realDelay(t) }

// realDelay is RealDelay.
func (c *Clock) realDelay(t time.Time) (time.Duration, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	real := time.Now()
	d := t.Sub(c.nowLocked(real))
	if d <= 0 {
		return 0, true
	}
	if c.speed == 0 {
		return 0, false
	}
	return time.Duration(float64(d)/c.speed) + time.Millisecond, true
}
