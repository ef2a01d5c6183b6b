package gcsim

import (
	"net/http"
	"time"
	"unicode/utf8"
)

// maxSMSLength is the longest SMS textBody Genesys accepts, in characters.
const maxSMSLength = 765

// SMSInfo is an agentless message the simulator accepted.
type SMSInfo struct {
	ID             string    `json:"id"`
	ConversationID string    `json:"conversationId"`
	FromAddress    string    `json:"fromAddress"`
	ToAddress      string    `json:"toAddress"`
	TextBody       string    `json:"textBody"`
	Timestamp      time.Time `json:"timestamp"` // sim clock
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

// handleAgentless serves POST /api/v2/conversations/messages/agentless for
// SMS: fromAddress is required (and must be a queue's SMSAddress when any
// queue has one), toAddress must be E.164, textBody 1 to 765 characters.
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
	s.respond(w, func() reply {
		if len(s.smsAddresses) > 0 && !s.smsAddresses[req.FromAddress] {
			return errorReply(http.StatusBadRequest, "bad.request", "fromAddress "+req.FromAddress+" is not an SMS number of this organization.")
		}
		m := SMSInfo{
			ID: newUUID(), ConversationID: newUUID(), FromAddress: req.FromAddress, ToAddress: req.ToAddress,
			TextBody: req.TextBody, Timestamp: s.clock.Now(),
		}
		s.sms = append(s.sms, m)
		return jsonReply(http.StatusOK, map[string]any{
			"id": m.ID, "conversationId": m.ConversationID, "fromAddress": m.FromAddress, "toAddress": m.ToAddress,
			"messengerType": "sms", "textBody": m.TextBody, "timestamp": fmtTime(m.Timestamp),
			"useExistingActiveConversation": req.UseExistingActiveConversation,
			"selfUri":                       "/api/v2/conversations/messages/agentless/" + m.ID,
		})
	})
}
