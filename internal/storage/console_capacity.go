package storage

import (
	"context"
	"fmt"
	"time"

	"github.com/slotline/slotline/internal/audit"
	"github.com/slotline/slotline/internal/reservation"
)

// Kept is an operator's decision to keep a reservation in a bucket that
// holds more than its capacity (the console's "Keep" on its over-capacity
// list; migration 0019, capacity_kept).
type Kept struct {
	ReservationID string
	QueueID       string
	// Bucket is the start of the bucket the reservation is kept in.
	Bucket time.Time
	// Actor is who kept it ("operator:NAME"), KeptAt when.
	Actor  string
	KeptAt time.Time
}

// KeepOverCapacity records that each of keep stays in its bucket, with
// one audit entry each (action capacity.over_capacity_keep, target the
// reservation, the actor of w), in one transaction. A reservation kept
// again in the same bucket has its decision renewed.
func (s *Store) KeepOverCapacity(ctx context.Context, keep []Kept, w reservation.Write) error {
	if len(keep) == 0 {
		return nil
	}
	now := w.Time()
	return s.inTx(ctx, func(tx *Tx) error {
		for i := range keep {
			k := &keep[i]
			k.Actor, k.KeptAt = w.Actor, now
			if _, err := tx.exec(ctx, `INSERT INTO capacity_kept (reservation_id, bucket_start, queue_id, actor, kept_at)
				VALUES ($1, $2, $3, $4, $5) ON CONFLICT (reservation_id, bucket_start)
				DO UPDATE SET queue_id = excluded.queue_id, actor = excluded.actor, kept_at = excluded.kept_at`,
				k.ReservationID, micros(k.Bucket), k.QueueID, k.Actor, micros(now)); err != nil {
				return fmt.Errorf("keep reservation %s: %w", k.ReservationID, err)
			}
			e := &audit.Entry{At: now, Actor: w.Actor, Action: "capacity.over_capacity_keep", Target: k.ReservationID,
				Outcome: audit.OutcomeOK, Detail: auditDetail("queue_id", k.QueueID, "bucket", k.Bucket.UTC().Format(time.RFC3339),
					"request_id", w.RequestID)}
			if err := s.appendLog(ctx, tx, nil, e); err != nil {
				return err
			}
		}
		return nil
	})
}

// FindKept returns the queue's keep decisions of buckets starting at or
// after from, by bucket.
func (s *Store) FindKept(ctx context.Context, queueID string, from time.Time) ([]Kept, error) {
	rs, err := s.reader().query(ctx, `SELECT reservation_id, bucket_start, queue_id, actor, kept_at FROM capacity_kept
		WHERE queue_id = $1 AND bucket_start >= $2 ORDER BY bucket_start, reservation_id`, queueID, micros(from))
	if err != nil {
		return nil, fmt.Errorf("read kept reservations: %w", err)
	}
	defer rs.Close()
	var out []Kept
	for rs.Next() {
		var k Kept
		var bucket, at int64
		if err := rs.Scan(&k.ReservationID, &bucket, &k.QueueID, &k.Actor, &at); err != nil {
			return nil, fmt.Errorf("read kept reservations: %w", err)
		}
		k.Bucket, k.KeptAt = instant(bucket), instant(at)
		out = append(out, k)
	}
	return out, rs.Err()
}
