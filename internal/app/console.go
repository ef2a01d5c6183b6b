package app

import (
	"cmp"
	"log/slog"

	"github.com/slotline/slotline/internal/config"
	"github.com/slotline/slotline/internal/console"
	"github.com/slotline/slotline/internal/storage"
)

// consoleDeps is what the operators' console gets from the config.
func consoleDeps(cfg *config.Config, store *storage.Store, logger *slog.Logger) console.Deps {
	d := console.Deps{Store: store, Operators: cfg.Operators, SessionIdle: cfg.Console.SessionIdle,
		SessionMax: cfg.Console.SessionMax, PublicURL: cfg.PublicURL, GenesysSignIn: cfg.Genesys.ConsoleClientID != "",
		Logger: logger}
	for _, q := range cfg.Queues {
		d.Queues = append(d.Queues, console.Queue{ID: q.ID, Name: cmp.Or(q.Name, q.ID)})
	}
	return d
}
