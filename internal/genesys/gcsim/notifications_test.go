package gcsim_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"testing"
	"testing/synctest"
	"time"

	"github.com/coder/websocket"
	"github.com/google/go-cmp/cmp"

	"github.com/slotline/slotline/internal/genesys/gcsim"
)

func TestSubscriptions(t *testing.T) {
	t.Parallel()
	b := setup(t, gcsim.Options{})
	id, uri := b.channel(t)
	if want := wsURL(b.base, "/channels/"+id); uri != want {
		t.Errorf("connectUri = %q, want %q", uri, want)
	}
	b.sim.SetTopicRejection(topic("7f1c9a2e-0000-4000-8000-00000000000f"), "missing permission routing:queue:view")
	res := b.call(t, "PUT", "/api/v2/notifications/channels/"+id+"/subscriptions", []map[string]string{
		{"id": topic(queueID)},
		{"id": topic("unknown-queue")},
		{"id": "v2.users.x.presence"},
		{"id": topic("7f1c9a2e-0000-4000-8000-00000000000f")},
	})
	if res.status != 200 {
		t.Fatalf("subscribe: %d %s", res.status, res.body)
	}
	type topicState struct {
		ID              string `json:"id"`
		State           string `json:"state"`
		RejectionReason string `json:"rejectionReason"`
	}
	var got struct{ Entities []topicState }
	res.decode(t, &got)
	states := map[string]string{}
	for _, e := range got.Entities {
		states[e.ID] = e.State
		if e.State == "Rejected" && e.RejectionReason == "" {
			t.Errorf("%s rejected without a reason", e.ID)
		}
	}
	want := map[string]string{
		topic(queueID): "Permitted", topic("unknown-queue"): "Rejected", "v2.users.x.presence": "Rejected",
		topic("7f1c9a2e-0000-4000-8000-00000000000f"): "Rejected",
	}
	if diff := cmp.Diff(want, states); diff != "" {
		t.Errorf("states (-want +got):\n%s", diff)
	}

	res = b.call(t, "GET", "/api/v2/notifications/channels/"+id+"/subscriptions", nil)
	res.decode(t, &got)
	if len(got.Entities) != 1 || got.Entities[0].ID != topic(queueID) {
		t.Errorf("GET subscriptions = %s", res.body)
	}
	if res := b.call(t, "DELETE", "/api/v2/notifications/channels/"+id+"/subscriptions", nil); res.status != 204 {
		t.Errorf("DELETE = %d", res.status)
	}
	res = b.call(t, "GET", "/api/v2/notifications/channels/"+id+"/subscriptions", nil)
	res.decode(t, &got)
	if len(got.Entities) != 0 {
		t.Errorf("after DELETE: %s", res.body)
	}

	// A channel takes at most 1000 topics.
	qs := make([]gcsim.Queue, 0, 1001)
	for i := range 1001 {
		qs = append(qs, gcsim.Queue{ID: "q" + strconv.Itoa(i)})
	}
	b2 := setup(t, gcsim.Options{Queues: qs})
	id2, _ := b2.channel(t)
	var many []map[string]string
	for _, q := range qs {
		many = append(many, map[string]string{"id": topic(q.ID)})
	}
	wantError(t, b2.call(t, "POST", "/api/v2/notifications/channels/"+id2+"/subscriptions", many), 400, "bad.request")
	if res := b2.call(t, "POST", "/api/v2/notifications/channels/"+id2+"/subscriptions", many[:1000]); res.status != 200 {
		t.Errorf("1000 topics: %d", res.status)
	}

	wantError(t, b.call(t, "GET", "/api/v2/notifications/channels/nope/subscriptions", nil), 404, "not.found")
}

func TestEvents(t *testing.T) {
	t.Parallel()
	q2 := "7f1c9a2e-0000-4000-8000-000000000002"
	b := setup(t, gcsim.Options{AnswerRate: 1, Queues: []gcsim.Queue{{ID: queueID}, {ID: q2}}})
	_, uri := b.channel(t, topic(queueID))
	ws := dial(t, uri)
	// Another queue's callbacks do not arrive here.
	if res := b.call(t, "POST", "/api/v2/conversations/callbacks", map[string]any{"queueId": q2, "callbackNumbers": []string{"+14155550109"}}); res.status != 200 {
		t.Fatal(res.status)
	}
	c := b.createCallback(t, "+14155550101", t0.Add(time.Minute), map[string]string{"k": "v"})

	var seen [][]string
	expect := func(want ...string) flatConversation {
		t.Helper()
		f := nextEvent(t, ws)
		if f.TopicName != topic(queueID) || f.Version != "2" || f.Metadata.CorrelationID == "" {
			t.Errorf("frame header: %+v", f)
		}
		var fc flatConversation
		if err := json.Unmarshal(f.EventBody, &fc); err != nil {
			t.Fatal(err)
		}
		if fc.ID != c.Conversation.ID {
			t.Errorf("event for %s, want %s", fc.ID, c.Conversation.ID)
		}
		seen = append(seen, fc.states())
		if !cmp.Equal(want, fc.states()) {
			t.Errorf("event states = %v, want %v", fc.states(), want)
		}
		return fc
	}
	fc := expect("customer=scheduled", "acd=scheduled")
	if fc.Participants[0].Attributes["k"] != "v" || fc.Participants[0].CallbackScheduledTime != "2026-06-01T09:01:00.000Z" ||
		fc.Participants[1].Queue == nil {
		t.Errorf("scheduled event: %+v", fc)
	}
	// A supervisor reschedule is an event too.
	if err := b.sim.Reschedule(c.Conversation.ID, t0.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if fc := expect("customer=scheduled", "acd=scheduled"); fc.Participants[0].CallbackScheduledTime != "2026-06-01T09:02:00.000Z" {
		t.Errorf("rescheduled event time = %s", fc.Participants[0].CallbackScheduledTime)
	}
	// One jump plays every transition, in order: offered, accepted, the
	// call placed and answered (the callback view does not change), hung
	// up, wrapped up.
	b.clock.Advance(time.Hour)
	expect("customer=connected", "acd=connected", "agent=alerting")
	expect("customer=connected", "acd=disconnected/transfer", "agent=connected")
	if fc := expect("customer=connected", "acd=disconnected/transfer", "agent=connected"); len(fc.OtherMediaURIs) != 1 {
		t.Errorf("otherMediaUris = %v once the call is placed", fc.OtherMediaURIs)
	}
	expect("customer=connected", "acd=disconnected/transfer", "agent=connected")
	expect("customer=disconnected/peer", "acd=disconnected/transfer", "agent=disconnected/client")
	if fc := expect("customer=disconnected/peer", "acd=disconnected/transfer", "agent=disconnected/client"); fc.Participants[2].Wrapup == nil ||
		fc.Participants[2].Wrapup.Code != gcsim.WrapupReached.ID || fc.Participants[2].Wrapup.Name != "" {
		t.Errorf("wrap-up in the event = %+v, want the code alone", fc.Participants[2].Wrapup)
	}
}

// TestConversationEvents: the conversations topic carries the generic
// view, with the calls; a subscriber to both topics gets both views of
// each change.
func TestConversationEvents(t *testing.T) {
	t.Parallel()
	b := setup(t, gcsim.Options{AnswerRate: -1})
	_, uri := b.channel(t, conversationsTopic(queueID), topic(queueID))
	ws := dial(t, uri)
	c := b.createCallback(t, "+14155550101", t0.Add(time.Minute), map[string]string{"k": "v"})
	next := func() (conversationView, bool) {
		t.Helper()
		for {
			f := nextEvent(t, ws)
			if f.TopicName == topic(queueID) {
				continue
			}
			if f.TopicName != conversationsTopic(queueID) || f.Version != "2" {
				t.Fatalf("frame %+v", f)
			}
			var cv conversationView
			if err := json.Unmarshal(f.EventBody, &cv); err != nil {
				t.Fatal(err)
			}
			if cv.ID != c.Conversation.ID || cv.StartTime != "" || cv.EndTime != "" || cv.Participants[0].StartTime != "" {
				t.Errorf("event = %s, want no start or end times", f.EventBody)
			}
			return cv, cv.Participants[0].Attributes["k"] == "v"
		}
	}
	if cv, attrs := next(); !attrs || cv.Participants[0].Callbacks[0].State != "scheduled" {
		t.Errorf("created: %+v", cv)
	}
	b.clock.Advance(time.Hour)
	var last conversationView
	for range 5 { // offered, accepted, dialled, not answered, wrapped up
		last, _ = next()
	}
	want := []string{"customer cb=disconnected/peer call=disconnected/timeout", "acd cb=disconnected/transfer",
		"agent cb=disconnected/client call=disconnected/peer+c wrapup=" + gcsim.WrapupNoAnswer.ID}
	if diff := cmp.Diff(want, last.summary()); diff != "" {
		t.Errorf("last event (-want +got):\n%s", diff)
	}
}

func TestHeartbeatAndPing(t *testing.T) {
	t.Parallel()
	b := setup(t, gcsim.Options{HeartbeatEvery: 30 * time.Millisecond})
	_, uri := b.channel(t, topic(queueID))
	ws := dial(t, uri)
	f, err := read(t, ws)
	if err != nil || f.TopicName != "channel.metadata" || f.message() != "WebSocket Heartbeat" {
		t.Fatalf("heartbeat = %+v, %v", f, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := ws.Write(ctx, websocket.MessageText, []byte(`{"message":"ping"}`)); err != nil {
		t.Fatal(err)
	}
	for {
		f, err := read(t, ws)
		if err != nil {
			t.Fatal(err)
		}
		if f.message() == "pong" {
			if f.TopicName != "channel.metadata" {
				t.Errorf("pong topic = %q", f.TopicName)
			}
			break
		}
	}
}

// closeStatus reads until the socket closes and returns the close status
// (-1 for an abrupt close).
func closeStatus(t *testing.T, ws *websocket.Conn) websocket.StatusCode {
	t.Helper()
	for {
		_, err := read(t, ws)
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				t.Fatal("socket did not close")
			}
			return websocket.CloseStatus(err)
		}
	}
}

func TestSocketClosing(t *testing.T) {
	t.Parallel()
	b := setup(t, gcsim.Options{SocketClosingDelay: 50 * time.Millisecond})
	id, uri := b.channel(t, topic(queueID))
	ws := dial(t, uri)
	b.sim.SocketClosing(id)
	f := nextEvent(t, ws)
	var body struct {
		ChannelID string `json:"channelId"`
	}
	_ = json.Unmarshal(f.EventBody, &body)
	if f.TopicName != "v2.system.socket_closing" || body.ChannelID != id {
		t.Errorf("system message = %+v", f)
	}
	if got := closeStatus(t, ws); got != websocket.StatusGoingAway {
		t.Errorf("close status = %v", got)
	}
	// The channel lives on: reconnect and receive events.
	ws2 := dial(t, uri)
	b.createCallback(t, "+14155550101", t0.Add(time.Hour), nil)
	if f := nextEvent(t, ws2); f.TopicName != topic(queueID) {
		t.Errorf("after reconnect: %+v", f)
	}
}

func TestChannelExpiry(t *testing.T) {
	t.Parallel()

	t.Run("TTL", func(t *testing.T) {
		t.Parallel()
		b := setup(t, gcsim.Options{ChannelTTL: 200 * time.Millisecond})
		id, uri := b.channel(t, topic(queueID))
		ws := dial(t, uri)
		if got := closeStatus(t, ws); got != websocket.StatusGoingAway {
			t.Errorf("close status = %v", got)
		}
		wantDialStatus(t, uri, http.StatusNotFound)
		if res := b.call(t, "HEAD", "/api/v2/notifications/channels/"+id, nil); res.status != 404 {
			t.Errorf("HEAD = %d", res.status)
		}
	})

	t.Run("ExpireChannel", func(t *testing.T) {
		t.Parallel()
		b := setup(t, gcsim.Options{})
		id, uri := b.channel(t, topic(queueID))
		if res := b.call(t, "HEAD", "/api/v2/notifications/channels/"+id, nil); res.status != 200 {
			t.Errorf("HEAD live = %d", res.status)
		}
		ws := dial(t, uri)
		b.sim.ExpireChannel(id)
		if got := closeStatus(t, ws); got != websocket.StatusGoingAway {
			t.Errorf("close status = %v", got)
		}
		wantDialStatus(t, uri, http.StatusNotFound)
		wantDialStatus(t, wsURL(b.base, "/channels/never-made"), http.StatusNotFound)
	})

	// Channels live on real time: in a synctest bubble the sleeps are fake
	// time, so the checks fall exactly between the first expiry (300 ms)
	// and the extended one (500 ms), however loaded the machine.
	t.Run("subscribing extends", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			const ttl = 300 * time.Millisecond
			b := setupInBubble(t, gcsim.Options{ChannelTTL: ttl})
			created := time.Now()
			id, uri := b.channel(t, topic(queueID))
			ws := b.dial(t, uri)
			time.Sleep(200 * time.Millisecond) // fake time
			b.call(t, "POST", "/api/v2/notifications/channels/"+id+"/subscriptions", []map[string]string{{"id": topic(queueID)}})
			extended := time.Now().Add(ttl)
			time.Sleep(200 * time.Millisecond) // fake time: past the first expiry
			if res := b.call(t, "HEAD", "/api/v2/notifications/channels/"+id, nil); res.status != 200 {
				t.Errorf("HEAD after re-subscribing = %d", res.status)
			}
			if got := closeStatus(t, ws); got != websocket.StatusGoingAway {
				t.Errorf("close status = %v", got)
			}
			if closed := time.Now(); closed.Before(extended) {
				t.Errorf("socket closed %v after the channel was made, before its extended expiry (%v)",
					closed.Sub(created), extended.Sub(created))
			}
		})
	})
}

func wantDialStatus(t *testing.T, uri string, status int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, res, err := websocket.Dial(ctx, uri, nil)
	if err == nil {
		c.CloseNow()
		t.Fatalf("dial %s succeeded, want %d", uri, status)
	}
	if res == nil || res.StatusCode != status {
		t.Errorf("dial %s: %v (response %v), want %d", uri, err, res, status)
	}
}

func TestOneConnectionPerChannel(t *testing.T) {
	t.Parallel()
	b := setup(t, gcsim.Options{})
	_, uri := b.channel(t, topic(queueID))
	ws1 := dial(t, uri)
	ws2 := dial(t, uri)
	if got := closeStatus(t, ws1); got != websocket.StatusPolicyViolation {
		t.Errorf("first connection's close status = %v", got)
	}
	b.createCallback(t, "+14155550101", t0.Add(time.Hour), nil)
	if f := nextEvent(t, ws2); f.TopicName != topic(queueID) {
		t.Errorf("second connection: %+v", f)
	}
}

func TestDropSockets(t *testing.T) {
	t.Parallel()
	b := setup(t, gcsim.Options{})
	_, uri := b.channel(t, topic(queueID))
	ws := dial(t, uri)
	b.sim.DropSockets()
	if got := closeStatus(t, ws); got != -1 {
		t.Errorf("close status = %v, want none (abrupt)", got)
	}
	ws2 := dial(t, uri) // the channel lives on
	b.createCallback(t, "+14155550101", t0.Add(time.Hour), nil)
	nextEvent(t, ws2)
}

func TestChannelEviction(t *testing.T) {
	t.Parallel()
	b := setup(t, gcsim.Options{})
	var ids []string
	for range 20 {
		id, _ := b.channel(t)
		ids = append(ids, id)
	}
	// The oldest is connected, so the second oldest goes first.
	ws := dial(t, wsURL(b.base, "/channels/"+ids[0]))
	newID, _ := b.channel(t)
	head := func(id string) int { return b.call(t, "HEAD", "/api/v2/notifications/channels/"+id, nil).status }
	if head(ids[0]) != 200 || head(ids[1]) != 404 || head(newID) != 200 || head(ids[2]) != 200 {
		t.Errorf("after the 21st: oldest %d, second %d, new %d, third %d", head(ids[0]), head(ids[1]), head(newID), head(ids[2]))
	}
	var list struct{ Entities []struct{ ID string } }
	b.call(t, "GET", "/api/v2/notifications/channels", nil).decode(t, &list)
	if len(list.Entities) != 20 {
		t.Errorf("%d channels listed, want 20", len(list.Entities))
	}
	// Once every channel is connected, the least recently used one goes,
	// and its socket is closed.
	for _, id := range append(ids[2:], newID) {
		dial(t, wsURL(b.base, "/channels/"+id))
	}
	// The server registers a socket before its handshake completes; check
	// that all 20 are connected before the 21st channel is made.
	waitFor(t, "every channel connected", func() bool { return len(b.sim.ConnectedChannels()) == 20 })
	b.channel(t)
	if got := closeStatus(t, ws); got != websocket.StatusGoingAway {
		t.Errorf("evicted socket close status = %v", got)
	}
	if head(ids[0]) != 404 {
		t.Errorf("least recently used channel survived")
	}
}

func TestSlowSocketIsDropped(t *testing.T) {
	t.Parallel()
	b := setup(t, gcsim.Options{})
	gcsim.SetSocketQueueLen(b.sim, 8)
	_, uri := b.channel(t, topic(queueID))
	ws := dial(t, uri)
	c := b.createCallback(t, "+14155550101", t0.Add(time.Hour), nil)
	// Publish without reading until the socket's queue overflows (the
	// kernel's buffers take a few megabytes first).
	published := 0
	for b.sim.Stats().SlowSocketsDropped == 0 {
		for range 500 {
			if err := b.sim.Reschedule(c.Conversation.ID, t0.Add(time.Hour+time.Duration(published)*time.Second)); err != nil {
				t.Fatal(err)
			}
			published++
		}
		if published > 200000 {
			t.Fatal("socket never dropped")
		}
	}
	// The simulator went on without waiting; the client sees the socket end.
	received := 0
	for {
		if _, err := read(t, ws); err != nil {
			break
		}
		received++
	}
	if received >= published {
		t.Errorf("received %d of %d events, want fewer", received, published)
	}
}
