package console

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/slotline/slotline/internal/reservation"
	"github.com/slotline/slotline/internal/stream"
)

// Feed is the event log as the console's pages follow it: the process's
// stream hub (stream.Hub).
type Feed interface {
	Head(ctx context.Context) (int64, error)
	Read(ctx context.Context, after int64, max int) ([]*stream.Item, error)
	Attach() (detach func())
}

// feedHeartbeat is how often an idle feed sends a comment, so that proxies
// and the browser keep the connection.
const feedHeartbeat = 25 * time.Second

// FeedEvent is one event as the console's feed sends it (the data of a
// server-sent event whose id is Seq): what an operator's page shows, with
// the customer's number masked.
type FeedEvent struct {
	Seq           int64  `json:"seq"`
	ID            string `json:"event_id"`
	Type          string `json:"type"`
	OccurredAt    string `json:"occurred_at"`
	Origin        string `json:"origin,omitempty"`
	Actor         string `json:"actor,omitempty"`
	ReservationID string `json:"reservation_id,omitempty"`
	QueueID       string `json:"queue_id,omitempty"`
	Kind          string `json:"kind,omitempty"`
	Reason        string `json:"reason,omitempty"`
	// The reservation's state after the event (reservation events only).
	Status       string `json:"status,omitempty"`
	Outcome      string `json:"outcome,omitempty"`
	SlotStart    string `json:"slot_start,omitempty"`
	SlotEnd      string `json:"slot_end,omitempty"`
	TimeZone     string `json:"timezone,omitempty"`
	Number       string `json:"number,omitempty"` // masked
	CancelReason string `json:"cancel_reason,omitempty"`
}

// streamEvent is the part of the stream's event JSON the feed reads.
type streamEvent struct {
	Seq           int64  `json:"seq"`
	ID            string `json:"event_id"`
	Type          string `json:"type"`
	OccurredAt    string `json:"occurred_at"`
	Origin        string `json:"origin"`
	Actor         string `json:"actor"`
	ReservationID string `json:"reservation_id"`
	QueueID       string `json:"queue_id"`
	Kind          string `json:"kind"`
	Reason        string `json:"reason"`
	Reservation   *struct {
		Status         string `json:"status"`
		Outcome        string `json:"outcome"`
		CancelReason   string `json:"cancel_reason"`
		CallbackNumber string `json:"callback_number"`
		TimeZone       string `json:"timezone"`
		TimeSlot       struct {
			Start string `json:"start"`
			End   string `json:"end"`
		} `json:"time_slot"`
	} `json:"reservation"`
}

// feedEvent converts a stream item; ok is false for one that does not
// decode (cannot happen: the hub encoded it).
func feedEvent(it *stream.Item) (FeedEvent, bool) {
	var e streamEvent
	if err := json.Unmarshal(it.JSON, &e); err != nil {
		return FeedEvent{}, false
	}
	f := FeedEvent{Seq: it.Seq, ID: e.ID, Type: e.Type, OccurredAt: e.OccurredAt, Origin: e.Origin, Actor: e.Actor,
		ReservationID: e.ReservationID, QueueID: e.QueueID, Kind: e.Kind, Reason: e.Reason}
	if r := e.Reservation; r != nil {
		f.Status, f.Outcome, f.CancelReason, f.TimeZone = r.Status, r.Outcome, r.CancelReason, r.TimeZone
		f.SlotStart, f.SlotEnd = r.TimeSlot.Start, r.TimeSlot.End
		f.Number = reservation.MaskNumber(r.CallbackNumber)
	}
	return f, true
}

// handleEvents is GET /console/events: the event log as server-sent
// events (text/event-stream), from the event after Last-Event-ID (or
// ?after=) or else from now on, of the operator's queues only, filtered
// by ?queue= and ?type= (each repeatable; a type ending in "." is a
// prefix: "reservation."). Each event is a message (no event name) whose
// data is a FeedEvent. The feed
// ends when the session would expire; the browser's reconnect then meets
// the sign-in check again.
func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) {
	sess, _ := fromContext(r.Context())
	if s.feed == nil {
		s.plain(w, r, http.StatusNotFound, "notfound")
		return
	}
	q := r.URL.Query()
	queues, types := q["queue"], q["type"]
	for _, id := range queues {
		if !s.queueExists(id) || !sess.op.CanSee(id) {
			s.plain(w, r, http.StatusNotFound, "notfound")
			return
		}
	}
	ctx := r.Context()
	after := int64(-1)
	for _, v := range []string{r.Header.Get("Last-Event-ID"), q.Get("after")} {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 {
			after = n
			break
		}
	}
	defer s.feed.Attach()()
	if after < 0 {
		head, err := s.feed.Head(ctx)
		if err != nil {
			return
		}
		after = head
	}
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{}) // the feed lasts; each write below sets its own
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	// The browser waits this long before it reconnects after the feed ends.
	if _, err := fmt.Fprintf(w, "retry: 3000\n: head %d\n\n", after); err != nil || rc.Flush() != nil {
		return
	}
	ctx, cancel := context.WithDeadline(ctx, sess.ends)
	defer cancel()
	wanted := func(e *FeedEvent) bool {
		if e.QueueID != "" && !sess.op.CanSee(e.QueueID) || e.QueueID == "" && len(sess.op.Queues) > 0 {
			return false
		}
		if len(queues) > 0 && !slices.Contains(queues, e.QueueID) {
			return false
		}
		if len(types) == 0 {
			return true
		}
		return slices.ContainsFunc(types, func(t string) bool {
			return t == e.Type || len(t) > 0 && t[len(t)-1] == '.' && len(e.Type) > len(t) && e.Type[:len(t)] == t
		})
	}
	for {
		rctx, rcancel := context.WithTimeout(ctx, feedHeartbeat)
		items, err := s.feed.Read(rctx, after, 256)
		rcancel()
		if ctx.Err() != nil {
			return
		}
		_ = rc.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if err != nil { // the heartbeat's wait ended (or a read failed: try again after it)
			if _, err := fmt.Fprint(w, ": ping\n\n"); err != nil || rc.Flush() != nil {
				return
			}
			continue
		}
		for _, it := range items {
			after = it.Seq
			e, ok := feedEvent(it)
			if !ok || !wanted(&e) {
				continue
			}
			b, _ := json.Marshal(&e)
			if _, err := fmt.Fprintf(w, "id: %d\ndata: %s\n\n", e.Seq, b); err != nil {
				return
			}
		}
		// The position moves past filtered events too, for a reconnect: an
		// id without data sets the browser's Last-Event-ID and dispatches
		// nothing.
		if _, err := fmt.Fprintf(w, "id: %d\n\n", after); err != nil || rc.Flush() != nil {
			return
		}
	}
}
