package syncer

import (
	"strings"
	"time"

	"github.com/slotline/slotline/internal/booking"
	"github.com/slotline/slotline/internal/genesys"
	"github.com/slotline/slotline/internal/reservation"
)

// DefaultOutcomeWait is how long after a callback's last communication
// ends its outcome waits for the agent's wrap-up, unless configured.
const DefaultOutcomeWait = 2 * time.Minute

// outcomePolicy is how a queue's callbacks are judged once they end.
type outcomePolicy struct {
	// notReached holds the wrap-up codes (ids or names, lower case) that
	// make a callback not reached even though its call was answered
	// (a voicemail, the wrong person).
	notReached map[string]bool
	// wait bounds how long the outcome waits for a wrap-up.
	wait time.Duration
}

func newOutcomePolicy(codes []string, wait time.Duration) outcomePolicy {
	p := outcomePolicy{notReached: make(map[string]bool, len(codes)), wait: wait}
	for _, c := range codes {
		if c = strings.TrimSpace(c); c != "" {
			p.notReached[strings.ToLower(c)] = true
		}
	}
	return p
}

// notReachedBy reports whether wrap-up w says the customer was not reached.
func (p outcomePolicy) notReachedBy(w *genesys.Wrapup) bool {
	return w != nil && (p.notReached[strings.ToLower(w.Code)] || (w.Name != "" && p.notReached[strings.ToLower(w.Name)]))
}

// mapped is what a conversation implies for its reservation.
type mapped struct {
	update reservation.GenesysUpdate
	// waitUntil, when not zero, is when the outcome of a callback whose
	// communications have all ended stops waiting for the agent's wrap-up:
	// read the conversation again then.
	waitUntil time.Time
	// unwrapped says the outcome was decided without the wrap-up an agent
	// owed, the wait being over: final only if the conversation was read
	// just now (an event read late may predate the wrap-up).
	unwrapped bool
}

// Disconnect types that say Genesys could not place a call, rather than
// that nobody answered it.
var failureTypes = map[string]bool{"error": true, "transport.failure": true, "uncallable": true}

// ended reports whether a communication in state s is over; "" and "none"
// (no state) are neither active nor over.
func ended(s string) bool {
	s = strings.ToLower(s)
	return s == "disconnected" || s == "terminated"
}

// live reports whether a communication in state s is going on: anything
// but over, waiting (scheduled) or stateless.
func live(s string) bool {
	s = strings.ToLower(s)
	return s != "" && s != "none" && s != "scheduled" && !ended(s)
}

// conversationView sorts a conversation's participants and communications
// the way the outcome is read from them.
type conversationView struct {
	callbacks []*genesys.Callback // the customer's and the queue's callback communications
	calls     []*genesys.Call     // the calls placed to the customer, in order
	agents    []*genesys.Participant
	anyLive   bool      // some communication (callback or call, any participant) is going on
	lastEnd   time.Time // when the last communication ended
}

func viewOf(c *genesys.Conversation) conversationView {
	var v conversationView
	later := func(t *time.Time) {
		if t != nil && t.After(v.lastEnd) {
			v.lastEnd = *t
		}
	}
	for i := range c.Participants {
		p := &c.Participants[i]
		purpose := strings.ToLower(p.Purpose)
		isCustomer := purpose == "customer" || purpose == "external"
		if purpose == "agent" || purpose == "user" {
			v.agents = append(v.agents, p)
		}
		for j := range p.Callbacks {
			cb := &p.Callbacks[j]
			if isCustomer || purpose == "acd" {
				v.callbacks = append(v.callbacks, cb)
			}
			v.anyLive = v.anyLive || live(cb.State)
			later(cb.DisconnectedTime)
		}
		for j := range p.Calls {
			call := &p.Calls[j]
			if isCustomer {
				v.calls = append(v.calls, call)
			}
			v.anyLive = v.anyLive || live(call.State)
			later(call.DisconnectedTime)
		}
		later(p.EndTime)
	}
	later(c.EndTime)
	return v
}

// scheduledAt returns the callback time the conversation holds.
func (v conversationView) scheduledAt() *time.Time {
	for _, cb := range v.callbacks {
		if cb.CallbackScheduledTime != nil && !cb.CallbackScheduledTime.IsZero() {
			return cb.CallbackScheduledTime
		}
	}
	return nil
}

// connectedAt returns when agent p was connected to the callback or its
// call, or nil: an agent counts as connected only with a connectedTime
// (one only alerted, whose alert timed out, never was).
func connectedAt(p *genesys.Participant) *time.Time {
	at := p.ConnectedTime
	for _, cb := range p.Callbacks {
		if cb.ConnectedTime != nil && (at == nil || cb.ConnectedTime.After(*at)) {
			at = cb.ConnectedTime
		}
	}
	for _, c := range p.Calls {
		if c.ConnectedTime != nil && (at == nil || c.ConnectedTime.After(*at)) {
			at = c.ConnectedTime
		}
	}
	return at
}

// lastAgent returns the agent connected last, or nil when no agent ever
// was.
func (v conversationView) lastAgent() *genesys.Participant {
	var best *genesys.Participant
	var bestAt time.Time
	for _, a := range v.agents {
		if at := connectedAt(a); at != nil && (best == nil || !at.Before(bestAt)) {
			best, bestAt = a, *at
		}
	}
	return best
}

// wrapupOf returns agent p's wrap-up: the participant's (participant-level
// after-call work), else its callback's or its call's. A provisional
// wrap-up is not one yet.
func wrapupOf(p *genesys.Participant) *genesys.Wrapup {
	final := func(w *genesys.Wrapup) bool { return w != nil && !w.Provisional && (w.Code != "" || w.Name != "") }
	if final(p.Wrapup) {
		return p.Wrapup
	}
	for _, cb := range p.Callbacks {
		if final(cb.Wrapup) {
			return cb.Wrapup
		}
	}
	for _, c := range p.Calls {
		if final(c.Wrapup) {
			return c.Wrapup
		}
	}
	return nil
}

// awaitsWrapup reports whether agent p may still wrap up: unless Genesys
// says no wrap-up is required, the agent skipped it, or the after-call
// work ended.
func awaitsWrapup(p *genesys.Participant) bool {
	if p.WrapupRequired != nil && !*p.WrapupRequired {
		return false
	}
	return !p.WrapupSkipped && p.EndAcwTime == nil
}

// mapConversation turns a conversation (GET /api/v2/conversations/{id} or
// a v2.routing.queues.{id}.conversations event) into the update it implies
// for its reservation at instant now. The callback communications say
// where the callback is; the calls placed to the customer say how it
// ended, since an agent's callback leg is connected whether or not anybody
// picks up:
//
//   - waiting for its time (a callback communication "scheduled" and
//     nothing going on, or nothing dialled yet while the time is more than
//     a minute ahead) → scheduled, at the time it holds;
//   - anything going on (alerting, dialing, connected, …) → in_progress;
//   - everything ended → the outcome, once the agent connected last has
//     wrapped up or the policy's wait after the last communication ended
//     has passed (until then in_progress, with waitUntil; after it,
//     unwrapped):
//   - a wrap-up code in the queue's not_reached list → missed
//     (not_reached);
//   - a call to the customer connected at some point → completed
//     (reached);
//   - calls placed, none connected → missed (not_reached), with the last
//     call's disconnect type and reasons; failed when every call ended
//     because Genesys could not place it (error, transport.failure,
//     uncallable);
//   - no call placed: an agent connected → missed (the agent ended it
//     without calling); none → canceled (ended inside Genesys before
//     anybody dialled: a supervisor's disconnect), or failed when the
//     callback itself ended in error.
//
// An agent counts as connected only with a connectedTime. A conversation
// with no callback communication implies nothing.
func mapConversation(c *genesys.Conversation, now time.Time, pol outcomePolicy) mapped {
	var m mapped
	v := viewOf(c)
	u := &m.update
	if at := v.scheduledAt(); at != nil {
		u.ScheduledAt = at.UTC()
	}
	u.DialAttempts = len(v.calls)
	if len(v.callbacks) == 0 {
		return m
	}
	scheduled, over := false, true
	for _, cb := range v.callbacks {
		scheduled = scheduled || strings.EqualFold(cb.State, "scheduled")
		over = over && ended(cb.State)
	}
	over = over && !v.anyLive
	agent := v.lastAgent()
	switch {
	case !v.anyLive && scheduled:
		u.Status = reservation.StatusScheduled
		return m
	case !over:
		ahead := !u.ScheduledAt.IsZero() && u.ScheduledAt.After(now.Add(time.Minute))
		if ahead && len(v.calls) == 0 && agent == nil {
			u.Status = reservation.StatusScheduled // a waiting callback in a state not yet seen
		} else {
			u.Status = reservation.StatusInProgress
		}
		return m
	}
	var wrap *genesys.Wrapup
	if agent != nil {
		wrap = wrapupOf(agent)
		if wrap == nil && awaitsWrapup(agent) {
			end := v.lastEnd
			if end.IsZero() {
				end = now
			}
			deadline := end.Add(pol.wait)
			if now.Before(deadline) {
				u.Status, m.waitUntil = reservation.StatusInProgress, deadline
				return m
			}
			m.unwrapped, m.waitUntil = true, deadline
		}
	}
	if wrap != nil {
		u.WrapupCode = wrap.Code
		if u.WrapupCode == "" {
			u.WrapupCode = wrap.Name
		}
	}
	var last *genesys.Call
	reached, failedAll := false, len(v.calls) > 0
	for _, call := range v.calls {
		reached = reached || call.ConnectedTime != nil
		failedAll = failedAll && failureTypes[strings.ToLower(call.DisconnectType)]
		last = call
	}
	cbType := ""
	for _, cb := range v.callbacks {
		if cb.DisconnectType != "" {
			cbType = cb.DisconnectType
			break
		}
	}
	switch {
	case pol.notReachedBy(wrap):
		u.Status, u.Outcome = reservation.StatusMissed, reservation.OutcomeNotReached
	case reached:
		u.Status, u.Outcome = reservation.StatusCompleted, reservation.OutcomeReached
	case last != nil && failedAll:
		u.Status, u.Outcome = reservation.StatusFailed, reservation.OutcomeFailed
	case last != nil, agent != nil:
		u.Status, u.Outcome = reservation.StatusMissed, reservation.OutcomeNotReached
	case failureTypes[strings.ToLower(cbType)]:
		u.Status, u.Outcome = reservation.StatusFailed, reservation.OutcomeFailed
	default:
		u.Status, u.Outcome = reservation.StatusCanceled, reservation.OutcomeCanceled
	}
	if last != nil {
		u.DisconnectType = last.DisconnectType
		for _, r := range last.DisconnectReasons {
			u.DisconnectReasons = append(u.DisconnectReasons, reservation.DisconnectReason{Type: r.Type, Code: r.Code, Phrase: r.Phrase})
		}
	} else {
		u.DisconnectType = cbType
	}
	return m
}

// withBucket fills in the bucket and capacity of the update's time.
func (r *Runner) withBucket(q *booking.Queue, u reservation.GenesysUpdate) reservation.GenesysUpdate {
	if q == nil || u.ScheduledAt.IsZero() {
		return u
	}
	b := q.Calendar.BucketAt(u.ScheduledAt)
	u.Bucket, u.Cap = b.Start, q.Calendar.CapacityAt(b.Start)
	return u
}

// scheduledAt returns the callback time a callback view holds (the
// customer's, else the queue's, else any participant's).
func scheduledAt(c *genesys.CallbackConversation) *time.Time {
	var first *time.Time
	for _, p := range c.Participants {
		if p.CallbackScheduledTime == nil || p.CallbackScheduledTime.IsZero() {
			continue
		}
		switch strings.ToLower(p.Purpose) {
		case "customer", "external", "acd":
			return p.CallbackScheduledTime
		}
		if first == nil {
			first = p.CallbackScheduledTime
		}
	}
	return first
}
