package gcsim

import (
	"maps"
	"slices"
	"time"
)

// phase is where a callback is in its life.
type phase int

const (
	phaseScheduled phase = iota // waiting for its scheduled time
	phaseOffering               // an agent is alerted
	phaseAccepted               // AgentFirst: the agent accepted; the call is placed after AutoDialDelay
	phaseDialing                // the customer's phone rings
	phaseTalking                // the customer's call is connected to an agent
	phaseAfterCall              // the calls ended; the agent's after-call work (wrap-up) is due
	phaseEnded                  // nothing more happens
)

// Callback modes (CallbackMediaSettings.mode).
const (
	// AgentFirst is Genesys' default: an agent accepts the callback, then
	// the customer is dialled on a voice call the callback encases.
	AgentFirst = "AgentFirst"
	// CustomerFirst dials the customer first and routes the answered call
	// to an agent.
	CustomerFirst = "CustomerFirst"
)

// Participant and communication states used by the simulator.
const (
	stateScheduled    = "scheduled"
	stateNone         = "none"
	stateAlerting     = "alerting"
	stateDialing      = "dialing"
	stateConnected    = "connected"
	stateDisconnected = "disconnected"
)

// callback is one callback conversation. Its timestamps are on the sim clock.
type callback struct {
	seq          uint64
	id           string
	queueID      string
	mode         string
	numbers      []string
	userName     string
	scheduled    time.Time // zero: placed immediately
	data         map[string]string
	callerID     string
	callerIDName string
	scriptID     string
	countryCode  string
	created      time.Time
	ended        time.Time // every communication disconnected (zero while any is active)
	phase        phase
	gen          uint64 // bumped whenever its due entry changes
	owner        string // the agent who owns it (an agent-owned callback), or ""
	// patchAgentIDs are the agentId of each accepted PATCH.
	patchAgentIDs []string
	customer      *participant
	acd           *participant
	agents        []*participant // every agent the callback was offered to, in order
	agent         *participant   // the agent now alerted or handling it
	// script is how the callback plays (nil: at random, by the answer
	// rate, at each attempt); play is the current attempt's.
	script       *Play
	play         Play
	missesLeft   int  // agents still to let the alert time out in this attempt
	noReschedule bool // a disconnect cancelled a pending reschedule
}

// dueAt returns when the callback is placed (its scheduled time, or its
// creation when none was given).
func (c *callback) dueAt() time.Time {
	if c.scheduled.IsZero() {
		return c.created
	}
	return c.scheduled
}

// participants returns the callback's participants in Genesys order: the
// customer, the ACD, then every agent offered the callback.
func (c *callback) participants() []*participant {
	return append([]*participant{c.customer, c.acd}, c.agents...)
}

// answered reports whether any call to the customer was answered.
func (c *callback) answered() bool {
	return slices.ContainsFunc(c.customer.calls, func(l *call) bool { return !l.connected.IsZero() })
}

// participant is one participant of a callback conversation: its callback
// communication (commID, state, times) and its voice calls.
type participant struct {
	id             string
	name           string
	purpose        string
	address        string
	state          string // of the callback communication
	initialState   string
	disconnectType string
	commID         string
	start          time.Time
	alerting       time.Time
	connected      time.Time
	end            time.Time
	user           *ref
	queue          *ref
	calls          []*call
	wrapup         *wrapup
	acwStart       time.Time
	acwEnd         time.Time
}

// disconnect ends the participant's callback communication.
func (p *participant) disconnect(at time.Time, disconnectType string) {
	if p.state == stateDisconnected {
		return
	}
	p.state, p.disconnectType, p.end = stateDisconnected, disconnectType, at
}

// lastCall returns the participant's latest call, or nil.
func (p *participant) lastCall() *call {
	if len(p.calls) == 0 {
		return nil
	}
	return p.calls[len(p.calls)-1]
}

// call is a voice communication.
type call struct {
	id             string
	state          string
	initialState   string
	disconnectType string
	reasons        []disconnectReason
	alerting       time.Time
	connected      time.Time
	end            time.Time
	peer           string // the communication id of the other side's call
}

// disconnect ends the call with disconnectType and reasons.
func (l *call) disconnect(at time.Time, disconnectType string, reasons ...disconnectReason) {
	if l == nil || l.state == stateDisconnected {
		return
	}
	l.state, l.disconnectType, l.end, l.reasons = stateDisconnected, disconnectType, at, reasons
}

// disconnectReason is Genesys' DisconnectReason.
type disconnectReason struct {
	Type   string `json:"type"`
	Code   int    `json:"code"`
	Phrase string `json:"phrase"`
}

// Q.850 causes the simulator reports.
var (
	q850Normal   = disconnectReason{Type: "q850", Code: 16, Phrase: "Normal call clearing"}
	q850NoAnswer = disconnectReason{Type: "q850", Code: 19, Phrase: "No answer from user (user alerted)"}
)

// wrapup is an agent's wrap-up.
type wrapup struct {
	code     WrapupCode
	duration time.Duration
	end      time.Time
}

// wrapupJSON is Genesys' Wrapup (the event model carries the code, not its
// name).
type wrapupJSON struct {
	Code            string `json:"code"`
	Name            string `json:"name,omitempty"`
	DurationSeconds int    `json:"durationSeconds"`
	EndTime         string `json:"endTime"`
}

func (w *wrapup) json(event bool) *wrapupJSON {
	if w == nil {
		return nil
	}
	out := &wrapupJSON{Code: w.code.ID, Name: w.code.Name, DurationSeconds: int(w.duration.Seconds()), EndTime: fmtTime(w.end)}
	if event {
		out.Name = ""
	}
	return out
}

// flatParticipant is a participant with its callback fields on itself: the
// CallbackMediaParticipant of GET /api/v2/conversations/callbacks/{id} and
// the participant of the queue callback notification.
type flatParticipant struct {
	ID                    string            `json:"id"`
	Name                  string            `json:"name,omitempty"`
	Address               string            `json:"address,omitempty"`
	StartTime             string            `json:"startTime,omitempty"`
	StartAlertingTime     string            `json:"startAlertingTime,omitempty"`
	ConnectedTime         string            `json:"connectedTime,omitempty"`
	EndTime               string            `json:"endTime,omitempty"`
	Purpose               string            `json:"purpose"`
	State                 string            `json:"state"`
	InitialState          string            `json:"initialState,omitempty"`
	Direction             string            `json:"direction"`
	DisconnectType        string            `json:"disconnectType,omitempty"`
	Held                  bool              `json:"held"`
	WrapupRequired        bool              `json:"wrapupRequired"`
	User                  *ref              `json:"user,omitempty"`
	Queue                 *ref              `json:"queue,omitempty"`
	Attributes            map[string]string `json:"attributes,omitempty"`
	Provider              string            `json:"provider,omitempty"`
	Wrapup                *wrapupJSON       `json:"wrapup,omitempty"`
	StartAcwTime          string            `json:"startAcwTime,omitempty"`
	EndAcwTime            string            `json:"endAcwTime,omitempty"`
	CallbackNumbers       []string          `json:"callbackNumbers,omitempty"`
	CallbackUserName      string            `json:"callbackUserName,omitempty"`
	CallbackScheduledTime string            `json:"callbackScheduledTime,omitempty"`
	SkipEnabled           bool              `json:"skipEnabled"`
	TimeoutSeconds        int               `json:"timeoutSeconds"`
	// RoutingData is set on an agent-owned callback's customer and ACD
	// participants.
	RoutingData *conversationRoutingData `json:"conversationRoutingData,omitempty"`
}

// flatConversation is CallbackConversation and the queue callback event body.
type flatConversation struct {
	ID             string            `json:"id"`
	Participants   []flatParticipant `json:"participants"`
	OtherMediaURIs []string          `json:"otherMediaUris"`
	SelfURI        string            `json:"selfUri,omitempty"`
}

// flatConversation renders the callback view: for an event on the
// callbacks topic (whose state enum has "scheduled"), or for GET (whose
// CallbackMediaParticipant state enum has none: a waiting callback reads
// "none" there). The voice call appears only in otherMediaUris.
func (c *callback) flatConversation(event bool) flatConversation {
	out := flatConversation{ID: c.id, OtherMediaURIs: []string{}}
	if len(c.customer.calls) > 0 {
		out.OtherMediaURIs = append(out.OtherMediaURIs, "/api/v2/conversations/calls/"+c.id)
	}
	for _, p := range c.participants() {
		state, initial := p.state, p.initialState
		if !event {
			state, initial = getState(state), getState(initial)
		}
		fp := flatParticipant{
			ID: p.id, Name: p.name, Address: p.address, StartTime: fmtTime(p.start),
			StartAlertingTime: fmtTime(p.alerting), ConnectedTime: fmtTime(p.connected), EndTime: fmtTime(p.end),
			Purpose: p.purpose, State: state, InitialState: initial, Direction: "outbound",
			DisconnectType: p.disconnectType, User: p.user, Queue: p.queue, Provider: "PureCloud",
			WrapupRequired: p.purpose == "agent", Wrapup: p.wrapup.json(event),
			StartAcwTime: fmtTime(p.acwStart), EndAcwTime: fmtTime(p.acwEnd),
			CallbackNumbers: slices.Clone(c.numbers), CallbackUserName: c.userName,
			CallbackScheduledTime: fmtTime(c.scheduled),
		}
		if p == c.customer {
			fp.Attributes = maps.Clone(c.data)
		}
		if c.owner != "" && p.purpose != "agent" {
			fp.RoutingData = &conversationRoutingData{Queue: c.acd.queue,
				ScoredAgents: []scoredAgent{{Agent: ref{ID: c.owner, SelfURI: "/api/v2/users/" + c.owner}, Score: 100}}}
		}
		out.Participants = append(out.Participants, fp)
	}
	return out
}

// getState is how the GET callback view reports a state: its enum has no
// "scheduled" (what Genesys reports for a waiting callback is
// UNCONFIRMED; the simulator says "none").
func getState(s string) string {
	if s == stateScheduled {
		return stateNone
	}
	return s
}

// conversationParticipant is the generic Participant with its callbacks[]
// and calls[] (GET /api/v2/conversations/{id}), and the participant of the
// v2.routing.queues.{id}.conversations event, which has no startTime.
type conversationParticipant struct {
	ID             string            `json:"id"`
	Name           string            `json:"name,omitempty"`
	Address        string            `json:"address,omitempty"`
	StartTime      string            `json:"startTime,omitempty"`
	EndTime        string            `json:"endTime,omitempty"`
	ConnectedTime  string            `json:"connectedTime,omitempty"`
	Purpose        string            `json:"purpose"`
	UserID         string            `json:"userId,omitempty"`
	QueueID        string            `json:"queueId,omitempty"`
	QueueName      string            `json:"queueName,omitempty"`
	WrapupRequired bool              `json:"wrapupRequired"`
	Wrapup         *wrapupJSON       `json:"wrapup,omitempty"`
	StartAcwTime   string            `json:"startAcwTime,omitempty"`
	EndAcwTime     string            `json:"endAcwTime,omitempty"`
	Attributes     map[string]string `json:"attributes"`
	Calls          []callComm        `json:"calls"`
	Callbacks      []callbackComm    `json:"callbacks"`
}

// callbackComm is Genesys' Callback model.
type callbackComm struct {
	State                 string      `json:"state"`
	InitialState          string      `json:"initialState,omitempty"`
	ID                    string      `json:"id"`
	Direction             string      `json:"direction"`
	Held                  bool        `json:"held"`
	DisconnectType        string      `json:"disconnectType,omitempty"`
	CallbackNumbers       []string    `json:"callbackNumbers"`
	CallbackUserName      string      `json:"callbackUserName,omitempty"`
	ScriptID              string      `json:"scriptId,omitempty"`
	SkipEnabled           bool        `json:"skipEnabled"`
	TimeoutSeconds        int         `json:"timeoutSeconds"`
	StartAlertingTime     string      `json:"startAlertingTime,omitempty"`
	ConnectedTime         string      `json:"connectedTime,omitempty"`
	DisconnectedTime      string      `json:"disconnectedTime,omitempty"`
	CallbackScheduledTime string      `json:"callbackScheduledTime,omitempty"`
	Provider              string      `json:"provider"`
	CallerID              string      `json:"callerId,omitempty"`
	CallerIDName          string      `json:"callerIdName,omitempty"`
	Wrapup                *wrapupJSON `json:"wrapup,omitempty"`
}

// callComm is Genesys' Call model (and QueueConversationEventTopicCall).
type callComm struct {
	State             string             `json:"state"`
	InitialState      string             `json:"initialState,omitempty"`
	ID                string             `json:"id"`
	Direction         string             `json:"direction"`
	Recording         bool               `json:"recording"`
	Held              bool               `json:"held"`
	DisconnectType    string             `json:"disconnectType,omitempty"`
	DisconnectReasons []disconnectReason `json:"disconnectReasons,omitempty"`
	StartAlertingTime string             `json:"startAlertingTime,omitempty"`
	ConnectedTime     string             `json:"connectedTime,omitempty"`
	DisconnectedTime  string             `json:"disconnectedTime,omitempty"`
	Provider          string             `json:"provider"`
	PeerID            string             `json:"peerId,omitempty"`
	Wrapup            *wrapupJSON        `json:"wrapup,omitempty"`
}

// conversation is the generic Conversation and the
// v2.routing.queues.{id}.conversations event body (which has no startTime
// or endTime).
type conversation struct {
	ID             string                    `json:"id"`
	StartTime      string                    `json:"startTime,omitempty"`
	EndTime        string                    `json:"endTime,omitempty"`
	Participants   []conversationParticipant `json:"participants"`
	RecordingState string                    `json:"recordingState"`
	Divisions      []any                     `json:"divisions,omitempty"`
	SelfURI        string                    `json:"selfUri,omitempty"`
}

// conversation renders the generic view, for GET or (event) for the
// v2.routing.queues.{id}.conversations topic.
func (c *callback) conversation(event bool) conversation {
	out := conversation{ID: c.id, RecordingState: "none"}
	if !event {
		out.StartTime, out.EndTime = fmtTime(c.created), fmtTime(c.ended)
		out.Divisions, out.SelfURI = []any{}, "/api/v2/conversations/"+c.id
	}
	for _, p := range c.participants() {
		cp := conversationParticipant{
			ID: p.id, Name: p.name, Address: p.address, EndTime: fmtTime(p.end),
			ConnectedTime: fmtTime(p.connected), Purpose: p.purpose, Attributes: map[string]string{},
			WrapupRequired: p.purpose == "agent", Wrapup: p.wrapup.json(event),
			StartAcwTime: fmtTime(p.acwStart), EndAcwTime: fmtTime(p.acwEnd),
			Calls: []callComm{},
			Callbacks: []callbackComm{{
				State: p.state, InitialState: p.initialState, ID: p.commID, Direction: "outbound",
				DisconnectType: p.disconnectType, CallbackNumbers: slices.Clone(c.numbers),
				CallbackUserName: c.userName, ScriptID: c.scriptID, StartAlertingTime: fmtTime(p.alerting),
				ConnectedTime: fmtTime(p.connected), DisconnectedTime: fmtTime(p.end),
				CallbackScheduledTime: fmtTime(c.scheduled), Provider: "PureCloud",
				CallerID: c.callerID, CallerIDName: c.callerIDName, Wrapup: p.wrapup.json(event),
			}},
		}
		if !event {
			cp.StartTime = fmtTime(p.start)
		}
		for _, l := range p.calls {
			cc := callComm{
				State: l.state, InitialState: l.initialState, ID: l.id, Direction: "outbound",
				DisconnectType: l.disconnectType, DisconnectReasons: l.reasons,
				ConnectedTime: fmtTime(l.connected), DisconnectedTime: fmtTime(l.end),
				Provider: "Edge", PeerID: l.peer, Wrapup: p.wrapup.json(event),
			}
			if !event {
				cc.StartAlertingTime = fmtTime(l.alerting)
			}
			cp.Calls = append(cp.Calls, cc)
		}
		if p.user != nil {
			cp.UserID = p.user.ID
		}
		if p.queue != nil {
			cp.QueueID = p.queue.ID
			if !event {
				cp.QueueName = p.queue.Name
			}
		}
		if p == c.customer && c.data != nil {
			cp.Attributes = maps.Clone(c.data)
		}
		out.Participants = append(out.Participants, cp)
	}
	return out
}
