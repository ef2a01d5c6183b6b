// SPDX-License-Identifier: Apache-2.0

// Package stream serves the event log to WebSocket subscribers: every
// reservation change, in sequence order, in the seed's length-prefixed
// msgpack frames (or JSON text messages), with acknowledgments, a window of
// unacknowledged frames per connection, and resume from a sequence number
// or from a durable, named cursor.
//
// One Hub per process tails the events table (woken by this process's
// commits and, on PostgreSQL, by every process's NOTIFY) into a ring of
// encoded events; each connection reads from the ring at its own pace, so
// a slow subscriber never slows admissions or the other subscribers.
// Sequence numbers are handed out in commit order by storage, so a reader
// that has seen N never later finds a new event below N.
package stream

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/slotline/slotline/internal/frame"
	"github.com/slotline/slotline/internal/reservation"
)

// Item is one event, encoded once for every subscriber.
type Item struct {
	Seq     int64
	EventID string
	Type    string
	QueueID string
	// Owner is the client the event is about (reservation.Event.Owner).
	Owner string
	// JSON is the event as the stream sends it (Type 1 payload); it
	// aliases Frame.
	JSON []byte
	// Frame is the Type 1 frame of JSON, built once for every subscriber;
	// its timestamp is when the hub read the event.
	Frame []byte
	// At is when the hub read it (to measure delivery lag).
	At time.Time
}

// Log is the event log a Hub tails.
type Log interface {
	LastEventSeq(ctx context.Context) (int64, error)
	FindStoredEvents(ctx context.Context, after int64, limit int) ([]reservation.StoredEvent, error)
	// ListenEvents calls wake each time any process commits events, until
	// ctx is done, with the log's last sequence number then when it is
	// known (0 when not); and wake(0) each time it has started to listen
	// (at first, and again after a lost connection), so that the head read
	// then misses no commit made before.
	ListenEvents(ctx context.Context, wake func(seq int64)) error
}

// Hub tails the event log.
type Hub struct {
	store  Log
	logger *slog.Logger
	size   int

	// Linger is how long the hub keeps listening for the log's commits
	// after its last reader has gone (0 means DefaultLinger); set it before
	// Run.
	Linger time.Duration
	// pollEvery is the safety poll's period while listening (0: a second),
	// longer in tests that must see the notifications work.
	pollEvery time.Duration

	mu      sync.RWMutex
	ring    []*Item // ring[i].Seq == first+i
	first   int64   // seq of ring[0]; 0 when empty
	head    int64   // last seq read
	changed chan struct{}
	ready   chan struct{}
	// readers counts the connections reading from the hub: with none, the
	// hub only follows the log's head and keeps no events (the memory and
	// the encoding of a ring are spent only when there is fan-out to do).
	readers atomic.Int64
	// peak is the most readers since the last memory release (see
	// ReleaseMemory), and left is poked each time a reader detaches.
	peak atomic.Int64
	left chan struct{}
	// turn is poked when the readers go from none to some or back, for
	// Run to start or stop its listener.
	turn chan struct{}
	// live says that the hub's head follows the log: its listener is in
	// place and the head was read since. While it is not, Head reads the
	// log's head itself.
	live atomic.Bool
}

// DefaultRing is how many events a hub keeps by default: each costs about
// 1 KiB encoded, and the Go heap's headroom doubles it (about 3.7 MiB of
// resident memory per 1,000 events, measured), while a subscriber that
// falls further behind than the ring costs a database read of its own.
const DefaultRing = 2048

// DefaultLinger is how long a hub keeps listening after its last reader
// has gone by default: a subscriber that reconnects at once finds the
// listener in place.
const DefaultLinger = 30 * time.Second

// NewHub returns a hub keeping the last size events in memory (0 means
// DefaultRing) while it has subscribers, and none while it has none; older
// ones are read from the database when a subscriber is that far behind.
func NewHub(store Log, logger *slog.Logger, size int) *Hub {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if size <= 0 {
		size = DefaultRing
	}
	return &Hub{store: store, logger: logger, size: size, changed: make(chan struct{}), ready: make(chan struct{}),
		left: make(chan struct{}, 1), turn: make(chan struct{}, 1)}
}

// listener is one run of Log.ListenEvents, owned by Hub.Run.
type listener struct {
	cancel context.CancelFunc
	done   chan struct{} // closed when ListenEvents has returned
	// up is set at the listener's first wake: ListenEvents is listening.
	up atomic.Bool
}

// Run tails the log until ctx is done. It listens for the commits of every
// process (Log.ListenEvents) only while the hub has readers, and for Linger
// after the last has gone; meanwhile Head reads the log's head when asked.
// It returns once everything it started has ended.
func (h *Hub) Run(ctx context.Context) error {
	head, err := h.store.LastEventSeq(ctx)
	if err != nil {
		return fmt.Errorf("stream: read the log head: %w", err)
	}
	h.mu.Lock()
	h.head = head
	h.mu.Unlock()
	close(h.ready)
	linger := h.Linger
	if linger <= 0 {
		linger = DefaultLinger
	}
	every := h.pollEvery
	if every <= 0 {
		every = time.Second
	}
	wake := make(chan struct{}, 1)
	// The last sequence number the notifications told, kept until the
	// next fetch: a hub without readers follows the head with it, without
	// a query per commit (of every process). A wake that tells none
	// (SQLite's, or the listener's first) makes the next fetch read it.
	var told atomic.Int64
	var untold atomic.Bool
	poke := func(seq int64) {
		if seq <= 0 {
			untold.Store(true)
		}
		for {
			if cur := told.Load(); cur >= seq || told.CompareAndSwap(cur, seq) {
				break
			}
		}
		select {
		case wake <- struct{}{}:
		default:
		}
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var l *listener           // nil while the hub does not listen
	var ended <-chan struct{} // l.done until it is seen closed
	var poll *time.Ticker     // a safety net while listening: notifications can be lost
	var pollC <-chan time.Time
	// resync says that the hub's head may have been left behind while it
	// did not listen: the next fetch starts its ring at the log's head.
	var resync bool
	start := func() {
		lctx, lcancel := context.WithCancel(ctx)
		nl := &listener{cancel: lcancel, done: make(chan struct{})}
		l, ended = nl, nl.done
		wg.Go(func() {
			defer close(nl.done)
			err := h.store.ListenEvents(lctx, func(seq int64) {
				nl.up.Store(true)
				poke(seq)
			})
			if err != nil && lctx.Err() == nil {
				h.logger.WarnContext(ctx, "stream: listen for events", "err", err)
			}
		})
		poll = time.NewTicker(every)
		pollC = poll.C
		resync = true
		h.logger.DebugContext(ctx, "stream: listening for events")
	}
	stop := func() {
		if l == nil {
			return
		}
		h.live.Store(false) // from now on Head reads the head
		l.cancel()
		<-l.done
		l, ended = nil, nil
		poll.Stop()
		poll, pollC = nil, nil
		h.logger.DebugContext(ctx, "stream: stopped listening for events")
	}
	defer stop()
	idle := time.NewTimer(linger) // runs while listening without readers
	idle.Stop()
	defer idle.Stop()
	var idleC <-chan time.Time
	for {
		if h.readers.Load() > 0 {
			if idleC != nil {
				idle.Stop()
				idleC = nil
			}
			if l == nil {
				start()
			}
		} else if l != nil && idleC == nil {
			idle.Reset(linger)
			idleC = idle.C
		}
		var hint int64
		select {
		case <-ctx.Done():
			return nil
		case <-h.turn:
			continue
		case <-idleC:
			idleC = nil
			if h.readers.Load() == 0 {
				stop()
			}
			continue
		case <-ended:
			// ListenEvents ended on its own: the poll goes on until the
			// listener is stopped, and Head reads the head meanwhile.
			ended = nil
			h.live.Store(false)
			continue
		case <-wake:
			hint = told.Swap(0)
			if untold.Swap(false) {
				hint = 0 // read the head
			} else if hint == 0 {
				continue // its number an earlier fetch took: nothing new
			}
		case <-pollC:
			// read the head: a notification may have been lost
		}
		// A fetch that reads the head after the listener is in place
		// leaves the hub's head following the log.
		following := hint == 0 && l != nil && ended != nil && l.up.Load()
		err := h.fetch(ctx, hint, resync)
		if err != nil && ctx.Err() == nil {
			h.logger.WarnContext(ctx, "stream: read events", "err", err)
		}
		if err == nil {
			resync = false
			if following {
				h.live.Store(true)
			}
		}
	}
}

// fetch reads every new event into the ring and wakes the subscribers;
// told is the log's head as a notification told it (0: unknown). With
// resync, the ring starts again at the log's head, not at a head the hub
// may have left behind while it did not listen (the readers' older events
// come from the database).
func (h *Hub) fetch(ctx context.Context, told int64, resync bool) error {
	if h.readers.Load() == 0 || resync {
		if err := h.skip(ctx, told); err != nil || h.readers.Load() == 0 {
			return err
		}
	}
	for {
		h.mu.RLock()
		after := h.head
		h.mu.RUnlock()
		evs, err := h.store.FindStoredEvents(ctx, after, 1000)
		if err != nil || len(evs) == 0 {
			return err
		}
		items := encodeAll(evs, time.Now())
		h.mu.Lock()
		for _, it := range items {
			if it.Seq <= h.head {
				continue // Head moved the head past it meanwhile
			}
			if it.Seq != h.head+1 {
				h.mu.Unlock()
				return fmt.Errorf("stream: event %d follows %d", it.Seq, h.head)
			}
			h.ring = append(h.ring, it)
			h.head = it.Seq
		}
		if len(h.ring) > h.size {
			h.ring = append([]*Item(nil), h.ring[len(h.ring)-h.size:]...)
		}
		if len(h.ring) > 0 {
			h.first = h.ring[0].Seq
		}
		close(h.changed)
		h.changed = make(chan struct{})
		h.mu.Unlock()
		if len(evs) < 1000 {
			return nil
		}
	}
}

// skip follows the log's head without reading its events, for a hub that
// nobody reads (or one that starts its ring again): the ring empties, and
// the first reader's events come from the database until the ring fills
// again from the head on. The head is told's when a notification told it,
// else read.
func (h *Hub) skip(ctx context.Context, told int64) error {
	last := told
	if last <= 0 {
		var err error
		if last, err = h.store.LastEventSeq(ctx); err != nil {
			return err
		}
	}
	h.advance(last, true) // no reader, or a new start: the ring's memory goes
	return nil
}

// advance moves the hub's head forward to last without reading the events
// up to it, dropping the ring, which must end at the head (and with drop
// set, dropping it anyway): the readers of those events read them from the
// database.
func (h *Hub) advance(last int64, drop bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if drop || last > h.head {
		h.ring, h.first = nil, 0
	}
	if last <= h.head {
		return
	}
	h.head = last
	close(h.changed)
	h.changed = make(chan struct{})
}

// encodeAll renders events as the stream sends them.
func encodeAll(evs []reservation.StoredEvent, at time.Time) []*Item {
	items := make([]*Item, len(evs))
	var scratch []byte
	for i := range evs {
		items[i], scratch = encode(&evs[i], at, scratch)
	}
	return items
}

// encode makes ev's frame, its JSON built from the stored subject (no
// decoding and encoding of the reservation again), in scratch, which it
// returns for the next event.
func encode(ev *reservation.StoredEvent, at time.Time, scratch []byte) (*Item, []byte) {
	scratch = ev.AppendJSONWithSubject(scratch[:0], ev.Subject)
	f := frame.Append(make([]byte, 0, len(scratch)+32), frame.Frame{Type: frame.TypeUpdate, Payload: scratch, Timestamp: at.UnixMilli()})
	// The ring keeps one copy of the JSON: the frame's payload.
	var payload []byte
	if fr, err := frame.Decode(f, 0); err == nil {
		payload = fr.Payload
	} else {
		payload = bytes.Clone(scratch) // cannot happen: Append makes frames Decode reads
	}
	return &Item{Seq: ev.Seq, EventID: ev.ID, Type: ev.Type, QueueID: ev.QueueID, Owner: ev.Owner, JSON: payload, Frame: f, At: at}, scratch
}

// Attach counts a reader of Read until the returned function is called:
// while a hub has readers it listens for every process's commits and keeps
// the newest events in its ring, so that they read from memory rather than
// from the database.
func (h *Hub) Attach() (detach func()) {
	n := h.readers.Add(1)
	if n == 1 {
		h.poke()
	}
	for {
		if p := h.peak.Load(); p >= n || h.peak.CompareAndSwap(p, n) {
			break
		}
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			if h.readers.Add(-1) == 0 {
				h.poke()
			}
			select {
			case h.left <- struct{}{}:
			default:
			}
		})
	}
}

// poke tells Run that the readers went from none to some or back.
func (h *Hub) poke() {
	select {
	case h.turn <- struct{}{}:
	default:
	}
}

// Head returns the last sequence number read, after Run has started. While
// the hub does not follow the log (it is not listening, or its listener is
// not in place yet), it reads the log's head first and moves the hub's to
// it.
func (h *Hub) Head(ctx context.Context) (int64, error) {
	if err := h.started(ctx); err != nil {
		return 0, err
	}
	if !h.live.Load() {
		last, err := h.store.LastEventSeq(ctx)
		if err != nil {
			return 0, fmt.Errorf("stream: read the log head: %w", err)
		}
		h.advance(last, false)
	}
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.head, nil
}

// started waits for Run to have read the log's head.
func (h *Hub) started(ctx context.Context) error {
	select {
	case <-h.ready:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Read returns up to max events after seq after, waiting until there is at
// least one or ctx is done. Its caller is attached (Attach): a hub without
// readers does not listen for new events.
func (h *Hub) Read(ctx context.Context, after int64, max int) ([]*Item, error) {
	if err := h.started(ctx); err != nil {
		return nil, err
	}
	for {
		out, changed, err := h.next(ctx, after, max)
		if err != nil || len(out) > 0 {
			return out, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-changed:
		}
	}
}

// next returns up to max events after seq after without waiting for new
// ones; with none, it returns a channel closed when more arrive. Events
// older than the ring are read from the database.
func (h *Hub) next(ctx context.Context, after int64, max int) ([]*Item, <-chan struct{}, error) {
	h.mu.RLock()
	head, first, changed := h.head, h.first, h.changed
	var out []*Item
	if after < head && first != 0 && after+1 >= first {
		i := int(after + 1 - first)
		j := min(i+max, len(h.ring))
		out = append(out, h.ring[i:j]...)
	}
	h.mu.RUnlock()
	if len(out) > 0 || after >= head {
		return out, changed, nil
	}
	// Older than the ring: read the database.
	evs, err := h.store.FindStoredEvents(ctx, after, max)
	if err != nil {
		return nil, nil, err
	}
	return encodeAll(evs, time.Now()), changed, nil
}
