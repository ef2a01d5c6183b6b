package storage

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/slotline/slotline/internal/reservation"
)

// Admission control in a create's write transaction (reservation.Admission):
// the per_number throttle, the duplicate rule and the per_queue throttle,
// judged and counted atomically with the booking. On SQLite the single
// writer serialises every create; on PostgreSQL the create first takes
// transaction-scoped advisory locks on its number and, with a per_queue
// throttle, its queue (in a fixed order), so that creates of one number or
// queue from every process are judged one after another, each seeing what
// the ones before it committed. A deadlock between two group commits that
// took such locks in opposite orders is retried like any other.

// throttleHitsNumberKey is the per_number key of a number on a queue: a
// digest, so that the table holds no phone number.
func throttleNumberKey(queueID, number string) string {
	sum := sha256.Sum256([]byte(number))
	return "n:" + queueID + ":" + hex.EncodeToString(sum[:12])
}

func throttleQueueKey(queueID string) string { return "q:" + queueID }

// admission is what admit decided: refused (a *reservation.DuplicateError
// or *reservation.ThrottledError, to be returned once the transaction has
// committed what the refusal counted), or the hits to record: the
// per_number one whatever becomes of the create, the per_queue one only
// once it is booked.
type admission struct {
	refused   error
	numberHit *throttleHit
	queueHit  *throttleHit
}

// admit judges r against a in tx. Its errors are the database's.
func (s *Store) admit(ctx context.Context, tx *Tx, r *reservation.Reservation, a *reservation.Admission, now time.Time) (admission, error) {
	var out admission
	dup := a.Duplicates == reservation.DuplicatesLenient || a.Duplicates == reservation.DuplicatesStrict
	if s.backend == Postgres {
		// Advisory locks are the database's: the key names the schema too,
		// so that deployments (and tests) in other schemas never wait for
		// each other. Always the number before the queue.
		var locks []any
		if dup || a.PerNumber.N > 0 {
			locks = append(locks, "admission number "+r.CallbackNumber)
		}
		if a.PerQueue.N > 0 {
			locks = append(locks, "admission queue "+r.QueueID)
		}
		const lock = "pg_advisory_xact_lock(hashtextextended(current_schema() || ' ' || $%d, 7243011))"
		q := "SELECT " + fmt.Sprintf(lock, 1)
		if len(locks) == 2 {
			q += ", " + fmt.Sprintf(lock, 2) // evaluated in order
		}
		if len(locks) > 0 {
			if _, err := tx.exec(ctx, q, locks...); err != nil {
				return out, fmt.Errorf("admission lock: %w", err)
			}
		}
	}
	var keys []string
	var limits []reservation.Limit
	if a.PerNumber.N > 0 {
		keys, limits = append(keys, throttleNumberKey(r.QueueID, r.CallbackNumber)), append(limits, a.PerNumber)
	}
	if a.PerQueue.N > 0 {
		keys, limits = append(keys, throttleQueueKey(r.QueueID)), append(limits, a.PerQueue)
	}
	var dupQuery string
	var dupArgs []any
	if dup {
		dupQuery = "SELECT pk FROM reservations WHERE callback_number = $%d AND status IN ('scheduled', 'in_progress')"
		dupArgs = []any{r.CallbackNumber}
		if a.Scope != reservation.ScopeAll {
			dupQuery += " AND queue_id = $%d"
			dupArgs = append(dupArgs, r.QueueID)
		}
		dupQuery += " ORDER BY created_at, id LIMIT 1"
	}
	hits, dupPK, err := throttleWaits(ctx, tx, keys, limits, dupQuery, dupArgs, now)
	if err != nil {
		return out, err
	}
	if a.PerNumber.N > 0 {
		out.numberHit, hits = &hits[0], hits[1:]
	}
	if a.PerQueue.N > 0 {
		out.queueHit = &hits[0]
	}
	refuse := func(err error) (admission, error) {
		out.refused = err
		if out.numberHit != nil { // a refused create counts for per_number
			if err := out.numberHit.record(ctx, tx, now); err != nil {
				return out, err
			}
		}
		return out, nil
	}
	if h := out.numberHit; h != nil && h.Wait > 0 {
		return refuse(&reservation.ThrottledError{Which: "per_number", Limit: a.PerNumber, RetryAfter: h.Wait})
	}
	if dupPK != nil {
		existing, err := scanReservation(tx.queryRow(ctx, "SELECT "+reservationColumns+" FROM reservations WHERE pk = $1", *dupPK))
		if err != nil {
			return out, fmt.Errorf("read duplicate: %w", err)
		}
		return refuse(&reservation.DuplicateError{Existing: existing, Lenient: a.Duplicates == reservation.DuplicatesLenient})
	}
	if h := out.queueHit; h != nil && h.Wait > 0 {
		return refuse(&reservation.ThrottledError{Which: "per_queue", Limit: a.PerQueue, RetryAfter: h.Wait})
	}
	return out, nil
}

// booked records the hits of a booked create, in one statement.
func (a admission) booked(ctx context.Context, tx *Tx, now time.Time) error {
	var hits []*throttleHit
	for _, h := range []*throttleHit{a.numberHit, a.queueHit} {
		if h != nil {
			hits = append(hits, h)
		}
	}
	if len(hits) == 0 {
		return nil
	}
	q := "INSERT INTO throttle_hits (key, seq, at) VALUES ($1, $2, $3)"
	args := []any{hits[0].key, hits[0].seq, micros(now)}
	if len(hits) == 2 {
		q += ", ($4, $5, $6)"
		args = append(args, hits[1].key, hits[1].seq, micros(now))
	}
	return tx.execLater(ctx, wrapErr("record throttle hits"), q, args...)
}

// throttleHit is a throttle's verdict on one more create: Wait until
// the window lets one in (0: now), and the number of the key's next hit.
type throttleHit struct {
	key  string
	seq  int64
	Wait time.Duration
}

// throttleWaits judges one more create of each key against its limit,
// and runs dupQuery (a SELECT of one pk, its placeholders numbered by
// %d; "" for none), in one query: each key waits until its N-th newest
// hit leaves the window. Hits are numbered per key (their creates are
// serialised), so that hit is one index lookup.
func throttleWaits(ctx context.Context, tx *Tx, keys []string, limits []reservation.Limit, dupQuery string, dupArgs []any,
	now time.Time) ([]throttleHit, *int64, error) {
	out := make([]throttleHit, len(keys))
	var dupPK *int64
	var parts []string
	var args []any
	if dupQuery != "" {
		nums := make([]any, len(dupArgs))
		for i := range dupArgs {
			nums[i] = i + 1
		}
		parts = append(parts, "SELECT -1 AS i, 0 AS seq, ("+fmt.Sprintf(dupQuery, nums...)+") AS nth")
		args = append(args, dupArgs...)
	}
	if len(parts) == 0 && len(keys) == 0 {
		return out, nil, nil
	}
	for i, k := range keys {
		out[i] = throttleHit{key: k, seq: 1}
		n := len(args)
		parts = append(parts, fmt.Sprintf(`SELECT %d AS i, s.seq, (SELECT at FROM throttle_hits WHERE key = $%d AND seq = s.seq - $%d) AS nth
		FROM (SELECT seq FROM throttle_hits WHERE key = $%d ORDER BY seq DESC LIMIT 1) s`, i, n+1, n+2, n+1))
		args = append(args, k, limits[i].N-1)
	}
	rs, err := tx.query(ctx, strings.Join(parts, " UNION ALL "), args...)
	if err != nil {
		return nil, nil, fmt.Errorf("read throttles: %w", err)
	}
	defer rs.Close()
	for rs.Next() {
		var i int
		var last int64
		var nth *int64
		if err := rs.Scan(&i, &last, &nth); err != nil {
			return nil, nil, fmt.Errorf("read throttles: %w", err)
		}
		if i < 0 {
			dupPK = nth
			continue
		}
		out[i].seq = last + 1
		if nth != nil {
			if until := instant(*nth).Add(limits[i].Window); until.After(now) {
				out[i].Wait = until.Sub(now)
			}
		}
	}
	if err := rs.Err(); err != nil {
		return nil, nil, fmt.Errorf("read throttles: %w", err)
	}
	return out, dupPK, nil
}

// record counts the hit (it travels with the next statement).
func (h throttleHit) record(ctx context.Context, tx *Tx, now time.Time) error {
	return tx.execLater(ctx, wrapErr("record throttle hit"), "INSERT INTO throttle_hits (key, seq, at) VALUES ($1, $2, $3)",
		h.key, h.seq, micros(now))
}

// DeleteThrottleHits deletes the throttle counts made before t (no window
// reaches them any more) and returns how many.
func (s *Store) DeleteThrottleHits(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := s.inTx(ctx, func(tx *Tx) error {
		var err error
		n, err = tx.exec(ctx, "DELETE FROM throttle_hits WHERE at < $1", micros(before))
		return err
	})
	return n, err
}
