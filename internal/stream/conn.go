package stream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/slotline/slotline/internal/frame"
)

// Close codes the stream uses besides the standard ones (1001 going away
// at shutdown, 1007 a frame that is not valid msgpack, 1008 a message of
// the wrong kind, 1009 a frame over the size limit).
const (
	// CloseSlowConsumer: the window stayed full past the timeout.
	CloseSlowConsumer websocket.StatusCode = 4008
	// CloseTakenOver: a newer connection took over the named subscription.
	CloseTakenOver websocket.StatusCode = 4009
)

// Notices (Type 3 frames) the server sends.
const (
	NoticeSubscribed   = "subscribed"    // first frame: where the stream starts
	NoticeResumeGap    = "resume_gap"    // the resume point is past the log's head: starting at the head
	NoticeSlowConsumer = "slow_consumer" // sent just before closing with 4008
	NoticeShutdown     = "shutdown"      // sent just before closing with 1001
	NoticeTakenOver    = "taken_over"    // sent just before closing with 4009
	NoticeBadAck       = "bad_ack"       // an ack could not be understood (the connection stays)
)

// Options describe one subscription.
type Options struct {
	// ClientID is the subscriber: it receives the events of its own
	// reservations and webhook endpoints only, unless AllClients.
	ClientID string
	// AllClients sends every client's events (the callback:admin scope).
	AllClients bool
	// Subscription, when set, names a durable cursor (per client) that
	// acknowledgments advance; the stream resumes after it.
	Subscription string
	// After, when ≥ 0, starts after that sequence number (overriding a
	// durable cursor); -1 starts with new events (or at the cursor).
	After int64
	// JSON sends one JSON event per text message instead of frames.
	JSON bool
	// Queues and Types filter the events sent (empty: all).
	Queues, Types map[string]bool
	// Window is the most frames in flight without an ack (default 100).
	Window int
	// SlowTimeout closes a connection whose window stays full this long
	// (default 30 s).
	SlowTimeout time.Duration
	// MaxFrame bounds an incoming message (default 64 KiB).
	MaxFrame int
	// PingEvery sends WebSocket pings (default 30 s); IdleTimeout closes a
	// connection that answers nothing for that long (default 90 s).
	PingEvery, IdleTimeout time.Duration
	// Cork, when set, is the connection under ws (see CorkWriter): each
	// batch of frames then goes out in one write.
	Cork *Cork
}

func (o *Options) defaults() {
	if o.Window <= 0 {
		o.Window = 100
	}
	if o.SlowTimeout <= 0 {
		o.SlowTimeout = 30 * time.Second
	}
	if o.MaxFrame <= 0 {
		o.MaxFrame = 64 << 10
	}
	if o.PingEvery <= 0 {
		o.PingEvery = 30 * time.Second
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 90 * time.Second
	}
}

// Stats counts what connections did, for metrics.
type Stats interface {
	// Opened and Closed bracket each subscription that got its
	// "subscribed" notice (Closed carries the reason).
	Opened()
	Delivered(n int, lag time.Duration)
	Acked(unknown bool)
	Closed(reason string)
}

type nopStats struct{}

func (nopStats) Opened()                      {}
func (nopStats) Delivered(int, time.Duration) {}
func (nopStats) Acked(bool)                   {}
func (nopStats) Closed(string)                {}

// Cursors keeps durable subscriptions' cursors.
type Cursors interface {
	LastEventSeq(ctx context.Context) (int64, error)
	StreamCursor(ctx context.Context, clientID, name string) (int64, bool, error)
	SaveStreamCursor(ctx context.Context, clientID, name string, seq int64, reset bool) error
}

// Server serves subscriptions from a Hub.
type Server struct {
	hub   *Hub
	store Cursors
	stats Stats

	mu        sync.Mutex
	named     map[string]*session // client/name → live session
	perClient map[string]int      // client → subscriptions admitted and not yet released
}

// NewServer returns a Server over the hub.
func NewServer(hub *Hub, store Cursors, stats Stats) *Server {
	if stats == nil {
		stats = nopStats{}
	}
	return &Server{hub: hub, store: store, stats: stats, named: map[string]*session{}, perClient: map[string]int{}}
}

// Admit takes one of clientID's places among at most limit concurrent
// subscriptions in this process (limit ≤ 0: no cap), before the upgrade.
// A request naming a durable subscription the client has open now is
// admitted even at the cap: it takes that subscription over (see Serve),
// which is how a consumer recovers from a connection that died without the
// server noticing, and the older connection's place comes back as soon as
// it has gone. When the client is at its cap, Admit returns ok false and
// how many subscriptions it holds; otherwise it returns how many it holds
// with this one, and release, which gives the place back and must be
// called when the subscription ends or the upgrade fails (calling it again
// does nothing).
func (s *Server) Admit(clientID, subscription string, limit int) (release func(), held int, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	held = s.perClient[clientID]
	if limit > 0 && held >= limit {
		if _, live := s.named[clientID+"\x00"+subscription]; subscription == "" || !live {
			return nil, held, false
		}
	}
	s.perClient[clientID] = held + 1
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			if n := s.perClient[clientID] - 1; n > 0 {
				s.perClient[clientID] = n
			} else {
				delete(s.perClient, clientID)
			}
		})
	}, held + 1, true
}

type session struct {
	cancel context.CancelCauseFunc
	done   chan struct{}
}

var errTakenOver = errors.New("taken over by a newer connection")

// notice is the JSON of a Type 3 frame.
type notice = frame.Notice

// ack is what a Type 2 payload may hold: the seed's correlation_id or id
// (an event id), or a seq; up_to acknowledges every event up to that seq.
type ack struct {
	Status        string          `json:"status"`
	CorrelationID string          `json:"correlation_id"`
	ID            string          `json:"id"`
	Seq           json.RawMessage `json:"seq"`
	UpTo          json.RawMessage `json:"up_to"`
}

// queuedAck is an ack as it waits for the send loop: what it names, in a
// third of ack's size.
type queuedAck struct {
	id   string // correlation_id, or id
	seq  int64  // -1: none
	upTo int64  // -1: none
}

// queued returns what a names.
func (a *ack) queued() queuedAck {
	q := queuedAck{id: a.CorrelationID, seq: -1, upTo: -1}
	if q.id == "" {
		q.id = a.ID
	}
	if len(a.Seq) > 0 {
		_ = json.Unmarshal(a.Seq, &q.seq)
	}
	if len(a.UpTo) > 0 {
		_ = json.Unmarshal(a.UpTo, &q.upTo)
	}
	return q
}

// conn is one connection being served.
type conn struct {
	s   *Server
	ws  *websocket.Conn
	o   Options
	wmu sync.Mutex
	buf []byte

	// Acks pass from the read loop to the send loop through a queue that
	// wakes the send loop once for all the acks that arrived meanwhile.
	ackMu   sync.Mutex
	ackQ    []queuedAck
	ackSig  chan struct{} // an ack is queued
	ackRoom chan struct{} // the send loop took the queue
}

// maxQueuedAcks bounds the acks waiting for the send loop; the read loop
// waits when it is reached (a client cannot grow the queue without bound).
func (c *conn) maxQueuedAcks() int { return 2*c.o.Window + 64 }

// pushAck queues an ack for the send loop, waiting while the queue is full.
func (c *conn) pushAck(ctx context.Context, a queuedAck) error {
	for {
		c.ackMu.Lock()
		if len(c.ackQ) < c.maxQueuedAcks() {
			c.ackQ = append(c.ackQ, a)
			c.ackMu.Unlock()
			select {
			case c.ackSig <- struct{}{}:
			default:
			}
			return nil
		}
		c.ackMu.Unlock()
		select {
		case <-c.ackRoom:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// keptAcks is the most room for acks a connection keeps between batches:
// a burst of acks larger than that (up to maxQueuedAcks) gets room of its
// own, which goes with the burst.
const keptAcks = 128

// takeAcks returns the queued acks, leaving spare, the slice the previous
// call returned, in their place: emptied, and dropped when a burst made it
// larger than keptAcks.
func (c *conn) takeAcks(spare []queuedAck) []queuedAck {
	clear(spare) // the ids are garbage now
	if cap(spare) > keptAcks {
		spare = nil
	}
	c.ackMu.Lock()
	q := c.ackQ
	c.ackQ = spare[:0]
	c.ackMu.Unlock()
	select {
	case c.ackRoom <- struct{}{}:
	default:
	}
	return q
}

// Serve streams events on ws until the client goes, ctx ends (a shutdown:
// a notice, then 1001) or the protocol is broken. It owns ws.
func (s *Server) Serve(ctx context.Context, ws *websocket.Conn, o Options) error {
	o.defaults()
	ws.SetReadLimit(int64(o.MaxFrame) + 4)
	parent := ctx
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	if o.Subscription != "" {
		release := s.claim(ctx, o.ClientID+"\x00"+o.Subscription, cancel)
		defer release()
	}
	c := &conn{s: s, ws: ws, o: o, ackSig: make(chan struct{}, 1), ackRoom: make(chan struct{}, 1)}
	head, err := s.hub.Head(ctx)
	if err != nil {
		ws.Close(websocket.StatusGoingAway, "shutting down")
		return err
	}
	if o.After < 0 {
		// A stream that may start at the head starts at the log's: this
		// process's hub can still be behind events committed before the
		// subscription (a client that saw its own create answered, then
		// subscribed, must not get that create as a new event).
		last, err := s.store.LastEventSeq(ctx)
		if err != nil {
			ws.Close(websocket.StatusInternalError, "cannot read the event log")
			return err
		}
		head = max(head, last)
	}
	after, err := s.start(ctx, o, head)
	if err == nil && after > head {
		after, err = s.beyondHead(ctx, c, o, after)
	}
	if err != nil {
		ws.Close(websocket.StatusInternalError, "cannot read the subscription")
		return err
	}
	head = max(head, after) // the log is ahead of this process's hub
	if err := c.notice(ctx, notice{Notice: NoticeSubscribed, After: &after, Head: &head, Subscription: o.Subscription, Window: o.Window}); err != nil {
		ws.CloseNow() // the library leaves a failed connection open
		return err
	}
	s.stats.Opened()
	defer s.hub.Attach()()
	var wg sync.WaitGroup
	defer wg.Wait()
	// Reads run without a context (one with a Done channel costs the
	// library a callback per message, and canceling it drops the
	// connection); every way out of Serve closes ws, which ends them.
	readErr := make(chan error, 1)
	wg.Go(func() { readErr <- c.readLoop(ctx) })
	defer c.startPings(ctx, cancel)()
	err = c.sendLoop(ctx, after, readErr)
	cause := context.Cause(ctx)
	switch {
	case errors.Is(cause, errTakenOver):
		_ = c.notice(context.Background(), notice{Notice: NoticeTakenOver})
		ws.Close(CloseTakenOver, "a newer connection took over this subscription")
		s.stats.Closed("taken_over")
	case errors.Is(err, errSlow):
		_ = c.notice(context.Background(), notice{Notice: NoticeSlowConsumer, Detail: fmt.Sprintf("no ack for %s with %d frames in flight", o.SlowTimeout, o.Window)})
		ws.Close(CloseSlowConsumer, "slow consumer: acknowledge frames to keep the window open")
		s.stats.Closed("slow_consumer")
	case parent.Err() != nil:
		_ = c.notice(context.Background(), notice{Notice: NoticeShutdown})
		ws.Close(websocket.StatusGoingAway, "server shutting down")
		s.stats.Closed("shutdown")
	default:
		var ce *closeError
		if errors.As(err, &ce) {
			ws.Close(ce.code, ce.reason)
			s.stats.Closed(ce.kind)
		} else {
			ws.CloseNow()
			s.stats.Closed("gone")
		}
	}
	cancel(errDone)
	return nil
}

// start returns where a subscription starts: after an explicit sequence
// number, at a durable subscription's cursor, or at the head (new events).
// A durable subscription's cursor is written at once, so that a consumer
// that drops before its first ack resumes from where it started.
func (s *Server) start(ctx context.Context, o Options, head int64) (int64, error) {
	if o.Subscription == "" {
		if o.After >= 0 {
			return o.After, nil
		}
		return head, nil
	}
	if o.After >= 0 {
		return o.After, s.store.SaveStreamCursor(ctx, o.ClientID, o.Subscription, o.After, true)
	}
	seq, ok, err := s.store.StreamCursor(ctx, o.ClientID, o.Subscription)
	if err != nil || ok {
		return seq, err
	}
	return head, s.store.SaveStreamCursor(ctx, o.ClientID, o.Subscription, head, false)
}

// beyondHead handles a resume point past this process's head. Another
// process may simply have read further (the log is the judge); a point
// past the log's own head (a cursor kept from another database, or from
// before a restore) would skip the events that will take those numbers, so
// the stream starts at the head instead, with a resume_gap notice, and a
// named subscription's cursor is moved back there.
func (s *Server) beyondHead(ctx context.Context, c *conn, o Options, after int64) (int64, error) {
	last, err := s.store.LastEventSeq(ctx)
	if err != nil || after <= last {
		return after, err
	}
	if o.Subscription != "" {
		if err := s.store.SaveStreamCursor(ctx, o.ClientID, o.Subscription, last, true); err != nil {
			return 0, err
		}
	}
	detail := fmt.Sprintf("the resume point %d is past the last event %d (a cursor from another database, or from before a restore?); starting after %d", after, last, last)
	if err := c.notice(ctx, notice{Notice: NoticeResumeGap, Detail: detail, After: &last, Head: &last}); err != nil {
		return 0, err
	}
	return last, nil
}

var (
	errSlow = errors.New("slow consumer")
	errDone = errors.New("done")
)

type closeError struct {
	code   websocket.StatusCode
	kind   string
	reason string
}

func (e *closeError) Error() string { return e.reason }

// claim makes this connection the only one of a named subscription in this
// process: an older one is told it was taken over, and its cursor is saved
// before the new one reads it.
func (s *Server) claim(ctx context.Context, key string, cancel context.CancelCauseFunc) (release func()) {
	me := &session{cancel: cancel, done: make(chan struct{})}
	s.mu.Lock()
	old := s.named[key]
	s.named[key] = me
	s.mu.Unlock()
	if old != nil {
		old.cancel(errTakenOver)
		select {
		case <-old.done:
		case <-ctx.Done():
		case <-time.After(10 * time.Second):
		}
	}
	return func() {
		s.mu.Lock()
		if s.named[key] == me {
			delete(s.named, key)
		}
		s.mu.Unlock()
		close(me.done)
	}
}

// write sends one message. Its context is not the connection's: a
// canceled context makes the WebSocket library close the connection, and a
// shutdown or takeover must still be able to send its notice and close.
func (c *conn) write(_ context.Context, typ websocket.MessageType, b []byte) error {
	wctx, cancel := context.WithTimeout(context.Background(), c.o.SlowTimeout)
	defer cancel()
	return c.ws.Write(wctx, typ, b)
}

// notice sends a Type 3 frame (a JSON text message in JSON mode).
func (c *conn) notice(ctx context.Context, n notice) error {
	b, _ := json.Marshal(n)
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.o.JSON {
		return c.write(ctx, websocket.MessageText, b)
	}
	c.buf = frame.Append(c.buf[:0], frame.Frame{Type: frame.TypeNotice, Payload: b, Timestamp: time.Now().UnixMilli()})
	return c.write(ctx, websocket.MessageBinary, c.buf)
}

// send writes one event. It takes no deadline of its own: sendLoop's
// watchdog closes the connection if a batch takes too long.
func (c *conn) send(it *Item) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.o.JSON {
		return c.ws.Write(context.Background(), websocket.MessageText, it.JSON)
	}
	return c.ws.Write(context.Background(), websocket.MessageBinary, it.Frame)
}

// readLoop reads the client's messages: acks (framed in binary or text
// messages, or bare JSON in JSON mode). A malformed frame ends the
// connection with a close code naming the problem.
func (c *conn) readLoop(ctx context.Context) error {
	var msg []byte
	for {
		var err error
		msg, err = c.readMessage(msg)
		if err != nil {
			var ce websocket.CloseError
			if errors.As(err, &ce) || ctx.Err() != nil {
				return errGone
			}
			if errors.Is(err, websocket.ErrMessageTooBig) {
				return &closeError{websocket.StatusMessageTooBig, "too_big", "message over the size limit"}
			}
			return errGone
		}
		var a ack
		if c.o.JSON && len(msg) > 0 && msg[0] == '{' {
			if err := json.Unmarshal(msg, &a); err != nil {
				_ = c.notice(ctx, notice{Notice: NoticeBadAck, Detail: "not an ack: " + err.Error()})
				continue
			}
		} else {
			f, err := frame.Decode(msg, c.o.MaxFrame)
			if err != nil {
				code, kind := websocket.StatusInvalidFramePayloadData, "bad_frame"
				var fe *frame.Error
				if errors.As(err, &fe) && fe.Kind == frame.KindTooLarge {
					code, kind = websocket.StatusMessageTooBig, "too_big"
				}
				return &closeError{code, kind, truncate("bad frame: " + err.Error())}
			}
			if f.Type != frame.TypeAck {
				return &closeError{websocket.StatusPolicyViolation, "bad_type", fmt.Sprintf("frame type %d: clients send only acks (type 2)", f.Type)}
			}
			if id, ok := plainAck(f.Payload); ok {
				a.CorrelationID = id
			} else if err := json.Unmarshal(f.Payload, &a); err != nil {
				_ = c.notice(ctx, notice{Notice: NoticeBadAck, Detail: "the ack payload is not JSON"})
				continue
			}
		}
		if err := c.pushAck(ctx, a.queued()); err != nil {
			return errGone
		}
	}
}

// readMessage reads the next message into buf (reused between messages).
func (c *conn) readMessage(buf []byte) ([]byte, error) {
	_, r, err := c.ws.Reader(context.Background())
	if err != nil {
		return buf, err
	}
	buf = buf[:0]
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// plainAck reads the seed's usual ack, {"status":"ack","correlation_id":"ID"}
// with nothing to unescape, without the JSON decoder.
func plainAck(p []byte) (string, bool) {
	const prefix = `{"status":"ack","correlation_id":"`
	if len(p) < len(prefix)+2 || string(p[:len(prefix)]) != prefix || string(p[len(p)-2:]) != `"}` {
		return "", false
	}
	id := p[len(prefix) : len(p)-2]
	for _, b := range id {
		if b == '"' || b == '\\' || b < 0x20 {
			return "", false
		}
	}
	return string(id), true
}

var errGone = errors.New("client gone")

// truncate keeps a close reason within the 123 bytes a close frame allows.
func truncate(s string) string {
	if len(s) > 120 {
		return s[:120]
	}
	return s
}

// startPings pings the client every PingEvery, and cancels ctx with
// errGone when one goes unanswered for IdleTimeout. It runs on a timer
// rather than a goroutine of its own (a thousand idle subscribers would
// hold a thousand stacks): each ping runs in the timer's goroutine. stop
// ends the pings and waits for one in flight.
func (c *conn) startPings(ctx context.Context, cancel context.CancelCauseFunc) (stop func()) {
	var (
		mu      sync.Mutex
		stopped bool
		running sync.WaitGroup
		t       *time.Timer
	)
	ping := func() {
		mu.Lock()
		if stopped {
			mu.Unlock()
			return
		}
		running.Add(1)
		mu.Unlock()
		defer running.Done()
		pctx, pcancel := context.WithTimeout(context.Background(), c.o.IdleTimeout)
		err := c.ws.Ping(pctx)
		pcancel()
		if err != nil {
			if ctx.Err() == nil {
				cancel(errGone)
			}
			return
		}
		mu.Lock()
		if !stopped {
			t.Reset(c.o.PingEvery)
		}
		mu.Unlock()
	}
	mu.Lock()
	t = time.AfterFunc(c.o.PingEvery, ping)
	mu.Unlock()
	return func() {
		mu.Lock()
		stopped = true
		t.Stop()
		mu.Unlock()
		running.Wait()
	}
}

// inflight is a sent, unacknowledged event.
type inflight struct {
	seq int64
	id  string
}

// sendLoop sends events after `after`, keeping at most Window in flight,
// and advances the durable cursor as acks arrive.
func (c *conn) sendLoop(ctx context.Context, after int64, readErr <-chan error) error {
	var (
		pending  []inflight // in send order (increasing seq)
		acked    = map[int64]bool{}
		examined = after // last seq looked at (sent or filtered out)
		cursor   = after // everything up to here is acknowledged or skipped
		saved    = after
	)
	flush := c.cursorSaver(ctx)
	defer flush.close()
	advance := func() {
		for len(pending) > 0 && acked[pending[0].seq] {
			delete(acked, pending[0].seq)
			pending = pending[1:]
		}
		if len(pending) > 0 {
			cursor = pending[0].seq - 1
		} else {
			cursor = examined
		}
		if c.o.Subscription != "" && cursor > saved {
			saved = cursor
			flush.save(cursor)
		}
	}
	handle := func(a queuedAck) {
		id, seq, upTo := a.id, a.seq, a.upTo
		found := false
		for _, p := range pending {
			if p.seq <= upTo {
				acked[p.seq] = true
				found = true
				continue
			}
			if (id != "" && p.id == id) || (seq >= 0 && p.seq == seq) {
				acked[p.seq] = true
				found = true
				break
			}
		}
		c.s.stats.Acked(!found)
		if found {
			advance()
		}
	}
	var slowSince time.Time
	var spare []queuedAck
	for {
		select {
		case err := <-readErr:
			return err
		default:
		}
		q := c.takeAcks(spare)
		for _, a := range q {
			handle(a)
		}
		spare = q
		if len(pending) >= c.o.Window {
			if slowSince.IsZero() {
				slowSince = time.Now()
			}
			wait := c.o.SlowTimeout - time.Since(slowSince)
			if wait <= 0 {
				return errSlow
			}
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case err := <-readErr:
				t.Stop()
				return err
			case <-c.ackSig:
			case <-t.C:
			}
			t.Stop()
			continue
		}
		slowSince = time.Time{}
		items, changed, err := c.s.hub.next(ctx, examined, c.o.Window-len(pending))
		if err != nil {
			return err
		}
		if len(items) == 0 {
			// Wait for events, or for acks while waiting.
			select {
			case <-ctx.Done():
				return ctx.Err()
			case err := <-readErr:
				return err
			case <-c.ackSig:
			case <-changed:
			}
			continue
		}
		if err := c.sendBatch(items, &examined, &pending); err != nil {
			return err
		}
		if len(pending) == 0 {
			advance()
		}
	}
}

// sendBatch writes the wanted items in one corked write, under a watchdog
// that closes the connection if the client stops reading for SlowTimeout.
func (c *conn) sendBatch(items []*Item, examined *int64, pending *[]inflight) error {
	watchdog := time.AfterFunc(c.o.SlowTimeout, func() { c.ws.CloseNow() })
	defer watchdog.Stop()
	c.o.Cork.cork()
	sent := 0
	for _, it := range items {
		*examined = it.Seq
		if !c.wanted(it) {
			continue
		}
		if err := c.send(it); err != nil {
			_ = c.o.Cork.uncork()
			return errGone
		}
		sent++
		*pending = append(*pending, inflight{it.Seq, it.EventID})
	}
	if err := c.o.Cork.uncork(); err != nil {
		return errGone
	}
	if sent > 0 {
		c.s.stats.Delivered(sent, time.Since(items[0].At))
	}
	return nil
}

func (c *conn) wanted(it *Item) bool {
	return (c.o.AllClients || it.Owner == c.o.ClientID) && (len(c.o.Queues) == 0 || c.o.Queues[it.QueueID]) && (len(c.o.Types) == 0 || c.o.Types[it.Type])
}

// cursorSaver writes a durable cursor in the background, keeping only the
// latest value, and writes the last one when closed.
type cursorSaver struct {
	c      *conn
	latest chan int64
	done   chan struct{}
}

func (c *conn) cursorSaver(ctx context.Context) *cursorSaver {
	cs := &cursorSaver{c: c, latest: make(chan int64, 1), done: make(chan struct{})}
	if c.o.Subscription == "" {
		close(cs.done)
		return cs
	}
	go func() {
		defer close(cs.done)
		for seq := range cs.latest {
			cs.write(seq)
		}
	}()
	return cs
}

func (cs *cursorSaver) write(seq int64) {
	c := cs.c
	wctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.s.store.SaveStreamCursor(wctx, c.o.ClientID, c.o.Subscription, seq, false); err != nil {
		c.s.hub.logger.Warn("stream: save cursor", "client_id", c.o.ClientID, "subscription", c.o.Subscription, "err", err)
	}
}

func (cs *cursorSaver) save(seq int64) {
	if cs.c.o.Subscription == "" {
		return
	}
	select {
	case <-cs.latest: // drop the older value
	default:
	}
	cs.latest <- seq
}

// close writes the last cursor and waits for it.
func (cs *cursorSaver) close() {
	if cs.c.o.Subscription == "" {
		return
	}
	close(cs.latest)
	<-cs.done
}
