// SPDX-License-Identifier: Apache-2.0

// Package fakeclock is a clock for tests that moves only when the test
// moves it. Goroutines sleeping on it wake when Advance or AdvanceToNext
// passes their deadline, and WaitFor tells the test when they are all
// asleep, so that a test can step many goroutines through minutes of time
// without a real wait and without guessing how long they need.
package fakeclock

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Clock is a fake clock; its zero value is not usable (see New). It has
// the methods of genesys.Clock. It is safe for concurrent use.
type Clock struct {
	mu       sync.Mutex
	now      time.Time
	sleepers []*sleeper
	changed  chan struct{} // closed and replaced at every change
}

type sleeper struct {
	until time.Time
	wake  chan struct{}
}

// New returns a clock reading start.
func New(start time.Time) *Clock {
	return &Clock{now: start, changed: make(chan struct{})}
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Sleep waits until the clock has moved d forward, or until ctx is done
// (then it returns ctx's cause). A d of zero or less returns at once.
func (c *Clock) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	c.mu.Lock()
	s := &sleeper{until: c.now.Add(d), wake: make(chan struct{})}
	c.sleepers = append(c.sleepers, s)
	c.notifyLocked()
	c.mu.Unlock()
	select {
	case <-s.wake:
		return nil
	case <-ctx.Done():
		c.mu.Lock()
		if i := slices.Index(c.sleepers, s); i >= 0 {
			c.sleepers = slices.Delete(c.sleepers, i, i+1)
			c.notifyLocked()
		}
		c.mu.Unlock()
		return context.Cause(ctx)
	}
}

// Advance moves the clock d forward and wakes the sleepers it passes.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.setLocked(c.now.Add(max(d, 0)))
}

// AdvanceToNext moves the clock to the earliest sleeper's deadline (if it
// is ahead) and wakes every sleeper due then. It reports false, and does
// nothing, when nobody sleeps.
func (c *Clock) AdvanceToNext() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.sleepers) == 0 {
		return false
	}
	next := c.sleepers[0].until
	for _, s := range c.sleepers[1:] {
		if s.until.Before(next) {
			next = s.until
		}
	}
	c.setLocked(later(c.now, next))
	return true
}

func (c *Clock) setLocked(t time.Time) {
	c.now = t
	kept := c.sleepers[:0]
	for _, s := range c.sleepers {
		if s.until.After(t) {
			kept = append(kept, s)
			continue
		}
		close(s.wake)
	}
	clear(c.sleepers[len(kept):])
	c.sleepers = kept
	c.notifyLocked()
}

// Sleepers returns how many goroutines sleep on the clock.
func (c *Clock) Sleepers() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.sleepers)
}

// Notify wakes the WaitFor calls to look at their condition again, for a
// change the clock cannot see (a goroutine that ended).
func (c *Clock) Notify() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.notifyLocked()
}

// WaitFor blocks until cond, given the number of sleepers, holds, or until
// ctx is done. cond is called again at every change of the clock and at
// every Notify.
func (c *Clock) WaitFor(ctx context.Context, cond func(sleepers int) bool) error {
	for {
		c.mu.Lock()
		ok, ch := cond(len(c.sleepers)), c.changed
		c.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
}

func (c *Clock) notifyLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// Lockstep runs op in n goroutines, each until op returns false, and moves
// the clock to the next wake-up whenever every goroutine still running
// sleeps on it: time passes only while all of them wait for it, as if their
// work took no time. It returns once all have returned; when ctx ends first
// it stops moving the clock, waits for them (op must return once ctx is
// done) and returns ctx's cause.
func (c *Clock) Lockstep(ctx context.Context, n int, op func(ctx context.Context, worker int) bool) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var alive atomic.Int64
	alive.Store(int64(n))
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			defer func() {
				alive.Add(-1)
				c.Notify()
			}()
			for ctx.Err() == nil && op(ctx, i) {
			}
		})
	}
	var err error
	for {
		err = c.WaitFor(ctx, func(sleepers int) bool {
			a := alive.Load()
			return a == 0 || int64(sleepers) >= a
		})
		if err != nil || alive.Load() == 0 {
			break
		}
		c.AdvanceToNext()
	}
	cancel(err)
	wg.Wait()
	return err
}
