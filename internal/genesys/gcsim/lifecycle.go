package gcsim

import (
	"container/heap"
	"time"
)

// dueItem says that callback c (as of generation gen) has its next
// transition at sim time at.
type dueItem struct {
	at  time.Time
	seq uint64
	gen uint64
	c   *callback
}

// dueHeap orders due items by time, then by callback creation, so that ties
// play in a deterministic order.
type dueHeap []dueItem

func (h dueHeap) Len() int { return len(h) }
func (h dueHeap) Less(i, j int) bool {
	if !h[i].at.Equal(h[j].at) {
		return h[i].at.Before(h[j].at)
	}
	return h[i].seq < h[j].seq
}
func (h dueHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *dueHeap) Push(x any)   { *h = append(*h, x.(dueItem)) }
func (h *dueHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	*h = old[:len(old)-1]
	return it
}

// scheduleLocked sets c's next transition to at, replacing any earlier one,
// and wakes the loop.
func (s *Sim) scheduleLocked(c *callback, at time.Time) {
	c.gen++
	heap.Push(&s.due, dueItem{at: at, seq: c.seq, gen: c.gen, c: c})
	s.nudge()
}

// unscheduleLocked drops c's pending transition.
func (s *Sim) unscheduleLocked(c *callback) { c.gen++ }

func (s *Sim) nudge() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// loop plays callbacks' transitions when they fall due on the sim clock. It
// wakes at the next due time, when the clock is advanced or sped up, and
// when a callback is created or changed.
func (s *Sim) loop() {
	defer s.wg.Done()
	for {
		changed := s.clock.changes()
		next, ok := s.step()
		var timer *time.Timer
		var fired <-chan time.Time
		if ok {
			if d, runs := s.clock.realDelay(next); runs {
				timer = time.NewTimer(d)
				fired = timer.C
			}
		}
		select {
		case <-s.ctx.Done():
		case <-changed:
		case <-s.wake:
		case <-fired:
		}
		if timer != nil {
			timer.Stop()
		}
		if s.ctx.Err() != nil {
			return
		}
	}
}

// step plays every transition due by now and returns the time of the next
// one, if any.
func (s *Sim) step() (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	for s.due.Len() > 0 {
		it := s.due[0]
		if it.gen != it.c.gen {
			heap.Pop(&s.due)
			continue
		}
		if it.at.After(now) {
			return it.at, true
		}
		heap.Pop(&s.due)
		s.advanceLocked(it.c, it.at)
	}
	return time.Time{}, false
}

// advanceLocked plays c's transition that fell due at at.
func (s *Sim) advanceLocked(c *callback, at time.Time) {
	switch c.phase {
	case phaseScheduled:
		// Due: the callback is offered in the queue and the customer is
		// being dialed.
		c.phase = phaseDialing
		c.acd.state, c.acd.alerting = stateAlerting, at
		c.customer.state, c.customer.alerting = stateDialing, at
		s.scheduleLocked(c, at.Add(s.opts.RingTime))
	case phaseDialing:
		if s.answerRate > 0 && s.rng.Float64() < s.answerRate {
			agent := s.agents[int(c.seq-1)%len(s.agents)]
			c.phase, c.answered = phaseConnected, true
			c.agent = &participant{
				id: newUUID(), name: agent.Name, purpose: "agent", state: stateConnected, initialState: stateAlerting,
				commID: newUUID(), start: at, alerting: at, connected: at,
				user:  &ref{ID: agent.ID, Name: agent.Name, SelfURI: "/api/v2/users/" + agent.ID},
				queue: c.acd.queue,
			}
			s.commIndex[c.agent.commID] = c
			c.customer.state, c.customer.connected = stateConnected, at
			// The ACD leg ends when the queue hands the callback to the agent.
			c.acd.disconnect(at, "transfer")
			s.scheduleLocked(c, at.Add(s.opts.TalkTime))
		} else {
			c.customer.disconnect(at, "transfer.noanswer")
			c.acd.disconnect(at, "transfer.noanswer")
			s.endLocked(c, at)
		}
	case phaseConnected:
		c.agent.disconnect(at, "client")
		c.customer.disconnect(at, "client")
		s.endLocked(c, at)
	case phaseEnded:
		return
	}
	s.logger.Debug("gcsim callback changed", "conversation_id", c.id, "queue_id", c.queueID,
		"state", c.customer.state, "answered", c.answered, "sim_time", at)
	s.publishLocked(c)
}

func (s *Sim) endLocked(c *callback, at time.Time) {
	c.phase, c.ended = phaseEnded, at
	s.unscheduleLocked(c)
}

// disconnectLocked disconnects every participant of c now, with
// disconnectType, and publishes the change. A callback already ended is left
// alone.
func (s *Sim) disconnectLocked(c *callback, disconnectType string) {
	if c.phase == phaseEnded {
		return
	}
	now := s.clock.Now()
	for _, p := range c.participants() {
		p.disconnect(now, disconnectType)
	}
	s.endLocked(c, now)
	s.publishLocked(c)
}

// Reschedule moves a scheduled callback to at, as a supervisor would inside
// Genesys, and publishes the change. It returns ErrNotFound for an unknown
// conversation and ErrNotScheduled once the callback is dialing or later.
func (s *Sim) Reschedule(conversationID string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.callbacks[conversationID]
	if !ok {
		return ErrNotFound
	}
	if c.phase != phaseScheduled {
		return ErrNotScheduled
	}
	c.scheduled = at.UTC()
	s.scheduleLocked(c, c.dueAt())
	s.publishLocked(c)
	return nil
}

// Disconnect ends a callback as a supervisor would inside Genesys: every
// participant disconnected with disconnectType "system", no agent added. The
// change is published. Disconnecting an ended callback does nothing. It
// returns ErrNotFound for an unknown conversation.
func (s *Sim) Disconnect(conversationID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.callbacks[conversationID]
	if !ok {
		return ErrNotFound
	}
	s.disconnectLocked(c, "system")
	return nil
}
