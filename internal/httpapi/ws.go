package httpapi

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/coder/websocket"

	"github.com/slotline/slotline/internal/auth"
	"github.com/slotline/slotline/internal/reservation"
	"github.com/slotline/slotline/internal/stream"
)

// Subprotocols of the stream. A browser, which cannot set headers on a
// WebSocket, offers "slotline.v1" and "bearer.<token>"; the server selects
// "slotline.v1".
const (
	subprotocol      = "slotline.v1"
	bearerSubprotPfx = "bearer."
)

// streamToken finds the stream's token: the Authorization header, the
// access_token query parameter, or a "bearer.<token>" subprotocol.
func streamToken(r *http.Request) (string, bool) {
	if t, ok := bearer(r); ok {
		return t, true
	}
	if t := r.URL.Query().Get("access_token"); t != "" {
		return t, true
	}
	for _, h := range r.Header.Values("Sec-WebSocket-Protocol") {
		for _, p := range strings.Split(h, ",") {
			if p = strings.TrimSpace(p); strings.HasPrefix(p, bearerSubprotPfx) {
				return strings.TrimPrefix(p, bearerSubprotPfx), true
			}
		}
	}
	return "", false
}

// originAllowed accepts no Origin (not a browser), the request's own host,
// the public URL's host, and the configured patterns (path.Match on the
// origin's host, or on the whole origin when the pattern has a scheme).
func (s *Server) originAllowed(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	if pu, err := url.Parse(s.PublicURL); err == nil && pu.Host != "" && strings.EqualFold(pu.Host, u.Host) {
		return true
	}
	for _, p := range s.AllowedOrigins {
		target := u.Host
		if strings.Contains(p, "://") {
			target = u.Scheme + "://" + u.Host
		}
		if ok, _ := path.Match(strings.ToLower(p), strings.ToLower(target)); ok {
			return true
		}
	}
	return false
}

// splitList reads a repeatable, comma-separated query parameter.
func splitList(q url.Values, name string) map[string]bool {
	var out map[string]bool
	for _, v := range q[name] {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				if out == nil {
					out = map[string]bool{}
				}
				out[p] = true
			}
		}
	}
	return out
}

var subscriptionName = requestIDPattern // letters, digits, . _ : -, 1 to 64

// handleStream upgrades to the event stream.
func (s *Server) handleStream(w http.ResponseWriter, r *http.Request) {
	if s.Stream == nil {
		s.problem(w, r, reservation.Errorf(reservation.EUNAVAILABLE, "the event stream is not running"))
		return
	}
	if !s.originAllowed(r) {
		s.problem(w, r, reservation.Errorf(reservation.EFORBIDDEN, "origin %q may not open the stream; add it to stream.allowed_origins", r.Header.Get("Origin")))
		return
	}
	q, err := query(r)
	if err != nil {
		s.problem(w, r, err)
		return
	}
	o := s.StreamOptions
	o.ClientID = info(r).principal.ClientID
	o.AllClients = info(r).principal.Has(auth.ScopeCallbackAdmin)
	o.After = -1
	if v := q.Get("after"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			s.problem(w, r, reservation.FieldError("after", "must be a sequence number (0 or more)"))
			return
		}
		o.After = n
	}
	if v := q.Get("subscription"); v != "" {
		if !subscriptionName.MatchString(v) {
			s.problem(w, r, reservation.FieldError("subscription", "must be 1 to 64 letters, digits or . _ : -"))
			return
		}
		o.Subscription = v
	}
	switch f := q.Get("format"); f {
	case "", "msgpack":
	case "json":
		o.JSON = true
	default:
		s.problem(w, r, reservation.FieldError("format", "must be msgpack (the default) or json"))
		return
	}
	if v := q.Get("window"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || (o.Window > 0 && n > o.Window) {
			s.problem(w, r, reservation.FieldError("window", "must be from 1 to the server's window ("+strconv.Itoa(o.Window)+")"))
			return
		}
		o.Window = n
	}
	o.Queues = splitList(q, "queue")
	o.Types = splitList(q, "type")
	release, held, ok := s.Stream.Admit(o.ClientID, o.Subscription, s.StreamsPerClient)
	if !ok {
		s.problem(w, r, reservation.Errorf(reservation.ETOOMANYSTREAMS,
			"client %s already holds %d stream subscriptions, the most one client may (stream.max_subscriptions_per_client); close one first", o.ClientID, held))
		return
	}
	defer release()
	cw := &stream.CorkWriter{ResponseWriter: w}
	ws, err := websocket.Accept(cw, r, &websocket.AcceptOptions{
		Subprotocols:       []string{subprotocol},
		InsecureSkipVerify: true, // the origin was checked above
	})
	if err != nil {
		return // Accept answered the request
	}
	// The connection is the stream's now: it bounds each write itself
	// (stream.Options), so the response's deadlines, which net/http may or
	// may not have cleared when the library hijacked it, must not cut it.
	if cw.Cork != nil {
		_ = cw.Cork.SetDeadline(time.Time{})
	}
	o.Cork = cw.Cork
	if err := s.Stream.Serve(r.Context(), ws, o); err != nil {
		s.Logger.Log(r.Context(), streamEndLevel(err), "stream ended", "request_id", info(r).id, "err", err)
	}
}

// streamEndLevel is the level at which a stream's end is logged: a
// client closing or going away (a close frame, a dropped connection) and
// the server's shutdown are the normal ends of a stream (Debug); anything
// else, such as a database error, is a Warn.
func streamEndLevel(err error) slog.Level {
	switch websocket.CloseStatus(err) {
	case websocket.StatusNormalClosure, websocket.StatusGoingAway, websocket.StatusNoStatusRcvd:
		return slog.LevelDebug
	}
	for _, normal := range []error{context.Canceled, io.EOF, io.ErrUnexpectedEOF, net.ErrClosed, syscall.ECONNRESET, syscall.EPIPE} {
		if errors.Is(err, normal) {
			return slog.LevelDebug
		}
	}
	return slog.LevelWarn
}
