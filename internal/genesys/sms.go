package genesys

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
	"unicode/utf8"
)

// MaxSMSLength is the longest SMS text Genesys accepts, in characters.
const MaxSMSLength = 765

// AgentlessMessage is an outbound SMS sent without an agent.
type AgentlessMessage struct {
	// FromAddress is an SMS number provisioned in the org, E.164.
	FromAddress string
	// ToAddress is the recipient, E.164.
	ToAddress string
	// TextBody is at most MaxSMSLength characters.
	TextBody string
}

// AgentlessResponse is Genesys' SendAgentlessOutboundMessageResponse. It
// only means the message was accepted, not delivered.
type AgentlessResponse struct {
	ID             string     `json:"id"`
	ConversationID string     `json:"conversationId,omitempty"`
	FromAddress    string     `json:"fromAddress,omitempty"`
	ToAddress      string     `json:"toAddress,omitempty"`
	MessengerType  string     `json:"messengerType,omitempty"`
	Timestamp      *time.Time `json:"timestamp,omitempty"`
}

// UnmarshalJSON decodes the response, reading its timestamp leniently.
func (r *AgentlessResponse) UnmarshalJSON(b []byte) error {
	type plain AgentlessResponse
	var w struct {
		plain
		Timestamp flexTime `json:"timestamp"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*r = AgentlessResponse(w.plain)
	r.Timestamp = w.Timestamp.t
	return nil
}

// SendSMS sends an agentless SMS: POST
// /api/v2/conversations/messages/agentless with toAddressMessengerType
// "sms" (permission conversation:message:create). A text over
// MaxSMSLength characters, or a missing address, is refused without a
// call (ErrInvalidRequest).
//
// Sending is retried like the other calls: Genesys offers no idempotency
// key, so a lost answer may, rarely, send the text twice. That is judged
// better than not sending it.
func (c *Client) SendSMS(ctx context.Context, m AgentlessMessage) (*AgentlessResponse, error) {
	switch {
	case m.FromAddress == "" || m.ToAddress == "":
		return nil, invalidf("send sms: from and to addresses are required")
	case m.TextBody == "":
		return nil, invalidf("send sms: text is required")
	case utf8.RuneCountInString(m.TextBody) > MaxSMSLength:
		return nil, invalidf("send sms: text over %d characters", MaxSMSLength)
	}
	body := struct {
		FromAddress            string `json:"fromAddress"`
		ToAddress              string `json:"toAddress"`
		ToAddressMessengerType string `json:"toAddressMessengerType"`
		TextBody               string `json:"textBody"`
	}{m.FromAddress, m.ToAddress, "sms", m.TextBody}
	var resp AgentlessResponse
	if err := c.do(ctx, call{op: "send_sms", method: http.MethodPost, path: "/api/v2/conversations/messages/agentless", body: body, out: &resp}); err != nil {
		return nil, err
	}
	return &resp, nil
}
