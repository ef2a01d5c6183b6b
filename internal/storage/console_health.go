package storage

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/slotline/slotline/internal/audit"
	"github.com/slotline/slotline/internal/reservation"
)

// SyncBacklog is one queue's reservations not synced to Genesys.
type SyncBacklog struct {
	QueueID string
	// Pending counts the reservations waiting for a sync; OldestAt is
	// when the change to sync was made (its UpdatedAt) of the one waiting
	// longest, zero when none waits.
	Pending  int
	OldestAt time.Time
	// Failed counts the reservations whose last sync Genesys refused.
	Failed int
}

// FindSyncBacklog returns the sync backlog of each of queueIDs, in order
// (on the index reservations_sync_open, migration 0021).
func (s *Store) FindSyncBacklog(ctx context.Context, queueIDs []string) ([]SyncBacklog, error) {
	out := make([]SyncBacklog, 0, len(queueIDs))
	for _, q := range queueIDs {
		b := SyncBacklog{QueueID: q}
		var oldest *int64
		err := s.reader().queryRow(ctx, `SELECT COUNT(*), MIN(updated_at) FROM reservations
			WHERE queue_id = $1 AND sync_state = 'pending'`, q).Scan(&b.Pending, &oldest)
		if err != nil {
			return nil, fmt.Errorf("sync backlog of %s: %w", q, err)
		}
		if oldest != nil {
			b.OldestAt = instant(*oldest)
		}
		if err := s.reader().queryRow(ctx, `SELECT COUNT(*) FROM reservations WHERE queue_id = $1 AND sync_state = 'failed'`, q).
			Scan(&b.Failed); err != nil {
			return nil, fmt.Errorf("failed syncs of %s: %w", q, err)
		}
		out = append(out, b)
	}
	return out, nil
}

// FindFailedSyncs returns up to limit reservations of queueIDs whose sync
// failed, the latest failed first (their Sync.LastError is Genesys'
// reason).
func (s *Store) FindFailedSyncs(ctx context.Context, queueIDs []string, limit int) ([]*reservation.Reservation, error) {
	var out []*reservation.Reservation
	for _, q := range queueIDs {
		rs, err := s.reader().query(ctx, "SELECT "+reservationColumns+` FROM reservations
			WHERE queue_id = $1 AND sync_state = 'failed' ORDER BY updated_at DESC LIMIT $2`, q, limit)
		if err != nil {
			return nil, fmt.Errorf("find failed syncs: %w", err)
		}
		for rs.Next() {
			r, err := scanReservation(rs)
			if err != nil {
				rs.Close()
				return nil, err
			}
			out = append(out, r)
		}
		err = rs.Err()
		rs.Close()
		if err != nil {
			return nil, fmt.Errorf("find failed syncs: %w", err)
		}
	}
	// The latest first across the queues, at most limit.
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].UpdatedAt.After(out[j-1].UpdatedAt); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// RetrySync records an operator's retry of a reservation's failed sync: in
// one write transaction it reads the reservation (locked, checked against
// w), calls enqueue, which refuses it or enqueues the retry's job in tx,
// and appends the audit entry reservation.retry_sync with w's actor and
// the failure retried. It returns the reservation as read. Errors:
// ENOTFOUND, and enqueue's.
func (s *Store) RetrySync(ctx context.Context, id string, w reservation.Write,
	enqueue func(ctx context.Context, tx *Tx, r *reservation.Reservation) error) (*reservation.Reservation, error) {
	var out *reservation.Reservation
	now := w.Time()
	err := s.inTx(ctx, func(tx *Tx) error {
		r, err := s.lockReservation(ctx, tx, id, w)
		if err != nil {
			return err
		}
		if err := enqueue(ctx, tx, r); err != nil {
			return err
		}
		detail := map[string]any{"sync_error": r.Sync.LastError, "attempts": r.Sync.Attempts, "origin": w.Origin}
		if w.RequestID != "" {
			detail["request_id"] = w.RequestID
		}
		b, _ := json.Marshal(detail)
		out = r
		return s.appendLog(ctx, tx, nil, &audit.Entry{At: now, Actor: w.Actor, Action: "reservation.retry_sync", Target: r.ID,
			Outcome: audit.OutcomeOK, Detail: string(b)})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
