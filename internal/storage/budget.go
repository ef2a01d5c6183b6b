package storage

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// The Genesys budget: a token bucket per OAuth client shared by every
// process on the database (genesys.NewSharedBudget keeps its state here).
// Each statement is one round trip that changes the row atomically (an
// upsert, under the row's lock), on the pool rather than through the
// writer: the budget sits in front of every Genesys call and must not wait
// behind a group commit. PostgreSQL only; a SQLite database has one process,
// whose budget stays in memory.

// BudgetTake asks for tokens: see TakeGenesysBudget.
type BudgetTake struct {
	// Now is the caller's time.
	Now time.Time
	// Want is the most tokens to grant.
	Want int
	// PerMinute is the configured limit; the stored allowance replaces it
	// while lower and not lapsed.
	PerMinute float64
	// Burst sets the refill rate: max(limit - Burst, limit / 2) a minute.
	// Size caps the tokens held.
	Burst, Size int
}

// Budget is the row as a statement left it.
type Budget struct {
	Granted      int
	Tokens       float64
	PausedUntil  time.Time // zero: never paused
	Allowed      int       // calls a minute; 0: none recorded
	AllowedUntil time.Time
}

// errBudgetBackend is returned on SQLite.
var errBudgetBackend = fmt.Errorf("the shared Genesys budget needs PostgreSQL: %w", errors.ErrUnsupported)

// budgetLimit is the limit in force, calls a minute: the configured one
// ($4), or the stored allowance while it is lower and has not lapsed at now
// ($2).
const budgetLimit = `(CASE WHEN b.allowed > 0 AND b.allowed::float8 < $4::float8 AND b.allowed_until > $2::bigint
	THEN b.allowed::float8 ELSE $4::float8 END)`

// budgetTakeSQL refills the bucket from updated_at to now at
// max(limit - burst, limit / 2) tokens a minute (genesys.BudgetRate), up to
// size, and grants up to want whole tokens unless paused. Every SET
// expression reads the row as it was before the statement. A new row starts
// full.
var budgetTakeSQL = func() string {
	rate := `(GREATEST(LIMIT - $6::float8, LIMIT / 2) / 60000000.0)` // per microsecond
	avail := `LEAST($5::float8, b.tokens + GREATEST($2::bigint - b.updated_at, 0) * RATE)`
	grant := `(CASE WHEN b.paused_until > $2::bigint THEN 0 ELSE LEAST($3::int, FLOOR(AVAIL)::int) END)`
	r := strings.NewReplacer("GRANT", grant, "AVAIL", avail, "RATE", rate, "LIMIT", budgetLimit)
	return r.Replace(r.Replace(r.Replace(r.Replace(`INSERT INTO genesys_budget AS b (key, tokens, updated_at, granted)
	VALUES ($1, $5::float8 - LEAST($3::int, $5::int), $2::bigint, LEAST($3::int, $5::int))
	ON CONFLICT (key) DO UPDATE SET
		granted = GRANT,
		tokens = AVAIL - GRANT,
		updated_at = GREATEST(b.updated_at, $2::bigint)
	RETURNING granted, tokens, paused_until, allowed, allowed_until`))))
}()

// TakeGenesysBudget refills the budget key and takes up to t.Want tokens
// from it (none while it is paused), in one statement, and returns the row
// after. A budget that does not exist yet is made, full.
func (s *Store) TakeGenesysBudget(ctx context.Context, key string, t BudgetTake) (Budget, error) {
	if s.pool == nil {
		return Budget{}, errBudgetBackend
	}
	var b Budget
	var paused, allowedUntil int64
	err := pgExec{s.pool}.queryRow(ctx, budgetTakeSQL, key, micros(t.Now), t.Want, t.PerMinute, t.Size, t.Burst).
		Scan(&b.Granted, &b.Tokens, &paused, &b.Allowed, &allowedUntil)
	if err != nil {
		return Budget{}, fmt.Errorf("take from the Genesys budget: %w", err)
	}
	b.PausedUntil, b.AllowedUntil = instantOrZero(paused), instantOrZero(allowedUntil)
	return b, nil
}

// PauseGenesysBudget makes the budget key grant nothing before until
// (rounded up to the microsecond); a pause that ends later stays.
func (s *Store) PauseGenesysBudget(ctx context.Context, key string, now, until time.Time) error {
	if s.pool == nil {
		return errBudgetBackend
	}
	_, err := pgExec{s.pool}.exec(ctx, `INSERT INTO genesys_budget AS b (key, tokens, updated_at, paused_until)
		VALUES ($1, 0, $2, $3)
		ON CONFLICT (key) DO UPDATE SET paused_until = GREATEST(b.paused_until, excluded.paused_until)`,
		key, micros(now), microsUp(until))
	if err != nil {
		return fmt.Errorf("pause the Genesys budget: %w", err)
	}
	return nil
}

// AllowGenesysBudget records Genesys' allowance, perMinute calls a minute,
// until until. It replaces the stored one when that is higher, equal or
// lapsed at now, and leaves it otherwise.
func (s *Store) AllowGenesysBudget(ctx context.Context, key string, perMinute int, now, until time.Time) error {
	if s.pool == nil {
		return errBudgetBackend
	}
	_, err := pgExec{s.pool}.exec(ctx, `INSERT INTO genesys_budget AS b (key, tokens, updated_at, allowed, allowed_until)
		VALUES ($1, 0, $3, $2, $4)
		ON CONFLICT (key) DO UPDATE SET allowed = excluded.allowed, allowed_until = excluded.allowed_until
		WHERE b.allowed = 0 OR b.allowed_until <= $3 OR excluded.allowed <= b.allowed`,
		key, perMinute, micros(now), micros(until))
	if err != nil {
		return fmt.Errorf("record Genesys' allowance: %w", err)
	}
	return nil
}

// microsUp is micros rounded up: a pause never ends early.
func microsUp(t time.Time) int64 {
	us := t.UnixMicro()
	if time.UnixMicro(us).Before(t) {
		us++
	}
	return us
}

// instantOrZero reads a time column where 0 means none.
func instantOrZero(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return instant(us)
}
