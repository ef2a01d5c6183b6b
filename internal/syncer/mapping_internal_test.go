package syncer

import (
	"testing"
	"time"

	"github.com/slotline/slotline/internal/genesys"
	"github.com/slotline/slotline/internal/reservation"
)

// Shapes for mapConversation, built as Genesys' generic conversation
// models describe them (Participant, Callback, Call, Wrapup). Some are
// shapes the simulator does not produce.
var (
	mT0 = time.Date(2026, 6, 1, 14, 30, 0, 0, time.UTC)
	yes = true
	no  = false
)

func at(d time.Duration) *time.Time { t := mT0.Add(d); return &t }

func cb(state, dt string, connected, ended *time.Time) genesys.Callback {
	return genesys.Callback{State: state, DisconnectType: dt, ConnectedTime: connected, DisconnectedTime: ended, CallbackScheduledTime: at(0)}
}

func call(state, dt string, connected, ended *time.Time, reasons ...genesys.DisconnectReason) genesys.Call {
	return genesys.Call{State: state, DisconnectType: dt, ConnectedTime: connected, DisconnectedTime: ended, DisconnectReasons: reasons}
}

func conv(ps ...genesys.Participant) *genesys.Conversation {
	return &genesys.Conversation{ID: "c", Participants: ps}
}

func customer(cbs []genesys.Callback, calls ...genesys.Call) genesys.Participant {
	return genesys.Participant{Purpose: "customer", Callbacks: cbs, Calls: calls}
}

func acd(c genesys.Callback) genesys.Participant {
	return genesys.Participant{Purpose: "acd", Callbacks: []genesys.Callback{c}}
}

func agent(c genesys.Callback, w *genesys.Wrapup, calls ...genesys.Call) genesys.Participant {
	return genesys.Participant{Purpose: "agent", WrapupRequired: &yes, Wrapup: w, Callbacks: []genesys.Callback{c}, Calls: calls}
}

func TestMapConversation(t *testing.T) {
	noAnswer := genesys.DisconnectReason{Type: "q850", Code: 19}
	wrap := func(code string) *genesys.Wrapup { return &genesys.Wrapup{Code: code} }
	gone := cb("disconnected", "peer", at(0), at(5*time.Minute))
	pol := newOutcomePolicy([]string{"wc-voicemail", " Wrong Person "}, 2*time.Minute)
	later := 10 * time.Minute // "now", past any wait
	for _, tt := range []struct {
		name      string
		c         *genesys.Conversation
		now       time.Duration
		status    reservation.Status
		outcome   reservation.Outcome
		dt, wrap  string
		attempts  int
		waits     bool
		unwrapped bool
	}{
		{name: "waiting", c: conv(customer([]genesys.Callback{cb("scheduled", "", nil, nil)}), acd(cb("scheduled", "", nil, nil))),
			now: -time.Hour, status: reservation.StatusScheduled},
		{name: "waiting in a state not seen before", c: conv(customer([]genesys.Callback{cb("contacting", "", nil, nil)})),
			now: -time.Hour, status: reservation.StatusScheduled},
		{name: "offered", c: conv(customer([]genesys.Callback{cb("connected", "", at(0), nil)}), acd(cb("connected", "", at(0), nil)),
			agent(cb("alerting", "", nil, nil), nil)), now: time.Second, status: reservation.StatusInProgress},
		// Old mapping: completed (an agent connected). The customer
		// never picked up: not reached, with the call's cause.
		{name: "AgentFirst customer never answered", c: conv(
			customer([]genesys.Callback{gone}, call("disconnected", "timeout", nil, at(time.Minute), noAnswer)),
			acd(cb("disconnected", "transfer", at(0), at(2*time.Second))),
			agent(cb("disconnected", "client", at(2*time.Second), at(time.Minute)), wrap("wc-no-answer"),
				call("disconnected", "peer", at(4*time.Second), at(time.Minute)))),
			now: later, status: reservation.StatusMissed, outcome: reservation.OutcomeNotReached, dt: "timeout", wrap: "wc-no-answer", attempts: 1},
		// The same before the wrap-up: not final yet.
		{name: "ended, wrap-up to come", c: conv(
			customer([]genesys.Callback{gone}, call("disconnected", "timeout", nil, at(time.Minute), noAnswer)),
			agent(cb("disconnected", "client", at(2*time.Second), at(time.Minute)), nil)),
			now: 90 * time.Second, status: reservation.StatusInProgress, attempts: 1, waits: true},
		{name: "ended, the wait for a wrap-up over", c: conv(
			customer([]genesys.Callback{gone}, call("disconnected", "timeout", nil, at(time.Minute), noAnswer)),
			agent(cb("disconnected", "client", at(2*time.Second), at(5*time.Minute)), nil)),
			now: later, status: reservation.StatusMissed, outcome: reservation.OutcomeNotReached, dt: "timeout", attempts: 1, waits: true, unwrapped: true},
		{name: "a provisional wrap-up is none", c: conv(
			customer([]genesys.Callback{gone}, call("disconnected", "endpoint", at(10*time.Second), at(time.Minute))),
			agent(cb("disconnected", "client", at(2*time.Second), at(time.Minute)), &genesys.Wrapup{Code: "wc", Provisional: true})),
			now: 90 * time.Second, status: reservation.StatusInProgress, attempts: 1, waits: true},
		{name: "no wrap-up required", c: conv(
			customer([]genesys.Callback{gone}, call("disconnected", "endpoint", at(10*time.Second), at(time.Minute))),
			genesys.Participant{Purpose: "agent", WrapupRequired: &no, Callbacks: []genesys.Callback{cb("disconnected", "client", at(2*time.Second), at(time.Minute))}}),
			now: 90 * time.Second, status: reservation.StatusCompleted, outcome: reservation.OutcomeReached, dt: "endpoint", attempts: 1},
		{name: "reached", c: conv(
			customer([]genesys.Callback{gone}, call("disconnected", "endpoint", at(10*time.Second), at(time.Minute))),
			agent(cb("disconnected", "client", at(2*time.Second), at(time.Minute)), wrap("wc-resolved"))),
			now: later, status: reservation.StatusCompleted, outcome: reservation.OutcomeReached, dt: "endpoint", wrap: "wc-resolved", attempts: 1},
		{name: "voicemail wrap-up listed", c: conv(
			customer([]genesys.Callback{gone}, call("disconnected", "peer", at(10*time.Second), at(time.Minute))),
			agent(cb("disconnected", "client", at(2*time.Second), at(time.Minute)), wrap("WC-VOICEMAIL"))),
			now: later, status: reservation.StatusMissed, outcome: reservation.OutcomeNotReached, dt: "peer", wrap: "WC-VOICEMAIL", attempts: 1},
		{name: "wrap-up listed by name", c: conv(
			customer([]genesys.Callback{gone}, call("disconnected", "peer", at(10*time.Second), at(time.Minute))),
			agent(cb("disconnected", "client", at(2*time.Second), at(time.Minute)), &genesys.Wrapup{Code: "u-1", Name: "wrong person"})),
			now: later, status: reservation.StatusMissed, outcome: reservation.OutcomeNotReached, dt: "peer", wrap: "u-1", attempts: 1},
		// Old mapping: completed (a disconnected agent counted as
		// connected). Nobody was ever dialled: canceled.
		{name: "agent only alerted, then a supervisor's disconnect", c: conv(
			customer([]genesys.Callback{cb("disconnected", "system", at(0), at(time.Minute))}),
			acd(cb("disconnected", "system", at(0), at(time.Minute))),
			agent(cb("disconnected", "transfer.noanswer", nil, at(15*time.Second)), nil)),
			now: later, status: reservation.StatusCanceled, outcome: reservation.OutcomeCanceled, dt: "system"},
		{name: "supervisor's disconnect before the time", c: conv(
			customer([]genesys.Callback{cb("disconnected", "system", nil, at(-time.Hour))}), acd(cb("disconnected", "system", nil, at(-time.Hour)))),
			now: -time.Hour, status: reservation.StatusCanceled, outcome: reservation.OutcomeCanceled, dt: "system"},
		{name: "agent accepted, never called", c: conv(
			customer([]genesys.Callback{gone}),
			agent(cb("disconnected", "client", at(2*time.Second), at(time.Minute)), wrap("wc-x"))),
			now: later, status: reservation.StatusMissed, outcome: reservation.OutcomeNotReached, dt: "peer", wrap: "wc-x"},
		{name: "CustomerFirst not answered, no agent", c: conv(
			customer([]genesys.Callback{gone}, call("disconnected", "timeout", nil, at(20*time.Second), noAnswer)),
			acd(cb("disconnected", "peer", at(0), at(20*time.Second)))),
			now: 21 * time.Second, status: reservation.StatusMissed, outcome: reservation.OutcomeNotReached, dt: "timeout", attempts: 1},
		{name: "uncallable", c: conv(
			customer([]genesys.Callback{gone}, call("disconnected", "uncallable", nil, at(time.Second)))),
			now: later, status: reservation.StatusFailed, outcome: reservation.OutcomeFailed, dt: "uncallable", attempts: 1},
		{name: "callback in error, never dialled", c: conv(
			customer([]genesys.Callback{cb("disconnected", "error", nil, at(time.Second))})),
			now: later, status: reservation.StatusFailed, outcome: reservation.OutcomeFailed, dt: "error"},
		{name: "rescheduled after the offer", c: conv(
			customer([]genesys.Callback{{State: "scheduled", CallbackScheduledTime: at(2 * time.Hour)}}, call("disconnected", "timeout", nil, at(time.Minute))),
			acd(genesys.Callback{State: "scheduled", CallbackScheduledTime: at(2 * time.Hour)}),
			agent(cb("disconnected", "client", at(2*time.Second), at(time.Minute)), wrap("wc-no-answer"))),
			now: later, status: reservation.StatusScheduled, attempts: 1},
		{name: "the call placed on a new external participant", c: conv(
			customer([]genesys.Callback{gone}),
			genesys.Participant{Purpose: "external", Calls: []genesys.Call{call("disconnected", "endpoint", at(10*time.Second), at(time.Minute))}},
			agent(cb("disconnected", "client", at(2*time.Second), at(time.Minute)), wrap("wc-resolved"))),
			now: later, status: reservation.StatusCompleted, outcome: reservation.OutcomeReached, dt: "endpoint", wrap: "wc-resolved", attempts: 1},
		{name: "no callback communication", c: conv(genesys.Participant{Purpose: "customer", Calls: []genesys.Call{call("connected", "", at(0), nil)}}),
			now: later, attempts: 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := mapConversation(tt.c, mT0.Add(tt.now), pol)
			u := m.update
			if u.Status != tt.status || u.Outcome != tt.outcome || u.DisconnectType != tt.dt || u.WrapupCode != tt.wrap ||
				u.DialAttempts != tt.attempts || !m.waitUntil.IsZero() != tt.waits || m.unwrapped != tt.unwrapped {
				t.Errorf("got %s / %q, type %q, wrap-up %q, %d attempts, wait until %v, unwrapped %v\nwant %s / %q, type %q, wrap-up %q, %d attempts, waits %v, unwrapped %v",
					u.Status, u.Outcome, u.DisconnectType, u.WrapupCode, u.DialAttempts, m.waitUntil, m.unwrapped,
					tt.status, tt.outcome, tt.dt, tt.wrap, tt.attempts, tt.waits, tt.unwrapped)
			}
		})
	}
	// The reasons of the last call to the customer come along.
	m := mapConversation(conv(customer([]genesys.Callback{gone}, call("disconnected", "busy", nil, at(time.Second)),
		call("disconnected", "timeout", nil, at(time.Minute), noAnswer))), mT0.Add(later), pol)
	if r := m.update.DisconnectReasons; len(r) != 1 || r[0].Code != 19 || m.update.DialAttempts != 2 || m.update.DisconnectType != "timeout" {
		t.Errorf("reasons %+v, %d attempts, type %q", r, m.update.DialAttempts, m.update.DisconnectType)
	}
	// The wait ends outcome_wait after the last communication ended.
	m = mapConversation(conv(customer([]genesys.Callback{gone}, call("disconnected", "timeout", nil, at(time.Minute))),
		agent(cb("disconnected", "client", at(time.Second), at(6*time.Minute)), nil)), mT0.Add(7*time.Minute), pol)
	if !m.waitUntil.Equal(mT0.Add(8 * time.Minute)) {
		t.Errorf("wait until %v, want the last end (+6m) + 2m", m.waitUntil)
	}
}
