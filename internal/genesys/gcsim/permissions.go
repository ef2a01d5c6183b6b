package gcsim

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// routePermissions are the permissions each API route needs, as the
// reference lists them (one of them suffices; a route not listed needs
// none). The SMS number list's sms:phoneNumber:view is not in the
// reference: it is the permission Genesys names for that resource.
var routePermissions = map[string][]string{
	"POST /api/v2/conversations/callbacks":                   {"conversation:callback:create"},
	"PATCH /api/v2/conversations/callbacks":                  {"conversation:callback:edit"},
	"POST /api/v2/conversations/callbacks/bulk/disconnect":   {"conversation:communication:disconnect"},
	"PATCH /api/v2/conversations/callbacks/{conversationId}": {"conversation:communication:disconnect"},
	"GET /api/v2/conversations/{conversationId}":             {"conversation:communication:view"},
	"POST /api/v2/analytics/conversations/details/query":     {"analytics:conversationDetail:view", "analytics:agentConversationDetail:view"},
	"GET /api/v2/routing/queues/{queueId}":                   {"routing:queue:view"},
	"GET /api/v2/routing/sms/phonenumbers":                   {"sms:phoneNumber:view"},
	"GET /api/v2/routing/sms/phonenumbers/{addressId}":       {"sms:phoneNumber:view"},
	"GET /api/v2/architect/schedulegroups/{scheduleGroupId}": {"routing:scheduleGroup:view"},
	"GET /api/v2/architect/schedules/{scheduleId}":           {"routing:schedule:view"},
	"POST /api/v2/conversations/messages/agentless":          {"conversation:message:create"},
}

// QueueTopicPermission is the permission the simulator requires of a
// client subscribing to a queue's conversations topics
// (v2.routing.queues.{id}.conversations[.callbacks]). Which one Genesys
// requires is UNCONFIRMED in the reference (§6.2: read requiresPermissions
// from availabletopics); the simulator takes the queue's view permission.
const QueueTopicPermission = "routing:queue:view"

// SetPermissions gives the OAuth client clientID exactly perms (an empty
// non-nil slice: none); nil gives it every permission again, the default
// of every client. A route the client lacks the permission for answers
// 403 missing.permissions before it reads the request's body, and a topic
// it lacks the permission for is Rejected with missingPermissions.
func (s *Sim) SetPermissions(clientID string, perms []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if perms == nil {
		delete(s.permissions, clientID)
		return
	}
	s.permissions[clientID] = slices.Clone(perms)
}

// missingLocked returns the permissions of need that clientID lacks: all of
// them when it holds none of need (need lists alternatives), else none.
func (s *Sim) missingLocked(clientID string, need []string) []string {
	held, limited := s.permissions[clientID]
	if !limited || len(need) == 0 {
		return nil
	}
	for _, p := range need {
		if slices.Contains(held, p) {
			return nil
		}
	}
	return need
}

// requirePermissions wraps the handler of an API route with the check of
// the route's permissions, made before the handler reads the body.
func (s *Sim) requirePermissions(pattern string, h http.HandlerFunc) http.HandlerFunc {
	need := routePermissions[pattern]
	if len(need) == 0 {
		return h
	}
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		missing := s.missingLocked(s.bearerLocked(r).clientID, need)
		s.mu.Unlock()
		if len(missing) > 0 {
			writeMissingPermissions(w, missing)
			return
		}
		h(w, r)
	}
}

// writeMissingPermissions answers 403 as Genesys does for a caller without
// a permission: code missing.permissions, a message naming the missing
// permission(s), and messageWithParams/messageParams.
func writeMissingPermissions(w http.ResponseWriter, missing []string) {
	list := "[" + strings.Join(missing, ", ") + "]"
	writeJSON(w, http.StatusForbidden, map[string]any{
		"message":           "Unable to perform the requested action. You are missing the following permission(s): " + list,
		"messageWithParams": "Unable to perform the requested action. You are missing the following permission(s): {permissions}",
		"messageParams":     map[string]string{"permissions": list},
		"code":              "missing.permissions",
		"status":            http.StatusForbidden,
		"contextId":         w.Header().Get(correlationHeader),
		"details":           []any{},
		"errors":            []any{},
	})
}

// SetDateOffset makes the Date header of every answer (login, API, admin)
// read the real time plus d, as the answers of a Genesys whose clock is d
// ahead of this host's (a negative d: behind); 0 sends the true time.
func (s *Sim) SetDateOffset(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dateOffset = d
}

// setDate writes the Date header when an offset is set (otherwise the
// server writes the true one).
func (s *Sim) setDate(w http.ResponseWriter) {
	s.mu.Lock()
	d := s.dateOffset
	s.mu.Unlock()
	if d != 0 {
		w.Header().Set("Date", time.Now().Add(d).UTC().Format(http.TimeFormat))
	}
}

// smsNumber is Genesys' SmsPhoneNumber, the part the simulator serves.
type smsNumber struct {
	ID                string   `json:"id"`
	Name              string   `json:"name"`
	PhoneNumber       string   `json:"phoneNumber"`
	PhoneNumberType   string   `json:"phoneNumberType"`
	PhoneNumberStatus string   `json:"phoneNumberStatus"`
	Capabilities      []string `json:"capabilities"`
	SelfURI           string   `json:"selfUri"`
}

func newSMSNumber(number string) smsNumber {
	id := smsAddressID(number)
	return smsNumber{ID: id, Name: number, PhoneNumber: number, PhoneNumberType: "local", PhoneNumberStatus: "active",
		Capabilities: []string{"sms"}, SelfURI: "/api/v2/routing/sms/phonenumbers/" + id}
}

// handleListSMSPhoneNumbers serves GET /api/v2/routing/sms/phonenumbers:
// the SMS numbers the org owns (the queues' SMS addresses and
// Options.SMSNumbers), in number order, filtered by ?phoneNumber= (an
// exact E.164 number; a "+" sent unencoded reads as a space), paged by
// pageSize (default 25, at most 100) and pageNumber.
func (s *Sim) handleListSMSPhoneNumbers(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	want := strings.TrimSpace(q.Get("phoneNumber"))
	if want != "" && !strings.HasPrefix(want, "+") {
		want = "+" + want
	}
	pageSize, pageNumber, ok := paging(q.Get("pageSize"), q.Get("pageNumber"))
	if !ok {
		writeError(w, http.StatusBadRequest, "bad.request", "pageSize must be 1 to 100 and pageNumber at least 1.")
		return
	}
	s.mu.Lock()
	var numbers []string
	for n := range s.smsAddresses {
		if want == "" || n == want {
			numbers = append(numbers, n)
		}
	}
	s.mu.Unlock()
	slices.Sort(numbers)
	total := len(numbers)
	from := min((pageNumber-1)*pageSize, total)
	entities := []smsNumber{}
	for _, n := range numbers[from:min(from+pageSize, total)] {
		entities = append(entities, newSMSNumber(n))
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"entities": entities, "pageSize": pageSize, "pageNumber": pageNumber, "total": total,
		"pageCount": (total + pageSize - 1) / pageSize,
	})
}

// paging reads pageSize and pageNumber query values.
func paging(size, number string) (pageSize, pageNumber int, ok bool) {
	pageSize, pageNumber = defaultPageSize, 1
	var err error
	if size != "" {
		if pageSize, err = strconv.Atoi(size); err != nil {
			return 0, 0, false
		}
	}
	if number != "" {
		if pageNumber, err = strconv.Atoi(number); err != nil {
			return 0, 0, false
		}
	}
	return pageSize, pageNumber, pageSize >= 1 && pageSize <= maxPageSize && pageNumber >= 1
}
