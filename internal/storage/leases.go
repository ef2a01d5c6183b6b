package storage

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Leases. One mechanism gives one holder at a time the right to act: the
// notification listener (one per database), a sync worker on a reservation
// (LeaseSync), a delivery worker on a webhook endpoint (LeaseEndpoint). A
// lease is a row of the leases table with a holder and an expiry; a holder
// that dies loses it when it expires.

// LeaseSync names the lease of the sync of one reservation.
func LeaseSync(reservationID string) string { return "sync:" + reservationID }

// LeaseEndpoint names the lease of the deliveries to one webhook endpoint.
func LeaseEndpoint(endpointID string) string { return "webhook:" + endpointID }

// AcquireLease takes or renews the lease name for holder until now+ttl. It
// succeeds when the lease is free, expired or already holder's.
func (s *Store) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	var ok bool
	err := s.inTx(ctx, func(tx *Tx) error {
		var err error
		ok, err = acquireLease(ctx, tx, name, holder, ttl)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("acquire lease %s: %w", name, err)
	}
	return ok, nil
}

// acquireLease is AcquireLease's statement. A lease another holder has is
// an answer, not an error: the group commit must not abort the writes
// batched with it (it reruns them one by one on any error but a clean one).
func acquireLease(ctx context.Context, tx *Tx, name, holder string, ttl time.Duration) (bool, error) {
	now := time.Now()
	var got string
	err := tx.queryRow(ctx, `INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
		WHERE leases.holder = excluded.holder OR leases.expires_at < $4
		RETURNING holder`, name, holder, micros(now.Add(ttl)), micros(now)).Scan(&got)
	if errors.Is(err, errNoRows) {
		return false, nil
	}
	return got == holder, err
}

// ReleaseLease gives up holder's lease so another holder can take it now.
func (s *Store) ReleaseLease(ctx context.Context, name, holder string) error {
	return s.inTx(ctx, func(tx *Tx) error { return releaseLease(ctx, tx, name, holder) })
}

func releaseLease(ctx context.Context, tx *Tx, name, holder string) error {
	_, err := tx.exec(ctx, "DELETE FROM leases WHERE name = $1 AND holder = $2", name, holder)
	return err
}

// DeleteExpiredLeases removes leases that expired before the given time
// (left by holders that died).
func (s *Store) DeleteExpiredLeases(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := s.inTx(ctx, func(tx *Tx) error {
		var err error
		n, err = tx.exec(ctx, "DELETE FROM leases WHERE expires_at < $1", micros(before))
		return err
	})
	return n, err
}

// Lease is a lease this process holds and renews, every quarter of its
// time to live, until Release.
type Lease struct {
	s            *Store
	name, holder string

	lostOnce sync.Once
	lost     chan struct{}
	mu       sync.Mutex
	err      error // why it was lost

	stop func() // ends the renewals and waits for them
}

// HoldLease acquires the lease name for holder (see AcquireLease) and
// keeps renewing it until Release or until ctx is done. It returns nil when
// another holder has it.
func (s *Store) HoldLease(ctx context.Context, name, holder string, ttl time.Duration) (*Lease, error) {
	ok, err := s.AcquireLease(ctx, name, holder, ttl)
	if err != nil || !ok {
		return nil, err
	}
	l := &Lease{s: s, name: name, holder: holder, lost: make(chan struct{})}
	// The renewals end with ctx (a job's context ends when its work returns
	// or panics) or at Release: a holder that is gone loses the lease within
	// ttl even if it never released it.
	l.stop = every(ctx, ttl/4, func(ctx context.Context) error {
		ok, err := s.AcquireLease(ctx, name, holder, ttl)
		if err == nil && !ok {
			err = fmt.Errorf("lease %s was taken by another holder", name)
		}
		return err
	}, l.lose)
	return l, nil
}

func (l *Lease) lose(err error) {
	l.lostOnce.Do(func() {
		l.mu.Lock()
		l.err = err
		l.mu.Unlock()
		close(l.lost)
	})
}

// Lost is closed at the first renewal that fails (the database did not
// answer, or another holder took the lease after it lapsed). Renewals go on
// after it: a holder that cannot stop at once keeps the lease if it can.
func (l *Lease) Lost() <-chan struct{} { return l.lost }

// Err says why the lease was lost (nil while it is not).
func (l *Lease) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// releaseWait bounds a Lease's release: giving a lease up early only lets
// another holder take it before it lapses.
const releaseWait = 5 * time.Second

// Release stops the renewals and gives the lease up, also when ctx is done
// (a holder stopping), waiting at most releaseWait for the database: one
// that does not answer must not hold up a stop, and the lease lapses
// within its ttl anyway. It returns the error that lost the lease, if one
// did, with the release's own.
func (l *Lease) Release(ctx context.Context) error {
	l.stop()
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseWait)
	defer cancel()
	// Only the wait is bounded: the statement, in a batch others share,
	// runs without the deadline (the writer's own grace ends it).
	return errors.Join(l.Err(), l.s.inTxWithin(rctx, func(tx *Tx) error {
		return releaseLease(context.WithoutCancel(ctx), tx, l.name, l.holder)
	}))
}
