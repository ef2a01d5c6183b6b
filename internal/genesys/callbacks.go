package genesys

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Callback identifier types (CallbackIdentifier.Type).
const (
	IdentifierACD      = "ACD"
	IdentifierExternal = "EXTERNAL"
	IdentifierDialer   = "DIALER"
)

// CreateCallbackRequest is the body of POST /api/v2/conversations/callbacks
// (Genesys' CreateCallbackCommand).
type CreateCallbackRequest struct {
	// QueueID is the Genesys queue (queueId). Required.
	QueueID string
	// ScriptID is the script the agent sees (scriptId).
	ScriptID string
	// CallbackUserName is the name of the person to call back.
	CallbackUserName string
	// CallbackNumbers are the numbers to dial, E.164. At least one.
	CallbackNumbers []string
	// CallbackScheduledTime is when Genesys routes the callback, sent in
	// UTC as "2006-01-02T15:04:05.000Z"; zero omits it (an immediate
	// callback).
	CallbackScheduledTime time.Time
	// CountryCode is the country used to interpret the numbers.
	CountryCode string
	// ValidateCallbackNumbers asks Genesys to check the numbers' format.
	ValidateCallbackNumbers *bool
	// Data becomes the participant attributes of the conversation; put the
	// caller's own key here so that a lost create can be found again.
	Data map[string]string
	// CallerID and CallerIDName are the outbound caller id (callerId,
	// callerIdName); trunk settings may override them.
	CallerID     string
	CallerIDName string
}

// MarshalJSON writes the request with Genesys' field names.
func (r CreateCallbackRequest) MarshalJSON() ([]byte, error) {
	w := struct {
		ScriptID                string            `json:"scriptId,omitempty"`
		QueueID                 string            `json:"queueId,omitempty"`
		CallbackUserName        string            `json:"callbackUserName,omitempty"`
		CallbackNumbers         []string          `json:"callbackNumbers"`
		CallbackScheduledTime   string            `json:"callbackScheduledTime,omitempty"`
		CountryCode             string            `json:"countryCode,omitempty"`
		ValidateCallbackNumbers *bool             `json:"validateCallbackNumbers,omitempty"`
		Data                    map[string]string `json:"data,omitempty"`
		CallerID                string            `json:"callerId,omitempty"`
		CallerIDName            string            `json:"callerIdName,omitempty"`
	}{
		ScriptID:                r.ScriptID,
		QueueID:                 r.QueueID,
		CallbackUserName:        r.CallbackUserName,
		CallbackNumbers:         r.CallbackNumbers,
		CountryCode:             r.CountryCode,
		ValidateCallbackNumbers: r.ValidateCallbackNumbers,
		Data:                    r.Data,
		CallerID:                r.CallerID,
		CallerIDName:            r.CallerIDName,
	}
	if !r.CallbackScheduledTime.IsZero() {
		w.CallbackScheduledTime = formatTime(r.CallbackScheduledTime)
	}
	return json.Marshal(w)
}

// CallbackIdentifier is one entry of a create or patch response's
// callbackIdentifiers: the communication id of a callback participant.
type CallbackIdentifier struct {
	// Type is IdentifierACD, IdentifierExternal or IdentifierDialer.
	Type string `json:"type"`
	ID   string `json:"id"`
}

// CallbackResponse is Genesys' CreateCallbackResponse and
// PatchCallbackResponse.
type CallbackResponse struct {
	// ConversationID is conversation.id: store it.
	ConversationID string
	// CallbackIdentifiers identify the callback participants; CancelCallback
	// needs them.
	CallbackIdentifiers []CallbackIdentifier
}

// UnmarshalJSON reads {"conversation":{"id":…},"callbackIdentifiers":[…]}.
func (r *CallbackResponse) UnmarshalJSON(b []byte) error {
	var w struct {
		Conversation struct {
			ID string `json:"id"`
		} `json:"conversation"`
		CallbackIdentifiers []CallbackIdentifier `json:"callbackIdentifiers"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	r.ConversationID, r.CallbackIdentifiers = w.Conversation.ID, w.CallbackIdentifiers
	return nil
}

// MarshalJSON writes the Genesys shape read by UnmarshalJSON.
func (r CallbackResponse) MarshalJSON() ([]byte, error) {
	type conv struct {
		ID string `json:"id"`
	}
	return json.Marshal(struct {
		Conversation        conv                 `json:"conversation"`
		CallbackIdentifiers []CallbackIdentifier `json:"callbackIdentifiers"`
	}{conv{r.ConversationID}, r.CallbackIdentifiers})
}

// CreateCallback creates a scheduled callback: POST
// /api/v2/conversations/callbacks (permission conversation:callback:create).
//
// It is never blindly repeated. It retries only what certainly did not take
// effect: a 429, a 401 (once, with a new token), and a failure to connect.
// When the request was sent and its answer is lost (a timeout, a dropped
// connection, a 5xx or 408, or a 2xx whose body cannot be read), it returns
// an *UnknownOutcomeError: look for the callback (FindCallbacks, then
// GetCallbackConversation and its attributes) before creating it again.
// Other failures are *APIError; a missing queue id or callback number wraps
// ErrInvalidRequest.
func (c *Client) CreateCallback(ctx context.Context, req CreateCallbackRequest) (*CallbackResponse, error) {
	if req.QueueID == "" {
		return nil, invalidf("create callback: queue id is required")
	}
	if len(req.CallbackNumbers) == 0 {
		return nil, invalidf("create callback: a callback number is required")
	}
	const op = "create_callback"
	var resp CallbackResponse
	err := c.do(ctx, call{op: op, method: http.MethodPost, path: "/api/v2/conversations/callbacks", body: req, out: &resp, create: true})
	if err != nil {
		return nil, err
	}
	if resp.ConversationID == "" {
		return nil, &UnknownOutcomeError{Op: op, Err: errors.New("genesys create_callback: 2xx response without conversation.id")}
	}
	return &resp, nil
}

// PatchCallbackRequest is the body of PATCH /api/v2/conversations/callbacks.
type PatchCallbackRequest struct {
	// ConversationID is the callback's conversation. Required.
	ConversationID string
	// AgentID is marked required in Genesys' SDK docs; whether an ordinary
	// queue callback can be patched without it is UNCONFIRMED. Omitted
	// when empty.
	AgentID string
	// QueueID moves the callback to another queue; omitted when empty.
	QueueID string
	// CallbackScheduledTime is the new time, sent in UTC; zero omits it.
	CallbackScheduledTime time.Time
}

// MarshalJSON writes the request with Genesys' field names.
func (r PatchCallbackRequest) MarshalJSON() ([]byte, error) {
	w := struct {
		ConversationID        string `json:"conversationId"`
		AgentID               string `json:"agentId,omitempty"`
		QueueID               string `json:"queueId,omitempty"`
		CallbackScheduledTime string `json:"callbackScheduledTime,omitempty"`
	}{ConversationID: r.ConversationID, AgentID: r.AgentID, QueueID: r.QueueID}
	if !r.CallbackScheduledTime.IsZero() {
		w.CallbackScheduledTime = formatTime(r.CallbackScheduledTime)
	}
	return json.Marshal(w)
}

// RescheduleCallback changes a scheduled callback: PATCH
// /api/v2/conversations/callbacks (permission conversation:callback:edit).
// Repeating it is harmless, so it is retried like a read. An empty 2xx
// body yields a response carrying only the conversation id. Returns an
// *APIError (IsNotFound for an unknown conversation; IsAgentRequired when
// Genesys wants an agentId, or another one) on failure.
func (c *Client) RescheduleCallback(ctx context.Context, req PatchCallbackRequest) (*CallbackResponse, error) {
	if req.ConversationID == "" {
		return nil, invalidf("reschedule callback: conversation id is required")
	}
	var resp CallbackResponse
	err := c.do(ctx, call{op: "reschedule_callback", method: http.MethodPatch, path: "/api/v2/conversations/callbacks", body: req, out: &resp})
	if err != nil {
		return nil, err
	}
	if resp.ConversationID == "" {
		resp.ConversationID = req.ConversationID
	}
	return &resp, nil
}

// IsAgentRequired reports whether err is Genesys refusing a reschedule
// for its agentId: a 400 whose details name the agentId field, or whose
// code or message does. The SDK marks agentId required on PATCH
// /api/v2/conversations/callbacks; the exact refusal is UNCONFIRMED.
func IsAgentRequired(err error) bool {
	var e *APIError
	if !errors.As(err, &e) || e.Status != http.StatusBadRequest {
		return false
	}
	for _, d := range e.Details {
		if strings.EqualFold(d.FieldName, "agentId") {
			return true
		}
	}
	return strings.Contains(strings.ToLower(e.Code), "agentid") || strings.Contains(strings.ToLower(e.Message), "agentid")
}

// DisconnectIdentifier names one callback to disconnect.
type DisconnectIdentifier struct {
	ConversationID string `json:"conversationId"`
	// CallbackID is a callback identifier id; which one Genesys expects is
	// UNCONFIRMED (CancelCallback prefers the ACD one).
	CallbackID string `json:"callbackId"`
}

// DisconnectCallbacks disconnects scheduled callbacks: POST
// /api/v2/conversations/callbacks/bulk/disconnect (permission
// conversation:communication:disconnect). Genesys answers 202 and
// disconnects asynchronously; confirm by reading the conversation.
func (c *Client) DisconnectCallbacks(ctx context.Context, ids []DisconnectIdentifier) error {
	if len(ids) == 0 {
		return invalidf("disconnect callbacks: no identifiers")
	}
	for _, id := range ids {
		if id.ConversationID == "" || id.CallbackID == "" {
			return invalidf("disconnect callbacks: conversation id and callback id are both required")
		}
	}
	body := struct {
		IDs []DisconnectIdentifier `json:"callbackDisconnectIdentifiers"`
	}{ids}
	return c.do(ctx, call{op: "disconnect_callbacks", method: http.MethodPost, path: "/api/v2/conversations/callbacks/bulk/disconnect", body: body})
}

// DisconnectConversation disconnects every participant of a callback
// conversation: PATCH /api/v2/conversations/callbacks/{id} with
// {"state":"disconnected"} (permission conversation:communication:disconnect).
func (c *Client) DisconnectConversation(ctx context.Context, conversationID string) error {
	if conversationID == "" {
		return invalidf("disconnect conversation: conversation id is required")
	}
	body := struct {
		State string `json:"state"`
	}{"disconnected"}
	return c.do(ctx, call{op: "disconnect_conversation", method: http.MethodPatch, path: "/api/v2/conversations/callbacks/" + url.PathEscape(conversationID), body: body})
}

// CancelCallback cancels a scheduled callback. It bulk-disconnects it with
// its ACD callback identifier (the EXTERNAL one when there is no ACD one)
// and, when that is refused with a 4xx other than 404, 408 and 429 (for
// example because Genesys wants another identifier), or when ids holds
// neither, falls back to DisconnectConversation. A 404 from either call
// means the callback is already gone and yields nil.
func (c *Client) CancelCallback(ctx context.Context, conversationID string, ids []CallbackIdentifier) error {
	if conversationID == "" {
		return invalidf("cancel callback: conversation id is required")
	}
	if cbID := disconnectID(ids); cbID != "" {
		err := c.DisconnectCallbacks(ctx, []DisconnectIdentifier{{ConversationID: conversationID, CallbackID: cbID}})
		switch {
		case err == nil, IsNotFound(err):
			return nil
		case !fallbackWorthy(err):
			return err
		}
	}
	if err := c.DisconnectConversation(ctx, conversationID); err != nil && !IsNotFound(err) {
		return err
	}
	return nil
}

// fallbackWorthy reports whether a bulk disconnect refusal may succeed as
// a conversation disconnect: an *APIError 4xx other than 404, 408, 429.
func fallbackWorthy(err error) bool {
	var e *APIError
	return errors.As(err, &e) && IsPermanent(err) && e.Status != http.StatusNotFound
}

// disconnectID picks the ACD identifier, else the EXTERNAL one.
func disconnectID(ids []CallbackIdentifier) string {
	var external string
	for _, id := range ids {
		switch {
		case strings.EqualFold(id.Type, IdentifierACD) && id.ID != "":
			return id.ID
		case strings.EqualFold(id.Type, IdentifierExternal) && id.ID != "" && external == "":
			external = id.ID
		}
	}
	return external
}

// Ref is a reference to another Genesys entity.
type Ref struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
}

// CallbackConversation is Genesys' CallbackConversation, as returned by GET
// /api/v2/conversations/callbacks/{id} and carried by
// v2.routing.queues.{id}.conversations.callbacks events.
//
// It holds the callback communications only: the voice call an agent
// places for the callback is another medium, listed in OtherMediaURIs
// ("/api/v2/conversations/calls/{id}"); read it with GetConversation.
type CallbackConversation struct {
	ID             string                `json:"id"`
	Name           string                `json:"name,omitempty"`
	Participants   []CallbackParticipant `json:"participants"`
	OtherMediaURIs []string              `json:"otherMediaUris,omitempty"`
}

// Attribute returns the first non-empty participant attribute key: the
// Data given to CreateCallback.
func (cc *CallbackConversation) Attribute(key string) (string, bool) {
	for _, p := range cc.Participants {
		if v, ok := p.Attributes[key]; ok && v != "" {
			return v, true
		}
	}
	return "", false
}

// Owner returns the agent who owns an agent-owned callback: the scored
// agent with the highest score in a participant's conversationRoutingData
// (an agent-owned callback has one, with score 100), or "".
func (cc *CallbackConversation) Owner() string {
	owner, best := "", 0
	for _, p := range cc.Participants {
		if p.RoutingData == nil {
			continue
		}
		for _, a := range p.RoutingData.ScoredAgents {
			if a.Agent.ID != "" && (owner == "" || a.Score > best) {
				owner, best = a.Agent.ID, a.Score
			}
		}
	}
	return owner
}

// Participant returns the first participant with the given purpose
// ("customer", "acd", "agent", …), or nil.
func (cc *CallbackConversation) Participant(purpose string) *CallbackParticipant {
	for i := range cc.Participants {
		if strings.EqualFold(cc.Participants[i].Purpose, purpose) {
			return &cc.Participants[i]
		}
	}
	return nil
}

// CallbackParticipant is a participant of a callback conversation, with
// the callback fields flat on it. Times are nil when absent.
type CallbackParticipant struct {
	ID string `json:"id"`
	// Purpose is agent, user, customer, external, acd or ivr.
	Purpose string `json:"purpose,omitempty"`
	// State is alerting, dialing, contacting, offering, connected,
	// disconnected, terminated, none, … and, in events only, scheduled (the
	// GET model's enum has no scheduled: what a waiting callback reports
	// there is UNCONFIRMED).
	State        string `json:"state,omitempty"`
	InitialState string `json:"initialState,omitempty"`
	// Direction is inbound or outbound.
	Direction             string            `json:"direction,omitempty"`
	DisconnectType        string            `json:"disconnectType,omitempty"`
	StartTime             *time.Time        `json:"startTime,omitempty"`
	ConnectedTime         *time.Time        `json:"connectedTime,omitempty"`
	EndTime               *time.Time        `json:"endTime,omitempty"`
	Attributes            map[string]string `json:"attributes,omitempty"`
	CallbackNumbers       []string          `json:"callbackNumbers,omitempty"`
	CallbackUserName      string            `json:"callbackUserName,omitempty"`
	CallbackScheduledTime *time.Time        `json:"callbackScheduledTime,omitempty"`
	Queue                 *Ref              `json:"queue,omitempty"`
	User                  *Ref              `json:"user,omitempty"`
	// Wrapup is the agent's wrap-up, once given.
	Wrapup *Wrapup `json:"wrapup,omitempty"`
	// RoutingData is the participant's conversationRoutingData: for an
	// agent-owned callback, its owner among the scored agents.
	RoutingData *ConversationRoutingData `json:"conversationRoutingData,omitempty"`
}

// ConversationRoutingData is the part of a participant's
// conversationRoutingData the client reads.
type ConversationRoutingData struct {
	ScoredAgents []ScoredAgent `json:"scoredAgents,omitempty"`
}

// ScoredAgent is an agent with its routing score (100 for the owner of an
// agent-owned callback).
type ScoredAgent struct {
	Agent Ref `json:"agent"`
	Score int `json:"score"`
}

// UnmarshalJSON decodes a participant, reading its times leniently.
func (p *CallbackParticipant) UnmarshalJSON(b []byte) error {
	type plain CallbackParticipant
	var w struct {
		plain
		StartTime             flexTime `json:"startTime"`
		ConnectedTime         flexTime `json:"connectedTime"`
		EndTime               flexTime `json:"endTime"`
		CallbackScheduledTime flexTime `json:"callbackScheduledTime"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*p = CallbackParticipant(w.plain)
	p.StartTime, p.ConnectedTime, p.EndTime, p.CallbackScheduledTime = w.StartTime.t, w.ConnectedTime.t, w.EndTime.t, w.CallbackScheduledTime.t
	return nil
}

// GetCallbackConversation reads a callback conversation: GET
// /api/v2/conversations/callbacks/{id} (no permission listed in the
// swagger). Returns an *APIError that IsNotFound when it does not exist.
func (c *Client) GetCallbackConversation(ctx context.Context, conversationID string) (*CallbackConversation, error) {
	if conversationID == "" {
		return nil, invalidf("get callback conversation: conversation id is required")
	}
	var cc CallbackConversation
	err := c.do(ctx, call{op: "get_callback_conversation", method: http.MethodGet, path: "/api/v2/conversations/callbacks/" + url.PathEscape(conversationID), out: &cc})
	if err != nil {
		return nil, err
	}
	return &cc, nil
}
