package gcsim

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"time"

	"github.com/coder/websocket"
)

// Notification limits, as Genesys documents them.
const (
	maxChannelsPerClient = 20
	maxTopicsPerChannel  = 1000
	// defaultSocketQueueLen is how many frames may wait for a slow socket
	// before it is dropped.
	defaultSocketQueueLen = 4096
	// writeTimeout bounds one frame's write.
	writeTimeout = 10 * time.Second
)

// queueTopic matches v2.routing.queues.{id}.conversations and
// v2.routing.queues.{id}.conversations.callbacks.
var queueTopic = regexp.MustCompile(`^v2\.routing\.queues\.([^.]+)\.conversations(\.callbacks)?$`)

// callbackTopic is a queue's callbacks topic: flat callback participants.
func callbackTopic(queueID string) string {
	return "v2.routing.queues." + queueID + ".conversations.callbacks"
}

// conversationsTopic is a queue's conversations topic: every medium,
// participants with calls[] and callbacks[].
func conversationsTopic(queueID string) string {
	return "v2.routing.queues." + queueID + ".conversations"
}

// channel is a notification channel. Its times are real time.
type channel struct {
	id       string
	clientID string
	created  time.Time
	expires  time.Time
	lastUsed time.Time
	topics   []string
	topicSet map[string]bool
	sock     *socket // the live connection, if any
}

// socket is one WebSocket connection to a channel. Frames go out through
// out, in order, written by the connection's handler goroutine.
type socket struct {
	sim     *Sim
	ch      *channel
	dropped bool // its queue overflowed
	conn    *websocket.Conn
	ctx     context.Context
	cancel  context.CancelFunc // drops the connection abruptly
	out     chan outFrame
}

// outFrame is a message to write, or a request to close (after a delay).
type outFrame struct {
	data       []byte
	close      bool
	closeAfter time.Duration
	code       websocket.StatusCode
	reason     string
}

// enqueue queues a frame without blocking; a socket whose queue is full
// (defaultSocketQueueLen frames behind) is dropped.
func (sk *socket) enqueue(data []byte) {
	sk.push(outFrame{data: data})
}

// enqueueClose asks for a close handshake once the frames queued before it
// are written and after more real time.
func (sk *socket) enqueueClose(after time.Duration, code websocket.StatusCode, reason string) {
	sk.push(outFrame{close: true, closeAfter: after, code: code, reason: reason})
}

// push queues f; the caller holds the Sim's mutex.
func (sk *socket) push(f outFrame) {
	select {
	case sk.out <- f:
	default:
		if !sk.dropped {
			sk.dropped = true
			sk.sim.stats.slowDropped++
			sk.sim.logger.Warn("gcsim: dropping a slow notification socket", "channel_id", sk.ch.id)
		}
		sk.cancel()
	}
}

// channelResponse is Genesys' Channel.
type channelResponse struct {
	ID         string `json:"id"`
	ConnectURI string `json:"connectUri"`
	Expires    string `json:"expires"`
}

func (ch *channel) response(r *http.Request) channelResponse {
	return channelResponse{ID: ch.id, ConnectURI: hostURL(r, true) + "/channels/" + ch.id, Expires: fmtTime(ch.expires)}
}

// lookupChannelLocked returns a live channel, removing it if it has expired.
func (s *Sim) lookupChannelLocked(id string) *channel {
	ch, ok := s.channels[id]
	if !ok {
		return nil
	}
	if !time.Now().Before(ch.expires) {
		s.removeChannelLocked(ch, websocket.StatusGoingAway, "channel expired")
		return nil
	}
	return ch
}

// removeChannelLocked deletes a channel; its socket, if any, is closed with
// code and reason after the frames already queued.
func (s *Sim) removeChannelLocked(ch *channel, code websocket.StatusCode, reason string) {
	delete(s.channels, ch.id)
	if ch.sock != nil {
		ch.sock.enqueueClose(0, code, reason)
		ch.sock = nil
	}
}

// handleCreateChannel serves POST /api/v2/notifications/channels. The 21st
// channel of an OAuth client evicts the least recently used one, preferring
// channels with no connection.
func (s *Sim) handleCreateChannel(w http.ResponseWriter, r *http.Request) {
	s.respond(w, func() reply {
		tok := s.bearerLocked(r)
		now := time.Now()
		var mine []*channel
		for _, ch := range s.channels {
			if ch.clientID == tok.clientID && s.lookupChannelLocked(ch.id) != nil {
				mine = append(mine, ch)
			}
		}
		if len(mine) >= maxChannelsPerClient {
			var victim *channel
			for _, ch := range mine {
				if victim == nil || (victim.sock != nil && ch.sock == nil) ||
					((victim.sock == nil) == (ch.sock == nil) && ch.lastUsed.Before(victim.lastUsed)) {
					victim = ch
				}
			}
			s.logger.Info("gcsim: channel evicted", "channel_id", victim.id)
			s.removeChannelLocked(victim, websocket.StatusGoingAway, "channel evicted")
		}
		var b [12]byte
		_, _ = rand.Read(b[:])
		ch := &channel{
			id: "streaming-0-" + hex.EncodeToString(b[:]), clientID: tok.clientID, created: now,
			expires: minTime(now.Add(s.opts.ChannelTTL), tok.expires), lastUsed: now, topicSet: make(map[string]bool),
		}
		s.channels[ch.id] = ch
		return jsonReply(http.StatusOK, ch.response(r))
	})
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// handleListChannels serves GET /api/v2/notifications/channels: the live
// channels of the caller's OAuth client.
func (s *Sim) handleListChannels(w http.ResponseWriter, r *http.Request) {
	s.respond(w, func() reply {
		tok := s.bearerLocked(r)
		out := []channelResponse{}
		for _, ch := range s.channels {
			if ch.clientID == tok.clientID && s.lookupChannelLocked(ch.id) != nil {
				out = append(out, ch.response(r))
			}
		}
		return jsonReply(http.StatusOK, map[string]any{"entities": out})
	})
}

// handleHeadChannel serves HEAD /api/v2/notifications/channels/{channelId}:
// 200 while the channel lives, 404 after.
func (s *Sim) handleHeadChannel(w http.ResponseWriter, r *http.Request) {
	s.respond(w, func() reply {
		if s.lookupChannelLocked(r.PathValue("channelId")) == nil {
			return jsonReply(http.StatusNotFound, nil)
		}
		return jsonReply(http.StatusOK, nil)
	})
}

// channelTopic is Genesys' ChannelTopic.
type channelTopic struct {
	ID                 string   `json:"id"`
	State              string   `json:"state,omitempty"`
	RejectionReason    string   `json:"rejectionReason,omitempty"`
	MissingPermissions []string `json:"missingPermissions,omitempty"`
}

// topicRejection is a rule of SetTopicRejection.
type topicRejection struct {
	reason  string
	missing []string
}

// topicStateLocked says whether the simulator permits a topic to the OAuth
// client clientID: a rule of SetTopicRejection, an unknown topic or queue,
// or a client without QueueTopicPermission make it Rejected.
func (s *Sim) topicStateLocked(clientID, topic string) channelTopic {
	if rj, ok := s.topicRejections[topic]; ok {
		return channelTopic{ID: topic, State: "Rejected", RejectionReason: rj.reason, MissingPermissions: slices.Clone(rj.missing)}
	}
	m := queueTopic.FindStringSubmatch(topic)
	if m == nil {
		return channelTopic{ID: topic, State: "Rejected", RejectionReason: "Unknown topic " + topic + "."}
	}
	if _, ok := s.queues[m[1]]; !ok {
		return channelTopic{ID: topic, State: "Rejected", RejectionReason: "The queue " + m[1] + " was not found."}
	}
	if missing := s.missingLocked(clientID, []string{QueueTopicPermission}); len(missing) > 0 {
		return channelTopic{ID: topic, State: "Rejected", RejectionReason: "Missing permissions for topic " + topic + ".", MissingPermissions: missing}
	}
	return channelTopic{ID: topic, State: "Permitted"}
}

// SetTopicRejection makes subscriptions to topic come back Rejected with
// reason and, when given, the missingPermissions Genesys names; an empty
// reason removes the rule. It does not touch existing subscriptions.
func (s *Sim) SetTopicRejection(topic, reason string, missingPermissions ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if reason == "" {
		delete(s.topicRejections, topic)
		return
	}
	s.topicRejections[topic] = topicRejection{reason: reason, missing: slices.Clone(missingPermissions)}
}

// channelNotFound is the reply for an unknown or expired channel.
var channelNotFound = errorReply(http.StatusNotFound, "not.found", "The channel was not found.")

func (ch *channel) subscriptions() []channelTopic {
	out := make([]channelTopic, 0, len(ch.topics))
	for _, t := range ch.topics {
		out = append(out, channelTopic{ID: t, State: "Permitted"})
	}
	return out
}

// handleGetSubscriptions serves GET .../channels/{channelId}/subscriptions.
func (s *Sim) handleGetSubscriptions(w http.ResponseWriter, r *http.Request) {
	s.respond(w, func() reply {
		ch := s.lookupChannelLocked(r.PathValue("channelId"))
		if ch == nil {
			return channelNotFound
		}
		return jsonReply(http.StatusOK, map[string]any{"entities": ch.subscriptions()})
	})
}

// handleAddSubscriptions serves POST .../channels/{channelId}/subscriptions.
func (s *Sim) handleAddSubscriptions(w http.ResponseWriter, r *http.Request) {
	s.subscribe(w, r, false)
}

// handleReplaceSubscriptions serves PUT .../channels/{channelId}/subscriptions.
func (s *Sim) handleReplaceSubscriptions(w http.ResponseWriter, r *http.Request) {
	s.subscribe(w, r, true)
}

// subscribe adds (or with replace, sets) a channel's topics. The answer
// lists every topic now subscribed (Permitted) and the requested topics that
// were Rejected, with their reasons. Subscribing extends the channel's life
// to ChannelTTL from now, bounded by the caller's token.
func (s *Sim) subscribe(w http.ResponseWriter, r *http.Request, replace bool) {
	var req []struct {
		ID string `json:"id"`
	}
	if !decodeJSON(w, r, &req) {
		return
	}
	s.respond(w, func() reply {
		ch := s.lookupChannelLocked(r.PathValue("channelId"))
		if ch == nil {
			return channelNotFound
		}
		var topics []string
		set := make(map[string]bool, len(ch.topicSet))
		if !replace {
			topics = append([]string(nil), ch.topics...)
			for t := range ch.topicSet {
				set[t] = true
			}
		}
		var rejected []channelTopic
		for _, t := range req {
			if t.ID == "" {
				return errorReply(http.StatusBadRequest, "bad.request", "Every topic needs an id.")
			}
			if st := s.topicStateLocked(ch.clientID, t.ID); st.State != "Permitted" {
				rejected = append(rejected, st)
				continue
			}
			if !set[t.ID] {
				set[t.ID] = true
				topics = append(topics, t.ID)
			}
		}
		if len(topics) > maxTopicsPerChannel {
			return errorReply(http.StatusBadRequest, "bad.request", "A channel may subscribe to at most 1000 topics.")
		}
		now := time.Now()
		ch.topics, ch.topicSet, ch.lastUsed = topics, set, now
		ch.expires = minTime(now.Add(s.opts.ChannelTTL), s.bearerLocked(r).expires)
		return jsonReply(http.StatusOK, map[string]any{"entities": append(ch.subscriptions(), rejected...)})
	})
}

// handleDeleteSubscriptions serves DELETE .../channels/{channelId}/subscriptions.
func (s *Sim) handleDeleteSubscriptions(w http.ResponseWriter, r *http.Request) {
	s.respond(w, func() reply {
		ch := s.lookupChannelLocked(r.PathValue("channelId"))
		if ch == nil {
			return channelNotFound
		}
		ch.topics, ch.topicSet, ch.lastUsed = nil, make(map[string]bool), time.Now()
		return jsonReply(http.StatusNoContent, nil)
	})
}

// notification is a frame on the notification socket.
type notification struct {
	TopicName string    `json:"topicName"`
	Version   string    `json:"version,omitempty"`
	EventBody any       `json:"eventBody"`
	Metadata  *metadata `json:"metadata,omitempty"`
}

type metadata struct {
	CorrelationID string `json:"CorrelationId"`
}

var (
	heartbeatFrame = encode(notification{TopicName: "channel.metadata", EventBody: map[string]string{"message": "WebSocket Heartbeat"}})
	pongFrame      = encode(notification{TopicName: "channel.metadata", EventBody: map[string]string{"message": "pong"}})
)

// encode marshals a frame. Frames hold only strings, numbers, bools, maps of
// strings and slices of those, which cannot fail to marshal.
func encode(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// systemMessage builds a v2.system.* frame (SystemMessageSystemMessage).
func (s *Sim) systemMessage(ch *channel, topic, systemTopicType, message string) []byte {
	cid := newUUID()
	return encode(notification{
		TopicName: topic, Version: "2",
		EventBody: map[string]string{
			"channelId": ch.id, "systemTopicType": systemTopicType, "correlationId": cid,
			"oauthClientId": ch.clientID, "reason": systemTopicType, "message": message,
		},
		Metadata: &metadata{CorrelationID: cid},
	})
}

// publishLocked sends c's snapshot to every connected channel subscribed to
// its queue's topics: the callback view on the callbacks topic, the
// generic view (with the calls) on the conversations topic.
func (s *Sim) publishLocked(c *callback) { s.publishToLocked(c.queueID, c) }

func (s *Sim) publishToLocked(queueID string, c *callback) {
	now := time.Now()
	for _, t := range []struct {
		topic string
		body  func() any
	}{
		{callbackTopic(queueID), func() any { return c.flatConversation(true) }},
		{conversationsTopic(queueID), func() any { return c.conversation(true) }},
	} {
		var frame []byte
		for _, ch := range s.channels {
			if ch.sock == nil || !ch.topicSet[t.topic] || !now.Before(ch.expires) {
				continue
			}
			if frame == nil {
				frame = encode(notification{
					TopicName: t.topic, Version: "2", EventBody: t.body(),
					Metadata: &metadata{CorrelationID: newUUID()},
				})
			}
			ch.sock.enqueue(frame)
		}
	}
}

// handleStream serves the notification WebSocket at the channel's
// connectUri. An unknown or expired channel is a 404 before the upgrade. A
// second connection to a channel closes the first. The socket is registered
// before the handshake completes, so every event published after the client
// sees the 101 reaches it.
func (s *Sim) handleStream(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("channelId")
	s.mu.Lock()
	ch := s.lookupChannelLocked(id)
	if ch == nil || s.closed {
		s.mu.Unlock()
		writeError(w, http.StatusNotFound, "not.found", "The channel "+id+" was not found.")
		return
	}
	ctx, cancel := context.WithCancel(s.ctx)
	sk := &socket{sim: s, ch: ch, ctx: ctx, cancel: cancel, out: make(chan outFrame, s.socketQueueLen)}
	if old := ch.sock; old != nil {
		old.enqueueClose(0, websocket.StatusPolicyViolation, "another connection to this channel was opened")
	}
	ch.sock, ch.lastUsed = sk, time.Now()
	s.sockets[sk] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()

	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		// Accept has answered.
		s.unregister(sk)
		return
	}
	s.mu.Lock()
	sk.conn = conn
	s.mu.Unlock()
	s.runSocket(sk)
}

// unregister forgets a socket that has ended.
func (s *Sim) unregister(sk *socket) {
	sk.cancel()
	s.mu.Lock()
	defer s.mu.Unlock()
	if sk.ch.sock == sk {
		sk.ch.sock = nil
	}
	delete(s.sockets, sk)
}

// runSocket writes sk's frames, heartbeats and closes until the connection
// ends, and reads the client's messages in a second goroutine.
func (s *Sim) runSocket(sk *socket) {
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		s.readSocket(sk)
	}()
	defer func() {
		sk.cancel()
		sk.conn.CloseNow()
		<-readDone
		s.unregister(sk)
	}()

	heartbeat := time.NewTicker(s.opts.HeartbeatEvery)
	defer heartbeat.Stop()
	expiry := time.NewTimer(s.untilExpiry(sk.ch))
	defer expiry.Stop()
	var closeTimer *time.Timer
	var closeFired <-chan time.Time
	var pending outFrame
	defer func() {
		if closeTimer != nil {
			closeTimer.Stop()
		}
	}()
	write := func(data []byte) bool {
		ctx, cancel := context.WithTimeout(sk.ctx, writeTimeout)
		defer cancel()
		return sk.conn.Write(ctx, websocket.MessageText, data) == nil
	}
	for {
		select {
		case <-sk.ctx.Done():
			return
		case f := <-sk.out:
			switch {
			case !f.close:
				if !write(f.data) {
					return
				}
			case f.closeAfter > 0:
				if closeTimer == nil {
					pending = f
					closeTimer = time.NewTimer(f.closeAfter)
					closeFired = closeTimer.C
				}
			default:
				sk.conn.Close(f.code, f.reason)
				return
			}
		case <-closeFired:
			sk.conn.Close(pending.code, pending.reason)
			return
		case <-heartbeat.C:
			if !write(heartbeatFrame) {
				return
			}
		case <-expiry.C:
			s.mu.Lock()
			live := s.channels[sk.ch.id] == sk.ch && s.lookupChannelLocked(sk.ch.id) != nil
			s.mu.Unlock()
			if !live {
				// lookupChannelLocked queued the close; it follows.
				continue
			}
			expiry.Reset(s.untilExpiry(sk.ch))
		}
	}
}

func (s *Sim) untilExpiry(ch *channel) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return max(time.Until(ch.expires), 0)
}

// readSocket answers the client's {"message":"ping"} health checks and
// ignores other messages.
func (s *Sim) readSocket(sk *socket) {
	for {
		typ, data, err := sk.conn.Read(sk.ctx)
		if err != nil {
			sk.cancel()
			return
		}
		if typ != websocket.MessageText {
			continue
		}
		var msg struct {
			Message string `json:"message"`
		}
		if json.Unmarshal(data, &msg) == nil && msg.Message == "ping" {
			s.mu.Lock()
			sk.enqueue(pongFrame)
			s.mu.Unlock()
		}
	}
}

// ExpireChannel ends a channel now: its socket is closed (1001, "channel
// expired") and it answers 404 from then on.
func (s *Sim) ExpireChannel(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ch, ok := s.channels[id]; ok {
		s.removeChannelLocked(ch, websocket.StatusGoingAway, "channel expired")
	}
}

// SocketClosing sends v2.system.socket_closing on the channel's socket and
// closes it (1001) Options.SocketClosingDelay later. The channel lives on: a
// client reconnects to the same connectUri.
func (s *Sim) SocketClosing(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, ok := s.channels[id]
	if !ok || ch.sock == nil {
		return
	}
	ch.sock.enqueue(s.systemMessage(ch, "v2.system.socket_closing", "socket_closing", "The socket is closing for maintenance; reconnect to the same connectUri."))
	ch.sock.enqueueClose(s.opts.SocketClosingDelay, websocket.StatusGoingAway, "socket closing")
}

// DropSockets closes every notification socket abruptly (no close frame).
// The channels live on.
func (s *Sim) DropSockets() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for sk := range s.sockets {
		sk.cancel()
	}
}

// ConnectedChannels returns the ids of the channels with a connected
// socket, in no particular order.
func (s *Sim) ConnectedChannels() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for id, ch := range s.channels {
		if ch.sock != nil {
			out = append(out, id)
		}
	}
	return out
}
