package app

import (
	"cmp"
	"log/slog"

	"github.com/slotline/slotline/internal/config"
	"github.com/slotline/slotline/internal/console"
	"github.com/slotline/slotline/internal/genesys"
	"github.com/slotline/slotline/internal/genesys/gcsim"
	"github.com/slotline/slotline/internal/storage"
)

// consoleDeps is what the operators' console gets from the config.
func consoleDeps(cfg *config.Config, store *storage.Store, logger *slog.Logger, side *genesysSide, base string) console.Deps {
	d := console.Deps{Store: store, Operators: cfg.Operators, SessionIdle: cfg.Console.SessionIdle,
		SessionMax: cfg.Console.SessionMax, PublicURL: cfg.PublicURL, Roles: cfg.Console.Roles, Logger: logger}
	for _, q := range cfg.Queues {
		d.Queues = append(d.Queues, console.Queue{ID: q.ID, Name: cmp.Or(q.Name, q.ID)})
	}
	callback := cmp.Or(cfg.PublicURL, base) + console.CallbackPath()
	switch {
	case cfg.Genesys.ConsoleClientID != "":
		d.Genesys = &genesys.AuthCodeFlow{LoginBase: cfg.Genesys.LoginURL, APIBase: cfg.Genesys.APIURL,
			ClientID: cfg.Genesys.ConsoleClientID, ClientSecret: cfg.Genesys.ConsoleClientSecret, RedirectURL: callback}
	case side.sim != nil:
		// The sandbox signs in with its simulator's users, whose roles
		// map to the console's by the names the simulator gives them
		// unless console.roles says otherwise.
		side.sim.SetCodeClient(gcsim.CodeClient{ID: gcsim.DefaultConsoleClientID, Secret: gcsim.DefaultConsoleClientSecret,
			RedirectURIs: []string{callback}})
		d.Genesys = &genesys.AuthCodeFlow{LoginBase: side.simURL, APIBase: side.simURL,
			ClientID: gcsim.DefaultConsoleClientID, ClientSecret: gcsim.DefaultConsoleClientSecret, RedirectURL: callback}
		if len(d.Roles) == 0 {
			d.Roles = sandboxConsoleRoles
		}
	}
	d.GenesysSignIn = d.Genesys != nil
	return d
}

// sandboxConsoleRoles maps the simulator's default users (gcsim.DefaultUsers)
// to console roles.
var sandboxConsoleRoles = map[string][]string{
	config.RoleAdmin: {"Slotline Admin"}, config.RoleSupervisor: {"Slotline Supervisor"}, config.RoleViewer: {"Slotline Viewers"},
}
