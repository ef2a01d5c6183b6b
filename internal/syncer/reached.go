package syncer

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/slotline/slotline/internal/genesys"
	"github.com/slotline/slotline/internal/reservation"
)

// ReachedObserver is an Observer that also counts the reservations
// canceled because their customer got through to an agent on another call
// (metric slotline_customer_reached_cancels_total). The sync calls it when
// the configured Observer implements it.
type ReachedObserver interface {
	// CustomerReachedCancel counts one such cancel on queue (the Slotline
	// queue id).
	CustomerReachedCancel(queue string)
}

// inboundReach is what an inbound call of a customer says: who called
// (their number in the forms it may match a reservation in) and when an
// agent of the queue first connected to them.
type inboundReach struct {
	numbers []string
	at      time.Time
}

// reachOf reads an inbound voice conversation of Genesys queue queueID
// (an event of its conversations topic, or GET /api/v2/conversations/{id}):
// the customer's number (the ani, else the address, of the customer
// participant) and the first connectedTime of an agent of that queue. It
// reports false for anything else: a conversation with a callback
// communication (a callback, with the voice call it places to the
// customer, is never "another interaction"), a call that is not inbound,
// no customer number, or no agent of the queue ever connected (one only
// alerted, or a call abandoned in the queue, reached nobody).
func reachOf(c *genesys.Conversation, queueID string) (inboundReach, bool) {
	var out inboundReach
	if hasCallback(c) {
		return out, false
	}
	var number string
	inbound := false
	for i := range c.Participants {
		p := &c.Participants[i]
		switch strings.ToLower(p.Purpose) {
		case "customer", "external":
			if number == "" {
				number = p.Ani
				if number == "" {
					number = p.Address
				}
			}
			for _, call := range p.Calls {
				inbound = inbound || strings.EqualFold(call.Direction, "inbound")
			}
		case "agent", "user":
			if p.QueueID != queueID {
				continue
			}
			if at := connectedAt(p); at != nil && (out.at.IsZero() || at.Before(out.at)) {
				out.at = *at
			}
		}
	}
	out.numbers = numberForms(number)
	return out, inbound && !out.at.IsZero() && len(out.numbers) > 0
}

// numberForms returns the E.164 forms a Genesys address may stand for:
// "tel:+14155550100", "sip:+14155550100@host;user=phone" and
// "+1 415-555-0100" all give "+14155550100"; digits without a plus give
// both "+…" and the digits as they are (which form Genesys writes an
// inbound call's ani and address in is UNCONFIRMED, as for the callback
// numbers analytics holds).
func numberForms(addr string) []string {
	s := strings.TrimSpace(addr)
	if i := strings.IndexByte(s, ':'); i >= 0 && i <= 4 {
		s = s[i+1:] // tel:, sip:, sips:
	}
	if i := strings.IndexAny(s, "@;"); i >= 0 {
		s = s[:i]
	}
	plus := strings.HasPrefix(s, "+")
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == ' ' || r == '-' || r == '.' || r == '(' || r == ')' || r == '+':
		default:
			return nil // not a phone number (a user, a queue)
		}
	}
	digits := b.String()
	if len(digits) < 7 || len(digits) > 15 {
		return nil
	}
	if plus {
		return []string{"+" + digits}
	}
	return []string{"+" + digits, digits}
}

// reached cancels, with reason customer_reached, every scheduled
// reservation of the same number on a Slotline queue of Genesys queue
// genesysQueueID whose slot starts after the agent connected to c and no
// later than the queue's cancel_if_reached_within after that. The
// cancel then goes to Genesys like any other (the sync disconnects the
// callback and reads it back); being a cancel, not a missed callback, it
// sends no SMS. An in-progress reservation is left alone. Applying the
// same conversation again changes nothing.
func (r *Runner) reached(ctx context.Context, genesysQueueID string, c *genesys.Conversation) error {
	reach, ok := reachOf(c, genesysQueueID)
	if !ok {
		return nil
	}
	var errs []error
	for _, q := range r.cfg.Queues {
		if q.GenesysQueueID != genesysQueueID || q.CancelIfReachedWithin <= 0 {
			continue
		}
		within := q.CancelIfReachedWithin
		for _, n := range reach.numbers {
			found, err := r.cfg.Store.FindReachable(ctx, q.ID, n, reach.at, reach.at.Add(within))
			if err != nil {
				errs = append(errs, err)
				continue
			}
			for _, res := range found {
				if res.Sync.ConversationID == c.ID {
					continue // the callback's own conversation
				}
				w := reservation.Write{Actor: "genesys", Origin: reservation.OriginGenesys}
				_, changed, err := r.cfg.Store.CancelReached(ctx, res.ID, reach.at, within, w)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				if !changed {
					continue
				}
				if o, ok := r.cfg.Observer.(ReachedObserver); ok {
					o.CustomerReachedCancel(q.ID)
				}
				r.logger.InfoContext(ctx, "customer got through on another call: reservation canceled",
					"reservation_id", res.ID, "queue_id", q.ID, "conversation_id", c.ID,
					"callback_number", reservation.MaskedNumber(res.CallbackNumber),
					"connected_at", reach.at, "slot_start", res.Slot.Start)
			}
		}
	}
	return errors.Join(errs...)
}

// queueOfTopic returns the Genesys queue id of a conversations topic,
// v2.routing.queues.{id}.conversations.
func queueOfTopic(topic string) string {
	id, _ := strings.CutPrefix(topic, "v2.routing.queues.")
	id, _ = strings.CutSuffix(id, ".conversations")
	return id
}

// inboundFinder is the Genesys call reconciliation uses to find the
// inbound calls of customers with a callback due soon (*genesys.Client).
type inboundFinder interface {
	FindInboundCalls(ctx context.Context, q genesys.InboundQuery) ([]string, error)
}

// reachable gathers, during a reconciliation pass, the numbers of the
// scheduled reservations an inbound call answered by now could cancel:
// those whose slot starts within their queue's cancel_if_reached_within
// from now, by Genesys queue.
type reachable struct {
	now     time.Time
	numbers map[string]map[string]bool // Genesys queue id → numbers
	within  map[string]time.Duration   // Genesys queue id → its longest window
}

func (r *Runner) newReachable(now time.Time) *reachable {
	return &reachable{now: now, numbers: map[string]map[string]bool{}, within: map[string]time.Duration{}}
}

// note adds res if an inbound call could cancel it.
func (rs *reachable) note(r *Runner, res *reservation.Reservation) {
	q := r.queues[res.QueueID]
	if q == nil || q.GenesysQueueID == "" || q.CancelIfReachedWithin <= 0 || res.Status != reservation.StatusScheduled ||
		!res.Slot.Start.After(rs.now) || res.Slot.Start.Sub(rs.now) > q.CancelIfReachedWithin {
		return
	}
	g := q.GenesysQueueID
	if rs.numbers[g] == nil {
		rs.numbers[g] = map[string]bool{}
	}
	rs.numbers[g][res.CallbackNumber] = true
	rs.within[g] = max(rs.within[g], q.CancelIfReachedWithin)
}

// inboundBatch is how many numbers one analytics query asks for (two
// predicates each).
const inboundBatch = 25

// reconcileReached finds the inbound calls the listener may have missed
// (it was down, or a process took over): for the numbers rs gathered, one
// analytics query per queue and 25 numbers over the queue's window up to
// now, then a read of each call found, judged as the listener judges an
// event (reached). A call already applied changes nothing.
func (r *Runner) reconcileReached(ctx context.Context, rs *reachable) {
	finder, ok := r.cfg.Genesys.(inboundFinder)
	if !ok {
		return
	}
	read := map[string]bool{}
	for g, set := range rs.numbers {
		numbers := make([]string, 0, len(set))
		for n := range set {
			numbers = append(numbers, n)
		}
		for len(numbers) > 0 {
			batch := numbers[:min(inboundBatch, len(numbers))]
			numbers = numbers[len(batch):]
			// Genesys takes at most 31 days with filters.
			from := rs.now.Add(-min(rs.within[g], 30*24*time.Hour))
			ids, err := finder.FindInboundCalls(ctx, genesys.InboundQuery{Numbers: batch, From: from, To: rs.now.Add(time.Minute)})
			if err != nil {
				r.logger.WarnContext(ctx, "reconcile: find inbound calls", "genesys_queue_id", g, "err", err)
				continue
			}
			for _, id := range ids {
				if read[g+"/"+id] {
					continue
				}
				read[g+"/"+id] = true
				if err := r.yieldToSync(ctx); err != nil {
					return
				}
				c, err := r.cfg.Genesys.GetConversation(ctx, id)
				if err != nil {
					if !genesys.IsNotFound(err) {
						r.logger.WarnContext(ctx, "reconcile: read inbound call", "conversation_id", id, "err", err)
					}
					continue
				}
				if err := r.reached(ctx, g, c); err != nil {
					r.logger.WarnContext(ctx, "reconcile: customer reached", "conversation_id", id, "err", err)
				}
			}
		}
	}
}
