package syncer_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/slotline/slotline/internal/genesys/gcsim"
	"github.com/slotline/slotline/internal/syncer"
)

// TestOneQueryAnswersForTheQueuesLostCreates: creates to six numbers are
// committed and their answers lost, one after the other (one sync worker),
// and the lookups never share a batch (a lookup window of a millisecond,
// as at a low rate where they rarely meet): the first query still asks for
// all six lost creates of the queue, so each reservation adopts its
// callback and the searches cost one query, not six.
func TestOneQueryAnswersForTheQueuesLostCreates(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, backend string) {
		b := setupWith(t, backend, false, func(o *gcsim.Options, c *syncer.Config) {
			o.AnalyticsDelay = -1
			c.LookupWindow = time.Millisecond
			c.Workers = 1
		})
		const n = 6
		b.sim.FailNext(gcsim.Fault{Method: "POST", PathPrefix: "/api/v2/conversations/callbacks", LoseResponse: true, Count: n})
		var ids []string
		for i := range n {
			r := b.reserveNumber(fmt.Sprintf("extra-%d", i), time.Duration(i+2)*time.Hour, voice(), fmt.Sprintf("+1415555020%d", i))
			ids = append(ids, r.ID)
		}
		for _, id := range ids {
			got := b.waitFor(id, "synced", synced)
			if cbs := b.callbacksFor(id); len(cbs) != 1 || cbs[0].ConversationID != got.Sync.ConversationID {
				t.Errorf("%s: synced to %s, simulator holds %+v; want its one callback adopted", id, got.Sync.ConversationID, cbs)
			}
		}
		if st := b.sim.Stats(); st.LostResponses != n {
			t.Errorf("%d responses lost, want %d", st.LostResponses, n)
		}
		// A create still in flight when the first query ran needs a query
		// of its own.
		if q := b.queries(); q < 1 || q > 2 {
			t.Errorf("%d analytics queries for %d lost creates whose lookups never met, want 1 (2 at most)", q, n)
		}
	})
}
