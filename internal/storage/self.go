package storage

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/slotline/slotline/internal/reservation"
)

// Customer self-service: the lookup of a reservation by its link's
// digest, the server's generated secret, and the SMS opt-out of a number.

// FindReservationBySelfDigest returns the reservation whose self-service
// token has the SHA-256 digest (hex), or ENOTFOUND.
func (s *Store) FindReservationBySelfDigest(ctx context.Context, digest string) (*reservation.Reservation, error) {
	if digest == "" {
		return nil, reservation.ErrNotFound
	}
	r, err := scanReservation(s.reader().queryRow(ctx, "SELECT "+reservationColumns+" FROM reservations WHERE self_digest = $1", digest))
	if errors.Is(err, errNoRows) {
		return nil, reservation.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("find reservation by link: %w", err)
	}
	return r, nil
}

// SelfServiceSecret returns the deployment's self-service secret, storing
// generated first if the database holds none yet: every process (and
// every restart) gets the one that was stored first.
func (s *Store) SelfServiceSecret(ctx context.Context, generated string) (string, error) {
	var secret string
	err := s.inTx(ctx, func(tx *Tx) error {
		if _, err := tx.exec(ctx, `INSERT INTO self_service_secret (id, secret, created_at) VALUES (1, $1, $2)
			ON CONFLICT (id) DO NOTHING`, generated, micros(time.Now())); err != nil {
			return fmt.Errorf("store the self-service secret: %w", err)
		}
		return tx.queryRow(ctx, "SELECT secret FROM self_service_secret WHERE id = 1").Scan(&secret)
	})
	if err != nil {
		return "", fmt.Errorf("self-service secret: %w", err)
	}
	return secret, nil
}

// lockNumber orders, on PostgreSQL, the creates of a number with its
// opt-out: a transaction-level advisory lock, shared by creates (which so
// never wait for each other) and exclusive for an opt-out, which so waits
// for the creates in flight and is waited for by the next ones. SQLite's
// transactions are serial already.
func (s *Store) lockNumber(ctx context.Context, tx *Tx, number string, exclusive bool) error {
	if s.backend != Postgres || number == "" {
		return nil
	}
	fn := "pg_advisory_xact_lock_shared"
	if exclusive {
		fn = "pg_advisory_xact_lock"
	}
	// Keyed on the schema too: advisory locks are the database's, and
	// deployments (or tests) in other schemas have numbers of their own.
	// Deferred: the lock is taken before the statement that follows it,
	// which it travels with (one round trip less per create).
	return tx.execLater(ctx, wrapErr("lock number"), "SELECT "+fn+"(7243012, hashtext(current_schema() || ' ' || $1))", number)
}

// carryOptOut queues the read that marks a new reservation opted out of
// SMS when its number has opted out (in the create's transaction, under
// the number's shared lock, so that a concurrent opt-out is either seen
// here or sees this reservation). The read travels with the next
// statement that needs an answer; apply (which sends it if it has not
// gone yet) sets r.SMSOptOut from it.
func (s *Store) carryOptOut(ctx context.Context, tx *Tx, r *reservation.Reservation) (apply func() error, err error) {
	if r.SMSOptOut || r.CallbackNumber == "" {
		return func() error { return nil }, nil
	}
	if err := s.lockNumber(ctx, tx, r.CallbackNumber, false); err != nil {
		return nil, err
	}
	var n int64
	read, err := tx.queryLater(ctx, wrapErr("read sms opt-out"), func(rs rows) error {
		for rs.Next() {
			if err := rs.Scan(&n); err != nil {
				return err
			}
		}
		return nil
	}, "SELECT COUNT(*) FROM sms_opt_outs WHERE callback_number = $1", r.CallbackNumber)
	if err != nil {
		return nil, err
	}
	return func() error {
		if err := read(); err != nil {
			return err
		}
		r.SMSOptOut = n > 0
		return nil
	}, nil
}

// OptOutSMS records that the number of reservation id opted out of SMS:
// the number joins sms_opt_outs, the reservation is marked (an event of
// the write's origin) and so are the number's other reservations (their
// version moves, without an event each), all in one transaction. It
// returns the reservation. Errors: ENOTFOUND.
func (s *Store) OptOutSMS(ctx context.Context, id string, w reservation.Write) (*reservation.Reservation, error) {
	var out *reservation.Reservation
	now := w.Time()
	err := s.inTx(ctx, func(tx *Tx) error {
		r, err := s.lockReservation(ctx, tx, id, w)
		if err != nil {
			return err
		}
		if r.CallbackNumber == "" {
			return reservation.ErrNotFound // erased by retention
		}
		if err := s.lockNumber(ctx, tx, r.CallbackNumber, true); err != nil {
			return err
		}
		if _, err := tx.exec(ctx, `INSERT INTO sms_opt_outs (callback_number, created_at) VALUES ($1, $2)
			ON CONFLICT (callback_number) DO NOTHING`, r.CallbackNumber, micros(now)); err != nil {
			return fmt.Errorf("record sms opt-out: %w", err)
		}
		if _, err := tx.exec(ctx, `UPDATE reservations SET sms_opt_out = 1, version = version + 1, updated_at = $2
			WHERE callback_number = $1 AND sms_opt_out = 0 AND id <> $3`, r.CallbackNumber, micros(now), r.ID); err != nil {
			return fmt.Errorf("opt out the number's reservations: %w", err)
		}
		out = r
		t := reservation.OptOut(r, now)
		if !t.Changed {
			return nil
		}
		if err := s.saveReservation(ctx, tx, r); err != nil {
			return err
		}
		return s.finishWrite(ctx, tx, r, t, w, now)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
