package genesys

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const createResponseJSON = `{
  "conversation": { "id": "c0ffee00-1", "selfUri": "/api/v2/conversations/c0ffee00-1" },
  "callbackIdentifiers": [ { "type": "ACD", "id": "acd-1" }, { "type": "EXTERNAL", "id": "ext-1" } ]
}`

func newCreateRequest() CreateCallbackRequest {
	yes := true
	return CreateCallbackRequest{
		QueueID:                 "q-1",
		CallbackUserName:        "Jane Doe",
		CallbackNumbers:         []string{"+14155550123"},
		CallbackScheduledTime:   time.Date(2026, 6, 1, 16, 30, 0, 0, time.FixedZone("CEST", 2*3600)),
		CountryCode:             "US",
		ValidateCallbackNumbers: &yes,
		Data:                    map[string]string{"slotline_reservation_id": "res-1"},
		CallerID:                "+18005550100",
		CallerIDName:            "Acme Support",
	}
}

func TestCreateCallback(t *testing.T) {
	t.Parallel()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		f := newFake(t, okJSON(createResponseJSON))
		c, _ := testClient(t, f, nil)
		resp, err := c.CreateCallback(context.Background(), newCreateRequest())
		if err != nil {
			t.Fatal(err)
		}
		want := &CallbackResponse{ConversationID: "c0ffee00-1", CallbackIdentifiers: []CallbackIdentifier{{"ACD", "acd-1"}, {"EXTERNAL", "ext-1"}}}
		if diff := cmp.Diff(want, resp); diff != "" {
			t.Errorf("response (-want +got):\n%s", diff)
		}
		req := f.recorded()[0]
		if req.Method != http.MethodPost || req.Path != "/api/v2/conversations/callbacks" {
			t.Errorf("request = %s %s", req.Method, req.Path)
		}
		var got map[string]any
		if err := json.Unmarshal(req.Body, &got); err != nil {
			t.Fatal(err)
		}
		wantBody := map[string]any{
			"queueId":                 "q-1",
			"callbackUserName":        "Jane Doe",
			"callbackNumbers":         []any{"+14155550123"},
			"callbackScheduledTime":   "2026-06-01T14:30:00.000Z",
			"countryCode":             "US",
			"validateCallbackNumbers": true,
			"data":                    map[string]any{"slotline_reservation_id": "res-1"},
			"callerId":                "+18005550100",
			"callerIdName":            "Acme Support",
		}
		if diff := cmp.Diff(wantBody, got); diff != "" {
			t.Errorf("body (-want +got):\n%s", diff)
		}
	})

	t.Run("ZeroTimeOmitted", func(t *testing.T) {
		t.Parallel()
		b, err := json.Marshal(CreateCallbackRequest{QueueID: "q", CallbackNumbers: []string{"+1"}})
		if err != nil {
			t.Fatal(err)
		}
		if want := `{"queueId":"q","callbackNumbers":["+1"]}`; string(b) != want {
			t.Errorf("body = %s, want %s", b, want)
		}
	})

	t.Run("ErrInvalidRequest", func(t *testing.T) {
		t.Parallel()
		f := newFake(t, okJSON(createResponseJSON))
		c, _ := testClient(t, f, nil)
		for _, req := range []CreateCallbackRequest{{CallbackNumbers: []string{"+1"}}, {QueueID: "q"}} {
			if _, err := c.CreateCallback(context.Background(), req); !errors.Is(err, ErrInvalidRequest) || !IsPermanent(err) {
				t.Errorf("err = %v", err)
			}
		}
		if f.apiRequests.Load() != 0 || f.tokens.Load() != 0 {
			t.Error("invalid request reached the server")
		}
	})

	t.Run("LostResponseIsUnknownOutcome", func(t *testing.T) {
		t.Parallel()
		f := newFake(t, hijackClose)
		c, _ := testClient(t, f, nil)
		_, err := c.CreateCallback(context.Background(), newCreateRequest())
		var uo *UnknownOutcomeError
		if !errors.As(err, &uo) || uo.Op != "create_callback" {
			t.Fatalf("err = %v, want *UnknownOutcomeError", err)
		}
		if IsPermanent(err) {
			t.Error("unknown outcome is permanent")
		}
		if got := f.apiRequests.Load(); got != 1 {
			t.Errorf("server saw %d creates, want exactly 1", got)
		}
	})

	t.Run("TimeoutAfterSendingIsUnknownOutcome", func(t *testing.T) {
		t.Parallel()
		f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
			io.ReadAll(r.Body)
			select {
			case <-r.Context().Done():
			case <-time.After(3 * time.Second):
			}
		})
		c, _ := testClient(t, f, func(cfg *Config) { cfg.CallTimeout = 200 * time.Millisecond })
		_, err := c.CreateCallback(context.Background(), newCreateRequest())
		var uo *UnknownOutcomeError
		if !errors.As(err, &uo) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want *UnknownOutcomeError wrapping a deadline", err)
		}
		if got := f.apiRequests.Load(); got != 1 {
			t.Errorf("server saw %d creates, want 1", got)
		}
	})

	t.Run("5xxIsUnknownOutcomeNotRetried", func(t *testing.T) {
		t.Parallel()
		for _, code := range []int{500, 502, 503, 504} {
			f := newFake(t, status(code))
			c, _ := testClient(t, f, nil)
			_, err := c.CreateCallback(context.Background(), newCreateRequest())
			var uo *UnknownOutcomeError
			var ae *APIError
			if !errors.As(err, &uo) || !errors.As(err, &ae) || ae.Status != code {
				t.Fatalf("%d: err = %v", code, err)
			}
			if got := f.apiRequests.Load(); got != 1 {
				t.Errorf("%d: server saw %d creates, want 1", code, got)
			}
		}
	})

	t.Run("GarbageBodyIsUnknownOutcome", func(t *testing.T) {
		t.Parallel()
		for _, body := range []string{`{"conversation":`, `{}`} {
			f := newFake(t, okJSON(body))
			c, _ := testClient(t, f, nil)
			_, err := c.CreateCallback(context.Background(), newCreateRequest())
			var uo *UnknownOutcomeError
			if !errors.As(err, &uo) {
				t.Errorf("body %s: err = %v", body, err)
			}
		}
	})

	t.Run("429Retried", func(t *testing.T) {
		t.Parallel()
		f := newFake(t, sequence(func(w http.ResponseWriter, r *http.Request) { write429(w, 0) }, okJSON(createResponseJSON)))
		c, _ := testClient(t, f, nil)
		if _, err := c.CreateCallback(context.Background(), newCreateRequest()); err != nil {
			t.Fatal(err)
		}
		if got := f.apiRequests.Load(); got != 2 {
			t.Errorf("requests = %d, want 2", got)
		}
	})

	t.Run("401Retried", func(t *testing.T) {
		t.Parallel()
		f := newFake(t, sequence(status(401), okJSON(createResponseJSON)))
		c, _ := testClient(t, f, nil)
		if _, err := c.CreateCallback(context.Background(), newCreateRequest()); err != nil {
			t.Fatal(err)
		}
		if got := f.tokens.Load(); got != 2 {
			t.Errorf("tokens = %d, want 2", got)
		}
	})

	t.Run("DialErrorRetried", func(t *testing.T) {
		t.Parallel()
		f := newFake(t, okJSON(createResponseJSON))
		var dials atomic.Int64
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.DisableKeepAlives = true // every request dials
		d := &net.Dialer{}
		tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			// The token request dials first; refuse the API's first dial.
			if dials.Add(1) == 2 {
				return nil, &net.OpError{Op: "dial", Net: network, Err: errors.New("connection refused")}
			}
			return d.DialContext(ctx, network, addr)
		}
		c, obs := testClient(t, f, func(cfg *Config) { cfg.HTTPClient = &http.Client{Transport: tr} })
		resp, err := c.CreateCallback(context.Background(), newCreateRequest())
		if err != nil {
			t.Fatal(err)
		}
		if resp.ConversationID != "c0ffee00-1" {
			t.Errorf("resp = %+v", resp)
		}
		if got := f.apiRequests.Load(); got != 1 {
			t.Errorf("server saw %d creates, want 1", got)
		}
		if _, retries, _ := obs.snapshot(); !cmp.Equal(retries, []string{"create_callback/network"}) {
			t.Errorf("retries = %v", retries)
		}
	})

	t.Run("400NotRetried", func(t *testing.T) {
		t.Parallel()
		f := newFake(t, status(400))
		c, _ := testClient(t, f, nil)
		_, err := c.CreateCallback(context.Background(), newCreateRequest())
		var uo *UnknownOutcomeError
		if errors.As(err, &uo) || !IsPermanent(err) {
			t.Fatalf("err = %v, want a permanent APIError", err)
		}
	})
}

func TestRescheduleCallback(t *testing.T) {
	t.Parallel()
	f := newFake(t, sequence(okJSON(createResponseJSON), func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }))
	c, _ := testClient(t, f, nil)
	at := time.Date(2026, 6, 2, 9, 0, 0, 0, time.UTC)
	resp, err := c.RescheduleCallback(context.Background(), PatchCallbackRequest{ConversationID: "c0ffee00-1", CallbackScheduledTime: at})
	if err != nil {
		t.Fatal(err)
	}
	if resp.ConversationID != "c0ffee00-1" || len(resp.CallbackIdentifiers) != 2 {
		t.Errorf("resp = %+v", resp)
	}
	req := f.recorded()[0]
	if req.Method != http.MethodPatch || req.Path != "/api/v2/conversations/callbacks" {
		t.Errorf("request = %s %s", req.Method, req.Path)
	}
	if want := `{"conversationId":"c0ffee00-1","callbackScheduledTime":"2026-06-02T09:00:00.000Z"}`; string(req.Body) != want {
		t.Errorf("body = %s, want %s", req.Body, want)
	}
	// An empty 2xx answer still yields the conversation id.
	resp, err = c.RescheduleCallback(context.Background(), PatchCallbackRequest{ConversationID: "c-2", AgentID: "a-1", QueueID: "q-2", CallbackScheduledTime: at})
	if err != nil || resp.ConversationID != "c-2" {
		t.Fatalf("resp = %+v, err = %v", resp, err)
	}
	if want := `{"conversationId":"c-2","agentId":"a-1","queueId":"q-2","callbackScheduledTime":"2026-06-02T09:00:00.000Z"}`; string(f.recorded()[1].Body) != want {
		t.Errorf("body = %s", f.recorded()[1].Body)
	}
}

func TestCancelCallback(t *testing.T) {
	t.Parallel()
	ids := []CallbackIdentifier{{"EXTERNAL", "ext-1"}, {"ACD", "acd-1"}}
	accepted := func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusAccepted) }
	conversation := okJSON(`{"id":"c-1","participants":[]}`)
	bulk := "POST /api/v2/conversations/callbacks/bulk/disconnect"
	patch := "PATCH /api/v2/conversations/callbacks/c-1"

	tests := []struct {
		name      string
		ids       []CallbackIdentifier
		bulk      http.HandlerFunc
		patch     http.HandlerFunc
		wantCalls []string
		wantErr   bool
		bulkID    string
	}{
		{"BulkOK", ids, accepted, conversation, []string{bulk}, false, "acd-1"},
		{"ExternalWhenNoACD", ids[:1], accepted, conversation, []string{bulk}, false, "ext-1"},
		{"Bulk404IsGone", ids, status(404), conversation, []string{bulk}, false, "acd-1"},
		{"Bulk400FallsBack", ids, status(400), conversation, []string{bulk, patch}, false, "acd-1"},
		{"Bulk400Patch404IsGone", ids, status(400), status(404), []string{bulk, patch}, false, "acd-1"},
		{"Bulk400Patch403Fails", ids, status(400), status(403), []string{bulk, patch}, true, "acd-1"},
		{"NoIdentifiers", nil, accepted, conversation, []string{patch}, false, ""},
		{"Bulk429AboveMaxNoFallback", ids, func(w http.ResponseWriter, r *http.Request) { write429(w, 500) }, conversation, []string{bulk}, true, "acd-1"},
		{"Bulk5xxRetriedThenOK", ids, sequence(status(503), accepted), conversation, []string{bulk, bulk}, false, "acd-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
				if strings.HasSuffix(r.URL.Path, "/bulk/disconnect") {
					tt.bulk(w, r)
					return
				}
				tt.patch(w, r)
			})
			c, _ := testClient(t, f, nil)
			err := c.CancelCallback(context.Background(), "c-1", tt.ids)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			var calls []string
			for _, r := range f.recorded() {
				calls = append(calls, r.Method+" "+r.Path)
				switch {
				case strings.HasSuffix(r.Path, "/bulk/disconnect"):
					want := `{"callbackDisconnectIdentifiers":[{"conversationId":"c-1","callbackId":"` + tt.bulkID + `"}]}`
					if string(r.Body) != want {
						t.Errorf("bulk body = %s, want %s", r.Body, want)
					}
				default:
					if string(r.Body) != `{"state":"disconnected"}` {
						t.Errorf("patch body = %s", r.Body)
					}
				}
			}
			if diff := cmp.Diff(tt.wantCalls, calls); diff != "" {
				t.Errorf("calls (-want +got):\n%s", diff)
			}
		})
	}
}

const callbackConversationJSON = `{
  "id": "c0ffee00-1",
  "participants": [
    { "id": "p-cust", "purpose": "customer", "state": "connected", "direction": "outbound",
      "startTime": "2026-06-01T14:30:00.000Z", "connectedTime": "2026-06-01T14:31:02Z", "endTime": "",
      "callbackNumbers": ["+14155550123"], "callbackUserName": "Jane Doe",
      "callbackScheduledTime": "2026-06-01T14:30:00.000Z",
      "attributes": { "slotline_reservation_id": "res-1" }, "wrapupRequired": false },
    { "id": "p-acd", "purpose": "acd", "state": "disconnected", "disconnectType": "transfer",
      "startTime": "2026-06-01T14:29:59.5+00:00", "endTime": null,
      "queue": { "id": "q-1", "name": "Support", "selfUri": "/api/v2/routing/queues/q-1" } },
    { "id": "p-agent", "purpose": "agent", "state": "connected", "user": { "id": "u-1" } }
  ],
  "selfUri": "/api/v2/conversations/callbacks/c0ffee00-1"
}`

func TestGetCallbackConversation(t *testing.T) {
	t.Parallel()
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v2/conversations/callbacks/c0ffee00-1" {
			writeError(w, 404, "not.found", "conversation not found")
			return
		}
		okJSON(callbackConversationJSON)(w, r)
	})
	c, _ := testClient(t, f, nil)
	cc, err := c.GetCallbackConversation(context.Background(), "c0ffee00-1")
	if err != nil {
		t.Fatal(err)
	}
	ts := func(s string) *time.Time {
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		v = v.UTC()
		return &v
	}
	want := &CallbackConversation{ID: "c0ffee00-1", Participants: []CallbackParticipant{
		{
			ID: "p-cust", Purpose: "customer", State: "connected", Direction: "outbound",
			StartTime: ts("2026-06-01T14:30:00Z"), ConnectedTime: ts("2026-06-01T14:31:02Z"),
			CallbackNumbers: []string{"+14155550123"}, CallbackUserName: "Jane Doe",
			CallbackScheduledTime: ts("2026-06-01T14:30:00Z"),
			Attributes:            map[string]string{"slotline_reservation_id": "res-1"},
		},
		{ID: "p-acd", Purpose: "acd", State: "disconnected", DisconnectType: "transfer", StartTime: ts("2026-06-01T14:29:59.5Z"), Queue: &Ref{ID: "q-1", Name: "Support"}},
		{ID: "p-agent", Purpose: "agent", State: "connected", User: &Ref{ID: "u-1"}},
	}}
	if diff := cmp.Diff(want, cc); diff != "" {
		t.Errorf("conversation (-want +got):\n%s", diff)
	}
	if v, ok := cc.Attribute("slotline_reservation_id"); !ok || v != "res-1" {
		t.Errorf("Attribute = %q, %v", v, ok)
	}
	if p := cc.Participant("ACD"); p == nil || p.ID != "p-acd" {
		t.Errorf("Participant(acd) = %+v", p)
	}

	_, err = c.GetCallbackConversation(context.Background(), "missing")
	if !IsNotFound(err) {
		t.Errorf("err = %v, want not found", err)
	}
}

func TestGetConversation(t *testing.T) {
	t.Parallel()
	f := newFake(t, okJSON(`{
	  "id": "c-1", "startTime": "2026-06-01T14:29:59.000Z",
	  "participants": [
	    { "id": "p-1", "purpose": "customer", "attributes": {"slotline_reservation_id": "res-1"}, "callbacks": [],
	      "calls": [ { "id": "call-1", "state": "disconnected", "disconnectType": "timeout", "direction": "outbound",
	        "startAlertingTime": "2026-06-01T14:31:00Z", "disconnectedTime": "2026-06-01T14:31:20.000Z",
	        "disconnectReasons": [ { "type": "q850", "code": 19, "phrase": "No answer" } ], "peerId": "call-2" } ] },
	    { "id": "p-3", "purpose": "agent", "userId": "u-1", "wrapupRequired": true, "endAcwTime": "2026-06-01T14:32:00Z",
	      "wrapup": { "code": "wc-1", "name": "Cust unavailable", "durationSeconds": 40, "endTime": "2026-06-01T14:32:00.000Z" },
	      "calls": [ { "id": "call-2", "state": "disconnected", "connectedTime": "2026-06-01T14:31:00Z" } ] },
	    { "id": "p-2", "purpose": "acd", "queueId": "q-1", "startTime": "2026-06-01T14:29:59Z",
	      "callbacks": [ { "id": "cb-1", "state": "disconnected", "initialState": "scheduled", "disconnectType": "client",
	        "callbackScheduledTime": "2026-06-01T14:30:00.000Z", "disconnectedTime": "2026-06-01T14:40:00.000Z",
	        "callbackNumbers": ["+14155550123"], "callbackUserName": "Jane Doe", "segments": [], "held": false } ] }
	  ]}`))
	c, _ := testClient(t, f, nil)
	cv, err := c.GetConversation(context.Background(), "c-1")
	if err != nil {
		t.Fatal(err)
	}
	if f.recorded()[0].Path != "/api/v2/conversations/c-1" {
		t.Errorf("path = %s", f.recorded()[0].Path)
	}
	if cv.EndTime != nil || cv.StartTime == nil || cv.StartTime.Format(time.RFC3339) != "2026-06-01T14:29:59Z" {
		t.Errorf("times = %v %v", cv.StartTime, cv.EndTime)
	}
	call := cv.Participants[0].Calls[0]
	if call.ID != "call-1" || call.DisconnectType != "timeout" || call.ConnectedTime != nil || call.DisconnectedTime == nil ||
		call.StartAlertingTime == nil || call.PeerID != "call-2" ||
		!cmp.Equal(call.DisconnectReasons, []DisconnectReason{{Type: "q850", Code: 19, Phrase: "No answer"}}) {
		t.Errorf("customer call = %+v", call)
	}
	agent := cv.Participants[1]
	if agent.WrapupRequired == nil || !*agent.WrapupRequired || agent.Wrapup == nil || agent.Wrapup.Code != "wc-1" ||
		agent.Wrapup.Name != "Cust unavailable" || agent.Wrapup.EndTime == nil || agent.EndAcwTime == nil ||
		agent.Calls[0].ConnectedTime == nil {
		t.Errorf("agent = %+v", agent)
	}
	cb := cv.Participants[2].Callbacks[0]
	if cb.ID != "cb-1" || cb.State != "disconnected" || cb.InitialState != "scheduled" || cb.DisconnectType != "client" ||
		cb.CallbackScheduledTime == nil || cb.DisconnectedTime == nil || cb.ConnectedTime != nil ||
		cb.DisconnectedTime.Format(time.RFC3339) != "2026-06-01T14:40:00Z" || cv.Participants[2].QueueID != "q-1" {
		t.Errorf("callback = %+v", cb)
	}
	if v, ok := cv.Attribute("slotline_reservation_id"); !ok || v != "res-1" {
		t.Errorf("Attribute = %q %v", v, ok)
	}
}

func TestFlexTime(t *testing.T) {
	t.Parallel()
	want := time.Date(2026, 6, 1, 14, 30, 0, 0, time.UTC)
	for _, in := range []string{
		`"2026-06-01T14:30:00.000Z"`, `"2026-06-01T14:30:00Z"`, `"2026-06-01T16:30:00.000+02:00"`,
		`"2026-06-01T14:30:00.000"`, `"2026-06-01T14:30:00"`, `"2026-06-01T14:30:00.000+0000"`, `1780324200000`,
	} {
		var f flexTime
		if err := json.Unmarshal([]byte(in), &f); err != nil || f.t == nil || !f.t.Equal(want) {
			t.Errorf("%s: %v, %v", in, f.t, err)
		}
	}
	for _, in := range []string{`""`, `null`} {
		var f flexTime
		if err := json.Unmarshal([]byte(in), &f); err != nil || f.t != nil {
			t.Errorf("%s: %v, %v", in, f.t, err)
		}
	}
	var f flexTime
	if err := json.Unmarshal([]byte(`"tomorrow"`), &f); err == nil {
		t.Error("accepted a non-time")
	}
}
