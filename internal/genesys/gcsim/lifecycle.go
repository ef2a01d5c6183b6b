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

// advanceLocked plays c's transition that fell due at at, and publishes
// the change.
func (s *Sim) advanceLocked(c *callback, at time.Time) {
	switch c.phase {
	case phaseScheduled:
		s.dueLocked(c, at)
	case phaseOffering:
		if c.missesLeft > 0 {
			// The alert times out: the callback goes to the next agent.
			c.missesLeft--
			c.agent.disconnect(at, "transfer.noanswer")
			s.offerLocked(c, at)
			break
		}
		s.acceptLocked(c, at)
	case phaseAccepted:
		s.dialLocked(c, at)
	case phaseDialing:
		s.ringEndLocked(c, at)
	case phaseTalking:
		s.hangUpLocked(c, at)
	case phaseAfterCall:
		s.wrapUpLocked(c, at)
	case phaseEnded:
		return
	}
	s.logger.Debug("gcsim callback changed", "conversation_id", c.id, "queue_id", c.queueID, "mode", c.mode,
		"state", c.customer.state, "answered", c.answered(), "dial_attempts", len(c.customer.calls), "sim_time", at)
	s.publishLocked(c)
}

// dueLocked starts an attempt: in AgentFirst the callback is offered to an
// agent; in CustomerFirst the customer is dialled at once.
func (s *Sim) dueLocked(c *callback, at time.Time) {
	c.play = s.playForLocked(c)
	c.missesLeft = c.play.AgentMisses
	for _, p := range []*participant{c.customer, c.acd} {
		p.state, p.disconnectType, p.end = stateConnected, "", time.Time{}
		if p.connected.IsZero() {
			p.alerting, p.connected = at, at
		}
	}
	if c.mode == CustomerFirst {
		s.dialLocked(c, at)
		return
	}
	s.offerLocked(c, at)
}

// offerLocked alerts the next agent with the callback.
func (s *Sim) offerLocked(c *callback, at time.Time) {
	a := s.agents[(int(c.seq)+len(c.agents)-1)%len(s.agents)]
	c.agent = &participant{
		id: newUUID(), name: a.Name, purpose: "agent", state: stateAlerting, initialState: stateAlerting,
		commID: newUUID(), start: at, alerting: at,
		user:  &ref{ID: a.ID, Name: a.Name, SelfURI: "/api/v2/users/" + a.ID},
		queue: c.acd.queue,
	}
	c.agents = append(c.agents, c.agent)
	s.commIndex[c.agent.commID] = c
	c.phase = phaseOffering
	if c.missesLeft > 0 {
		s.scheduleLocked(c, at.Add(s.opts.AlertTimeout))
	} else {
		s.scheduleLocked(c, at.Add(s.opts.AcceptDelay))
	}
}

// acceptLocked connects the alerted agent. The ACD leg ends: the queue
// handed the callback over. In AgentFirst the agent places the call after
// AutoDialDelay; in CustomerFirst the agent joins the customer's call.
func (s *Sim) acceptLocked(c *callback, at time.Time) {
	c.agent.state, c.agent.connected = stateConnected, at
	c.acd.disconnect(at, "transfer")
	if c.mode == CustomerFirst {
		cust := c.customer.lastCall()
		leg := &call{id: newUUID(), state: stateConnected, initialState: stateAlerting, alerting: at, connected: at, peer: cust.id}
		cust.peer = leg.id
		c.agent.calls = append(c.agent.calls, leg)
		s.talkLocked(c, at)
		return
	}
	c.phase = phaseAccepted
	s.scheduleLocked(c, at.Add(s.opts.AutoDialDelay))
}

// dialLocked places the call to the customer: a new call on the customer
// participant, dialing for RingTime; in AgentFirst the agent's side of the
// call is connected from the start (connected to the agent is not
// reached).
func (s *Sim) dialLocked(c *callback, at time.Time) {
	cust := &call{id: newUUID(), state: stateDialing, initialState: stateDialing, alerting: at}
	c.customer.calls = append(c.customer.calls, cust)
	if c.mode != CustomerFirst {
		leg := &call{id: newUUID(), state: stateConnected, initialState: stateDialing, alerting: at, connected: at, peer: cust.id}
		cust.peer = leg.id
		c.agent.calls = append(c.agent.calls, leg)
	}
	c.phase = phaseDialing
	s.scheduleLocked(c, at.Add(s.opts.RingTime))
}

// ringEndLocked plays the end of the ring: answered (by the customer or a
// voicemail) or not.
func (s *Sim) ringEndLocked(c *callback, at time.Time) {
	cust := c.customer.lastCall()
	if c.play.customer() != CustomerNoAnswer {
		cust.state, cust.connected = stateConnected, at
		if c.mode == CustomerFirst {
			s.offerLocked(c, at) // the answered call is routed to an agent
			return
		}
		s.talkLocked(c, at)
		return
	}
	cust.disconnect(at, "timeout", q850NoAnswer)
	if c.mode == CustomerFirst {
		// No agent was involved: the queue retries or the callback ends.
		if c.play.rescheduled() {
			s.rescheduleAfterLocked(c, at.Add(c.play.Reschedule))
			return
		}
		c.customer.disconnect(at, "peer")
		c.acd.disconnect(at, "peer")
		c.ended = at
		s.endLocked(c, at)
		return
	}
	c.agent.lastCall().disconnect(at, "peer")
	s.afterCallLocked(c, at, !c.play.rescheduled())
}

// talkLocked keeps the call connected for TalkTime (VoicemailTime when a
// voicemail answered).
func (s *Sim) talkLocked(c *callback, at time.Time) {
	c.phase = phaseTalking
	d := s.opts.TalkTime
	if c.play.customer() == CustomerVoicemail {
		d = s.opts.VoicemailTime
	}
	s.scheduleLocked(c, at.Add(d))
}

// hangUpLocked ends a connected call: the customer hangs up, or the agent
// does on a voicemail.
func (s *Sim) hangUpLocked(c *callback, at time.Time) {
	cust, leg := c.customer.lastCall(), c.agent.lastCall()
	if c.play.customer() == CustomerVoicemail {
		leg.disconnect(at, "client")
		cust.disconnect(at, "peer", q850Normal)
	} else {
		cust.disconnect(at, "endpoint", q850Normal)
		leg.disconnect(at, "peer")
	}
	s.afterCallLocked(c, at, true)
}

// afterCallLocked ends the agent's callback communication (the encasing
// callback ends with its call) and, with end, the customer's: the
// conversation is over. The agent's after-call work follows (WrapupTime),
// unless the play has no wrap-up.
func (s *Sim) afterCallLocked(c *callback, at time.Time, end bool) {
	c.agent.disconnect(at, "client")
	if end {
		for _, p := range c.participants() {
			p.disconnect(at, "peer")
		}
		c.ended = at
	}
	if c.play.NoWrapup && end {
		s.endLocked(c, at)
		return
	}
	c.phase = phaseAfterCall
	s.scheduleLocked(c, at.Add(s.opts.WrapupTime))
}

// wrapUpLocked records the agent's wrap-up and, when the play says so,
// reschedules the callback (AgentFirst: the agent's reschedule after the
// customer did not answer).
func (s *Sim) wrapUpLocked(c *callback, at time.Time) {
	a := c.agent
	if !c.play.NoWrapup {
		a.acwStart, a.acwEnd = a.end, at
		a.wrapup = &wrapup{code: c.play.wrapupCode(), duration: at.Sub(a.end), end: at}
	}
	if c.play.rescheduled() && !c.noReschedule && c.ended.IsZero() {
		s.rescheduleAfterLocked(c, at.Add(c.play.Reschedule))
		return
	}
	s.endLocked(c, at)
}

// rescheduleAfterLocked puts the callback back to scheduled at newAt, in
// the same conversation; its next attempt plays the current play's Retry.
func (s *Sim) rescheduleAfterLocked(c *callback, newAt time.Time) {
	next := Play{}
	if c.play.Retry != nil {
		next = *c.play.Retry
	}
	c.script = &next
	c.scheduled = newAt.UTC()
	for _, p := range []*participant{c.customer, c.acd} {
		p.state, p.disconnectType, p.end = stateScheduled, "", time.Time{}
	}
	c.agent, c.ended = nil, time.Time{}
	c.phase = phaseScheduled
	s.scheduleLocked(c, c.scheduled)
}

func (s *Sim) endLocked(c *callback, at time.Time) {
	c.phase = phaseEnded
	if c.ended.IsZero() {
		c.ended = at
	}
	s.unscheduleLocked(c)
}

// disconnectLocked disconnects every communication of c now, with
// disconnectType, and publishes the change. A callback already ended is left
// alone; an agent in after-call work still wraps up, but a reschedule it
// was about to make is dropped.
func (s *Sim) disconnectLocked(c *callback, disconnectType string) {
	if c.phase == phaseEnded || (c.phase == phaseAfterCall && !c.ended.IsZero()) {
		return
	}
	now := s.clock.Now()
	for _, p := range c.participants() {
		p.disconnect(now, disconnectType)
		for _, l := range p.calls {
			l.disconnect(now, disconnectType)
		}
	}
	c.ended = now
	if c.phase == phaseAfterCall {
		c.noReschedule = true
	} else {
		s.endLocked(c, now)
	}
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
