package storage

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/slotline/slotline/internal/reservation"
)

// mutation changes a locked reservation. It returns the event type to
// append ("" for a change without an event), whether the booking changed
// (which bumps the version), and whether anything changed at all.
type mutation func(ctx context.Context, tx *Tx, r *reservation.Reservation) (eventType string, bump, changed bool, err error)

// mutate locks a reservation, applies m, saves it and appends the event
// and audit entry, all in one transaction.
func (s *Store) mutate(ctx context.Context, id, action string, w Write, m mutation) (*reservation.Reservation, bool, error) {
	var out *reservation.Reservation
	var changed bool
	now := w.now()
	err := s.inTx(ctx, func(tx *Tx) error {
		r, err := s.lockReservation(ctx, tx, id, w)
		if err != nil {
			return err
		}
		eventType, bump, ch, err := m(ctx, tx, r)
		if err != nil {
			return err
		}
		out, changed = r, ch
		if !ch {
			return nil
		}
		if bump {
			r.Version++
			r.UpdatedAt = now
		}
		if err := s.saveReservation(ctx, tx, r); err != nil {
			return err
		}
		if eventType == "" {
			if w.TxFunc != nil {
				return w.TxFunc(ctx, tx, r)
			}
			return nil
		}
		return s.finishWrite(ctx, tx, r, eventType, action, w, now,
			"status", string(r.Status), "sync", string(r.Sync.State), "conversation_id", r.Sync.ConversationID)
	})
	if err != nil {
		return nil, false, err
	}
	return out, changed, nil
}

// SyncResult is what Genesys holds after a successful call.
type SyncResult struct {
	ConversationID string
	CallbackIDs    []reservation.CallbackIdentifier
	// ScheduledAt is the callback time Genesys now holds; zero when the
	// callback was disconnected.
	ScheduledAt  time.Time
	Disconnected bool
}

// inSync reports whether Genesys, as last recorded, reflects r.
func inSync(r *reservation.Reservation, disconnected bool) bool {
	switch r.Status {
	case reservation.StatusScheduled:
		return r.Sync.ConversationID != "" && r.Sync.ScheduledAt.Equal(r.Slot.Start)
	case reservation.StatusCanceled:
		return r.Sync.ConversationID == "" || disconnected
	}
	return true
}

// MarkSynced records what Genesys holds after a create, reschedule or
// cancel. The sync state becomes synced when that matches the reservation,
// else it stays pending (the reservation changed meanwhile) and w.TxFunc
// (which sees the reservation) can enqueue the follow-up. It appends a
// reservation.synced event when the state becomes synced; the version does
// not change (it counts changes to the booking, not to its sync).
func (s *Store) MarkSynced(ctx context.Context, id string, res SyncResult, w Write) (*reservation.Reservation, error) {
	r, _, err := s.mutate(ctx, id, "reservation.sync", w, func(ctx context.Context, tx *Tx, r *reservation.Reservation) (string, bool, bool, error) {
		before := r.Sync
		if res.ConversationID != "" {
			r.Sync.ConversationID = res.ConversationID
		}
		if len(res.CallbackIDs) > 0 {
			r.Sync.CallbackIDs = res.CallbackIDs
		}
		if !res.ScheduledAt.IsZero() {
			r.Sync.ScheduledAt = res.ScheduledAt.UTC()
		}
		r.Sync.LastError = ""
		if !inSync(r, res.Disconnected) {
			r.Sync.State = reservation.SyncPending
			return "", false, true, nil
		}
		r.Sync.State = reservation.SyncSynced
		if before.State == reservation.SyncSynced && before.ConversationID == r.Sync.ConversationID &&
			before.ScheduledAt.Equal(r.Sync.ScheduledAt) {
			return "", false, false, nil
		}
		return reservation.EventSynced, false, true, nil
	})
	return r, err
}

// RecordSyncAttempt keeps the last error of a sync on the reservation
// (shown in its sync object), counting an attempt when increment is set,
// without an event. It returns the number of attempts so far.
func (s *Store) RecordSyncAttempt(ctx context.Context, id, lastErr string, increment bool) (int, error) {
	inc := 0
	if increment {
		inc = 1
	}
	var n int
	err := s.inTx(ctx, func(tx *Tx) error {
		return tx.queryRow(ctx, `UPDATE reservations SET sync_attempts = sync_attempts + $3, sync_error = $2
			WHERE id = $1 RETURNING sync_attempts`, id, truncate(lastErr, 500), inc).Scan(&n)
	})
	if errors.Is(err, errNoRows) {
		return 0, reservation.ErrNotFound
	}
	return n, err
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// MarkSyncFailed records that Genesys refused a change for good; the event
// is reservation.sync_failed. With failReservation (a refused create) a
// scheduled reservation also becomes failed and frees its slot; otherwise
// (a refused reschedule or cancel) only its sync state says so.
func (s *Store) MarkSyncFailed(ctx context.Context, id, reason string, failReservation bool, w Write) (*reservation.Reservation, error) {
	r, _, err := s.mutate(ctx, id, "reservation.sync_failed", w, func(ctx context.Context, tx *Tx, r *reservation.Reservation) (string, bool, bool, error) {
		if r.Sync.State == reservation.SyncFailed && r.Sync.LastError == reason {
			return "", false, false, nil
		}
		r.Sync.State = reservation.SyncFailed
		r.Sync.LastError = truncate(reason, 500)
		bump := false
		if failReservation && r.Status == reservation.StatusScheduled {
			if err := releaseSlot(ctx, tx, r.QueueID, r.Bucket); err != nil {
				return "", false, false, err
			}
			r.Status = reservation.StatusFailed
			bump = true
		}
		return reservation.EventSyncFailed, bump, true, nil
	})
	return r, err
}

// GenesysUpdate is what the listener or reconciliation read from Genesys.
type GenesysUpdate struct {
	// Status is the status Genesys implies ("" when it implies none yet).
	Status         reservation.Status
	DisconnectType string
	// ScheduledAt is the callback time Genesys holds (zero if unknown);
	// Bucket and Cap are its bucket and that bucket's capacity, used when
	// the time was changed inside Genesys.
	ScheduledAt time.Time
	Bucket      time.Time
	Cap         int
}

// rank orders statuses so that updates only move forward.
func rank(s reservation.Status) int {
	switch s {
	case reservation.StatusScheduled:
		return 0
	case reservation.StatusInProgress:
		return 1
	}
	return 2
}

// ApplyGenesys brings a reservation in line with what Genesys reports.
// Updates are idempotent and only move forward, so repeated, late or
// out-of-order notifications change nothing. A callback time changed inside
// Genesys (by a supervisor) moves the reservation to it even if its bucket
// is full, marking it overbooked. It reports whether anything changed.
func (s *Store) ApplyGenesys(ctx context.Context, id string, u GenesysUpdate, w Write) (*reservation.Reservation, bool, error) {
	return s.mutate(ctx, id, "reservation.genesys", w, func(ctx context.Context, tx *Tx, r *reservation.Reservation) (string, bool, bool, error) {
		if r.Status.Final() {
			// Our own cancel landing in Genesys.
			if r.Status == reservation.StatusCanceled && r.Sync.State == reservation.SyncPending && u.Status.Final() {
				r.Sync.State = reservation.SyncSynced
				return reservation.EventSynced, false, true, nil
			}
			return "", false, false, nil
		}
		// A time change made inside Genesys: neither our slot nor what we
		// last sent.
		if !u.ScheduledAt.IsZero() && r.Status == reservation.StatusScheduled &&
			!u.ScheduledAt.Equal(r.Slot.Start) && !u.ScheduledAt.Equal(r.Sync.ScheduledAt) {
			if err := releaseSlot(ctx, tx, r.QueueID, r.Bucket); err != nil {
				return "", false, false, err
			}
			over, err := forceSlot(ctx, tx, r.QueueID, u.Bucket, u.Cap)
			if err != nil {
				return "", false, false, err
			}
			d := r.Slot.End.Sub(r.Slot.Start)
			r.Slot = reservation.Slot{Start: u.ScheduledAt.UTC(), End: u.ScheduledAt.UTC().Add(d)}
			r.Bucket = u.Bucket
			r.Overbooked = over
			r.Sync.ScheduledAt = u.ScheduledAt.UTC()
			r.Sync.State = reservation.SyncSynced
			if u.Status == "" || u.Status == reservation.StatusScheduled {
				return reservation.EventRescheduled, true, true, nil
			}
		}
		if u.Status == "" || rank(u.Status) < rank(r.Status) || u.Status == r.Status {
			// Our pending reschedule has landed?
			if r.Sync.State == reservation.SyncPending && r.Status == reservation.StatusScheduled &&
				r.Sync.ConversationID != "" && u.ScheduledAt.Equal(r.Slot.Start) {
				r.Sync.ScheduledAt = u.ScheduledAt.UTC()
				r.Sync.State = reservation.SyncSynced
				return reservation.EventSynced, false, true, nil
			}
			return "", false, false, nil
		}
		if u.Status == reservation.StatusCanceled {
			if err := releaseSlot(ctx, tx, r.QueueID, r.Bucket); err != nil {
				return "", false, false, err
			}
		}
		r.Status = u.Status
		r.DisconnectType = u.DisconnectType
		r.Sync.State = reservation.SyncSynced
		return reservation.StatusEvent(u.Status), true, true, nil
	})
}

// forceSlot counts a reservation against a bucket whatever its cap, and
// reports whether the bucket is now over cap.
func forceSlot(ctx context.Context, tx *Tx, queueID string, bucket time.Time, cap int) (bool, error) {
	var used int
	err := tx.queryRow(ctx, `INSERT INTO slot_usage (queue_id, bucket_start, used) VALUES ($1, $2, 1)
		ON CONFLICT (queue_id, bucket_start) DO UPDATE SET used = slot_usage.used + 1 RETURNING used`,
		queueID, micros(bucket)).Scan(&used)
	if err != nil {
		return false, fmt.Errorf("force slot: %w", err)
	}
	return used > cap, nil
}

// RecordSMS appends a reservation.sms_sent event (the reservation itself
// does not change) unless one was already recorded; it reports whether it
// recorded one.
func (s *Store) RecordSMS(ctx context.Context, id string, w Write) (bool, error) {
	_, changed, err := s.mutate(ctx, id, "reservation.sms", w, func(ctx context.Context, tx *Tx, r *reservation.Reservation) (string, bool, bool, error) {
		var n int
		if err := tx.queryRow(ctx, "SELECT count(*) FROM events WHERE reservation_id = $1 AND type = $2",
			r.ID, reservation.EventSMSSent).Scan(&n); err != nil {
			return "", false, false, err
		}
		if n > 0 {
			return "", false, false, nil
		}
		return reservation.EventSMSSent, false, true, nil
	})
	return changed, err
}

// SMSSent reports whether a reservation.sms_sent event exists for id.
func (s *Store) SMSSent(ctx context.Context, id string) (bool, error) {
	var n int
	err := s.reader().queryRow(ctx, "SELECT count(*) FROM events WHERE reservation_id = $1 AND type = $2",
		id, reservation.EventSMSSent).Scan(&n)
	return n > 0, err
}

// FindReservationByConversation returns the reservation synced to a
// Genesys conversation, or ENOTFOUND.
func (s *Store) FindReservationByConversation(ctx context.Context, conversationID string) (*reservation.Reservation, error) {
	if conversationID == "" {
		return nil, reservation.ErrNotFound
	}
	r, err := scanReservation(s.reader().queryRow(ctx, "SELECT "+reservationColumns+
		" FROM reservations WHERE sync_conversation_id = $1 ORDER BY pk DESC LIMIT 1", conversationID))
	if errors.Is(err, errNoRows) {
		return nil, reservation.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("find reservation by conversation: %w", err)
	}
	return r, nil
}

// FindUnsettled returns up to limit reservations after cursor (a pk; 0 to
// start) that Genesys may still change or that still wait for a sync:
// scheduled or in progress, or canceled with a cancel not yet carried. It
// returns the next cursor (0 when done).
func (s *Store) FindUnsettled(ctx context.Context, cursor int64, limit int) ([]*reservation.Reservation, int64, error) {
	rs, err := s.reader().query(ctx, "SELECT pk, "+reservationColumns+` FROM reservations
		WHERE pk > $1 AND (status IN ('scheduled', 'in_progress') OR (status = 'canceled' AND sync_state = 'pending'))
		ORDER BY pk LIMIT $2`, cursor, limit)
	if err != nil {
		return nil, 0, fmt.Errorf("find unsettled: %w", err)
	}
	defer rs.Close()
	var out []*reservation.Reservation
	var last int64
	for rs.Next() {
		r, err := scanReservation(pkRow{rs, &last})
		if err != nil {
			return nil, 0, err
		}
		out = append(out, r)
	}
	if err := rs.Err(); err != nil {
		return nil, 0, err
	}
	if len(out) < limit {
		last = 0
	}
	return out, last, nil
}

// AcquireLease takes or renews the lease name for holder until now+ttl. It
// succeeds when the lease is free, expired or already holder's.
func (s *Store) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	now := time.Now()
	var got string
	err := s.inTx(ctx, func(tx *Tx) error {
		return tx.queryRow(ctx, `INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3)
			ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
			WHERE leases.holder = excluded.holder OR leases.expires_at < $4
			RETURNING holder`, name, holder, micros(now.Add(ttl)), micros(now)).Scan(&got)
	})
	if errors.Is(err, errNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("acquire lease %s: %w", name, err)
	}
	return got == holder, nil
}

// ReleaseLease gives up holder's lease so another process can take it now.
func (s *Store) ReleaseLease(ctx context.Context, name, holder string) error {
	return s.inTx(ctx, func(tx *Tx) error {
		_, err := tx.exec(ctx, "DELETE FROM leases WHERE name = $1 AND holder = $2", name, holder)
		return err
	})
}

// SaveScheduleImport stores the opening hours imported for a queue.
func (s *Store) SaveScheduleImport(ctx context.Context, queueID, data string, at time.Time) error {
	return s.inTx(ctx, func(tx *Tx) error {
		_, err := tx.exec(ctx, `INSERT INTO schedule_imports (queue_id, data, fetched_at) VALUES ($1, $2, $3)
			ON CONFLICT (queue_id) DO UPDATE SET data = excluded.data, fetched_at = excluded.fetched_at`,
			queueID, data, micros(at))
		return err
	})
}

// LoadScheduleImport returns the last import for a queue ("" if none).
func (s *Store) LoadScheduleImport(ctx context.Context, queueID string) (string, time.Time, error) {
	var data string
	var at int64
	err := s.reader().queryRow(ctx, "SELECT data, fetched_at FROM schedule_imports WHERE queue_id = $1", queueID).Scan(&data, &at)
	if errors.Is(err, errNoRows) {
		return "", time.Time{}, nil
	}
	if err != nil {
		return "", time.Time{}, fmt.Errorf("load schedule import: %w", err)
	}
	return data, instant(at), nil
}

// ClaimSync gives holder the right to sync reservation id with Genesys
// until now+ttl, so that two workers never act on one reservation at once.
// It fails (false) while another holder's claim is live.
func (s *Store) ClaimSync(ctx context.Context, id, holder string, ttl time.Duration) (bool, error) {
	now := time.Now()
	var n int64
	err := s.inTx(ctx, func(tx *Tx) error {
		var err error
		n, err = tx.exec(ctx, `UPDATE reservations SET sync_claim = $2, sync_claim_until = $3
			WHERE id = $1 AND (sync_claim = '' OR sync_claim = $2 OR sync_claim_until < $4)`,
			id, holder, micros(now.Add(ttl)), micros(now))
		return err
	})
	if err != nil {
		return false, fmt.Errorf("claim sync of %s: %w", id, err)
	}
	return n == 1, nil
}

// ReleaseSync ends holder's claim on reservation id.
func (s *Store) ReleaseSync(ctx context.Context, id, holder string) error {
	return s.inTx(ctx, func(tx *Tx) error {
		_, err := tx.exec(ctx, "UPDATE reservations SET sync_claim = '', sync_claim_until = 0 WHERE id = $1 AND sync_claim = $2", id, holder)
		return err
	})
}

// KeepAlive calls renew every period until the returned stop is called
// (stop waits for it to finish). Claims use it: a worker renews its claim
// while it works, so that a killed worker's claim lapses quickly.
func KeepAlive(ctx context.Context, period time.Duration, renew func(ctx context.Context) error, onErr func(error)) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := renew(ctx); err != nil && ctx.Err() == nil && onErr != nil {
					onErr(err)
				}
			}
		}
	}()
	return func() {
		cancel()
		<-done
	}
}
