// SPDX-License-Identifier: Apache-2.0

// Package streamclient is a small client of Slotline's event stream: it
// dials GET /api/v2/callbacks/websocket, decodes the frames, acknowledges
// events, and (Watch) reconnects and resumes after a drop, through a named
// subscription or after the last sequence number it saw.
package streamclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/coder/websocket"

	"github.com/slotline/slotline/internal/frame"
	"github.com/slotline/slotline/internal/reservation"
)

// Options say what to subscribe to.
type Options struct {
	// URL is Slotline's base URL (http:// or https://).
	URL string
	// Token returns a bearer token; it is called at every (re)connect.
	Token func(ctx context.Context) (string, error)
	// Subscription names a durable cursor kept by the server ("" for none).
	Subscription string
	// After starts after this sequence number; -1 (or 0 with no
	// Subscription… see below) means "new events only". With a
	// Subscription and After < 0 the server resumes at the cursor.
	After int64
	// Queues and Types filter the events.
	Queues, Types []string
	// Window asks for a smaller window than the server's (0: the server's).
	Window int
	// HTTPClient dials (default http.DefaultClient).
	HTTPClient *http.Client
}

// Message is one frame from the server.
type Message struct {
	Type int64
	// Event is set for Type 1 (a reservation event).
	Event *reservation.Event
	// Notice is set for Type 3 (a server notice): "subscribed",
	// "slow_consumer", "shutdown", "taken_over", "resume_gap", "bad_ack".
	Notice *Notice
}

// Notice is a server notice (the stream's wire type).
type Notice = frame.Notice

// Conn is one stream connection.
type Conn struct {
	ws  *websocket.Conn
	buf []byte
}

// Dial connects once.
func Dial(ctx context.Context, o Options) (*Conn, error) {
	u, err := url.Parse(strings.TrimRight(o.URL, "/") + "/api/v2/callbacks/websocket")
	if err != nil {
		return nil, err
	}
	switch u.Scheme {
	case "http":
		u.Scheme = "ws"
	case "https":
		u.Scheme = "wss"
	}
	q := u.Query()
	if o.Subscription != "" {
		q.Set("subscription", o.Subscription)
	}
	if o.After >= 0 {
		q.Set("after", strconv.FormatInt(o.After, 10))
	}
	for _, v := range o.Queues {
		q.Add("queue", v)
	}
	for _, v := range o.Types {
		q.Add("type", v)
	}
	if o.Window > 0 {
		q.Set("window", strconv.Itoa(o.Window))
	}
	u.RawQuery = q.Encode()
	h := http.Header{}
	if o.Token != nil {
		tok, err := o.Token(ctx)
		if err != nil {
			return nil, fmt.Errorf("stream token: %w", err)
		}
		h.Set("Authorization", "Bearer "+tok)
	}
	ws, resp, err := websocket.Dial(ctx, u.String(), &websocket.DialOptions{HTTPHeader: h, HTTPClient: o.HTTPClient})
	if err != nil {
		if resp != nil {
			err = fmt.Errorf("stream: %s: %w", resp.Status, err)
			switch resp.StatusCode {
			case http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound:
				// Trying again would get the same answer.
				err = Permanent(err)
			}
		}
		return nil, err
	}
	ws.SetReadLimit(16 << 20)
	return &Conn{ws: ws}, nil
}

// Next reads the next message.
func (c *Conn) Next(ctx context.Context) (*Message, error) {
	_, msg, err := c.ws.Read(ctx)
	if err != nil {
		return nil, err
	}
	f, err := frame.Decode(msg, 0)
	if err != nil {
		return nil, err
	}
	m := &Message{Type: f.Type}
	switch f.Type {
	case frame.TypeUpdate:
		m.Event = new(reservation.Event)
		if err := json.Unmarshal(f.Payload, m.Event); err != nil {
			return nil, fmt.Errorf("stream: event: %w", err)
		}
	case frame.TypeNotice:
		m.Notice = new(Notice)
		if err := json.Unmarshal(f.Payload, m.Notice); err != nil {
			return nil, fmt.Errorf("stream: notice: %w", err)
		}
	}
	return m, nil
}

// Ack acknowledges an event by its id (the seed's ack).
func (c *Conn) Ack(ctx context.Context, eventID string) error {
	payload, _ := json.Marshal(map[string]string{"status": "ack", "correlation_id": eventID})
	c.buf = frame.Append(c.buf[:0], frame.Frame{Type: frame.TypeAck, Payload: payload, Timestamp: time.Now().UnixMilli()})
	return c.ws.Write(ctx, websocket.MessageBinary, c.buf)
}

// AckUpTo acknowledges every event up to and including seq at once (a
// cumulative ack: one message for many events, which a busy consumer
// prefers). Like Ack, it must not run concurrently with another ack.
func (c *Conn) AckUpTo(ctx context.Context, seq int64) error {
	payload := strconv.AppendInt([]byte(`{"status":"ack","up_to":`), seq, 10)
	payload = append(payload, '}')
	c.buf = frame.Append(c.buf[:0], frame.Frame{Type: frame.TypeAck, Payload: payload, Timestamp: time.Now().UnixMilli()})
	return c.ws.Write(ctx, websocket.MessageBinary, c.buf)
}

// Close closes the connection normally.
func (c *Conn) Close() error { return c.ws.Close(websocket.StatusNormalClosure, "bye") }

// CloseStatus returns the close code of an error from Next (-1 if none).
func CloseStatus(err error) websocket.StatusCode { return websocket.CloseStatus(err) }

// Watch follows the stream until ctx is done: it hands every event to
// handle, acknowledges it when handle returns nil, and after any drop
// reconnects with backoff and resumes — at the named subscription's cursor,
// or after the last event it handled. An error from handle stops Watch
// (the event stays unacknowledged, so a durable subscription gets it again),
// and so does a Permanent one (the server refused the subscription, or the
// token cannot be had), which it returns.
func Watch(ctx context.Context, o Options, handle func(*reservation.Event) error, onNotice func(*Notice)) error {
	wait := 200 * time.Millisecond
	for ctx.Err() == nil {
		c, err := Dial(ctx, o)
		var perm *permanentError
		if errors.As(err, &perm) {
			return err
		}
		if err == nil {
			wait = 200 * time.Millisecond
			err = follow(ctx, c, &o, handle, onNotice)
			c.ws.CloseNow()
			var herr *handlerError
			if errors.As(err, &herr) {
				return herr.err
			}
		}
		if ctx.Err() != nil {
			break
		}
		if onNotice != nil {
			onNotice(&Notice{Notice: "reconnecting", Detail: err.Error()})
		}
		select {
		case <-ctx.Done():
		case <-time.After(wait/2 + time.Duration(rand.Int64N(int64(wait)))):
		}
		wait = min(wait*2, 30*time.Second)
	}
	return nil
}

// Permanent marks an error that Watch does not retry: the server refused
// the subscription (a bad token or filter, a missing scope), or the token
// cannot be had (wrong client credentials).
func Permanent(err error) error { return &permanentError{err} }

type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

type handlerError struct{ err error }

func (e *handlerError) Error() string { return e.err.Error() }

func follow(ctx context.Context, c *Conn, o *Options, handle func(*reservation.Event) error, onNotice func(*Notice)) error {
	for {
		m, err := c.Next(ctx)
		if err != nil {
			return err
		}
		switch {
		case m.Event != nil:
			if err := handle(m.Event); err != nil {
				return &handlerError{err}
			}
			if err := c.Ack(ctx, m.Event.ID); err != nil {
				return err
			}
			if o.Subscription == "" {
				o.After = m.Event.Seq // resume after it
			}
		case m.Notice != nil && onNotice != nil:
			onNotice(m.Notice)
		}
	}
}
