package gcsim

import (
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"
)

// DefaultAnalyticsDelay is Options.AnalyticsDelay's default: how long, in
// clock time, a new callback takes to show in analytics queries.
const DefaultAnalyticsDelay = 5 * time.Second

// Analytics paging limits.
const (
	defaultPageSize = 25
	maxPageSize     = 100
)

// conversationQuery is the part of ConversationQuery the simulator reads.
type conversationQuery struct {
	Interval            string           `json:"interval"`
	ConversationFilters []analyticFilter `json:"conversationFilters"`
	SegmentFilters      []analyticFilter `json:"segmentFilters"`
	Order               string           `json:"order"`
	OrderBy             string           `json:"orderBy"`
	Paging              *struct {
		PageSize   int `json:"pageSize"`
		PageNumber int `json:"pageNumber"`
	} `json:"paging"`
}

type analyticFilter struct {
	Type       string              `json:"type"`
	Predicates []analyticPredicate `json:"predicates"`
	Clauses    []struct {
		Type       string              `json:"type"`
		Predicates []analyticPredicate `json:"predicates"`
	} `json:"clauses"`
}

type analyticPredicate struct {
	Type      string `json:"type"`
	Dimension string `json:"dimension"`
	Operator  string `json:"operator"`
	Value     string `json:"value"`
}

// analyticsConversation is AnalyticsConversationWithoutAttributes.
type analyticsConversation struct {
	ConversationID       string                 `json:"conversationId"`
	ConversationStart    string                 `json:"conversationStart"`
	ConversationEnd      string                 `json:"conversationEnd,omitempty"`
	OriginatingDirection string                 `json:"originatingDirection"`
	DivisionIDs          []string               `json:"divisionIds"`
	Participants         []analyticsParticipant `json:"participants"`
}

type analyticsParticipant struct {
	ParticipantID   string             `json:"participantId"`
	ParticipantName string             `json:"participantName,omitempty"`
	Purpose         string             `json:"purpose"`
	UserID          string             `json:"userId,omitempty"`
	Sessions        []analyticsSession `json:"sessions"`
}

type analyticsSession struct {
	SessionID             string            `json:"sessionId"`
	MediaType             string            `json:"mediaType"`
	Direction             string            `json:"direction"`
	CallbackNumbers       []string          `json:"callbackNumbers"`
	CallbackScheduledTime string            `json:"callbackScheduledTime,omitempty"`
	CallbackUserName      string            `json:"callbackUserName,omitempty"`
	Segments              []analyticSegment `json:"segments"`
}

type analyticSegment struct {
	SegmentStart   string `json:"segmentStart"`
	SegmentEnd     string `json:"segmentEnd,omitempty"`
	SegmentType    string `json:"segmentType"`
	QueueID        string `json:"queueId,omitempty"`
	DisconnectType string `json:"disconnectType,omitempty"`
	Conference     bool   `json:"conference"`
}

// row is what a predicate is evaluated against: the dimension values of one
// segment (with its session, participant and conversation), or of a whole
// conversation (the values of all its segments together).
type row map[string][]string

func (rw row) add(dim string, vals ...string) {
	for _, v := range vals {
		if v != "" {
			rw[dim] = append(rw[dim], v)
		}
	}
}

// supportedDimensions are the predicate dimensions the simulator knows.
var supportedDimensions = map[string]bool{
	"conversationId": true, "conversationStart": true, "conversationEnd": true,
	"mediaType": true, "queueId": true, "callbackNumber": true, "purpose": true,
	"disconnectType": true, "direction": true, "userId": true, "participantId": true, "sessionId": true,
	"ani": true,
}

// rows returns c's conversation row and its segment rows; tel holds the
// callback numbers in the "tel:+1…" form.
func (c *callback) rows(tel bool) (row, []row) {
	base := row{}
	base.add("conversationId", c.id)
	base.add("conversationStart", fmtTime(c.created))
	base.add("conversationEnd", fmtTime(c.ended))
	conv := maps.Clone(base)
	var segs []row
	for _, p := range c.participants() {
		seg := maps.Clone(base)
		seg.add("mediaType", "callback")
		seg.add("direction", "outbound")
		seg.add("queueId", c.queueID)
		seg.add("callbackNumber", c.indexedNumbers(tel)...)
		seg.add("purpose", p.purpose)
		seg.add("disconnectType", p.disconnectType)
		seg.add("participantId", p.id)
		seg.add("sessionId", p.commID)
		if p.user != nil {
			seg.add("userId", p.user.ID)
		}
		segs = append(segs, seg)
		for k, v := range seg {
			if !strings.HasPrefix(k, "conversation") {
				conv.add(k, v...)
			}
		}
	}
	return conv, segs
}

// indexedNumbers returns c's callback numbers as analytics holds them.
func (c *callback) indexedNumbers(tel bool) []string {
	if !tel {
		return c.numbers
	}
	out := make([]string, len(c.numbers))
	for i, n := range c.numbers {
		out[i] = "tel:" + n
	}
	return out
}

func (p analyticPredicate) match(rw row) bool {
	vals, exists := rw[p.Dimension]
	switch p.Operator {
	case "exists":
		return exists
	case "notExists":
		return !exists
	default: // "matches"
		return slices.ContainsFunc(vals, func(v string) bool { return strings.EqualFold(v, p.Value) })
	}
}

func combine(typ string, results []bool) bool {
	if strings.EqualFold(typ, "or") {
		return slices.Contains(results, true)
	}
	return !slices.Contains(results, false)
}

func (f analyticFilter) match(rw row) bool {
	var results []bool
	for _, p := range f.Predicates {
		results = append(results, p.match(rw))
	}
	for _, cl := range f.Clauses {
		var sub []bool
		for _, p := range cl.Predicates {
			sub = append(sub, p.match(rw))
		}
		results = append(results, combine(cl.Type, sub))
	}
	return combine(f.Type, results)
}

// checkFilters returns what is unsupported in filters, or "".
func checkFilters(filters []analyticFilter) string {
	var preds []analyticPredicate
	for _, f := range filters {
		preds = append(preds, f.Predicates...)
		for _, cl := range f.Clauses {
			preds = append(preds, cl.Predicates...)
		}
	}
	for _, p := range preds {
		if p.Type != "" && p.Type != "dimension" {
			return "The simulator supports only dimension predicates, not " + p.Type + "."
		}
		if !supportedDimensions[p.Dimension] {
			return "The dimension " + p.Dimension + " is not supported by the simulator."
		}
		switch p.Operator {
		case "", "matches", "exists", "notExists":
		default:
			return "The operator " + p.Operator + " is not valid."
		}
	}
	return ""
}

// handleAnalyticsQuery serves POST
// /api/v2/analytics/conversations/details/query over the callbacks.
func (s *Sim) handleAnalyticsQuery(w http.ResponseWriter, r *http.Request) {
	var q conversationQuery
	if !decodeJSON(w, r, &q) {
		return
	}
	from, to, ok := parseInterval(q.Interval)
	if !ok {
		writeError(w, http.StatusBadRequest, "bad.request", "interval is required, as start/end ISO-8601 instants with end after start.")
		return
	}
	if msg := checkFilters(append(slices.Clone(q.ConversationFilters), q.SegmentFilters...)); msg != "" {
		writeError(w, http.StatusBadRequest, "bad.request", msg)
		return
	}
	pageSize, pageNumber := defaultPageSize, 1
	if q.Paging != nil {
		if q.Paging.PageSize != 0 {
			pageSize = q.Paging.PageSize
		}
		if q.Paging.PageNumber != 0 {
			pageNumber = q.Paging.PageNumber
		}
	}
	if pageSize < 1 || pageSize > maxPageSize || pageNumber < 1 {
		writeError(w, http.StatusBadRequest, "bad.request", "paging.pageSize must be 1 to 100 and paging.pageNumber at least 1.")
		return
	}
	// Conversations that started on a (UTC) day the interval touches.
	dayFrom := from.UTC().Truncate(24 * time.Hour)
	dayTo := to.UTC().Add(-time.Nanosecond).Truncate(24 * time.Hour).Add(24 * time.Hour)

	s.mu.Lock()
	// A callback shows once the index has caught up with it; before that
	// a match is counted in totalHits but not returned (an approximate
	// count, as Genesys documents for a sibling query).
	indexed := s.clock.Now().Add(-s.analyticsDelay)
	tel := s.analyticsTel
	var hits []*callback
	pending := 0
	for _, c := range s.callbackOrder {
		if c.created.Before(dayFrom) || !c.created.Before(dayTo) {
			continue
		}
		conv, segs := c.rows(tel)
		if !allMatch(q.ConversationFilters, []row{conv}) || !allMatch(q.SegmentFilters, segs) {
			continue
		}
		if c.created.After(indexed) {
			pending++
			continue
		}
		hits = append(hits, c)
	}
	all := make([]analyticsConversation, 0, len(hits))
	for _, c := range hits {
		all = append(all, c.analytics(tel))
	}
	// Inbound calls (PlayInbound), indexed after the same delay.
	inbound, inboundPending := s.inboundHitsLocked(q, dayFrom, dayTo, indexed, tel)
	if len(inbound) > 0 {
		all = append(all, inbound...)
		slices.SortStableFunc(all, func(a, b analyticsConversation) int { return strings.Compare(a.ConversationStart, b.ConversationStart) })
	}
	pending += inboundPending
	if strings.EqualFold(q.Order, "desc") {
		slices.Reverse(all)
	}
	total := len(all)
	start := min((pageNumber-1)*pageSize, total)
	out := all[start:min(start+pageSize, total)]
	s.mu.Unlock()
	body := map[string]any{"totalHits": total + pending}
	if len(out) > 0 {
		body["conversations"] = out
	}
	writeJSON(w, http.StatusOK, body)
}

// allMatch says whether every filter matches some row (for conversation
// filters, the one conversation row).
func allMatch(filters []analyticFilter, rows []row) bool {
	for _, f := range filters {
		if !slices.ContainsFunc(rows, f.match) {
			return false
		}
	}
	return true
}

func parseInterval(v string) (from, to time.Time, ok bool) {
	a, b, found := strings.Cut(v, "/")
	if !found {
		return from, to, false
	}
	from, err1 := parseTime(a)
	to, err2 := parseTime(b)
	if err1 != nil || err2 != nil || !to.After(from) {
		return from, to, false
	}
	return from, to, true
}

func (c *callback) analytics(tel bool) analyticsConversation {
	out := analyticsConversation{
		ConversationID: c.id, ConversationStart: fmtTime(c.created), ConversationEnd: fmtTime(c.ended),
		OriginatingDirection: "outbound", DivisionIDs: []string{},
	}
	for _, p := range c.participants() {
		ap := analyticsParticipant{ParticipantID: p.id, ParticipantName: p.name, Purpose: p.purpose}
		if p.user != nil {
			ap.UserID = p.user.ID
		}
		ap.Sessions = []analyticsSession{{
			SessionID: p.commID, MediaType: "callback", Direction: "outbound",
			CallbackNumbers: slices.Clone(c.indexedNumbers(tel)), CallbackScheduledTime: fmtTime(c.scheduled),
			CallbackUserName: c.userName,
			Segments: []analyticSegment{{
				SegmentStart: fmtTime(p.start), SegmentEnd: fmtTime(p.end), SegmentType: "interact",
				QueueID: c.queueID, DisconnectType: p.disconnectType,
			}},
		}}
		out.Participants = append(out.Participants, ap)
	}
	return out
}

// SetAnalyticsDelay sets Options.AnalyticsDelay from now on (0 or less:
// new callbacks show at once).
func (s *Sim) SetAnalyticsDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.analyticsDelay = max(d, 0)
}

// SetAnalyticsTelNumbers sets Options.AnalyticsTelNumbers from now on.
func (s *Sim) SetAnalyticsTelNumbers(tel bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.analyticsTel = tel
}
