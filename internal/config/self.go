package config

import (
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/slotline/slotline/internal/reservation"
)

// SelfService configures the customers' self-service links (the
// self_service block).
type SelfService struct {
	// Secret is the key the links' tokens are derived with (secret,
	// secret_env or secret_file); "" means the one generated and stored
	// in the database, shared by every process.
	Secret string
	// LinkTTL is how long a link stays valid after the slot's end
	// (default 24h).
	LinkTTL time.Duration
	// PerToken and PerAddress limit the requests of one link and of one
	// source address, in requests per second refilled up to their bursts
	// (default 30/min burst 10, 120/min burst 60); 0 turns one off.
	PerToken        float64
	PerTokenBurst   int
	PerAddress      float64
	PerAddressBurst int
}

// DefaultSelfPolicy is a queue's self_service policy when the file sets
// none: three reschedules, changes until 15 minutes before the slot.
var DefaultSelfPolicy = reservation.SelfPolicy{MaxReschedules: 3, Cutoff: 15 * time.Minute}

// selfService reads the self_service block into ss, which holds the
// defaults.
func (p *parser) selfService(n *yaml.Node, path string, ss *SelfService) error {
	burst := p.intFromTo(1, 10000, "")
	f, err := p.block(n, path,
		decoder{"secret", func(*yaml.Node, string) error { return nil }},
		decoder{"secret_env", func(*yaml.Node, string) error { return nil }},
		decoder{"secret_file", func(*yaml.Node, string) error { return nil }},
		decoder{"link_ttl", into(&ss.LinkTTL, p.positiveDuration)},
		decoder{"per_token", into(&ss.PerToken, p.rateOrOff)},
		decoder{"per_token_burst", into(&ss.PerTokenBurst, burst)},
		decoder{"per_address", into(&ss.PerAddress, p.rateOrOff)},
		decoder{"per_address_burst", into(&ss.PerAddressBurst, burst)},
	)
	if err != nil {
		return err
	}
	secret, _, err := p.source(f, path, "secret", "secret_env", "secret_file")
	if err != nil {
		return err
	}
	ss.Secret = secret
	return nil
}

// selfPolicy reads a queue's self_service block into sp, which holds the
// defaults.
func (p *parser) selfPolicy(n *yaml.Node, path string, sp *reservation.SelfPolicy) error {
	_, err := p.block(n, path,
		decoder{"max_reschedules", into(&sp.MaxReschedules, p.intFromTo(0, 1000, ""))},
		decoder{"cutoff", into(&sp.Cutoff, p.duration)},
	)
	return err
}
