package gcsim_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/coder/websocket"

	"github.com/slotline/slotline/internal/genesys/gcsim"
)

// admin posts body (a JSON string, "" for none) to the admin API.
func (b *bundle) admin(t *testing.T, method, path, body string) result {
	t.Helper()
	req, _ := http.NewRequest(method, b.base+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	return send(t, req)
}

func TestAdminAPI(t *testing.T) {
	t.Parallel()
	b := setup(t, gcsim.Options{AnswerRate: -1, SocketClosingDelay: 10 * time.Millisecond})

	wantStatus := func(res result, status int) {
		t.Helper()
		if res.status != status {
			t.Fatalf("status %d, want %d: %s", res.status, status, res.body)
		}
	}

	t.Run("faults", func(t *testing.T) {
		wantStatus(b.admin(t, "POST", "/sim/faults", `{"method":"GET","pathPrefix":"/api/v2/routing/","status":429,"retryAfter":"3s"}`), 204)
		res := b.call(t, "GET", "/api/v2/routing/queues/"+queueID, nil)
		wantError(t, res, 429, "too.many.requests.retry.after")
		if res.header.Get("Retry-After") != "3" {
			t.Errorf("Retry-After = %q", res.header.Get("Retry-After"))
		}
		wantStatus(b.admin(t, "POST", "/sim/faults", `{"latency":"nope"}`), 400)
	})

	t.Run("failure rate and rate limit", func(t *testing.T) {
		wantStatus(b.admin(t, "POST", "/sim/failure-rate", `{"status":503,"rate":1}`), 204)
		wantError(t, b.call(t, "GET", "/api/v2/routing/queues/"+queueID, nil), 503, "service.unavailable")
		wantStatus(b.admin(t, "POST", "/sim/failure-rate", `{"rate":0}`), 204)
		wantStatus(b.admin(t, "POST", "/sim/failure-rate", `{"status":200,"rate":0.5}`), 400)
		wantStatus(b.admin(t, "POST", "/sim/rate-limit", `{"perSecond":1}`), 204)
		b.call(t, "GET", "/api/v2/routing/queues/"+queueID, nil)
		wantError(t, b.call(t, "GET", "/api/v2/routing/queues/"+queueID, nil), 429, "too.many.requests.retry.after")
		// Charged refusals: a 503 uses the one token, so the next call is
		// the limit's 429.
		wantStatus(b.admin(t, "POST", "/sim/rate-limit", `{"perSecond":1,"refusalsUseAllowance":true}`), 204)
		wantStatus(b.admin(t, "POST", "/sim/faults", `{"status":503}`), 204)
		wantError(t, b.call(t, "GET", "/api/v2/routing/queues/"+queueID, nil), 503, "service.unavailable")
		wantError(t, b.call(t, "GET", "/api/v2/routing/queues/"+queueID, nil), 429, "too.many.requests.retry.after")
		wantStatus(b.admin(t, "POST", "/sim/rate-limit", `{"perSecond":0}`), 204)
	})

	t.Run("clock and conversations", func(t *testing.T) {
		c := b.createCallback(t, "+14155550101", t0.Add(time.Hour), map[string]string{"k": "v"})
		id := c.Conversation.ID
		wantStatus(b.admin(t, "POST", "/sim/conversations/"+id+"/reschedule", `{"at":"2026-06-01T09:30:00Z"}`), 204)
		res := b.admin(t, "POST", "/sim/clock", `{"advance":"30m10s"}`)
		wantStatus(res, 200)
		if !strings.Contains(string(res.body), `"now":"2026-06-01T09:30:10Z"`) {
			t.Errorf("clock = %s", res.body)
		}
		waitFor(t, "offered", func() bool { return b.sim.Callbacks()[0].AgentsOffered == 1 })
		wantStatus(b.admin(t, "POST", "/sim/conversations/"+id+"/reschedule", `{"at":"2026-06-01T11:00:00Z"}`), 409)
		wantStatus(b.admin(t, "POST", "/sim/conversations/"+id+"/disconnect", ""), 204)
		wantStatus(b.admin(t, "POST", "/sim/conversations/nope/disconnect", ""), 404)
		wantStatus(b.admin(t, "POST", "/sim/conversations/nope/play", `{}`), 404)
		wantStatus(b.admin(t, "POST", "/sim/conversations/"+id+"/play", `{"customer":"maybe"}`), 400)
		res = b.admin(t, "GET", "/sim/callbacks", "")
		var cbs []gcsim.CallbackInfo
		res.decode(t, &cbs)
		if len(cbs) != 1 || cbs[0].ConversationID != id || cbs[0].State != "disconnected" || cbs[0].DisconnectType != "system" || cbs[0].Data["k"] != "v" {
			t.Errorf("callbacks = %s", res.body)
		}
		res = b.admin(t, "POST", "/sim/clock", `{"speed":0}`)
		if !strings.Contains(string(res.body), `"speed":0`) {
			t.Errorf("clock = %s", res.body)
		}
		wantStatus(b.admin(t, "GET", "/sim/clock", ""), 200)
	})

	t.Run("play", func(t *testing.T) {
		c := b.createCallback(t, "+14155550103", b.clock.Now().Add(time.Minute), nil)
		wantStatus(b.admin(t, "POST", "/sim/conversations/"+c.Conversation.ID+"/play",
			`{"customer":"voicemail","agentMisses":1,"reschedule":"0s"}`), 204)
		b.clock.Advance(10 * time.Minute)
		waitFor(t, "voicemail", func() bool {
			cs := b.sim.Callbacks()
			return cs[len(cs)-1].WrapupCode == gcsim.WrapupVoicemail.ID && cs[len(cs)-1].AgentsOffered == 2
		})
	})

	t.Run("answer rate", func(t *testing.T) {
		wantStatus(b.admin(t, "POST", "/sim/answer-rate", `{"rate":1}`), 204)
		b.createCallback(t, "+14155550102", time.Time{}, nil)
		b.clock.Advance(time.Minute)
		waitFor(t, "answered", func() bool { cs := b.sim.Callbacks(); return cs[len(cs)-1].Answered })
	})

	t.Run("sockets", func(t *testing.T) {
		id, uri := b.channel(t, topic(queueID))
		ws := dial(t, uri)
		wantStatus(b.admin(t, "POST", "/sim/channels/"+id+"/socket-closing", ""), 204)
		if f := nextEvent(t, ws); f.TopicName != "v2.system.socket_closing" {
			t.Errorf("frame = %+v", f)
		}
		if got := closeStatus(t, ws); got != websocket.StatusGoingAway {
			t.Errorf("close = %v", got)
		}
		ws = dial(t, uri)
		wantStatus(b.admin(t, "POST", "/sim/sockets/drop", ""), 204)
		closeStatus(t, ws)
		wantStatus(b.admin(t, "POST", "/sim/channels/"+id+"/expire", ""), 204)
		wantStatus(b.admin(t, "POST", "/sim/channels/"+id+"/expire", ""), 404)
		wantDialStatus(t, uri, 404)
		wantStatus(b.admin(t, "POST", "/sim/topic-rejections", `{"topic":"`+topic(queueID)+`","reason":"no"}`), 204)
		res := b.call(t, "POST", "/api/v2/notifications/channels/"+mustChannel(t, b)+"/subscriptions", []map[string]string{{"id": topic(queueID)}})
		if !strings.Contains(string(res.body), `"Rejected"`) {
			t.Errorf("subscription = %s", res.body)
		}
	})

	t.Run("tokens and stats", func(t *testing.T) {
		wantStatus(b.admin(t, "POST", "/sim/tokens/revoke", ""), 204)
		wantError(t, b.call(t, "GET", "/api/v2/routing/queues/"+queueID, nil), 401, "bad.credentials")
		b.token = b.login(t)
		res := b.admin(t, "GET", "/sim/stats", "")
		var st gcsim.Stats
		res.decode(t, &st)
		if st.TokensIssued != 2 || st.Count("GET /api/v2/routing/queues/{queueId}", 401) != 1 || st.TooManyRequests < 2 {
			t.Errorf("stats = %s", res.body)
		}
		if st.Count("POST /sim/faults", 0) != 0 {
			t.Error("admin calls are counted")
		}
	})

	t.Run("verification knobs", func(t *testing.T) {
		c := b.createCallback(t, "+14155550109", t0.Add(5*time.Hour), nil)
		id := c.Conversation.ID
		agent := b.sim.AgentIDs()[0]
		wantStatus(b.admin(t, "POST", "/sim/conversations/"+id+"/owner", `{"agentId":"`+agent+`"}`), 204)
		wantStatus(b.admin(t, "POST", "/sim/conversations/"+id+"/owner", `{"agentId":"nobody"}`), 404)
		wantStatus(b.admin(t, "POST", "/sim/agent-id", `{"required":true}`), 204)
		wantError(t, b.call(t, "PATCH", "/api/v2/conversations/callbacks", map[string]any{"conversationId": id}), 400, "bad.request")
		wantStatus(b.admin(t, "POST", "/sim/agent-id", `{"required":false}`), 204)
		wantStatus(b.admin(t, "POST", "/sim/analytics", `{"delay":"1m","telNumbers":true}`), 204)
		wantStatus(b.admin(t, "POST", "/sim/analytics", `{"delay":0,"telNumbers":false}`), 204)
		wantStatus(b.admin(t, "POST", "/sim/disconnects/drop", `{"count":1}`), 204)
		b.call(t, "PATCH", "/api/v2/conversations/callbacks/"+id, map[string]string{"state": "disconnected"})
		if got := b.sim.Callbacks()[len(b.sim.Callbacks())-1]; got.State != "scheduled" || got.Owner != agent {
			t.Errorf("after a dropped disconnect: %+v", got)
		}
		wantStatus(b.admin(t, "POST", "/sim/lost-responses", `{"method":"POST","pathPrefix":"/api/v2/x","rate":2}`), 400)
		wantStatus(b.admin(t, "POST", "/sim/lost-responses", `{"rate":0}`), 204)
		res := b.admin(t, "POST", "/sim/sms/conversations", `{"fromAddress":"+18005550100","toAddress":"+14155550109"}`)
		wantStatus(res, 200)
		if !strings.Contains(string(res.body), `"conversationId":"`) {
			t.Errorf("sms conversation = %s", res.body)
		}
		wantStatus(b.admin(t, "POST", "/sim/sms/conversations", `{}`), 400)
		wantStatus(b.admin(t, "POST", "/sim/sms/refusals", `{"fromAddress":"+18005550100","reason":"10dlc"}`), 204)
		wantStatus(b.admin(t, "POST", "/sim/sms/refusals", `{"fromAddress":"+18005550100","reason":"carrier"}`), 400)
		wantStatus(b.admin(t, "POST", "/sim/sms/refusals", `{"fromAddress":"+18005550100","reason":""}`), 204)
	})

	t.Run("unknown path", func(t *testing.T) {
		wantError(t, b.call(t, "GET", "/api/v2/nothing/here", nil), 404, "not.found")
	})
}

func mustChannel(t *testing.T, b *bundle) string {
	t.Helper()
	id, _ := b.channel(t)
	return id
}

// TestClock runs in a synctest bubble: the Clock reads real time, which
// there moves only by the (fake) sleeps, so a running clock's progress is
// exact.
func TestClock(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		c := gcsim.NewClock(t0, 0)
		if !c.Now().Equal(t0) {
			t.Fatalf("stopped clock moved: %v", c.Now())
		}
		c.Advance(time.Hour)
		c.Advance(-time.Hour) // ignored
		if !c.Now().Equal(t0.Add(time.Hour)) {
			t.Errorf("after Advance: %v", c.Now())
		}
		c.SetSpeed(3600)
		time.Sleep(10 * time.Millisecond) // fake time
		if d := c.Now().Sub(t0.Add(time.Hour)); d != 36*time.Second {
			t.Errorf("at 3600x, 10ms moved the clock %v, want 36s", d)
		}
		c.SetSpeed(0)
		now := c.Now()
		time.Sleep(5 * time.Millisecond) // fake time
		if !c.Now().Equal(now) || c.Speed() != 0 {
			t.Errorf("stopped clock moved")
		}
	})
}

func TestHandlerInProcess(t *testing.T) {
	t.Parallel()
	sim := gcsim.New(gcsim.Options{Clock: gcsim.NewClock(t0, 0)})
	srv := httptest.NewServer(sim.Handler())
	b := &bundle{sim: sim, base: srv.URL, clock: sim.Clock(), id: gcsim.DefaultClientID, secret: gcsim.DefaultClientSecret}
	b.token = b.login(t)
	_, uri := b.channel(t, topic(queueID))
	ws := dial(t, uri)
	b.createCallback(t, "+14155550101", time.Time{}, nil)
	nextEvent(t, ws)
	if sim.URL() != "" {
		t.Errorf("URL() = %q before Start", sim.URL())
	}
	// Close ends the sockets even though the server is not the Sim's.
	if err := sim.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := sim.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	closeStatus(t, ws)
	srv.Close()
	if _, err := sim.Start("127.0.0.1:0"); err == nil {
		t.Error("Start after Close succeeded")
	}
}

func TestCloseTwice(t *testing.T) {
	t.Parallel()
	b := setup(t, gcsim.Options{})
	_, uri := b.channel(t, topic(queueID))
	ws := dial(t, uri)
	if err := b.sim.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := b.sim.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	closeStatus(t, ws)
	if _, err := http.Get(b.base + "/api/v2/routing/queues/" + queueID); err == nil {
		t.Error("server still answering after Close")
	}
}
