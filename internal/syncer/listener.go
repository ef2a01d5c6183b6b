package syncer

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/slotline/slotline/internal/genesys"
	"github.com/slotline/slotline/internal/reservation"
	"github.com/slotline/slotline/internal/storage"
)

// ListenerOptions tune the notification listener.
type ListenerOptions struct {
	// LeaseTTL is how long a dead holder keeps the listener lease (default
	// 20 s); the lease is renewed every LeaseTTL/4, and a standby process
	// tries to take it as often, so another process takes over within
	// about LeaseTTL + LeaseTTL/4 of a holder's death.
	LeaseTTL time.Duration
	// Silence is how long without any message before a health-check ping
	// (default 45 s; Genesys sends a heartbeat about every 30 s); PongWait
	// is how long to wait for an answer before reconnecting (default 15 s).
	Silence, PongWait time.Duration
	// RollBefore is how long before a channel expires a new one is opened
	// (default 1 h).
	RollBefore time.Duration
	// Dial opens a notification socket (default genesys.DialNotifications).
	Dial func(ctx context.Context, uri string) (NotificationConn, error)
}

// NotificationConn is one notification socket.
type NotificationConn interface {
	Read(ctx context.Context) (*genesys.Notification, error)
	Ping(ctx context.Context) error
	Close() error
}

// Listener follows the callbacks of every configured queue through the
// Genesys Notifications API (each queue's conversations topic). Exactly one process per database listens at a
// time: it holds a lease in the database; the others wait to take over.
type Listener struct {
	r       *Runner
	opts    ListenerOptions
	holder  string
	leading atomic.Bool

	mu     sync.Mutex
	status ListenerStatus
}

// The listener's states (ListenerStatus.State).
const (
	// ListenerStandby: another process holds the listener lease (or this
	// one has not taken it yet).
	ListenerStandby = "standby"
	// ListenerConnecting: this process holds the lease and is opening a
	// channel, or waiting to open another after a failure.
	ListenerConnecting = "connecting"
	// ListenerConnected: this process follows a channel's socket.
	ListenerConnected = "connected"
)

// ListenerStatus is the listener's state in this process, as the
// console's health page shows it.
type ListenerStatus struct {
	// State is ListenerStandby, ListenerConnecting or ListenerConnected.
	State string
	// Since is when the state began.
	Since time.Time
	// ChannelID is the notification channel followed (connected only);
	// LastMessage is when its socket last sent anything (a heartbeat, a
	// pong, an event).
	ChannelID   string
	LastMessage time.Time
	// LastError is why the last session ended ("" when none has).
	LastError string
}

// Status returns the listener's state in this process.
func (l *Listener) Status() ListenerStatus {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.status
	if st.State == "" {
		st.State = ListenerStandby
	}
	return st
}

// setState moves the listener to state (keeping what it knows of the
// channel while connected).
func (l *Listener) setState(state, channelID string, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.status.State != state {
		l.status.State, l.status.Since = state, time.Now()
	}
	l.status.ChannelID = channelID
	if err != nil {
		l.status.LastError = err.Error()
	}
}

// heard records a message from the channel's socket.
func (l *Listener) heard() {
	l.mu.Lock()
	l.status.LastMessage = time.Now()
	l.mu.Unlock()
}

// Leading reports whether this process holds the listener lease now.
func (l *Listener) Leading() bool { return l.leading.Load() }

// leaseName names the listener's lease.
const leaseName = "genesys-listener"

// NewListener returns the listener of r's queues.
func (r *Runner) NewListener(opts ListenerOptions) *Listener {
	if opts.LeaseTTL <= 0 {
		opts.LeaseTTL = 20 * time.Second
	}
	if opts.Silence <= 0 {
		opts.Silence = 45 * time.Second
	}
	if opts.PongWait <= 0 {
		opts.PongWait = 15 * time.Second
	}
	if opts.RollBefore <= 0 {
		opts.RollBefore = time.Hour
	}
	if opts.Dial == nil {
		opts.Dial = func(ctx context.Context, uri string) (NotificationConn, error) {
			return genesys.DialNotifications(ctx, uri)
		}
	}
	return &Listener{r: r, opts: opts, holder: r.id}
}

// Run listens until ctx is done.
func (l *Listener) Run(ctx context.Context) error {
	renew := l.opts.LeaseTTL / 4
	for {
		lease, err := l.r.cfg.Store.HoldLease(ctx, leaseName, l.holder, l.opts.LeaseTTL)
		if err != nil && ctx.Err() == nil {
			l.r.logger.WarnContext(ctx, "listener lease", "err", err)
		}
		if lease != nil {
			l.r.logger.InfoContext(ctx, "listener lease taken; following Genesys notifications", "holder", l.holder)
			l.leading.Store(true)
			l.setState(ListenerConnecting, "", nil)
			l.lead(ctx, lease)
			l.leading.Store(false)
			l.setState(ListenerStandby, "", nil)
			l.r.cfg.Observer.ListenerConnected(false)
			if err := lease.Release(ctx); err != nil {
				l.r.logger.WarnContext(ctx, "listener lease", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(renew):
		}
	}
}

// lead listens while the lease stays ours.
func (l *Listener) lead(ctx context.Context, lease *storage.Lease) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	wg.Go(func() {
		select {
		case <-ctx.Done():
		case <-lease.Lost():
			cancel(fmt.Errorf("listener lease lost: %w", lease.Err()))
		}
	})
	defer wg.Wait() // after the cancel below
	wait := time.Second
	for ctx.Err() == nil {
		connected, err := l.session(ctx)
		l.r.cfg.Observer.ListenerConnected(false)
		if ctx.Err() != nil {
			break
		}
		l.setState(ListenerConnecting, "", err)
		if connected {
			wait = 100 * time.Millisecond // it worked until now: come back at once
		}
		l.r.logger.WarnContext(ctx, "notification session ended; starting another", "err", err, "retry_in", wait.String())
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
		wait = min(wait*2, 30*time.Second)
	}
	cancel(nil)
}

// topics returns the conversations topic of every queue with a Genesys
// queue id: v2.routing.queues.{id}.conversations carries the calls placed
// for a callback, which tell whether the customer was reached. The
// callbacks topic (callback communications only) would add nothing.
func (l *Listener) topics() []string {
	var out []string
	for _, q := range l.r.cfg.Queues {
		if q.GenesysQueueID != "" {
			out = append(out, genesys.QueueConversationsTopic(q.GenesysQueueID))
		}
	}
	return out
}

// channel is one notification channel with its socket.
type channel struct {
	ch   *genesys.Channel
	conn NotificationConn
}

// openChannel creates a channel, subscribes the queues' topics (a rejected
// topic is logged with its reason; all rejected is an error) and connects.
func (l *Listener) openChannel(ctx context.Context) (*channel, error) {
	g := l.r.cfg.Genesys
	ch, err := g.CreateChannel(ctx)
	if err != nil {
		return nil, fmt.Errorf("create channel: %w", err)
	}
	topics := l.topics()
	got, err := g.Subscribe(ctx, ch.ID, topics, true)
	var rejected *genesys.TopicRejectedError
	if errors.As(err, &rejected) {
		permitted := 0
		for _, t := range got {
			if t.State == "Rejected" {
				l.r.logger.ErrorContext(ctx, "Genesys rejected a notification topic", "topic", t.ID, "reason", t.RejectionReason,
					"missing_permissions", t.MissingPermissions)
			} else {
				permitted++
			}
		}
		if permitted == 0 {
			return nil, err
		}
	} else if err != nil {
		return nil, fmt.Errorf("subscribe: %w", err)
	}
	conn, err := l.opts.Dial(ctx, ch.ConnectURI)
	if err != nil {
		return nil, fmt.Errorf("connect channel %s: %w", ch.ID, err)
	}
	l.r.logger.InfoContext(ctx, "notification channel open", "channel_id", ch.ID, "topics", len(topics), "expires", ch.Expires)
	return &channel{ch: ch, conn: conn}, nil
}

type message struct {
	n    *genesys.Notification
	err  error
	from *channel
}

// session runs one channel (and the channels that replace it) until an
// error needs a fresh start.
func (l *Listener) session(ctx context.Context) (connected bool, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	msgs := make(chan message, 64)
	var wg sync.WaitGroup
	defer wg.Wait()
	read := func(c *channel) {
		wg.Go(func() {
			for {
				n, err := c.conn.Read(ctx)
				select {
				case msgs <- message{n, err, c}:
				case <-ctx.Done():
					return
				}
				if err != nil {
					return
				}
			}
		})
	}
	cur, err := l.openChannel(ctx)
	if err != nil {
		return false, err
	}
	defer func() { cur.conn.Close() }()
	read(cur)
	l.r.cfg.Observer.ListenerConnected(true)
	l.setState(ListenerConnected, cur.ch.ID, nil)
	var old *channel
	silence := time.NewTimer(l.opts.Silence)
	defer silence.Stop()
	pinged := false
	roll := time.NewTimer(rollIn(cur.ch, l.opts.RollBefore))
	defer roll.Stop()
	for {
		select {
		case <-ctx.Done():
			return true, ctx.Err()
		case <-silence.C:
			if pinged {
				return true, fmt.Errorf("no heartbeat or pong from channel %s", cur.ch.ID)
			}
			if err := cur.conn.Ping(ctx); err != nil {
				return true, fmt.Errorf("ping: %w", err)
			}
			pinged = true
			silence.Reset(l.opts.PongWait)
		case <-roll.C:
			// Roll before expiry: open the next channel, then close the
			// old one; events seen on both are applied idempotently.
			next, err := l.openChannel(ctx)
			if err != nil {
				l.r.logger.WarnContext(ctx, "roll channel", "err", err)
				roll.Reset(time.Minute)
				continue
			}
			read(next)
			old, cur = cur, next
			old.conn.Close()
			l.setState(ListenerConnected, cur.ch.ID, nil)
			roll.Reset(rollIn(cur.ch, l.opts.RollBefore))
		case m := <-msgs:
			if m.from != cur {
				continue // the channel we rolled away from
			}
			if m.err != nil {
				return true, fmt.Errorf("read channel %s: %w", cur.ch.ID, m.err)
			}
			pinged = false
			silence.Reset(l.opts.Silence)
			l.heard()
			switch {
			case m.n.IsHeartbeat():
				l.r.cfg.Observer.NotificationEvent("heartbeat")
			case m.n.IsPong():
				l.r.cfg.Observer.NotificationEvent("pong")
			case m.n.IsSocketClosing():
				// Genesys will close this socket soon: reconnect to the same
				// channel now.
				l.r.cfg.Observer.NotificationEvent("socket_closing")
				l.r.logger.InfoContext(ctx, "socket closing; reconnecting", "channel_id", cur.ch.ID)
				conn, err := l.opts.Dial(ctx, cur.ch.ConnectURI)
				if err != nil {
					return true, fmt.Errorf("reconnect after socket_closing: %w", err)
				}
				next := &channel{ch: cur.ch, conn: conn}
				read(next)
				cur.conn.Close()
				cur = next
			case isConversationsTopic(m.n.TopicName):
				l.r.cfg.Observer.NotificationEvent("callback")
				if err := l.handle(ctx, m.n); err != nil {
					l.r.logger.WarnContext(ctx, "apply notification", "topic", m.n.TopicName, "err", err)
				}
			default:
				l.r.cfg.Observer.NotificationEvent("other")
				if m.n.IsSystem() {
					l.r.logger.InfoContext(ctx, "system notification", "topic", m.n.TopicName)
				}
			}
		}
	}
}

func rollIn(ch *genesys.Channel, before time.Duration) time.Duration {
	if ch.Expires.IsZero() {
		return 23 * time.Hour
	}
	return max(time.Until(ch.Expires)-before, time.Second)
}

// isConversationsTopic reports whether topic is a queue's conversations
// topic, v2.routing.queues.{id}.conversations.
func isConversationsTopic(topic string) bool {
	id, ok := strings.CutPrefix(topic, "v2.routing.queues.")
	id, found := strings.CutSuffix(id, ".conversations")
	return ok && found && id != "" && !strings.Contains(id, ".")
}

// handle applies one conversation event. The topic carries every medium
// of the queue: a conversation with no callback communication (an inbound
// call) is not a callback of ours, but an agent of the queue answering it
// may make a reservation of the same customer unnecessary (reached).
func (l *Listener) handle(ctx context.Context, n *genesys.Notification) error {
	c, err := genesys.ParseConversationEvent(n.EventBody)
	if err != nil {
		return err
	}
	if !hasCallback(c) {
		return l.r.reached(ctx, queueOfTopic(n.TopicName), c)
	}
	res, err := l.r.cfg.Store.FindReservationByConversation(ctx, c.ID)
	if reservation.ErrorCode(err) == reservation.ENOTFOUND {
		// Not ours, or ours while its create is still in flight (the sync
		// job records the conversation and reconciliation catches up).
		return nil
	}
	if err != nil {
		return err
	}
	_, err = l.r.apply(ctx, res, c, false)
	return err
}

// hasCallback reports whether any participant of c has a callback
// communication.
func hasCallback(c *genesys.Conversation) bool {
	for _, p := range c.Participants {
		if len(p.Callbacks) > 0 {
			return true
		}
	}
	return false
}
