package syncer

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/slotline/slotline/internal/booking"
	"github.com/slotline/slotline/internal/genesys"
	"github.com/slotline/slotline/internal/reservation"
)

// DefaultLookupWindow is how long a lookup for an earlier create waits for
// others to share its analytics query (Config.LookupWindow).
const DefaultLookupWindow = 2 * time.Second

// lookupMaxNumbers bounds the numbers in one analytics query; a full batch
// takes no more lookups.
const lookupMaxNumbers = 25

// lookup is one reservation looking for the callback an earlier attempt may
// have created.
type lookup struct {
	ctx   context.Context // the caller's; the query runs while one is live
	res   *reservation.Reservation
	done  chan struct{}
	found *reservation.SyncResult
	err   error
}

// errLookupAborted is what the lookups of a batch get when its search ended
// without an answer (a panic): never "not found", which would let a create
// be repeated.
var errLookupAborted = errors.New("syncer: the search for an earlier create ended without an answer")

// lookupBatch gathers the lookups of one Genesys queue for one query.
type lookupBatch struct {
	items []*lookup
	runAt time.Time
}

// lookups batches the searches for earlier creates: after a 5xx, a timeout
// or a lost response, a create must not be repeated before Genesys has been
// searched for the callback (our reservation id is in its data). One
// analytics query serves every reservation of a queue that needed one within
// the window, instead of one query each: during a burst with faults these
// queries are the calls that do not create anything.
//
// Every lookup waits at least half the window before its search runs: a
// callback created a moment ago may not be indexed yet, or a create that
// timed out may still be committing. A lookup joins the open batch only if
// that batch runs late enough, and has room; else it opens the next one.
type lookups struct {
	r *Runner // its Config.LookupWindow is the window

	mu   sync.Mutex
	open map[string]*lookupBatch // by Genesys queue id
}

// find returns the callback holding res's id, or nil when Genesys has none.
// The caller that opens a batch runs its search when the window ends; the
// others wait for it.
func (ls *lookups) find(ctx context.Context, q *booking.Queue, res *reservation.Reservation) (*reservation.SyncResult, error) {
	l := &lookup{ctx: ctx, res: res, done: make(chan struct{})}
	now, window := time.Now(), ls.r.cfg.LookupWindow
	ls.mu.Lock()
	b := ls.open[q.GenesysQueueID]
	first := b == nil || len(b.items) >= lookupMaxNumbers || b.runAt.Sub(now) < window/2
	if first {
		b = &lookupBatch{runAt: now.Add(window)}
		ls.open[q.GenesysQueueID] = b
	}
	b.items = append(b.items, l)
	ls.mu.Unlock()

	if first {
		ls.lead(ctx, q, b)
	}
	select {
	case <-l.done:
		return l.found, l.err
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
}

// lead waits for b's time and runs its search. A leader whose context ends
// first still waits for the others of its batch (their searches must not
// come early); alone, it ends the batch at once.
func (ls *lookups) lead(ctx context.Context, q *booking.Queue, b *lookupBatch) {
	t := time.NewTimer(time.Until(b.runAt))
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		ls.mu.Lock()
		alone := len(b.items) == 1
		if alone && ls.open[q.GenesysQueueID] == b {
			delete(ls.open, q.GenesysQueueID)
		}
		ls.mu.Unlock()
		if !alone {
			<-t.C
		}
	}
	ls.mu.Lock()
	if ls.open[q.GenesysQueueID] == b {
		delete(ls.open, q.GenesysQueueID)
	}
	items := b.items
	ls.mu.Unlock()
	ls.run(ctx, q, items)
}

// run makes one analytics query for the batch, reads the candidates no
// other reservation holds, and gives each lookup its callback, nil or the
// error. The search runs while any caller of the batch still waits: the
// one that started it may have given up.
func (ls *lookups) run(ctx context.Context, q *booking.Queue, items []*lookup) {
	err := errLookupAborted
	found := make(map[string]*reservation.SyncResult)
	defer func() {
		for _, l := range items {
			if l.found = found[l.res.ID]; l.found == nil {
				l.err = err
			}
			close(l.done)
		}
	}()
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	live := len(items)
	var mu sync.Mutex
	for _, l := range items {
		stop := context.AfterFunc(l.ctx, func() {
			mu.Lock()
			defer mu.Unlock()
			if live--; live == 0 {
				cancel()
			}
		})
		defer stop()
	}
	err = ls.search(rctx, q, items, found)
}

// search fills found (reservation id → callback) for the lookups.
func (ls *lookups) search(ctx context.Context, q *booking.Queue, items []*lookup, found map[string]*reservation.SyncResult) error {
	want := make(map[string]bool, len(items))
	var numbers []string
	seen := make(map[string]bool)
	from := items[0].res.CreatedAt
	for _, l := range items {
		want[l.res.ID] = true
		if n := l.res.CallbackNumber; !seen[n] {
			seen[n] = true
			numbers = append(numbers, n)
		}
		if l.res.CreatedAt.Before(from) {
			from = l.res.CreatedAt
		}
	}
	ids, err := ls.r.cfg.Genesys.FindCallbacks(ctx, genesys.FindQuery{
		QueueID: q.GenesysQueueID, CallbackNumbers: numbers,
		From: from.Add(-time.Hour), To: time.Now().Add(time.Hour),
	})
	if err != nil {
		return err
	}
	for _, id := range ids {
		if len(found) == len(want) {
			return nil
		}
		// A callback a reservation outside the batch holds (the customer
		// booked before) is not one looked for: no need to spend a call
		// reading it.
		other, err := ls.r.cfg.Store.FindReservationByConversation(ctx, id)
		if err == nil && !want[other.ID] {
			continue
		}
		if err != nil && reservation.ErrorCode(err) != reservation.ENOTFOUND {
			return err
		}
		conv, err := ls.r.cfg.Genesys.GetCallbackConversation(ctx, id)
		if genesys.IsNotFound(err) {
			continue
		}
		if err != nil {
			return err
		}
		for _, p := range conv.Participants {
			resID := p.Attributes[DataKey]
			if !want[resID] || found[resID] != nil {
				continue
			}
			out := &reservation.SyncResult{ConversationID: conv.ID}
			if at := scheduledAt(conv); at != nil {
				out.ScheduledAt = *at
			}
			found[resID] = out
			break
		}
	}
	return nil
}
