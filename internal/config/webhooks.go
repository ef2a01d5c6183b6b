package config

import (
	"time"

	"go.yaml.in/yaml/v3"
)

// Webhooks configures outbound webhook deliveries.
type Webhooks struct {
	// AllowHTTP accepts http:// endpoint URLs (default: https only).
	AllowHTTP bool
	// AllowPrivate lets deliveries reach loopback, private, link-local and
	// other internal addresses (default: refused, checked at connect time).
	AllowPrivate bool
	// Timeout bounds each delivery attempt (default 15s).
	Timeout time.Duration
	// DisableAfter disables an endpoint whose deliveries all failed this
	// long (default 5 days).
	DisableAfter time.Duration
	// RotationGrace is how long a rotated-out secret keeps signing
	// (default 24h).
	RotationGrace time.Duration
}

// webhooks reads the webhooks block into wh.
func (p *parser) webhooks(n *yaml.Node, path string, wh *Webhooks) error {
	f, err := p.block(n, path,
		decoder{"allow_http", into(&wh.AllowHTTP, p.boolean)},
		decoder{"allow_private", into(&wh.AllowPrivate, p.boolean)},
		decoder{"timeout", into(&wh.Timeout, p.positiveDuration)},
		decoder{"disable_after", into(&wh.DisableAfter, p.positiveDuration)},
		decoder{"rotation_grace", into(&wh.RotationGrace, p.positiveDuration)},
	)
	if err != nil {
		return err
	}
	if wh.AllowPrivate {
		p.warnf(f["allow_private"], path+".allow_private", "deliveries may reach internal addresses (loopback, private networks, cloud metadata); meant for tests")
	}
	return nil
}
