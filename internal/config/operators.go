package config

import (
	"slices"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/slotline/slotline/internal/password"
)

// The operators' roles, lowest first: a viewer reads, a supervisor also
// changes the reservations and capacity of its queues, an admin also
// manages webhooks and publishable keys.
const (
	RoleViewer     = "viewer"
	RoleSupervisor = "supervisor"
	RoleAdmin      = "admin"
)

// Roles are the operators' roles, lowest first.
var Roles = []string{RoleViewer, RoleSupervisor, RoleAdmin}

// Operator is a local operator of the console (the operators list): one
// who signs in with a username and password rather than with Genesys
// Cloud.
type Operator struct {
	// Username is what the operator signs in with, 1 to 64 characters.
	Username string
	// PasswordHash is an argon2id PHC string or a bcrypt hash (see package
	// password); it was checked to parse.
	PasswordHash string `json:"-"`
	// Role is RoleViewer, RoleSupervisor or RoleAdmin.
	Role string
	// Queues are the ids of the queues the operator works on; empty means
	// all of them.
	Queues []string
}

// Console configures the operators' console (the console block).
type Console struct {
	// SessionIdle is how long a session lasts without a request (default
	// 30m); SessionMax how long it lasts at most (default 12h).
	SessionIdle, SessionMax time.Duration
	// Roles maps each Slotline role to the Genesys Cloud role or group
	// names that give it, for the sign-in with Genesys Cloud (not built
	// yet: kept for it).
	Roles map[string][]string
}

// Defaults of the console block.
const (
	DefaultSessionIdle = 30 * time.Minute
	DefaultSessionMax  = 12 * time.Hour
)

// console reads the console block into c, which holds the defaults.
func (p *parser) console(n *yaml.Node, path string, c *Console) error {
	f, err := p.block(n, path,
		decoder{"session_idle", into(&c.SessionIdle, p.positiveDuration)},
		decoder{"session_max", into(&c.SessionMax, p.positiveDuration)},
		decoder{"roles", into(&c.Roles, p.consoleRoles)},
	)
	if err != nil {
		return err
	}
	if c.SessionIdle > c.SessionMax {
		at := f["session_idle"]
		if at == nil {
			at = f["session_max"]
		}
		return p.errorf(at, path+".session_idle", "must not be longer than session_max (%s)", c.SessionMax)
	}
	return nil
}

// consoleRoles reads the roles mapping: for each Slotline role, a list of
// Genesys role or group names.
func (p *parser) consoleRoles(n *yaml.Node, path string) (map[string][]string, error) {
	f, err := p.fields(n, path, Roles...)
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for _, role := range Roles {
		v := f[role]
		if v == nil {
			continue
		}
		names, err := p.distinct(v, join(path, role), func(item *yaml.Node, field string) (string, error) {
			s, err := p.str(item, field)
			if err == nil && (s == "" || len(s) > 200) {
				err = p.errorf(item, field, "must be a Genesys role or group name, 1 to 200 characters")
			}
			return s, err
		})
		if err != nil {
			return nil, err
		}
		out[role] = names
	}
	return out, nil
}

// operators reads the operators list; queues, which the operators name,
// are read before.
func (p *parser) operators(n *yaml.Node, path string, queues []Queue) ([]Operator, error) {
	var earlier []string
	return listOf(p, n, path, func(item *yaml.Node, field string) (Operator, error) {
		o, err := p.operator(item, field, queues)
		if err != nil {
			return o, err
		}
		if j := slices.Index(earlier, o.Username); j >= 0 {
			return o, p.errorf(valueOf(item, "username"), field+".username", "%q is already used by %s[%d]", o.Username, path, j)
		}
		earlier = append(earlier, o.Username)
		return o, nil
	})
}

// operator reads one operator: username, password_hash and role are
// required; queues is optional (all queues).
func (p *parser) operator(n *yaml.Node, path string, queues []Queue) (Operator, error) {
	var o Operator
	f, err := p.fields(n, path, "username", "password_hash", "role", "queues")
	if err != nil {
		return o, err
	}
	for _, k := range []string{"username", "password_hash", "role"} {
		if f[k] == nil {
			return o, p.errorf(n, join(path, k), "is required")
		}
	}
	if o.Username, err = p.str(f["username"], path+".username"); err != nil {
		return o, err
	}
	if len(o.Username) == 0 || len(o.Username) > 64 || !printable(o.Username) {
		return o, p.errorf(f["username"], path+".username", "must be 1 to 64 printable characters without spaces")
	}
	v := f["password_hash"]
	// The value is never quoted: it may be a password pasted by mistake.
	s, err := p.str(v, path+".password_hash")
	if err != nil {
		return o, err
	}
	if _, err := password.Parse(s); err != nil {
		return o, p.errorf(v, path+".password_hash", "%v; make one with: slotline operator hash", err)
	}
	o.PasswordHash = s
	if o.Role, err = p.oneOf(Roles...)(f["role"], path+".role"); err != nil {
		return o, err
	}
	if v := f["queues"]; v != nil {
		o.Queues, err = p.distinct(v, path+".queues", func(item *yaml.Node, field string) (string, error) {
			s, err := p.str(item, field)
			if err == nil && !slices.ContainsFunc(queues, func(q Queue) bool { return q.ID == s }) {
				err = p.errorf(item, field, "%q is not the id of a queue", s)
			}
			return s, err
		})
	}
	return o, err
}

// printable reports whether s has no spaces and no control characters.
func printable(s string) bool {
	for _, r := range s {
		if r <= ' ' || r == 0x7f {
			return false
		}
	}
	return true
}
