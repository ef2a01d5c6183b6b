package genesys

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/coder/websocket"
)

// Notification topic names and messages.
const (
	// TopicChannelMetadata carries heartbeats and pong replies.
	TopicChannelMetadata = "channel.metadata"
	// TopicSocketClosing warns that Genesys will close the socket in about
	// a minute; reconnect to the same connectUri.
	TopicSocketClosing = "v2.system.socket_closing"
	// heartbeatMessage and pongMessage are the eventBody.message values of
	// channel.metadata notifications.
	heartbeatMessage = "WebSocket Heartbeat"
	pongMessage      = "pong"
	// maxNotification is the read limit of a notification socket.
	maxNotification = 1 << 20
)

// QueueCallbacksTopic returns the topic of a queue's callback
// conversations, "v2.routing.queues.<id>.conversations.callbacks".
func QueueCallbacksTopic(genesysQueueID string) string {
	return "v2.routing.queues." + genesysQueueID + ".conversations.callbacks"
}

// Channel is a notification channel. Connect to ConnectURI verbatim.
type Channel struct {
	ID         string    `json:"id"`
	ConnectURI string    `json:"connectUri"`
	Expires    time.Time `json:"expires"`
}

// UnmarshalJSON decodes a channel, reading expires leniently (zero when
// absent).
func (ch *Channel) UnmarshalJSON(b []byte) error {
	var w struct {
		ID         string   `json:"id"`
		ConnectURI string   `json:"connectUri"`
		Expires    flexTime `json:"expires"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	ch.ID, ch.ConnectURI, ch.Expires = w.ID, w.ConnectURI, time.Time{}
	if w.Expires.t != nil {
		ch.Expires = *w.Expires.t
	}
	return nil
}

// CreateChannel creates a notification channel: POST
// /api/v2/notifications/channels (no permission required). An app has at
// most 20 channels; a 21st evicts the least recently used one. Retrying a
// lost create at worst leaves an idle channel that Genesys evicts.
func (c *Client) CreateChannel(ctx context.Context) (*Channel, error) {
	var ch Channel
	if err := c.do(ctx, call{op: "create_channel", method: http.MethodPost, path: "/api/v2/notifications/channels", out: &ch}); err != nil {
		return nil, err
	}
	if ch.ID == "" || ch.ConnectURI == "" {
		return nil, errors.New("genesys create_channel: response without id or connectUri")
	}
	return &ch, nil
}

// ChannelExists reports whether a channel still exists: HEAD
// /api/v2/notifications/channels/{id} (200 yes, 404 no).
func (c *Client) ChannelExists(ctx context.Context, channelID string) (bool, error) {
	if channelID == "" {
		return false, invalidf("channel exists: channel id is required")
	}
	err := c.do(ctx, call{op: "channel_exists", method: http.MethodHead, path: "/api/v2/notifications/channels/" + url.PathEscape(channelID)})
	switch {
	case err == nil:
		return true, nil
	case IsNotFound(err):
		return false, nil
	default:
		return false, err
	}
}

// ChannelTopic is a channel subscription and its state.
type ChannelTopic struct {
	// ID is the topic name.
	ID string `json:"id"`
	// State is "Permitted" or "Rejected".
	State              string   `json:"state,omitempty"`
	RejectionReason    string   `json:"rejectionReason,omitempty"`
	MissingPermissions []string `json:"missingPermissions,omitempty"`
}

// Rejected reports whether Genesys refused the topic.
func (t ChannelTopic) Rejected() bool { return strings.EqualFold(t.State, "Rejected") }

// Subscribe subscribes a channel to topics: PUT (replace is true: the
// topics replace every subscription) or POST (add)
// /api/v2/notifications/channels/{id}/subscriptions, body [{"id":topic}]
// (no permission required for the call; each topic needs its own,
// UNCONFIRMED for queue conversation topics). It returns the channel's
// topics as Genesys lists them and, when any is Rejected, also a
// *TopicRejectedError naming those. Subscribing again extends the
// channel's life.
func (c *Client) Subscribe(ctx context.Context, channelID string, topics []string, replace bool) ([]ChannelTopic, error) {
	if channelID == "" {
		return nil, invalidf("subscribe: channel id is required")
	}
	body := make([]ChannelTopic, 0, len(topics))
	for _, t := range topics {
		if t == "" {
			return nil, invalidf("subscribe: empty topic")
		}
		body = append(body, ChannelTopic{ID: t})
	}
	method := http.MethodPost
	if replace {
		method = http.MethodPut
	}
	var resp struct {
		Entities []ChannelTopic `json:"entities"`
	}
	path := "/api/v2/notifications/channels/" + url.PathEscape(channelID) + "/subscriptions"
	if err := c.do(ctx, call{op: "subscribe", method: method, path: path, body: body, out: &resp}); err != nil {
		return nil, err
	}
	var rejected []ChannelTopic
	for _, t := range resp.Entities {
		if t.Rejected() {
			rejected = append(rejected, t)
		}
	}
	if len(rejected) > 0 {
		return resp.Entities, &TopicRejectedError{Topics: rejected}
	}
	return resp.Entities, nil
}

// Notification is one message of the notification socket.
type Notification struct {
	TopicName string          `json:"topicName"`
	Version   string          `json:"version,omitempty"`
	EventBody json.RawMessage `json:"eventBody,omitempty"`
	Metadata  struct {
		CorrelationID string `json:"CorrelationId,omitempty"`
	} `json:"metadata"`
	// Result is set on replies to socket-level requests; "404" is said to
	// mean the channel expired or was evicted (UNCONFIRMED, third-party
	// source only).
	Result string `json:"result,omitempty"`
}

// metaMessage returns eventBody.message of a channel.metadata
// notification.
func (n *Notification) metaMessage() string {
	if n.TopicName != TopicChannelMetadata || len(n.EventBody) == 0 {
		return ""
	}
	var b struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(n.EventBody, &b) != nil {
		return ""
	}
	return b.Message
}

// IsHeartbeat reports whether n is the heartbeat Genesys sends about every
// 30 s: topic channel.metadata, message "WebSocket Heartbeat".
func (n *Notification) IsHeartbeat() bool {
	return strings.EqualFold(n.metaMessage(), heartbeatMessage)
}

// IsPong reports whether n answers Ping: topic channel.metadata, message
// "pong".
func (n *Notification) IsPong() bool { return strings.EqualFold(n.metaMessage(), pongMessage) }

// IsSocketClosing reports whether n is v2.system.socket_closing: reconnect
// to the same connectUri within about a minute.
func (n *Notification) IsSocketClosing() bool { return n.TopicName == TopicSocketClosing }

// IsSystem reports whether n comes from the platform rather than a
// subscribed topic: channel.metadata, a v2.system.* topic, or a reply
// without a topic.
func (n *Notification) IsSystem() bool {
	return n.TopicName == "" || n.TopicName == TopicChannelMetadata || strings.HasPrefix(n.TopicName, "v2.system.")
}

// DialOption configures DialNotifications.
type DialOption func(*dialConfig)

type dialConfig struct {
	httpClient *http.Client
	readLimit  int64
}

// WithDialHTTPClient sets the HTTP client of the WebSocket handshake
// (default http.DefaultClient).
func WithDialHTTPClient(hc *http.Client) DialOption {
	return func(c *dialConfig) { c.httpClient = hc }
}

// WithReadLimit sets the largest message accepted, in bytes (default
// 1 MiB); a larger one closes the connection.
func WithReadLimit(n int64) DialOption {
	return func(c *dialConfig) { c.readLimit = n }
}

// NotificationConn is a connection to a notification channel. One
// goroutine may Read while another calls Ping or Close.
type NotificationConn struct {
	ws *websocket.Conn
}

// DialNotifications opens a channel's WebSocket. connectURI is the
// Channel's ConnectURI, used verbatim; ctx bounds the handshake only.
func DialNotifications(ctx context.Context, connectURI string, opts ...DialOption) (*NotificationConn, error) {
	cfg := dialConfig{readLimit: maxNotification}
	for _, o := range opts {
		o(&cfg)
	}
	ws, _, err := websocket.Dial(ctx, connectURI, &websocket.DialOptions{HTTPClient: cfg.httpClient})
	if err != nil {
		return nil, fmt.Errorf("genesys notifications: dial: %w", err)
	}
	ws.SetReadLimit(cfg.readLimit)
	return &NotificationConn{ws: ws}, nil
}

// Read returns the next message. A message that is not JSON is an error
// and the connection stays usable; binary messages are skipped. Cancelling
// ctx closes the connection (github.com/coder/websocket semantics), so
// bound a wait for silence with a ctx only when giving up on the socket.
func (nc *NotificationConn) Read(ctx context.Context) (*Notification, error) {
	for {
		typ, data, err := nc.ws.Read(ctx)
		if err != nil {
			return nil, fmt.Errorf("genesys notifications: read: %w", err)
		}
		if typ != websocket.MessageText {
			continue
		}
		var n Notification
		if err := json.Unmarshal(data, &n); err != nil {
			return nil, fmt.Errorf("genesys notifications: decode message: %w", err)
		}
		return &n, nil
	}
}

// Ping sends the application-level health check {"message":"ping"}; a
// healthy channel answers with a notification for which IsPong is true.
func (nc *NotificationConn) Ping(ctx context.Context) error {
	if err := nc.ws.Write(ctx, websocket.MessageText, []byte(`{"message":"ping"}`)); err != nil {
		return fmt.Errorf("genesys notifications: ping: %w", err)
	}
	return nil
}

// Close closes the connection with a normal closure.
func (nc *NotificationConn) Close() error {
	return nc.ws.Close(websocket.StatusNormalClosure, "")
}

// ParseCallbackEvent decodes the eventBody of a
// v2.routing.queues.{id}.conversations.callbacks notification: a full
// snapshot of the conversation with flat participants. Events carry no
// sequence number; the same conversation arrives many times.
func ParseCallbackEvent(body json.RawMessage) (*CallbackConversation, error) {
	var cc CallbackConversation
	if err := json.Unmarshal(body, &cc); err != nil {
		return nil, fmt.Errorf("genesys callback event: %w", err)
	}
	if cc.ID == "" {
		return nil, errors.New("genesys callback event: no conversation id")
	}
	return &cc, nil
}
