package storage

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
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

// lockAdmission takes, on PostgreSQL, the advisory locks under which admit
// judges r against a: deferred, they travel with the next statement that
// needs an answer (admit's read, or reads queued before it).
func (s *Store) lockAdmission(ctx context.Context, tx *Tx, r *reservation.Reservation, a *reservation.Admission) error {
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
			// Deferred: taken before the read that follows, which it
			// travels with (a round trip less per create).
			return tx.execLater(ctx, wrapErr("admission lock"), q, locks...)
		}
	}
	return nil
}

// admit judges r against a in tx, under lockAdmission's locks. Its errors
// are the database's.
func (s *Store) admit(ctx context.Context, tx *Tx, r *reservation.Reservation, a *reservation.Admission, now time.Time) (admission, error) {
	var out admission
	dup := a.Duplicates == reservation.DuplicatesLenient || a.Duplicates == reservation.DuplicatesStrict
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
	v, err := admissionRead(ctx, tx, r, a, dupQuery, dupArgs, now)
	if err != nil {
		return out, err
	}
	out.numberHit, out.queueHit = v.number, v.queue
	dupPK := v.dupPK
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

// booked records the per_queue hit of a booked create (its per_number
// count is its reservation row).
func (a admission) booked(ctx context.Context, tx *Tx, now time.Time) error {
	if a.queueHit == nil {
		return nil
	}
	return a.queueHit.record(ctx, tx, now)
}

// throttleHit is a throttle's verdict on one more create: Wait until
// the window lets one in (0: now), and the number of the key's next hit.
type throttleHit struct {
	key  string
	seq  int64
	Wait time.Duration
}

// admissionVerdict is what admissionRead found: each throttle's verdict
// on one more create (nil: no such throttle) and the pk of the
// duplicate's reservation (nil: none).
type admissionVerdict struct {
	number, queue *throttleHit
	dupPK         *int64
}

// admissionRead reads, in one query, what the admission of r judges:
//
//   - per_number: the N-th newest create of the number on the queue
//     within the window, among its reservations (reservations_number)
//     and the creates refused (throttle_hits rows, numbered per key);
//   - per_queue: the N-th newest booked create of the queue, its
//     throttle_hits rows being numbered per key (their creates are
//     serialised), so that hit is one index lookup;
//   - dupQuery (a SELECT of one pk, its placeholders numbered by %d; ""
//     for none).
//
// A throttle waits until its N-th newest create leaves the window.
func admissionRead(ctx context.Context, tx *Tx, r *reservation.Reservation, a *reservation.Admission, dupQuery string, dupArgs []any,
	now time.Time) (admissionVerdict, error) {
	var out admissionVerdict
	var parts []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if dupQuery != "" {
		nums := make([]any, len(dupArgs))
		for i, v := range dupArgs {
			args = append(args, v)
			nums[i] = len(args)
		}
		parts = append(parts, "SELECT 0 AS i, 0 AS seq, ("+fmt.Sprintf(dupQuery, nums...)+") AS nth")
	}
	if l := a.PerNumber; l.N > 0 {
		out.number = &throttleHit{key: throttleNumberKey(r.QueueID, r.CallbackNumber), seq: 1}
		key, since := arg(out.number.key), arg(micros(now.Add(-l.Window)))
		parts = append(parts, `SELECT 1 AS i, COALESCE((SELECT max(seq) FROM throttle_hits WHERE key = `+key+`), 0) AS seq,
			(SELECT at FROM (SELECT created_at AS at FROM reservations WHERE callback_number = `+arg(r.CallbackNumber)+
			` AND queue_id = `+arg(r.QueueID)+` AND created_at > `+since+`
			UNION ALL SELECT at FROM throttle_hits WHERE key = `+key+` AND at > `+since+`) w
			ORDER BY at DESC LIMIT 1 OFFSET `+arg(l.N-1)+`) AS nth`)
	}
	if l := a.PerQueue; l.N > 0 {
		out.queue = &throttleHit{key: throttleQueueKey(r.QueueID), seq: 1}
		key := arg(out.queue.key)
		parts = append(parts, `SELECT 2 AS i, s.seq, (SELECT at FROM throttle_hits WHERE key = `+key+` AND seq = s.seq - `+arg(l.N-1)+`) AS nth
			FROM (SELECT seq FROM throttle_hits WHERE key = `+key+` ORDER BY seq DESC LIMIT 1) s`)
	}
	if len(parts) == 0 {
		return out, nil
	}
	rs, err := tx.query(ctx, strings.Join(parts, " UNION ALL "), args...)
	if err != nil {
		return out, fmt.Errorf("read admission: %w", err)
	}
	defer rs.Close()
	for rs.Next() {
		var i int
		var last int64
		var nth *int64
		if err := rs.Scan(&i, &last, &nth); err != nil {
			return out, fmt.Errorf("read admission: %w", err)
		}
		h, l := out.number, a.PerNumber
		switch i {
		case 0:
			out.dupPK = nth
			continue
		case 2:
			h, l = out.queue, a.PerQueue
		}
		h.seq = last + 1
		if nth != nil {
			if until := instant(*nth).Add(l.Window); until.After(now) {
				h.Wait = until.Sub(now)
			}
		}
	}
	if err := rs.Err(); err != nil {
		return out, fmt.Errorf("read admission: %w", err)
	}
	return out, nil
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
