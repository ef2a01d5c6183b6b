package storage

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
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

// advisoryKey is the PostgreSQL advisory lock key of a name.
func advisoryKey(name string) int64 {
	h := fnv.New64a()
	h.Write([]byte("slotline:admission:" + name))
	return int64(h.Sum64())
}

// admission is what admit decided: refused (a *reservation.DuplicateError
// or *reservation.ThrottledError, to be returned once the transaction has
// committed the counts), or the per_queue hit to record once booked.
type admission struct {
	refused  error
	queueHit string
}

// admit judges r against a in tx. Its errors are the database's.
func (s *Store) admit(ctx context.Context, tx *Tx, r *reservation.Reservation, a *reservation.Admission, now time.Time) (admission, error) {
	var out admission
	dup := a.Duplicates == reservation.DuplicatesLenient || a.Duplicates == reservation.DuplicatesStrict
	if s.backend == Postgres {
		var locks []int64
		if dup || a.PerNumber.N > 0 {
			locks = append(locks, advisoryKey("number:"+r.CallbackNumber))
		}
		if a.PerQueue.N > 0 {
			locks = append(locks, advisoryKey("queue:"+r.QueueID))
		}
		slices.Sort(locks)
		for _, k := range locks {
			if _, err := tx.exec(ctx, "SELECT pg_advisory_xact_lock($1)", k); err != nil {
				return out, fmt.Errorf("admission lock: %w", err)
			}
		}
	}
	if a.PerNumber.N > 0 {
		key := throttleNumberKey(r.QueueID, r.CallbackNumber)
		wait, err := throttleWait(ctx, tx, key, a.PerNumber, now)
		if err != nil {
			return out, err
		}
		// Every create that gets this far counts, refused or not.
		if err := tx.execLater(ctx, wrapErr("record throttle hit"), "INSERT INTO throttle_hits (key, at) VALUES ($1, $2)", key, micros(now)); err != nil {
			return out, err
		}
		if wait > 0 {
			out.refused = &reservation.ThrottledError{Which: "per_number", Limit: a.PerNumber, RetryAfter: wait}
			return out, nil
		}
	}
	if dup {
		q := "SELECT " + reservationColumns + " FROM reservations WHERE callback_number = $1 AND status IN ('scheduled', 'in_progress')"
		args := []any{r.CallbackNumber}
		if a.Scope != reservation.ScopeAll {
			q += " AND queue_id = $2"
			args = append(args, r.QueueID)
		}
		existing, err := scanReservation(tx.queryRow(ctx, q+" ORDER BY created_at, id LIMIT 1", args...))
		switch {
		case errors.Is(err, errNoRows):
		case err != nil:
			return out, fmt.Errorf("find duplicate: %w", err)
		default:
			out.refused = &reservation.DuplicateError{Existing: existing, Lenient: a.Duplicates == reservation.DuplicatesLenient}
			return out, nil
		}
	}
	if a.PerQueue.N > 0 {
		key := throttleQueueKey(r.QueueID)
		wait, err := throttleWait(ctx, tx, key, a.PerQueue, now)
		if err != nil {
			return out, err
		}
		if wait > 0 {
			out.refused = &reservation.ThrottledError{Which: "per_queue", Limit: a.PerQueue, RetryAfter: wait}
			return out, nil
		}
		out.queueHit = key
	}
	return out, nil
}

// throttleWait returns how long until key's window lets one more in (0:
// now): the time until the limit's N-th newest hit leaves the window.
func throttleWait(ctx context.Context, tx *Tx, key string, l reservation.Limit, now time.Time) (time.Duration, error) {
	var at int64
	err := tx.queryRow(ctx, "SELECT at FROM throttle_hits WHERE key = $1 AND at > $2 ORDER BY at DESC LIMIT 1 OFFSET $3",
		key, micros(now.Add(-l.Window)), l.N-1).Scan(&at)
	if errors.Is(err, errNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read throttle: %w", err)
	}
	return instant(at).Add(l.Window).Sub(now), nil
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
