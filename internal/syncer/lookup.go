package syncer

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/slotline/slotline/internal/booking"
	"github.com/slotline/slotline/internal/genesys"
	"github.com/slotline/slotline/internal/reservation"
)

// DefaultLookupWindow is how long a lookup for an earlier create waits for
// others to share its analytics query (Config.LookupWindow). A lookup holds
// its sync worker while it waits, and a lost create is looked for several
// times (until the lost-create window has passed): a short window keeps
// the workers for the creates.
const DefaultLookupWindow = 500 * time.Millisecond

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
	// searched is when the search began, on the Runner's clock: a callback
	// created long enough before it was indexed by then.
	searched time.Time
	err      error
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
// searched for the callback (our reservation id is in its data), again and
// again until analytics has surely indexed it (Config.LostCreateWindow;
// Runner.lostSearch). One analytics query serves every reservation of a
// queue that needed one within the window, instead of one query each:
// during a burst with faults these queries are the calls that do not
// create anything.
//
// Every lookup waits at least half the window before its search runs, so
// that the batch gathers the lookups of a burst (a search that comes too
// early for the index is repeated anyway). A lookup joins the open batch
// only if that batch runs late enough, and has room; else it opens the
// next one.
type lookups struct {
	r *Runner // its Config.LookupWindow is the window

	mu   sync.Mutex
	open map[string]*lookupBatch // by Genesys queue id
}

// find returns the callback holding res's id, or nil when the search
// found none, and when the search began (on the Runner's clock): a nil
// means "absent" only for a create sent long enough before that
// (Runner.lostSearch). The caller that opens a batch runs its search when
// the window ends; the others wait for it.
func (ls *lookups) find(ctx context.Context, q *booking.Queue, res *reservation.Reservation) (*reservation.SyncResult, time.Time, error) {
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
		return l.found, l.searched, l.err
	case <-ctx.Done():
		return nil, time.Time{}, context.Cause(ctx)
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
	searched := ls.r.now()
	defer func() {
		for _, l := range items {
			if l.found = found[l.res.ID]; l.found == nil {
				l.err = err
			}
			l.searched = searched
			close(l.done)
		}
	}()
	var extras []string
	defer func() {
		// The lost creates the query covered besides the batch's: found,
		// or searched for (their own next search waits accordingly).
		if err != nil {
			return
		}
		for _, id := range extras {
			if f := found[id]; f != nil {
				ls.r.lostFound(id, f)
			} else {
				ls.r.lostSearch(id, searched)
			}
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
	extras, err = ls.search(rctx, q, items, found)
}

// search fills found (reservation id → callback) for the lookups, and
// for the other lost creates of the queue this process knows of that the
// query has room for (lostExtras), whose ids it returns: one query then
// answers for many lost creates when they are too few at a time to share
// a batch (a low rate limit), rather than one query each.
func (ls *lookups) search(ctx context.Context, q *booking.Queue, items []*lookup, found map[string]*reservation.SyncResult) ([]string, error) {
	want := make(map[string]bool, len(items))
	var numbers []string
	seen := make(map[string]bool)
	from := items[0].res.CreatedAt
	add := func(res *reservation.Reservation) {
		want[res.ID] = true
		if n := res.CallbackNumber; !seen[n] {
			seen[n] = true
			numbers = append(numbers, n)
		}
		if res.CreatedAt.Before(from) {
			from = res.CreatedAt
		}
	}
	for _, l := range items {
		add(l.res)
	}
	var extras []string
	for _, res := range ls.r.lostExtras(q.GenesysQueueID, want, seen, lookupMaxNumbers-len(numbers)) {
		add(res)
		extras = append(extras, res.ID)
	}
	// No queue predicate: whether a callback not yet routed carries its
	// queue on the segment with its number is unconfirmed, and our id in
	// its data proves whose callback it is. The interval ends an hour past
	// the later of the two clocks (the simulator's may run ahead).
	ids, err := ls.r.cfg.Genesys.FindCallbacks(ctx, genesys.FindQuery{
		CallbackNumbers: numbers,
		From:            from.Add(-time.Hour), To: later(time.Now(), ls.r.now()).Add(time.Hour),
	})
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		if len(found) == len(want) {
			return extras, nil
		}
		// A callback a reservation outside the batch holds (the customer
		// booked before) is not one looked for: no need to spend a call
		// reading it.
		other, err := ls.r.cfg.Store.FindReservationByConversation(ctx, id)
		if err == nil && !want[other.ID] {
			continue
		}
		if err != nil && reservation.ErrorCode(err) != reservation.ENOTFOUND {
			return nil, err
		}
		conv, err := ls.r.cfg.Genesys.GetCallbackConversation(ctx, id)
		if genesys.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, err
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
	return extras, nil
}

// later returns the later of a and b.
func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// lostCreates remembers, per reservation, when its last create whose
// answer was lost was sent, and how often it has been looked for since.
// It lives in the process: a reservation this process did not send (or
// sent before a restart) counts from its first search, which is later.
type lostCreates struct {
	mu sync.Mutex
	m  map[string]*lostCreate
}

type lostCreate struct {
	sent     time.Time // on the Runner's clock
	searches int
	// res and queue (its Genesys queue id) let another lookup's query
	// search for it too (lostExtras); nil for a create this process did
	// not send.
	res   *reservation.Reservation
	queue string
	// last is when the last search for it began (the Runner's clock), next
	// when the next one is due (wall clock), found what one found.
	last  time.Time
	next  time.Time
	found *reservation.SyncResult
	// absent says that every create sent so far is known to have made no
	// callback (the last was refused, and any before it was looked for
	// and not found): the next attempt need not look again.
	absent bool
}

// lostCreateSent records that a create of res, on the Genesys queue
// queue, is being sent.
func (r *Runner) lostCreateSent(res *reservation.Reservation, queue string) {
	r.lost.mu.Lock()
	defer r.lost.mu.Unlock()
	r.lost.m[res.ID] = &lostCreate{sent: r.now(), res: res, queue: queue}
}

// lostKnown reports what the searches so far say of reservation id's lost
// create: found, the callback another lookup's query found; settled, that
// a search begun LostCreateWindow after the create missed it (surely
// absent); else wait > 0 when its next search is not due yet (a query
// made for others covered it meanwhile). All zero: search now.
func (r *Runner) lostKnown(id string) (found *reservation.SyncResult, settled bool, wait time.Duration) {
	r.lost.mu.Lock()
	defer r.lost.mu.Unlock()
	lc := r.lost.m[id]
	switch {
	case lc == nil:
		return nil, false, 0
	case lc.found != nil:
		return lc.found, false, 0
	case !lc.last.IsZero() && !lc.last.Before(lc.sent.Add(r.cfg.LostCreateWindow)):
		return nil, true, 0
	}
	return nil, false, max(time.Until(lc.next), 0)
}

// lostFound records that a query made for other lookups found reservation
// id's callback.
func (r *Runner) lostFound(id string, f *reservation.SyncResult) {
	r.lost.mu.Lock()
	defer r.lost.mu.Unlock()
	if lc := r.lost.m[id]; lc != nil {
		lc.found = f
	}
}

// lostExtras returns up to room lost creates of the Genesys queue queue
// this process sent, not yet found nor known absent, not in want and of
// numbers not in seen, those whose next search is due first.
func (r *Runner) lostExtras(queue string, want, seen map[string]bool, room int) []*reservation.Reservation {
	if room <= 0 {
		return nil
	}
	r.lost.mu.Lock()
	var due []*lostCreate
	for id, lc := range r.lost.m {
		if lc.res != nil && lc.queue == queue && !lc.absent && lc.found == nil && !want[id] && !seen[lc.res.CallbackNumber] {
			due = append(due, lc)
		}
	}
	r.lost.mu.Unlock()
	slices.SortFunc(due, func(a, b *lostCreate) int { return a.next.Compare(b.next) })
	out := make([]*reservation.Reservation, 0, min(room, len(due)))
	numbers := map[string]bool{}
	for _, lc := range due {
		if len(out) == room {
			break
		}
		if !numbers[lc.res.CallbackNumber] {
			numbers[lc.res.CallbackNumber] = true
			out = append(out, lc.res)
		}
	}
	return out
}

// lostCreateRefused records that the create of reservation id just sent
// was refused (or never left): it made no callback, and the earlier ones
// were settled as absent before it was sent.
func (r *Runner) lostCreateRefused(id string) {
	r.lost.mu.Lock()
	defer r.lost.mu.Unlock()
	r.lost.m[id] = &lostCreate{sent: r.now(), absent: true}
}

// lostCreatesAbsent reports whether this process knows that no create of
// reservation id made a callback (see lostCreateRefused).
func (r *Runner) lostCreatesAbsent(id string) bool {
	r.lost.mu.Lock()
	defer r.lost.mu.Unlock()
	lc := r.lost.m[id]
	return lc != nil && lc.absent
}

// lostCreateDone forgets reservation id's create: adopted, created, or
// refused.
func (r *Runner) lostCreateDone(id string) {
	r.lost.mu.Lock()
	defer r.lost.mu.Unlock()
	delete(r.lost.m, id)
}

// lostSearch judges a search, begun at searched, that did not find
// reservation id's callback. settled says the create was sent at least
// LostCreateWindow before the search, so the callback is surely absent;
// else wait is how long to wait before searching again: from RetryBase,
// four times longer at each search, from an eighth to a quarter of the
// window (firstSearchWait), each wait between half and all of that (so
// that a lost create is searched for about six times in the default window
// of 2 min, rather than every few seconds: each search is a call of the
// budget, unless it shares a query).
func (r *Runner) lostSearch(id string, searched time.Time) (settled bool, wait time.Duration) {
	r.lost.mu.Lock()
	defer r.lost.mu.Unlock()
	lc := r.lost.m[id]
	if lc == nil {
		lc = &lostCreate{sent: searched}
		r.lost.m[id] = lc
	}
	lc.searches++
	if searched.After(lc.last) {
		lc.last = searched
	}
	window := r.cfg.LostCreateWindow
	if !lc.last.Before(lc.sent.Add(window)) {
		return true, 0
	}
	d := r.cfg.RetryBase
	for i := 1; i < lc.searches && d < window/4; i++ {
		d *= 4
	}
	d = max(min(d, window/4), r.firstSearchWait())
	wait = d/2 + rand.N(d/2+1)
	lc.next = time.Now().Add(wait)
	return false, wait
}

// firstSearchWait is how long after a create whose outcome is unknown its
// first search waits, and the least wait between searches: an eighth of
// the lost-create window (15 s of the default 2 min), at least RetryBase.
func (r *Runner) firstSearchWait() time.Duration {
	return max(r.cfg.RetryBase, r.cfg.LostCreateWindow/8)
}

// pruneLostCreates forgets the creates sent more than a day of the
// Runner's clock ago (their jobs are gone).
func (r *Runner) pruneLostCreates() {
	r.lost.mu.Lock()
	defer r.lost.mu.Unlock()
	cutoff := r.now().Add(-24 * time.Hour)
	for id, lc := range r.lost.m {
		if lc.sent.Before(cutoff) {
			delete(r.lost.m, id)
		}
	}
}
