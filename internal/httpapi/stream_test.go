package httpapi_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/vmihailenco/msgpack/v5"
	xws "golang.org/x/net/websocket"

	"github.com/slotline/slotline/internal/auth"
	"github.com/slotline/slotline/internal/booking"
	"github.com/slotline/slotline/internal/frame"
	"github.com/slotline/slotline/internal/httpapi"
	"github.com/slotline/slotline/internal/metrics"
	"github.com/slotline/slotline/internal/reservation"
	"github.com/slotline/slotline/internal/schedule"
	"github.com/slotline/slotline/internal/storage"
	"github.com/slotline/slotline/internal/storage/storagetest"
	"github.com/slotline/slotline/internal/stream"
	"github.com/slotline/slotline/internal/streamclient"
)

type streamBundle struct {
	srv   *httptest.Server
	auth  *auth.Service
	m     *metrics.Metrics
	store *storage.Store
	book  *booking.Service
	token string
	ctx   context.Context
	loc   *time.Location
	n     int
}

// newStreamServer serves the API with a running hub on the database dsn
// ("" for a new SQLite file). opts are the server's stream defaults.
func newStreamServer(t *testing.T, dsn string, opts stream.Options) *streamBundle {
	t.Helper()
	return newStreamServerWith(t, dsn, func(d *httpapi.Deps) { d.StreamOptions = opts }, nil)
}

// newStreamServerWith is newStreamServer with the server's Deps changed by
// deps and, when not nil, its http.Server by srvConfig before it starts.
// Its API clients are website (whose token the bundle holds) and crm,
// both with the callback scopes.
func newStreamServerWith(t *testing.T, dsn string, deps func(*httpapi.Deps), srvConfig func(*httptest.Server)) *streamBundle {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	if dsn == "" {
		dsn = "sqlite:" + filepath.Join(t.TempDir(), "s.db")
	}
	store, err := storage.Open(ctx, dsn, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	loc, _ := time.LoadLocation("America/New_York")
	queues := []*booking.Queue{
		{ID: "support", Name: "Support", TimeZone: loc.String(), Calendar: &schedule.Calendar{Location: loc, SlotMinutes: 15, Capacity: 50, AlwaysOpen: true, Horizon: 30 * 24 * time.Hour}},
		{ID: "sales", Name: "Sales", TimeZone: loc.String(), Calendar: &schedule.Calendar{Location: loc, SlotMinutes: 15, Capacity: 50, AlwaysOpen: true, Horizon: 30 * 24 * time.Hour}},
	}
	book := booking.New(store, queues, booking.Options{})
	authSvc := auth.NewService(store, []*auth.Client{
		auth.NewClient("website", "website-secret-0123456789", []string{"callback:read", "callback:write"}, 0, 0),
		auth.NewClient("crm", "crm-secret-0123456789abc", []string{"callback:read", "callback:write"}, 0, 0),
	}, time.Hour)
	hub := stream.NewHub(store, nil, 64)
	var wg sync.WaitGroup
	wg.Go(func() { _ = hub.Run(ctx) })
	m := metrics.New()
	d := httpapi.Deps{Booking: book, Auth: authSvc, Store: store, Stream: stream.NewServer(hub, store, m),
		Metrics: m, AllowedOrigins: []string{"*.example.com"}}
	deps(&d)
	srv := httptest.NewUnstartedServer(httpapi.NewServer(d))
	srv.Config.BaseContext = func(net.Listener) context.Context { return ctx }
	if srvConfig != nil {
		srvConfig(srv)
	}
	srv.Start()
	t.Cleanup(func() {
		cancel()
		srv.CloseClientConnections()
		srv.Close()
		wg.Wait()
		store.Close()
	})
	tok, _, err := authSvc.Issue(ctx, mustClient(t, authSvc), nil)
	if err != nil {
		t.Fatal(err)
	}
	return &streamBundle{srv: srv, auth: authSvc, m: m, store: store, book: book, token: tok, ctx: ctx, loc: loc}
}

func mustClient(t *testing.T, a *auth.Service) *auth.Client {
	c, ok := a.Authenticate("website", "website-secret-0123456789")
	if !ok {
		t.Fatal("no client")
	}
	return c
}

// reserve creates a reservation (one event) in queue.
func (b *streamBundle) reserve(t *testing.T, queue string) *reservation.Reservation {
	t.Helper()
	b.n++
	start := time.Now().Add(time.Duration(b.n+1) * time.Hour).Truncate(15 * time.Minute)
	res, err := b.book.Create(b.ctx, booking.Caller{ClientID: "website"}, &reservation.CreateRequest{
		CallbackID: fmt.Sprintf("s%d", b.n), CallbackNumber: "+14155550199", QueueID: queue,
		Candidates: []reservation.Slot{{Start: start, End: start.Add(15 * time.Minute)}}, Channel: reservation.ChannelPreferences{Primary: "voice"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return res.Reservation
}

func (b *streamBundle) dial(t *testing.T, query string) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	h := http.Header{"Authorization": {"Bearer " + b.token}}
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(b.srv.URL, "http")+"/api/v2/callbacks/websocket"+query, &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		t.Fatalf("dial %s: %v", query, err)
	}
	ws.SetReadLimit(1 << 20)
	t.Cleanup(func() { ws.CloseNow() })
	return ws
}

type got struct {
	typ    int64
	event  reservation.Event
	notice map[string]any
}

func read(t *testing.T, ws *websocket.Conn) got {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, msg, err := ws.Read(ctx)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	f, err := frame.Decode(msg, 0)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	g := got{typ: f.Type}
	switch f.Type {
	case frame.TypeUpdate:
		if err := json.Unmarshal(f.Payload, &g.event); err != nil {
			t.Fatal(err)
		}
	case frame.TypeNotice:
		json.Unmarshal(f.Payload, &g.notice)
	}
	return g
}

func readEvent(t *testing.T, ws *websocket.Conn) reservation.Event {
	t.Helper()
	for {
		g := read(t, ws)
		if g.typ == frame.TypeUpdate {
			return g.event
		}
	}
}

func ack(t *testing.T, ws *websocket.Conn, id string) {
	t.Helper()
	p, _ := json.Marshal(map[string]string{"status": "ack", "correlation_id": id})
	if err := ws.Write(context.Background(), websocket.MessageBinary, frame.Append(nil, frame.Frame{Type: frame.TypeAck, Payload: p})); err != nil {
		t.Fatal(err)
	}
}

// TestSeedStreamClient uses the seed's own client code: golang.org/x/net
// websocket, an Origin equal to the server, text frames from
// msgpack.Marshal with a length prefix, and an ack for an unknown id.
func TestSeedStreamClient(t *testing.T) {
	t.Parallel()
	b := newStreamServer(t, "", stream.Options{})
	url := "ws" + strings.TrimPrefix(b.srv.URL, "http") + "/api/v2/callbacks/websocket"
	origin := b.srv.URL
	cfg, err := xws.NewConfig(url, origin)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Header = http.Header{}
	cfg.Header.Set("Authorization", "Bearer "+b.token)
	conn, err := xws.DialConfig(cfg)
	if err != nil {
		t.Fatalf("the seed's dial: %v", err)
	}
	defer conn.Close()
	// The seed's WriteBinaryFrame (a TEXT frame, the library's default).
	type BinaryFrame struct {
		Type      int32
		Payload   []byte
		Timestamp int64
	}
	write := func(payload []byte) {
		data, _ := msgpack.Marshal(BinaryFrame{Type: 2, Payload: payload, Timestamp: time.Now().UnixMilli()})
		length := make([]byte, 4)
		binary.BigEndian.PutUint32(length, uint32(len(data)))
		if _, err := conn.Write(append(length, data...)); err != nil {
			t.Fatalf("the seed's write: %v", err)
		}
	}
	recv := func() frame.Frame {
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		var msg []byte
		if err := xws.Message.Receive(conn, &msg); err != nil {
			t.Fatalf("receive: %v", err)
		}
		f, err := frame.Decode(msg, 0)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	if f := recv(); f.Type != frame.TypeNotice {
		t.Fatalf("first frame type %d, want a notice", f.Type)
	}
	// The seed acks an id the server never sent: counted and ignored.
	write([]byte(`{"status":"ack","id":"cb_9f8e7d6c-5a4b3c2d"}`))
	r := b.reserve(t, "support")
	f := recv()
	var ev reservation.Event
	if err := json.Unmarshal(f.Payload, &ev); err != nil || f.Type != frame.TypeUpdate || ev.ReservationID != r.ID || ev.Type != reservation.EventCreated {
		t.Fatalf("event frame %d %s: %v", f.Type, f.Payload, err)
	}
	write([]byte(fmt.Sprintf(`{"status":"ack","correlation_id":%q}`, ev.ID)))
	// Still connected: a second event arrives.
	r2 := b.reserve(t, "support")
	var ev2 reservation.Event
	json.Unmarshal(recv().Payload, &ev2)
	if ev2.ReservationID != r2.ID || ev2.Seq != ev.Seq+1 {
		t.Errorf("second event = %+v", ev2)
	}
	// The metrics saw one open subscription, two frames and two acks
	// (one naming nothing in flight); closing brings the gauge back.
	waitMetric(t, "slotline_stream_subscribers", b.m.StreamSubscribers, 1)
	waitMetric(t, "slotline_stream_frames_total", b.m.StreamDelivered, 2)
	waitMetric(t, `slotline_stream_acks_total{known="false"}`, b.m.StreamAcks.WithLabelValues("false"), 1)
	conn.Close()
	waitMetric(t, "slotline_stream_subscribers after the close", b.m.StreamSubscribers, 0)
	waitMetric(t, `slotline_stream_closed_total{reason="gone"}`, b.m.StreamClosed.WithLabelValues("gone"), 1)
}

// waitMetric waits until a counter or gauge reads want (the server counts
// just after it writes, so a client may see a frame first).
func waitMetric(t *testing.T, name string, c prometheus.Metric, want float64) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for metricValue(c) != want {
		if time.Now().After(deadline) {
			t.Fatalf("%s = %v, want %v", name, metricValue(c), want)
		}
		time.Sleep(5 * time.Millisecond) // poll interval
	}
}

// metricValue reads a counter or gauge.
func metricValue(c prometheus.Metric) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return -1
	}
	if m.Gauge != nil {
		return m.Gauge.GetValue()
	}
	return m.Counter.GetValue()
}

func TestResumeAfterSeq(t *testing.T) {
	t.Parallel()
	b := newStreamServer(t, "", stream.Options{})
	var ids []string
	for range 5 {
		ids = append(ids, b.reserve(t, "support").ID)
	}
	ws := b.dial(t, "?after=2")
	g := read(t, ws)
	if g.typ != frame.TypeNotice || g.notice["notice"] != "subscribed" || g.notice["after"] != float64(2) {
		t.Fatalf("first frame = %+v", g)
	}
	for want := int64(3); want <= 5; want++ {
		ev := readEvent(t, ws)
		if ev.Seq != want || ev.ReservationID != ids[want-1] {
			t.Fatalf("got seq %d (%s), want %d", ev.Seq, ev.ReservationID, want)
		}
		ack(t, ws, ev.ID)
	}
	// Without after or a subscription the stream starts with new events.
	fresh := b.dial(t, "")
	read(t, fresh) // subscribed
	r := b.reserve(t, "support")
	if ev := readEvent(t, fresh); ev.ReservationID != r.ID || ev.Seq != 6 {
		t.Errorf("new-events stream got %d %s", ev.Seq, ev.ReservationID)
	}
}

// TestResumePastHead: a resume point past the log's head (a cursor kept
// from another database) gets a resume_gap notice and starts at the head,
// so the events that take those numbers next are not skipped; a named
// subscription's cursor moves back too.
func TestResumePastHead(t *testing.T) {
	t.Parallel()
	b := newStreamServer(t, "", stream.Options{})
	for range 3 {
		b.reserve(t, "support")
	}
	for _, query := range []string{"?after=100", "?subscription=restored&after=100"} {
		ws := b.dial(t, query)
		g := read(t, ws)
		if g.typ != frame.TypeNotice || g.notice["notice"] != "resume_gap" || g.notice["after"] != float64(3) {
			t.Fatalf("%s: first frame = %+v, want a resume_gap notice starting after 3", query, g)
		}
		if g = read(t, ws); g.notice["notice"] != "subscribed" || g.notice["after"] != float64(3) {
			t.Fatalf("%s: second frame = %+v, want subscribed after 3", query, g)
		}
		ws.CloseNow()
	}
	waitCursor(t, b, "restored", 3)
	ws := b.dial(t, "?subscription=restored")
	if g := read(t, ws); g.notice["notice"] != "subscribed" || g.notice["after"] != float64(3) {
		t.Fatalf("reconnect: first frame = %+v, want subscribed after 3", g)
	}
	r := b.reserve(t, "support")
	if ev := readEvent(t, ws); ev.Seq != 4 || ev.ReservationID != r.ID {
		t.Errorf("got seq %d (%s), want the next event, 4 (%s)", ev.Seq, ev.ReservationID, r.ID)
	}
}

// TestDurableSubscription: a consumer acks some events, drops (killed),
// reconnects by name and gets exactly what it had not acked, in order.
func TestDurableSubscription(t *testing.T) {
	t.Parallel()
	b := newStreamServer(t, "", stream.Options{})
	ws := b.dial(t, "?subscription=crm&after=0")
	read(t, ws)
	for range 4 {
		b.reserve(t, "support")
	}
	var seen []reservation.Event
	for range 4 {
		seen = append(seen, readEvent(t, ws))
	}
	ack(t, ws, seen[0].ID)
	ack(t, ws, seen[2].ID) // out of order: the cursor stays at 1 until 2 is acked
	ack(t, ws, seen[1].ID)
	waitCursor(t, b, "crm", 3) // the server has the three acks
	ws.CloseNow()              // killed, 4 never acked
	waitCursor(t, b, "crm", 3)
	b.reserve(t, "support")
	ws2 := b.dial(t, "?subscription=crm")
	g := read(t, ws2)
	if g.notice["after"] != float64(3) {
		t.Fatalf("resumed after %v, want 3", g.notice["after"])
	}
	for _, want := range []int64{4, 5} {
		if ev := readEvent(t, ws2); ev.Seq != want {
			t.Fatalf("resumed with %d, want %d", ev.Seq, want)
		}
	}
}

// TestCumulativeAck: {"status":"ack","up_to":N} acknowledges every event
// in flight up to N at once, opening the window as much; the cursor moves
// to N and a resume starts after it.
func TestCumulativeAck(t *testing.T) {
	t.Parallel()
	b := newStreamServer(t, "", stream.Options{Window: 3, SlowTimeout: 5 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := streamclient.Dial(ctx, streamclient.Options{URL: b.srv.URL, Subscription: "bulk", After: 0,
		Token: func(context.Context) (string, error) { return b.token, nil }})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for range 5 {
		b.reserve(t, "support")
	}
	next := func() int64 {
		t.Helper()
		for {
			m, err := c.Next(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if m.Event != nil {
				return m.Event.Seq
			}
		}
	}
	for want := int64(1); want <= 3; want++ {
		if seq := next(); seq != want {
			t.Fatalf("got %d, want %d", seq, want)
		}
	}
	// The window (3) is full: 4 and 5 wait for acks, and one cumulative
	// ack lets both through.
	if err := c.AckUpTo(ctx, 3); err != nil {
		t.Fatal(err)
	}
	for want := int64(4); want <= 5; want++ {
		if seq := next(); seq != want {
			t.Fatalf("after the cumulative ack got %d, want %d", seq, want)
		}
	}
	waitCursor(t, b, "bulk", 3)
	c.Close()
	ws2 := b.dial(t, "?subscription=bulk")
	if g := read(t, ws2); g.notice["after"] != float64(3) {
		t.Fatalf("resumed after %v, want 3", g.notice["after"])
	}
	if ev := readEvent(t, ws2); ev.Seq != 4 {
		t.Fatalf("resumed with %d, want 4", ev.Seq)
	}
}

func waitCursor(t *testing.T, b *streamBundle, name string, want int64) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		seq, _, err := b.store.StreamCursor(b.ctx, "website", name)
		if err != nil {
			t.Fatal(err)
		}
		if seq == want {
			return
		}
		time.Sleep(10 * time.Millisecond) // poll interval
	}
	seq, _, _ := b.store.StreamCursor(b.ctx, "website", name)
	t.Fatalf("cursor %s = %d, want %d", name, seq, want)
}

// TestSlowConsumer: a window of 2 that stays full is closed with 4008
// after the timeout; admissions carry on, and the subscription resumes.
func TestSlowConsumer(t *testing.T) {
	t.Parallel()
	b := newStreamServer(t, "", stream.Options{Window: 2, SlowTimeout: 300 * time.Millisecond})
	ws := b.dial(t, "?subscription=slow&after=0")
	read(t, ws)
	fast := b.dial(t, "?after=0")
	read(t, fast)
	start := time.Now()
	for range 5 {
		b.reserve(t, "support")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("admissions waited for the slow consumer (%v)", d)
	}
	// The fast consumer gets all five while the slow one sits full.
	for want := int64(1); want <= 5; want++ {
		ev := readEvent(t, fast)
		if ev.Seq != want {
			t.Fatalf("fast consumer got %d, want %d", ev.Seq, want)
		}
		ack(t, fast, ev.ID)
	}
	readEvent(t, ws)
	readEvent(t, ws)
	var closeErr error
	var notices []string
	for closeErr == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, msg, err := ws.Read(ctx)
		cancel()
		if err != nil {
			closeErr = err
			break
		}
		if f, _ := frame.Decode(msg, 0); f.Type == frame.TypeNotice {
			var n map[string]any
			json.Unmarshal(f.Payload, &n)
			notices = append(notices, fmt.Sprint(n["notice"]))
		}
	}
	if websocket.CloseStatus(closeErr) != stream.CloseSlowConsumer || len(notices) == 0 || notices[len(notices)-1] != "slow_consumer" {
		t.Fatalf("slow consumer closed with %v after notices %v", closeErr, notices)
	}
	ws2 := b.dial(t, "?subscription=slow")
	read(t, ws2)
	if ev := readEvent(t, ws2); ev.Seq != 1 {
		t.Errorf("resumed at %d, want 1 (nothing was acked)", ev.Seq)
	}
}

func TestFiltersAndJSON(t *testing.T) {
	t.Parallel()
	b := newStreamServer(t, "", stream.Options{})
	ws := b.dial(t, "?after=0&queue=sales&type=reservation.canceled,reservation.created")
	read(t, ws)
	b.reserve(t, "support")
	s := b.reserve(t, "sales")
	if _, err := b.book.Cancel(b.ctx, booking.Caller{ClientID: "website"}, s.ID, nil); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{reservation.EventCreated, reservation.EventCanceled} {
		ev := readEvent(t, ws)
		if ev.QueueID != "sales" || ev.Type != want {
			t.Fatalf("filtered stream got %s %s, want sales %s", ev.QueueID, ev.Type, want)
		}
		ack(t, ws, ev.ID)
	}
	// JSON text mode for dashboards.
	js := b.dial(t, "?after=0&format=json")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	typ, msg, err := js.Read(ctx)
	if err != nil || typ != websocket.MessageText || !strings.Contains(string(msg), `"subscribed"`) {
		t.Fatalf("json notice = %v %s %v", typ, msg, err)
	}
	typ, msg, err = js.Read(ctx)
	var ev reservation.Event
	if err != nil || typ != websocket.MessageText || json.Unmarshal(msg, &ev) != nil || ev.Seq != 1 {
		t.Fatalf("json event = %v %s %v", typ, msg, err)
	}
	if err := js.Write(ctx, websocket.MessageText, []byte(`{"status":"ack","id":"`+ev.ID+`"}`)); err != nil {
		t.Fatal(err)
	}
}

func TestStreamRefusals(t *testing.T) {
	t.Parallel()
	b := newStreamServer(t, "", stream.Options{MaxFrame: 1024})
	wsURL := "ws" + strings.TrimPrefix(b.srv.URL, "http") + "/api/v2/callbacks/websocket"
	dial := func(query string, h http.Header, protos ...string) (*http.Response, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		ws, resp, err := websocket.Dial(ctx, wsURL+query, &websocket.DialOptions{HTTPHeader: h, Subprotocols: protos})
		if err == nil {
			ws.CloseNow()
		}
		return resp, err
	}
	auth := http.Header{"Authorization": {"Bearer " + b.token}}
	if resp, err := dial("", nil); err == nil || resp.StatusCode != 401 {
		t.Errorf("no token: %v %v", resp, err)
	}
	if resp, err := dial("", http.Header{"Authorization": {"Bearer " + b.token}, "Origin": {"https://evil.invalid"}}); err == nil || resp.StatusCode != 403 {
		t.Errorf("foreign origin: %v %v", resp, err)
	}
	if _, err := dial("", http.Header{"Authorization": {"Bearer " + b.token}, "Origin": {"https://app.example.com"}}); err != nil {
		t.Errorf("allowed origin pattern refused: %v", err)
	}
	// Browsers: the token as a query parameter or a subprotocol.
	if _, err := dial("?access_token="+b.token, nil); err != nil {
		t.Errorf("access_token query: %v", err)
	}
	if _, err := dial("", nil, "slotline.v1", "bearer."+b.token); err != nil {
		t.Errorf("bearer subprotocol: %v", err)
	}
	if resp, err := dial("?after=-3", auth); err == nil || resp.StatusCode != 400 {
		t.Errorf("bad after: %v %v", resp, err)
	}
	// Bad frames end the connection with a code that names the problem.
	for _, tc := range []struct {
		name string
		msg  []byte
		code websocket.StatusCode
	}{
		{"truncated", []byte{0, 0, 0}, websocket.StatusInvalidFramePayloadData},
		{"prefix disagrees", append([]byte{0, 0, 0, 9}, 0x80), websocket.StatusInvalidFramePayloadData},
		{"over the limit", append([]byte{0, 1, 0, 0}, make([]byte, 65536)...), websocket.StatusMessageTooBig},
		{"not msgpack", append([]byte{0, 0, 0, 1}, 0xc1), websocket.StatusInvalidFramePayloadData},
		{"wrong type", frame.Append(nil, frame.Frame{Type: frame.TypeUpdate, Payload: []byte("{}")}), websocket.StatusPolicyViolation},
	} {
		ws := b.dial(t, "")
		read(t, ws)
		ws.Write(context.Background(), websocket.MessageBinary, tc.msg)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, _, err := ws.Read(ctx)
		cancel()
		if got := websocket.CloseStatus(err); got != tc.code {
			t.Errorf("%s: closed with %v (%v), want %v", tc.name, got, err, tc.code)
		}
	}
}

// TestStreamShutdown: the server's shutdown sends a notice and closes 1001.
func TestStreamShutdown(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	store, err := storage.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "x.db"), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	authSvc := auth.NewService(store, []*auth.Client{auth.NewClient("website", "website-secret-0123456789", []string{"callback:read"}, 0, 0)}, time.Hour)
	hub := stream.NewHub(store, nil, 0)
	go hub.Run(ctx)
	srv := httptest.NewUnstartedServer(httpapi.NewServer(httpapi.Deps{Booking: booking.New(store, nil, booking.Options{}), Auth: authSvc, Store: store,
		Stream: stream.NewServer(hub, store, nil)}))
	srv.Config.BaseContext = func(net.Listener) context.Context { return ctx }
	srv.Start()
	defer srv.Close()
	c, _ := authSvc.Authenticate("website", "website-secret-0123456789")
	tok, _, _ := authSvc.Issue(ctx, c, nil)
	b := &streamBundle{srv: srv, token: tok, ctx: context.Background()}
	ws := b.dial(t, "")
	read(t, ws)
	cancel()
	g := read(t, ws)
	if g.typ != frame.TypeNotice || g.notice["notice"] != "shutdown" {
		t.Fatalf("at shutdown got %+v", g)
	}
	rctx, rcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer rcancel()
	if _, _, err := ws.Read(rctx); websocket.CloseStatus(err) != websocket.StatusGoingAway {
		t.Errorf("closed with %v, want 1001", err)
	}
}

// TestStreamAcrossProcessesOnPostgres: two servers on one PostgreSQL, each
// with its own hub. A write held open in one commits after later writes of
// the other; a subscriber of each sees every event once, in order.
func TestStreamAcrossProcessesOnPostgres(t *testing.T) {
	t.Parallel()
	dsn := storagetest.PostgresDSN(t)
	a := newStreamServer(t, dsn, stream.Options{})
	b := newStreamServer(t, dsn, stream.Options{})
	subA, subB := a.dial(t, "?after=0"), b.dial(t, "?after=0")
	read(t, subA)
	read(t, subB)
	// Hold a write open in a's store: its event hook waits on release.
	hold, release := make(chan struct{}), make(chan struct{})
	a.store.OnEvents(func(_ context.Context, _ *storage.Tx, evs []reservation.Event) error {
		if evs[0].Reservation != nil && evs[0].Reservation.Reason == "hold" {
			close(hold)
			<-release
		}
		return nil
	})
	var wg sync.WaitGroup
	wg.Go(func() {
		r := &reservation.Reservation{ClientID: "website", QueueID: "support", TimeZone: "UTC", CallbackNumber: "+14155550199",
			Status: reservation.StatusScheduled, Reason: "hold"}
		start := time.Now().Add(10 * time.Hour).Truncate(15 * time.Minute)
		w := reservation.Write{Actor: "website", Origin: "api"}
		if _, err := a.store.CreateReservation(a.ctx, r, []reservation.Candidate{{Slot: reservation.Slot{Start: start, End: start.Add(15 * time.Minute)}, Bucket: start, Cap: 50}}, w); err != nil {
			t.Errorf("held write: %v", err)
		}
	})
	<-hold
	for range 3 {
		b.reserve(t, "support")
	}
	close(release)
	wg.Wait()
	for name, ws := range map[string]*websocket.Conn{"a": subA, "b": subB} {
		for want := int64(1); want <= 4; want++ {
			ev := readEvent(t, ws)
			if ev.Seq != want {
				t.Fatalf("subscriber on %s got %d, want %d", name, ev.Seq, want)
			}
			ack(t, ws, ev.ID)
		}
	}
}

// TestWatchResumes: the client package reconnects after the server drops
// the connection and, with a subscription, misses nothing.
func TestWatchResumes(t *testing.T) {
	t.Parallel()
	b := newStreamServer(t, "", stream.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	var seqs []int64
	got := make(chan struct{}, 16) // a tick per event seen
	done := make(chan error, 1)
	go func() {
		done <- streamclient.Watch(ctx, streamclient.Options{URL: b.srv.URL, Subscription: "w", After: 0,
			Token: func(context.Context) (string, error) { return b.token, nil }},
			func(ev *reservation.Event) error {
				mu.Lock()
				seqs = append(seqs, ev.Seq)
				mu.Unlock()
				select {
				case got <- struct{}{}:
				default:
				}
				return nil
			}, nil)
	}()
	for range 3 {
		b.reserve(t, "support")
	}
	// waitLen waits, woken by each event, until the watch has seen n.
	waitLen := func(n int) {
		timeout := time.After(20 * time.Second)
		for {
			mu.Lock()
			l := len(seqs)
			mu.Unlock()
			if l >= n {
				return
			}
			select {
			case <-got:
			case <-timeout:
				mu.Lock()
				defer mu.Unlock()
				t.Fatalf("watch saw %v, want %d events", seqs, n)
			}
		}
	}
	waitLen(3)
	b.srv.CloseClientConnections() // drop every socket
	for range 2 {
		b.reserve(t, "support")
	}
	waitLen(5)
	cancel()
	<-done
	mu.Lock()
	defer mu.Unlock()
	for i, s := range seqs {
		if s != int64(i+1) {
			t.Fatalf("watch saw %v: want 1..5 once each, in order", seqs)
		}
	}
}

// TestDurableSubscriptionSurvivesRestart: the cursor lives in the
// database, so a new server on the same file resumes where the consumer
// stopped.
func TestDurableSubscriptionSurvivesRestart(t *testing.T) {
	t.Parallel()
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "r.db")
	first := newStreamServer(t, dsn, stream.Options{})
	ws := first.dial(t, "?subscription=ops&after=0")
	read(t, ws)
	for range 3 {
		first.reserve(t, "support")
	}
	for range 2 {
		ack(t, ws, readEvent(t, ws).ID)
	}
	readEvent(t, ws) // the third is never acked
	waitCursor(t, first, "ops", 2)
	ws.CloseNow()
	first.srv.CloseClientConnections()
	first.srv.Close()
	first.store.Close()
	second := newStreamServer(t, dsn, stream.Options{})
	second.n = 10
	second.reserve(t, "support")
	ws2 := second.dial(t, "?subscription=ops")
	if g := read(t, ws2); g.notice["after"] != float64(2) {
		t.Fatalf("after the restart the subscription resumed after %v, want 2", g.notice["after"])
	}
	for _, want := range []int64{3, 4} {
		if ev := readEvent(t, ws2); ev.Seq != want {
			t.Fatalf("after the restart got %d, want %d", ev.Seq, want)
		}
	}
}
