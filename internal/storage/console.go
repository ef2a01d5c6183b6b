package storage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/slotline/slotline/internal/reservation"
)

// ConsoleSession is a signed-in operator's console session, found by the
// SHA-256 digest of its id (the id itself is never stored).
type ConsoleSession struct {
	// Digest is the hex SHA-256 of the session id.
	Digest   string
	Operator string
	Role     string
	// Queues are the operator's queues; empty means all.
	Queues []string
	// Source is how the operator signed in: "local" (later "genesys").
	Source string
	// CSRF is the session's CSRF secret.
	CSRF       string
	CreatedAt  time.Time
	LastSeenAt time.Time
}

// CreateConsoleSession stores a new session.
func (s *Store) CreateConsoleSession(ctx context.Context, cs *ConsoleSession) error {
	queues, err := json.Marshal(append([]string{}, cs.Queues...))
	if err != nil {
		return fmt.Errorf("create console session: %w", err)
	}
	return s.inTx(ctx, func(tx *Tx) error {
		_, err := tx.exec(ctx, `INSERT INTO console_sessions (digest, operator, role, queues, source, csrf, created_at, last_seen_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, cs.Digest, cs.Operator, cs.Role, string(queues), cs.Source, cs.CSRF,
			micros(cs.CreatedAt), micros(cs.LastSeenAt))
		if err != nil {
			return fmt.Errorf("create console session: %w", err)
		}
		return nil
	})
}

// FindConsoleSession returns the session with the digest, or ENOTFOUND.
func (s *Store) FindConsoleSession(ctx context.Context, digest string) (*ConsoleSession, error) {
	cs := &ConsoleSession{Digest: digest}
	var queues string
	var created, seen int64
	err := s.reader().queryRow(ctx, `SELECT operator, role, queues, source, csrf, created_at, last_seen_at
		FROM console_sessions WHERE digest = $1`, digest).Scan(&cs.Operator, &cs.Role, &queues, &cs.Source, &cs.CSRF, &created, &seen)
	if errors.Is(err, errNoRows) {
		return nil, reservation.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("find console session: %w", err)
	}
	if err := json.Unmarshal([]byte(queues), &cs.Queues); err != nil {
		return nil, fmt.Errorf("find console session: queues: %w", err)
	}
	cs.CreatedAt, cs.LastSeenAt = instant(created), instant(seen)
	return cs, nil
}

// TouchConsoleSession moves the session's last_seen_at forward to at (it
// never moves back).
func (s *Store) TouchConsoleSession(ctx context.Context, digest string, at time.Time) error {
	return s.inTx(ctx, func(tx *Tx) error {
		_, err := tx.exec(ctx, "UPDATE console_sessions SET last_seen_at = $2 WHERE digest = $1 AND last_seen_at < $2", digest, micros(at))
		if err != nil {
			return fmt.Errorf("touch console session: %w", err)
		}
		return nil
	})
}

// DeleteConsoleSession deletes the session (sign-out) and reports whether
// there was one.
func (s *Store) DeleteConsoleSession(ctx context.Context, digest string) (bool, error) {
	var n int64
	err := s.inTx(ctx, func(tx *Tx) error {
		var err error
		n, err = tx.exec(ctx, "DELETE FROM console_sessions WHERE digest = $1", digest)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("delete console session: %w", err)
	}
	return n > 0, nil
}

// DeleteExpiredConsoleSessions deletes the sessions last seen before
// idleBefore or created before createdBefore, and returns how many.
func (s *Store) DeleteExpiredConsoleSessions(ctx context.Context, idleBefore, createdBefore time.Time) (int64, error) {
	var n int64
	err := s.inTx(ctx, func(tx *Tx) error {
		var err error
		n, err = tx.exec(ctx, "DELETE FROM console_sessions WHERE last_seen_at < $1 OR created_at < $2",
			micros(idleBefore), micros(createdBefore))
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("delete expired console sessions: %w", err)
	}
	return n, nil
}
