package gcsim_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/slotline/slotline/internal/genesys/gcsim"
)

// TestInboundCalls plays an answered and an abandoned inbound call
// through POST /sim/inbound-calls: each step is published on the queue's
// conversations topic (not on the callbacks topic), GET
// /api/v2/conversations/{id} serves the call with the customer's ani, and
// analytics finds it by ani; a call without a number or on an unknown
// queue is a 400.
func TestInboundCalls(t *testing.T) {
	t.Parallel()
	b := setup(t, gcsim.Options{AnalyticsDelay: -1})
	_, uri := b.channel(t, conversationsTopic(queueID), topic(queueID))
	ws := b.dial(t, uri)

	for _, bad := range []string{`{"queueId":"` + queueID + `"}`, `{"queueId":"nope","from":"+14155550100"}`} {
		if res := b.admin(t, "POST", "/sim/inbound-calls", bad); res.status != 400 {
			t.Errorf("POST /sim/inbound-calls %s: %d, want 400", bad, res.status)
		}
	}
	play := func(from string, answered bool) string {
		t.Helper()
		body, _ := json.Marshal(gcsim.InboundCall{QueueID: queueID, From: from, Answered: answered})
		res := b.admin(t, "POST", "/sim/inbound-calls", string(body))
		var out struct {
			ConversationID string `json:"conversationId"`
		}
		res.decode(t, &out)
		if res.status != 201 || out.ConversationID == "" {
			t.Fatalf("POST /sim/inbound-calls: %d %s", res.status, res.body)
		}
		return out.ConversationID
	}
	events := func(id string, n int) []string {
		t.Helper()
		var out []string
		for range n {
			f := nextEvent(t, ws)
			if f.TopicName != conversationsTopic(queueID) {
				t.Fatalf("an inbound call's event on %s, want only the conversations topic", f.TopicName)
			}
			var cv conversationView
			if err := json.Unmarshal(f.EventBody, &cv); err != nil || cv.ID != id {
				t.Fatalf("event %s: %v", f.EventBody, err)
			}
			out = append(out, strings.Join(cv.summary(), "; "))
		}
		return out
	}

	answered := play("+14155550100", true)
	got := events(answered, 2)
	want := []string{"customer call=connected+c; acd call=connected+c",
		"customer call=connected+c; acd call=disconnected/transfer+c; agent call=connected+c"}
	if !slices.Equal(got, want) {
		t.Errorf("answered call events:\n got %q\nwant %q", got, want)
	}
	var cv struct {
		Participants []struct {
			Purpose, Ani, Address, QueueID, UserID, ConnectedTime string
			Calls                                                 []struct{ Direction string }
		}
	}
	b.call(t, "GET", "/api/v2/conversations/"+answered, nil).decode(t, &cv)
	if len(cv.Participants) != 3 || cv.Participants[0].Ani != "tel:+14155550100" || cv.Participants[0].Calls[0].Direction != "inbound" ||
		cv.Participants[2].Purpose != "agent" || cv.Participants[2].QueueID != queueID || cv.Participants[2].UserID == "" ||
		cv.Participants[2].ConnectedTime == "" {
		t.Errorf("GET the answered call: %+v", cv)
	}

	abandoned := play("+14155550101", false)
	got = events(abandoned, 2)
	want = []string{"customer call=connected+c; acd call=connected+c",
		"customer call=disconnected/endpoint+c; acd call=disconnected/peer+c"}
	if !slices.Equal(got, want) {
		t.Errorf("abandoned call events:\n got %q\nwant %q", got, want)
	}

	res := b.call(t, "POST", "/api/v2/analytics/conversations/details/query", map[string]any{
		"interval": "2026-01-01T00:00:00.000Z/2030-01-01T00:00:00.000Z",
		"segmentFilters": []map[string]any{{"type": "and", "predicates": []map[string]string{
			{"dimension": "mediaType", "value": "voice"}, {"dimension": "ani", "value": "+14155550100"}}}},
	})
	var found struct {
		TotalHits     int `json:"totalHits"`
		Conversations []struct {
			ConversationID string `json:"conversationId"`
		} `json:"conversations"`
	}
	res.decode(t, &found)
	if res.status != 200 || found.TotalHits != 1 || len(found.Conversations) != 1 || found.Conversations[0].ConversationID != answered {
		t.Errorf("analytics by ani: %d %s", res.status, res.body)
	}
}
