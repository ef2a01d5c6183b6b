package genesys

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/google/go-cmp/cmp"
)

func TestChannels(t *testing.T) {
	t.Parallel()
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodPost && r.URL.Path == "/api/v2/notifications/channels":
			okJSON(`{ "connectUri": "wss://streaming.mypurecloud.com/channels/streaming-0-abc123", "id": "streaming-0-abc123",
			  "expires": "2026-06-02T14:30:00.000Z" }`)(w, r)
		case r.Method == http.MethodHead && r.URL.Path == "/api/v2/notifications/channels/streaming-0-abc123":
			w.WriteHeader(http.StatusOK)
		case r.Method == http.MethodHead:
			w.WriteHeader(http.StatusNotFound)
		case strings.HasSuffix(r.URL.Path, "/subscriptions"):
			var topics []ChannelTopic
			if err := json.NewDecoder(r.Body).Decode(&topics); err != nil {
				writeError(w, 400, "bad.request", err.Error())
				return
			}
			var out []map[string]any
			for _, tp := range topics {
				if strings.Contains(tp.ID, "forbidden") {
					out = append(out, map[string]any{"id": tp.ID, "state": "Rejected", "rejectionReason": "Missing permissions",
						"missingPermissions": []string{"routing:queue:view"}})
					continue
				}
				out = append(out, map[string]any{"id": tp.ID, "state": "Permitted", "selfUri": "/x"})
			}
			writeJSON(w, 200, map[string]any{"entities": out})
		default:
			writeError(w, 404, "not.found", "no route")
		}
	})
	c, _ := testClient(t, f, nil)
	ctx := context.Background()

	ch, err := c.CreateChannel(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := &Channel{ID: "streaming-0-abc123", ConnectURI: "wss://streaming.mypurecloud.com/channels/streaming-0-abc123",
		Expires: time.Date(2026, 6, 2, 14, 30, 0, 0, time.UTC)}
	if diff := cmp.Diff(want, ch); diff != "" {
		t.Errorf("channel (-want +got):\n%s", diff)
	}

	if ok, err := c.ChannelExists(ctx, ch.ID); !ok || err != nil {
		t.Errorf("ChannelExists = %v, %v", ok, err)
	}
	if ok, err := c.ChannelExists(ctx, "gone"); ok || err != nil {
		t.Errorf("ChannelExists(gone) = %v, %v", ok, err)
	}

	t1 := QueueCallbacksTopic("q-1")
	if t1 != "v2.routing.queues.q-1.conversations.callbacks" {
		t.Errorf("topic = %s", t1)
	}
	got, err := c.Subscribe(ctx, ch.ID, []string{t1}, true)
	if err != nil || len(got) != 1 || got[0].State != "Permitted" || got[0].Rejected() {
		t.Errorf("Subscribe = %+v, %v", got, err)
	}
	bad := QueueCallbacksTopic("forbidden")
	got, err = c.Subscribe(ctx, ch.ID, []string{t1, bad}, false)
	var tre *TopicRejectedError
	if !errors.As(err, &tre) {
		t.Fatalf("err = %v, want *TopicRejectedError", err)
	}
	if len(got) != 2 {
		t.Errorf("topics = %+v, want both returned", got)
	}
	wantRejected := []ChannelTopic{{ID: bad, State: "Rejected", RejectionReason: "Missing permissions", MissingPermissions: []string{"routing:queue:view"}}}
	if diff := cmp.Diff(wantRejected, tre.Topics); diff != "" {
		t.Errorf("rejected (-want +got):\n%s", diff)
	}
	if !strings.Contains(err.Error(), "routing:queue:view") || !IsPermanent(err) {
		t.Errorf("err = %v", err)
	}
	reqs := f.recorded()
	var methods []string
	for _, r := range reqs {
		methods = append(methods, r.Method+" "+r.Path)
	}
	wantMethods := []string{
		"POST /api/v2/notifications/channels",
		"HEAD /api/v2/notifications/channels/streaming-0-abc123",
		"HEAD /api/v2/notifications/channels/gone",
		"PUT /api/v2/notifications/channels/streaming-0-abc123/subscriptions",
		"POST /api/v2/notifications/channels/streaming-0-abc123/subscriptions",
	}
	if diff := cmp.Diff(wantMethods, methods); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
	if string(reqs[3].Body) != `[{"id":"v2.routing.queues.q-1.conversations.callbacks"}]` {
		t.Errorf("subscribe body = %s", reqs[3].Body)
	}
}

const callbackEventJSON = `{
  "topicName": "v2.routing.queues.q-1.conversations.callbacks",
  "version": "2",
  "eventBody": {
    "id": "c0ffee00-1",
    "participants": [
      { "id": "p-cust", "purpose": "customer", "state": "scheduled", "initialState": "scheduled",
        "callbackNumbers": ["+14155550123"], "callbackUserName": "Jane Doe",
        "callbackScheduledTime": "2026-06-01T14:30:00.000Z",
        "attributes": { "slotline_reservation_id": "res-1" } },
      { "id": "p-acd", "purpose": "acd", "state": "scheduled", "queue": { "id": "q-1" } }
    ]
  },
  "metadata": { "CorrelationId": "5f1e-corr" }
}`

// socketServer starts a Genesys-like streaming endpoint: it sends a
// heartbeat, answers {"message":"ping"} with a pong, then sends a callback
// event and socket_closing.
func socketServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer ws.CloseNow()
		ctx := r.Context()
		write := func(s string) bool { return ws.Write(ctx, websocket.MessageText, []byte(s)) == nil }
		if !write(`{"topicName":"channel.metadata","eventBody":{"message":"WebSocket Heartbeat"}}`) {
			return
		}
		typ, msg, err := ws.Read(ctx)
		if err != nil || typ != websocket.MessageText || string(msg) != `{"message":"ping"}` {
			ws.Close(websocket.StatusPolicyViolation, "expected ping")
			return
		}
		ws.Write(ctx, websocket.MessageBinary, []byte{0, 1}) // ignored by the client
		for _, s := range []string{
			`{"topicName":"channel.metadata","eventBody":{"message":"pong"}}`,
			callbackEventJSON,
			`{"topicName":"v2.system.socket_closing","eventBody":{"message":"Socket closing","channelId":"streaming-0-abc123"},"metadata":{"CorrelationId":"sc-1"}}`,
			`{"result":"404","status":"error"}`,
			`not json`,
		} {
			if !write(s) {
				return
			}
		}
		ws.Read(ctx) // wait for the client to close
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestNotificationSocket(t *testing.T) {
	t.Parallel()
	srv := socketServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	uri := "ws" + strings.TrimPrefix(srv.URL, "http") + "/channels/streaming-0-abc123"
	nc, err := DialNotifications(ctx, uri, WithDialHTTPClient(srv.Client()))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()

	n, err := nc.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !n.IsHeartbeat() || n.IsPong() || !n.IsSystem() || n.IsSocketClosing() {
		t.Errorf("heartbeat: %+v", n)
	}
	if err := nc.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err = nc.Read(ctx); err != nil || !n.IsPong() || n.IsHeartbeat() || !n.IsSystem() {
		t.Fatalf("pong: %+v, %v", n, err)
	}

	n, err = nc.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n.IsSystem() || n.TopicName != QueueCallbacksTopic("q-1") || n.Version != "2" || n.Metadata.CorrelationID != "5f1e-corr" {
		t.Errorf("event: %+v", n)
	}
	cc, err := ParseCallbackEvent(n.EventBody)
	if err != nil {
		t.Fatal(err)
	}
	if cc.ID != "c0ffee00-1" || len(cc.Participants) != 2 || cc.Participants[0].State != "scheduled" ||
		cc.Participants[0].CallbackScheduledTime == nil || cc.Participants[1].Queue.ID != "q-1" {
		t.Errorf("event body: %+v", cc)
	}
	if v, ok := cc.Attribute("slotline_reservation_id"); !ok || v != "res-1" {
		t.Errorf("attribute = %q %v", v, ok)
	}

	if n, err = nc.Read(ctx); err != nil || !n.IsSocketClosing() || !n.IsSystem() || n.IsHeartbeat() {
		t.Fatalf("socket_closing: %+v, %v", n, err)
	}
	if n, err = nc.Read(ctx); err != nil || n.Result != "404" || !n.IsSystem() {
		t.Fatalf("socket-level reply: %+v, %v", n, err)
	}
	if _, err = nc.Read(ctx); err == nil {
		t.Fatal("non-JSON message accepted")
	}
}

func TestNotificationSocketReadLimit(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer ws.CloseNow()
		body := `{"topicName":"x","eventBody":"` + strings.Repeat("a", 2048) + `"}`
		ws.Write(r.Context(), websocket.MessageText, []byte(body))
		ws.Read(r.Context())
	}))
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	nc, err := DialNotifications(ctx, srv.URL, WithReadLimit(1024))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if _, err := nc.Read(ctx); err == nil {
		t.Fatal("message over the read limit accepted")
	}
}

func TestParseCallbackEvent(t *testing.T) {
	t.Parallel()
	if _, err := ParseCallbackEvent(json.RawMessage(`{"participants":[]}`)); err == nil {
		t.Error("event without id accepted")
	}
	if _, err := ParseCallbackEvent(json.RawMessage(`[1]`)); err == nil {
		t.Error("non-object accepted")
	}
	cc, err := ParseCallbackEvent(json.RawMessage(`{"id":"c","participants":[{"id":"p","state":"disconnected","disconnectType":"endpoint.dnd",
	  "endTime":"2026-06-01T14:40:00Z","callbackScheduledTime":"2026-06-01T14:30:00.000Z","unknownField":{"x":1}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if p := cc.Participants[0]; p.DisconnectType != "endpoint.dnd" || p.EndTime == nil || p.StartTime != nil {
		t.Errorf("participant = %+v", p)
	}
}

func TestParseConversationEvent(t *testing.T) {
	t.Parallel()
	if _, err := ParseConversationEvent(json.RawMessage(`{"participants":[]}`)); err == nil {
		t.Error("event without id accepted")
	}
	if _, err := ParseConversationEvent(json.RawMessage(`"x"`)); err == nil {
		t.Error("non-object accepted")
	}
	cv, err := ParseConversationEvent(json.RawMessage(`{"id":"c","participants":[
	  {"id":"p","purpose":"customer","connectedTime":"2026-06-01T14:30:00Z",
	   "callbacks":[{"id":"cb","state":"scheduled","callbackScheduledTime":1780324200000}],
	   "calls":[{"id":"k","state":"connected","connectedTime":"2026-06-01T14:31:00.000Z","unknown":[1]}]},
	  {"id":"a","purpose":"agent","wrapup":{"code":"wc-2"}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	p := cv.Participants[0]
	if p.ConnectedTime == nil || p.Callbacks[0].CallbackScheduledTime == nil || !p.Callbacks[0].CallbackScheduledTime.Equal(time.UnixMilli(1780324200000)) ||
		p.Calls[0].ConnectedTime == nil || cv.Participants[1].Wrapup.Code != "wc-2" || cv.EndTime != nil {
		t.Errorf("event = %+v", cv)
	}
	if got := QueueConversationsTopic("q"); got != "v2.routing.queues.q.conversations" {
		t.Errorf("topic = %s", got)
	}
}
