package config

import (
	"strings"

	"go.yaml.in/yaml/v3"
)

// LoginThrottle limits failed token requests (a wrong secret, or an id
// that names no client): beyond it POST /oauth/token answers 429 with
// Retry-After without checking the secret. Each rate is in failures per
// second, refilled up to its burst; 0 turns that limit off.
type LoginThrottle struct {
	// PerClient limits the failures of one client id from one source
	// address (default 10/min, burst 5). Keyed on the address too, so that
	// failures elsewhere never lock the client out.
	PerClient      float64
	PerClientBurst int
	// PerAddress limits the failures from one source address, whatever
	// the client id (default 30/min, burst 20).
	PerAddress      float64
	PerAddressBurst int
}

// loginThrottle reads the login_throttle block into lt, which holds the
// defaults.
func (p *parser) loginThrottle(n *yaml.Node, path string, lt *LoginThrottle) error {
	burst := p.intFromTo(1, 10000, "")
	_, err := p.block(n, path,
		decoder{"per_client", into(&lt.PerClient, p.rateOrOff)},
		decoder{"per_client_burst", into(&lt.PerClientBurst, burst)},
		decoder{"per_address", into(&lt.PerAddress, p.rateOrOff)},
		decoder{"per_address_burst", into(&lt.PerAddressBurst, burst)},
	)
	return err
}

// rateOrOff reads a rate (rate) or off, which is 0.
func (p *parser) rateOrOff(n *yaml.Node, path string) (float64, error) {
	if n.Kind == yaml.ScalarNode && strings.TrimSpace(n.Value) == "off" {
		return 0, nil
	}
	return p.rate(n, path)
}
