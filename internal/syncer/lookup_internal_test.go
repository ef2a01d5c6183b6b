package syncer

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/slotline/slotline/internal/booking"
	"github.com/slotline/slotline/internal/genesys"
	"github.com/slotline/slotline/internal/reservation"
)

// findOnly is a Genesys whose analytics query is find; the other calls are
// not used by the lookups tested here.
type findOnly struct {
	Genesys
	find func(ctx context.Context, q genesys.FindQuery) ([]string, error)
}

func (g findOnly) FindCallbacks(ctx context.Context, q genesys.FindQuery) ([]string, error) {
	return g.find(ctx, q)
}

func lookupRunner(find func(ctx context.Context, q genesys.FindQuery) ([]string, error)) (*lookups, *booking.Queue) {
	r := &Runner{cfg: Config{Genesys: findOnly{find: find}, LookupWindow: 200 * time.Millisecond}, now: time.Now}
	return &lookups{r: r, open: map[string]*lookupBatch{}},
		&booking.Queue{ID: "support", GenesysQueueID: "q-1"}
}

func lookupRes(id, number string) *reservation.Reservation {
	return &reservation.Reservation{ID: id, CallbackNumber: number, CreatedAt: time.Now()}
}

// batchSize returns how many lookups the open batch of q holds.
func batchSize(ls *lookups, q *booking.Queue) int {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if b := ls.open[q.GenesysQueueID]; b != nil {
		return len(b.items)
	}
	return 0
}

// The lookup tests run in synctest bubbles: the batches wait on timers,
// which there run on a fake clock, and synctest.Wait tells when every
// lookup has joined its batch and is waiting.

// The caller that starts a batch gives up during the window: the search
// still runs for the others, with a live context.
func TestLookupOutlivesItsFirstCaller(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var numbers []string
		ls, q := lookupRunner(func(ctx context.Context, fq genesys.FindQuery) ([]string, error) {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			mu.Lock()
			numbers = append(numbers, fq.CallbackNumbers...)
			mu.Unlock()
			return nil, nil
		})
		first, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		wg.Go(func() {
			// It may get the answer or its own context's error.
			if _, _, err := ls.find(first, q, lookupRes("res-1", "+14155550101")); err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("the caller that gave up: %v", err)
			}
		})
		synctest.Wait() // res-1 has started the batch and waits for its window
		if n := batchSize(ls, q); n != 1 {
			t.Fatalf("after res-1 the open batch holds %d lookups, want 1", n)
		}
		var found error = errors.New("not run")
		wg.Go(func() {
			got, _, err := ls.find(context.Background(), q, lookupRes("res-2", "+14155550102"))
			if got != nil {
				t.Errorf("found %+v, want nothing", got)
			}
			found = err
		})
		synctest.Wait() // res-2 has joined it
		if n := batchSize(ls, q); n != 2 {
			t.Fatalf("after res-2 the open batch holds %d lookups, want 2", n)
		}
		cancel()
		wg.Wait()
		if found != nil {
			t.Fatalf("the caller still waiting got %v, want no error (nothing found)", found)
		}
		if len(numbers) != 2 {
			t.Errorf("one query for both numbers, got %v", numbers)
		}
	})
}

// A search that ends in a panic answers its batch with an error, never with
// "not found" (which would let a create be repeated).
func TestLookupPanicIsNotNotFound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ls, q := lookupRunner(func(context.Context, genesys.FindQuery) ([]string, error) {
			panic("boom")
		})
		var wg sync.WaitGroup
		wg.Go(func() {
			defer func() { _ = recover() }()
			_, _, _ = ls.find(context.Background(), q, lookupRes("res-1", "+14155550101"))
		})
		synctest.Wait() // res-1 has started the batch
		if n := batchSize(ls, q); n != 1 {
			t.Fatalf("after res-1 the open batch holds %d lookups, want 1", n)
		}
		got, _, err := ls.find(context.Background(), q, lookupRes("res-2", "+14155550102"))
		wg.Wait()
		if got != nil || !errors.Is(err, errLookupAborted) {
			t.Fatalf("after a panic in the search: %v, %v; want errLookupAborted", got, err)
		}
	})
}

// A lookup that comes late in a batch's window opens the next batch: every
// search runs at least half the window after the create it looks for, so
// that a callback just made has time to be indexed.
func TestLookupWaitsHalfTheWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		type search struct {
			at      time.Time
			numbers []string
		}
		var mu sync.Mutex
		var searches []search
		ls, q := lookupRunner(func(_ context.Context, fq genesys.FindQuery) ([]string, error) {
			mu.Lock()
			searches = append(searches, search{time.Now(), fq.CallbackNumbers})
			mu.Unlock()
			return nil, nil
		})
		joined := make([]time.Time, 2)
		var wg sync.WaitGroup
		for i, number := range []string{"+14155550101", "+14155550102"} {
			if i == 1 {
				time.Sleep(150 * time.Millisecond) // fake time: 50 ms before the first batch runs
			}
			joined[i] = time.Now()
			wg.Go(func() {
				if _, _, err := ls.find(context.Background(), q, lookupRes(fmt.Sprintf("res-%d", i), number)); err != nil {
					t.Errorf("lookup %d: %v", i, err)
				}
			})
		}
		wg.Wait()
		if len(searches) != 2 || len(searches[0].numbers) != 1 || len(searches[1].numbers) != 1 {
			t.Fatalf("searches %+v, want two of one number each", searches)
		}
		for i, s := range searches {
			if waited := s.at.Sub(joined[i]); waited < 100*time.Millisecond {
				t.Errorf("search %d ran %v after its lookup, want at least half the 200 ms window", i, waited)
			}
		}
	})
}
