package genesys

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

const (
	// findPageSize is the analytics page size FindCallbacks asks for.
	findPageSize = 100
	// findMaxPages bounds FindCallbacks' paging (10,000 conversations; more
	// is an error).
	findMaxPages = 100
)

// FindQuery selects callback conversations for FindCallbacks.
type FindQuery struct {
	// QueueID is the Genesys queue. Required.
	QueueID string
	// CallbackNumbers narrows the search to callbacks to any of these
	// numbers (E.164) when set; more than one become an "or" clause, so
	// that one query can look for several callbacks.
	CallbackNumbers []string
	// From and To bound the interval. Genesys matches conversations that
	// started on a day the interval touches. Both required, From < To.
	From, To time.Time
}

type analyticsPredicate struct {
	Type      string `json:"type,omitempty"`
	Dimension string `json:"dimension"`
	Operator  string `json:"operator,omitempty"`
	Value     string `json:"value,omitempty"`
}

type analyticsFilter struct {
	Type       string               `json:"type"`
	Predicates []analyticsPredicate `json:"predicates"`
	Clauses    []analyticsClause    `json:"clauses,omitempty"`
}

type analyticsClause struct {
	Type       string               `json:"type"`
	Predicates []analyticsPredicate `json:"predicates"`
}

type analyticsPaging struct {
	PageSize   int `json:"pageSize"`
	PageNumber int `json:"pageNumber"`
}

type analyticsQuery struct {
	Interval       string            `json:"interval"`
	Order          string            `json:"order"`
	OrderBy        string            `json:"orderBy"`
	Paging         analyticsPaging   `json:"paging"`
	SegmentFilters []analyticsFilter `json:"segmentFilters"`
}

type analyticsResponse struct {
	Conversations []struct {
		ConversationID string `json:"conversationId"`
	} `json:"conversations"`
	TotalHits int `json:"totalHits"`
}

// FindCallbacks returns the ids of the callback conversations of a queue
// (and numbers) started in the query's interval, through every page of POST
// /api/v2/analytics/conversations/details/query (permission
// analytics:conversationDetail:view). The analytics index lags behind the
// platform by an UNCONFIRMED delay: a callback created a moment ago may be
// missing, so a caller recovering from an *UnknownOutcomeError should look
// again before creating anew. Analytics results carry no participant
// attributes; read each candidate with GetCallbackConversation.
func (c *Client) FindCallbacks(ctx context.Context, q FindQuery) ([]string, error) {
	if q.QueueID == "" {
		return nil, invalidf("find callbacks: queue id is required")
	}
	if q.From.IsZero() || q.To.IsZero() || !q.From.Before(q.To) {
		return nil, invalidf("find callbacks: from and to are required, from before to")
	}
	preds := []analyticsPredicate{
		{Type: "dimension", Dimension: "mediaType", Operator: "matches", Value: "callback"},
		{Type: "dimension", Dimension: "queueId", Operator: "matches", Value: q.QueueID},
	}
	filter := analyticsFilter{Type: "and"}
	var numbers []analyticsPredicate
	for _, n := range q.CallbackNumbers {
		numbers = append(numbers, analyticsPredicate{Type: "dimension", Dimension: "callbackNumber", Operator: "matches", Value: n})
	}
	if len(numbers) == 1 {
		preds = append(preds, numbers[0])
	} else if len(numbers) > 1 {
		filter.Clauses = []analyticsClause{{Type: "or", Predicates: numbers}}
	}
	filter.Predicates = preds
	body := analyticsQuery{
		Interval:       formatTime(q.From) + "/" + formatTime(q.To),
		Order:          "asc",
		OrderBy:        "conversationStart",
		SegmentFilters: []analyticsFilter{filter},
	}
	var ids []string
	seen := make(map[string]bool)
	for page := 1; page <= findMaxPages; page++ {
		body.Paging = analyticsPaging{PageSize: findPageSize, PageNumber: page}
		var resp analyticsResponse
		if err := c.do(ctx, call{op: "find_callbacks", method: http.MethodPost, path: "/api/v2/analytics/conversations/details/query", body: body, out: &resp}); err != nil {
			return nil, err
		}
		for _, cv := range resp.Conversations {
			if cv.ConversationID != "" && !seen[cv.ConversationID] {
				seen[cv.ConversationID] = true
				ids = append(ids, cv.ConversationID)
			}
		}
		if resp.TotalHits > findMaxPages*findPageSize {
			break // known on the first page: no need to read 100
		}
		if len(resp.Conversations) < findPageSize || (resp.TotalHits > 0 && page*findPageSize >= resp.TotalHits) {
			return ids, nil
		}
	}
	// A truncated answer must not read as "not there": a caller deciding
	// whether to create again would make a duplicate.
	return nil, fmt.Errorf("genesys find_callbacks: more than %d conversations match; narrow the interval or the numbers", findMaxPages*findPageSize)
}
