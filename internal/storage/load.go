package storage

import (
	"context"
	"fmt"
	"time"

	"github.com/slotline/slotline/internal/reservation"
)

// LoadReservations inserts reservations as they are, in one transaction,
// and counts those not final in their buckets (slot_usage), with no
// capacity check, and without events, audit entries, idempotency records or
// jobs. It is for the benchmarks that need a large table quickly
// (slotline-bench list), never for the product's writes, which go through
// CreateReservation. A reservation without an id gets one; without a
// version, version 1; without timestamps, now.
func (s *Store) LoadReservations(ctx context.Context, rs []*reservation.Reservation) error {
	if len(rs) == 0 {
		return nil
	}
	now := time.Now().UTC()
	type bucketKey struct {
		queue  string
		bucket int64
	}
	used := map[bucketKey]int{}
	const cols = 36
	args := make([]any, 0, len(rs)*cols)
	for _, r := range rs {
		if r.ID == "" {
			r.ID = newID("cb_", 5)
		}
		if r.Version == 0 {
			r.Version = 1
		}
		if r.CreatedAt.IsZero() {
			r.CreatedAt = now
		}
		if r.UpdatedAt.IsZero() {
			r.UpdatedAt = r.CreatedAt
		}
		if r.Bucket.IsZero() {
			r.Bucket = r.Slot.Start
		}
		if !r.Status.Final() {
			used[bucketKey{r.QueueID, micros(r.Bucket)}]++
		}
		args = append(args, r.ID, r.ClientID, nullable(r.CallbackID), r.QueueID, r.TimeZone, r.CallbackNumber, r.CustomerName,
			encodeSlots(r.Candidates), micros(r.Slot.Start), micros(r.Slot.End), micros(r.Bucket), encodeChannel(r.Channel),
			r.Reason, r.ConcurrencyLimit, string(r.Status), string(r.Sync.State), r.Sync.ConversationID, r.Sync.Attempts,
			r.Sync.LastError, r.Version, micros(r.CreatedAt), micros(r.UpdatedAt), encodeCallbackIDs(r.Sync.CallbackIDs),
			syncMicros(r.Sync.ScheduledAt), r.DisconnectType, boolInt(r.Overbooked), string(r.Outcome),
			encodeReasons(r.DisconnectReasons), r.WrapupCode, r.DialAttempts, r.Locale, boolInt(r.SMSOptOut), r.CancelReason,
			r.SelfNonce, r.SelfDigest, r.SelfReschedules)
	}
	return s.inTx(ctx, func(tx *Tx) error {
		// On SQLite a few rows a statement: its driver finds each
		// parameter's name by its number, a cost that grows with the
		// statement's parameters (at 64 rows × 36 columns, two thirds of the
		// load; at 4, a fifth). PostgreSQL takes many.
		rows := 2
		if s.backend == Postgres {
			rows = maxInsertRows
		}
		head := "INSERT INTO reservations (" + reservationColumns + ") VALUES "
		for len(args) > 0 {
			n := min(rows, len(args)/cols)
			if err := tx.execLater(ctx, wrapErr("load reservations"), head+placeholders(n, cols), args[:n*cols]...); err != nil {
				return err
			}
			args = args[n*cols:]
		}
		for k, n := range used {
			if err := tx.execLater(ctx, wrapErr("load slot usage"), `INSERT INTO slot_usage (queue_id, bucket_start, used) VALUES ($1, $2, $3)
				ON CONFLICT (queue_id, bucket_start) DO UPDATE SET used = slot_usage.used + $3`, k.queue, k.bucket, n); err != nil {
				return err
			}
		}
		return nil
	})
}

// Analyze updates the planner's statistics of the tables (ANALYZE), as an
// operator would after a bulk load.
func (s *Store) Analyze(ctx context.Context) error {
	return s.inTx(ctx, func(tx *Tx) error {
		if _, err := tx.exec(ctx, "ANALYZE"); err != nil {
			return fmt.Errorf("analyze: %w", err)
		}
		return nil
	})
}
