package genesys

import (
	"sync"
	"time"
)

// BudgetStatus is a budget as the console's health page shows it.
type BudgetStatus struct {
	// Shared is true for the deployment's budget (NewSharedBudget), false
	// for this process's own.
	Shared bool
	// PerMinute is the configured limit in calls per minute; Limit is the
	// one in force now: Genesys' allowance (inin-ratelimit-allowed) while
	// it is lower.
	PerMinute, Limit float64
	// Used counts the calls this process sent in the last minute.
	Used int
	// PausedUntil is when a pause of every call ends (zero or past: none).
	PausedUntil time.Time
}

// statuser is a budget that reports its state (both of this package's).
type statuser interface {
	status() BudgetStatus
}

func (b *bucket) status() BudgetStatus {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.clock.Now()
	b.expireLocked(now)
	st := BudgetStatus{PerMinute: b.perMinute, Limit: b.perMinute, PausedUntil: b.pausedUntil}
	if b.allowed > 0 {
		st.Limit = float64(b.allowed)
	}
	return st
}

func (b *sharedBudget) status() BudgetStatus {
	b.mu.Lock()
	defer b.mu.Unlock()
	return BudgetStatus{Shared: true, PerMinute: b.perMinute, Limit: b.limit, PausedUntil: b.pausedUntil}
}

// minuteCount counts events over the last minute, in one-second slots.
type minuteCount struct {
	mu    sync.Mutex
	slots [60]int
	secs  [60]int64 // the Unix second each slot counts
}

func (m *minuteCount) add(now time.Time) {
	s := now.Unix()
	i := int(s % 60)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.secs[i] != s {
		m.secs[i], m.slots[i] = s, 0
	}
	m.slots[i]++
}

func (m *minuteCount) count(now time.Time) int {
	s := now.Unix()
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for i := range m.slots {
		if s-m.secs[i] < 60 {
			n += m.slots[i]
		}
	}
	return n
}

// BudgetStatus returns the state of the budget the client draws from, with
// the calls it sent in the last minute. A budget given in Config that is
// not one of this package's reports only Used.
func (c *Client) BudgetStatus() BudgetStatus {
	var st BudgetStatus
	if s, ok := c.budget.(statuser); ok {
		st = s.status()
	}
	st.Used = c.sent.count(time.Now())
	return st
}
