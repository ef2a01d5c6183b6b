package gcsim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/slotline/slotline/internal/genesys/gcsim"
	"github.com/slotline/slotline/internal/memnet"
)

// t0 is the sim clock's start in tests: a fixed instant, stopped clock.
var t0 = time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)

const queueID = gcsim.DefaultQueueID

// bundle is one test's simulator and the means to talk to it.
type bundle struct {
	sim    *gcsim.Sim
	base   string
	clock  *gcsim.Clock
	token  string
	client *http.Client // nil: http.DefaultClient (see setupInBubble)

	id, secret string // client credentials
}

// setup starts a simulator on 127.0.0.1:0 with a stopped clock at t0 (unless
// opts has a clock) and gets a token.
func setup(t testing.TB, opts gcsim.Options) *bundle {
	t.Helper()
	if opts.Clock == nil {
		opts.Clock = gcsim.NewClock(t0, 0)
	}
	if opts.Seed == 0 {
		opts.Seed = 1
	}
	sim := gcsim.New(opts)
	t.Cleanup(func() { sim.Close() })
	base, err := sim.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &bundle{sim: sim, base: base, clock: opts.Clock, id: opts.ClientID, secret: opts.ClientSecret}
	if b.id == "" {
		b.id, b.secret = gcsim.DefaultClientID, gcsim.DefaultClientSecret
	}
	b.token = b.login(t)
	return b
}

// setupInBubble is setup for a test that runs inside synctest.Test: the
// simulator is served over an in-memory network (memNet), whose
// connections block on channels the bubble can see, so its fake clock
// drives the simulator's real-time parts too (token and channel TTLs, the
// rate limit, heartbeats), and synctest.Wait tells when the simulator has
// done all it can. Its cleanups run inside the bubble.
func setupInBubble(t *testing.T, opts gcsim.Options) *bundle {
	t.Helper()
	if opts.Clock == nil {
		opts.Clock = gcsim.NewClock(t0, 0)
	}
	if opts.Seed == 0 {
		opts.Seed = 1
	}
	sim := gcsim.New(opts)
	mn := memnet.New("gcsim.test:80")
	srv := &http.Server{Handler: sim.Handler()}
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(mn)
	}()
	tr := &http.Transport{DialContext: mn.DialContext}
	t.Cleanup(func() {
		sim.Close()
		srv.Close()
		<-served
		tr.CloseIdleConnections()
	})
	b := &bundle{sim: sim, base: "http://gcsim.test", clock: opts.Clock, client: &http.Client{Transport: tr},
		id: opts.ClientID, secret: opts.ClientSecret}
	if b.id == "" {
		b.id, b.secret = gcsim.DefaultClientID, gcsim.DefaultClientSecret
	}
	b.token = b.login(t)
	return b
}

func (b *bundle) login(t testing.TB) string {
	t.Helper()
	req, _ := http.NewRequest("POST", b.base+"/oauth/token", strings.NewReader("grant_type=client_credentials"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(b.id, b.secret)
	res := b.send(t, req)
	if res.status != 200 {
		t.Fatalf("token: %d %s", res.status, res.body)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	res.decode(t, &tok)
	return tok.AccessToken
}

type result struct {
	status int
	header http.Header
	body   []byte
}

func (r result) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

func send(t testing.TB, req *http.Request) result {
	t.Helper()
	return sendWith(t, http.DefaultClient, req)
}

// send sends req with the bundle's client.
func (b *bundle) send(t testing.TB, req *http.Request) result {
	t.Helper()
	if b.client == nil {
		return send(t, req)
	}
	return sendWith(t, b.client, req)
}

func sendWith(t testing.TB, client *http.Client, req *http.Request) result {
	t.Helper()
	res, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return result{status: res.StatusCode, header: res.Header, body: body}
}

// call makes an API call with the bundle's token; body is JSON-encoded
// unless it is nil.
func (b *bundle) call(t testing.TB, method, path string, body any) result {
	t.Helper()
	return b.callWith(t, b.token, method, path, body)
}

func (b *bundle) callWith(t testing.TB, token, method, path string, body any) result {
	t.Helper()
	req := b.request(t, token, method, path, body)
	return b.send(t, req)
}

func (b *bundle) request(t testing.TB, token, method, path string, body any) *http.Request {
	t.Helper()
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, b.base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return req
}

// errorBody is Genesys' ErrorBody as a client reads it.
type errorBody struct {
	Message   string            `json:"message"`
	Code      string            `json:"code"`
	Status    int               `json:"status"`
	ContextID string            `json:"contextId"`
	Details   []json.RawMessage `json:"details"`
	Errors    []json.RawMessage `json:"errors"`
}

// wantError checks that res is an ErrorBody with status and code whose
// contextId is the correlation id header.
func wantError(t testing.TB, res result, status int, code string) errorBody {
	t.Helper()
	if res.status != status {
		t.Fatalf("status = %d, want %d; body %s", res.status, status, res.body)
	}
	var eb errorBody
	res.decode(t, &eb)
	if eb.Code != code || eb.Status != status || eb.Message == "" {
		t.Errorf("error body = %s, want code %q status %d", res.body, code, status)
	}
	if cid := res.header.Get("ININ-Correlation-Id"); cid == "" || eb.ContextID != cid {
		t.Errorf("contextId %q, ININ-Correlation-Id %q", eb.ContextID, cid)
	}
	if eb.Details == nil || eb.Errors == nil {
		t.Errorf("details and errors must be arrays: %s", res.body)
	}
	return eb
}

// created is CreateCallbackResponse.
type created struct {
	Conversation struct {
		ID      string `json:"id"`
		SelfURI string `json:"selfUri"`
	} `json:"conversation"`
	CallbackIdentifiers []struct {
		Type string `json:"type"`
		ID   string `json:"id"`
	} `json:"callbackIdentifiers"`
}

func (c created) identifier(typ string) string {
	for _, id := range c.CallbackIdentifiers {
		if id.Type == typ {
			return id.ID
		}
	}
	return ""
}

// createCallback creates a callback due at at (zero: immediately) and
// returns the response.
func (b *bundle) createCallback(t testing.TB, number string, at time.Time, data map[string]string) created {
	t.Helper()
	body := map[string]any{"queueId": queueID, "callbackNumbers": []string{number}, "callbackUserName": "Jane Doe", "data": data}
	if !at.IsZero() {
		body["callbackScheduledTime"] = at.UTC().Format("2006-01-02T15:04:05.000Z")
	}
	res := b.call(t, "POST", "/api/v2/conversations/callbacks", body)
	if res.status != 200 {
		t.Fatalf("create: %d %s", res.status, res.body)
	}
	var c created
	res.decode(t, &c)
	return c
}

// flatConversation is the CallbackConversation / event body.
type flatConversation struct {
	ID             string   `json:"id"`
	OtherMediaURIs []string `json:"otherMediaUris"`
	Participants   []struct {
		ID                    string                       `json:"id"`
		Purpose               string                       `json:"purpose"`
		State                 string                       `json:"state"`
		DisconnectType        string                       `json:"disconnectType"`
		ConnectedTime         string                       `json:"connectedTime"`
		EndTime               string                       `json:"endTime"`
		CallbackNumbers       []string                     `json:"callbackNumbers"`
		CallbackUserName      string                       `json:"callbackUserName"`
		CallbackScheduledTime string                       `json:"callbackScheduledTime"`
		Attributes            map[string]string            `json:"attributes"`
		Queue                 *struct{ ID string }         `json:"queue"`
		User                  *struct{ ID, Name string }   `json:"user"`
		Wrapup                *struct{ Code, Name string } `json:"wrapup"`
	} `json:"participants"`
}

// states returns "purpose=state[/disconnectType]" for each participant.
func (fc flatConversation) states() []string {
	var out []string
	for _, p := range fc.Participants {
		s := p.Purpose + "=" + p.State
		if p.DisconnectType != "" {
			s += "/" + p.DisconnectType
		}
		out = append(out, s)
	}
	return out
}

func (b *bundle) callbackConversation(t testing.TB, id string) flatConversation {
	t.Helper()
	res := b.call(t, "GET", "/api/v2/conversations/callbacks/"+id, nil)
	if res.status != 200 {
		t.Fatalf("get callback conversation: %d %s", res.status, res.body)
	}
	var fc flatConversation
	res.decode(t, &fc)
	return fc
}

// waitFor polls cond, every 5 ms, until it holds or 20 s pass.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond) // poll interval
	}
}

// channel creates a notification channel and subscribes it to topics.
func (b *bundle) channel(t testing.TB, topics ...string) (id, connectURI string) {
	t.Helper()
	res := b.call(t, "POST", "/api/v2/notifications/channels", nil)
	if res.status != 200 {
		t.Fatalf("create channel: %d %s", res.status, res.body)
	}
	var ch struct {
		ID         string `json:"id"`
		ConnectURI string `json:"connectUri"`
		Expires    string `json:"expires"`
	}
	res.decode(t, &ch)
	if len(topics) > 0 {
		var body []map[string]string
		for _, tp := range topics {
			body = append(body, map[string]string{"id": tp})
		}
		if res := b.call(t, "PUT", "/api/v2/notifications/channels/"+ch.ID+"/subscriptions", body); res.status != 200 {
			t.Fatalf("subscribe: %d %s", res.status, res.body)
		}
	}
	return ch.ID, ch.ConnectURI
}

func topic(q string) string { return "v2.routing.queues." + q + ".conversations.callbacks" }

// frame is a notification frame.
type frame struct {
	TopicName string          `json:"topicName"`
	Version   string          `json:"version"`
	EventBody json.RawMessage `json:"eventBody"`
	Metadata  struct {
		CorrelationID string `json:"CorrelationId"`
	} `json:"metadata"`
}

func (f frame) message() string {
	var m struct {
		Message string `json:"message"`
	}
	_ = json.Unmarshal(f.EventBody, &m)
	return m.Message
}

func dial(t testing.TB, uri string) *websocket.Conn {
	t.Helper()
	return dialWith(t, uri, nil)
}

// dial connects a notification socket with the bundle's client.
func (b *bundle) dial(t testing.TB, uri string) *websocket.Conn {
	t.Helper()
	return dialWith(t, uri, &websocket.DialOptions{HTTPClient: b.client})
}

func dialWith(t testing.TB, uri string, opts *websocket.DialOptions) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, uri, opts)
	if err != nil {
		t.Fatalf("dial %s: %v", uri, err)
	}
	t.Cleanup(func() { c.CloseNow() })
	return c
}

// read returns the next frame, or the read error.
func read(t testing.TB, c *websocket.Conn) (frame, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, data, err := c.Read(ctx)
	if err != nil {
		return frame{}, err
	}
	var f frame
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatalf("frame %s: %v", data, err)
	}
	return f, nil
}

// nextEvent returns the next frame that is not channel metadata.
func nextEvent(t testing.TB, c *websocket.Conn) frame {
	t.Helper()
	for {
		f, err := read(t, c)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		if f.TopicName != "channel.metadata" {
			return f
		}
	}
}

func wsURL(base, path string) string {
	u, _ := url.Parse(base)
	u.Scheme = "ws"
	u.Path = path
	return u.String()
}

// conversationView is the generic Conversation (GET
// /api/v2/conversations/{id}) and the conversations topic's event body.
type conversationView struct {
	ID           string `json:"id"`
	StartTime    string `json:"startTime"`
	EndTime      string `json:"endTime"`
	Participants []struct {
		ID             string            `json:"id"`
		Purpose        string            `json:"purpose"`
		StartTime      string            `json:"startTime"`
		UserID         string            `json:"userId"`
		QueueID        string            `json:"queueId"`
		WrapupRequired bool              `json:"wrapupRequired"`
		Attributes     map[string]string `json:"attributes"`
		Wrapup         *struct {
			Code string `json:"code"`
			Name string `json:"name"`
		} `json:"wrapup"`
		EndAcwTime string `json:"endAcwTime"`
		Callbacks  []struct {
			ID                    string   `json:"id"`
			State                 string   `json:"state"`
			DisconnectType        string   `json:"disconnectType"`
			ConnectedTime         string   `json:"connectedTime"`
			CallbackNumbers       []string `json:"callbackNumbers"`
			CallbackScheduledTime string   `json:"callbackScheduledTime"`
		} `json:"callbacks"`
		Calls []struct {
			ID                string `json:"id"`
			State             string `json:"state"`
			DisconnectType    string `json:"disconnectType"`
			ConnectedTime     string `json:"connectedTime"`
			DisconnectedTime  string `json:"disconnectedTime"`
			DisconnectReasons []struct {
				Type   string `json:"type"`
				Code   int    `json:"code"`
				Phrase string `json:"phrase"`
			} `json:"disconnectReasons"`
		} `json:"calls"`
	} `json:"participants"`
}

// summary returns one line per participant: "purpose cb=state[/type]",
// then " call=state[/type][+c]" per call (+c: it has a connectedTime),
// then " wrapup=name-or-code".
func (cv conversationView) summary() []string {
	var out []string
	for _, p := range cv.Participants {
		s := p.Purpose
		for _, cb := range p.Callbacks {
			s += " cb=" + cb.State
			if cb.DisconnectType != "" {
				s += "/" + cb.DisconnectType
			}
		}
		for _, c := range p.Calls {
			s += " call=" + c.State
			if c.DisconnectType != "" {
				s += "/" + c.DisconnectType
			}
			if c.ConnectedTime != "" {
				s += "+c"
			}
		}
		if p.Wrapup != nil {
			w := p.Wrapup.Name
			if w == "" {
				w = p.Wrapup.Code
			}
			s += " wrapup=" + w
		}
		out = append(out, s)
	}
	return out
}

func (b *bundle) conversation(t testing.TB, id string) conversationView {
	t.Helper()
	res := b.call(t, "GET", "/api/v2/conversations/"+id, nil)
	if res.status != 200 {
		t.Fatalf("get conversation: %d %s", res.status, res.body)
	}
	var cv conversationView
	res.decode(t, &cv)
	return cv
}

func conversationsTopic(q string) string { return "v2.routing.queues." + q + ".conversations" }
