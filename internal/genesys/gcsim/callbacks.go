package gcsim

import (
	"errors"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"time"
)

// DefaultDisconnectDelay is Options.DisconnectDelay's default: how long a
// bulk disconnect takes to apply after its 202.
const DefaultDisconnectDelay = 500 * time.Millisecond

// CallbackInfo describes a callback for tests and the admin API.
type CallbackInfo struct {
	ConversationID   string            `json:"conversationId"`
	QueueID          string            `json:"queueId"`
	CallbackNumbers  []string          `json:"callbackNumbers"`
	CallbackUserName string            `json:"callbackUserName,omitempty"`
	ScheduledTime    time.Time         `json:"callbackScheduledTime"` // when it is placed (creation time if none was given)
	Data             map[string]string `json:"data,omitempty"`
	// State is the customer's callback communication's state, "scheduled"
	// included (the simulator's own view, not the GET model's).
	State string `json:"state"`
	// Mode is the queue's callback mode, AgentFirst or CustomerFirst.
	Mode string `json:"mode"`
	// Answered says the customer's call was answered at some attempt (by
	// the customer or a voicemail).
	Answered bool `json:"answered"`
	// DialAttempts counts the calls placed to the customer.
	DialAttempts int `json:"dialAttempts"`
	// AgentsOffered counts the agents the callback was offered to.
	AgentsOffered int `json:"agentsOffered"`
	// WrapupCode is the id of the last wrap-up code an agent gave.
	WrapupCode     string    `json:"wrapupCode,omitempty"`
	DisconnectType string    `json:"disconnectType,omitempty"`
	Created        time.Time `json:"created"`
	Ended          time.Time `json:"ended,omitzero"`
	ACDID          string    `json:"acdId"`      // the ACD callback identifier
	ExternalID     string    `json:"externalId"` // the EXTERNAL callback identifier
	// Owner is the agent who owns the callback (routingData.scoredAgents
	// on create, or SetOwner), or "".
	Owner string `json:"owner,omitempty"`
	// PatchAgentIDs are the agentId of each PATCH that changed the
	// callback, in order ("" for one sent without).
	PatchAgentIDs []string `json:"patchAgentIds,omitempty"`
}

// Callbacks returns every callback ever created, in creation order.
func (s *Sim) Callbacks() []CallbackInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]CallbackInfo, 0, len(s.callbackOrder))
	for _, c := range s.callbackOrder {
		info := CallbackInfo{
			ConversationID: c.id, QueueID: c.queueID, CallbackNumbers: slices.Clone(c.numbers),
			CallbackUserName: c.userName, ScheduledTime: c.dueAt(), Data: maps.Clone(c.data),
			State: c.customer.state, Mode: c.mode, Answered: c.answered(), DialAttempts: len(c.customer.calls),
			AgentsOffered: len(c.agents), DisconnectType: c.customer.disconnectType,
			Created: c.created, Ended: c.ended, ACDID: c.acd.commID, ExternalID: c.customer.commID,
			Owner: c.owner, PatchAgentIDs: slices.Clone(c.patchAgentIDs),
		}
		for _, a := range c.agents {
			if a.wrapup != nil {
				info.WrapupCode = a.wrapup.code.ID
			}
		}
		out = append(out, info)
	}
	return out
}

// routingData is the part of RoutingData the simulator reads.
type routingData struct {
	QueueID      string        `json:"queueId"`
	ScoredAgents []scoredAgent `json:"scoredAgents,omitempty"`
}

// scoredAgent is RoutingData's scored agent: an agent-owned callback has
// one, with score 100.
type scoredAgent struct {
	Agent ref `json:"agent"`
	Score int `json:"score"`
}

// conversationRoutingData is a participant's conversationRoutingData.
type conversationRoutingData struct {
	Queue        *ref          `json:"queue,omitempty"`
	ScoredAgents []scoredAgent `json:"scoredAgents"`
}

// createCallbackCommand is Genesys' CreateCallbackCommand.
type createCallbackCommand struct {
	ScriptID                string            `json:"scriptId"`
	QueueID                 string            `json:"queueId"`
	RoutingData             *routingData      `json:"routingData"`
	CallbackUserName        string            `json:"callbackUserName"`
	CallbackNumbers         []string          `json:"callbackNumbers"`
	CallbackScheduledTime   string            `json:"callbackScheduledTime"`
	CountryCode             string            `json:"countryCode"`
	ValidateCallbackNumbers bool              `json:"validateCallbackNumbers"`
	Data                    map[string]string `json:"data"`
	CallerID                string            `json:"callerId"`
	CallerIDName            string            `json:"callerIdName"`
}

// callbackResponse is CreateCallbackResponse and PatchCallbackResponse.
type callbackResponse struct {
	Conversation        ref                  `json:"conversation"`
	CallbackIdentifiers []callbackIdentifier `json:"callbackIdentifiers"`
}

type callbackIdentifier struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

func (c *callback) response() callbackResponse {
	return callbackResponse{
		Conversation: ref{ID: c.id, SelfURI: "/api/v2/conversations/" + c.id},
		CallbackIdentifiers: []callbackIdentifier{
			{Type: "ACD", ID: c.acd.commID},
			{Type: "EXTERNAL", ID: c.customer.commID},
		},
	}
}

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{1,14}$`)

// handleCreateCallback serves POST /api/v2/conversations/callbacks.
func (s *Sim) handleCreateCallback(w http.ResponseWriter, r *http.Request) {
	var cmd createCallbackCommand
	if !decodeJSON(w, r, &cmd) {
		return
	}
	queueID := cmd.QueueID
	if queueID == "" && cmd.RoutingData != nil {
		queueID = cmd.RoutingData.QueueID
	}
	if queueID == "" {
		writeError(w, http.StatusBadRequest, "bad.request", "A queueId or routingData.queueId is required.")
		return
	}
	var owner string
	if cmd.RoutingData != nil {
		best := 0
		for _, a := range cmd.RoutingData.ScoredAgents {
			if a.Agent.ID != "" && (owner == "" || a.Score > best) {
				owner, best = a.Agent.ID, a.Score
			}
		}
	}
	if msg := validateNumbers(cmd.CallbackNumbers, cmd.ValidateCallbackNumbers); msg != "" {
		writeError(w, http.StatusBadRequest, "bad.request", msg)
		return
	}
	var scheduled time.Time
	if cmd.CallbackScheduledTime != "" {
		t, err := parseTime(cmd.CallbackScheduledTime)
		if err != nil {
			writeError(w, http.StatusBadRequest, "bad.request", "callbackScheduledTime must be an ISO-8601 date-time, e.g. 2026-06-01T14:30:00.000Z.")
			return
		}
		scheduled = t
	}

	s.respond(w, func() reply {
		q, ok := s.queues[queueID]
		if !ok {
			return errorReply(http.StatusBadRequest, "bad.request", "The queue "+queueID+" does not exist.")
		}
		now := s.clock.Now()
		s.seq++
		c := &callback{
			seq: s.seq, id: newUUID(), queueID: q.ID, mode: q.CallbackMode, numbers: slices.Clone(cmd.CallbackNumbers),
			userName: cmd.CallbackUserName, scheduled: scheduled, data: maps.Clone(cmd.Data),
			callerID: cmd.CallerID, callerIDName: cmd.CallerIDName, scriptID: cmd.ScriptID,
			countryCode: cmd.CountryCode, created: now, owner: owner,
		}
		if c.callerID == "" {
			c.callerID = q.CallingPartyNumber
		}
		c.customer = &participant{
			id: newUUID(), name: cmd.CallbackUserName, purpose: "customer", address: "tel:" + c.numbers[0],
			state: stateScheduled, initialState: stateScheduled, commID: newUUID(), start: now,
		}
		c.acd = &participant{
			id: newUUID(), name: q.Name, purpose: "acd", state: stateScheduled, initialState: stateScheduled,
			commID: newUUID(), start: now, queue: &ref{ID: q.ID, Name: q.Name, SelfURI: "/api/v2/routing/queues/" + q.ID},
		}
		c.script = s.nextScriptLocked()
		s.callbacks[c.id] = c
		s.callbackOrder = append(s.callbackOrder, c)
		s.commIndex[c.acd.commID] = c
		s.commIndex[c.customer.commID] = c
		s.scheduleLocked(c, c.dueAt())
		s.publishLocked(c)
		return jsonReply(http.StatusOK, c.response())
	})
}

// validateNumbers returns what is wrong with callbackNumbers, or "".
func validateNumbers(numbers []string, strict bool) string {
	if len(numbers) == 0 {
		return "callbackNumbers is required and must not be empty."
	}
	for _, n := range numbers {
		if n == "" {
			return "callbackNumbers must not contain an empty number."
		}
		if strict && !e164.MatchString(n) {
			return "The callback number " + n + " is not a valid E.164 number."
		}
	}
	return ""
}

// patchCallbackRequest is Genesys' PatchCallbackRequest.
type patchCallbackRequest struct {
	ConversationID          string   `json:"conversationId"`
	AgentID                 string   `json:"agentId"`
	QueueID                 string   `json:"queueId"`
	CallbackScheduledTime   string   `json:"callbackScheduledTime"`
	CountryCode             string   `json:"countryCode"`
	CallbackNumbers         []string `json:"callbackNumbers"`
	ValidateCallbackNumbers bool     `json:"validateCallbackNumbers"`
}

// handlePatchCallback serves PATCH /api/v2/conversations/callbacks: update
// a callback that is still scheduled. agentId is required only when
// RequireAgentID is set; when given it must be an agent of the
// organization, and for an agent-owned callback its owner.
func (s *Sim) handlePatchCallback(w http.ResponseWriter, r *http.Request) {
	var req patchCallbackRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	if req.ConversationID == "" {
		writeError(w, http.StatusBadRequest, "bad.request", "conversationId is required.")
		return
	}
	var scheduled time.Time
	if req.CallbackScheduledTime != "" {
		t, err := parseTime(req.CallbackScheduledTime)
		if err != nil {
			writeError(w, http.StatusBadRequest, "bad.request", "callbackScheduledTime must be an ISO-8601 date-time, e.g. 2026-06-01T14:30:00.000Z.")
			return
		}
		scheduled = t
	}
	if req.CallbackNumbers != nil {
		if msg := validateNumbers(req.CallbackNumbers, req.ValidateCallbackNumbers); msg != "" {
			writeError(w, http.StatusBadRequest, "bad.request", msg)
			return
		}
	}
	s.respond(w, func() reply {
		c, ok := s.callbacks[req.ConversationID]
		if !ok {
			return errorReply(http.StatusNotFound, "not.found", "The conversation "+req.ConversationID+" was not found.")
		}
		if c.phase != phaseScheduled {
			return errorReply(http.StatusBadRequest, "bad.request", "The callback is no longer scheduled and cannot be updated.")
		}
		if rp, bad := s.checkAgentLocked(c, req.AgentID); bad {
			return rp
		}
		var q Queue
		if req.QueueID != "" {
			if q, ok = s.queues[req.QueueID]; !ok {
				return errorReply(http.StatusBadRequest, "bad.request", "The queue "+req.QueueID+" does not exist.")
			}
		}
		oldQueue := c.queueID
		if q.ID != "" && q.ID != c.queueID {
			c.queueID = q.ID
			c.acd.name = q.Name
			c.acd.queue = &ref{ID: q.ID, Name: q.Name, SelfURI: "/api/v2/routing/queues/" + q.ID}
		}
		if req.CallbackNumbers != nil {
			c.numbers = slices.Clone(req.CallbackNumbers)
			c.customer.address = "tel:" + c.numbers[0]
		}
		if req.CountryCode != "" {
			c.countryCode = req.CountryCode
		}
		if !scheduled.IsZero() {
			c.scheduled = scheduled
			s.scheduleLocked(c, c.dueAt())
		}
		c.patchAgentIDs = append(c.patchAgentIDs, req.AgentID)
		if oldQueue != c.queueID {
			s.publishToLocked(oldQueue, c)
		}
		s.publishLocked(c)
		return jsonReply(http.StatusOK, c.response())
	})
}

// checkAgentLocked judges a PATCH's agentId for c: the refusal, and true,
// when it is missing (RequireAgentID), unknown, or not c's owner.
func (s *Sim) checkAgentLocked(c *callback, agentID string) (reply, bool) {
	switch {
	case agentID == "" && s.requireAgentID:
		return fieldErrorReply(http.StatusBadRequest, "bad.request", "The agentId field is required.", "agentId", "required"), true
	case agentID == "":
		return reply{}, false
	case !slices.ContainsFunc(s.agents, func(a ref) bool { return a.ID == agentID }):
		return fieldErrorReply(http.StatusBadRequest, "bad.request", "The agentId "+agentID+" is not a user of this organization.", "agentId", "invalid"), true
	case c.owner != "" && agentID != c.owner:
		return fieldErrorReply(http.StatusBadRequest, "bad.request", "The callback is owned by another agent than "+agentID+".", "agentId", "invalid"), true
	}
	return reply{}, false
}

// bulkDisconnectRequest is BulkCallbackDisconnectRequest.
type bulkDisconnectRequest struct {
	CallbackDisconnectIdentifiers []struct {
		ConversationID string `json:"conversationId"`
		CallbackID     string `json:"callbackId"`
	} `json:"callbackDisconnectIdentifiers"`
}

// handleBulkDisconnect serves POST
// /api/v2/conversations/callbacks/bulk/disconnect. callbackId may be the ACD
// or the EXTERNAL callback identifier (the participants' callback
// communication ids). The whole request is checked before anything is
// disconnected; callbacks already disconnected are left alone. The 202
// comes first: the disconnect applies DisconnectDelay later, or never when
// DropDisconnects says so.
func (s *Sim) handleBulkDisconnect(w http.ResponseWriter, r *http.Request) {
	var req bulkDisconnectRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	if len(req.CallbackDisconnectIdentifiers) == 0 {
		writeError(w, http.StatusBadRequest, "bad.request", "callbackDisconnectIdentifiers is required and must not be empty.")
		return
	}
	s.respond(w, func() reply {
		var todo []*callback
		for _, id := range req.CallbackDisconnectIdentifiers {
			if id.ConversationID == "" || id.CallbackID == "" {
				return errorReply(http.StatusBadRequest, "bad.request", "Each callback disconnect identifier needs a conversationId and a callbackId.")
			}
			c, ok := s.callbacks[id.ConversationID]
			if !ok {
				return errorReply(http.StatusNotFound, "not.found", "The conversation "+id.ConversationID+" was not found.")
			}
			if s.commIndex[id.CallbackID] != c {
				return errorReply(http.StatusBadRequest, "bad.request", "The callback "+id.CallbackID+" does not belong to the conversation "+c.id+".")
			}
			todo = append(todo, c)
		}
		switch {
		case s.dropDisconnects > 0:
			s.dropDisconnects--
			s.logger.Debug("gcsim: a bulk disconnect is accepted and will never apply", "callbacks", len(todo))
		case s.opts.DisconnectDelay <= 0:
			for _, c := range todo {
				s.disconnectLocked(c, "client")
			}
		default:
			s.disconnectLaterLocked(todo, s.opts.DisconnectDelay)
		}
		return jsonReply(http.StatusAccepted, nil)
	})
}

// disconnectLaterLocked disconnects cs after d of real time, in a
// goroutine owned by the Sim (Close waits for it or ends it).
func (s *Sim) disconnectLaterLocked(cs []*callback, d time.Duration) {
	if s.closed {
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-s.ctx.Done():
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, c := range cs {
			s.disconnectLocked(c, "client")
		}
	}()
}

// DropDisconnects makes the next n disconnect requests of the API (bulk
// disconnect, or PATCH callbacks/{id} with state disconnected) be accepted
// and never applied: the bulk disconnect still answers 202, the PATCH 200
// with the conversation as it is. Each request takes one, whatever it
// names.
func (s *Sim) DropDisconnects(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropDisconnects = max(n, 0)
}

// SetRequireAgentID sets Options.RequireAgentID from now on.
func (s *Sim) SetRequireAgentID(required bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requireAgentID = required
}

// SetOwner makes a callback agent-owned by agentID (one of the
// simulator's agents, AgentIDs), as an agent taking it in Genesys would;
// "" makes it a queue callback again. It returns ErrNotFound for an
// unknown conversation or agent.
func (s *Sim) SetOwner(conversationID, agentID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.callbacks[conversationID]
	if !ok || (agentID != "" && !slices.ContainsFunc(s.agents, func(a ref) bool { return a.ID == agentID })) {
		return ErrNotFound
	}
	c.owner = agentID
	s.publishLocked(c)
	return nil
}

// AgentIDs returns the ids of the simulator's agents (users).
func (s *Sim) AgentIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, len(s.agents))
	for i, a := range s.agents {
		out[i] = a.ID
	}
	return out
}

// handleDisconnectConversation serves PATCH
// /api/v2/conversations/callbacks/{conversationId} with {"state":
// "disconnected"}, the only update Genesys allows.
func (s *Sim) handleDisconnectConversation(w http.ResponseWriter, r *http.Request) {
	var req struct {
		State string `json:"state"`
	}
	if !decodeJSON(w, r, &req) {
		return
	}
	if req.State != stateDisconnected {
		writeError(w, http.StatusBadRequest, "bad.request", `The only state allowed on update is "disconnected".`)
		return
	}
	s.respond(w, func() reply {
		c, ok := s.callbacks[r.PathValue("conversationId")]
		if !ok {
			return errorReply(http.StatusNotFound, "not.found", "The conversation was not found.")
		}
		if s.dropDisconnects > 0 {
			s.dropDisconnects--
			s.logger.Debug("gcsim: a conversation disconnect is answered and not applied", "conversation_id", c.id)
		} else {
			s.disconnectLocked(c, "client")
		}
		return jsonReply(http.StatusOK, c.conversation(false))
	})
}

// handleGetCallbackConversation serves GET
// /api/v2/conversations/callbacks/{conversationId}: the callback
// communications only (CallbackMediaParticipant, whose state has no
// "scheduled"), the voice call listed in otherMediaUris.
func (s *Sim) handleGetCallbackConversation(w http.ResponseWriter, r *http.Request) {
	s.respond(w, func() reply {
		c, ok := s.callbacks[r.PathValue("conversationId")]
		if !ok {
			return errorReply(http.StatusNotFound, "not.found", "The conversation was not found.")
		}
		body := c.flatConversation(false)
		body.SelfURI = "/api/v2/conversations/callbacks/" + c.id
		return jsonReply(http.StatusOK, body)
	})
}

// handleGetConversation serves GET /api/v2/conversations/{conversationId}:
// every participant with its callbacks[] and calls[].
func (s *Sim) handleGetConversation(w http.ResponseWriter, r *http.Request) {
	s.respond(w, func() reply {
		c, ok := s.callbacks[r.PathValue("conversationId")]
		if !ok {
			if in, ok := s.inbound[r.PathValue("conversationId")]; ok {
				return jsonReply(http.StatusOK, in.conversation(false))
			}
			return errorReply(http.StatusNotFound, "not.found", "The conversation was not found.")
		}
		return jsonReply(http.StatusOK, c.conversation(false))
	})
}

// ErrNotFound is returned by Reschedule and Disconnect for an unknown
// conversation id.
var ErrNotFound = errors.New("gcsim: conversation not found")

// ErrNotScheduled is returned by Reschedule when the callback is no longer
// scheduled (dialing, connected or disconnected).
var ErrNotScheduled = errors.New("gcsim: callback is no longer scheduled")
