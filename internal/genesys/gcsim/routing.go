package gcsim

import (
	"crypto/sha256"
	"net/http"
)

// smsAddressID derives a stable id for a queue's SMS number entity.
func smsAddressID(number string) string {
	h := sha256.Sum256([]byte("sms:" + number))
	return formatUUID([16]byte(h[:16]))
}

// handleGetQueue serves GET /api/v2/routing/queues/{queueId}.
func (s *Sim) handleGetQueue(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	q, ok := s.queues[r.PathValue("queueId")]
	s.mu.Unlock()
	if !ok {
		writeError(w, http.StatusNotFound, "not.found", "The queue was not found.")
		return
	}
	body := map[string]any{
		"id":                    q.ID,
		"name":                  q.Name,
		"division":              ref{ID: "00000000-0000-4000-8000-000000000000", Name: "Home"},
		"memberCount":           len(s.agents),
		"userMemberCount":       len(s.agents),
		"joinedMemberCount":     len(s.agents),
		"skillEvaluationMethod": "BEST",
		"callingPartyName":      q.Name,
		"mediaSettings": map[string]any{
			"callback": map[string]any{
				"mode":                   q.CallbackMode,
				"alertingTimeoutSeconds": int(s.opts.AlertTimeout.Seconds()),
				"autoDialDelaySeconds":   int(s.opts.AutoDialDelay.Seconds()),
				"serviceLevel":           map[string]any{"percentage": 0.8, "durationMs": 20000},
			},
		},
		"selfUri": "/api/v2/routing/queues/" + q.ID,
	}
	if q.CallingPartyNumber != "" {
		body["callingPartyNumber"] = q.CallingPartyNumber
	}
	if q.SMSAddress != "" {
		id := smsAddressID(q.SMSAddress)
		body["outboundMessagingAddresses"] = map[string]any{
			"smsAddress": ref{ID: id, Name: q.SMSAddress, SelfURI: "/api/v2/routing/sms/phonenumbers/" + id},
		}
	}
	writeJSON(w, http.StatusOK, body)
}

// handleGetSMSPhoneNumber serves GET
// /api/v2/routing/sms/phonenumbers/{addressId}, the entity a queue's
// outboundMessagingAddresses.smsAddress refers to.
func (s *Sim) handleGetSMSPhoneNumber(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("addressId")
	s.mu.Lock()
	var number string
	for n := range s.smsAddresses {
		if smsAddressID(n) == id {
			number = n
		}
	}
	s.mu.Unlock()
	if number == "" {
		writeError(w, http.StatusNotFound, "not.found", "The SMS phone number was not found.")
		return
	}
	writeJSON(w, http.StatusOK, newSMSNumber(number))
}

// scheduleRefs returns the {id, name, selfUri} list of schedules.
func scheduleRefs(list []Schedule) []ref {
	out := make([]ref, 0, len(list))
	for _, sc := range list {
		out = append(out, ref{ID: sc.ID, Name: sc.Name, SelfURI: "/api/v2/architect/schedules/" + sc.ID})
	}
	return out
}

// handleGetScheduleGroup serves GET
// /api/v2/architect/schedulegroups/{scheduleGroupId}.
func (s *Sim) handleGetScheduleGroup(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	g, ok := s.groups[r.PathValue("scheduleGroupId")]
	s.mu.Unlock()
	if !ok {
		writeError(w, http.StatusNotFound, "not.found", "The schedule group was not found.")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"id": g.ID, "name": g.Name, "version": 1, "state": "active", "timeZone": g.TimeZone,
		"division":         ref{ID: "00000000-0000-4000-8000-000000000000", Name: "Home"},
		"openSchedules":    scheduleRefs(g.Open),
		"closedSchedules":  scheduleRefs(g.Closed),
		"holidaySchedules": scheduleRefs(g.Holiday),
		"selfUri":          "/api/v2/architect/schedulegroups/" + g.ID,
	})
}

// handleGetSchedule serves GET /api/v2/architect/schedules/{scheduleId}.
// start and end are local times without an offset, as Genesys sends them.
func (s *Sim) handleGetSchedule(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	sc, ok := s.schedules[r.PathValue("scheduleId")]
	s.mu.Unlock()
	if !ok {
		writeError(w, http.StatusNotFound, "not.found", "The schedule was not found.")
		return
	}
	body := map[string]any{
		"id": sc.ID, "name": sc.Name, "version": 1, "state": "active",
		"division": ref{ID: "00000000-0000-4000-8000-000000000000", Name: "Home"},
		"start":    sc.Start, "end": sc.End,
		"selfUri": "/api/v2/architect/schedules/" + sc.ID,
	}
	if sc.RRule != "" {
		body["rrule"] = sc.RRule
	}
	writeJSON(w, http.StatusOK, body)
}
