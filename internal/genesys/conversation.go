package genesys

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// Conversation is Genesys' generic Conversation, as returned by GET
// /api/v2/conversations/{id}, and the event body of
// v2.routing.queues.{id}.conversations (QueueConversationEventTopicConversation),
// which has the same participants without the conversation's and the
// participants' start and end times. EndTime is nil while the conversation
// is active, and always in events.
//
// Unlike CallbackConversation, a participant carries every medium: its
// callback communications (Callbacks) and the voice calls placed for the
// callback (Calls), where the customer's call shows whether anybody
// answered.
type Conversation struct {
	ID           string        `json:"id"`
	StartTime    *time.Time    `json:"startTime,omitempty"`
	EndTime      *time.Time    `json:"endTime,omitempty"`
	Participants []Participant `json:"participants"`
}

// UnmarshalJSON decodes a conversation, reading its times leniently.
func (cv *Conversation) UnmarshalJSON(b []byte) error {
	type plain Conversation
	var w struct {
		plain
		StartTime flexTime `json:"startTime"`
		EndTime   flexTime `json:"endTime"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*cv = Conversation(w.plain)
	cv.StartTime, cv.EndTime = w.StartTime.t, w.EndTime.t
	return nil
}

// Attribute returns the first non-empty participant attribute key.
func (cv *Conversation) Attribute(key string) (string, bool) {
	for _, p := range cv.Participants {
		if v, ok := p.Attributes[key]; ok && v != "" {
			return v, true
		}
	}
	return "", false
}

// Participant is a participant of a generic Conversation with its
// communications: Callbacks and Calls.
type Participant struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
	// Purpose is customer, external, acd, agent, user, ivr, …
	Purpose string `json:"purpose,omitempty"`
	Address string `json:"address,omitempty"`
	// Ani is the calling number of an inbound call's customer (GET only;
	// events carry Address).
	Ani     string `json:"ani,omitempty"`
	QueueID string `json:"queueId,omitempty"`
	UserID  string `json:"userId,omitempty"`
	// StartTime is absent from events.
	StartTime     *time.Time `json:"startTime,omitempty"`
	ConnectedTime *time.Time `json:"connectedTime,omitempty"`
	EndTime       *time.Time `json:"endTime,omitempty"`
	// WrapupRequired is nil when Genesys does not say.
	WrapupRequired *bool `json:"wrapupRequired,omitempty"`
	WrapupSkipped  bool  `json:"wrapupSkipped,omitempty"`
	// Wrapup is the participant's wrap-up (with the default,
	// participant-level after-call work, the agent's code for the callback
	// and its call).
	Wrapup       *Wrapup           `json:"wrapup,omitempty"`
	StartAcwTime *time.Time        `json:"startAcwTime,omitempty"`
	EndAcwTime   *time.Time        `json:"endAcwTime,omitempty"`
	Attributes   map[string]string `json:"attributes,omitempty"`
	Calls        []Call            `json:"calls,omitempty"`
	Callbacks    []Callback        `json:"callbacks,omitempty"`
}

// UnmarshalJSON decodes a participant, reading its times leniently.
func (p *Participant) UnmarshalJSON(b []byte) error {
	type plain Participant
	var w struct {
		plain
		StartTime     flexTime `json:"startTime"`
		ConnectedTime flexTime `json:"connectedTime"`
		EndTime       flexTime `json:"endTime"`
		StartAcwTime  flexTime `json:"startAcwTime"`
		EndAcwTime    flexTime `json:"endAcwTime"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*p = Participant(w.plain)
	p.StartTime, p.ConnectedTime, p.EndTime = w.StartTime.t, w.ConnectedTime.t, w.EndTime.t
	p.StartAcwTime, p.EndAcwTime = w.StartAcwTime.t, w.EndAcwTime.t
	return nil
}

// Callback is a callback communication of a Conversation participant.
type Callback struct {
	// ID is the communication id.
	ID string `json:"id"`
	// State is alerting, dialing, contacting, offering, connected,
	// disconnected, terminated, scheduled or none.
	State          string `json:"state,omitempty"`
	InitialState   string `json:"initialState,omitempty"`
	Direction      string `json:"direction,omitempty"`
	DisconnectType string `json:"disconnectType,omitempty"`
	// CallbackScheduledTime is nil for a callback placed immediately.
	CallbackScheduledTime *time.Time `json:"callbackScheduledTime,omitempty"`
	StartAlertingTime     *time.Time `json:"startAlertingTime,omitempty"`
	ConnectedTime         *time.Time `json:"connectedTime,omitempty"`
	DisconnectedTime      *time.Time `json:"disconnectedTime,omitempty"`
	CallbackNumbers       []string   `json:"callbackNumbers,omitempty"`
	CallbackUserName      string     `json:"callbackUserName,omitempty"`
	Wrapup                *Wrapup    `json:"wrapup,omitempty"`
}

// UnmarshalJSON decodes a callback, reading its times leniently.
func (cb *Callback) UnmarshalJSON(b []byte) error {
	type plain Callback
	var w struct {
		plain
		CallbackScheduledTime flexTime `json:"callbackScheduledTime"`
		StartAlertingTime     flexTime `json:"startAlertingTime"`
		ConnectedTime         flexTime `json:"connectedTime"`
		DisconnectedTime      flexTime `json:"disconnectedTime"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*cb = Callback(w.plain)
	cb.CallbackScheduledTime, cb.StartAlertingTime = w.CallbackScheduledTime.t, w.StartAlertingTime.t
	cb.ConnectedTime, cb.DisconnectedTime = w.ConnectedTime.t, w.DisconnectedTime.t
	return nil
}

// Call is a voice communication of a Conversation participant (Genesys'
// Call and QueueConversationEventTopicCall). For a callback, the customer's
// call is the outbound dial: ConnectedTime is set once somebody (or a
// machine) answered it, and DisconnectType and DisconnectReasons say how it
// ended.
type Call struct {
	// ID is the communication id.
	ID string `json:"id"`
	// State is alerting, dialing, contacting, offering, connected,
	// disconnected, terminated, converting, uploading, transmitting or none.
	State        string `json:"state,omitempty"`
	InitialState string `json:"initialState,omitempty"`
	Direction    string `json:"direction,omitempty"`
	// DisconnectType is null until the call disconnects: endpoint, client,
	// system, timeout, peer, transfer.noanswer, uncallable, error, …
	DisconnectType string `json:"disconnectType,omitempty"`
	// DisconnectReasons are the Q.850 or SIP causes, once disconnected.
	DisconnectReasons []DisconnectReason `json:"disconnectReasons,omitempty"`
	StartAlertingTime *time.Time         `json:"startAlertingTime,omitempty"`
	ConnectedTime     *time.Time         `json:"connectedTime,omitempty"`
	DisconnectedTime  *time.Time         `json:"disconnectedTime,omitempty"`
	PeerID            string             `json:"peerId,omitempty"`
	Wrapup            *Wrapup            `json:"wrapup,omitempty"`
}

// UnmarshalJSON decodes a call, reading its times leniently.
func (c *Call) UnmarshalJSON(b []byte) error {
	type plain Call
	var w struct {
		plain
		StartAlertingTime flexTime `json:"startAlertingTime"`
		ConnectedTime     flexTime `json:"connectedTime"`
		DisconnectedTime  flexTime `json:"disconnectedTime"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*c = Call(w.plain)
	c.StartAlertingTime, c.ConnectedTime, c.DisconnectedTime = w.StartAlertingTime.t, w.ConnectedTime.t, w.DisconnectedTime.t
	return nil
}

// DisconnectReason is one reason a call ended.
type DisconnectReason struct {
	// Type is q850 or sip.
	Type string `json:"type,omitempty"`
	// Code is the Q.850 cause or SIP status.
	Code   int    `json:"code,omitempty"`
	Phrase string `json:"phrase,omitempty"`
}

// Wrapup is an agent's wrap-up of a communication or participant.
type Wrapup struct {
	// Code is the wrap-up code's id; Name its name (GET only: events carry
	// the code alone).
	Code            string     `json:"code,omitempty"`
	Name            string     `json:"name,omitempty"`
	Notes           string     `json:"notes,omitempty"`
	Tags            []string   `json:"tags,omitempty"`
	DurationSeconds int        `json:"durationSeconds,omitempty"`
	EndTime         *time.Time `json:"endTime,omitempty"`
	// Provisional marks a wrap-up saved before it is final.
	Provisional bool `json:"provisional,omitempty"`
}

// UnmarshalJSON decodes a wrap-up, reading its time leniently.
func (wu *Wrapup) UnmarshalJSON(b []byte) error {
	type plain Wrapup
	var w struct {
		plain
		EndTime flexTime `json:"endTime"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*wu = Wrapup(w.plain)
	wu.EndTime = w.EndTime.t
	return nil
}

// GetConversation reads a conversation: GET /api/v2/conversations/{id}
// (permission conversation:communication:view), with every medium, the
// callback's voice calls included. Returns an *APIError that IsNotFound
// when it does not exist.
func (c *Client) GetConversation(ctx context.Context, conversationID string) (*Conversation, error) {
	if conversationID == "" {
		return nil, invalidf("get conversation: conversation id is required")
	}
	var cv Conversation
	err := c.do(ctx, call{op: "get_conversation", method: http.MethodGet, path: "/api/v2/conversations/" + url.PathEscape(conversationID), out: &cv})
	if err != nil {
		return nil, err
	}
	return &cv, nil
}

// QueueConversationsTopic returns the topic of every conversation of a
// queue, all media: "v2.routing.queues.<id>.conversations". Its events
// carry the callback's voice calls, which the callbacks topic does not.
func QueueConversationsTopic(genesysQueueID string) string {
	return "v2.routing.queues." + genesysQueueID + ".conversations"
}

// ParseConversationEvent decodes the eventBody of a
// v2.routing.queues.{id}.conversations notification: a full snapshot of
// the conversation, participants with their calls and callbacks. Events
// carry no sequence number; the same conversation arrives many times.
func ParseConversationEvent(body json.RawMessage) (*Conversation, error) {
	var cv Conversation
	if err := json.Unmarshal(body, &cv); err != nil {
		return nil, fmt.Errorf("genesys conversation event: %w", err)
	}
	if cv.ID == "" {
		return nil, errors.New("genesys conversation event: no conversation id")
	}
	return &cv, nil
}
