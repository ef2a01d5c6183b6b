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
	queueHit *throttleHit
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
		h, err := throttleWait(ctx, tx, throttleNumberKey(r.QueueID, r.CallbackNumber), a.PerNumber, now)
		if err != nil {
			return out, err
		}
		// Every create that gets this far counts, refused or not.
		if err := h.record(ctx, tx, now); err != nil {
			return out, err
		}
		if h.Wait > 0 {
			out.refused = &reservation.ThrottledError{Which: "per_number", Limit: a.PerNumber, RetryAfter: h.Wait}
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
		h, err := throttleWait(ctx, tx, throttleQueueKey(r.QueueID), a.PerQueue, now)
		if err != nil {
			return out, err
		}
		if h.Wait > 0 {
			out.refused = &reservation.ThrottledError{Which: "per_queue", Limit: a.PerQueue, RetryAfter: h.Wait}
			return out, nil
		}
		out.queueHit = &h
	}
	return out, nil
}

// throttleHit is a throttle's verdict on one more create: Wait until
// the window lets one in (0: now), and the number of the key's next hit.
type throttleHit struct {
	key  string
	seq  int64
	Wait time.Duration
}

// throttleWait judges one more create of key against l: it waits until
// the key's N-th newest hit leaves the window. Hits are numbered per key
// (their creates are serialised), so that hit is one index lookup.
func throttleWait(ctx context.Context, tx *Tx, key string, l reservation.Limit, now time.Time) (throttleHit, error) {
	h := throttleHit{key: key, seq: 1}
	var last int64
	var nth *int64
	err := tx.queryRow(ctx, `SELECT s.seq, (SELECT at FROM throttle_hits WHERE key = $1 AND seq = s.seq - $2)
		FROM (SELECT seq FROM throttle_hits WHERE key = $1 ORDER BY seq DESC LIMIT 1) s`, key, l.N-1).Scan(&last, &nth)
	if errors.Is(err, errNoRows) {
		return h, nil
	}
	if err != nil {
		return h, fmt.Errorf("read throttle: %w", err)
	}
	h.seq = last + 1
	if nth != nil {
		if until := instant(*nth).Add(l.Window); until.After(now) {
			h.Wait = until.Sub(now)
		}
	}
	return h, nil
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
