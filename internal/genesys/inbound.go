package genesys

import (
	"context"
	"time"
)

// InboundQuery selects inbound voice conversations for FindInboundCalls.
type InboundQuery struct {
	// Numbers are the callers' numbers (E.164), each matched as "+1…" and
	// as "tel:+1…" on the ani dimension (which form analytics stores is
	// UNCONFIRMED), in one "or" clause. At least one is required.
	Numbers []string
	// From and To bound the interval (Genesys matches conversations that
	// started on a day it touches). Both required, From < To.
	From, To time.Time
}

// FindInboundCalls returns the ids of the inbound voice conversations from
// any of q's numbers started in q's interval, through every page of POST
// /api/v2/analytics/conversations/details/query. It does not filter by
// queue (whether queueId and ani sit on one segment is UNCONFIRMED): read
// each conversation (GetConversation) to see which queue's agent answered
// it. Like FindCallbacks, it may miss calls the analytics index has not
// caught up with yet.
func (c *Client) FindInboundCalls(ctx context.Context, q InboundQuery) ([]string, error) {
	if q.From.IsZero() || q.To.IsZero() || !q.From.Before(q.To) || len(q.Numbers) == 0 {
		return nil, invalidf("find inbound calls: numbers, from and to are required, from before to")
	}
	var numbers []analyticsPredicate
	for _, n := range q.Numbers {
		for _, form := range numberForms(n) {
			numbers = append(numbers, analyticsPredicate{Type: "dimension", Dimension: "ani", Operator: "matches", Value: form})
		}
	}
	body := analyticsQuery{
		Interval: formatTime(q.From) + "/" + formatTime(q.To),
		Order:    "asc",
		OrderBy:  "conversationStart",
		SegmentFilters: []analyticsFilter{{Type: "and",
			Predicates: []analyticsPredicate{
				{Type: "dimension", Dimension: "mediaType", Operator: "matches", Value: "voice"},
				{Type: "dimension", Dimension: "direction", Operator: "matches", Value: "inbound"},
			},
			Clauses: []analyticsClause{{Type: "or", Predicates: numbers}},
		}},
	}
	return c.conversationIDs(ctx, "find_inbound_calls", body)
}
