package app

import (
	"context"
	"log/slog"
	"time"

	"github.com/slotline/slotline/internal/config"
	"github.com/slotline/slotline/internal/genesys"
	"github.com/slotline/slotline/internal/storage"
)

// storeBudget is the genesys.BudgetStore of one OAuth client's budget in
// the database: the storage statements under the client's key.
type storeBudget struct {
	store *storage.Store
	key   string
}

// TakeBudget implements genesys.BudgetStore.
func (b storeBudget) TakeBudget(ctx context.Context, t genesys.BudgetTake) (genesys.BudgetState, error) {
	st, err := b.store.TakeGenesysBudget(ctx, b.key, storage.BudgetTake{
		Now: t.Now, Want: t.Want, PerMinute: t.PerMinute, Burst: t.Burst, Size: t.Size,
	})
	if err != nil {
		return genesys.BudgetState{}, err
	}
	return genesys.BudgetState{Granted: st.Granted, Tokens: st.Tokens, PausedUntil: st.PausedUntil,
		Allowed: st.Allowed, AllowedUntil: st.AllowedUntil}, nil
}

// PauseBudget implements genesys.BudgetStore.
func (b storeBudget) PauseBudget(ctx context.Context, now, until time.Time) error {
	return b.store.PauseGenesysBudget(ctx, b.key, now, until)
}

// AllowBudget implements genesys.BudgetStore.
func (b storeBudget) AllowBudget(ctx context.Context, perMinute int, now, until time.Time) error {
	return b.store.AllowGenesysBudget(ctx, b.key, perMinute, now, until)
}

// genesysBudget returns the budget the Genesys client of this process draws
// from, and its name for the log: on PostgreSQL in live mode with
// budget: shared, the one every process on the database shares, kept under
// the OAuth client's id (Genesys limits per client); otherwise (SQLite, the
// sandbox's simulator of its own, budget: process) nil, for the client's own
// bucket.
func genesysBudget(store *storage.Store, g config.Genesys, clientID string, obs genesys.Observer, logger *slog.Logger) (genesys.Budget, string, error) {
	if g.Mode != "live" || g.Budget != "shared" || store.Backend() != storage.Postgres {
		return nil, "process", nil
	}
	b, err := genesys.NewSharedBudget(genesys.SharedBudgetConfig{
		Store: storeBudget{store: store, key: clientID}, RateLimit: g.RateLimit, Observer: obs, Logger: logger,
	})
	if err != nil {
		return nil, "", err
	}
	return b, "shared", nil
}
