package gcsim

import (
	"net/http"
	"sync"
	"time"
	"unicode/utf8"
)

// maxSMSLength is the longest SMS textBody Genesys accepts, in characters.
const maxSMSLength = 765

// SMSRefusal10DLC is the reason RefuseSMS takes for a US long code not
// registered for 10DLC, which carriers block.
const SMSRefusal10DLC = "10dlc"

// Error codes of the agentless SMS refusals the simulator models. The codes
// Genesys uses for them are UNCONFIRMED; these are the simulator's own.
const (
	// CodeActiveConversation: the customer has an active SMS conversation
	// with the number and the request did not set
	// useExistingActiveConversation.
	CodeActiveConversation = "conversation.active.exists"
	// Code10DLC: the number is refused for want of 10DLC registration.
	Code10DLC = "sms.10dlc.unregistered"
)

// smsPair is an organization SMS number and a customer's number.
type smsPair struct{ from, to string }

// SMSInfo is an agentless message the simulator accepted.
type SMSInfo struct {
	ID             string    `json:"id"`
	ConversationID string    `json:"conversationId"`
	FromAddress    string    `json:"fromAddress"`
	ToAddress      string    `json:"toAddress"`
	TextBody       string    `json:"textBody"`
	Timestamp      time.Time `json:"timestamp"` // sim clock
	// ExistingConversation says the message joined the customer's active
	// conversation (useExistingActiveConversation).
	ExistingConversation bool `json:"existingConversation,omitempty"`
	// IdempotencyKey is the request's Idempotency-Key header, if any.
	IdempotencyKey string `json:"idempotencyKey,omitempty"`
}

// SMSReplays returns how many agentless sends repeated an
// Idempotency-Key already accepted, and were answered with the first
// send's response without sending anything.
func (s *Sim) SMSReplays() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.smsReplays
}

// HoldSMS holds back the answer to every agentless message accepted from
// now on (the message is sent: SMS lists it) until release is called or
// the request is abandoned: a test's way to stop the sender between the
// send and its record of it. Release is idempotent.
func (s *Sim) HoldSMS() (release func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := make(chan struct{})
	s.smsHold = ch
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			if s.smsHold == ch {
				s.smsHold = nil
			}
			s.mu.Unlock()
			close(ch)
		})
	}
}

// SMS returns every agentless message sent, in order.
func (s *Sim) SMS() []SMSInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]SMSInfo(nil), s.sms...)
}

// agentlessRequest is SendAgentlessOutboundMessageRequest.
type agentlessRequest struct {
	FromAddress                   string `json:"fromAddress"`
	ToAddress                     string `json:"toAddress"`
	ToAddressMessengerType        string `json:"toAddressMessengerType"`
	TextBody                      string `json:"textBody"`
	UseExistingActiveConversation bool   `json:"useExistingActiveConversation"`
}

// OpenSMSConversation starts an active SMS conversation between the
// organization's number fromAddress and the customer at toAddress, as the
// customer's reply to an earlier SMS would, and returns its id. An
// agentless message to that customer from that number then fails unless it
// sets useExistingActiveConversation, when it joins this conversation.
func (s *Sim) OpenSMSConversation(fromAddress, toAddress string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := smsPair{fromAddress, toAddress}
	if id, ok := s.smsActive[p]; ok {
		return id
	}
	id := newUUID()
	s.smsActive[p] = id
	return id
}

// CloseSMSConversation ends the active SMS conversation between the two
// numbers, if any.
func (s *Sim) CloseSMSConversation(fromAddress, toAddress string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.smsActive, smsPair{fromAddress, toAddress})
}

// RefuseSMS makes every agentless message from fromAddress be refused for
// reason (SMSRefusal10DLC); "" lifts the refusal.
func (s *Sim) RefuseSMS(fromAddress, reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if reason == "" {
		delete(s.smsRefusals, fromAddress)
		return
	}
	s.smsRefusals[fromAddress] = reason
}

// handleAgentless serves POST /api/v2/conversations/messages/agentless for
// SMS: fromAddress is required (and must be a queue's SMSAddress when any
// queue has one: else 400, detail fieldName fromAddress), toAddress must be
// E.164, textBody 1 to 765 characters. A number refused with RefuseSMS is
// 400 Code10DLC; a customer with an active conversation (OpenSMSConversation)
// is 400 CodeActiveConversation unless useExistingActiveConversation is set.
// A request whose Idempotency-Key header repeats one already accepted is
// answered with that first answer and sends nothing (an extension of the
// simulator's: Genesys documents no such header).
func (s *Sim) handleAgentless(w http.ResponseWriter, r *http.Request) {
	var req agentlessRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	bad := func(msg string) { writeError(w, http.StatusBadRequest, "bad.request", msg) }
	switch {
	case req.ToAddressMessengerType == "":
		bad("toAddressMessengerType is required.")
		return
	case req.ToAddressMessengerType != "sms":
		bad("The simulator supports only the sms messenger type.")
		return
	case req.FromAddress == "":
		bad("fromAddress is required.")
		return
	case !e164.MatchString(req.ToAddress):
		bad("toAddress must be an E.164 number, e.g. +13175555555.")
		return
	case req.TextBody == "":
		bad("textBody is required for SMS.")
		return
	case utf8.RuneCountInString(req.TextBody) > maxSMSLength:
		bad("textBody must be at most 765 characters for SMS.")
		return
	}
	key := r.Header.Get("Idempotency-Key")
	var hold chan struct{}
	s.mu.Lock()
	rp, replay := s.smsByKey[key]
	switch {
	case key != "" && replay:
		s.smsReplays++
	default:
		rp = s.agentless(req, key)
		if rp.code == "" {
			if key != "" {
				s.smsByKey[key] = rp
			}
			hold = s.smsHold
		}
	}
	s.mu.Unlock()
	if hold != nil {
		select {
		case <-hold:
		case <-r.Context().Done():
			return
		}
	}
	s.respond(w, func() reply { return rp })
}

// agentless judges and, when it passes, sends one agentless message; the
// caller holds s.mu.
func (s *Sim) agentless(req agentlessRequest, key string) reply {
	if len(s.smsAddresses) > 0 && !s.smsAddresses[req.FromAddress] {
		return fieldErrorReply(http.StatusBadRequest, "bad.request",
			"fromAddress "+req.FromAddress+" is not an SMS number provisioned in this organization.", "fromAddress", "invalid")
	}
	if s.smsRefusals[req.FromAddress] == SMSRefusal10DLC {
		return errorReply(http.StatusBadRequest, Code10DLC,
			"The SMS number "+req.FromAddress+" is not registered for 10DLC; carriers block its messages.")
	}
	convID, active := s.smsActive[smsPair{req.FromAddress, req.ToAddress}]
	if active && !req.UseExistingActiveConversation {
		return errorReply(http.StatusBadRequest, CodeActiveConversation,
			"An active conversation already exists for this address; set useExistingActiveConversation to send into it.")
	}
	if !active {
		convID = newUUID()
	}
	m := SMSInfo{
		ID: newUUID(), ConversationID: convID, FromAddress: req.FromAddress, ToAddress: req.ToAddress,
		TextBody: req.TextBody, Timestamp: s.clock.Now(), ExistingConversation: active, IdempotencyKey: key,
	}
	s.sms = append(s.sms, m)
	return jsonReply(http.StatusOK, map[string]any{
		"id": m.ID, "conversationId": m.ConversationID, "fromAddress": m.FromAddress, "toAddress": m.ToAddress,
		"messengerType": "sms", "textBody": m.TextBody, "timestamp": fmtTime(m.Timestamp),
		"useExistingActiveConversation": req.UseExistingActiveConversation,
		"selfUri":                       "/api/v2/conversations/messages/agentless/" + m.ID,
	})
}
