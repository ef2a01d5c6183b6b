package storage

import (
	"context"
	"fmt"
	"time"
)

// SpendProof records the salt of a proof of work, kept until expires, and
// reports whether it is new: false when a proof with this salt was spent
// before, by this process or any other on the database (pow.SpentStore).
func (s *Store) SpendProof(ctx context.Context, salt string, expires time.Time) (fresh bool, err error) {
	err = s.inTx(ctx, func(tx *Tx) error {
		n, err := tx.exec(ctx, "INSERT INTO pow_spent (salt, expires_at) VALUES ($1, $2) ON CONFLICT (salt) DO NOTHING",
			salt, micros(expires))
		if err != nil {
			return fmt.Errorf("spend proof of work: %w", err)
		}
		fresh = n == 1
		return nil
	})
	return fresh, err
}

// DeleteSpentProofs removes the spent proofs that expired before t and
// returns how many.
func (s *Store) DeleteSpentProofs(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := s.inTx(ctx, func(tx *Tx) error {
		var err error
		n, err = tx.exec(ctx, "DELETE FROM pow_spent WHERE expires_at < $1", micros(before))
		return err
	})
	return n, err
}
