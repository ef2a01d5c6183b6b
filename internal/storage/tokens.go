package storage

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Token is an issued access token, known only by its digest.
type Token struct {
	Hash      string
	ClientID  string
	Scopes    []string
	ExpiresAt time.Time
	CreatedAt time.Time
}

// CreateToken stores an issued token's digest.
func (s *Store) CreateToken(ctx context.Context, t Token) error {
	return s.inTx(ctx, func(tx *Tx) error {
		_, err := tx.exec(ctx, `INSERT INTO access_tokens (token_hash, client_id, scopes, expires_at, created_at)
			VALUES ($1, $2, $3, $4, $5)`, t.Hash, t.ClientID, strings.Join(t.Scopes, " "), micros(t.ExpiresAt), micros(t.CreatedAt))
		if err != nil {
			return fmt.Errorf("store token: %w", err)
		}
		return nil
	})
}

// FindToken returns the token with the digest, or nil if there is none.
func (s *Store) FindToken(ctx context.Context, hash string) (*Token, error) {
	t := Token{Hash: hash}
	var scopes string
	var exp, created int64
	err := s.reader().queryRow(ctx, "SELECT client_id, scopes, expires_at, created_at FROM access_tokens WHERE token_hash = $1", hash).
		Scan(&t.ClientID, &scopes, &exp, &created)
	if errors.Is(err, errNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("find token: %w", err)
	}
	t.Scopes = strings.Fields(scopes)
	t.ExpiresAt, t.CreatedAt = instant(exp), instant(created)
	return &t, nil
}

// DeleteExpiredTokens removes tokens that expired before t.
func (s *Store) DeleteExpiredTokens(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := s.inTx(ctx, func(tx *Tx) error {
		var err error
		n, err = tx.exec(ctx, "DELETE FROM access_tokens WHERE expires_at < $1", micros(before))
		return err
	})
	return n, err
}
