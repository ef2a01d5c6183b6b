package gcsim

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// duration reads a JSON duration: a Go duration string ("2s", "1m30s") or
// a number of seconds.
type duration time.Duration

func (d *duration) UnmarshalJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	switch v := v.(type) {
	case string:
		if v == "" {
			*d = 0
			return nil
		}
		p, err := time.ParseDuration(v)
		if err != nil {
			return err
		}
		*d = duration(p)
	case float64:
		*d = duration(v * float64(time.Second))
	case nil:
		*d = 0
	default:
		return fmt.Errorf("invalid duration %v", v)
	}
	return nil
}

// handleAdminFault serves POST /sim/faults: a Fault as JSON, e.g.
// {"method":"POST","pathPrefix":"/api/v2/conversations/callbacks","status":429,
// "retryAfter":"2s","count":3,"latency":"500ms","loseResponse":false}.
func (s *Sim) handleAdminFault(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Method       string   `json:"method"`
		PathPrefix   string   `json:"pathPrefix"`
		Status       int      `json:"status"`
		RetryAfter   duration `json:"retryAfter"`
		Count        int      `json:"count"`
		Latency      duration `json:"latency"`
		LoseResponse bool     `json:"loseResponse"`
	}
	if !decodeJSON(w, r, &req) {
		return
	}
	s.FailNext(Fault{
		Method: req.Method, PathPrefix: req.PathPrefix, Status: req.Status, RetryAfter: time.Duration(req.RetryAfter),
		Count: req.Count, Latency: time.Duration(req.Latency), LoseResponse: req.LoseResponse,
	})
	w.WriteHeader(http.StatusNoContent)
}

// handleAdminFailureRate serves POST /sim/failure-rate:
// {"status":429,"rate":0.1,"retryAfter":"1s"}; rate 0 turns it off.
func (s *Sim) handleAdminFailureRate(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Status     int      `json:"status"`
		Rate       float64  `json:"rate"`
		RetryAfter duration `json:"retryAfter"`
	}
	if !decodeJSON(w, r, &req) {
		return
	}
	if req.Rate > 0 && (req.Status < 400 || req.Status > 599) {
		writeError(w, http.StatusBadRequest, "bad.request", "status must be an HTTP error status (4xx or 5xx).")
		return
	}
	s.SetFailureRate(req.Status, req.Rate, time.Duration(req.RetryAfter))
	w.WriteHeader(http.StatusNoContent)
}

// handleAdminRateLimit serves POST /sim/rate-limit: {"perSecond":50,
// "refusalsUseAllowance":false} (SetRateLimit) or {"perMinute":180}
// (SetRateLimitPerMinute); 0 removes the limit, and an absent
// refusalsUseAllowance leaves that setting as it is.
func (s *Sim) handleAdminRateLimit(w http.ResponseWriter, r *http.Request) {
	var req struct {
		PerSecond            float64 `json:"perSecond"`
		PerMinute            int     `json:"perMinute"`
		RefusalsUseAllowance *bool   `json:"refusalsUseAllowance"`
	}
	if !decodeJSON(w, r, &req) {
		return
	}
	if req.PerSecond > 0 && req.PerMinute > 0 {
		writeError(w, http.StatusBadRequest, "bad.request", "give perSecond or perMinute, not both")
		return
	}
	if req.PerMinute > 0 {
		s.SetRateLimitPerMinute(req.PerMinute)
	} else {
		s.SetRateLimit(req.PerSecond)
	}
	if req.RefusalsUseAllowance != nil {
		s.SetRefusalsUseAllowance(*req.RefusalsUseAllowance)
	}
	w.WriteHeader(http.StatusNoContent)
}

// handleAdminAnswerRate serves POST /sim/answer-rate: {"rate":0.5}.
func (s *Sim) handleAdminAnswerRate(w http.ResponseWriter, r *http.Request) {
	adminSet(w, r, func(req struct {
		Rate float64 `json:"rate"`
	}) string {
		s.SetAnswerRate(req.Rate)
		return ""
	})
}

// handleAdminTopicRejection serves POST /sim/topic-rejections:
// {"topic":"v2.routing.queues.X.conversations.callbacks","reason":"...",
// "missingPermissions":["..."]}; an empty reason removes the rule.
func (s *Sim) handleAdminTopicRejection(w http.ResponseWriter, r *http.Request) {
	adminSet(w, r, func(req struct {
		Topic   string   `json:"topic"`
		Reason  string   `json:"reason"`
		Missing []string `json:"missingPermissions"`
	}) string {
		s.SetTopicRejection(req.Topic, req.Reason, req.Missing...)
		return ""
	})
}

// handleAdminPermissions serves POST /sim/permissions:
// {"clientId":"sim-client","permissions":["routing:queue:view", …]} gives
// the client exactly those permissions; "permissions": null gives it every
// permission again (SetPermissions).
func (s *Sim) handleAdminPermissions(w http.ResponseWriter, r *http.Request) {
	adminSet(w, r, func(req struct {
		ClientID    string   `json:"clientId"`
		Permissions []string `json:"permissions"`
	}) string {
		if req.ClientID == "" {
			return "clientId is required."
		}
		s.SetPermissions(req.ClientID, req.Permissions)
		return ""
	})
}

// handleAdminDateOffset serves POST /sim/date-offset: {"offset":"30s"} (or
// seconds, negative for behind) sets the offset of the Date header
// (SetDateOffset).
func (s *Sim) handleAdminDateOffset(w http.ResponseWriter, r *http.Request) {
	adminSet(w, r, func(req struct {
		Offset duration `json:"offset"`
	}) string {
		s.SetDateOffset(time.Duration(req.Offset))
		return ""
	})
}

// adminSet decodes an admin request's JSON body into a T and applies it:
// 204, or 400 with the message apply returns.
func adminSet[T any](w http.ResponseWriter, r *http.Request, apply func(T) string) {
	var req T
	if !decodeJSON(w, r, &req) {
		return
	}
	if msg := apply(req); msg != "" {
		writeError(w, http.StatusBadRequest, "bad.request", msg)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// handleAdminClock serves GET and POST /sim/clock. POST takes
// {"advance":"10m"} and/or {"speed":60}. Both answer {"now", "speed"}.
func (s *Sim) handleAdminClock(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost {
		var req struct {
			Advance duration `json:"advance"`
			Speed   *float64 `json:"speed"`
		}
		if !decodeJSON(w, r, &req) {
			return
		}
		if req.Speed != nil {
			s.clock.SetSpeed(*req.Speed)
		}
		s.clock.Advance(time.Duration(req.Advance))
	}
	writeJSON(w, http.StatusOK, map[string]any{"now": s.clock.Now().UTC().Format(time.RFC3339Nano), "speed": s.clock.Speed()})
}

// handleAdminCallbacks serves GET /sim/callbacks: Callbacks() as JSON.
func (s *Sim) handleAdminCallbacks(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.Callbacks())
}

// handleAdminSMS serves GET /sim/sms: SMS() as JSON.
func (s *Sim) handleAdminSMS(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.SMS())
}

// handleAdminStats serves GET /sim/stats: Stats() as JSON.
func (s *Sim) handleAdminStats(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.Stats())
}

// handleAdminRevoke serves POST /sim/tokens/revoke.
func (s *Sim) handleAdminRevoke(w http.ResponseWriter, r *http.Request) {
	s.RevokeTokens()
	w.WriteHeader(http.StatusNoContent)
}

func (s *Sim) channelExists(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.channels[id]
	return ok
}

// handleAdminExpireChannel serves POST /sim/channels/{channelId}/expire.
func (s *Sim) handleAdminExpireChannel(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("channelId")
	if !s.channelExists(id) {
		writeError(w, http.StatusNotFound, "not.found", "The channel was not found.")
		return
	}
	s.ExpireChannel(id)
	w.WriteHeader(http.StatusNoContent)
}

// handleAdminSocketClosing serves POST /sim/channels/{channelId}/socket-closing.
func (s *Sim) handleAdminSocketClosing(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("channelId")
	if !s.channelExists(id) {
		writeError(w, http.StatusNotFound, "not.found", "The channel was not found.")
		return
	}
	s.SocketClosing(id)
	w.WriteHeader(http.StatusNoContent)
}

// handleAdminDropSockets serves POST /sim/sockets/drop.
func (s *Sim) handleAdminDropSockets(w http.ResponseWriter, r *http.Request) {
	s.DropSockets()
	w.WriteHeader(http.StatusNoContent)
}

// handleAdminReschedule serves POST /sim/conversations/{conversationId}/reschedule:
// {"at":"2026-06-01T15:00:00Z"}.
func (s *Sim) handleAdminReschedule(w http.ResponseWriter, r *http.Request) {
	var req struct {
		At string `json:"at"`
	}
	if !decodeJSON(w, r, &req) {
		return
	}
	at, err := parseTime(req.At)
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad.request", "at must be an RFC 3339 instant.")
		return
	}
	writeAdminResult(w, s.Reschedule(r.PathValue("conversationId"), at))
}

// handleAdminDisconnect serves POST /sim/conversations/{conversationId}/disconnect.
func (s *Sim) handleAdminDisconnect(w http.ResponseWriter, r *http.Request) {
	writeAdminResult(w, s.Disconnect(r.PathValue("conversationId")))
}

// handleAdminPlay serves POST /sim/conversations/{conversationId}/play: a
// Play, e.g. {"agentMisses":1,"customer":"no-answer","reschedule":"1h",
// "retry":{}}.
func (s *Sim) handleAdminPlay(w http.ResponseWriter, r *http.Request) {
	var p Play
	if !decodeJSON(w, r, &p) {
		return
	}
	writeAdminResult(w, s.SetPlay(r.PathValue("conversationId"), p))
}

func writeAdminResult(w http.ResponseWriter, err error) {
	switch {
	case err == nil:
		w.WriteHeader(http.StatusNoContent)
	case errors.Is(err, ErrNotFound):
		writeError(w, http.StatusNotFound, "not.found", "The conversation was not found.")
	case errors.Is(err, ErrNotScheduled):
		writeError(w, http.StatusConflict, "conflict", "The callback is no longer scheduled.")
	default:
		writeError(w, http.StatusInternalServerError, "internal.server.error", err.Error())
	}
}

// handleAdminOwner serves POST /sim/conversations/{conversationId}/owner:
// {"agentId":"…"} ("" for none).
func (s *Sim) handleAdminOwner(w http.ResponseWriter, r *http.Request) {
	var req struct {
		AgentID string `json:"agentId"`
	}
	if !decodeJSON(w, r, &req) {
		return
	}
	writeAdminResult(w, s.SetOwner(r.PathValue("conversationId"), req.AgentID))
}

// handleAdminAnalytics serves POST /sim/analytics: {"delay":"5s",
// "telNumbers":true}; an absent field is left as it is.
func (s *Sim) handleAdminAnalytics(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Delay      *duration `json:"delay"`
		TelNumbers *bool     `json:"telNumbers"`
	}
	if !decodeJSON(w, r, &req) {
		return
	}
	if req.Delay != nil {
		s.SetAnalyticsDelay(time.Duration(*req.Delay))
	}
	if req.TelNumbers != nil {
		s.SetAnalyticsTelNumbers(*req.TelNumbers)
	}
	w.WriteHeader(http.StatusNoContent)
}

// handleAdminAgentID serves POST /sim/agent-id: {"required":true}.
func (s *Sim) handleAdminAgentID(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Required bool `json:"required"`
	}
	if !decodeJSON(w, r, &req) {
		return
	}
	s.SetRequireAgentID(req.Required)
	w.WriteHeader(http.StatusNoContent)
}

// handleAdminDropDisconnects serves POST /sim/disconnects/drop:
// {"count":2}.
func (s *Sim) handleAdminDropDisconnects(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Count int `json:"count"`
	}
	if !decodeJSON(w, r, &req) {
		return
	}
	s.DropDisconnects(req.Count)
	w.WriteHeader(http.StatusNoContent)
}

// handleAdminLostResponses serves POST /sim/lost-responses:
// {"method":"POST","pathPrefix":"/api/v2/conversations/callbacks","rate":0.1};
// rate 0 turns it off.
func (s *Sim) handleAdminLostResponses(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Method     string  `json:"method"`
		PathPrefix string  `json:"pathPrefix"`
		Rate       float64 `json:"rate"`
	}
	if !decodeJSON(w, r, &req) {
		return
	}
	if req.Rate < 0 || req.Rate > 1 {
		writeError(w, http.StatusBadRequest, "bad.request", "rate must be from 0 to 1.")
		return
	}
	s.SetLostResponseRate(req.Method, req.PathPrefix, req.Rate)
	w.WriteHeader(http.StatusNoContent)
}

// handleAdminSMSConversation serves POST /sim/sms/conversations:
// {"fromAddress":"+1800…","toAddress":"+1415…"} → 200 {"conversationId"}.
func (s *Sim) handleAdminSMSConversation(w http.ResponseWriter, r *http.Request) {
	var req struct {
		FromAddress string `json:"fromAddress"`
		ToAddress   string `json:"toAddress"`
	}
	if !decodeJSON(w, r, &req) {
		return
	}
	if req.FromAddress == "" || req.ToAddress == "" {
		writeError(w, http.StatusBadRequest, "bad.request", "fromAddress and toAddress are required.")
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"conversationId": s.OpenSMSConversation(req.FromAddress, req.ToAddress)})
}

// handleAdminSMSRefusal serves POST /sim/sms/refusals: {"fromAddress":
// "+1800…","reason":"10dlc"}; an empty reason lifts the refusal.
func (s *Sim) handleAdminSMSRefusal(w http.ResponseWriter, r *http.Request) {
	var req struct {
		FromAddress string `json:"fromAddress"`
		Reason      string `json:"reason"`
	}
	if !decodeJSON(w, r, &req) {
		return
	}
	if req.FromAddress == "" || (req.Reason != "" && req.Reason != SMSRefusal10DLC) {
		writeError(w, http.StatusBadRequest, "bad.request", `fromAddress is required and reason must be "10dlc" or "".`)
		return
	}
	s.RefuseSMS(req.FromAddress, req.Reason)
	w.WriteHeader(http.StatusNoContent)
}
