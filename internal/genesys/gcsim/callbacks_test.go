package gcsim_test

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/slotline/slotline/internal/genesys/gcsim"
)

func TestToken(t *testing.T) {
	t.Parallel()
	b := setup(t, gcsim.Options{ClientID: "id+chars", ClientSecret: "s3cr t/=&"})

	tokenRequest := func(basic, form string) result {
		req, _ := http.NewRequest("POST", b.base+"/oauth/token", strings.NewReader(form))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if basic != "" {
			req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(basic)))
		}
		return send(t, req)
	}

	t.Run("OK", func(t *testing.T) {
		for name, basic := range map[string]string{
			"raw":        "id+chars:s3cr t/=&",
			"urlencoded": url.QueryEscape("id+chars") + ":" + url.QueryEscape("s3cr t/=&"),
		} {
			res := tokenRequest(basic, "grant_type=client_credentials")
			if res.status != 200 {
				t.Fatalf("%s: %d %s", name, res.status, res.body)
			}
			var tok struct {
				AccessToken string `json:"access_token"`
				TokenType   string `json:"token_type"`
				ExpiresIn   int    `json:"expires_in"`
			}
			res.decode(t, &tok)
			if tok.AccessToken == "" || tok.TokenType != "bearer" || tok.ExpiresIn != 86400 {
				t.Errorf("%s: token = %+v", name, tok)
			}
			if r := b.callWith(t, tok.AccessToken, "GET", "/api/v2/routing/queues/"+queueID, nil); r.status != 200 {
				t.Errorf("%s: API call with the token: %d", name, r.status)
			}
		}
	})

	t.Run("Errors", func(t *testing.T) {
		for _, tc := range []struct {
			name, basic, form string
			status            int
			code              string
		}{
			{"no auth", "", "grant_type=client_credentials", 401, "invalid_client"},
			{"bad secret", "id+chars:nope", "grant_type=client_credentials", 401, "invalid_client"},
			{"no grant", "id+chars:s3cr t/=&", "", 400, "invalid_request"},
			{"other grant", "id+chars:s3cr t/=&", "grant_type=password", 400, "unsupported_grant_type"},
		} {
			res := tokenRequest(tc.basic, tc.form)
			var oe struct {
				Error            string `json:"error"`
				Description      string `json:"description"`
				ErrorDescription string `json:"error_description"`
			}
			res.decode(t, &oe)
			if res.status != tc.status || oe.Error != tc.code || oe.Description == "" || oe.ErrorDescription == "" {
				t.Errorf("%s: %d %s, want %d %s", tc.name, res.status, res.body, tc.status, tc.code)
			}
		}
	})

	t.Run("Unauthorized API calls", func(t *testing.T) {
		wantError(t, b.callWith(t, "", "GET", "/api/v2/routing/queues/"+queueID, nil), 401, "authentication.required")
		wantError(t, b.callWith(t, "bogus", "GET", "/api/v2/routing/queues/"+queueID, nil), 401, "bad.credentials")
	})

	if got := b.sim.Stats().TokensIssued; got != 3 {
		t.Errorf("TokensIssued = %d, want 3", got)
	}
}

// TestTokenExpiry runs on synctest's fake clock: tokens live on real time,
// and in the bubble time moves only by the sleeps below, so the token is
// checked just before and exactly at its expiry.
func TestTokenExpiry(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		const ttl = 150 * time.Millisecond
		b := setupInBubble(t, gcsim.Options{TokenTTL: ttl})
		issued := time.Now()
		if res := b.call(t, "GET", "/api/v2/routing/queues/"+queueID, nil); res.status != 200 {
			t.Fatalf("fresh token: %d", res.status)
		}
		time.Sleep(ttl - time.Millisecond) // fake time
		if res := b.call(t, "GET", "/api/v2/routing/queues/"+queueID, nil); res.status != 200 {
			t.Fatalf("token %v after issue (TTL %v): %d", time.Since(issued), ttl, res.status)
		}
		time.Sleep(time.Millisecond) // fake time: now at the expiry
		wantError(t, b.call(t, "GET", "/api/v2/routing/queues/"+queueID, nil), 401, "bad.credentials")
	})
}

func TestRevokeTokens(t *testing.T) {
	t.Parallel()
	b := setup(t, gcsim.Options{})
	id, uri := b.channel(t, topic(queueID))
	ws := dial(t, uri)
	b.sim.RevokeTokens()
	f := nextEvent(t, ws)
	if !strings.HasPrefix(f.TopicName, "v2.system.token_revoked") {
		t.Errorf("topic = %q, want v2.system.token_revoked…", f.TopicName)
	}
	if _, err := read(t, ws); err == nil {
		t.Error("socket still open after revocation")
	}
	wantError(t, b.call(t, "GET", "/api/v2/routing/queues/"+queueID, nil), 401, "bad.credentials")
	b.token = b.login(t)
	if res := b.call(t, "HEAD", "/api/v2/notifications/channels/"+id, nil); res.status != 404 {
		t.Errorf("HEAD revoked channel = %d, want 404", res.status)
	}
}

func TestCreateAndRead(t *testing.T) {
	t.Parallel()
	b := setup(t, gcsim.Options{})
	at := t0.Add(2 * time.Hour)
	c := b.createCallback(t, "+14155550123", at, map[string]string{"slotlineReservationId": "r-1"})
	acd, ext := c.identifier("ACD"), c.identifier("EXTERNAL")
	if c.Conversation.ID == "" || acd == "" || ext == "" || acd == ext {
		t.Fatalf("create response = %+v", c)
	}
	if c.Conversation.SelfURI != "/api/v2/conversations/"+c.Conversation.ID {
		t.Errorf("selfUri = %q", c.Conversation.SelfURI)
	}

	t.Run("CallbackConversation", func(t *testing.T) {
		fc := b.callbackConversation(t, c.Conversation.ID)
		// The GET model's state enum has no "scheduled".
		if diff := cmp.Diff([]string{"customer=none", "acd=none"}, fc.states()); diff != "" {
			t.Errorf("states (-want +got):\n%s", diff)
		}
		if fc.OtherMediaURIs == nil || len(fc.OtherMediaURIs) != 0 {
			t.Errorf("otherMediaUris = %v, want [] before any call", fc.OtherMediaURIs)
		}
		cust, acdP := fc.Participants[0], fc.Participants[1]
		if cust.Attributes["slotlineReservationId"] != "r-1" || cust.CallbackScheduledTime != "2026-06-01T11:00:00.000Z" ||
			cust.CallbackUserName != "Jane Doe" || cust.CallbackNumbers[0] != "+14155550123" {
			t.Errorf("customer = %+v", cust)
		}
		if acdP.Queue == nil || acdP.Queue.ID != queueID {
			t.Errorf("acd queue = %+v", acdP.Queue)
		}
	})

	t.Run("Conversation", func(t *testing.T) {
		res := b.call(t, "GET", "/api/v2/conversations/"+c.Conversation.ID, nil)
		var conv conversationView
		res.decode(t, &conv)
		if conv.StartTime != "2026-06-01T09:00:00.000Z" || conv.EndTime != "" || len(conv.Participants) != 2 {
			t.Fatalf("conversation = %s", res.body)
		}
		cust, acdP := conv.Participants[0], conv.Participants[1]
		if cust.Callbacks[0].ID != ext || acdP.Callbacks[0].ID != acd || acdP.QueueID != queueID {
			t.Errorf("callback ids/queue: %s", res.body)
		}
		if cust.Callbacks[0].State != "scheduled" || cust.Callbacks[0].CallbackScheduledTime != "2026-06-01T11:00:00.000Z" ||
			cust.Attributes["slotlineReservationId"] != "r-1" || cust.Calls == nil || len(cust.Calls) != 0 {
			t.Errorf("customer: %s", res.body)
		}
	})

	t.Run("NotFound", func(t *testing.T) {
		wantError(t, b.call(t, "GET", "/api/v2/conversations/nope", nil), 404, "not.found")
		wantError(t, b.call(t, "GET", "/api/v2/conversations/callbacks/nope", nil), 404, "not.found")
	})

	if got := b.sim.Callbacks(); len(got) != 1 || got[0].Data["slotlineReservationId"] != "r-1" || !got[0].ScheduledTime.Equal(at) ||
		got[0].State != "scheduled" || got[0].ACDID != acd {
		t.Errorf("Callbacks() = %+v", got)
	}
}

func TestCreateValidation(t *testing.T) {
	t.Parallel()
	b := setup(t, gcsim.Options{})
	for _, tc := range []struct {
		name string
		body any
	}{
		{"no queue", map[string]any{"callbackNumbers": []string{"+14155550123"}}},
		{"unknown queue", map[string]any{"queueId": "nope", "callbackNumbers": []string{"+14155550123"}}},
		{"no numbers", map[string]any{"queueId": queueID}},
		{"empty numbers", map[string]any{"queueId": queueID, "callbackNumbers": []string{}}},
		{"bad time", map[string]any{"queueId": queueID, "callbackNumbers": []string{"+14155550123"}, "callbackScheduledTime": "tomorrow"}},
		{"invalid number", map[string]any{"queueId": queueID, "callbackNumbers": []string{"555"}, "validateCallbackNumbers": true}},
		{"data not strings", map[string]any{"queueId": queueID, "callbackNumbers": []string{"+14155550123"}, "data": map[string]any{"n": 1}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantError(t, b.call(t, "POST", "/api/v2/conversations/callbacks", tc.body), 400, "bad.request")
		})
	}
	t.Run("routingData.queueId", func(t *testing.T) {
		res := b.call(t, "POST", "/api/v2/conversations/callbacks", map[string]any{
			"routingData": map[string]any{"queueId": queueID}, "callbackNumbers": []string{"+14155550123"},
		})
		if res.status != 200 {
			t.Errorf("status %d %s", res.status, res.body)
		}
	})
	if n := len(b.sim.Callbacks()); n != 1 {
		t.Errorf("%d callbacks created, want 1", n)
	}
}

// TestPatchCallback runs in a synctest bubble (setupInBubble), so that
// synctest.Wait shows when the simulator has played whatever an Advance
// made due: only then is "still scheduled" a fact rather than a race.
func TestPatchCallback(t *testing.T) {
	t.Parallel()
	synctest.Test(t, testPatchCallback)
}

func testPatchCallback(t *testing.T) {
	b := setupInBubble(t, gcsim.Options{AnswerRate: 1})
	c := b.createCallback(t, "+14155550123", t0.Add(time.Hour), nil)
	id := c.Conversation.ID

	res := b.call(t, "PATCH", "/api/v2/conversations/callbacks", map[string]any{
		"conversationId": id, "callbackScheduledTime": "2026-06-01T12:30:00+02:00", "callbackNumbers": []string{"+14155550199"},
	})
	if res.status != 200 {
		t.Fatalf("patch: %d %s", res.status, res.body)
	}
	var pr created
	res.decode(t, &pr)
	if pr.Conversation.ID != id || pr.identifier("ACD") != c.identifier("ACD") {
		t.Errorf("patch response = %s", res.body)
	}
	fc := b.callbackConversation(t, id)
	if p := fc.Participants[0]; p.CallbackScheduledTime != "2026-06-01T10:30:00.000Z" || p.CallbackNumbers[0] != "+14155550199" {
		t.Errorf("after patch: %+v", p)
	}
	// The old time no longer makes it due; the new one does.
	b.clock.Advance(time.Hour + time.Second)
	synctest.Wait() // the lifecycle loop has played everything due
	if got := b.sim.Callbacks()[0].State; got != "scheduled" {
		t.Errorf("state at the old time = %s, want scheduled", got)
	}
	b.clock.Advance(30 * time.Minute)
	synctest.Wait()
	if got := b.sim.Callbacks()[0]; got.State != "connected" || got.AgentsOffered != 1 {
		t.Errorf("at the new time = %+v, want offered to an agent", got)
	}

	wantError(t, b.call(t, "PATCH", "/api/v2/conversations/callbacks", map[string]any{"conversationId": id, "callbackScheduledTime": "2026-06-02T10:00:00Z"}), 400, "bad.request")
	wantError(t, b.call(t, "PATCH", "/api/v2/conversations/callbacks", map[string]any{"conversationId": "nope"}), 404, "not.found")
	wantError(t, b.call(t, "PATCH", "/api/v2/conversations/callbacks", map[string]any{}), 400, "bad.request")
}

// TestPatchAgentID: RequireAgentID refuses a PATCH without agentId (detail
// fieldName agentId); an unknown agent is refused; an agent-owned callback
// (scoredAgents on create, or SetOwner) takes only its owner and shows it
// in conversationRoutingData.
func TestPatchAgentID(t *testing.T) {
	t.Parallel()
	b := setup(t, gcsim.Options{})
	agents := b.sim.AgentIDs()
	c := b.createCallback(t, "+14155550123", t0.Add(time.Hour), nil)
	id := c.Conversation.ID
	patch := func(agentID string) result {
		body := map[string]any{"conversationId": id, "callbackScheduledTime": "2026-06-01T11:00:00Z"}
		if agentID != "" {
			body["agentId"] = agentID
		}
		return b.call(t, "PATCH", "/api/v2/conversations/callbacks", body)
	}
	if res := patch(""); res.status != 200 {
		t.Fatalf("without agentId, not required: %d %s", res.status, res.body)
	}
	b.sim.SetRequireAgentID(true)
	e := wantError(t, patch(""), 400, "bad.request")
	if len(e.Details) != 1 || !strings.Contains(string(e.Details[0]), `"fieldName":"agentId"`) {
		t.Errorf("refusal details = %q, want the agentId field", e.Details)
	}
	wantError(t, patch("no-such-agent"), 400, "bad.request")
	if res := patch(agents[0]); res.status != 200 {
		t.Fatalf("with an agent: %d %s", res.status, res.body)
	}
	if err := b.sim.SetOwner(id, agents[2]); err != nil {
		t.Fatal(err)
	}
	wantError(t, patch(agents[0]), 400, "bad.request")
	if res := patch(agents[2]); res.status != 200 {
		t.Fatalf("with the owner: %d %s", res.status, res.body)
	}
	var owned struct {
		Participants []struct {
			Purpose     string `json:"purpose"`
			RoutingData *struct {
				ScoredAgents []struct {
					Agent struct{ ID string }
					Score int
				}
			} `json:"conversationRoutingData"`
		}
	}
	b.call(t, "GET", "/api/v2/conversations/callbacks/"+id, nil).decode(t, &owned)
	if rd := owned.Participants[0].RoutingData; rd == nil || len(rd.ScoredAgents) != 1 || rd.ScoredAgents[0].Agent.ID != agents[2] || rd.ScoredAgents[0].Score != 100 {
		t.Errorf("owned callback's routing data: %+v", owned)
	}
	if got := b.sim.Callbacks()[0]; got.Owner != agents[2] || fmt.Sprint(got.PatchAgentIDs) != fmt.Sprint([]string{"", agents[0], agents[2]}) {
		t.Errorf("callback = %+v", got)
	}
	// An owner given on create.
	res := b.call(t, "POST", "/api/v2/conversations/callbacks", map[string]any{"callbackNumbers": []string{"+14155550124"},
		"routingData": map[string]any{"queueId": queueID, "scoredAgents": []any{map[string]any{"agent": map[string]string{"id": agents[1]}, "score": 100}}}})
	if res.status != 200 {
		t.Fatalf("create with an owner: %d %s", res.status, res.body)
	}
	if got := b.sim.Callbacks()[1].Owner; got != agents[1] {
		t.Errorf("owner on create = %q", got)
	}
	if err := b.sim.SetOwner("nope", agents[0]); err != gcsim.ErrNotFound {
		t.Errorf("SetOwner of an unknown conversation = %v", err)
	}
}

func TestDisconnect(t *testing.T) {
	t.Parallel()

	t.Run("bulk by ACD and EXTERNAL id", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, testBulkDisconnect)
	})

	t.Run("bulk errors", func(t *testing.T) {
		t.Parallel()
		b := setup(t, gcsim.Options{})
		c1 := b.createCallback(t, "+14155550101", t0.Add(time.Hour), nil)
		c2 := b.createCallback(t, "+14155550102", t0.Add(time.Hour), nil)
		path := "/api/v2/conversations/callbacks/bulk/disconnect"
		ids := func(conv, cb string) any {
			return map[string]any{"callbackDisconnectIdentifiers": []map[string]string{{"conversationId": conv, "callbackId": cb}}}
		}
		wantError(t, b.call(t, "POST", path, map[string]any{}), 400, "bad.request")
		wantError(t, b.call(t, "POST", path, ids(c1.Conversation.ID, "")), 400, "bad.request")
		wantError(t, b.call(t, "POST", path, ids(c1.Conversation.ID, c2.identifier("ACD"))), 400, "bad.request")
		wantError(t, b.call(t, "POST", path, ids("nope", c1.identifier("ACD"))), 404, "not.found")
		if got := b.sim.Callbacks()[0].State; got != "scheduled" {
			t.Errorf("state after failed disconnects = %s", got)
		}
	})

	t.Run("dropped", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, testDroppedDisconnects)
	})

	t.Run("PATCH state disconnected", func(t *testing.T) {
		t.Parallel()
		b := setup(t, gcsim.Options{})
		c := b.createCallback(t, "+14155550101", t0.Add(time.Hour), nil)
		path := "/api/v2/conversations/callbacks/" + c.Conversation.ID
		wantError(t, b.call(t, "PATCH", path, map[string]string{"state": "connected"}), 400, "bad.request")
		res := b.call(t, "PATCH", path, map[string]string{"state": "disconnected"})
		if res.status != 200 {
			t.Fatalf("patch: %d %s", res.status, res.body)
		}
		var conv struct {
			ID      string `json:"id"`
			EndTime string `json:"endTime"`
		}
		res.decode(t, &conv)
		if conv.ID != c.Conversation.ID || conv.EndTime == "" {
			t.Errorf("conversation = %s", res.body)
		}
		wantError(t, b.call(t, "PATCH", "/api/v2/conversations/callbacks/nope", map[string]string{"state": "disconnected"}), 404, "not.found")
	})

	t.Run("supervisor", func(t *testing.T) {
		t.Parallel()
		b := setup(t, gcsim.Options{})
		c := b.createCallback(t, "+14155550101", t0.Add(time.Hour), nil)
		if err := b.sim.Reschedule(c.Conversation.ID, t0.Add(3*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if got := b.callbackConversation(t, c.Conversation.ID).Participants[0].CallbackScheduledTime; got != "2026-06-01T12:00:00.000Z" {
			t.Errorf("rescheduled time = %s", got)
		}
		if err := b.sim.Disconnect(c.Conversation.ID); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"customer=disconnected/system", "acd=disconnected/system"}, b.callbackConversation(t, c.Conversation.ID).states()); diff != "" {
			t.Errorf("states (-want +got):\n%s", diff)
		}
		if err := b.sim.Reschedule(c.Conversation.ID, t0); err != gcsim.ErrNotScheduled {
			t.Errorf("Reschedule after disconnect = %v", err)
		}
		if err := b.sim.Disconnect("nope"); err != gcsim.ErrNotFound {
			t.Errorf("Disconnect unknown = %v", err)
		}
	})
}

// testDroppedDisconnects: DropDisconnects(2) makes a bulk disconnect and
// a PATCH state disconnected be answered as usual and never apply; the
// third request applies. In a synctest bubble (see TestPatchCallback).
func testDroppedDisconnects(t *testing.T) {
	b := setupInBubble(t, gcsim.Options{DisconnectDelay: time.Second})
	c := b.createCallback(t, "+14155550101", t0.Add(time.Hour), nil)
	id := c.Conversation.ID
	bulk := map[string]any{"callbackDisconnectIdentifiers": []map[string]string{{"conversationId": id, "callbackId": c.identifier("ACD")}}}
	b.sim.DropDisconnects(2)
	if res := b.call(t, "POST", "/api/v2/conversations/callbacks/bulk/disconnect", bulk); res.status != 202 {
		t.Fatalf("bulk disconnect: %d %s", res.status, res.body)
	}
	if res := b.call(t, "PATCH", "/api/v2/conversations/callbacks/"+id, map[string]string{"state": "disconnected"}); res.status != 200 {
		t.Fatalf("patch: %d %s", res.status, res.body)
	}
	time.Sleep(time.Hour) // fake time: far past DisconnectDelay
	synctest.Wait()
	if got := b.sim.Callbacks()[0].State; got != "scheduled" {
		t.Fatalf("after two dropped disconnects: %s, want scheduled", got)
	}
	if res := b.call(t, "POST", "/api/v2/conversations/callbacks/bulk/disconnect", bulk); res.status != 202 {
		t.Fatalf("bulk disconnect: %d %s", res.status, res.body)
	}
	time.Sleep(time.Second)
	synctest.Wait()
	if got := b.sim.Callbacks()[0].State; got != "disconnected" {
		t.Fatalf("after the third: %s, want disconnected", got)
	}
}

// testBulkDisconnect runs in a synctest bubble (see TestPatchCallback).
func testBulkDisconnect(t *testing.T) {
	b := setupInBubble(t, gcsim.Options{})
	c1 := b.createCallback(t, "+14155550101", t0.Add(time.Hour), nil)
	c2 := b.createCallback(t, "+14155550102", t0.Add(time.Hour), nil)
	res := b.call(t, "POST", "/api/v2/conversations/callbacks/bulk/disconnect", map[string]any{
		"callbackDisconnectIdentifiers": []map[string]string{
			{"conversationId": c1.Conversation.ID, "callbackId": c1.identifier("ACD")},
			{"conversationId": c2.Conversation.ID, "callbackId": c2.identifier("EXTERNAL")},
		},
	})
	if res.status != 202 || len(res.body) != 0 {
		t.Fatalf("bulk disconnect: %d %q", res.status, res.body)
	}
	// The 202 comes first; the disconnect applies DisconnectDelay later
	// (real time, here the bubble's fake clock). Still waiting, the callback
	// view reads "none" (its state enum has no "scheduled").
	synctest.Wait()
	if diff := cmp.Diff([]string{"customer=none", "acd=none"}, b.callbackConversation(t, c1.Conversation.ID).states()); diff != "" {
		t.Errorf("states right after the 202 (-want +got):\n%s", diff)
	}
	time.Sleep(gcsim.DefaultDisconnectDelay)
	synctest.Wait()
	for _, c := range []created{c1, c2} {
		fc := b.callbackConversation(t, c.Conversation.ID)
		if diff := cmp.Diff([]string{"customer=disconnected/client", "acd=disconnected/client"}, fc.states()); diff != "" {
			t.Errorf("states (-want +got):\n%s", diff)
		}
	}
	// Again: already disconnected is fine.
	res = b.call(t, "POST", "/api/v2/conversations/callbacks/bulk/disconnect", map[string]any{
		"callbackDisconnectIdentifiers": []map[string]string{{"conversationId": c1.Conversation.ID, "callbackId": c1.identifier("ACD")}},
	})
	if res.status != 202 {
		t.Errorf("second disconnect: %d", res.status)
	}
	// Nothing plays afterwards: once the lifecycle loop has done all it
	// can (synctest.Wait), both are still disconnected.
	b.clock.Advance(2 * time.Hour)
	synctest.Wait()
	for _, got := range b.sim.Callbacks() {
		if got.State != "disconnected" || got.Answered {
			t.Errorf("after advance: %+v", got)
		}
	}
}

// lifecycleOptions are the timings TestLifecycle reads its steps with.
func lifecycleOptions(mode string) gcsim.Options {
	return gcsim.Options{
		AnswerRate: 1, RingTime: 20 * time.Second, TalkTime: 3 * time.Minute, AlertTimeout: 15 * time.Second,
		AcceptDelay: 2 * time.Second, AutoDialDelay: 2 * time.Second, VoicemailTime: 20 * time.Second, WrapupTime: 15 * time.Second,
		Queues: []gcsim.Queue{{ID: queueID, Name: "Support", CallbackMode: mode}},
	}
}

// step is one transition of a callback: the clock moves by d, and the
// generic conversation then reads want (conversationView.summary).
type step struct {
	d    time.Duration
	want []string
}

// play creates a callback due at t0+1h on a simulator in mode, scripts it,
// and checks every step.
func play(t *testing.T, mode string, p gcsim.Play, steps []step) (*bundle, string) {
	t.Helper()
	b := setup(t, lifecycleOptions(mode))
	c := b.createCallback(t, "+14155550101", t0.Add(time.Hour), nil)
	id := c.Conversation.ID
	if err := b.sim.SetPlay(id, p); err != nil {
		t.Fatal(err)
	}
	for i, st := range steps {
		b.clock.Advance(st.d)
		var got []string
		deadline := time.Now().Add(20 * time.Second)
		for {
			got = b.conversation(t, id).summary()
			if cmp.Equal(st.want, got) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("step %d (+%v): conversation (-want +got):\n%s", i, st.d, cmp.Diff(st.want, got))
			}
			time.Sleep(5 * time.Millisecond) // poll interval
		}
	}
	return b, id
}

func TestLifecycle(t *testing.T) {
	t.Parallel()
	const (
		waiting  = "customer cb=scheduled"
		acdWait  = "acd cb=scheduled"
		acdOn    = "acd cb=connected"
		acdGone  = "acd cb=disconnected/transfer"
		custOn   = "customer cb=connected"
		alerting = "agent cb=alerting"
		accepted = "agent cb=connected"
	)
	t.Run("AgentFirst answered", func(t *testing.T) {
		t.Parallel()
		b, id := play(t, gcsim.AgentFirst, gcsim.Play{}, []step{
			{time.Hour - time.Second, []string{waiting, acdWait}},
			{time.Second, []string{custOn, acdOn, alerting}},
			{2 * time.Second, []string{custOn, acdGone, accepted}},
			// The agent's side of the call is connected while the
			// customer's phone still rings.
			{2 * time.Second, []string{custOn + " call=dialing", acdGone, accepted + " call=connected+c"}},
			{20 * time.Second, []string{custOn + " call=connected+c", acdGone, accepted + " call=connected+c"}},
			{3 * time.Minute, []string{"customer cb=disconnected/peer call=disconnected/endpoint+c", acdGone,
				"agent cb=disconnected/client call=disconnected/peer+c"}},
			{15 * time.Second, []string{"customer cb=disconnected/peer call=disconnected/endpoint+c", acdGone,
				"agent cb=disconnected/client call=disconnected/peer+c wrapup=Resolved"}},
		})
		cv := b.conversation(t, id)
		if cv.EndTime != "2026-06-01T10:03:24.000Z" || cv.Participants[2].UserID == "" || !cv.Participants[2].WrapupRequired ||
			cv.Participants[2].Wrapup.Code != gcsim.WrapupReached.ID || cv.Participants[2].EndAcwTime != "2026-06-01T10:03:39.000Z" {
			t.Errorf("conversation = %+v", cv)
		}
		if r := cv.Participants[0].Calls[0].DisconnectReasons; len(r) != 1 || r[0].Type != "q850" || r[0].Code != 16 {
			t.Errorf("disconnect reasons = %+v", r)
		}
		// The callback view: callback communications only, the call in
		// otherMediaUris.
		fc := b.callbackConversation(t, id)
		if diff := cmp.Diff([]string{"customer=disconnected/peer", "acd=disconnected/transfer", "agent=disconnected/client"}, fc.states()); diff != "" {
			t.Errorf("callback view (-want +got):\n%s", diff)
		}
		if len(fc.OtherMediaURIs) != 1 || fc.OtherMediaURIs[0] != "/api/v2/conversations/calls/"+id ||
			fc.Participants[2].Wrapup == nil || fc.Participants[2].Wrapup.Name != "Resolved" {
			t.Errorf("callback view = %+v", fc)
		}
		if got := b.sim.Callbacks()[0]; !got.Answered || got.DialAttempts != 1 || got.AgentsOffered != 1 ||
			got.WrapupCode != gcsim.WrapupReached.ID || got.Mode != gcsim.AgentFirst || !got.Ended.Equal(t0.Add(time.Hour+204*time.Second)) {
			t.Errorf("Callbacks() = %+v", got)
		}
	})

	t.Run("AgentFirst not answered", func(t *testing.T) {
		t.Parallel()
		b, id := play(t, gcsim.AgentFirst, gcsim.Play{Customer: gcsim.CustomerNoAnswer}, []step{
			{time.Hour + 4*time.Second, []string{custOn + " call=dialing", acdGone, accepted + " call=connected+c"}},
			{20 * time.Second, []string{"customer cb=disconnected/peer call=disconnected/timeout", acdGone,
				"agent cb=disconnected/client call=disconnected/peer+c"}},
			{15 * time.Second, []string{"customer cb=disconnected/peer call=disconnected/timeout", acdGone,
				"agent cb=disconnected/client call=disconnected/peer+c wrapup=Cust unavailable"}},
		})
		cv := b.conversation(t, id)
		if r := cv.Participants[0].Calls[0].DisconnectReasons; len(r) != 1 || r[0].Code != 19 {
			t.Errorf("disconnect reasons = %+v", r)
		}
		if got := b.sim.Callbacks()[0]; got.Answered || got.DialAttempts != 1 || got.WrapupCode != gcsim.WrapupNoAnswer.ID {
			t.Errorf("Callbacks() = %+v", got)
		}
	})

	t.Run("AgentFirst voicemail", func(t *testing.T) {
		t.Parallel()
		play(t, gcsim.AgentFirst, gcsim.Play{Customer: gcsim.CustomerVoicemail}, []step{
			{time.Hour + 24*time.Second, []string{custOn + " call=connected+c", acdGone, accepted + " call=connected+c"}},
			{20 * time.Second, []string{"customer cb=disconnected/peer call=disconnected/peer+c", acdGone,
				"agent cb=disconnected/client call=disconnected/client+c"}},
			{15 * time.Second, []string{"customer cb=disconnected/peer call=disconnected/peer+c", acdGone,
				"agent cb=disconnected/client call=disconnected/client+c wrapup=Voicemail"}},
		})
	})

	t.Run("AgentFirst agent does not accept", func(t *testing.T) {
		t.Parallel()
		b, _ := play(t, gcsim.AgentFirst, gcsim.Play{AgentMisses: 1}, []step{
			{time.Hour, []string{custOn, acdOn, alerting}},
			// The alert times out; the callback goes to the next agent.
			{15 * time.Second, []string{custOn, acdOn, "agent cb=disconnected/transfer.noanswer", alerting}},
			{2 * time.Second, []string{custOn, acdGone, "agent cb=disconnected/transfer.noanswer", accepted}},
		})
		if got := b.sim.Callbacks()[0]; got.AgentsOffered != 2 {
			t.Errorf("Callbacks() = %+v", got)
		}
	})

	t.Run("AgentFirst rescheduled by the agent", func(t *testing.T) {
		t.Parallel()
		b, id := play(t, gcsim.AgentFirst, gcsim.Play{Customer: gcsim.CustomerNoAnswer, Reschedule: time.Hour, Retry: &gcsim.Play{}}, []step{
			{time.Hour + 24*time.Second, []string{custOn + " call=disconnected/timeout", acdGone,
				"agent cb=disconnected/client call=disconnected/peer+c"}},
			// At wrap-up the agent puts the callback back to scheduled.
			{15 * time.Second, []string{waiting + " call=disconnected/timeout", acdWait,
				"agent cb=disconnected/client call=disconnected/peer+c wrapup=Cust unavailable"}},
		})
		cv := b.conversation(t, id)
		if got := cv.Participants[0].Callbacks[0].CallbackScheduledTime; got != "2026-06-01T11:00:39.000Z" || cv.EndTime != "" {
			t.Errorf("rescheduled to %s, endTime %q", got, cv.EndTime)
		}
		b.clock.Advance(time.Hour + 4*time.Second + 20*time.Second)
		waitFor(t, "the second attempt is answered", func() bool {
			got := b.sim.Callbacks()[0]
			return got.Answered && got.DialAttempts == 2 && got.AgentsOffered == 2
		})
	})

	t.Run("CustomerFirst answered", func(t *testing.T) {
		t.Parallel()
		play(t, gcsim.CustomerFirst, gcsim.Play{AgentMisses: 1}, []step{
			{time.Hour, []string{custOn + " call=dialing", acdOn}},
			{20 * time.Second, []string{custOn + " call=connected+c", acdOn, alerting}},
			{15 * time.Second, []string{custOn + " call=connected+c", acdOn, "agent cb=disconnected/transfer.noanswer", alerting}},
			{2 * time.Second, []string{custOn + " call=connected+c", acdGone, "agent cb=disconnected/transfer.noanswer", accepted + " call=connected+c"}},
			{3 * time.Minute, []string{"customer cb=disconnected/peer call=disconnected/endpoint+c", acdGone,
				"agent cb=disconnected/transfer.noanswer", "agent cb=disconnected/client call=disconnected/peer+c"}},
			{15 * time.Second, []string{"customer cb=disconnected/peer call=disconnected/endpoint+c", acdGone,
				"agent cb=disconnected/transfer.noanswer", "agent cb=disconnected/client call=disconnected/peer+c wrapup=Resolved"}},
		})
	})

	t.Run("CustomerFirst not answered", func(t *testing.T) {
		t.Parallel()
		b, _ := play(t, gcsim.CustomerFirst, gcsim.Play{Customer: gcsim.CustomerNoAnswer}, []step{
			{time.Hour, []string{custOn + " call=dialing", acdOn}},
			// No agent was ever involved.
			{20 * time.Second, []string{"customer cb=disconnected/peer call=disconnected/timeout", "acd cb=disconnected/peer"}},
		})
		if got := b.sim.Callbacks()[0]; got.Answered || got.AgentsOffered != 0 || got.Ended.IsZero() {
			t.Errorf("Callbacks() = %+v", got)
		}
	})

	t.Run("CustomerFirst retried", func(t *testing.T) {
		t.Parallel()
		b, _ := play(t, gcsim.CustomerFirst, gcsim.Play{Customer: gcsim.CustomerNoAnswer, Reschedule: 10 * time.Minute}, []step{
			{time.Hour + 20*time.Second, []string{waiting + " call=disconnected/timeout", acdWait}},
			{10 * time.Minute, []string{custOn + " call=disconnected/timeout call=dialing", acdOn}},
		})
		if got := b.sim.Callbacks()[0]; got.DialAttempts != 2 || !got.ScheduledTime.Equal(t0.Add(70*time.Minute+20*time.Second)) {
			t.Errorf("Callbacks() = %+v", got)
		}
	})

	t.Run("seeded outcomes repeat", func(t *testing.T) {
		t.Parallel()
		outcomes := func() []bool {
			b := setup(t, gcsim.Options{AnswerRate: 0.5, Seed: 42})
			for i := range 20 {
				b.createCallback(t, "+1415555010"+string(rune('0'+i%10)), t0.Add(time.Duration(i)*time.Minute), nil)
			}
			b.clock.Advance(2 * time.Hour)
			var out []bool
			waitFor(t, "all ended", func() bool {
				out = nil
				for _, c := range b.sim.Callbacks() {
					if c.Ended.IsZero() || c.WrapupCode == "" {
						return false
					}
					out = append(out, c.WrapupCode == gcsim.WrapupReached.ID)
				}
				return true
			})
			return out
		}
		a, c := outcomes(), outcomes()
		if !cmp.Equal(a, c) {
			t.Errorf("same seed, different outcomes:\n%v\n%v", a, c)
		}
		if !slicesContain(a, true) || !slicesContain(a, false) {
			t.Errorf("AnswerRate 0.5 gave %v", a)
		}
	})

	t.Run("first plays", func(t *testing.T) {
		t.Parallel()
		b := setup(t, gcsim.Options{AnswerRate: 1, FirstPlays: []gcsim.Play{{Customer: gcsim.CustomerNoAnswer}}})
		b.createCallback(t, "+14155550101", time.Time{}, nil)
		b.createCallback(t, "+14155550102", time.Time{}, nil)
		b.clock.Advance(time.Hour)
		waitFor(t, "both wrapped up", func() bool {
			cs := b.sim.Callbacks()
			return cs[0].WrapupCode == gcsim.WrapupNoAnswer.ID && cs[1].WrapupCode == gcsim.WrapupReached.ID
		})
	})

	t.Run("real speed clock", func(t *testing.T) {
		t.Parallel()
		b := setup(t, gcsim.Options{Clock: gcsim.NewClock(t0, 600), AnswerRate: 1, RingTime: 10 * time.Second, TalkTime: 20 * time.Second})
		b.createCallback(t, "+14155550101", t0.Add(10*time.Second), nil)
		// About 70 s of sim time at 600x is about 120 ms.
		waitFor(t, "played at speed", func() bool { return b.sim.Callbacks()[0].WrapupCode != "" })
	})
}

func slicesContain(s []bool, v bool) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func TestAnalyticsQuery(t *testing.T) {
	t.Parallel()
	q2 := "7f1c9a2e-0000-4000-8000-000000000002"
	b := setup(t, gcsim.Options{Queues: []gcsim.Queue{{ID: queueID}, {ID: q2}}})
	target := b.createCallback(t, "+14155550101", t0.Add(time.Hour), map[string]string{"slotlineReservationId": "r-secret"})
	b.createCallback(t, "+14155550102", t0.Add(time.Hour), nil)
	other := b.call(t, "POST", "/api/v2/conversations/callbacks", map[string]any{"queueId": q2, "callbackNumbers": []string{"+14155550101"}})
	if other.status != 200 {
		t.Fatal(other.status)
	}
	ended := b.createCallback(t, "+14155550101", t0.Add(time.Hour), nil)
	if err := b.sim.Disconnect(ended.Conversation.ID); err != nil {
		t.Fatal(err)
	}
	// Indexed once the analytics delay has passed.
	b.clock.Advance(gcsim.DefaultAnalyticsDelay)

	query := func(interval string, page int) result {
		return b.call(t, "POST", "/api/v2/analytics/conversations/details/query", map[string]any{
			"interval": interval, "order": "asc", "orderBy": "conversationStart",
			"paging":              map[string]int{"pageSize": 1, "pageNumber": page},
			"conversationFilters": []any{map[string]any{"type": "and", "predicates": []any{map[string]any{"dimension": "conversationEnd", "operator": "notExists"}}}},
			"segmentFilters": []any{map[string]any{"type": "and", "predicates": []any{
				map[string]any{"dimension": "mediaType", "value": "callback"},
				map[string]any{"dimension": "queueId", "value": queueID},
				map[string]any{"dimension": "callbackNumber", "value": "+14155550101"},
			}}},
		})
	}
	res := query("2026-06-01T08:00:00.000Z/2026-06-01T08:30:00.000Z", 1) // same day as the creation
	if res.status != 200 {
		t.Fatalf("query: %d %s", res.status, res.body)
	}
	if strings.Contains(string(res.body), "attributes") || strings.Contains(string(res.body), "r-secret") {
		t.Errorf("analytics leaks attributes: %s", res.body)
	}
	var got struct {
		TotalHits     int `json:"totalHits"`
		Conversations []struct {
			ConversationID    string `json:"conversationId"`
			ConversationStart string `json:"conversationStart"`
			ConversationEnd   string `json:"conversationEnd"`
			Participants      []struct {
				Purpose  string `json:"purpose"`
				Sessions []struct {
					MediaType             string   `json:"mediaType"`
					CallbackNumbers       []string `json:"callbackNumbers"`
					CallbackScheduledTime string   `json:"callbackScheduledTime"`
					Segments              []struct {
						QueueID      string `json:"queueId"`
						SegmentStart string `json:"segmentStart"`
					} `json:"segments"`
				} `json:"sessions"`
			} `json:"participants"`
		} `json:"conversations"`
	}
	res.decode(t, &got)
	if got.TotalHits != 1 || len(got.Conversations) != 1 || got.Conversations[0].ConversationID != target.Conversation.ID {
		t.Fatalf("query result: %s", res.body)
	}
	conv := got.Conversations[0]
	s := conv.Participants[0].Sessions[0]
	if conv.ConversationStart != "2026-06-01T09:00:00.000Z" || conv.ConversationEnd != "" || s.MediaType != "callback" ||
		s.CallbackNumbers[0] != "+14155550101" || s.CallbackScheduledTime != "2026-06-01T10:00:00.000Z" || s.Segments[0].QueueID != queueID {
		t.Errorf("conversation: %+v", conv)
	}

	// The attributes are on the conversation itself.
	fc := b.callbackConversation(t, conv.ConversationID)
	if fc.Participants[0].Attributes["slotlineReservationId"] != "r-secret" {
		t.Errorf("attributes = %v", fc.Participants[0].Attributes)
	}

	// Page 2 of 1 is empty; another day matches nothing.
	for _, tc := range []struct {
		interval string
		page     int
	}{{"2026-06-01T00:00:00Z/2026-06-02T00:00:00Z", 2}, {"2026-05-31T00:00:00Z/2026-06-01T00:00:00Z", 1}} {
		res := query(tc.interval, tc.page)
		var empty struct {
			TotalHits     int   `json:"totalHits"`
			Conversations []any `json:"conversations"`
		}
		res.decode(t, &empty)
		if len(empty.Conversations) != 0 {
			t.Errorf("%s page %d: %s", tc.interval, tc.page, res.body)
		}
	}

	// Without the conversationEnd filter the ended one shows too.
	res = b.call(t, "POST", "/api/v2/analytics/conversations/details/query", map[string]any{
		"interval": "2026-06-01T00:00:00Z/2026-06-02T00:00:00Z",
		"segmentFilters": []any{map[string]any{"type": "and", "predicates": []any{
			map[string]any{"dimension": "queueId", "value": queueID},
			map[string]any{"dimension": "callbackNumber", "value": "+14155550101"},
		}}},
	})
	res.decode(t, &got)
	if got.TotalHits != 2 || got.Conversations[1].ConversationEnd == "" {
		t.Errorf("with ended: %s", res.body)
	}

	for name, body := range map[string]any{
		"no interval":         map[string]any{},
		"bad interval":        map[string]any{"interval": "2026-06-02T00:00:00Z/2026-06-01T00:00:00Z"},
		"unknown dimension":   map[string]any{"interval": "2026-06-01T00:00:00Z/2026-06-02T00:00:00Z", "segmentFilters": []any{map[string]any{"type": "and", "predicates": []any{map[string]any{"dimension": "wrapUpCode", "value": "x"}}}}},
		"property predicate":  map[string]any{"interval": "2026-06-01T00:00:00Z/2026-06-02T00:00:00Z", "segmentFilters": []any{map[string]any{"type": "and", "predicates": []any{map[string]any{"type": "property", "property": "x", "value": "x"}}}}},
		"page size too large": map[string]any{"interval": "2026-06-01T00:00:00Z/2026-06-02T00:00:00Z", "paging": map[string]int{"pageSize": 101}},
	} {
		t.Run(name, func(t *testing.T) {
			wantError(t, b.call(t, "POST", "/api/v2/analytics/conversations/details/query", body), 400, "bad.request")
		})
	}
}

// TestAnalyticsDelay: a new callback shows in analytics only after
// AnalyticsDelay of clock time; until then a matching query counts it in
// totalHits (an overcount) without returning it. With AnalyticsTelNumbers
// the numbers are held as "tel:+1…".
func TestAnalyticsDelay(t *testing.T) {
	t.Parallel()
	b := setup(t, gcsim.Options{AnalyticsDelay: 10 * time.Second, AnalyticsTelNumbers: true})
	first := b.createCallback(t, "+14155550101", t0.Add(time.Hour), nil)
	b.clock.Advance(10 * time.Second)
	second := b.createCallback(t, "+14155550101", t0.Add(time.Hour), nil)
	query := func(number string) (total int, ids []string) {
		t.Helper()
		res := b.call(t, "POST", "/api/v2/analytics/conversations/details/query", map[string]any{
			"interval": "2026-06-01T00:00:00Z/2026-06-02T00:00:00Z",
			"segmentFilters": []any{map[string]any{"type": "and", "predicates": []any{
				map[string]any{"dimension": "callbackNumber", "value": number},
			}}},
		})
		var got struct {
			TotalHits     int `json:"totalHits"`
			Conversations []struct {
				ConversationID string `json:"conversationId"`
			} `json:"conversations"`
		}
		res.decode(t, &got)
		for _, c := range got.Conversations {
			ids = append(ids, c.ConversationID)
		}
		return got.TotalHits, ids
	}
	if total, ids := query("tel:+14155550101"); total != 2 || fmt.Sprint(ids) != fmt.Sprint([]string{first.Conversation.ID}) {
		t.Errorf("one indexed, one not: totalHits %d, %v; want 2 and only %s", total, ids, first.Conversation.ID)
	}
	if total, ids := query("+14155550101"); total != 0 || len(ids) != 0 {
		t.Errorf("the +1 form with tel numbers: totalHits %d, %v", total, ids)
	}
	b.clock.Advance(10 * time.Second)
	if total, ids := query("tel:+14155550101"); total != 2 || fmt.Sprint(ids) != fmt.Sprint([]string{first.Conversation.ID, second.Conversation.ID}) {
		t.Errorf("both indexed: totalHits %d, %v", total, ids)
	}
	b.sim.SetAnalyticsDelay(0)
	b.sim.SetAnalyticsTelNumbers(false)
	third := b.createCallback(t, "+14155550101", t0.Add(time.Hour), nil)
	if total, ids := query("+14155550101"); total != 3 || len(ids) != 3 || ids[2] != third.Conversation.ID {
		t.Errorf("no delay, +1 form: totalHits %d, %v", total, ids)
	}
}

func TestQueueAndSchedules(t *testing.T) {
	t.Parallel()
	b := setup(t, gcsim.Options{
		Queues: []gcsim.Queue{{ID: queueID, Name: "Support", CallingPartyNumber: "+18005550100", SMSAddress: "+18005550111"}},
		ScheduleGroups: []gcsim.ScheduleGroup{{
			ID: "sg-1", Name: "Support hours", TimeZone: "America/New_York",
			Open:    []gcsim.Schedule{{ID: "sch-1", Name: "Weekdays", Start: "2024-01-01T08:00:00.000", End: "2024-01-01T17:00:00.000", RRule: "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"}},
			Holiday: []gcsim.Schedule{{ID: "sch-3", Name: "Christmas", Start: "2026-12-25T00:00:00.000", End: "2026-12-26T00:00:00.000"}},
		}},
	})

	res := b.call(t, "GET", "/api/v2/routing/queues/"+queueID, nil)
	var q struct {
		ID                         string `json:"id"`
		Name                       string `json:"name"`
		CallingPartyNumber         string `json:"callingPartyNumber"`
		OutboundMessagingAddresses struct {
			SMSAddress struct {
				ID, Name string
			} `json:"smsAddress"`
		} `json:"outboundMessagingAddresses"`
	}
	res.decode(t, &q)
	if q.ID != queueID || q.Name != "Support" || q.CallingPartyNumber != "+18005550100" || q.OutboundMessagingAddresses.SMSAddress.Name != "+18005550111" {
		t.Errorf("queue = %s", res.body)
	}
	res = b.call(t, "GET", "/api/v2/routing/sms/phonenumbers/"+q.OutboundMessagingAddresses.SMSAddress.ID, nil)
	if res.status != 200 || !strings.Contains(string(res.body), `"phoneNumber":"+18005550111"`) {
		t.Errorf("sms phone number: %d %s", res.status, res.body)
	}
	wantError(t, b.call(t, "GET", "/api/v2/routing/queues/nope", nil), 404, "not.found")

	res = b.call(t, "GET", "/api/v2/architect/schedulegroups/sg-1", nil)
	var g struct {
		ID, Name, State, TimeZone       string
		OpenSchedules, HolidaySchedules []struct{ ID, Name, SelfURI string }
		ClosedSchedules                 []struct{ ID string }
	}
	res.decode(t, &g)
	if g.State != "active" || g.TimeZone != "America/New_York" || len(g.OpenSchedules) != 1 || g.OpenSchedules[0].ID != "sch-1" ||
		len(g.HolidaySchedules) != 1 || len(g.ClosedSchedules) != 0 {
		t.Errorf("schedule group = %s", res.body)
	}
	res = b.call(t, "GET", "/api/v2/architect/schedules/sch-1", nil)
	var sc struct{ ID, Name, State, Start, End, Rrule string }
	res.decode(t, &sc)
	if diff := cmp.Diff(struct{ ID, Name, State, Start, End, Rrule string }{"sch-1", "Weekdays", "active", "2024-01-01T08:00:00.000", "2024-01-01T17:00:00.000", "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"}, sc); diff != "" {
		t.Errorf("schedule (-want +got):\n%s", diff)
	}
	wantError(t, b.call(t, "GET", "/api/v2/architect/schedules/nope", nil), 404, "not.found")
	wantError(t, b.call(t, "GET", "/api/v2/architect/schedulegroups/nope", nil), 404, "not.found")
}

func TestAgentlessSMS(t *testing.T) {
	t.Parallel()
	b := setup(t, gcsim.Options{Queues: []gcsim.Queue{{ID: queueID, SMSAddress: "+18005550111"}}})
	ok := map[string]any{"fromAddress": "+18005550111", "toAddress": "+14155550123", "toAddressMessengerType": "sms", "textBody": "We missed you."}
	with := func(k string, v any) map[string]any {
		m := map[string]any{}
		for kk, vv := range ok {
			m[kk] = vv
		}
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	for name, body := range map[string]any{
		"no from":       with("fromAddress", nil),
		"unknown from":  with("fromAddress", "+18005550999"),
		"to not E.164":  with("toAddress", "4155550123"),
		"no type":       with("toAddressMessengerType", nil),
		"whatsapp":      with("toAddressMessengerType", "whatsapp"),
		"no text":       with("textBody", nil),
		"text too long": with("textBody", strings.Repeat("x", 766)),
	} {
		t.Run(name, func(t *testing.T) {
			wantError(t, b.call(t, "POST", "/api/v2/conversations/messages/agentless", body), 400, "bad.request")
		})
	}
	res := b.call(t, "POST", "/api/v2/conversations/messages/agentless", with("textBody", strings.Repeat("é", 765)))
	if res.status != 200 {
		t.Fatalf("send: %d %s", res.status, res.body)
	}
	var m struct{ ID, ConversationID, FromAddress, ToAddress, MessengerType, Timestamp string }
	res.decode(t, &m)
	if m.ID == "" || m.ConversationID == "" || m.MessengerType != "sms" || m.ToAddress != "+14155550123" || m.Timestamp != "2026-06-01T09:00:00.000Z" {
		t.Errorf("response = %s", res.body)
	}
	if got := b.sim.SMS(); len(got) != 1 || got[0].ID != m.ID || got[0].FromAddress != "+18005550111" {
		t.Errorf("SMS() = %+v", got)
	}

	// The customer replied: an active conversation takes the message only
	// with useExistingActiveConversation.
	active := b.sim.OpenSMSConversation("+18005550111", "+14155550123")
	wantError(t, b.call(t, "POST", "/api/v2/conversations/messages/agentless", ok), 400, gcsim.CodeActiveConversation)
	res = b.call(t, "POST", "/api/v2/conversations/messages/agentless", with("useExistingActiveConversation", true))
	res.decode(t, &m)
	if res.status != 200 || m.ConversationID != active {
		t.Errorf("into the active conversation: %d %s, want conversation %s", res.status, res.body, active)
	}
	b.sim.CloseSMSConversation("+18005550111", "+14155550123")
	if res := b.call(t, "POST", "/api/v2/conversations/messages/agentless", ok); res.status != 200 {
		t.Errorf("after the conversation ended: %d %s", res.status, res.body)
	}
	// A number blocked for 10DLC, and one not provisioned (detail fieldName
	// fromAddress).
	b.sim.RefuseSMS("+18005550111", gcsim.SMSRefusal10DLC)
	wantError(t, b.call(t, "POST", "/api/v2/conversations/messages/agentless", ok), 400, gcsim.Code10DLC)
	b.sim.RefuseSMS("+18005550111", "")
	e := wantError(t, b.call(t, "POST", "/api/v2/conversations/messages/agentless", with("fromAddress", "+18005550999")), 400, "bad.request")
	if len(e.Details) != 1 || !strings.Contains(string(e.Details[0]), `"fieldName":"fromAddress"`) {
		t.Errorf("not provisioned: details %q", e.Details)
	}
}
