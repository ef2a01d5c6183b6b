package storage

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/slotline/slotline/internal/audit"
	"github.com/slotline/slotline/internal/reservation"
)

// Capacity overrides are decided inside the write transaction that books.
//
// Every create and every reschedule reads the overrides of its queue in its
// own write transaction, after taking (on PostgreSQL) the queue's capacity
// lock in shared mode; a PUT or DELETE of an override takes the same lock
// exclusively. The lock is a transaction-scoped advisory lock, so:
//
//   - a create that took the lock before the change commits first, and the
//     change (which waits for it) sees its booking in slot_usage: the
//     reservations it leaves over capacity are listed;
//   - a create that comes after waits for the change to commit, and its
//     next statement (READ COMMITTED: a new snapshot) reads the new
//     override, so no create books above the new cap once the change has
//     committed, in this process or any other on the same database.
//
// A cache validated by a version row would save the read, but the read is
// one indexed lookup of a few rows, and no cache means nothing to keep in
// step between processes. On SQLite one process holds the file and its one
// writer connection serializes every write, so the read alone is enough.
// Reads outside a write (availability) use the reader and see every
// committed change at once.

const capacityLockKey = "hashtextextended(current_schema() || ' capacity ' || $1, 7243011)"

const overrideColumns = `id, queue_id, start_at, end_at, start_local, end_local, capacity, reason, actor, created_at, updated_at`

func scanOverride(r row) (*reservation.Override, error) {
	var o reservation.Override
	var start, end, created, updated int64
	if err := r.Scan(&o.ID, &o.QueueID, &start, &end, &o.StartLocal, &o.EndLocal, &o.Capacity, &o.Reason, &o.Actor,
		&created, &updated); err != nil {
		return nil, err
	}
	o.Start, o.End, o.CreatedAt, o.UpdatedAt = instant(start), instant(end), instant(created), instant(updated)
	return &o, nil
}

// capacityLock takes the queue's capacity lock for the rest of tx: shared
// for a booking, exclusive for a change of its overrides (PostgreSQL only).
func (s *Store) capacityLock(ctx context.Context, tx *Tx, queueID string, exclusive bool) error {
	if s.backend != Postgres {
		return nil
	}
	fn := "pg_advisory_xact_lock_shared"
	if exclusive {
		fn = "pg_advisory_xact_lock"
	}
	// Deferred, like the number's lock: taken before what follows it.
	return tx.execLater(ctx, wrapErr("capacity lock"), "SELECT "+fn+"("+capacityLockKey+")", queueID)
}

const overridesInSQL = "SELECT " + overrideColumns + ` FROM capacity_overrides
	WHERE queue_id = $1 AND end_at > $2 AND start_at < $3 ORDER BY start_at, pk`

func (s *Store) overridesIn(ctx context.Context, ex execer, queueID string, from, to time.Time) ([]*reservation.Override, error) {
	rs, err := ex.query(ctx, overridesInSQL, queueID, micros(from), micros(to))
	if err != nil {
		return nil, fmt.Errorf("read overrides: %w", err)
	}
	defer rs.Close()
	out, err := scanOverrides(rs)
	if err != nil {
		return nil, err
	}
	return out, rs.Err()
}

func scanOverrides(rs rows) ([]*reservation.Override, error) {
	var out []*reservation.Override
	for rs.Next() {
		o, err := scanOverride(rs)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, nil
}

// capped returns cands with the cap of each bucket that an override covers
// replaced by the override's capacity (limited by the reservation's
// concurrency limit), read in tx under the queue's shared capacity lock.
func (s *Store) capped(ctx context.Context, tx *Tx, queueID string, limit int, cands []reservation.Candidate) ([]reservation.Candidate, error) {
	get, err := s.cappedLater(ctx, tx, queueID, limit, cands)
	if err != nil {
		return nil, err
	}
	return get()
}

// cappedLater is capped with the read queued (queryLater): it travels with
// the next statement that needs an answer, and get (which sends it if it
// has not gone yet) returns the candidates.
func (s *Store) cappedLater(ctx context.Context, tx *Tx, queueID string, limit int, cands []reservation.Candidate) (
	get func() ([]reservation.Candidate, error), err error) {
	if len(cands) == 0 {
		return func() ([]reservation.Candidate, error) { return cands, nil }, nil
	}
	if err := s.capacityLock(ctx, tx, queueID, false); err != nil {
		return nil, err
	}
	from, to := cands[0].Bucket, cands[0].Bucket
	for _, c := range cands[1:] {
		from, to = minTime(from, c.Bucket), maxTime(to, c.Bucket)
	}
	var os []*reservation.Override
	read, err := tx.queryLater(ctx, wrapErr("read overrides"), func(rs rows) error {
		var err error
		os, err = scanOverrides(rs)
		return err
	}, overridesInSQL, queueID, micros(from), micros(to.Add(time.Microsecond)))
	if err != nil {
		return nil, err
	}
	return func() ([]reservation.Candidate, error) {
		if err := read(); err != nil {
			return nil, err
		}
		if len(os) == 0 {
			return cands, nil
		}
		out := make([]reservation.Candidate, len(cands))
		for i, c := range cands {
			if o := reservation.OverrideAt(os, c.Bucket); o != nil {
				c.Cap = reservation.EffectiveCap(o.Capacity, limit)
			}
			out[i] = c
		}
		return out, nil
	}, nil
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// FindOverrides returns the overrides of a queue whose range meets
// [from, to), by start.
func (s *Store) FindOverrides(ctx context.Context, queueID string, from, to time.Time) ([]*reservation.Override, error) {
	return s.overridesIn(ctx, s.reader(), queueID, from, to)
}

// OverrideNotFound is the error of an override that does not exist.
func OverrideNotFound(id string) error {
	return reservation.Errorf(reservation.ENOTFOUND, "capacity override %q does not exist", id)
}

func overrideAudit(o *reservation.Override, action string, w reservation.Write, now time.Time) *audit.Entry {
	return &audit.Entry{At: now, Actor: w.Actor, Action: action, Target: o.ID, Outcome: audit.OutcomeOK,
		Detail: auditDetail("queue_id", o.QueueID, "start", o.Start.Format(time.RFC3339), "end", o.End.Format(time.RFC3339),
			"capacity", o.Capacity, "reason", o.Reason, "request_id", w.RequestID)}
}

// PutOverride stores o: it replaces the queue's override of exactly the
// same range (keeping its id and created_at), or adds a new one (its id
// set here). It reports whether o is new. The change and its audit entry
// (action capacity.override_put, with the actor and the reason) commit
// together, under the queue's exclusive capacity lock.
func (s *Store) PutOverride(ctx context.Context, o *reservation.Override, w reservation.Write) (bool, error) {
	now := w.Time()
	var created bool
	err := s.inTx(ctx, func(tx *Tx) error {
		if err := s.capacityLock(ctx, tx, o.QueueID, true); err != nil {
			return err
		}
		old, err := scanOverride(tx.queryRow(ctx, "SELECT "+overrideColumns+` FROM capacity_overrides
			WHERE queue_id = $1 AND start_at = $2 AND end_at = $3`+s.forUpdate(), o.QueueID, micros(o.Start), micros(o.End)))
		switch {
		case errors.Is(err, errNoRows):
			created = true
			o.ID, o.CreatedAt = newID("ov_", 5), now
		case err != nil:
			return fmt.Errorf("read override: %w", err)
		default:
			o.ID, o.CreatedAt = old.ID, old.CreatedAt
		}
		o.Actor, o.UpdatedAt = w.Actor, now
		if created {
			_, err = tx.exec(ctx, "INSERT INTO capacity_overrides ("+overrideColumns+`)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`, o.ID, o.QueueID, micros(o.Start), micros(o.End),
				o.StartLocal, o.EndLocal, o.Capacity, o.Reason, o.Actor, micros(o.CreatedAt), micros(o.UpdatedAt))
		} else {
			_, err = tx.exec(ctx, `UPDATE capacity_overrides SET start_local = $2, end_local = $3, capacity = $4, reason = $5,
				actor = $6, updated_at = $7 WHERE id = $1`, o.ID, o.StartLocal, o.EndLocal, o.Capacity, o.Reason, o.Actor, micros(now))
		}
		if err != nil {
			return fmt.Errorf("save override: %w", err)
		}
		return s.appendLog(ctx, tx, nil, overrideAudit(o, "capacity.override_put", w, now))
	})
	return created, err
}

// DeleteOverride removes one override of a queue and returns it, with an
// audit entry (capacity.override_delete, with the actor and reason, or the
// override's own reason when reason is ""). Errors: ENOTFOUND.
func (s *Store) DeleteOverride(ctx context.Context, queueID, id, reason string, w reservation.Write) (*reservation.Override, error) {
	now := w.Time()
	var out *reservation.Override
	err := s.inTx(ctx, func(tx *Tx) error {
		if err := s.capacityLock(ctx, tx, queueID, true); err != nil {
			return err
		}
		o, err := scanOverride(tx.queryRow(ctx, "SELECT "+overrideColumns+" FROM capacity_overrides WHERE id = $1 AND queue_id = $2"+
			s.forUpdate(), id, queueID))
		if errors.Is(err, errNoRows) {
			return OverrideNotFound(id)
		}
		if err != nil {
			return fmt.Errorf("read override: %w", err)
		}
		if _, err := tx.exec(ctx, "DELETE FROM capacity_overrides WHERE id = $1", id); err != nil {
			return fmt.Errorf("delete override: %w", err)
		}
		out = o
		e := overrideAudit(o, "capacity.override_delete", w, now)
		if reason != "" {
			e.Detail = auditDetail("queue_id", o.QueueID, "start", o.Start.Format(time.RFC3339), "end", o.End.Format(time.RFC3339),
				"capacity", o.Capacity, "reason", reason, "request_id", w.RequestID)
		}
		return s.appendLog(ctx, tx, nil, e)
	})
	return out, err
}

// FindBucketReservations returns the scheduled reservations of a queue
// holding the bucket that starts at bucket, oldest booking first.
func (s *Store) FindBucketReservations(ctx context.Context, queueID string, bucket time.Time) ([]*reservation.Reservation, error) {
	// A slot starts in its bucket, and no bucket is a day long (120
	// minutes at most, a DST change's hour more): the day after the
	// bucket's start bounds the index range, which otherwise runs to the
	// queue's last reservation.
	rs, err := s.reader().query(ctx, "SELECT "+reservationColumns+` FROM reservations
		WHERE `+s.filterColumn(reservation.StatusScheduled)("queue_id")+` = $1 AND `+s.statusWhere(reservation.StatusScheduled, nil)+` AND slot_start >= $2 AND slot_start < $3
		AND bucket_start = $2 ORDER BY created_at, pk`,
		queueID, micros(bucket), micros(bucket.Add(24*time.Hour)))
	if err != nil {
		return nil, fmt.Errorf("bucket reservations: %w", err)
	}
	defer rs.Close()
	var out []*reservation.Reservation
	for rs.Next() {
		r, err := scanReservation(rs)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rs.Err()
}
