package genesys

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestFindCallbacks(t *testing.T) {
	t.Parallel()
	const total = 250
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		var q struct {
			Paging struct{ PageSize, PageNumber int }
		}
		if err := json.NewDecoder(r.Body).Decode(&q); err != nil {
			writeError(w, 400, "bad.request", err.Error())
			return
		}
		var convs []map[string]any
		for i := (q.Paging.PageNumber - 1) * q.Paging.PageSize; i < min(total, q.Paging.PageNumber*q.Paging.PageSize); i++ {
			convs = append(convs, map[string]any{
				"conversationId":    fmt.Sprintf("c-%03d", i),
				"conversationStart": "2026-06-01T14:29:59.000Z",
				"participants":      []any{map[string]any{"purpose": "customer", "sessions": []any{map[string]any{"mediaType": "callback"}}}},
			})
		}
		if i := q.Paging.PageNumber; i == 2 {
			convs = append(convs, map[string]any{"conversationId": "c-000"}) // a duplicate across pages
		}
		resp := map[string]any{"totalHits": total}
		if len(convs) > 0 {
			resp["conversations"] = convs
		}
		writeJSON(w, 200, resp)
	})
	c, _ := testClient(t, f, nil)
	from := time.Date(2026, 5, 25, 0, 0, 0, 0, time.UTC)
	to := time.Date(2026, 6, 1, 2, 0, 0, 0, time.FixedZone("CEST", 2*3600))
	ids, err := c.FindCallbacks(context.Background(), FindQuery{CallbackNumbers: []string{"+14155550123"}, From: from, To: to})
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != total || ids[0] != "c-000" || ids[total-1] != "c-249" {
		t.Fatalf("got %d ids (%v … %v)", len(ids), ids[:1], ids[len(ids)-1:])
	}
	reqs := f.recorded()
	if len(reqs) != 3 {
		t.Fatalf("requests = %d, want 3 pages", len(reqs))
	}
	var first map[string]any
	if err := json.Unmarshal(reqs[0].Body, &first); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"interval": "2026-05-25T00:00:00.000Z/2026-06-01T00:00:00.000Z",
		"order":    "asc", "orderBy": "conversationStart",
		"paging": map[string]any{"pageSize": 100.0, "pageNumber": 1.0},
		// No queueId: the caller's data key proves whose callback it is.
		// The number in both forms analytics may hold.
		"segmentFilters": []any{map[string]any{"type": "and",
			"predicates": []any{
				map[string]any{"type": "dimension", "dimension": "mediaType", "operator": "matches", "value": "callback"},
			},
			"clauses": []any{map[string]any{"type": "or", "predicates": []any{
				map[string]any{"type": "dimension", "dimension": "callbackNumber", "operator": "matches", "value": "+14155550123"},
				map[string]any{"type": "dimension", "dimension": "callbackNumber", "operator": "matches", "value": "tel:+14155550123"},
			}}},
		}},
	}
	if diff := cmp.Diff(want, first); diff != "" {
		t.Errorf("query (-want +got):\n%s", diff)
	}
	if reqs[0].Path != "/api/v2/analytics/conversations/details/query" || !strings.Contains(string(reqs[2].Body), `"pageNumber":3`) {
		t.Errorf("path %s, third body %s", reqs[0].Path, reqs[2].Body)
	}

	// Several numbers go into one "or" clause.
	f.setAPI(okJSON(`{"totalHits":0}`))
	if _, err := c.FindCallbacks(context.Background(), FindQuery{QueueID: "q-1", CallbackNumbers: []string{"+14155550123", "+14155550124"}, From: from, To: to}); err != nil {
		t.Fatal(err)
	}
	reqs = f.recorded()
	var several struct {
		SegmentFilters []struct {
			Predicates []map[string]string
			Clauses    []struct {
				Type       string
				Predicates []map[string]string
			}
		}
	}
	if err := json.Unmarshal(reqs[len(reqs)-1].Body, &several); err != nil {
		t.Fatal(err)
	}
	if sf := several.SegmentFilters; len(sf) != 1 || len(sf[0].Predicates) != 2 || sf[0].Predicates[1]["value"] != "q-1" ||
		len(sf[0].Clauses) != 1 || sf[0].Clauses[0].Type != "or" ||
		len(sf[0].Clauses[0].Predicates) != 4 || sf[0].Clauses[0].Predicates[2]["value"] != "+14155550124" ||
		sf[0].Clauses[0].Predicates[3]["value"] != "tel:+14155550124" {
		t.Errorf("two numbers, a queue: %s", reqs[len(reqs)-1].Body)
	}

	// A totalHits that undercounts does not stop the paging: only a short
	// page does.
	f.setAPI(func(w http.ResponseWriter, r *http.Request) {
		var q struct{ Paging struct{ PageNumber int } }
		_ = json.NewDecoder(r.Body).Decode(&q)
		n := 100
		if q.Paging.PageNumber == 2 {
			n = 3
		}
		convs := make([]map[string]any, n)
		for i := range convs {
			convs[i] = map[string]any{"conversationId": fmt.Sprintf("u-%d-%d", q.Paging.PageNumber, i)}
		}
		writeJSON(w, 200, map[string]any{"totalHits": 50, "conversations": convs})
	})
	if ids, err := c.FindCallbacks(context.Background(), FindQuery{From: from, To: to}); err != nil || len(ids) != 103 {
		t.Errorf("undercounting totalHits: %d ids, err %v; want 103", len(ids), err)
	}

	// More matches than FindCallbacks pages through is an error, not a
	// short answer that would read as "not there".
	f.setAPI(func(w http.ResponseWriter, r *http.Request) {
		convs := make([]map[string]any, 100)
		for i := range convs {
			convs[i] = map[string]any{"conversationId": fmt.Sprintf("c-%d-%d", len(f.recorded()), i)}
		}
		writeJSON(w, 200, map[string]any{"totalHits": 20000, "conversations": convs})
	})
	before := len(f.recorded())
	if ids, err := c.FindCallbacks(context.Background(), FindQuery{QueueID: "q-1", From: from, To: to}); err == nil || ids != nil {
		t.Errorf("20,000 matches: %d ids, err %v; want an error", len(ids), err)
	}
	if n := len(f.recorded()) - before; n != 1 {
		t.Errorf("20,000 matches: %d pages read, want 1 (totalHits says it at once)", n)
	}

	// An empty result is one request and no error.
	f.setAPI(okJSON(`{"totalHits":0}`))
	ids, err = c.FindCallbacks(context.Background(), FindQuery{QueueID: "q-1", From: from, To: to})
	if err != nil || len(ids) != 0 {
		t.Errorf("ids = %v, err = %v", ids, err)
	}
	if _, err := c.FindCallbacks(context.Background(), FindQuery{QueueID: "q-1", From: to, To: from}); !errors.Is(err, ErrInvalidRequest) {
		t.Errorf("reversed interval: err = %v", err)
	}
}

func TestRouting(t *testing.T) {
	t.Parallel()
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/v2/routing/queues/q-1":
			okJSON(queueJSON)(w, r)
		case "/api/v2/architect/schedulegroups/sg-1":
			okJSON(`{ "id": "sg-1", "name": "Support hours", "state": "active", "timeZone": "America/New_York", "version": 4,
			  "openSchedules":   [ { "id": "sch-1", "name": "Weekday hours", "selfUri": "/api/v2/architect/schedules/sch-1" } ],
			  "closedSchedules": [ { "id": "sch-2", "name": "Lunch closure" } ],
			  "holidaySchedules":[ { "id": "sch-3", "name": "Christmas" } ] }`)(w, r)
		case "/api/v2/architect/schedules/sch-1":
			okJSON(`{ "id": "sch-1", "name": "Weekday hours", "state": "active",
			  "start": "2026-03-08T01:30:00.000", "end": "2026-03-08T17:00:00.000",
			  "rrule": "FREQ=WEEKLY;INTERVAL=1;BYDAY=MO,TU,WE,TH,FR", "version": 3 }`)(w, r)
		default:
			writeError(w, 404, "not.found", "no such entity")
		}
	})
	c, _ := testClient(t, f, nil)
	ctx := context.Background()

	q, err := c.GetQueue(ctx, "q-1")
	if err != nil {
		t.Fatal(err)
	}
	wantQ := &Queue{ID: "q-1", Name: "Support", CallingPartyNumber: "+18005550100",
		OutboundMessagingAddresses: &OutboundMessagingAddresses{SMSAddress: &Ref{ID: "sms-1", Name: "+18005550199"}}}
	if diff := cmp.Diff(wantQ, q); diff != "" {
		t.Errorf("queue (-want +got):\n%s", diff)
	}

	g, err := c.GetScheduleGroup(ctx, "sg-1")
	if err != nil {
		t.Fatal(err)
	}
	wantG := &ScheduleGroup{ID: "sg-1", Name: "Support hours", State: "active", TimeZone: "America/New_York",
		OpenSchedules: []Ref{{"sch-1", "Weekday hours"}}, ClosedSchedules: []Ref{{"sch-2", "Lunch closure"}}, HolidaySchedules: []Ref{{"sch-3", "Christmas"}}}
	if diff := cmp.Diff(wantG, g); diff != "" {
		t.Errorf("group (-want +got):\n%s", diff)
	}

	s, err := c.GetSchedule(ctx, "sch-1")
	if err != nil {
		t.Fatal(err)
	}
	if s.RRule != "FREQ=WEEKLY;INTERVAL=1;BYDAY=MO,TU,WE,TH,FR" || s.Start != "2026-03-08T01:30:00.000" {
		t.Errorf("schedule = %+v", s)
	}
	loc, err := time.LoadLocation(g.TimeZone)
	if err != nil {
		t.Fatal(err)
	}
	start, end, err := s.Window(loc)
	if err != nil {
		t.Fatal(err)
	}
	// 8 March 2026 is the spring-forward day in New York: 01:30 EST, 17:00 EDT.
	if got := start.UTC().Format(time.RFC3339); got != "2026-03-08T06:30:00Z" {
		t.Errorf("start = %s", got)
	}
	if got := end.UTC().Format(time.RFC3339); got != "2026-03-08T21:00:00Z" {
		t.Errorf("end = %s", got)
	}
	if _, err := c.GetSchedule(ctx, "nope"); !IsNotFound(err) {
		t.Errorf("err = %v", err)
	}
}

func TestScheduleWindow(t *testing.T) {
	t.Parallel()
	loc := time.FixedZone("X", 3600)
	for _, tt := range []struct {
		start, end string
		ok         bool
	}{
		{"2024-01-01T08:00:00.000", "2024-01-01T17:00:00.000", true},
		{"2024-01-01T08:00:00", "2024-01-01T17:00:00.123456", true},
		{"2024-01-01T08:00:00Z", "2024-01-01T17:00:00Z", true},
		{"2024-01-01T17:00:00", "2024-01-01T08:00:00", false},
		{"", "2024-01-01T08:00:00", false},
		{"08:00", "17:00", false},
	} {
		s := Schedule{ID: "s", Start: tt.start, End: tt.end}
		_, _, err := s.Window(loc)
		if (err == nil) != tt.ok {
			t.Errorf("%s–%s: err = %v", tt.start, tt.end, err)
		}
	}
	if _, _, err := (&Schedule{Start: "2024-01-01T08:00:00", End: "2024-01-01T09:00:00"}).Window(nil); err == nil {
		t.Error("nil location accepted")
	}
}

func TestSendSMS(t *testing.T) {
	t.Parallel()
	f := newFake(t, okJSON(`{ "id": "msg-1", "conversationId": "conv-9", "fromAddress": "+18005550100", "toAddress": "+14155550123",
	  "messengerType": "sms", "timestamp": "2026-06-01T14:31:02.000Z", "selfUri": "/api/v2/conversations/messages/msg-1" }`))
	c, _ := testClient(t, f, nil)
	msg := AgentlessMessage{FromAddress: "+18005550100", ToAddress: "+14155550123", TextBody: "We tried to reach you."}
	resp, err := c.SendSMS(context.Background(), msg)
	if err != nil {
		t.Fatal(err)
	}
	if resp.ID != "msg-1" || resp.ConversationID != "conv-9" || resp.Timestamp == nil || resp.MessengerType != "sms" {
		t.Errorf("resp = %+v", resp)
	}
	req := f.recorded()[0]
	want := `{"fromAddress":"+18005550100","toAddress":"+14155550123","toAddressMessengerType":"sms","textBody":"We tried to reach you."}`
	if req.Path != "/api/v2/conversations/messages/agentless" || string(req.Body) != want {
		t.Errorf("request %s %s", req.Path, req.Body)
	}
	msg.UseExistingActiveConversation = true
	if _, err := c.SendSMS(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
	want = `{"fromAddress":"+18005550100","toAddress":"+14155550123","toAddressMessengerType":"sms","textBody":"We tried to reach you.",` +
		`"useExistingActiveConversation":true}`
	if req := f.recorded()[1]; string(req.Body) != want {
		t.Errorf("with the active conversation: %s", req.Body)
	}

	msg.TextBody = strings.Repeat("é", MaxSMSLength) // 765 characters, more bytes: fine
	if _, err := c.SendSMS(context.Background(), msg); err != nil {
		t.Errorf("765 characters: %v", err)
	}
	msg.TextBody += "x"
	if _, err := c.SendSMS(context.Background(), msg); !errors.Is(err, ErrInvalidRequest) {
		t.Errorf("766 characters: err = %v", err)
	}
	if got := f.apiRequests.Load(); got != 3 {
		t.Errorf("requests = %d, want 3 (the long text refused locally)", got)
	}
}
