package gcsim

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"time"
)

// InboundCall is an inbound voice call a customer places to a queue, for
// PlayInbound and POST /sim/inbound-calls.
type InboundCall struct {
	// QueueID is the queue the call waits in (a known queue; default the
	// first).
	QueueID string `json:"queueId"`
	// From is the customer's number (E.164, "+1…"), the call's ANI. The
	// simulator writes it as "tel:+1…" on the customer participant's
	// address and ani; which form Genesys shows there is UNCONFIRMED.
	From string `json:"from"`
	// Answered says an agent of the queue takes the call: the agent
	// participant gets a connectedTime. A call not answered is abandoned
	// in the queue (the customer hangs up) and never has an agent.
	Answered bool `json:"answered"`
}

// ErrBadInbound is returned by PlayInbound for a call without a number
// or on an unknown queue.
var ErrBadInbound = errors.New("gcsim: an inbound call needs a number and a known queue")

// inbound is one inbound voice conversation: its customer, the queue's ACD
// leg and, answered, the agent; times are on the sim clock.
type inbound struct {
	id           string
	queueID      string
	from         string
	created      time.Time
	ended        time.Time
	participants []*inboundParticipant
}

type inboundParticipant struct {
	id        string
	purpose   string
	name      string
	address   string
	queue     *ref
	user      *ref
	start     time.Time
	connected time.Time
	end       time.Time
	callID    string
	state     string
	direction string
	discType  string
}

// PlayInbound plays an inbound call at the clock's current time: the
// customer calls from call.From into the queue, the ACD leg connects, and
// either an agent connects (Answered) or the customer hangs up in the
// queue. Each step is published on the queue's conversations topic
// (v2.routing.queues.{id}.conversations, the generic conversation with
// calls[]), and the conversation is served by GET
// /api/v2/conversations/{id} afterwards. An answered call stays
// connected. It returns the conversation id.
func (s *Sim) PlayInbound(call InboundCall) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if call.QueueID == "" {
		call.QueueID = s.firstQueueLocked()
	}
	q, ok := s.queues[call.QueueID]
	from := strings.TrimPrefix(call.From, "tel:")
	if !ok || from == "" {
		return "", ErrBadInbound
	}
	now := s.clock.Now()
	tel := "tel:" + from
	c := &inbound{id: newUUID(), queueID: q.ID, from: from, created: now}
	qref := &ref{ID: q.ID, Name: q.Name, SelfURI: "/api/v2/routing/queues/" + q.ID}
	customer := &inboundParticipant{id: newUUID(), purpose: "customer", address: tel, start: now, connected: now,
		callID: newUUID(), state: stateConnected, direction: "inbound"}
	acd := &inboundParticipant{id: newUUID(), purpose: "acd", name: q.Name, address: tel, queue: qref, start: now,
		connected: now, callID: newUUID(), state: stateConnected, direction: "inbound"}
	c.participants = []*inboundParticipant{customer, acd}
	if s.inbound == nil {
		s.inbound = map[string]*inbound{}
	}
	s.inbound[c.id] = c
	s.inboundOrder = append(s.inboundOrder, c)
	s.publishInboundLocked(c) // waiting in the queue
	if !call.Answered {
		customer.end, customer.state, customer.discType = now, stateDisconnected, "endpoint"
		acd.end, acd.state, acd.discType = now, stateDisconnected, "peer"
		c.ended = now
		s.publishInboundLocked(c)
		return c.id, nil
	}
	agent := ref{ID: newUUID(), Name: "Sim Agent"}
	if len(s.agents) > 0 {
		agent = s.agents[len(s.inboundOrder)%len(s.agents)]
	}
	acd.end, acd.state, acd.discType = now, stateDisconnected, "transfer"
	c.participants = append(c.participants, &inboundParticipant{id: newUUID(), purpose: "agent", name: agent.Name,
		address: "sip:" + agent.ID, queue: qref, user: &ref{ID: agent.ID, Name: agent.Name, SelfURI: "/api/v2/users/" + agent.ID},
		start: now, connected: now, callID: newUUID(), state: stateConnected, direction: "inbound"})
	s.publishInboundLocked(c)
	return c.id, nil
}

// firstQueueLocked returns the id of the first configured queue.
func (s *Sim) firstQueueLocked() string {
	if len(s.opts.Queues) > 0 {
		return s.opts.Queues[0].ID
	}
	return DefaultQueueID
}

// inboundParticipantJSON is conversationParticipant with the ANI and DNIS
// the generic Participant has (GET only).
type inboundParticipantJSON struct {
	conversationParticipant
	Ani  string `json:"ani,omitempty"`
	Dnis string `json:"dnis,omitempty"`
}

type inboundConversationJSON struct {
	ID             string                   `json:"id"`
	StartTime      string                   `json:"startTime,omitempty"`
	EndTime        string                   `json:"endTime,omitempty"`
	Participants   []inboundParticipantJSON `json:"participants"`
	RecordingState string                   `json:"recordingState"`
	Divisions      []any                    `json:"divisions,omitempty"`
	SelfURI        string                   `json:"selfUri,omitempty"`
}

// conversation renders the generic view of an inbound call: for GET, or
// (event) for the queue's conversations topic, which has no start and end
// times and no ani.
func (c *inbound) conversation(event bool) inboundConversationJSON {
	out := inboundConversationJSON{ID: c.id, RecordingState: "none"}
	if !event {
		out.StartTime, out.EndTime = fmtTime(c.created), fmtTime(c.ended)
		out.Divisions, out.SelfURI = []any{}, "/api/v2/conversations/"+c.id
	}
	for _, p := range c.participants {
		cp := inboundParticipantJSON{conversationParticipant: conversationParticipant{
			ID: p.id, Name: p.name, Address: p.address, EndTime: fmtTime(p.end), ConnectedTime: fmtTime(p.connected),
			Purpose: p.purpose, Attributes: map[string]string{}, WrapupRequired: p.purpose == "agent",
			Calls: []callComm{{
				State: p.state, ID: p.callID, Direction: p.direction, DisconnectType: p.discType,
				ConnectedTime: fmtTime(p.connected), DisconnectedTime: fmtTime(p.end), Provider: "Edge",
			}},
			Callbacks: []callbackComm{},
		}}
		if !event {
			cp.StartTime = fmtTime(p.start)
			if p.purpose == "customer" {
				cp.Ani = p.address
			}
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
		out.Participants = append(out.Participants, cp)
	}
	return out
}

// publishInboundLocked sends c's snapshot to every connected channel
// subscribed to its queue's conversations topic.
func (s *Sim) publishInboundLocked(c *inbound) {
	now := time.Now()
	topic := conversationsTopic(c.queueID)
	var frame []byte
	for _, ch := range s.channels {
		if ch.sock == nil || !ch.topicSet[topic] || !now.Before(ch.expires) {
			continue
		}
		if frame == nil {
			frame = encode(notification{TopicName: topic, Version: "2", EventBody: c.conversation(true),
				Metadata: &metadata{CorrelationID: newUUID()}})
		}
		ch.sock.enqueue(frame)
	}
}

// InboundCalls returns the ids of the inbound calls played, in order.
func (s *Sim) InboundCalls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, len(s.inboundOrder))
	for i, c := range s.inboundOrder {
		out[i] = c.id
	}
	return out
}

// handleAdminInboundCall serves POST /sim/inbound-calls: an InboundCall,
// e.g. {"queueId":"…","from":"+14155550100","answered":true}; 201 with
// {"conversationId":"…"}.
func (s *Sim) handleAdminInboundCall(w http.ResponseWriter, r *http.Request) {
	var call InboundCall
	if !decodeJSON(w, r, &call) {
		return
	}
	id, err := s.PlayInbound(call)
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad.request", fmt.Sprintf("%v (from %q, queueId %q)", err, call.From, call.QueueID))
		return
	}
	writeJSON(w, http.StatusCreated, map[string]string{"conversationId": id})
}

// rows returns c's conversation row and its segment rows for analytics:
// voice segments, inbound, with the queue and the customer's number as
// ani (tel: the "tel:+1…" form, else "+1…"; which one Genesys holds is
// UNCONFIRMED).
func (c *inbound) rows(tel bool) (row, []row) {
	base := row{}
	base.add("conversationId", c.id)
	base.add("conversationStart", fmtTime(c.created))
	base.add("conversationEnd", fmtTime(c.ended))
	conv := maps.Clone(base)
	var segs []row
	for _, p := range c.participants {
		seg := maps.Clone(base)
		seg.add("mediaType", "voice")
		seg.add("direction", "inbound")
		seg.add("ani", c.ani(tel))
		seg.add("purpose", p.purpose)
		seg.add("disconnectType", p.discType)
		seg.add("participantId", p.id)
		seg.add("sessionId", p.callID)
		if p.queue != nil {
			seg.add("queueId", p.queue.ID)
		}
		if p.user != nil {
			seg.add("userId", p.user.ID)
		}
		segs = append(segs, seg)
		for k, v := range seg {
			if !strings.HasPrefix(k, "conversation") {
				conv.add(k, v...)
			}
		}
	}
	return conv, segs
}

func (c *inbound) ani(tel bool) string {
	if tel {
		return "tel:" + c.from
	}
	return c.from
}

// analytics renders c as AnalyticsConversationWithoutAttributes.
func (c *inbound) analytics(tel bool) analyticsConversation {
	out := analyticsConversation{ConversationID: c.id, ConversationStart: fmtTime(c.created), ConversationEnd: fmtTime(c.ended),
		OriginatingDirection: "inbound", DivisionIDs: []string{}}
	for _, p := range c.participants {
		ap := analyticsParticipant{ParticipantID: p.id, ParticipantName: p.name, Purpose: p.purpose}
		if p.user != nil {
			ap.UserID = p.user.ID
		}
		seg := analyticSegment{SegmentStart: fmtTime(p.start), SegmentEnd: fmtTime(p.end), SegmentType: "interact",
			DisconnectType: p.discType}
		if p.queue != nil {
			seg.QueueID = p.queue.ID
		}
		ap.Sessions = []analyticsSession{{SessionID: p.callID, MediaType: "voice", Direction: "inbound",
			CallbackNumbers: []string{}, Segments: []analyticSegment{seg}}}
		out.Participants = append(out.Participants, ap)
	}
	return out
}

// inboundHitsLocked returns the inbound calls that match q, started on a
// day in [dayFrom, dayTo) and indexed by indexed, and how many more match
// but are not indexed yet.
func (s *Sim) inboundHitsLocked(q conversationQuery, dayFrom, dayTo, indexed time.Time, tel bool) ([]analyticsConversation, int) {
	var out []analyticsConversation
	pending := 0
	for _, c := range s.inboundOrder {
		if c.created.Before(dayFrom) || !c.created.Before(dayTo) {
			continue
		}
		conv, segs := c.rows(tel)
		if !allMatch(q.ConversationFilters, []row{conv}) || !allMatch(q.SegmentFilters, segs) {
			continue
		}
		if c.created.After(indexed) {
			pending++
			continue
		}
		out = append(out, c.analytics(tel))
	}
	return out, pending
}
