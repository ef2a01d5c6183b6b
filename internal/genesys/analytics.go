package genesys

import (
	"context"
	"fmt"
	"net/http"
	"strings"
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
	// QueueID narrows the search to one Genesys queue when set. Whether a
	// callback not yet routed carries queueId on the segment that carries
	// its number is UNCONFIRMED, so a search for a lost create leaves it
	// empty (the caller's own data key on the conversation proves whose
	// callback it is).
	QueueID string
	// CallbackNumbers narrows the search to callbacks to any of these
	// numbers (E.164) when set. Each is matched as "+1…" and as "tel:+1…"
	// (which form analytics stores is UNCONFIRMED), in one "or" clause, so
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

// FindCallbacks returns the ids of the callback conversations (of a queue,
// to some numbers) started in the query's interval, through every page of
// POST /api/v2/analytics/conversations/details/query (permission
// analytics:conversationDetail:view). The analytics index lags behind the
// platform by an UNCONFIRMED delay: a callback created a moment ago may be
// missing, so a caller recovering from an *UnknownOutcomeError must look
// again, for as long as that delay may last, before creating anew. It
// pages until a short page: totalHits, which may be approximate, does not
// stop it (a totalHits over 10,000 is an error at once). Analytics results carry no participant attributes; read
// each candidate with GetCallbackConversation.
func (c *Client) FindCallbacks(ctx context.Context, q FindQuery) ([]string, error) {
	if q.From.IsZero() || q.To.IsZero() || !q.From.Before(q.To) {
		return nil, invalidf("find callbacks: from and to are required, from before to")
	}
	preds := []analyticsPredicate{
		{Type: "dimension", Dimension: "mediaType", Operator: "matches", Value: "callback"},
	}
	if q.QueueID != "" {
		preds = append(preds, analyticsPredicate{Type: "dimension", Dimension: "queueId", Operator: "matches", Value: q.QueueID})
	}
	filter := analyticsFilter{Type: "and"}
	var numbers []analyticsPredicate
	for _, n := range q.CallbackNumbers {
		for _, form := range numberForms(n) {
			numbers = append(numbers, analyticsPredicate{Type: "dimension", Dimension: "callbackNumber", Operator: "matches", Value: form})
		}
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
	return c.conversationIDs(ctx, "find_callbacks", body)
}

// conversationIDs runs an analytics conversation query page by page and
// returns the ids of the conversations it matches. op names the call.
func (c *Client) conversationIDs(ctx context.Context, op string, body analyticsQuery) ([]string, error) {
	var ids []string
	seen := make(map[string]bool)
	for page := 1; page <= findMaxPages; page++ {
		body.Paging = analyticsPaging{PageSize: findPageSize, PageNumber: page}
		var resp analyticsResponse
		if err := c.do(ctx, call{op: op, method: http.MethodPost, path: "/api/v2/analytics/conversations/details/query", body: body, out: &resp}); err != nil {
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
		if len(resp.Conversations) < findPageSize {
			return ids, nil
		}
	}
	// A truncated answer must not read as "not there": a caller deciding
	// whether to create again would make a duplicate.
	return nil, fmt.Errorf("genesys %s: more than %d conversations match; narrow the interval or the numbers", op, findMaxPages*findPageSize)
}

// numberForms returns the forms a callback number may be stored in by
// analytics: as given and with (or without) the "tel:" scheme.
func numberForms(n string) []string {
	if bare, ok := strings.CutPrefix(n, "tel:"); ok {
		return []string{bare, n}
	}
	return []string{n, "tel:" + n}
}
