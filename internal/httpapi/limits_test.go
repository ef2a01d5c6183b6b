package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/slotline/slotline/internal/frame"
	"github.com/slotline/slotline/internal/httpapi"
	"github.com/slotline/slotline/internal/reservation"
)

// connStates counts a server's connections by what became of them.
type connStates struct {
	opened, closed, hijacked atomic.Int64
}

func (c *connStates) hook(_ net.Conn, s http.ConnState) {
	switch s {
	case http.StateNew:
		c.opened.Add(1)
	case http.StateClosed:
		c.closed.Add(1)
	case http.StateHijacked:
		c.hijacked.Add(1)
	}
}

// open is how many connections the server holds as HTTP connections.
func (c *connStates) open() int64 { return c.opened.Load() - c.closed.Load() - c.hijacked.Load() }

// waitUntil polls cond until it holds, failing t after timeout.
func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond) // poll interval
	}
}

// TestWriteDeadlineClosesPipeliningClients: clients that pipeline GETs
// without a token (the 401 of a protected route, and the public OpenAPI
// document) and never read the answers fill their connection until the
// server's writes block. The response's write deadline then fails the
// write and the server closes the connection, so none is held (nor left
// half-closed) past it.
func TestWriteDeadlineClosesPipeliningClients(t *testing.T) {
	t.Parallel()
	const (
		clients      = 64
		writeTimeout = 300 * time.Millisecond
	)
	var states connStates
	b := newStreamServerWith(t, "", func(d *httpapi.Deps) { d.WriteTimeout = writeTimeout },
		func(s *httptest.Server) { s.Config.ConnState = states.hook })
	addr := b.srv.Listener.Addr().String()
	pipeline := bytes.Repeat([]byte("GET /api/v2/callbacks HTTP/1.1\r\nHost: slotline\r\n\r\n"+
		"GET /api/v2/openapi.json HTTP/1.1\r\nHost: slotline\r\n\r\n"), 16)

	// Each client writes requests until its connection fails, within a
	// bound of its own so that it stops even if the server never closes.
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait) // after the connections close (cleanups run last first)
	ended := make(chan error, clients)
	for range clients {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		_ = c.(*net.TCPConn).SetReadBuffer(4096) // never read: the window closes sooner
		_ = c.SetWriteDeadline(time.Now().Add(30 * time.Second))
		wg.Go(func() {
			for {
				if _, err := c.Write(pipeline); err != nil {
					ended <- err
					return
				}
			}
		})
	}
	waitUntil(t, 10*time.Second, "the server did not accept every client", func() bool { return states.opened.Load() == clients })

	// Every connection is closed by the server; with no write deadline
	// each would stay blocked in a write for as long as its client lives.
	waitUntil(t, 10*time.Second, "the server still holds connections of clients that never read", func() bool {
		return states.open() == 0
	})
	if n := states.closed.Load(); n != clients {
		t.Errorf("server closed %d connections, want %d", n, clients)
	}
	// And the clients see it: their writes fail (reset or broken pipe),
	// not on their own deadline.
	for range clients {
		select {
		case err := <-ended:
			if errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("a client's write ran into its own deadline, not the server's close: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a client's writes still succeed after the server closed its connection")
		}
	}
}

// dialStream opens the stream with token, returning the handshake's
// response when it is refused.
func (b *streamBundle) dialStream(t *testing.T, token, query string) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	ws, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(b.srv.URL, "http")+"/api/v2/callbacks/websocket"+query,
		&websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + token}}})
	if err == nil {
		t.Cleanup(func() { ws.CloseNow() })
		if g := read(t, ws); g.typ != frame.TypeNotice || g.notice["notice"] != "subscribed" {
			t.Fatalf("first frame = %+v, want the subscribed notice", g)
		}
	}
	return ws, resp, err
}

// wantRefused opens the stream with token and checks that it is refused
// as over the client's cap.
func (b *streamBundle) wantRefused(t *testing.T, token, query string) {
	t.Helper()
	ws, resp, err := b.dialStream(t, token, query)
	wantTooManyStreams(t, ws, resp, err)
}

// wantTooManyStreams checks a refused upgrade: 429, a problem naming the
// cap.
func wantTooManyStreams(t *testing.T, ws *websocket.Conn, resp *http.Response, err error) {
	t.Helper()
	if err == nil {
		ws.CloseNow()
		t.Fatal("the stream was opened past the client's cap")
	}
	if resp == nil || resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("refused with %v (response %v), want 429", err, resp)
	}
	var p struct{ Code, Detail string }
	if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" || p.Code != "too_many_streams" ||
		!strings.Contains(p.Detail, "stream.max_subscriptions_per_client") {
		t.Errorf("refusal: %s %+v", ct, p)
	}
}

// TestStreamSubscriptionsPerClient: one client may hold StreamsPerClient
// subscriptions; the next is refused with 429 too_many_streams while
// another client still subscribes, and once one closes the client may
// open one again. A request naming a durable subscription the client holds
// takes it over even at the cap.
func TestStreamSubscriptionsPerClient(t *testing.T) {
	t.Parallel()
	const perClient = 3
	b := newStreamServerWith(t, "", func(d *httpapi.Deps) { d.StreamsPerClient = perClient }, nil)
	c, ok := b.auth.Authenticate("crm", "crm-secret-0123456789abc")
	if !ok {
		t.Fatal("no crm client")
	}
	crm, _, err := b.auth.Issue(b.ctx, c, nil)
	if err != nil {
		t.Fatal(err)
	}

	var held []*websocket.Conn
	for i := range perClient {
		query := ""
		if i == 0 {
			query = "?subscription=crm-sync"
		}
		ws, _, err := b.dialStream(t, b.token, query)
		if err != nil {
			t.Fatalf("subscription %d of %d: %v", i+1, perClient, err)
		}
		held = append(held, ws)
	}
	b.wantRefused(t, b.token, "")
	b.wantRefused(t, b.token, "?subscription=another")

	// Another client is not affected.
	if _, _, err := b.dialStream(t, crm, ""); err != nil {
		t.Fatalf("another client's subscription: %v", err)
	}

	// At the cap, a reconnect of the held durable subscription takes it
	// over: the older connection (which goes on reading, as a consumer
	// does, so that it answers the close) is closed with 4009.
	closed := make(chan error, 1)
	go func() {
		rctx, rcancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer rcancel()
		for {
			if _, _, err := held[0].Read(rctx); err != nil {
				closed <- err
				return
			}
		}
	}()
	if _, _, err := b.dialStream(t, b.token, "?subscription=crm-sync"); err != nil {
		t.Fatalf("takeover at the cap: %v", err)
	}
	if err := <-closed; websocket.CloseStatus(err) != 4009 {
		t.Fatalf("the taken-over connection ended with %v, want close status 4009", err)
	}
	b.wantRefused(t, b.token, "")

	// Closing one gives its place back (once the server has seen it go).
	if err := held[1].Close(websocket.StatusNormalClosure, "done"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, "the client still cannot subscribe after closing a subscription", func() bool {
		ws, resp, err := b.dialStream(t, b.token, "")
		if err != nil {
			wantTooManyStreams(t, ws, resp, err)
		}
		return err == nil
	})
	b.wantRefused(t, b.token, "")
}

// TestStreamOutlivesWriteDeadline: a subscription goes on answering pings
// and receiving events for many times the per-response write deadline;
// the connection is the stream's after the upgrade.
func TestStreamOutlivesWriteDeadline(t *testing.T) {
	t.Parallel()
	const writeTimeout = 100 * time.Millisecond
	b := newStreamServerWith(t, "", func(d *httpapi.Deps) { d.WriteTimeout = writeTimeout }, nil)
	ws, _, err := b.dialStream(t, b.token, "")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	// The client reads all along, as a consumer does (its pings need it).
	events := make(chan reservation.Event, 2)
	readErr := make(chan error, 1)
	go func() {
		for {
			_, msg, err := ws.Read(context.Background())
			if err != nil {
				readErr <- err
				return
			}
			if f, err := frame.Decode(msg, 0); err == nil && f.Type == frame.TypeUpdate {
				var ev reservation.Event
				_ = json.Unmarshal(f.Payload, &ev)
				events <- ev
			}
		}
	}()
	next := func(want string) {
		t.Helper()
		select {
		case ev := <-events:
			if ev.ReservationID != want {
				t.Fatalf("event of %s, want %s", ev.ReservationID, want)
			}
			ack(t, ws, ev.ID)
		case err := <-readErr:
			t.Fatalf("the stream ended after %s: %v", time.Since(start).Round(time.Millisecond), err)
		case <-time.After(5 * time.Second):
			t.Fatal("no event")
		}
	}
	next(b.reserve(t, "support").ID)
	// Every ping is answered by a write of the server: past the response's
	// deadline, it would fail and close the connection.
	pings := 0
	for time.Since(start) < 5*writeTimeout {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := ws.Ping(ctx)
		cancel()
		if err != nil {
			t.Fatalf("ping %d, %s after the upgrade: %v", pings+1, time.Since(start).Round(time.Millisecond), err)
		}
		pings++
	}
	next(b.reserve(t, "support").ID)
	t.Logf("%d pings and 2 events over %s with a write deadline of %s", pings, time.Since(start).Round(time.Millisecond), writeTimeout)
}
