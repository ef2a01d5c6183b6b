package genesys

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
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
	// UseExistingActiveConversation sends the message into the customer's
	// active SMS conversation with FromAddress, if there is one (the
	// customer replied to an earlier SMS); without it such a send fails.
	UseExistingActiveConversation bool
	// IdempotencyKey, when set, is sent as the Idempotency-Key header with
	// every attempt of the send. Genesys documents no such header for this
	// operation (nor for any other): it is ignored there, as far as is
	// known, and honoured by the simulator (gcsim), which answers a
	// repeated key with the first send's response and sends nothing.
	IdempotencyKey string
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
// Sending is retried like the other calls, each attempt with
// m.IdempotencyKey: Genesys documents no idempotency key, so a lost answer
// may, rarely, send the text twice. That is judged better than not sending
// it.
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
		FromAddress                   string `json:"fromAddress"`
		ToAddress                     string `json:"toAddress"`
		ToAddressMessengerType        string `json:"toAddressMessengerType"`
		TextBody                      string `json:"textBody"`
		UseExistingActiveConversation bool   `json:"useExistingActiveConversation,omitempty"`
	}{m.FromAddress, m.ToAddress, "sms", m.TextBody, m.UseExistingActiveConversation}
	var resp AgentlessResponse
	if err := c.do(ctx, call{op: "send_sms", method: http.MethodPost, path: "/api/v2/conversations/messages/agentless", body: body, out: &resp,
		idempotencyKey: m.IdempotencyKey}); err != nil {
		return nil, err
	}
	return &resp, nil
}

// SMS refusal reasons (SMSRefusal.Reason).
const (
	SMSFromAddress        = "from_address"        // fromAddress is not an SMS number provisioned in the org
	SMS10DLC              = "10dlc"               // the number is blocked for want of 10DLC registration
	SMSActiveConversation = "active_conversation" // the customer has an active SMS conversation with the number
	SMSInvalid            = "invalid"             // another refusal of the request itself (a 4xx)
	SMSRateLimited        = "rate_limited"        // 429
	SMSServer             = "server"              // 5xx or 408
	SMSNetwork            = "network"             // no answer (a timeout, a dropped connection)
)

// SMSRefusal says why SendSMS failed and whether sending again can help.
type SMSRefusal struct {
	// Permanent says sending the same message again cannot succeed (a
	// number not provisioned, 10DLC, another 4xx): do not retry.
	Permanent bool
	// Reason is one of the SMS… reasons above.
	Reason string
}

// ClassifySMSError sorts a SendSMS error into a permanent refusal or a
// transient failure, with its reason. A 4xx is permanent, except the
// active-conversation conflict (transient: that conversation ends, and
// UseExistingActiveConversation avoids it); 408, 429, 5xx and transport
// errors are transient. The codes Genesys uses for the number, 10DLC and
// active-conversation refusals are UNCONFIRMED: the reasons are read from
// the error's code and from a detail naming fromAddress, and a 4xx matching
// none of them is SMSInvalid (permanent).
func ClassifySMSError(err error) SMSRefusal {
	if errors.Is(err, ErrInvalidRequest) {
		return SMSRefusal{Permanent: true, Reason: SMSInvalid}
	}
	var e *APIError
	if !errors.As(err, &e) {
		return SMSRefusal{Reason: SMSNetwork}
	}
	switch {
	case e.Status == http.StatusTooManyRequests:
		return SMSRefusal{Reason: SMSRateLimited}
	case e.Status >= 500 || e.Status == http.StatusRequestTimeout:
		return SMSRefusal{Reason: SMSServer}
	case e.Status < 400:
		return SMSRefusal{Reason: SMSServer}
	}
	code := strings.ToLower(e.Code)
	switch {
	case strings.Contains(code, "active") && strings.Contains(code, "conversation"), e.Status == http.StatusConflict:
		return SMSRefusal{Reason: SMSActiveConversation}
	case strings.Contains(code, "10dlc"):
		return SMSRefusal{Permanent: true, Reason: SMS10DLC}
	}
	for _, d := range e.Details {
		if strings.EqualFold(d.FieldName, "fromAddress") {
			return SMSRefusal{Permanent: true, Reason: SMSFromAddress}
		}
	}
	return SMSRefusal{Permanent: true, Reason: SMSInvalid}
}
