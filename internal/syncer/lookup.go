package syncer

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/slotline/slotline/internal/genesys"
	"github.com/slotline/slotline/internal/reservation"
	"github.com/slotline/slotline/internal/storage"
)

// DefaultLookupWindow is how long a lookup for an earlier create waits for
// others to share its analytics query (Config.LookupWindow).
const DefaultLookupWindow = 2 * time.Second

// lookupMaxNumbers bounds the numbers in one analytics query; a batch that
// reaches it runs at once.
const lookupMaxNumbers = 25

// lookup is one reservation looking for the callback an earlier attempt may
// have created.
type lookup struct {
	ctx   context.Context // the caller's; the query runs while one is live
	res   *reservation.Reservation
	done  chan struct{}
	found *storage.SyncResult
	err   error
}

// errLookupAborted is what the lookups of a batch get when its search ended
// without an answer (a panic): never "not found", which would let a create
// be repeated.
var errLookupAborted = errors.New("syncer: the search for an earlier create ended without an answer")

// lookupBatch gathers the lookups of one Genesys queue for one query.
type lookupBatch struct {
	items []*lookup
	full  chan struct{} // closed when the batch reaches lookupMaxNumbers
}

// lookups batches the searches for earlier creates: after a 5xx, a timeout
// or a lost response, a create must not be repeated before Genesys has been
// searched for the callback (our reservation id is in its data). One
// analytics query serves every reservation of a queue that needed one within
// the window, instead of one query each: during a burst with faults these
// queries are the calls that do not create anything.
type lookups struct {
	r      *Runner
	window time.Duration

	mu   sync.Mutex
	open map[string]*lookupBatch // by Genesys queue id
}

// find returns the callback holding res's id, or nil when Genesys has none.
// The first caller of a batch runs its query after the window (or when the
// batch is full); the others wait for it.
func (ls *lookups) find(ctx context.Context, q *Queue, res *reservation.Reservation) (*storage.SyncResult, error) {
	l := &lookup{ctx: ctx, res: res, done: make(chan struct{})}
	ls.mu.Lock()
	b := ls.open[q.GenesysQueueID]
	first := b == nil
	if first {
		b = &lookupBatch{full: make(chan struct{})}
		ls.open[q.GenesysQueueID] = b
	}
	b.items = append(b.items, l)
	if len(b.items) >= lookupMaxNumbers {
		delete(ls.open, q.GenesysQueueID)
		close(b.full)
	}
	ls.mu.Unlock()

	if first {
		t := time.NewTimer(ls.window)
		select {
		case <-t.C:
		case <-b.full:
		case <-ctx.Done():
		}
		t.Stop()
		ls.mu.Lock()
		if ls.open[q.GenesysQueueID] == b {
			delete(ls.open, q.GenesysQueueID)
		}
		ls.mu.Unlock()
		ls.run(ctx, q, b.items)
	}
	select {
	case <-l.done:
		return l.found, l.err
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
}

// run makes one analytics query for the batch, reads the candidates no
// other reservation holds, and gives each lookup its callback, nil or the
// error. The search runs while any caller of the batch still waits: the
// one that started it may have given up.
func (ls *lookups) run(ctx context.Context, q *Queue, items []*lookup) {
	err := errLookupAborted
	found := make(map[string]*storage.SyncResult)
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
func (ls *lookups) search(ctx context.Context, q *Queue, items []*lookup, found map[string]*storage.SyncResult) error {
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
			out := &storage.SyncResult{ConversationID: conv.ID}
			if at := scheduledAt(conv); at != nil {
				out.ScheduledAt = *at
			}
			found[resID] = out
			break
		}
	}
	return nil
}
